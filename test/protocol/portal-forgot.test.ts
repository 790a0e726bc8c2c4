/**
 * "Forgot password" (R-AUTH-4) over HTTP against the real app, with a real SMS gateway program
 * (a Node script appending each message to an outbox file): the address asks for a code, the
 * answer never tells whether the address gets one; the code and a strong new password reset it
 * (IMAP then takes the new password, imapflow), once; an account with an authenticator gives that
 * code too; sign-in codes and reset codes do not stand in for each other; administrators and unit
 * mailboxes get no codes; without an SMS gateway the page sends users to their administrator.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentTotp } from '../../src/auth/totp.js';
import { ManualClock } from '../../src/lib/clock.js';
import { createTestAccount, PASSWORD } from '../helpers/accounts.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { messagesIn, until } from '../helpers/messages.js';
import { imapSignsIn } from './imap-helpers.js';
import { notice, readOutbox } from '../helpers/portal.js';


const NEW_PASSWORD = 'Mat-khau-moi#2027';
const SECRET = 'JBSWY3DPEHPK3PXP';

describe('forgot password by SMS (R-AUTH-4)', () => {
  let app: TestApp;
  let base: string;
  let dir: string;
  let outbox: string;
  const clock = new ManualClock(new Date());
  const actor = { name: 'test-admin', role: 'super' as const, unitId: null };

  const sent = (): Array<{ phone: string; text: string }> =>
    readOutbox<{ phone: string; text: string }>(outbox);
  /** The next SMS after `count` (the page answers before the gateway has run). */
  const nextSms = (count: number) => until(async () => sent()[count] ?? null);
  const resetCode = (text: string): string => /ma dat lai mat khau (\d{6})/.exec(text)?.[1] ?? '';
  const post = async (page: string, fields: Record<string, string>) => {
    const res = await fetch(`${base}${page}`, { method: 'POST', body: new URLSearchParams(fields), redirect: 'manual' });
    const html = await res.text();
    return { status: res.status, html, text: notice(html) };
  };
  const ask = (username: string) => post('/portal/forgot', { username, action: 'send-code' });
  const reset = (username: string, code: string, extra: Record<string, string> = {}) =>
    post('/portal/forgot', { username, code, newPassword: NEW_PASSWORD, repeat: NEW_PASSWORD, action: 'reset', ...extra });

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'buudien-forgot-'));
    outbox = path.join(dir, 'outbox.jsonl');
    const script = path.join(dir, 'send-sms.mjs');
    writeFileSync(script, `import { appendFileSync } from 'node:fs';\nappendFileSync(${JSON.stringify(outbox)}, JSON.stringify({ phone: process.argv[2], text: process.argv[3] }) + '\\n');\n`);
    app = await startApp({ security: { authFailureDelayMs: 0, authFailureMaxDelayMs: 0 }, sms: { command: [process.execPath, script, '{phone}', '{text}'], passwordReset: true } }, { clock });
    base = `http://127.0.0.1:${app.port('http')}`;
    for (const local of ['quenmk', 'hailop', 'khongso', 'smsdn']) await createTestAccount(app.store, `${local}@example.gov.vn`);
    await createTestAccount(app.store, 'quantri@example.gov.vn', { kind: 'admin', role: 'super' });
    await createTestAccount(app.store, 'vanphong@example.gov.vn', { kind: 'unit' });
    for (const [address, phone] of [
      ['quenmk', '0912 345 678'],
      ['hailop', '0913 000 111'],
      ['quantri', '0987 654 321'],
      ['vanphong', '0988 111 222'],
    ] as const) {
      const a = await app.store.getAccountByAddress(`${address}@example.gov.vn`);
      await app.store.updateAccount(a!.id, { phone }, null);
    }
    const h = await app.store.getAccountByAddress('hailop@example.gov.vn');
    await app.store.updateAccount(h!.id, { totpSecret: SECRET }, null);
    await app.accounts.enableSmsTwoFactor('smsdn@example.gov.vn', actor, { phone: '0914 222 333' });
  });
  afterAll(async () => {
    await app?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('GET is a bilingual form linked from every portal page', async () => {
    const res = await fetch(`${base}/portal/forgot`);
    expect(res.status).toBe(200);
    const html = await res.text();
    // One form per step: Enter in the second (code, new password) sends the reset, never a new code.
    const forms = html.split('<form method="post" action="/portal/forgot"').slice(1);
    expect(forms).toHaveLength(2);
    expect(forms[0]).toContain('name="action" value="send-code"');
    expect(forms[0]).not.toContain('name="code"');
    expect(forms[1]).toContain('name="action" value="reset"');
    expect(forms[1]).not.toContain('value="send-code"');
    for (const f of ['username', 'code', 'totp', 'newPassword', 'repeat']) expect(forms[1]).toContain(`name="${f}"`);
    expect(await (await fetch(`${base}/portal`)).text()).toContain('href="/portal/forgot"');
  });

  it('the answer is the same for every address; only a personal account with a phone gets a code', async () => {
    const answers = [];
    for (const name of ['khongso', 'khongcoai', 'quantri', 'vanphong', 'quenmk']) answers.push(await ask(name));
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(a.text).toBe(answers[0]!.text);
    }
    expect(answers[0]!.text).toMatch(/^Nếu địa chỉ này là tài khoản cá nhân có số điện thoại đã đăng ký, .* \/ If this address is a personal account with a phone number on file/);
    const sms = await nextSms(0);
    expect(sms.phone).toBe('+84912345678');
    expect(resetCode(sms.text)).toMatch(/^\d{6}$/);
    expect(sent()).toHaveLength(1);
    // Each request shows in the account's history (R-AUTH-5).
    const a = await app.store.getAccountByAddress('quenmk@example.gov.vn');
    expect((await app.store.listSignIns(a!.id, { ok: false })).map((r) => r.reason)).toContain('reset-code-sent');
    const page = await post('/portal/security', { username: 'quenmk', password: PASSWORD, action: 'show' });
    expect(page.html).toContain('forgot password: a reset code was sent by SMS');
  });

  it('a wrong code and a weak password are refused and keep the code; the right code resets once; IMAP takes the new password', async () => {
    const code = resetCode(sent()[0]!.text);
    const wrong = await reset('quenmk', code === '000000' ? '000001' : '000000');
    expect(wrong.status).toBe(401);
    expect(wrong.text).toContain('The reset code (or the authenticator code) is wrong, used or expired');
    // The same answer for a name with no account.
    expect((await reset('khongcoai', code)).text).toBe(wrong.text);
    const weak = await post('/portal/forgot', { username: 'quenmk', code, newPassword: 'yeu', repeat: 'yeu', action: 'reset' });
    expect(weak.status).toBe(400);
    const differ = await post('/portal/forgot', { username: 'quenmk', code, newPassword: NEW_PASSWORD, repeat: `${NEW_PASSWORD}x`, action: 'reset' });
    expect(differ.status).toBe(400);
    // The current password is no new one (rotation, R-AUTH-2); the code stays good.
    const same = await post('/portal/forgot', { username: 'quenmk', code, newPassword: PASSWORD, repeat: PASSWORD, action: 'reset' });
    expect(same.status).toBe(400);
    expect(same.text).toContain('The new password must differ from the current one');

    const ok = await reset('quenmk', code);
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('The password of quenmk@example.gov.vn has been reset');
    expect((await reset('quenmk', code)).status).toBe(401);
    expect((await imapSignsIn(app, 'quenmk', NEW_PASSWORD)).ok).toBe(true);
    expect((await imapSignsIn(app, 'quenmk', PASSWORD)).ok).toBe(false);
    // Audited with the account as actor, and the owner is told by mail.
    const audit = await app.store.listAudit({ target: 'quenmk@example.gov.vn' });
    expect(audit.map((e) => e.action)).toContain('account.passwd.forgot');
    const a = await app.store.getAccountByAddress('quenmk@example.gov.vn');
    // The notice is delivered after the answer: wait for it, and read it decoded.
    const told = await until(async () => {
      for (const raw of await messagesIn(app.store, a!.id)) {
        const m = await simpleParser(raw);
        if (/forgotten password/.test(m.text ?? '')) return m;
      }
      return null;
    });
    expect(told.text).toContain('…678');
  });

  it('an account with an authenticator app gives its code too: the SMS code alone does not reset it', async () => {
    clock.advance(61_000);
    const count = sent().length;
    await ask('hailop');
    const code = resetCode((await nextSms(count)).text);
    const alone = await reset('hailop', code);
    expect(alone.status).toBe(401);
    const both = await reset('hailop', code, { totp: currentTotp(SECRET, clock.now()) });
    expect(both.status).toBe(200);
    expect((await imapSignsIn(app, 'hailop', NEW_PASSWORD)).ok).toBe(false); // two-factor: mail programs need app passwords
  });

  it('a sign-in code does not reset a password, and asking for a reset code leaves a sign-in code good', async () => {
    clock.advance(61_000);
    let count = sent().length;
    const signIn = await post('/portal/security', { username: 'smsdn', password: PASSWORD, action: 'show' });
    expect(signIn.status).toBe(200);
    const signInCode = /ma xac thuc (\d{6})/.exec((await nextSms(count)).text)?.[1] ?? '';
    expect(signInCode).toMatch(/^\d{6}$/);
    count = sent().length;
    await ask('smsdn');
    const resetText = (await nextSms(count)).text;
    expect(resetText).toContain('Password reset code');
    expect((await reset('smsdn', signInCode)).status).toBe(401);
    expect((await post('/portal/security', { username: 'smsdn', password: PASSWORD, totp: signInCode, action: 'show' })).status).toBe(200);
  });

  it('off by default, without an SMS gateway, or with sms.passwordReset off: no form, no link, and the page sends users to their administrator', async () => {
    for (const sms of [{ command: [process.execPath, '-e', '0'] }, {}, { command: [process.execPath, '-e', '0'], passwordReset: false }]) {
      const other = await startApp({ sms });
      try {
        await createTestAccount(other.store, 'quenmk@example.gov.vn');
        const url = `http://127.0.0.1:${other.port('http')}`;
        const page = await fetch(`${url}/portal/forgot`);
        expect(page.status).toBe(200);
        const html = await page.text();
        expect(notice(html)).toContain('ask your unit administrator to reset it');
        expect(html).not.toContain('<form');
        expect(await (await fetch(`${url}/portal`)).text()).not.toContain('href="/portal/forgot"');
        const res = await fetch(`${url}/portal/forgot`, { method: 'POST', body: new URLSearchParams({ username: 'quenmk', action: 'send-code' }) });
        expect(res.status).toBe(503);
        expect(notice(await res.text())).toContain('ask your unit administrator to reset it');
      } finally {
        await other.stop();
      }
    }
  });
});
