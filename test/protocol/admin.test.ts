/**
 * The administrators' page (/admin, R-ACC-7) on the real app: a unit administrator with
 * two-factor sign-in sees only its unit's accounts with their usage, resets a password (the
 * one-time password, shown once, then signs in over IMAP only to be told to change it), suspends
 * an account (IMAP then answers [CONTACTADMIN]); another unit's account is refused and left as
 * it was; a system administrator restores. Refused: ordinary users, administrators without
 * two-factor sign-in (sent to /portal/security), missing or wrong CSRF tokens, cross-site posts,
 * passwords and sessions over plain HTTP off loopback. The session cookie ends with sign-out,
 * after 15 idle minutes, and when the administrator is suspended, its password or two-factor
 * secret reset, or its role or unit changed; a failed sign-in keeps it. A unit administrator may
 * not reset or suspend a fellow administrator, the unit mailbox or itself, nor a system
 * administrator itself; a reset revokes the account's app passwords (counted per row). The CSV
 * report has a BOM, RFC 4180 quoting and neutralised formulas. Cookies are handled by hand; the
 * app runs on a hand-moved clock so every sign-in has a fresh code.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccountService, superActor, type AccountService } from '../../src/accounts/service.js';
import { currentTotp, newTotpSecret } from '../../src/auth/totp.js';
import { formatBytes } from '../../src/lib/bytes.js';
import { ManualClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/log.js';
import type { Account, Unit } from '../../src/store/port.js';
import { createTestAccount, PASSWORD } from '../helpers/accounts.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { storeParsed } from '../helpers/messages.js';
import { SocketReader } from '../helpers/socket-client.js';

const STEP = 30_000;
const D = '@example.gov.vn';

/** The page's notices (alert and status paragraphs), as text, joined. */
function notices(html: string): string {
  return [...html.matchAll(/<p class="(?:ok|error|warn)"[^>]*>([\s\S]*?)<\/p>/g)]
    .map((m) => (m[1] ?? '').replace(/<br><small>/g, ' / ').replace(/<[^>]+>/g, ''))
    .join(' | ');
}
const csrfOf = (html: string): string => /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
/** The one-time password shown, as typed (the page escapes it: generated passwords may hold "&"). */
const secretOf = (html: string): string =>
  (/<p class="secret"><code>([^<]+)<\/code>/.exec(html)?.[1] ?? '').replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)));
/** The addresses in the dashboard's table. */
const listed = (html: string): string[] => [...html.matchAll(/<tr><td>([^<]+)<\/td>/g)].map((m) => m[1] ?? '');

interface Answer {
  status: number;
  html: string;
  headers: Headers;
}

/** A browser's cookie jar for one site, by hand: the buudien_admin cookie only. */
class Browser {
  cookie: string | null = null;
  constructor(
    private readonly base: () => string,
    private readonly defaults: Record<string, string> = {},
  ) {}

  private keep(res: Response): void {
    const set = res.headers.get('set-cookie');
    if (!set) return;
    const m = /^buudien_admin=([^;]*)/.exec(set);
    if (!m) return;
    this.cookie = /Max-Age=0/i.test(set) || m[1] === '' ? null : (m[1] ?? null);
  }

  private headers(extra: Record<string, string>): Record<string, string> {
    return { ...this.defaults, ...(this.cookie ? { cookie: `buudien_admin=${this.cookie}` } : {}), ...extra };
  }

  async get(path: string, extra: Record<string, string> = {}): Promise<Answer> {
    const res = await fetch(this.base() + path, { headers: this.headers(extra), redirect: 'manual' });
    this.keep(res);
    return { status: res.status, html: await res.text(), headers: res.headers };
  }

  async post(path: string, fields: Record<string, string>, extra: Record<string, string> = {}): Promise<Answer> {
    const res = await fetch(this.base() + path, { method: 'POST', body: new URLSearchParams(fields), headers: this.headers(extra), redirect: 'manual' });
    this.keep(res);
    return { status: res.status, html: await res.text(), headers: res.headers };
  }
}

/** IMAP LOGIN over a raw connection; the tagged answer line. */
async function imapLogin(app: TestApp, user: string, pass: string): Promise<string> {
  const r = new SocketReader(await SocketReader.open(app.port('imap')));
  try {
    await r.waitFor((b) => b.includes('\r\n'));
    r.take();
    const q = (s: string) => `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
    r.write(`a1 LOGIN ${q(user)} ${q(pass)}\r\n`);
    const out = await r.waitFor((b) => /^a1 .*\r\n/m.test(b));
    return /^a1 .*$/m.exec(out)?.[0].trim() ?? '';
  } finally {
    r.close();
  }
}

describe('administrators\' page', () => {
  let app: TestApp;
  let base = '';
  const clock = new ManualClock(new Date('2026-11-23T02:00:00Z'));
  let svc: AccountService;
  let unitA: Unit;
  let unitB: Unit;
  let lanSize = 0;
  const secrets = { qtvA: newTotpSecret(), qtvB: '', sa: newTotpSecret(), qtvC: newTotpSecret() };
  const browser = (defaults: Record<string, string> = {}) => new Browser(() => base, defaults);
  /** Sign in with a fresh code (the clock moves one step, so no code is reused). */
  const signIn = async (b: Browser, user: string, secret: string | null, extra: Record<string, string> = {}) => {
    clock.advance(STEP);
    return b.post('/admin/login', { username: user, password: PASSWORD, totp: secret ? currentTotp(secret, clock.now()) : '' }, extra);
  };
  const account = async (local: string): Promise<Account> => {
    const a = await app.store.getAccountByAddress(local + D);
    if (!a) throw new Error(`no ${local}`);
    return a;
  };

  beforeAll(async () => {
    app = await startApp({ security: { authFailureDelayMs: 0, authFailureMaxDelayMs: 0 } }, { clock });
    base = `http://127.0.0.1:${app.port('http')}`;
    svc = createAccountService({ store: app.store, config: app.config, clock, log: silentLogger() });
    unitA = await svc.addUnit({ name: 'Xã An Hòa', code: 'xaa' }, superActor('test'));
    unitB = await svc.addUnit({ name: 'Xã Bình Minh', code: 'xab' }, superActor('test'));
    const withTotp = async (a: Account, secret: string) => app.store.updateAccount(a.id, { totpSecret: secret }, null);
    await withTotp(await createTestAccount(app.store, `qtv.xaa${D}`, { kind: 'admin', role: 'unit', unitId: unitA.id, fullName: 'Quản trị Xã An Hòa' }), secrets.qtvA);
    await createTestAccount(app.store, `qtv.xab${D}`, { kind: 'admin', role: 'unit', unitId: unitB.id });
    await withTotp(await createTestAccount(app.store, `qtv2.xaa${D}`, { kind: 'admin', role: 'unit', unitId: unitA.id }), secrets.qtvC);
    await withTotp(await createTestAccount(app.store, `sa${D}`, { kind: 'admin', role: 'super' }), secrets.sa);
    const lan = await createTestAccount(app.store, `lan.xaa${D}`, { unitId: unitA.id, fullName: 'Nguyễn Thị Lan', quotaBytes: 2 * 1024 ** 3 });
    await createTestAccount(app.store, `minh.xaa${D}`, { unitId: unitA.id, fullName: '=HYPERLINK("http://evil.example","Minh, Trần")' });
    await createTestAccount(app.store, `hoa.xab${D}`, { unitId: unitB.id, fullName: 'Lê Thị Hoa' });
    const raw = `From: a@example.com\r\nTo: lan.xaa${D}\r\nSubject: x\r\n\r\n${'Nội dung thư. '.repeat(20_000)}\r\n`;
    await storeParsed(app.store, lan.id, raw);
    lanSize = await app.store.usage(lan.id);
    expect(lanSize).toBeGreaterThan(200_000);
  });
  afterAll(async () => app?.stop());

  it('GET /admin is a bilingual sign-in form under the portal\'s headers; other methods and paths are refused', async () => {
    const res = await browser().get('/admin');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.html).toContain('<form method="post" action="/admin/login"');
    for (const name of ['username', 'password', 'totp']) expect(res.html).toContain(`name="${name}"`);
    expect(res.html).toContain('href="/portal/security"');
    expect(res.html.indexOf('Đăng nhập')).toBeLessThan(res.html.indexOf('Sign in'));
    expect(res.html).not.toContain('<script');
    expect((await fetch(`${base}/admin`, { method: 'DELETE' })).status).toBe(405);
    expect((await fetch(`${base}/admin/login`)).status).toBe(405);
    expect((await fetch(`${base}/admin/nothing`)).status).toBe(404);
    expect((await fetch(`${base}/admin/usage.csv`)).status).toBe(401);
  });

  it('an ordinary user cannot sign in; nor a wrong password or code; an administrator without two-factor is sent to /portal/security', async () => {
    const b = browser();
    const user = await signIn(b, 'lan.xaa', null);
    expect(user.status).toBe(403);
    expect(notices(user.html)).toContain('not an administrator');
    expect(notices(user.html)).toContain('không có quyền quản trị');
    expect(b.cookie).toBeNull();

    const wrongPassword = await b.post('/admin/login', { username: 'qtv.xaa', password: 'Sai-mat-khau#1', totp: currentTotp(secrets.qtvA, clock.now()) });
    expect(wrongPassword.status).toBe(401);
    const noCode = await b.post('/admin/login', { username: 'qtv.xaa', password: PASSWORD, totp: '' });
    expect(noCode.status).toBe(401);
    const wrongCode = await b.post('/admin/login', { username: 'qtv.xaa', password: PASSWORD, totp: currentTotp(secrets.qtvA, clock.now()) === '000000' ? '111111' : '000000' });
    expect(wrongCode.status).toBe(401);
    expect(b.cookie).toBeNull();

    const no2fa = await signIn(b, `qtv.xab${D}`, null);
    expect(no2fa.status).toBe(403);
    expect(no2fa.html).toContain('href="/portal/security"');
    expect(notices(no2fa.html)).toContain('two-factor');
    expect(b.cookie).toBeNull();
    // Nothing to fill in: only the way to turn two-factor sign-in on.
    expect(no2fa.html).not.toContain('name="password"');

    expect((await b.post('/admin/login', { username: '', password: '' })).status).toBe(400);
    expect((await b.post('/admin/login', { username: 'x'.repeat(2000), password: PASSWORD })).status).toBe(400);
  });

  it('a unit administrator signs in (the cookie\'s attributes) and sees only its unit\'s accounts with usage and totals', async () => {
    const b = browser();
    const res = await signIn(b, 'qtv.xaa', secrets.qtvA);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/admin');
    const set = res.headers.get('set-cookie') ?? '';
    expect(set).toMatch(/^buudien_admin=[A-Za-z0-9_-]{43}; /);
    expect(set).toContain('HttpOnly');
    expect(set).toContain('SameSite=Strict');
    expect(set).toContain('Path=/admin');
    // Plain HTTP on loopback: not Secure (a browser would drop it otherwise).
    expect(set).not.toContain('Secure');

    const page = await b.get('/admin');
    expect(page.status).toBe(200);
    expect(listed(page.html).sort()).toEqual([`lan.xaa${D}`, `minh.xaa${D}`, `qtv.xaa${D}`, `qtv2.xaa${D}`]);
    expect(page.html).not.toContain(`hoa.xab${D}`);
    expect(page.html).not.toContain(`sa${D}`);
    expect(page.html).toContain('Nguyễn Thị Lan');
    // Escaped, never markup.
    expect(page.html).toContain('=HYPERLINK(&#34;http://evil.example&#34;,&#34;Minh, Trần&#34;)');
    const lanRow = /<tr><td>lan\.xaa@[^\n]*<\/tr>/.exec(page.html)?.[0] ?? '';
    expect(lanRow).toContain(formatBytes(lanSize));
    expect(lanRow).toContain('2.0 GB');
    expect(lanRow).toContain(`${Math.round((lanSize / 2 ** 31) * 1000) / 10}%`);
    expect(lanRow).toContain('tắt');
    const qtvRow = /<tr><td>qtv\.xaa@[^\n]*<\/tr>/.exec(page.html)?.[0] ?? '';
    expect(qtvRow).toContain('bật');
    expect(qtvRow).toContain('(UTC+7)');
    expect(qtvRow).not.toContain('action="/admin/suspend"');
    expect(page.html).toContain('Tổng: 4 tài khoản');
    expect(page.html).toContain('Total: 4 accounts');
    expect(csrfOf(page.html)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(page.html).not.toContain('action="/admin/restore"');

    // Another unit's list is not for it.
    const other = await b.get('/admin?unit=xab');
    expect(other.status).toBe(403);
    expect(other.html).not.toContain(`hoa.xab${D}`);
    expect((await b.get('/admin?unit=%3Cscript%3E')).status).toBe(400);
  });

  it('resets a password in its unit: the one-time password is shown once, IMAP then says to change it; audited with the administrator', async () => {
    const b = browser();
    expect((await signIn(b, 'qtv.xaa', secrets.qtvA)).status).toBe(303);
    const csrf = csrfOf((await b.get('/admin')).html);
    const before = await account('lan.xaa');
    const r = await b.post('/admin/reset-password', { csrf, address: `lan.xaa${D}` });
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe('/admin');
    const shown = await b.get('/admin');
    expect(notices(shown.html)).toContain(`The password of lan.xaa${D} has been reset`);
    const otp = secretOf(shown.html);
    expect(otp.length).toBeGreaterThanOrEqual(10);
    // Once only: a refresh shows neither the password nor repeats the reset.
    const again = await b.get('/admin');
    expect(secretOf(again.html)).toBe('');
    expect(again.html).not.toContain(otp);
    const after = await account('lan.xaa');
    expect(after.mustChangePassword).toBe(true);
    expect(after.passwordHash).not.toBe(before.passwordHash);
    const audit = await app.store.listAudit({ target: `lan.xaa${D}` });
    expect(audit.filter((a) => a.action === 'account.passwd' && a.actor === `qtv.xaa${D}`)).toHaveLength(1);

    expect(await imapLogin(app, `lan.xaa${D}`, PASSWORD)).toMatch(/^a1 NO \[AUTHENTICATIONFAILED\]/);
    const line = await imapLogin(app, `lan.xaa${D}`, otp);
    expect(line).toMatch(/^a1 NO \[EXPIRED\]/);
    expect(line).toContain('change');
  });

  it('suspends an account of its unit (reason required): IMAP answers [CONTACTADMIN]; restoring is the system administrator\'s', async () => {
    const b = browser();
    expect((await signIn(b, 'qtv.xaa', secrets.qtvA)).status).toBe(303);
    const csrf = csrfOf((await b.get('/admin')).html);
    const noReason = await b.post('/admin/suspend', { csrf, address: `minh.xaa${D}`, reason: '  ' });
    expect(noReason.status).toBe(400);
    expect(notices(noReason.html)).toContain('reason');
    expect((await b.post('/admin/suspend', { csrf, address: `minh.xaa${D}`, reason: 'x'.repeat(501) })).status).toBe(400);
    expect((await account('minh.xaa')).state).toBe('active');

    const done = await b.post('/admin/suspend', { csrf, address: `minh.xaa${D}`, reason: 'Nghỉ việc <b>' });
    expect(done.status).toBe(303);
    const page = await b.get('/admin');
    expect(notices(page.html)).toContain(`minh.xaa${D} is suspended`);
    expect(page.html).toContain('Nghỉ việc &#60;b&#62;');
    const minh = await account('minh.xaa');
    expect(minh.state).toBe('suspended');
    expect(minh.stateReason).toBe('Nghỉ việc <b>');
    expect((await app.store.listAudit({ target: `minh.xaa${D}` })).some((a) => a.action === 'account.suspend' && a.actor === `qtv.xaa${D}`)).toBe(true);
    expect(await imapLogin(app, `minh.xaa${D}`, PASSWORD)).toMatch(/^a1 NO \[CONTACTADMIN\]/);
    // Suspending twice is a clear refusal, not an error.
    const twice = await b.post('/admin/suspend', { csrf, address: `minh.xaa${D}`, reason: 'again' });
    expect(twice.status).toBe(400);
    expect(notices(twice.html)).toContain('already suspended');

    // The account service lets only a system administrator restore.
    const unitRestore = await b.post('/admin/restore', { csrf, address: `minh.xaa${D}` });
    expect(unitRestore.status).toBe(403);
    expect(notices(unitRestore.html)).toContain('only a system administrator');
    expect((await account('minh.xaa')).state).toBe('suspended');

    const s = browser();
    expect((await signIn(s, 'sa', secrets.sa)).status).toBe(303);
    const superPage = await s.get('/admin');
    expect(superPage.html).toContain('action="/admin/restore"');
    expect(listed(superPage.html)).toContain(`hoa.xab${D}`);
    const restored = await s.post('/admin/restore', { csrf: csrfOf(superPage.html), address: `minh.xaa${D}` });
    expect(restored.status).toBe(303);
    expect(notices((await s.get('/admin')).html)).toContain(`minh.xaa${D} is restored`);
    expect((await account('minh.xaa')).state).toBe('active');
    expect(await imapLogin(app, `minh.xaa${D}`, PASSWORD)).toMatch(/^a1 OK/);
    // The filter narrows a system administrator's list; an unknown unit is a 404.
    expect(listed((await s.get('/admin?unit=xab')).html).sort()).toEqual([`hoa.xab${D}`, `qtv.xab${D}`]);
    expect((await s.get('/admin?unit=khongco')).status).toBe(404);
  });

  it('another unit\'s account is refused with a bilingual message and left as it was', async () => {
    const b = browser();
    expect((await signIn(b, 'qtv.xaa', secrets.qtvA)).status).toBe(303);
    const csrf = csrfOf((await b.get('/admin')).html);
    const hoa = await account('hoa.xab');
    const auditBefore = (await app.store.listAudit({ target: `hoa.xab${D}` })).length;
    for (const [path, extra] of [
      ['/admin/reset-password', {}],
      ['/admin/suspend', { reason: 'thử' }],
      ['/admin/restore', {}],
    ] as const) {
      const r = await b.post(path, { csrf, address: `hoa.xab${D}`, ...extra });
      expect(r.status).toBe(403);
      expect(notices(r.html)).toMatch(/Không có quyền|Chỉ quản trị hệ thống/);
      expect(notices(r.html)).toMatch(/no permission|only a system administrator/);
      expect(secretOf(r.html)).toBe('');
    }
    // Nor a system administrator of its own unit.
    expect((await b.post('/admin/suspend', { csrf, address: `sa${D}`, reason: 'thử' })).status).toBe(403);
    const after = await account('hoa.xab');
    expect(after.passwordHash).toBe(hoa.passwordHash);
    expect(after.state).toBe('active');
    expect(after.mustChangePassword).toBe(false);
    expect((await app.store.listAudit({ target: `hoa.xab${D}` })).length).toBe(auditBefore);
    expect((await account('sa')).state).toBe('active');

    // Bad input of every kind: a clear 4xx.
    expect((await b.post('/admin/reset-password', { csrf, address: `khongco${D}` })).status).toBe(404);
    expect((await b.post('/admin/reset-password', { csrf, address: 'a b"<c>' })).status).toBe(400);
    expect((await b.post('/admin/reset-password', { csrf, address: '' })).status).toBe(400);
    expect((await b.post('/admin/reset-password', { csrf, address: `${'a'.repeat(400)}${D}` })).status).toBe(400);
    expect((await b.post('/admin/reset-password', { csrf, address: 'x'.repeat(5000) })).status).toBe(400);
    const wrongType = await fetch(`${base}/admin/reset-password`, { method: 'POST', body: JSON.stringify({ csrf }), headers: { 'content-type': 'application/json', cookie: `buudien_admin=${b.cookie ?? ''}` } });
    expect(wrongType.status).toBe(415);
    const huge = await fetch(`${base}/admin/reset-password`, { method: 'POST', body: `csrf=${csrf}&address=${'a'.repeat(70_000)}`, headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `buudien_admin=${b.cookie ?? ''}` } });
    expect(huge.status).toBe(413);
  });

  it('refuses a POST with a missing or wrong CSRF token, and one from another site', async () => {
    const b = browser();
    expect((await signIn(b, 'qtv.xaa', secrets.qtvA)).status).toBe(303);
    const csrf = csrfOf((await b.get('/admin')).html);
    const target = { address: `minh.xaa${D}`, reason: 'csrf' };
    for (const token of [undefined, '', 'x', csrf.slice(0, -1) + (csrf.endsWith('A') ? 'B' : 'A'), 'x'.repeat(1000)]) {
      const r = await b.post('/admin/suspend', token === undefined ? target : { ...target, csrf: token });
      expect(r.status).toBe(403);
      expect(notices(r.html)).toContain('reload the administration page');
    }
    // Another session's token is not this one's.
    const other = browser();
    expect((await signIn(other, 'qtv2.xaa', secrets.qtvC)).status).toBe(303);
    const otherCsrf = csrfOf((await other.get('/admin')).html);
    expect((await b.post('/admin/suspend', { ...target, csrf: otherCsrf })).status).toBe(403);
    // Right token, but the form came from another site.
    for (const headers of [{ 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site' }, { origin: 'https://evil.example' }] as Array<Record<string, string>>) {
      const r = await b.post('/admin/suspend', { ...target, csrf }, headers);
      expect(r.status).toBe(403);
      expect(notices(r.html)).toContain('another site');
    }
    expect((await b.post('/admin/login', { username: 'qtv.xaa', password: PASSWORD }, { origin: 'https://evil.example' })).status).toBe(403);
    // Without a session, a POST is a sign-in request.
    const anon = await browser().post('/admin/suspend', { ...target, csrf });
    expect(anon.status).toBe(401);
    expect(anon.html).toContain('action="/admin/login"');
    expect((await account('minh.xaa')).state).toBe('active');
    // Logout also takes the token.
    expect((await b.post('/admin/logout', {})).status).toBe(403);
    expect((await b.get('/admin')).html).toContain('action="/admin/logout"');
  });

  it('the usage CSV: BOM, RFC 4180 quoting, neutralised formulas, totals; a unit administrator\'s holds its unit only', async () => {
    const b = browser();
    expect((await signIn(b, 'qtv.xaa', secrets.qtvA)).status).toBe(303);
    const res = await fetch(`${base}/admin/usage.csv`, { headers: { cookie: `buudien_admin=${b.cookie ?? ''}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="buudien-usage-all-\d{4}-\d{2}-\d{2}\.csv"$/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const bytes = Buffer.from(await res.arrayBuffer());
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = bytes.toString('utf8').slice(1);
    expect(text.endsWith('\r\n')).toBe(true);
    const lines = text.split('\r\n').filter(Boolean);
    expect(lines[0]).toContain('Địa chỉ / Address,Họ tên / Full name');
    expect(lines.filter((l) => l.includes(D)).map((l) => l.split(',')[0]).sort()).toEqual([`lan.xaa${D}`, `minh.xaa${D}`, `qtv.xaa${D}`, `qtv2.xaa${D}`]);
    expect(text).not.toContain('hoa.xab');
    expect(text).toContain(`minh.xaa${D},"'=HYPERLINK(""http://evil.example"",""Minh, Trần"")",xaa,`);
    const lan = lines.find((l) => l.startsWith(`lan.xaa${D},`)) ?? '';
    // Usage now, not at the start: the earlier reset mailed lan a security notice (R-AUTH-5).
    const lanNow = await app.store.usage((await app.store.getAccountByAddress(`lan.xaa${D}`))?.id ?? -1);
    expect(lanNow).toBeGreaterThanOrEqual(lanSize);
    expect(lan).toContain(`,${lanNow},${2 * 1024 ** 3},${Math.round((lanNow / 2 ** 31) * 1000) / 10},`);
    expect(lines[lines.length - 1]).toMatch(/^Tổng \/ Total,4,/);
    // Another unit's report is refused; a bad filter is a 400; without a session, 401.
    expect((await fetch(`${base}/admin/usage.csv?unit=xab`, { headers: { cookie: `buudien_admin=${b.cookie ?? ''}` } })).status).toBe(403);
    expect((await fetch(`${base}/admin/usage.csv?unit=${'x'.repeat(100)}`, { headers: { cookie: `buudien_admin=${b.cookie ?? ''}` } })).status).toBe(400);
    expect((await fetch(`${base}/admin/usage.csv`, { headers: { cookie: 'buudien_admin=nope' } })).status).toBe(401);
  });

  it('sign-out ends the session: the cookie no longer works', async () => {
    const b = browser();
    expect((await signIn(b, 'qtv.xaa', secrets.qtvA)).status).toBe(303);
    const old = b.cookie ?? '';
    const csrf = csrfOf((await b.get('/admin')).html);
    const out = await b.post('/admin/logout', { csrf });
    expect(out.status).toBe(200);
    expect(out.headers.get('set-cookie')).toMatch(/^buudien_admin=; .*Max-Age=0/);
    expect(notices(out.html)).toContain('Signed out');
    const replay = new Browser(() => base);
    replay.cookie = old;
    const page = await replay.get('/admin');
    expect(page.html).toContain('action="/admin/login"');
    expect(page.html).not.toContain('id="accounts"');
    expect(notices(page.html)).toContain('session has ended');
    expect((await replay.post('/admin/reset-password', { csrf, address: `minh.xaa${D}` })).status).toBe(401);
    expect((await account('minh.xaa')).mustChangePassword).toBe(false);
  });

  it('a session idle for 15 minutes ends; one in use goes on', async () => {
    const b = browser();
    expect((await signIn(b, 'qtv.xaa', secrets.qtvA)).status).toBe(303);
    clock.advance(14 * 60_000);
    expect((await b.get('/admin')).html).toContain('id="accounts"');
    clock.advance(14 * 60_000);
    expect((await b.get('/admin')).html).toContain('id="accounts"');
    clock.advance(15 * 60_000);
    const page = await b.get('/admin');
    expect(page.html).not.toContain('id="accounts"');
    expect(notices(page.html)).toContain('session has ended');
  });

  it('a session ends when its administrator is suspended, or has its password reset', async () => {
    const u = browser();
    const s = browser();
    expect((await signIn(u, 'qtv2.xaa', secrets.qtvC)).status).toBe(303);
    expect((await signIn(s, 'sa', secrets.sa)).status).toBe(303);
    const csrf = csrfOf((await s.get('/admin')).html);
    expect((await u.get('/admin')).html).toContain('id="accounts"');
    expect((await s.post('/admin/suspend', { csrf, address: `qtv2.xaa${D}`, reason: 'chuyển công tác' })).status).toBe(303);
    const ended = await u.get('/admin');
    expect(ended.html).not.toContain('id="accounts"');
    expect(notices(ended.html)).toContain('session has ended');
    // Restored, its old session stays ended; a new sign-in works.
    expect((await s.post('/admin/restore', { csrf, address: `qtv2.xaa${D}` })).status).toBe(303);
    expect((await u.get('/admin')).html).not.toContain('id="accounts"');
    expect((await signIn(u, 'qtv2.xaa', secrets.qtvC)).status).toBe(303);
    expect((await u.get('/admin')).html).toContain('id="accounts"');
    // A password reset by the system administrator ends it too (and the admin must change it first).
    expect((await s.post('/admin/reset-password', { csrf, address: `qtv2.xaa${D}` })).status).toBe(303);
    expect((await u.get('/admin')).html).not.toContain('id="accounts"');
    const again = await u.post('/admin/login', { username: 'qtv2.xaa', password: secretOf((await s.get('/admin')).html), totp: currentTotp(secrets.qtvC, (clock.advance(STEP), clock.now())) });
    expect(again.status).toBe(403);
    expect(again.html).toContain('href="/portal"');
    expect(u.cookie).toBeNull();
  });

  it('a unit administrator may not reset or suspend a fellow administrator, the unit mailbox or itself (a bilingual 403, nothing changed); a system administrator may', async () => {
    await createTestAccount(app.store, `xaa${D}`, { kind: 'unit', unitId: unitA.id, fullName: 'Xã An Hòa' });
    const b = browser();
    expect((await signIn(b, 'qtv.xaa', secrets.qtvA)).status).toBe(303);
    const page = await b.get('/admin');
    const csrf = csrfOf(page.html);
    // The buttons are not offered for them…
    for (const local of ['qtv2.xaa', 'xaa']) {
      const row = new RegExp(`<tr><td>${local.replace('.', '\\.')}@[^\\n]*</tr>`).exec(page.html)?.[0] ?? '';
      expect(row).not.toBe('');
      expect(row).not.toContain('action="/admin/reset-password"');
      expect(row).not.toContain('action="/admin/suspend"');
      expect(row).toContain('managed by the system administrator');
    }
    // …and refused when posted anyway.
    const cases: Array<[string, RegExp]> = [
      [`qtv2.xaa${D}`, /là tài khoản quản trị.* \/ .*is an administrator account; only a system administrator may change it/],
      [`xaa${D}`, /là hộp thư đơn vị.* \/ .*is a unit mailbox: its access passes by delegation/],
      [`qtv.xaa${D}`, /^Không thể tự đặt lại mật khẩu hay tự tạm khóa .* \/ You may not reset the password of, or suspend, your own account on this page/],
    ];
    for (const [address, message] of cases) {
      const before = await app.store.getAccountByAddress(address);
      for (const [path, extra] of [
        ['/admin/reset-password', {}],
        ['/admin/suspend', { reason: 'thử' }],
      ] as const) {
        const r = await b.post(path, { csrf, address, ...extra });
        expect(r.status, `${path} ${address}`).toBe(403);
        expect(notices(r.html)).toMatch(message);
        expect(secretOf(r.html)).toBe('');
      }
      expect(await app.store.getAccountByAddress(address)).toEqual(before);
      expect((await app.store.listAudit({ target: address })).filter((e) => e.actor === `qtv.xaa${D}`)).toEqual([]);
    }
    // The service refuses the unit administrator itself too, whatever the page does.
    const unitActor = { name: `qtv.xaa${D}`, role: 'unit' as const, unitId: unitA.id };
    await expect(svc.suspend(`qtv.xaa${D}`, 'thử', unitActor)).rejects.toThrow(/may not change its own account/);

    // A system administrator resets and suspends them.
    const s = browser();
    expect((await signIn(s, 'sa', secrets.sa)).status).toBe(303);
    const sCsrf = csrfOf((await s.get('/admin')).html);
    expect((await s.post('/admin/suspend', { csrf: sCsrf, address: `xaa${D}`, reason: 'thử' })).status).toBe(303);
    expect((await account('xaa')).state).toBe('suspended');
    expect((await s.post('/admin/restore', { csrf: sCsrf, address: `xaa${D}` })).status).toBe(303);
    expect((await s.post('/admin/reset-password', { csrf: sCsrf, address: `qtv2.xaa${D}` })).status).toBe(303);
    expect(secretOf((await s.get('/admin')).html)).not.toBe('');
  });

  it('a system administrator may not reset or suspend itself on the page (it would lock itself out)', async () => {
    const s = browser();
    expect((await signIn(s, 'sa', secrets.sa)).status).toBe(303);
    const page = await s.get('/admin');
    const csrf = csrfOf(page.html);
    const before = await account('sa');
    for (const [path, extra] of [
      ['/admin/reset-password', {}],
      ['/admin/suspend', { reason: 'thử' }],
    ] as const) {
      // As a full address and as the bare local part (the service resolves both).
      for (const address of [`sa${D}`, 'SA']) {
        const r = await s.post(path, { csrf, address, ...extra });
        expect(r.status, `${path} ${address}`).toBe(403);
        expect(notices(r.html)).toContain('Không thể tự đặt lại mật khẩu hay tự tạm khóa tài khoản của mình');
        expect(notices(r.html)).toContain('You may not reset the password of, or suspend, your own account on this page');
        expect(secretOf(r.html)).toBe('');
      }
    }
    expect(await account('sa')).toEqual(before);
    expect((await app.store.listAudit({ target: `sa${D}` })).filter((e) => e.action === 'account.passwd' || e.action === 'account.suspend')).toEqual([]);
    // Still signed in.
    expect((await s.get('/admin')).html).toContain('id="accounts"');
  });

  it('a reset revokes the account\'s app passwords: one that signed in over IMAP before fails after; the table counts them, the result and the audit say how many', async () => {
    const tung = await createTestAccount(app.store, `tung.xaa${D}`, { unitId: unitA.id, fullName: 'Phạm Văn Tùng' });
    const device = await svc.addAppPassword(`tung.xaa${D}`, 'Outlook', superActor('test'));
    await svc.addAppPassword(`tung.xaa${D}`, 'Điện thoại', superActor('test'));
    expect(await imapLogin(app, `tung.xaa${D}`, device.secret)).toMatch(/^a1 OK/);

    const b = browser();
    expect((await signIn(b, 'qtv.xaa', secrets.qtvA)).status).toBe(303);
    const page = await b.get('/admin');
    expect(page.html).toContain('Mật khẩu ứng dụng');
    expect(page.html).toContain('App passwords');
    const row = (html: string) => /<tr><td>tung\.xaa@[^\n]*<\/tr>/.exec(html)?.[0] ?? '';
    expect(row(page.html)).toContain('<td class="app-passwords">2</td>');
    expect(/<tr><td>lan\.xaa@[^\n]*<\/tr>/.exec(page.html)?.[0]).toContain('<td class="app-passwords">0</td>');

    expect((await b.post('/admin/reset-password', { csrf: csrfOf(page.html), address: `tung.xaa${D}` })).status).toBe(303);
    const shown = await b.get('/admin');
    expect(notices(shown.html)).toContain(`Đã đặt lại mật khẩu của tung.xaa${D}; đã thu hồi 2 mật khẩu ứng dụng`);
    expect(notices(shown.html)).toContain(`The password of tung.xaa${D} has been reset; 2 app password(s) revoked`);
    expect(row(shown.html)).toContain('<td class="app-passwords">0</td>');
    expect(await app.store.listAppPasswords(tung.id)).toEqual([]);
    const audit = (await app.store.listAudit({ target: `tung.xaa${D}` })).filter((e) => e.action === 'account.passwd');
    expect(audit.map((e) => [e.actor, e.details])).toEqual([[`qtv.xaa${D}`, { appPasswordsRevoked: 2 }]]);

    // The device's password no longer signs in (refused as wrong, not merely "change your password")…
    expect(await imapLogin(app, `tung.xaa${D}`, device.secret)).toMatch(/^a1 NO \[AUTHENTICATIONFAILED\]/);
    // …nor once the user has set a new password (the reset's must-change no longer holds it back).
    await app.store.updateAccount(tung.id, { mustChangePassword: false }, null);
    expect(await imapLogin(app, `tung.xaa${D}`, device.secret)).toMatch(/^a1 NO \[AUTHENTICATIONFAILED\]/);
  });

  it('a session ends when the administrator\'s two-factor secret is reset, its role or its unit changes', async () => {
    const qtv3 = await createTestAccount(app.store, `qtv3.xaa${D}`, { kind: 'admin', role: 'unit', unitId: unitA.id });
    let secret = newTotpSecret();
    await app.store.updateAccount(qtv3.id, { totpSecret: secret }, null);
    const b = browser();
    const signedIn = async () => (await b.get('/admin')).html.includes('id="accounts"');

    // A lost phone: the system administrator gives a new secret; the old session ends.
    expect((await signIn(b, 'qtv3.xaa', secret)).status).toBe(303);
    expect(await signedIn()).toBe(true);
    secret = (await svc.enableTwoFactor(`qtv3.xaa${D}`, superActor('test'), { reset: true })).secret;
    const ended = await b.get('/admin');
    expect(ended.html).not.toContain('id="accounts"');
    expect(notices(ended.html)).toContain('session has ended');

    // Promoted to system administrator: the session signed in as a unit administrator ends.
    expect((await signIn(b, 'qtv3.xaa', secret)).status).toBe(303);
    expect(await signedIn()).toBe(true);
    await app.store.updateAccount(qtv3.id, { role: 'super' }, null);
    expect(await signedIn()).toBe(false);

    // Moved to another unit: ends too.
    await app.store.updateAccount(qtv3.id, { role: 'unit' }, null);
    expect((await signIn(b, 'qtv3.xaa', secret)).status).toBe(303);
    expect(await signedIn()).toBe(true);
    await app.store.updateAccount(qtv3.id, { unitId: unitB.id }, null);
    expect(await signedIn()).toBe(false);
    expect((await signIn(b, 'qtv3.xaa', secret)).status).toBe(303);
    expect(listed((await b.get('/admin')).html)).toContain(`hoa.xab${D}`);
  });

  it('a failed sign-in keeps the browser\'s session; a successful one replaces it', async () => {
    const b = browser();
    expect((await signIn(b, 'qtv.xaa', secrets.qtvA)).status).toBe(303);
    const first = b.cookie;
    expect(first).not.toBeNull();
    const wrong = await b.post('/admin/login', { username: 'qtv.xaa', password: 'Sai-mat-khau#1', totp: currentTotp(secrets.qtvA, clock.now()) });
    expect(wrong.status).toBe(401);
    expect(b.cookie).toBe(first);
    expect((await b.get('/admin')).html).toContain('id="accounts"');
    // Someone else's right password without the code, an ordinary user: the session stays too.
    expect((await b.post('/admin/login', { username: 'sa', password: PASSWORD, totp: '' })).status).toBe(401);
    expect((await b.get('/admin')).html).toContain('id="accounts"');

    expect((await signIn(b, 'qtv.xaa', secrets.qtvA)).status).toBe(303);
    expect(b.cookie).not.toBeNull();
    expect(b.cookie).not.toBe(first);
    const replay = browser();
    replay.cookie = first;
    expect((await replay.get('/admin')).html).not.toContain('id="accounts"');
    expect((await b.get('/admin')).html).toContain('id="accounts"');
  });
});

describe('administrators\' page behind a reverse proxy', () => {
  let app: TestApp;
  let base = '';
  const clock = new ManualClock(new Date('2026-11-23T02:00:00Z'));
  beforeAll(async () => {
    // A listed proxy on this host; two-factor not required here (the key set off).
    app = await startApp({ security: { trustedProxies: ['127.0.0.0/8'], authFailureDelayMs: 0, authFailureMaxDelayMs: 0, adminRequiresTwoFactor: false } }, { clock });
    base = `http://127.0.0.1:${app.port('http')}`;
    await createTestAccount(app.store, `sa${D}`, { kind: 'admin', role: 'super' });
  });
  afterAll(async () => app?.stop());

  it('over the proxy\'s plain HTTP: no form, a password refused; over its HTTPS a Secure cookie', async () => {
    const plain = { 'x-forwarded-proto': 'http', 'x-forwarded-for': '198.51.100.7' };
    const page = await new Browser(() => base, plain).get('/admin');
    expect(page.status).toBe(200);
    expect(notices(page.html)).toContain('HTTPS');
    expect(page.html).not.toContain('<form');
    const b = new Browser(() => base, plain);
    const refused = await b.post('/admin/login', { username: 'sa', password: PASSWORD });
    expect(refused.status).toBe(403);
    expect(notices(refused.html)).toContain('open this page over HTTPS');
    expect(b.cookie).toBeNull();
    // No client address from the proxy: refused too.
    expect((await new Browser(() => base, { 'x-forwarded-proto': 'https' }).post('/admin/login', { username: 'sa', password: PASSWORD })).status).toBe(400);

    const https = { 'x-forwarded-proto': 'https', 'x-forwarded-for': '198.51.100.7' };
    const s = new Browser(() => base, https);
    const ok = await s.post('/admin/login', { username: 'sa', password: PASSWORD });
    expect(ok.status).toBe(303);
    expect(ok.headers.get('set-cookie')).toContain('; Secure');
    const dash = await s.get('/admin');
    expect(dash.html).toContain('id="accounts"');
    // The same cookie over the proxy's plain HTTP is not taken.
    const leaked = new Browser(() => base, plain);
    leaked.cookie = s.cookie;
    expect((await leaked.get('/admin')).html).not.toContain('id="accounts"');
    expect((await leaked.get('/admin/usage.csv')).status).toBe(403);
    expect((await leaked.post('/admin/logout', { csrf: csrfOf(dash.html) })).status).toBe(403);
  });
});
