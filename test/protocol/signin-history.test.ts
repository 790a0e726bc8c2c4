/**
 * Sign-in history and unusual sign-ins (R-AUTH-5) through the real protocols: IMAP (imapflow),
 * POP3 (Python's poplib) and SMTP submission (nodemailer) sign-ins are recorded with their
 * protocol, refused ones with their reason; a success from a network the account has not used
 * for 90 days brings one bilingual notice into its INBOX, a first sign-in ever does not; a change
 * the user makes at the portal brings one too.
 */
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBody } from '../../src/mail/decode.js';
import { parseMessage } from '../../src/mail/parse.js';
import { createTestAccount, PASSWORD } from '../helpers/accounts.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { imapSignsIn } from './imap-helpers.js';
import { messagesIn, run, until } from './smtp-helpers.js';

let app: TestApp;
beforeAll(async () => {
  app = await startApp({ security: { authFailureDelayMs: 1, authFailureMaxDelayMs: 1 } });
});
afterAll(async () => app?.stop());

async function imap(user: string, pass: string): Promise<boolean> {
  return (await imapSignsIn(app, user, pass)).ok;
}

function text(raw: Buffer): string {
  return decodeBody(raw, parseMessage(raw).structure).toString('utf8');
}

describe('sign-in history (R-AUTH-5)', () => {
  it('records IMAP, POP3 and SMTP sign-ins with their protocol, and refused ones with the reason', async () => {
    const a = await createTestAccount(app.store, 'lichsu@example.gov.vn');
    expect(await imap('lichsu', PASSWORD)).toBe(true);
    expect(await imap('lichsu', 'sai-mat-khau')).toBe(false);
    const py = `
import poplib, sys
p = poplib.POP3('127.0.0.1', int(sys.argv[1]), timeout=20)
p.user('lichsu@example.gov.vn'); p.pass_(sys.argv[2]); print(p.stat()); p.quit()
`;
    const pop = await run('python3', ['-c', py, String(app.port('pop3')), PASSWORD]);
    expect(pop.stderr).toBe('');
    const smtp = nodemailer.createTransport({ host: '127.0.0.1', port: app.port('submission'), requireTLS: true, tls: { rejectUnauthorized: false }, auth: { user: 'lichsu', pass: PASSWORD } });
    await smtp.sendMail({ from: 'lichsu@example.gov.vn', to: 'lichsu@example.gov.vn', subject: 'x', text: 'x' });
    const rows = await until(async () => {
      const r = await app.store.listSignIns(a.id);
      return r.length >= 4 ? r : undefined;
    });
    expect(rows.map((r) => [r.protocol, r.ok, r.method, r.reason, r.ip, r.network]).reverse()).toEqual([
      ['imap', true, 'password', null, '127.0.0.1', '127.0.0.0/24'],
      ['imap', false, null, 'bad-credentials', '127.0.0.1', '127.0.0.0/24'],
      ['pop3', true, 'password', null, '127.0.0.1', '127.0.0.0/24'],
      ['smtp', true, 'password', null, '127.0.0.1', '127.0.0.0/24'],
    ]);
    // The first sign-in ever, and later ones from the same network, are not unusual.
    const inbox = (await messagesIn(app.store, a.id)).map((m) => m.toString('utf8'));
    expect(inbox.some((m) => m.includes('Auto-Submitted'))).toBe(false);
  });

  it('a success from a network not used for 90 days brings one bilingual notice; a suspended account’s refusals are recorded', async () => {
    const a = await createTestAccount(app.store, 'mangmoi@example.gov.vn');
    const long = new Date(Date.now() - 100 * 86_400_000);
    const recent = new Date(Date.now() - 10 * 86_400_000);
    // Signed in before: from 127.0.0.0/24 only 100 days ago, lately from another network.
    await app.store.recordSignIn({ accountId: a.id, at: long, protocol: 'imap', ip: '127.0.0.9', network: '127.0.0.0/24', ok: true, method: 'password', appPasswordId: null, reason: null });
    await app.store.recordSignIn({ accountId: a.id, at: recent, protocol: 'imap', ip: '203.0.113.5', network: '203.0.113.0/24', ok: true, method: 'password', appPasswordId: null, reason: null });
    expect(await imap('mangmoi', PASSWORD)).toBe(true);
    const notice = await until(async () => (await messagesIn(app.store, a.id))[0]);
    const raw = notice.toString('utf8');
    expect(raw).toContain('Auto-Submitted: auto-generated');
    expect(raw).toMatch(/^Subject: =\?UTF-8\?B\?/m);
    const body = text(notice);
    expect(body.indexOf('Tài khoản mangmoi@example.gov.vn vừa đăng nhập qua IMAP')).toBe(0);
    expect(body).toContain('127.0.0.1');
    expect(body).toContain('https://mail.example.gov.vn/portal/security');
    expect(body).toContain('Your account mangmoi@example.gov.vn just signed in through IMAP');
    // Thunderbird opens several connections: the network is known now, and no second notice comes.
    expect(await imap('mangmoi', PASSWORD)).toBe(true);
    expect(await imap('mangmoi', PASSWORD)).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(await messagesIn(app.store, a.id)).toHaveLength(1);

    await app.store.updateAccount(a.id, { state: 'suspended' }, null);
    expect(await imap('mangmoi', PASSWORD)).toBe(false);
    const [last] = await app.store.listSignIns(a.id, { limit: 1 });
    expect(last).toMatchObject({ protocol: 'imap', ok: false, reason: 'suspended' });
  });

  it('a change the user makes at /portal (a new password) mails them a notice naming the IP address', async () => {
    const a = await createTestAccount(app.store, 'doimatkhau@example.gov.vn', { mustChangePassword: true });
    const NEW = 'Mat-Khau-Moi#2027';
    const res = await fetch(`http://127.0.0.1:${app.port('http')}/portal`, {
      method: 'POST',
      body: new URLSearchParams({ username: 'doimatkhau', password: PASSWORD, newPassword: NEW, repeat: NEW }),
    });
    expect(res.status).toBe(200);
    const notice = await until(async () => (await messagesIn(app.store, a.id))[0]);
    const body = text(notice);
    expect(body).toMatch(/^Mật khẩu của tài khoản đã được đổi \(tài khoản doimatkhau@example\.gov\.vn\) lúc .* \(UTC\+7\), từ địa chỉ IP 127\.0\.0\.1\./);
    expect(body).toContain("The account's password was changed (account doimatkhau@example.gov.vn)");
    expect(notice.toString('utf8')).toMatch(/^Subject: =\?UTF-8\?B\?/m);
  });
});

