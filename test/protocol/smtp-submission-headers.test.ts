/**
 * What the submission server does to a submitted message's header (RFC 6409 §8, RFC 5322
 * §3.6.3), seen in the copy that reaches an outside server (a sink through delivery.routes) and
 * in a colleague's copy:
 * - Bcc is removed from every copy;
 * - a missing Date and Message-ID are added, the same in every copy and in the send log;
 * - the policy's marks (X-Buudien-Policy, the subject tag of a flagged encrypted archive) are
 *   on the colleague's copy only.
 */
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import { zip } from '../unit/policy/fixtures.js';
import type { Account } from '../../src/store/port.js';
import { createUser, nextMessage, PASSWORD, startSink, type Sink } from './smtp-helpers.js';

let sink: Sink;
let app: TestApp;
let mai: Account;

beforeAll(async () => {
  sink = await startSink();
  app = await startApp({ delivery: { routes: { '*': `127.0.0.1:${sink.port}` }, queuePollMs: 20, retryScheduleMs: [200] } });
  await createUser(app.store, 'longnv@example.gov.vn');
  mai = await createUser(app.store, 'maitt@example.gov.vn');
});
afterAll(async () => {
  await app?.stop();
  await sink?.close();
});

async function submit(raw: string, to: string[]): Promise<void> {
  const t = nodemailer.createTransport({ host: '127.0.0.1', port: app.port('submissions'), secure: true, tls: { rejectUnauthorized: false }, auth: { user: 'longnv', pass: PASSWORD } });
  try {
    await t.sendMail({ envelope: { from: 'longnv@example.gov.vn', to }, raw });
  } finally {
    t.close();
  }
}

/** From longnv to a partner outside and `colleague`, with a password-protected zip (flagged by the encrypted-archives rule). */
function withEncryptedZip(colleague: string, subject: string): string {
  const archive = zip([{ name: 'hoso.docx', data: 'noi dung mat', encrypt: 'zipcrypto' }]).toString('base64');
  return (
    `From: <longnv@example.gov.vn>\r\nTo: <doitac@other.example>, <${colleague}>\r\nSubject: ${subject}\r\nMIME-Version: 1.0\r\n` +
    'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nGui kem ho so.\r\n--b1\r\n' +
    `Content-Type: application/zip; name="hoso.zip"\r\nContent-Disposition: attachment; filename="hoso.zip"\r\nContent-Transfer-Encoding: base64\r\n\r\n${archive}\r\n--b1--\r\n`
  );
}

const header = (raw: Buffer, name: string): string[] => {
  const head = raw.toString('utf8').split('\r\n\r\n')[0] ?? '';
  return head
    .replace(/\r\n[ \t]+/g, ' ')
    .split('\r\n')
    .filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`))
    .map((l) => l.slice(name.length + 1).trim());
};

describe('submission header edits', () => {
  it('Bcc goes from every copy; Date and Message-ID are added once, alike everywhere', async () => {
    const raw = 'From: <longnv@example.gov.vn>\r\nTo: <doitac@other.example>\r\nCc: <maitt@example.gov.vn>\r\nBcc: <bimat@other.example>, <maitt@example.gov.vn>\r\nResent-Bcc: <bimat@other.example>\r\nSubject: Bao cao\r\n\r\nNoi dung.\r\n';
    const before = sink.messages.length;
    const local = nextMessage(app.store, mai.id);
    await submit(raw, ['doitac@other.example', 'maitt@example.gov.vn', 'bimat@other.example']);
    const outside = await sink.next(before);
    const colleague = await local;
    for (const copy of [outside.raw, colleague]) {
      expect(header(copy, 'bcc')).toEqual([]);
      expect(header(copy, 'resent-bcc')).toEqual([]);
      expect(header(copy, 'date')).toHaveLength(1);
      expect(header(copy, 'message-id')).toHaveLength(1);
      expect(copy.toString('utf8')).not.toContain('bimat@');
    }
    const id = header(outside.raw, 'message-id')[0] ?? '';
    expect(id).toMatch(/^<[0-9a-f-]{36}@mail\.example\.gov\.vn>$/);
    expect(header(colleague, 'message-id')).toEqual([id]);
    expect(Date.parse(header(outside.raw, 'date')[0] ?? '')).not.toBeNaN();
    const log = await app.store.searchSendLog({ sender: 'longnv@example.gov.vn' });
    expect(log.filter((r) => r.recipient === 'doitac@other.example').map((r) => r.messageId)).toContain(id);
  });

  it("a mail program's own Date and Message-ID are kept", async () => {
    const raw =
      'From: <longnv@example.gov.vn>\r\nTo: <doitac@other.example>\r\nDate: Mon, 23 Nov 2026 08:00:00 +0700\r\nMessage-ID: <own-1@pc.example.gov.vn>\r\nSubject: Bao cao\r\n\r\nNoi dung.\r\n';
    const before = sink.messages.length;
    await submit(raw, ['doitac@other.example']);
    const outside = await sink.next(before);
    expect(header(outside.raw, 'message-id')).toEqual(['<own-1@pc.example.gov.vn>']);
    expect(header(outside.raw, 'date')).toEqual(['Mon, 23 Nov 2026 08:00:00 +0700']);
  });

  it("the policy's marks of a flagged encrypted archive are on the colleague's copy, not on the one that leaves", async () => {
    const raw = withEncryptedZip('maitt@example.gov.vn', 'Ho so du thau');
    const before = sink.messages.length;
    const local = nextMessage(app.store, mai.id);
    await submit(raw, ['doitac@other.example', 'maitt@example.gov.vn']);
    const outside = await sink.next(before);
    const colleague = await local;
    expect(header(colleague, 'x-buudien-policy').join(' ')).toContain('encrypted-archive');
    expect(header(colleague, 'subject')[0]).toMatch(/^=\?UTF-8\?/i); // the tag is Vietnamese: encoded
    expect(header(outside.raw, 'x-buudien-policy')).toEqual([]);
    expect(header(outside.raw, 'subject')).toEqual(['Ho so du thau']);
    expect(header(outside.raw, 'received')).toHaveLength(1); // the trace header still goes
  });

  it("a colleague retried through the queue (mailbox full at first) still gets the marked copy", async () => {
    const hung = await createUser(app.store, 'hunglv@example.gov.vn', { quotaBytes: 1 });
    const raw = withEncryptedZip('hunglv@example.gov.vn', 'Ho so');
    const before = sink.messages.length;
    await submit(raw, ['doitac@other.example', 'hunglv@example.gov.vn']);
    await sink.next(before);
    const local = nextMessage(app.store, hung.id);
    await app.store.updateAccount(hung.id, { quotaBytes: null }, null);
    const colleague = await local;
    expect(header(colleague, 'x-buudien-policy').join(' ')).toContain('encrypted-archive');
    expect(header(colleague, 'subject')[0]).toMatch(/^=\?UTF-8\?/i);
  });
});
