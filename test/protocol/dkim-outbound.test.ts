/**
 * DKIM signing of what the queue sends, over real sockets to a sink, checked with mailauth's
 * verifier against the published record: a message without a body, DSNs from
 * MAILER-DAEMON@<hostname>, over-signed header fields, a corrupt stored key.
 */
import { dkimVerify } from 'mailauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dkimDnsRecord, dkimSettingKey, generateDkimKey, type DkimKey } from '../../src/smtp/dkim.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { keptLog } from '../helpers/kept-log.js';
import { createUser, startSink, until, type Sink } from './smtp-helpers.js';

let app: TestApp;
let sink: Sink;
let key: DkimKey;
const kept = keptLog();

beforeAll(async () => {
  sink = await startSink();
  sink.rcpt = (address) => (address.startsWith('nobody@') ? { code: 550, text: '5.1.1 no such user here' } : null);
  app = await startApp({ delivery: { routes: { '*': `127.0.0.1:${sink.port}` }, queuePollMs: 20, retryScheduleMs: [200] } }, { log: kept.log });
  await createUser(app.store, 'longnv@example.gov.vn');
  key = await generateDkimKey(app.store, 'example.gov.vn', 'buudien', new Date());
}, 30_000);
afterAll(async () => {
  await app?.stop();
  await sink?.close();
});

async function verify(raw: Buffer): Promise<Array<{ result: string; d: string | undefined }>> {
  const rec = dkimDnsRecord(key);
  const resolver = async (name: string, type: string): Promise<string[][]> => {
    if (type === 'TXT' && name === rec.name) return [[rec.value]];
    throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
  };
  const v = await dkimVerify(raw, { resolver });
  return v.results.map((r) => ({ result: r.status.result, d: r.signingDomain }));
}

/** Queue `raw` as the queue gets mail from submission; the copy the sink got. */
async function relay(raw: string, to: string, sender = 'longnv@example.gov.vn'): Promise<Buffer> {
  const n = sink.messages.length;
  await app.store.enqueue({ sender, recipients: [to], raw: Buffer.from(raw), account: 'longnv@example.gov.vn', messageId: null, now: new Date() });
  return (await sink.next(n)).raw;
}

describe('DKIM signing of outbound mail', () => {
  it('signs a message without a body (no blank line, RFC 5322 §3.5): an empty body is sent, as signed', async () => {
    const got = await relay('From: Long <longnv@example.gov.vn>\r\nTo: a@other.example.com\r\nSubject: M-nobody\r\n', 'a@other.example.com');
    expect(got.toString()).toMatch(/^DKIM-Signature: [\s\S]*\r\nSubject: M-nobody\r\n\r\n$/);
    expect(await verify(got)).toEqual([expect.objectContaining({ result: 'pass', d: 'example.gov.vn' })]);
  });

  it('signs a DSN from MAILER-DAEMON@<hostname> with the key of the served domain above it, and it verifies', async () => {
    const n = sink.messages.length;
    await app.store.enqueue({
      sender: 'ext@other.example.com',
      recipients: ['nobody@other.example.com'],
      raw: Buffer.from('From: Ext <ext@other.example.com>\r\nTo: nobody@other.example.com\r\nSubject: M-bounce\r\n\r\nx\r\n'),
      account: null,
      messageId: null,
      now: new Date(),
    });
    const dsn = await until(async () => sink.messages.slice(n).find((m) => m.to.includes('ext@other.example.com')), 15_000);
    expect(dsn.from).toBe('');
    const raw = dsn.raw.toString();
    expect(raw).toMatch(/^From: .*<MAILER-DAEMON@mail\.example\.gov\.vn>$/m);
    expect(raw).toMatch(/Content-Type: multipart\/report; report-type=delivery-status/);
    expect(await verify(dsn.raw)).toEqual([expect.objectContaining({ result: 'pass', d: 'example.gov.vn' })]);
  });

  it('over-signs From and the other fields a reader sees: one added above the signed ones breaks the signature', async () => {
    const got = await relay(
      'From: Long <longnv@example.gov.vn>\r\nTo: a@other.example.com\r\nSubject: M-oversign\r\nDate: Tue, 24 Nov 2026 01:00:00 +0000\r\nMessage-ID: <o1@example.gov.vn>\r\n\r\nPay invoice 1\r\n',
      'a@other.example.com',
    );
    expect((await verify(got))[0]?.result).toBe('pass');
    const h = (/^DKIM-Signature:[^]*?\bh=([^;]+);/.exec(got.toString())?.[1] ?? '').split(/\s*:\s*/).map((x) => x.toLowerCase());
    for (const name of ['from', 'subject', 'to', 'date']) expect(h.filter((x) => x === name), name).toHaveLength(2);
    for (const name of ['cc', 'reply-to', 'sender', 'message-id', 'in-reply-to', 'references', 'mime-version', 'content-type', 'content-transfer-encoding']) {
      expect(h.filter((x) => x === name), name).toHaveLength(1);
    }
    for (const added of ['From: Ke Toan <ketoan@attacker.example>', 'Reply-To: x@attacker.example', 'Cc: boss@attacker.example', 'Subject: Urgent']) {
      expect((await verify(Buffer.concat([Buffer.from(`${added}\r\n`), got])))[0]?.result, added).toBe('fail');
    }
  });

  it('logs a corrupt stored key naming its domain, and sends the mail unsigned', async () => {
    const good = await app.store.getSetting(dkimSettingKey('example.gov.vn'));
    try {
      for (const [i, bad] of ['{not json', '{"selector":"buudien"}', JSON.stringify({ ...key, privateKey: 'nope' })].entries()) {
        kept.lines.length = 0;
        await app.store.setSetting(dkimSettingKey('example.gov.vn'), bad);
        const got = await relay(`From: Long <longnv@example.gov.vn>\r\nTo: a@other.example.com\r\nSubject: M-corrupt${i}\r\n\r\nx\r\n`, 'a@other.example.com');
        expect(got.toString()).toMatch(/^From: /);
        const line = kept.lines.find((l) => l.level === 50 && /DKIM/.test(String(l.msg)));
        expect(JSON.stringify(line?.err), bad).toMatch(/example\.gov\.vn .*corrupt/);
      }
    } finally {
      await app.store.setSetting(dkimSettingKey('example.gov.vn'), good ?? '');
    }
  });
});
