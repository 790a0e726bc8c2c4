/** Submission (587 STARTTLS, 465 implicit TLS) with real clients: nodemailer, Python smtplib, swaks. */
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/store/port.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { createUser, message, nextMessage, PASSWORD, run, sendRaw, SmtpLineClient, startSink, until, which, type Sink } from './smtp-helpers.js';

let app: TestApp;
let sink: Sink;
let long: Account;
let unit: Account;
let other: Account;

beforeAll(async () => {
  sink = await startSink();
  app = await startApp({ delivery: { routes: { '*': `127.0.0.1:${sink.port}` }, queuePollMs: 20, retryScheduleMs: [200] } });
  long = await createUser(app.store, 'longnv@example.gov.vn');
  other = await createUser(app.store, 'hoa@example.gov.vn');
  unit = await createUser(app.store, 'vanthu.skhdt@example.gov.vn', { kind: 'unit' });
  const audit = { actor: 'test', action: 'setup', target: 'x' };
  await app.store.addAlias('long.nguyen@example.gov.vn', long.id, audit);
  await app.store.addDelegation(unit.id, long.id, audit);
}, 30_000);
afterAll(async () => {
  await app?.stop();
  await sink?.close();
});

function transport(opts: { port?: number; secure?: boolean; user?: string; method?: string } = {}) {
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port: opts.port ?? app.port('submission'),
    secure: opts.secure ?? false,
    requireTLS: !(opts.secure ?? false),
    tls: { rejectUnauthorized: false },
    auth: { user: opts.user ?? 'longnv', pass: PASSWORD },
    ...(opts.method ? { authMethod: opts.method } : {}),
  });
}

describe('submission', () => {
  it('AUTH PLAIN after STARTTLS with the local part alone (R-ADDR-6), local recipient delivered at once', async () => {
    const arrived = nextMessage(app.store, other.id);
    const info = await transport({ method: 'PLAIN' }).sendMail({ from: 'longnv@example.gov.vn', to: 'hoa@example.gov.vn', subject: 'Báo cáo quý', text: 'Nội dung' });
    expect(info.accepted).toEqual(['hoa@example.gov.vn']);
    const raw = (await arrived).toString();
    expect(raw).toMatch(/with ESMTPSA \(TLSv1\.[23] cipher /);
    const log = await app.store.searchSendLog({ sender: 'longnv@example.gov.vn' });
    expect(log[0]).toMatchObject({ direction: 'submission', account: 'longnv@example.gov.vn', outcome: 'delivered' });
  });

  it('AUTH LOGIN on implicit TLS (465) with the full address; external recipient reaches the sink through delivery.routes', async () => {
    const n = sink.messages.length;
    const info = await transport({ port: app.port('submissions'), secure: true, user: 'longnv@example.gov.vn', method: 'LOGIN' }).sendMail({
      from: 'longnv@example.gov.vn',
      to: 'partner@other.example.com',
      subject: 'Gửi đối tác',
      text: 'Xin chào',
    });
    expect(info.accepted).toEqual(['partner@other.example.com']);
    const m = await sink.next(n);
    expect(m.from).toBe('longnv@example.gov.vn');
    expect(m.to).toEqual(['partner@other.example.com']);
    expect(m.raw.toString()).toContain('Subject: =?');
    const log = await until(async () => {
      const rows = await app.store.searchSendLog({ recipient: 'partner@other.example.com' });
      return rows.length === 2 ? rows : null;
    });
    expect(log.map((l) => [l.direction, l.outcome]).sort()).toEqual([['outbound', 'delivered'], ['submission', 'queued']]);
  });

  it('sends as an alias and as a delegated unit mailbox; refuses another user in the envelope (553 5.7.1) and in From', async () => {
    const t = transport();
    await expect(t.sendMail({ from: 'long.nguyen@example.gov.vn', to: 'hoa@example.gov.vn', text: 'alias' })).resolves.toBeTruthy();
    await expect(t.sendMail({ from: 'vanthu.skhdt@example.gov.vn', to: 'hoa@example.gov.vn', text: 'unit' })).resolves.toBeTruthy();
    await expect(t.sendMail({ from: 'hoa@example.gov.vn', to: 'longnv@example.gov.vn', text: 'spoof' })).rejects.toMatchObject({ responseCode: 553 });
    const err = await t
      .sendMail({ envelope: { from: 'longnv@example.gov.vn', to: ['hoa@example.gov.vn'] }, from: 'hoa@example.gov.vn', to: 'hoa@example.gov.vn', text: 'spoof From' })
      .catch((e: unknown) => e as { responseCode?: number; response?: string });
    expect(err).toMatchObject({ responseCode: 553 });
    expect((err as { response: string }).response).toMatch(/553 5\.7\.1 .* \/ The From header is not one of your addresses/);
  });

  it('refuses a wrong password with 535 5.7.8 and MAIL before AUTH with 530', async () => {
    const c = await SmtpLineClient.connect(app.port('submissions'), { tls: true });
    await c.read();
    await c.cmd('EHLO client.example.com');
    const bad = await c.cmd(`AUTH PLAIN ${Buffer.from('\0longnv\0Sai-mat-khau#1').toString('base64')}`);
    expect(bad.code).toBe(535);
    expect(bad.text).toMatch(/^5\.7\.8 /);
    const r = await c.cmd('MAIL FROM:<longnv@example.gov.vn>');
    expect(r.code).toBe(530);
    expect(r.text).toMatch(/^5\.7\.0 Cần đăng nhập/);
    c.close();
  });

  it('Python smtplib: STARTTLS, login, send', async () => {
    const arrived = nextMessage(app.store, other.id);
    const py = `
import smtplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP('127.0.0.1', ${app.port('submission')}, timeout=20)
s.starttls(context=ctx)
s.login('longnv', sys.argv[1])
msg = 'From: longnv@example.gov.vn\\r\\nTo: hoa@example.gov.vn\\r\\nSubject: smtplib\\r\\n\\r\\nChao\\r\\n'
r = s.sendmail('longnv@example.gov.vn', ['hoa@example.gov.vn'], msg)
print('refused', r)
s.quit()
`;
    const r = await run('python3', ['-c', py, PASSWORD]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('refused {}');
    expect((await arrived).toString()).toContain('Subject: smtplib');
  });

  it('swaks: AUTH LOGIN over STARTTLS', async () => {
    if (!(await which('swaks'))) {
      console.warn('SKIPPED: swaks is not installed (apt-get install -y swaks); .ci/run installs it');
      return;
    }
    // swaks does STARTTLS through Net::SSLeay, which Debian only recommends.
    const support = await run('swaks', ['--support']);
    if (/TLS not available/.test(support.stdout + support.stderr)) {
      console.warn('SKIPPED: swaks has no TLS: Net::SSLeay is missing (apt-get install -y libnet-ssleay-perl); .ci/run installs it');
      return;
    }
    const arrived = nextMessage(app.store, other.id);
    const r = await run('swaks', ['--server', '127.0.0.1', '--port', String(app.port('submission')), '--tls', '--auth', 'LOGIN', '--auth-user', 'longnv', '--auth-password', PASSWORD, '--from', 'longnv@example.gov.vn', '--to', 'hoa@example.gov.vn', '--header', 'Subject: swaks']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect((await arrived).toString()).toContain('Subject: swaks');
  });
});

describe('plaintext AUTH', () => {
  it('is not offered before TLS when security.allowPlaintextAuth is never (as off-loopback)', async () => {
    const strict = await startApp({ security: { allowPlaintextAuth: 'never' } });
    try {
      await createUser(strict.store, 'longnv@example.gov.vn');
      const c = await SmtpLineClient.connect(strict.port('submission'));
      await c.read();
      const ehlo = await c.cmd('EHLO client.example.com');
      expect(ehlo.lines.some((l) => l.includes('AUTH'))).toBe(false);
      // RFC 3207 §4: a known command refused for want of TLS is 530 5.7.0, never "unknown command",
      // and repeating it does not use up the unknown-command limit.
      for (let i = 0; i < 12; i++) {
        const r = await c.cmd(`AUTH PLAIN ${Buffer.from(`\0longnv\0${PASSWORD}`).toString('base64')}`);
        expect(r.code).toBe(530);
        expect(r.text).toMatch(/^5\.7\.0 Cần dùng STARTTLS .+ \/ Must issue a STARTTLS command first$/);
      }
      expect((await c.cmd('MAIL FROM:<longnv@example.gov.vn>')).code).toBe(530);
      c.close();
      // After STARTTLS nodemailer signs in fine.
      const t = nodemailer.createTransport({ host: '127.0.0.1', port: strict.port('submission'), requireTLS: true, tls: { rejectUnauthorized: false }, auth: { user: 'longnv', pass: PASSWORD } });
      await expect(t.verify()).resolves.toBe(true);
    } finally {
      await strict.stop();
    }
  });

  it('is accepted on loopback without TLS by default (security.allowPlaintextAuth: loopback)', async () => {
    const c = await SmtpLineClient.connect(app.port('submission'));
    await c.read();
    await c.cmd('EHLO client.example.com');
    const r = await c.cmd(`AUTH PLAIN ${Buffer.from(`\0longnv\0${PASSWORD}`).toString('base64')}`);
    expect(r.code).toBe(235);
    const s = await sendRaw(c, 'longnv@example.gov.vn', ['hoa@example.gov.vn'], message({ from: 'longnv@example.gov.vn', to: 'hoa@example.gov.vn' }));
    expect(s.code).toBe(250);
    c.close();
  });
});
