/** Quota at RCPT and DATA, and the policy pipeline's verdicts on the wire. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/store/port.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { createUser, message, messagesIn, nextMessage, PASSWORD, sendRaw, SmtpLineClient } from './smtp-helpers.js';

let app: TestApp;
let small: Account;
let lan: Account;

beforeAll(async () => {
  app = await startApp();
  small = await createUser(app.store, 'nho@example.gov.vn', { quotaBytes: 300 });
  lan = await createUser(app.store, 'lan@example.gov.vn');
}, 30_000);
afterAll(async () => {
  await app?.stop();
});

async function mx(): Promise<SmtpLineClient> {
  const c = await SmtpLineClient.connect(app.port('smtp'));
  await c.read();
  await c.cmd('EHLO sender.example.com');
  return c;
}

describe('quota', () => {
  it('452 4.2.2 at RCPT when the declared SIZE does not fit the mailbox', async () => {
    const c = await mx();
    await c.cmd('MAIL FROM:<a@sender.example.com> SIZE=5000');
    const r = await c.cmd('RCPT TO:<nho@example.gov.vn>');
    expect(r.code).toBe(452);
    expect(r.text).toMatch(/^4\.2\.2 Hộp thư người nhận đã đầy \/ Recipient mailbox is over quota/);
    expect((await c.cmd('RCPT TO:<lan@example.gov.vn>')).code).toBe(250);
    c.close();
  });

  it('452 4.2.2 after DATA when the message turns out too big for the only recipient', async () => {
    const c = await mx();
    const r = await sendRaw(c, 'a@sender.example.com', ['nho@example.gov.vn'], message({ from: 'a@sender.example.com', to: 'nho@example.gov.vn', body: 'x'.repeat(2000) }));
    expect(r.code).toBe(452);
    expect(r.text).toMatch(/^4\.2\.2 /);
    expect(await messagesIn(app.store, small.id)).toHaveLength(0);
    c.close();
  });
});

describe('policy pipeline on the wire', () => {
  const exe = (from: string, to: string): string =>
    [
      `From: <${from}>`,
      `To: <${to}>`,
      'Subject: Ho so',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b1"',
      '',
      '--b1',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Gui anh ho so',
      '--b1',
      'Content-Type: application/octet-stream; name="ho-so.exe"',
      'Content-Disposition: attachment; filename="ho-so.exe"',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from('MZ\x90\x00 fake executable').toString('base64'),
      '--b1--',
      '',
    ].join('\r\n');

  it('rejects an executable attachment inbound with 550 5.7.1 naming the file, and logs the finding', async () => {
    const c = await mx();
    const r = await sendRaw(c, 'a@sender.example.com', ['lan@example.gov.vn'], exe('a@sender.example.com', 'lan@example.gov.vn'));
    expect(r.code).toBe(550);
    expect(r.text).toMatch(/^5\.7\.1 .*ho-so\.exe/);
    const log = await app.store.searchSendLog({ sender: 'a@sender.example.com', recipient: 'lan@example.gov.vn' });
    const row = log.find((x) => x.outcome === 'rejected' && x.code === 550);
    expect(row?.findings.join(' ')).toMatch(/ho-so\.exe/);
    c.close();
  });

  it('rejects an executable from a signed-in user on submission too', async () => {
    const c = await SmtpLineClient.connect(app.port('submission'));
    await c.read();
    await c.cmd('EHLO client.example.com');
    expect((await c.cmd(`AUTH PLAIN ${Buffer.from(`\0lan\0${PASSWORD}`).toString('base64')}`)).code).toBe(235);
    const r = await sendRaw(c, 'lan@example.gov.vn', ['nho@example.gov.vn'], exe('lan@example.gov.vn', 'nho@example.gov.vn'));
    expect(r.code).toBe(550);
    expect(r.text).toMatch(/^5\.7\.1 /);
    c.close();
  });

  it('a clean message passes the pipeline and arrives', async () => {
    const c = await mx();
    const arrived = nextMessage(app.store, lan.id);
    const r = await sendRaw(c, 'b@sender.example.com', ['lan@example.gov.vn'], message({ from: 'b@sender.example.com', to: 'lan@example.gov.vn' }));
    expect(r.code).toBe(250);
    expect((await arrived).toString()).toContain('Xin chào');
    c.close();
  });
});
