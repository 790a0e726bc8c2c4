/**
 * Two-factor sign-in by SMS codes (R-AUTH-3; NA asks for the OTP by SMS), over HTTP against the
 * real app. The gateway is a real program (sms.command): a Node script that appends each message
 * to an outbox file, or fails for one phone number. Covered: the portal's first form (password
 * only) sends a code and comes back for it; the code signs in once, and only within its time;
 * wrong codes are refused with the SMS text; a code a moment later is not sent again; a gateway
 * failure is a clear 503 and no code; mail programs then need app passwords (imapflow); a user
 * turns SMS codes on from the portal with the phone on file; /admin signs an administrator in
 * with an SMS code.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import { createTestAccount, PASSWORD } from '../helpers/accounts.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { messagesIn } from '../helpers/messages.js';
import { imapSignsIn } from './imap-helpers.js';
import { notice, readOutbox } from '../helpers/portal.js';


describe('two-factor sign-in by SMS', () => {
  let app: TestApp;
  let base: string;
  let dir: string;
  let outbox: string;
  const clock = new ManualClock(new Date());
  const actor = { name: 'test-admin', role: 'super' as const, unitId: null };

  /** Messages the gateway was given: phone and text. */
  const sent = (): Array<{ phone: string; text: string; env: string }> =>
    readOutbox<{ phone: string; text: string; env: string }>(outbox);
  const lastCode = (): string => /ma xac thuc (\d{6})/.exec(sent().at(-1)?.text ?? '')?.[1] ?? '';
  const post = async (page: string, fields: Record<string, string>) => {
    const res = await fetch(`${base}${page}`, { method: 'POST', body: new URLSearchParams(fields), redirect: 'manual' });
    const html = await res.text();
    return { status: res.status, html, text: notice(html), headers: res.headers };
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'buudien-sms-'));
    outbox = path.join(dir, 'outbox.jsonl');
    const script = path.join(dir, 'send-sms.mjs');
    writeFileSync(
      script,
      `import { appendFileSync } from 'node:fs';
const [phone, text] = process.argv.slice(2);
if (phone.endsWith('999')) { console.error('gateway says no'); process.exit(3); }
appendFileSync(${JSON.stringify(outbox)}, JSON.stringify({ phone, text, env: process.env.BUUDIEN_SMS_PHONE }) + '\\n');
`,
    );
    app = await startApp(
      {
        security: { authFailureDelayMs: 0, authFailureMaxDelayMs: 0, adminRequiresTwoFactor: true },
        sms: { command: [process.execPath, script, '{phone}', '{text}'] },
      },
      { clock },
    );
    base = `http://127.0.0.1:${app.port('http')}`;
    for (const local of ['sms', 'hong', 'tudat', 'khongso']) await createTestAccount(app.store, `${local}@example.gov.vn`);
    await createTestAccount(app.store, 'quantri@example.gov.vn', { kind: 'admin', role: 'super' });
    await app.accounts.enableSmsTwoFactor('sms@example.gov.vn', actor, { phone: '0912 345 678' });
    await app.accounts.enableSmsTwoFactor('hong@example.gov.vn', actor, { phone: '0912345999' });
    await app.accounts.enableSmsTwoFactor('quantri@example.gov.vn', actor, { phone: '+84 987 654 321' });
    const t = await app.store.getAccountByAddress('tudat@example.gov.vn');
    await app.store.updateAccount(t!.id, { phone: '0911 222 333' }, null);
  });
  afterAll(async () => {
    await app?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the password alone sends a code to the phone and asks for it; the code signs in once', async () => {
    const first = await post('/portal/security', { username: 'sms', password: PASSWORD, action: 'show' });
    expect(first.status).toBe(200);
    expect(first.text).toContain('Đã gửi mã xác thực qua SMS tới số …678');
    expect(first.text).toContain('A sign-in code was sent by SMS to the phone ending …678');
    // Not signed in: the page has no status section, only the form again with the user name kept.
    expect(first.html).not.toContain('id="status"');
    expect(first.html).toContain('value="sms"');
    const msg = sent().at(-1)!;
    expect(msg.phone).toBe('+84912345678');
    expect(msg.env).toBe('+84912345678');
    const code = lastCode();
    expect(code).toMatch(/^\d{6}$/);

    const ok = await post('/portal/security', { username: 'sms', password: PASSWORD, totp: code, action: 'show' });
    expect(ok.status).toBe(200);
    expect(ok.html).toContain('Xác thực hai lớp: đang bật, mã qua SMS tới số …678');
    // One use only.
    const again = await post('/portal/security', { username: 'sms', password: PASSWORD, totp: code, action: 'show' });
    expect(again.status).toBe(401);
    // The same answer as a wrong password: a used code does not tell that the password was right.
    const wrongPassword = await post('/portal/security', { username: 'sms', password: 'Sai-mat-khau#2', totp: code, action: 'show' });
    expect(again.text).toBe(wrongPassword.text);
    expect(again.text).toContain('Sai tên đăng nhập, mật khẩu hoặc mã xác thực');
  });

  it('a wrong password sends nothing; a wrong code is refused; a new code only after a minute; an old code expires', async () => {
    const before = sent().length;
    const wrongPassword = await post('/portal/security', { username: 'sms', password: 'Sai-mat-khau#1', action: 'show' });
    expect(wrongPassword.status).toBe(401);
    expect(sent().length).toBe(before);

    clock.advance(61_000);
    expect((await post('/portal/security', { username: 'sms', password: PASSWORD, action: 'show' })).status).toBe(200);
    const code = lastCode();
    const wrong = code === '000000' ? '000001' : '000000';
    const refused = await post('/portal/security', { username: 'sms', password: PASSWORD, totp: wrong, action: 'show' });
    expect(refused.status).toBe(401);
    // Asked again within the minute: nothing new is sent, the code in flight stays good.
    const count = sent().length;
    const recent = await post('/portal/security', { username: 'sms', password: PASSWORD, action: 'show' });
    expect(recent.status).toBe(200);
    expect(recent.text).toContain('Mã xác thực vừa được gửi tới số …678');
    expect(sent().length).toBe(count);
    expect((await post('/portal/security', { username: 'sms', password: PASSWORD, totp: code, action: 'show' })).status).toBe(200);

    // A code past its five minutes is refused.
    clock.advance(61_000);
    await post('/portal/security', { username: 'sms', password: PASSWORD, action: 'show' });
    const late = lastCode();
    clock.advance(5 * 60_000 + 1000);
    expect((await post('/portal/security', { username: 'sms', password: PASSWORD, totp: late, action: 'show' })).status).toBe(401);
  });

  it('a gateway failure is a clear 503; the message may have gone all the same, so it counts like a sent one', async () => {
    const r = await post('/portal/security', { username: 'hong', password: PASSWORD, action: 'show' });
    expect(r.status).toBe(503);
    expect(r.text).toContain('Chưa gửi được mã xác thực qua SMS');
    expect(r.text).toContain('The sign-in code could not be sent by SMS');
    // Asking again at once sends nothing more (no flood through a failing gateway).
    const again = await post('/portal/security', { username: 'hong', password: PASSWORD, action: 'show' });
    expect(again.status).toBe(200);
    expect(again.text).toContain('Mã xác thực vừa được gửi tới số …999');
  });

  it('an account that must change its password is told so before any code is sent', async () => {
    const a = await createTestAccount(app.store, 'moi@example.gov.vn', { mustChangePassword: true });
    await app.store.updateAccount(a.id, { phone: '0912000111', smsTwoFactor: true }, null);
    const count = sent().length;
    const r = await post('/portal/security', { username: 'moi', password: PASSWORD, action: 'show' });
    expect(r.status).toBe(403);
    expect(r.text).toContain('đổi mật khẩu');
    expect(sent().length).toBe(count);
  });

  it('a code sent to the old phone is void once an administrator moves SMS codes to a new phone, and the user is told', async () => {
    await createTestAccount(app.store, 'doiso@example.gov.vn');
    await app.accounts.enableSmsTwoFactor('doiso@example.gov.vn', actor, { phone: '0912000222' });
    expect((await post('/portal/security', { username: 'doiso', password: PASSWORD, action: 'show' })).status).toBe(200);
    const old = lastCode();
    await app.accounts.enableSmsTwoFactor('doiso@example.gov.vn', actor, { phone: '0912000333' });
    expect((await post('/portal/security', { username: 'doiso', password: PASSWORD, totp: old, action: 'show' })).status).toBe(401);
    // Two security notices: SMS codes turned on, then moved to the phone ending …333 (mailed in the background).
    const account = (await app.store.getAccountByAddress('doiso@example.gov.vn'))!;
    // The notices are text/plain in base64.
    const bodies = async (): Promise<string[]> =>
      (await messagesIn(app.store, account.id, 'INBOX')).map((m) => {
        const raw = m.toString('latin1');
        return Buffer.from(raw.slice(raw.indexOf('\r\n\r\n') + 4), 'base64').toString('utf8');
      });
    for (let i = 0; i < 100 && !(await bodies()).some((b) => b.includes('…333')); i++) await new Promise((r) => setTimeout(r, 50));
    const notices = await bodies();
    expect(notices.some((b) => b.includes('Xác thực hai lớp đã được bật'))).toBe(true);
    expect(notices.some((b) => b.includes('Mã xác thực SMS từ nay được gửi tới số điện thoại khác (…333)'))).toBe(true);
  });

  it('mail programs need an app password once SMS codes are on (IMAP, imapflow)', async () => {
    const r = await imapSignsIn(app, 'sms', PASSWORD);
    expect(r.ok).toBe(false);
    expect(r.text).toContain('mật khẩu ứng dụng');
    expect((await imapSignsIn(app, 'tudat', PASSWORD)).ok).toBe(true);
  });

  it('a user turns SMS codes on from the portal with the phone on file: a code first, then on', async () => {
    const first = await post('/portal/security', { username: 'tudat', password: PASSWORD, action: 'sms-enable' });
    expect(first.status).toBe(200);
    expect(first.text).toContain('…333');
    expect(sent().at(-1)!.phone).toBe('+84911222333');
    const wrong = await post('/portal/security', { username: 'tudat', password: PASSWORD, action: 'sms-enable', totp: lastCode() === '123456' ? '654321' : '123456' });
    expect(wrong.status).toBe(401);
    expect((await app.store.getAccountByAddress('tudat@example.gov.vn'))!.smsTwoFactor).toBe(false);
    const on = await post('/portal/security', { username: 'tudat', password: PASSWORD, action: 'sms-enable', totp: lastCode() });
    expect(on.status).toBe(200);
    expect(on.text).toContain('Đã bật xác thực hai lớp bằng SMS');
    expect((await app.store.getAccountByAddress('tudat@example.gov.vn'))!.smsTwoFactor).toBe(true);
    // The mail session that rested on the main password no longer signs in.
    expect((await imapSignsIn(app, 'tudat', PASSWORD)).ok).toBe(false);
    // An account without a phone number is told so, and nothing is sent.
    const count = sent().length;
    const none = await post('/portal/security', { username: 'khongso', password: PASSWORD, action: 'sms-enable' });
    expect(none.status).toBe(409);
    expect(none.text).toContain('chưa có số điện thoại');
    expect(sent().length).toBe(count);
  });

  it('/admin signs an administrator in with an SMS code (two-factor required for administrators)', async () => {
    const first = await post('/admin/login', { username: 'quantri', password: PASSWORD });
    expect(first.status).toBe(200);
    expect(first.text).toContain('…321');
    expect(first.headers.get('set-cookie')).toBeNull();
    const signedIn = await post('/admin/login', { username: 'quantri', password: PASSWORD, totp: lastCode() });
    expect(signedIn.status).toBe(303);
    expect(signedIn.headers.get('set-cookie')).toContain('buudien_admin');
  });
});
