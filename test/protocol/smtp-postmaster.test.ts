/**
 * RFC 5321 §4.5.1: <postmaster> and postmaster@<every served domain> are accepted on the MX and
 * delivered even without an account or alias of that name: to smtp.postmasterAddress, by default
 * the first super-administrator (admin@<primary domain>, made at first start). An account or
 * alias postmaster@domain, where there is one, takes precedence. Sent with Python smtplib, swaks
 * and a line client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, configFrom } from '../../src/config/load.js';
import type { Account } from '../../src/store/port.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { createUser, message, nextMessage, run, sendRaw, SmtpLineClient, until, which } from './smtp-helpers.js';

let app: TestApp;
let admin: Account;
let lan: Account;

const PY = String.raw`
import smtplib, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=20)
refused = s.sendmail('someone@sender.example.com', [sys.argv[2]], ('From: <someone@sender.example.com>\r\nTo: <postmaster@example.gov.vn>\r\nSubject: ' + sys.argv[3] + '\r\n\r\nHello postmaster\r\n').encode())
s.quit()
print(len(refused))
`;

async function mx(): Promise<SmtpLineClient> {
  const c = await SmtpLineClient.connect(app.port('smtp'));
  expect((await c.read()).code).toBe(220);
  expect((await c.cmd('EHLO sender.example.com')).code).toBe(250);
  return c;
}

beforeAll(async () => {
  app = await startApp({ domains: ['example.gov.vn', 'phuong.example.gov.vn'] });
  const a = await app.store.getAccountByAddress('admin@example.gov.vn');
  if (!a || a.role !== 'super') throw new Error('bootstrap made no super-administrator');
  admin = a;
  lan = await createUser(app.store, 'lan@example.gov.vn');
}, 30_000);
afterAll(async () => {
  await app?.stop();
});

describe('postmaster (RFC 5321 §4.5.1)', () => {
  it('Python smtplib: RCPT TO:<postmaster> and <PostMaster> with no postmaster account land in the first super-administrator INBOX', async (ctx) => {
    if (!(await which('python3'))) return ctx.skip();
    expect(await app.store.resolveAddress('postmaster@example.gov.vn')).toBeNull();
    for (const [rcpt, subject] of [['postmaster', 'bare'], ['PostMaster', 'mixed-case']] as const) {
      const arrived = nextMessage(app.store, admin.id);
      const r = await run('python3', ['-c', PY, String(app.port('smtp')), rcpt, subject]);
      expect(r.stdout.trim(), r.stderr).toBe('0');
      const raw = (await arrived).toString();
      expect(raw).toContain(`Subject: ${subject}`);
      expect(raw).toMatch(/^Return-Path: <someone@sender\.example\.com>/);
    }
    // The send log keeps the address asked for, not the administrator's.
    const log = await app.store.searchSendLog({ recipient: 'postmaster@example.gov.vn' });
    expect(log.filter((x) => x.direction === 'inbound' && x.outcome === 'delivered')).toHaveLength(2);
  });

  it('swaks: postmaster@ every served domain, in any case, goes to the same administrator', async (ctx) => {
    if (!(await which('swaks'))) {
      console.warn('SKIPPED: swaks is not installed (apt-get install -y swaks); .ci/run installs it');
      return ctx.skip();
    }
    const arrived = nextMessage(app.store, admin.id);
    const r = await run('swaks', ['--server', '127.0.0.1', '--port', String(app.port('smtp')), '--from', 'someone@sender.example.com', '--to', 'Postmaster@Phuong.Example.Gov.Vn', '--header', 'Subject: swaks to postmaster']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect((await arrived).toString()).toContain('Subject: swaks to postmaster');
  });

  it('an alias postmaster@domain takes precedence for that domain only; other unknown names still get 550, foreign postmasters 554', async () => {
    await app.store.addAlias('postmaster@example.gov.vn', lan.id, { actor: 'test', action: 'alias.add', target: 'postmaster@example.gov.vn' });
    try {
      const c = await mx();
      const toLan = nextMessage(app.store, lan.id);
      expect((await sendRaw(c, 'a@sender.example.com', ['postmaster'], message({ from: 'a@sender.example.com', to: 'postmaster@example.gov.vn', subject: 'alias' }))).code).toBe(250);
      expect((await toLan).toString()).toContain('Subject: alias');
      const toAdmin = nextMessage(app.store, admin.id);
      expect((await sendRaw(c, 'a@sender.example.com', ['postmaster@phuong.example.gov.vn'], message({ from: 'a@sender.example.com', to: 'postmaster@phuong.example.gov.vn', subject: 'other domain' }))).code).toBe(250);
      expect((await toAdmin).toString()).toContain('Subject: other domain');
      expect((await c.cmd('MAIL FROM:<a@sender.example.com>')).code).toBe(250);
      expect((await c.cmd('RCPT TO:<hostmaster@example.gov.vn>')).text).toMatch(/^5\.1\.1 /);
      expect((await c.cmd('RCPT TO:<postmaster@other.example.com>')).code).toBe(554);
      expect((await c.cmd('RCPT TO:<postmaster.x@example.gov.vn>')).code).toBe(550);
      c.close();
    } finally {
      await app.store.removeAlias('postmaster@example.gov.vn', { actor: 'test', action: 'alias.remove', target: 'postmaster@example.gov.vn' });
    }
  });

  it('smtp.postmasterAddress sends postmaster mail to that account instead', async () => {
    const a = await startApp({ smtp: { checkAuthentication: false, postmasterAddress: 'vanthu@example.gov.vn' } });
    try {
      const vanthu = await createUser(a.store, 'vanthu@example.gov.vn');
      const c = await SmtpLineClient.connect(a.port('smtp'));
      await c.read();
      await c.cmd('EHLO sender.example.com');
      const arrived = nextMessage(a.store, vanthu.id);
      expect((await sendRaw(c, 'a@sender.example.com', ['postmaster'], message({ from: 'a@sender.example.com', to: 'postmaster@example.gov.vn', subject: 'configured' }))).code).toBe(250);
      expect((await arrived).toString()).toContain('Subject: configured');
      const adminBox = await a.store.getMailbox((await a.store.getAccountByAddress('admin@example.gov.vn'))?.id ?? -1, 'INBOX');
      expect((await a.store.mailboxStatus(adminBox?.id ?? -1)).messages).toBe(0);
      c.close();
    } finally {
      await a.stop();
    }
  });

  it('a postmaster message that must wait in the queue (mailbox over quota next to a success) is still delivered to the administrator later', async () => {
    const a = await startApp({ delivery: { queuePollMs: 20, retryScheduleMs: [100] } });
    try {
      const boss = await a.store.getAccountByAddress('admin@example.gov.vn');
      if (!boss) throw new Error('no admin');
      const hoa = await createUser(a.store, 'hoa@example.gov.vn');
      await a.store.updateAccount(boss.id, { quotaBytes: 1 }, null); // full: 452 at delivery time, retried
      const c = await SmtpLineClient.connect(a.port('smtp'));
      await c.read();
      await c.cmd('EHLO sender.example.com');
      const toHoa = nextMessage(a.store, hoa.id);
      expect((await c.cmd('MAIL FROM:<a@sender.example.com>')).code).toBe(250);
      expect((await c.cmd('RCPT TO:<hoa@example.gov.vn>')).code).toBe(250);
      // The declared size is 0, so the RCPT quota check passes and the store refuses at DATA.
      expect((await c.cmd('RCPT TO:<postmaster>')).code).toBe(250);
      expect((await c.cmd('DATA')).code).toBe(354);
      c.write(message({ from: 'a@sender.example.com', to: 'postmaster@example.gov.vn', subject: 'later' }) + '.\r\n');
      expect((await c.read()).code).toBe(250);
      await toHoa;
      await until(async () => (await a.store.listQueue()).some((q) => q.recipients.includes('postmaster@example.gov.vn')));
      const arrived = nextMessage(a.store, boss.id);
      await a.store.updateAccount(boss.id, { quotaBytes: null }, null);
      expect((await arrived).toString()).toContain('Subject: later');
      await until(async () => (await a.store.queueDepth()) === 0);
      c.close();
    } finally {
      await a.stop();
    }
  });

  it('config: smtp.postmasterAddress must be an address in a served domain', () => {
    expect(configFrom({ domains: ['example.gov.vn'], smtp: { postmasterAddress: 'quantri@example.gov.vn' } }).smtp.postmasterAddress).toBe('quantri@example.gov.vn');
    expect(configFrom({}).smtp.postmasterAddress).toBeNull();
    for (const bad of ['quantri@gmail.com', 'not-an-address', 'Upper@example.gov.vn']) {
      let problems: string[] = [];
      try {
        configFrom({ domains: ['example.gov.vn'], smtp: { postmasterAddress: bad } });
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        problems = e.problems;
      }
      expect(problems.join('\n'), bad).toMatch(/smtp\.postmasterAddress/);
    }
  });
});
