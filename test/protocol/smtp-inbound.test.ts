/** MX inbound over real sockets: local delivery, unknown users, relay disguises, hostile input, limits. */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import { createUser, message, messagesIn, nextMessage, sendRaw, SmtpLineClient, until } from './smtp-helpers.js';
import type { Account } from '../../src/store/port.js';

let app: TestApp;
let lan: Account;

beforeAll(async () => {
  app = await startApp({ limits: { maxRecipientsPerMessage: 3 }, smtp: { maxBadCommands: 30, receiveMemoryBytes: 0 } }); // receiveMemoryBytes 0: past 256 KB every message is spooled (the spool tests below)
  lan = await createUser(app.store, 'lan@example.gov.vn');
  await app.store.addAlias('van-thu@example.gov.vn', lan.id, { actor: 'test', action: 'alias.add', target: 'van-thu@example.gov.vn' });
}, 30_000);
afterAll(async () => {
  await app?.stop();
});

async function client(): Promise<SmtpLineClient> {
  const c = await SmtpLineClient.connect(app.port('smtp'));
  expect((await c.read()).code).toBe(220);
  expect((await c.cmd('EHLO sender.example.com')).code).toBe(250);
  return c;
}

describe('MX inbound', () => {
  it('advertises the extensions of the spec and no AUTH', async () => {
    const c = await SmtpLineClient.connect(app.port('smtp'));
    await c.read();
    const r = await c.cmd('EHLO sender.example.com');
    const ext = r.lines.map((l) => l.slice(4).split(' ')[0]);
    for (const e of ['PIPELINING', 'SIZE', '8BITMIME', 'SMTPUTF8', 'ENHANCEDSTATUSCODES', 'STARTTLS', 'DSN']) expect(ext).toContain(e);
    expect(ext).not.toContain('AUTH');
    const size = /SIZE (\d+)/.exec(r.lines.join('\n'))?.[1];
    expect(Number(size)).toBeGreaterThanOrEqual(28 * 1024 * 1024);
    c.close();
  });

  it('delivers to INBOX with Received header, strips X-Buudien-*, and resolves aliases', async () => {
    const c = await client();
    const arrived = nextMessage(app.store, lan.id);
    const r = await sendRaw(c, 'someone@sender.example.com', ['van-thu@example.gov.vn'], message({ from: 'someone@sender.example.com', to: 'van-thu@example.gov.vn', headers: ['X-Buudien-Policy: clean; forged'] }));
    expect(r.code).toBe(250);
    expect(r.text).toMatch(/^2\.0\.0 /);
    const raw = (await arrived).toString();
    expect(raw).toMatch(/^Return-Path: <someone@sender\.example\.com>\r\nReceived: from sender\.example\.com \(\[127\.0\.0\.1\]\)\r\n by mail\.example\.gov\.vn/);
    expect(raw).not.toMatch(/X-Buudien-Policy: clean; forged/);
    const log = await app.store.searchSendLog({ recipient: 'van-thu@example.gov.vn' });
    expect(log[0]).toMatchObject({ direction: 'inbound', sender: 'someone@sender.example.com', clientIp: '127.0.0.1', outcome: 'delivered', code: 250 });
    c.close();
  });

  it('refuses an unknown local recipient at RCPT with 550 5.1.1 (bilingual)', async () => {
    const c = await client();
    await c.cmd('MAIL FROM:<a@sender.example.com>');
    const r = await c.cmd('RCPT TO:<nobody@example.gov.vn>');
    expect(r.code).toBe(550);
    expect(r.text).toMatch(/^5\.1\.1 Hộp thư không tồn tại \/ No such mailbox/);
    c.close();
  });

  const disguises = [
    'user@other.example.com',
    'user%other.example.com@example.gov.vn',
    'other.example.com!user@example.gov.vn',
    '"user@other.example.com"@example.gov.vn',
    'user@other.example.com@example.gov.vn',
    '@example.gov.vn:user@other.example.com',
    'lan@example.gov.vn.',
    'lan@[127.0.0.1]',
    'lan@example\uFF0Egov\uFF0Evn',
    'lan@example\u3002gov.vn',
    '"lan"@example.gov.vn',
    'lan@EXAMPLE.GOV.VN.',
  ];
  it.each(disguises)('refuses relaying to %s with 554 5.7.1', async (rcpt) => {
    const c = await client();
    await c.cmd('MAIL FROM:<a@sender.example.com> SMTPUTF8');
    const r = await c.cmd(`RCPT TO:<${rcpt}>`);
    expect(r.code).toBe(554);
    expect(r.text).toMatch(/^5\.7\.1 .* \/ Relaying denied/);
    c.close();
  });

  it('still delivers to a suspended account (R-ACC-3) but not to a deleted one', async () => {
    const sus = await createUser(app.store, 'tamkhoa@example.gov.vn');
    await app.store.updateAccount(sus.id, { state: 'suspended' }, null);
    const del = await createUser(app.store, 'daxoa@example.gov.vn');
    await app.store.updateAccount(del.id, { state: 'deleted' }, null);
    const c = await client();
    const arrived = nextMessage(app.store, sus.id);
    expect((await sendRaw(c, 'a@sender.example.com', ['tamkhoa@example.gov.vn'], message({ from: 'a@sender.example.com', to: 'tamkhoa@example.gov.vn' }))).code).toBe(250);
    await arrived;
    await c.cmd('RSET');
    await c.cmd('MAIL FROM:<a@sender.example.com>');
    expect((await c.cmd('RCPT TO:<daxoa@example.gov.vn>')).code).toBe(550);
    c.close();
  });

  it('keeps a smuggling payload as one message and rejects bare LF / bare CR', async () => {
    const before = (await messagesIn(app.store, lan.id)).length;
    const c = await client();
    const smuggled = `${message({ from: 'a@sender.example.com', to: 'lan@example.gov.vn' })}\n.\nMAIL FROM:<evil@sender.example.com>\r\nRCPT TO:<lan@example.gov.vn>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n`;
    const r = await sendRaw(c, 'a@sender.example.com', ['lan@example.gov.vn'], smuggled);
    expect(r.code).toBe(550);
    expect(r.text).toMatch(/^5\.6\.0 .*RFC 5321/);
    // The connection is still in sync: the next command gets its own reply.
    expect((await c.cmd('NOOP')).code).toBe(250);
    const r2 = await sendRaw(c, 'a@sender.example.com', ['lan@example.gov.vn'], `${message({ from: 'a@sender.example.com', to: 'lan@example.gov.vn' })}\r.\r\r\n`);
    expect(r2.code).toBe(550);
    expect((await messagesIn(app.store, lan.id)).length).toBe(before);
    c.close();
  });

  it('452 4.5.3 past limits.maxRecipientsPerMessage', async () => {
    const c = await client();
    await c.cmd('MAIL FROM:<a@sender.example.com>');
    for (const a of ['lan@example.gov.vn', 'van-thu@example.gov.vn', 'tamkhoa@example.gov.vn']) expect((await c.cmd(`RCPT TO:<${a}>`)).code).toBe(250);
    const r = await c.cmd('RCPT TO:<lan2@example.gov.vn>');
    expect(r.code).toBe(452);
    expect(r.text).toMatch(/^4\.5\.3 /);
    c.close();
  });

  it('refuses a declared SIZE over the limit at MAIL FROM and an oversized DATA with 552 5.3.4', async () => {
    const small = await startApp({ limits: { maxMessageBytes: 100_000, maxAttachmentBytes: 10_000 } });
    try {
      await createUser(small.store, 'lan@example.gov.vn');
      const c = await SmtpLineClient.connect(small.port('smtp'));
      await c.read();
      await c.cmd('EHLO x.example.com');
      const r = await c.cmd('MAIL FROM:<a@sender.example.com> SIZE=200000');
      expect(r.code).toBe(552);
      const big = message({ from: 'a@sender.example.com', to: 'lan@example.gov.vn', body: 'x'.repeat(150_000) });
      const r2 = await sendRaw(c, 'a@sender.example.com', ['lan@example.gov.vn'], big);
      expect(r2.code).toBe(552);
      expect(r2.text).toMatch(/^5\.3\.4 /);
      expect((await c.cmd('NOOP')).code).toBe(250);
      c.close();
    } finally {
      await small.stop();
    }
  });

  it('closes with 421 after too many bad commands, on a slow client, and on a connection flood', async () => {
    const strict = await startApp({ smtp: { maxBadCommands: 3, idleTimeoutMs: 300, maxConnectionsPerIp: 2 } });
    try {
      const c = await SmtpLineClient.connect(strict.port('smtp'));
      await c.read();
      await c.cmd('EHLO x.example.com');
      await c.cmd('MAIL FROM:<a@sender.example.com>');
      expect((await c.cmd('RCPT TO:<a@other.example.com>')).code).toBe(554);
      expect((await c.cmd('RCPT TO:<b@other.example.com>')).code).toBe(554);
      const r = await c.cmd('RCPT TO:<c@other.example.com>');
      expect(r.code).toBe(421);
      await c.waitClosed();

      // unknown commands count too
      const u = await SmtpLineClient.connect(strict.port('smtp'));
      await u.read();
      expect((await u.cmd('FOO')).code).toBe(500);
      expect((await u.cmd('BAR')).code).toBe(500);
      const u3 = await u.cmd('BAZ');
      expect(u3.code).toBe(421);
      expect(u3.text).toMatch(/^4\.7\.0 /);
      await u.waitClosed();

      // idle: the server speaks first (421) and closes
      const idle = await SmtpLineClient.connect(strict.port('smtp'));
      await idle.read();
      const t = await idle.read();
      expect(t.code).toBe(421);

      const a = await SmtpLineClient.connect(strict.port('smtp'));
      expect((await a.read()).code).toBe(220);
      const b = await SmtpLineClient.connect(strict.port('smtp'));
      expect((await b.read()).code).toBe(220);
      const third = await SmtpLineClient.connect(strict.port('smtp'));
      const r3 = await third.read();
      expect(r3.code).toBe(421);
      expect(r3.text).toMatch(/^4\.7\.0 /);
      a.close();
      b.close();
      third.close();
      // Closed connections give their slot back (smtp-server's onClose).
      const again = await until(async () => {
        const c2 = await SmtpLineClient.connect(strict.port('smtp'));
        const g = await c2.read();
        if (g.code === 220) return c2;
        c2.close();
        return null;
      });
      again.close();
    } finally {
      await strict.stop();
    }
  });

  it('refuses an over-long command line without crashing', async () => {
    const c = await client();
    const r = await c.cmd(`MAIL FROM:<${'a'.repeat(10_000)}@sender.example.com>`);
    expect(r.code).toBeGreaterThanOrEqual(400);
    c.close();
    const again = await client();
    expect((await again.cmd('NOOP')).code).toBe(250);
    again.close();
  });
});

describe('MX inbound extras', () => {
  it('accepts the domainless <postmaster> when postmaster@ exists, refuses a header line over the limit, VRFY confirms nobody', async () => {
    const pm = await createUser(app.store, 'postmaster@example.gov.vn');
    const c = await SmtpLineClient.connect(app.port('smtp'));
    await c.read();
    await c.cmd('EHLO sender.example.com');
    const v = await c.cmd('VRFY lan@example.gov.vn');
    expect(v.code).toBe(252);
    const arrived = nextMessage(app.store, pm.id);
    expect((await sendRaw(c, 'a@sender.example.com', ['postmaster'], message({ from: 'a@sender.example.com', to: 'postmaster@example.gov.vn' }))).code).toBe(250);
    await arrived;
    const long = message({ from: 'a@sender.example.com', to: 'lan@example.gov.vn', headers: [`X-Long: ${'a'.repeat(5000)}`] });
    const r = await sendRaw(c, 'a@sender.example.com', ['lan@example.gov.vn'], long);
    expect(r.code).toBe(550);
    expect(r.text).toMatch(/^5\.6\.0 .*header line too long/);
    c.close();
  });
});

describe('SMTPUTF8 and 8BITMIME', () => {
  it('accepts a UTF-8 sender and raw UTF-8 headers with SMTPUTF8, BODY=8BITMIME', async () => {
    const c = await SmtpLineClient.connect(app.port('smtp'));
    await c.read();
    await c.cmd('EHLO sender.example.com');
    const arrived = nextMessage(app.store, lan.id);
    expect((await c.cmd('MAIL FROM:<người.gửi@sender.example.com> SMTPUTF8 BODY=8BITMIME')).code).toBe(250);
    expect((await c.cmd('RCPT TO:<lan@example.gov.vn>')).code).toBe(250);
    expect((await c.cmd('DATA')).code).toBe(354);
    c.write(Buffer.from('From: Người Gửi <người.gửi@sender.example.com>\r\nTo: <lan@example.gov.vn>\r\nSubject: Báo cáo tháng 11\r\n\r\nNội dung tiếng Việt\r\n.\r\n', 'utf8'));
    expect((await c.read()).code).toBe(250);
    const raw = await arrived;
    expect(raw.toString('utf8')).toContain('Subject: Báo cáo tháng 11');
    const log = await app.store.searchSendLog({ sender: 'người.gửi@sender.example.com' });
    expect(log[0]?.outcome).toBe('delivered');
    c.close();
  });
});

/** ~1 MB of varied lines: UTF-8, lines starting with a dot (dot-stuffed on the wire), long lines. */
function bigBody(): string {
  const lines: string[] = [];
  for (let i = 0, n = 0; n < 1_000_000; i++) {
    const l = i % 7 === 0 ? `.dòng ${i} bắt đầu bằng dấu chấm` : i % 11 === 0 ? '.' : `Dòng ${i}: ${'báo cáo tình hình '.repeat(1 + (i % 9))}`;
    lines.push(l);
    n += l.length + 2;
  }
  return lines.join('\r\n');
}

const spoolFiles = (): string[] => readdirSync(path.join(app.dir, 'tmp'));

// A message bigger than the in-memory share of DATA (smtp/data.ts) is spooled to storage.dir/tmp
// while it arrives and read back for processing: it must arrive byte-exact, and no spool file
// may outlive its transaction, whether it was delivered or the client went away mid-DATA.
describe('MX inbound: DATA spooled to disk', () => {
  it('the spool directory exists and is private (0700)', () => {
    const dir = path.join(app.dir, 'tmp');
    expect(existsSync(dir)).toBe(true);
    if (process.platform !== 'win32') expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('delivers a message larger than the in-memory share byte-exact, and leaves no spool file', async () => {
    const c = await client();
    const original = Buffer.from(message({ from: 'a@sender.example.com', to: 'lan@example.gov.vn', body: bigBody() }), 'utf8');
    expect(original.length).toBeGreaterThan(512 * 1024);
    // Dot-stuffing (RFC 5321 §4.5.2): the server removes it again.
    const wire = Buffer.from(original.toString('latin1').replace(/(^|\r\n)\./g, '$1..'), 'latin1');
    const arrived = nextMessage(app.store, lan.id);
    const r = await sendRaw(c, 'a@sender.example.com', ['lan@example.gov.vn'], wire);
    expect(r.code).toBe(250);
    const stored = await arrived;
    // Return-Path and Received are prepended; the rest is the message as sent.
    expect(stored.subarray(stored.length - original.length).equals(original)).toBe(true);
    expect(stored.subarray(0, stored.length - original.length).toString()).toMatch(/^Return-Path: <a@sender\.example\.com>\r\nReceived: [^]*\r\n$/);
    expect(spoolFiles()).toEqual([]);
    c.close();
  });

  it('a bare LF past the in-memory share is still refused, and its spool file removed', async () => {
    const c = await client();
    const body = `${'x'.repeat(70)}\r\n`.repeat(6000) + 'smuggled\n.\nMAIL FROM:<evil@x>\r\n';
    const r = await sendRaw(c, 'a@sender.example.com', ['lan@example.gov.vn'], message({ from: 'a@sender.example.com', to: 'lan@example.gov.vn', body }));
    expect(r.code).toBe(550);
    expect(r.text).toMatch(/^5\.6\.0 /);
    expect(spoolFiles()).toEqual([]);
    c.close();
  });

  it('a connection dropped mid-DATA leaves no spool file', async () => {
    const c = await client();
    expect((await c.cmd('MAIL FROM:<a@sender.example.com>')).code).toBe(250);
    expect((await c.cmd('RCPT TO:<lan@example.gov.vn>')).code).toBe(250);
    expect((await c.cmd('DATA')).code).toBe(354);
    c.write(`Subject: cut\r\n\r\n${`${'y'.repeat(70)}\r\n`.repeat(10_000)}`);
    // The message went past the in-memory share: it is on disk now.
    await until(async () => spoolFiles().length > 0);
    c.socket.destroy();
    await until(async () => spoolFiles().length === 0);
    // The server is fine afterwards.
    const c2 = await client();
    expect((await c2.cmd('NOOP')).code).toBe(250);
    c2.close();
  });
});
