/**
 * The portal's security page (/portal/security, R-AUTH-3): a user turns two-factor sign-in on
 * (secret + QR code, then a signed enrolment token and the app's first code), after which IMAP
 * refuses the main password; an app password made on the page signs in over IMAP (imapflow) until
 * it is removed; two-factor sign-in is turned off with a code. Refused: tampered, expired and
 * voided tokens, wrong and reused codes (with the wrong-password text), cross-site forms,
 * passwords over plain HTTP off loopback, bad input of every kind (never a 500). Secrets appear
 * in one answer only. The app runs on a hand-moved clock so each action can have its own code.
 */
import { imapSignsIn } from './imap-helpers.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentTotp } from '../../src/auth/totp.js';
import { ManualClock } from '../../src/lib/clock.js';
import { createTestAccount, PASSWORD } from '../helpers/accounts.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { notice } from '../helpers/portal.js';

const WRONG = 'Sai tên đăng nhập, mật khẩu hoặc mã xác thực / Wrong user name, password or code';
const STEP = 30_000;



const tokenOf = (html: string): string => /name="token" value="([^"]+)"/.exec(html)?.[1] ?? '';
const shownSecret = (html: string): string => (/<p class="secret"><code>([^<]+)<\/code>/.exec(html)?.[1] ?? '').replace(/\s+/g, '');

describe('portal security page', () => {
  let app: TestApp;
  let base: string;
  const clock = new ManualClock(new Date());
  /** Every page the server sent, to check where secrets appear. */
  const pages: string[] = [];
  const post = async (fields: Record<string, string>, headers: Record<string, string> = {}) => {
    const res = await fetch(`${base}/portal/security`, { method: 'POST', body: new URLSearchParams(fields), headers, redirect: 'manual' });
    const html = await res.text();
    pages.push(html);
    return { status: res.status, html, text: notice(html) };
  };
  const code = (secret: string) => currentTotp(secret, clock.now());
  const creds = (user: string, extra: Record<string, string> = {}) => ({ username: user, password: PASSWORD, ...extra });

  beforeAll(async () => {
    app = await startApp({ security: { authFailureDelayMs: 0, authFailureMaxDelayMs: 0 } }, { clock });
    base = `http://127.0.0.1:${app.port('http')}`;
    await createTestAccount(app.store, 'hailop@example.gov.vn');
    await createTestAccount(app.store, 'hethan@example.gov.vn');
    await createTestAccount(app.store, 'doimk@example.gov.vn');
    await createTestAccount(app.store, 'moitao@example.gov.vn', { mustChangePassword: true });
    const s = await createTestAccount(app.store, 'tamkhoa@example.gov.vn');
    await app.store.updateAccount(s.id, { state: 'suspended' }, null);
  });
  afterAll(async () => app?.stop());

  it('GET is a bilingual form with one button per action, linked from /portal, under the same headers', async () => {
    const res = await fetch(`${base}/portal/security`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(res.headers.get('cache-control')).toBe('no-store');
    const html = await res.text();
    expect(html).toContain('<form method="post" action="/portal/security"');
    for (const name of ['username', 'password', 'totp', 'label', 'id']) expect(html).toContain(`name="${name}"`);
    for (const a of ['show', 'app-password-add', 'app-password-remove', 'totp-begin', 'totp-disable']) expect(html).toContain(`name="action" value="${a}"`);
    expect(html.indexOf('Mật khẩu ứng dụng')).toBeLessThan(html.indexOf('App passwords'));
    expect(await (await fetch(`${base}/portal`)).text()).toContain('href="/portal/security"');
    expect((await fetch(`${base}/portal/security`, { method: 'DELETE' })).status).toBe(405);
  });

  it('enrol, then IMAP takes only app passwords; an app password made here works until removed; off again with a code', async () => {
    const user = 'hailop@example.gov.vn';
    // Sign-ins to show (R-AUTH-5): one over IMAP, one refused over IMAP, and the page's own.
    expect((await imapSignsIn(app, 'hailop', PASSWORD)).ok).toBe(true);
    expect((await imapSignsIn(app, 'hailop', 'sai-mat-khau')).ok).toBe(false);
    const shown = await post(creds('hailop', { action: 'show' }));
    expect(shown.status).toBe(200);
    expect(shown.html).toContain('Xác thực hai lớp: đang tắt');
    const t = new Date(clock.now().getTime() + 7 * 3600_000).toISOString();
    const rows = [...shown.html.matchAll(/<tr><td>([^<]*)<\/td><td>([^<]*)<br><small>[^<]*<\/small><\/td><td>([^<]*)<\/td><td>([^<]*)<br>/g)].map((m) => m.slice(1));
    expect(rows).toEqual([
      [`${t.slice(0, 10)} ${t.slice(11, 16)} (UTC+7)`, 'Trang web', '127.0.0.1', 'thành công, mật khẩu chính'],
      [expect.stringContaining('(UTC+7)'), 'IMAP (đọc thư)', '127.0.0.1', 'thành công, mật khẩu chính'],
      // Refused attempts come in their own table, after.
      [expect.stringContaining('(UTC+7)'), 'IMAP (đọc thư)', '127.0.0.1', 'bị từ chối: sai mật khẩu'],
    ]);
    expect(shown.html.indexOf('Recent sign-ins')).toBeLessThan(shown.html.indexOf('Recent refused attempts'));

    const begin = await post(creds('hailop', { action: 'totp-begin' }));
    expect(begin.status).toBe(200);
    expect(begin.html).toMatch(/<div class="qr"[^>]*><svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(begin.html).not.toContain('<script');
    const secret = shownSecret(begin.html);
    expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
    expect(begin.html).toContain(`secret=${secret}`);
    expect(begin.html).toContain('otpauth://totp/');
    const token = tokenOf(begin.html);
    expect(token).not.toBe('');
    expect(token).not.toContain(secret);
    // The confirm form does not carry the password.
    expect(begin.html).not.toContain('name="password"');

    const wrongCode = code(secret) === '000000' ? '111111' : '000000';
    const mistyped = await post({ action: 'totp-confirm', token, totp: wrongCode });
    expect(mistyped.status).toBe(401);
    expect(mistyped.text).toContain('Wrong code');
    expect(tokenOf(mistyped.html)).toBe(token);

    const tampered = token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA');
    const forged = await post({ action: 'totp-confirm', token: tampered, totp: code(secret) });
    expect(forged.status).toBe(400);
    expect(forged.text).toContain('start again');
    // Another account's id with this token's MAC: the MAC covers it.
    const parts = token.split('.');
    const otherId = await post({ action: 'totp-confirm', token: [String(Number(parts[0]) + 1), ...parts.slice(1)].join('.'), totp: code(secret) });
    expect(otherId.status).toBe(400);
    expect((await app.store.getAccountByAddress(user))?.totpSecret).toBeNull();

    const confirmCode = code(secret);
    const on = await post({ action: 'totp-confirm', token, totp: confirmCode });
    expect(on.status).toBe(200);
    expect(on.text).toContain('Đã bật xác thực hai lớp');
    expect(on.text).toContain('app password');
    expect(on.html).toContain('name="action" value="app-password-add"');
    expect((await app.store.getAccountByAddress(user))?.totpSecret).toBe(secret);
    const audit = await app.store.listAudit({ target: user });
    expect(audit.some((a) => a.action === 'account.2fa.enable.self' && a.actor === user)).toBe(true);
    // The token serves once.
    expect((await post({ action: 'totp-confirm', token, totp: confirmCode })).status).toBe(409);

    const imapMain = await imapSignsIn(app, 'hailop', PASSWORD);
    expect(imapMain.ok).toBe(false);
    expect(imapMain.text).toContain('app password');

    // The confirm code is used up: an add with it gets the wrong-password answer.
    const reused = await post(creds('hailop', { action: 'app-password-add', label: 'Outlook', totp: confirmCode }));
    expect(reused.status).toBe(401);
    expect(reused.text).toBe(WRONG);
    const noCode = await post(creds('hailop', { action: 'app-password-add', label: 'Outlook' }));
    expect(noCode.text).toBe(WRONG);
    const wrongPassword = await post({ username: 'hailop', password: 'Sai-mat-khau#1', action: 'show', totp: code(secret) });
    expect(wrongPassword.text).toBe(WRONG);

    clock.advance(STEP);
    const addCode = code(secret);
    const added = await post(creds('hailop', { action: 'app-password-add', label: 'Outlook ở cơ quan <b>', totp: addCode }));
    expect(added.status).toBe(200);
    const appPassword = /<p class="secret"><code>([a-z ]+)<\/code>/.exec(added.html)?.[1] ?? '';
    expect(appPassword).toMatch(/^[a-z]{4} [a-z]{4} [a-z]{4} [a-z]{4}$/);
    expect(added.html).toContain('Outlook ở cơ quan &#60;b&#62;');
    expect(added.html).toContain('Thunderbird');
    expect((await imapSignsIn(app, 'hailop', appPassword)).ok).toBe(true);
    // The app password is no credential on the web.
    clock.advance(STEP);
    const appOnWeb = await post({ username: 'hailop', password: appPassword, totp: code(secret), action: 'show' });
    expect(appOnWeb.status).toBe(401);

    clock.advance(STEP);
    const list = await post(creds('hailop', { action: 'show', totp: code(secret) }));
    expect(list.status).toBe(200);
    expect(list.html).toContain('Xác thực hai lớp: đang bật');
    expect(list.html).not.toContain('$argon2');
    const id = /name="id" value="(\d+)"/.exec(list.html)?.[1] ?? '';
    expect(id).not.toBe('');

    clock.advance(STEP);
    const removed = await post(creds('hailop', { action: 'app-password-remove', id, totp: code(secret) }));
    expect(removed.status).toBe(200);
    expect(removed.text).toContain(`Đã xóa mật khẩu ứng dụng số ${id}`);
    expect((await imapSignsIn(app, 'hailop', appPassword)).ok).toBe(false);
    clock.advance(STEP);
    const again = await post(creds('hailop', { action: 'app-password-remove', id, totp: code(secret) }));
    expect(again.status).toBe(404);

    // Off: a code is required, and the main password works on IMAP again.
    const offNoCode = await post(creds('hailop', { action: 'totp-disable' }));
    expect(offNoCode.status).toBe(401);
    expect(offNoCode.text).toBe(WRONG);
    clock.advance(STEP);
    const off = await post(creds('hailop', { action: 'totp-disable', totp: code(secret) }));
    expect(off.status).toBe(200);
    expect(off.html).toContain('Xác thực hai lớp: đang tắt');
    expect((await app.store.getAccountByAddress(user))?.totpSecret).toBeNull();
    expect((await imapSignsIn(app, 'hailop', PASSWORD)).ok).toBe(true);
    const actions = (await app.store.listAudit({ target: user })).filter((a) => a.actor === user).map((a) => a.action);
    expect(actions).toEqual(expect.arrayContaining(['account.2fa.enable.self', 'account.app-password.add.self', 'account.app-password.remove.self', 'account.2fa.disable.self']));

    // The password never came back; the secret and the app password each in one answer only.
    expect(pages.filter((p) => p.includes(PASSWORD))).toEqual([]);
    const grouped = (secret.match(/.{1,4}/g) ?? []).join(' ');
    expect(pages.filter((p) => p.includes(secret) || p.includes(grouped))).toEqual([begin.html]);
    expect(pages.filter((p) => p.includes(appPassword) || p.includes(appPassword.replace(/ /g, '')))).toEqual([added.html]);
  });

  it('an enrolment token expires after 10 minutes and is void once the password is changed', async () => {
    const begin = await post(creds('hethan', { action: 'totp-begin' }));
    const [token, secret] = [tokenOf(begin.html), shownSecret(begin.html)];
    clock.advance(10 * 60_000 + 1000);
    const late = await post({ action: 'totp-confirm', token, totp: code(secret) });
    expect(late.status).toBe(400);
    expect(late.text).toContain('10 phút');
    expect((await app.store.getAccountByAddress('hethan@example.gov.vn'))?.totpSecret).toBeNull();

    const begin2 = await post(creds('doimk', { action: 'totp-begin' }));
    const [token2, secret2] = [tokenOf(begin2.html), shownSecret(begin2.html)];
    const NEW = 'Doi-mat-khau#2027';
    const changed = await fetch(`${base}/portal`, { method: 'POST', body: new URLSearchParams({ username: 'doimk', password: PASSWORD, newPassword: NEW, repeat: NEW }) });
    expect(changed.status).toBe(200);
    const voided = await post({ action: 'totp-confirm', token: token2, totp: code(secret2) });
    expect(voided.status).toBe(400);
    expect((await app.store.getAccountByAddress('doimk@example.gov.vn'))?.totpSecret).toBeNull();
  });

  it('bad input of every kind gets a clear bilingual answer, never a 500', async () => {
    const cases: Array<[Record<string, string>, number, string]> = [
      [creds('hethan', { action: 'nope' }), 400, 'Choose an action'],
      [creds('hethan'), 400, 'Choose an action'],
      [{ action: 'show', username: 'hethan' }, 400, 'Fill in the address and the current password'],
      [creds('hethan', { action: 'app-password-add', label: '   ' }), 400, 'device name'],
      [creds('hethan', { action: 'app-password-add', label: 'x'.repeat(101) }), 400, 'longer than 100'],
      [creds('hethan', { action: 'app-password-remove', id: 'abc' }), 400, 'number of the app password'],
      [creds('hethan', { action: 'app-password-remove', id: '99999999999999' }), 400, 'number of the app password'],
      [creds('hethan', { action: 'app-password-remove', id: '4242' }), 404, 'There is no app password number 4242'],
      [creds('hethan', { action: 'totp-disable' }), 409, 'not on'],
      [creds('hethan', { action: 'show', filler: 'x'.repeat(2000) }), 400, 'A field is too long'],
      [{ action: 'totp-confirm', token: '', totp: '123456' }, 400, 'start again'],
      [{ action: 'totp-confirm', token: 'a.b.c', totp: '123456' }, 400, 'start again'],
      [{ action: 'totp-confirm', token: '1.%%%.2.3.4.5', totp: '123456' }, 400, 'start again'],
      [{ action: 'totp-confirm', token: 'x', totp: '' }, 400, 'Type the 6-digit code'],
      [creds('moitao', { action: 'show' }), 403, '/portal'],
      [creds('tamkhoa', { action: 'show' }), 403, 'suspended'],
    ];
    for (const [fields, status, text] of cases) {
      const r = await post(fields);
      expect([fields.action, r.status]).toEqual([fields.action, status]);
      expect(r.text).toContain(text);
      expect(r.text).toMatch(/ \/ /);
    }
    const json = await fetch(`${base}/portal/security`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(json.status).toBe(415);
    // Already on: begin refused (after the code).
    const a = await app.store.getAccountByAddress('hethan@example.gov.vn');
    await app.store.updateAccount(a?.id ?? 0, { totpSecret: 'JBSWY3DPEHPK3PXP' }, null);
    clock.advance(STEP);
    const on = await post(creds('hethan', { action: 'totp-begin', totp: code('JBSWY3DPEHPK3PXP') }));
    expect(on.status).toBe(409);
    expect(on.text).toContain('already on');
  });

  it('refuses a form posted from another site', async () => {
    const sites: Array<Record<string, string>> = [{ origin: 'https://evil.example' }, { 'sec-fetch-site': 'cross-site' }, { origin: 'null' }];
    for (const headers of sites) {
      const r = await post(creds('hethan', { action: 'show' }), headers);
      expect(r.status).toBe(403);
      expect(r.text).toContain('A form sent from another site is refused');
    }
    expect((await post({ action: 'totp-confirm', token: 'x', totp: '123456' }, { origin: 'https://evil.example' })).status).toBe(403);
  });
});

describe('portal security page without TLS off loopback', () => {
  let app: TestApp;
  let base: string;
  beforeAll(async () => {
    // A listed proxy on this host that got the request over plain HTTP: no password may pass.
    app = await startApp({ security: { trustedProxies: ['127.0.0.0/8'], authFailureDelayMs: 0, authFailureMaxDelayMs: 0 } });
    base = `http://127.0.0.1:${app.port('http')}`;
    await createTestAccount(app.store, 'quaproxy@example.gov.vn');
  });
  afterAll(async () => app?.stop());

  it('shows no form and refuses every action, the enrolment confirmation too', async () => {
    const plain = { 'x-forwarded-proto': 'http', 'x-forwarded-for': '198.51.100.7' };
    const page = await (await fetch(`${base}/portal/security`, { headers: plain })).text();
    expect(notice(page)).toContain('HTTPS');
    expect(page).not.toContain('<form');
    const forms: Array<Record<string, string>> = [{ username: 'quaproxy', password: PASSWORD, action: 'totp-begin' }, { action: 'totp-confirm', token: 'x', totp: '123456' }];
    for (const fields of forms) {
      const res = await fetch(`${base}/portal/security`, { method: 'POST', body: new URLSearchParams(fields), headers: plain });
      expect(res.status).toBe(403);
      expect(notice(await res.text())).toContain('open this page over HTTPS');
    }
    // Over the proxy's HTTPS the same request goes through.
    const ok = await fetch(`${base}/portal/security`, {
      method: 'POST',
      body: new URLSearchParams({ username: 'quaproxy', password: PASSWORD, action: 'show' }),
      headers: { 'x-forwarded-proto': 'https', 'x-forwarded-for': '198.51.100.7' },
    });
    expect(ok.status).toBe(200);
  });
});
