/**
 * False positives from the final policy review, at the level of the helpers and rules (over SMTP
 * in test/protocol/policy-left-review.test.ts): an mbox-saved .eml attached as 7bit
 * message/rfc822, Content-Transfer-Encoding 7bit/8bit/binary repeats, Content-Type repeats
 * differing in charset or format.
 */
import { describe, expect, it } from 'vitest';
import { configFrom } from '../../../src/config/load.js';
import { systemClock } from '../../../src/lib/clock.js';
import { silentLogger } from '../../../src/lib/log.js';
import { parseMessage } from '../../../src/mail/parse.js';
import { ambiguousHeader, contentTypeKey, encodingKey, inlineMessage, leafParts, mboxLineEnd } from '../../../src/policy/mime.js';
import { createPipeline } from '../../../src/policy/pipeline.js';
import { scanMessage } from '../../../src/policy/scan.js';
import type { PolicyContext } from '../../../src/policy/types.js';
import type { Store } from '../../../src/store/port.js';
import { mimeMessage, peBytes, policyMessage } from './fixtures.js';

const FROM_LINE = 'From nguoigui@example.org Mon Nov 23 10:00:00 2026';
const inbound: PolicyContext = { direction: 'inbound', clientIp: '192.0.2.1', account: null, sender: 'a@example.org', recipients: ['longnv@example.gov.vn'] };

function eml(body: string, extra: string[] = []): string {
  return [FROM_LINE, 'From: B <b@example.org>', 'To: longnv@example.gov.vn', 'Subject: thu cu', 'MIME-Version: 1.0', ...extra, '', body].join('\r\n');
}

function rfc822(inner: string): string {
  return `Content-Type: message/rfc822; name="thu-cu.eml"\r\nContent-Disposition: attachment; filename="thu-cu.eml"\r\n\r\n${inner}\r\n`;
}

function exeMessage(): string {
  const b64 = peBytes().toString('base64').replace(/.{1,76}/g, '$&\r\n');
  return eml(`--in\r\nContent-Type: application/octet-stream; name="setup.exe"\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64}--in--\r\n`, ['Content-Type: multipart/mixed; boundary="in"']);
}

describe('mboxLineEnd / inlineMessage', () => {
  it('finds the line after a "From " line under 1000 bytes, and nothing else', () => {
    const b = Buffer.from(`${FROM_LINE}\r\nFrom: x\r\n`, 'latin1');
    expect(mboxLineEnd(b, 0)).toBe(FROM_LINE.length + 2);
    expect(mboxLineEnd(Buffer.from('From: x\r\n'), 0)).toBe(-1);
    expect(mboxLineEnd(Buffer.from(`From ${'x'.repeat(1200)}\r\nFrom: x\r\n`), 0)).toBe(-1);
    expect(mboxLineEnd(Buffer.from('From x'), 0)).toBe(-1);
  });

  it('an attached 7bit message beginning with one is not read inline (no inline children as leaves)', () => {
    const raw = mimeMessage({ subject: 'm', rawParts: [rfc822(eml('Noi dung.\r\n', ['Content-Type: text/plain']))] });
    const parsed = parseMessage(raw);
    const views = leafParts(parsed, raw);
    const msg = views.find((v) => v.part.type === 'message');
    expect(msg?.part.message).not.toBeNull();
    expect(inlineMessage(raw, msg!.part)).toBeNull();
    expect(views.every((v) => v.messageDepth === 0)).toBe(true);
    // Without the "From " line it is read inline as before.
    const plain = mimeMessage({ subject: 'm', rawParts: [rfc822(eml('Noi dung.\r\n', ['Content-Type: text/plain']).slice(FROM_LINE.length + 2))] });
    expect(leafParts(parseMessage(plain), plain).some((v) => v.messageDepth === 1)).toBe(true);
  });
});

describe('the scan opens it from the line after', () => {
  const config = configFrom({ domains: ['example.gov.vn'] });
  it('clean: nothing incomplete', async () => {
    const s = await scanMessage(policyMessage(mimeMessage({ subject: 'm', rawParts: [rfc822(eml('Noi dung.\r\n', ['Content-Type: text/plain; charset=utf-8']))] })), config);
    expect(s.incomplete).toBeNull();
  });

  it('a program inside, also one more mbox .eml deep, is found', async () => {
    const s = await scanMessage(policyMessage(mimeMessage({ subject: 'm', rawParts: [rfc822(exeMessage())] })), config);
    expect(s.incomplete).toBeNull();
    expect(s.parts.flatMap((p) => p.report.executables.map((x) => x.why))).toContain('pe');
    const twice = eml(`--o\r\n${rfc822(exeMessage())}--o--\r\n`, ['Content-Type: multipart/mixed; boundary="o"']);
    const s2 = await scanMessage(policyMessage(mimeMessage({ subject: 'm', rawParts: [rfc822(twice)] })), config);
    expect(s2.parts.flatMap((p) => p.report.executables.map((x) => x.why))).toContain('pe');
  });

  it('its header after the "From " line is still checked: a line without a colon, then a Content-Type', async () => {
    const bad = eml('x\r\n', ['Content-Type: text/plain', 'X-Broken', 'Content-Type: application/octet-stream']);
    const s = await scanMessage(policyMessage(mimeMessage({ subject: 'm', rawParts: [rfc822(bad)] })), config);
    expect(s.incomplete?.limit).toBe('header-line');
  });

  it('attachment-size measures it by its own size (its parts are not read inline)', async () => {
    const cfg = configFrom({ domains: ['example.gov.vn'], limits: { maxAttachmentBytes: 64 * 1024, maxMessageBytes: 4 * 1024 * 1024 } });
    const p = createPipeline({ config: cfg, log: silentLogger(), store: {} as Store, clock: systemClock });
    const big = eml(`${'Noi dung cong van. '.repeat(4000)}\r\n`, ['Content-Type: text/plain']);
    const r = await p.checkMessage(inbound, policyMessage(mimeMessage({ subject: 'm', rawParts: [rfc822(big)] })));
    expect(r).toMatchObject({ action: 'reject', reply: { code: 552 } });
    expect(r.findings[0]).toContain('thu-cu.eml');
  });
});

describe('repeats compared by what changes the reading', () => {
  it('7bit, 8bit and binary are one transfer encoding; base64 is another', () => {
    expect(encodingKey(' 7BIT ')).toBe(encodingKey('8bit'));
    expect(encodingKey('binary')).toBe(encodingKey('7bit'));
    expect(encodingKey('base64')).not.toBe(encodingKey('7bit'));
    expect(encodingKey('quoted-printable')).not.toBe(encodingKey('8bit'));
  });

  it('Content-Type: charset, format and delsp do not count; type, boundary and a wide charset do', () => {
    expect(contentTypeKey('text/plain; charset=utf-8; format=flowed; delsp=yes')).toBe(contentTypeKey('text/plain; charset=windows-1258'));
    expect(contentTypeKey('text/plain; charset=utf-8')).not.toBe(contentTypeKey('text/plain; charset=utf-16'));
    expect(contentTypeKey('text/plain')).not.toBe(contentTypeKey('text/plain; charset="UCS-2"'));
    expect(contentTypeKey('text/plain; charset=utf-8')).not.toBe(contentTypeKey('text/html; charset=utf-8'));
    expect(contentTypeKey('multipart/mixed; boundary=a; charset=x')).not.toBe(contentTypeKey('multipart/mixed; boundary=b'));
    expect(contentTypeKey('multipart/mixed; boundary=a')).not.toBe(contentTypeKey('multipart/mixed; boundary*0=a'));
  });

  it('ambiguousHeader: the header-line reason begins with its own words', () => {
    const raw = Buffer.from('Content-Type: text/plain\r\nbroken\r\nContent-Type: text/html\r\n\r\nx\r\n', 'latin1');
    expect(ambiguousHeader(raw, parseMessage(raw).structure)).toMatch(/^a line without a field name ends the header/);
  });
});
