/** Bypasses found in a review of the policy scan: each case was delivered before its fix. */
import { describe, expect, it } from 'vitest';
import { configFrom } from '../../../src/config/load.js';
import { systemClock } from '../../../src/lib/clock.js';
import { silentLogger } from '../../../src/lib/log.js';
import { createPipeline } from '../../../src/policy/pipeline.js';
import type { PolicyContext } from '../../../src/policy/types.js';
import type { Store } from '../../../src/store/port.js';
import { peBytes, policyMessage, zip } from './fixtures.js';

const ctx: PolicyContext = { direction: 'inbound', clientIp: '192.0.2.1', account: null, sender: 'a@example.org', recipients: ['longnv@example.gov.vn'] };
const pipeline = createPipeline({ config: configFrom({ domains: ['example.gov.vn'] }), log: silentLogger(), store: {} as Store, clock: systemClock });
const pe = peBytes(2048);
const txt = 'Content-Type: text/plain\r\n\r\nhi\r\n';
const b64 = (b: Buffer): string => b.toString('base64').replace(/.{76}/g, '$&\r\n');

function msg(parts: string[]): Buffer {
  const head = ['From: a@example.org', 'To: longnv@example.gov.vn', 'Subject: t', 'Date: Sun, 22 Nov 2026 10:00:00 +0700', 'Message-ID: <x@example.org>', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="BB"'].join('\r\n');
  return Buffer.from(`${head}\r\n\r\n` + parts.map((p) => `--BB\r\n${p}`).join('') + '--BB--\r\n', 'latin1');
}
function att(headers: string, body: Buffer): string {
  return `${headers}\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64(body)}\r\n`;
}
async function check(raw: Buffer): Promise<{ action: string; findings: string }> {
  const r = await pipeline.checkMessage(ctx, policyMessage(raw));
  return { action: r.action, findings: r.findings.join(' | ') };
}
const innerWithExe = msg([txt, att('Content-Type: application/octet-stream; name="evil.exe"', pe)]);

describe('attached messages the parser does not open', () => {
  it('a base64 message/rfc822 holding evil.exe is refused', async () => {
    const r = await check(msg([txt, att('Content-Type: message/rfc822\r\nContent-Disposition: attachment; filename="fwd.eml"', innerWithExe)]));
    expect(r.action).toBe('reject');
    expect(r.findings).toContain('file="fwd.eml/evil.exe"');
  });

  it('an .eml sent as application/octet-stream, and one unnamed but starting with header lines, are opened', async () => {
    const named = await check(msg([txt, att('Content-Type: application/octet-stream; name="fwd.eml"', innerWithExe)]));
    expect(named.findings).toContain('file="fwd.eml/evil.exe"');
    const sniffed = await check(msg([txt, att('Content-Type: application/octet-stream', innerWithExe)]));
    expect(sniffed.action).toBe('reject');
    expect(sniffed.findings).toContain('evil.exe');
  });

  it('an .eml inside a zip is opened', async () => {
    const r = await check(msg([txt, att('Content-Type: application/zip; name="a.zip"', zip([{ name: 'fwd.eml', data: innerWithExe, deflate: true }]))]));
    expect(r.action).toBe('reject');
    expect(r.findings).toContain('file="a.zip/fwd.eml/evil.exe"');
  });

  it('messages nested past the depth limit cannot be checked; a clean one passes', async () => {
    let m = msg([txt]);
    for (let i = 0; i < 4; i++) m = msg([txt, att('Content-Type: message/rfc822', m)]);
    expect((await check(m)).action).toBe('accept');
    const shallow = createPipeline({ config: configFrom({ domains: ['example.gov.vn'], limits: { maxMimeDepth: 3 } }), log: silentLogger(), store: {} as Store, clock: systemClock });
    const r = await shallow.checkMessage(ctx, policyMessage(m));
    expect(r.action).toBe('reject');
    expect(r.findings.join()).toContain('unscannable; structure=depth');
  });
});
