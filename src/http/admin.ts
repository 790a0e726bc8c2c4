/**
 * The administrators' page on the HTTP listener (`/admin`, R-ACC-7): a unit administrator sees
 * its unit's accounts with their usage (R-STORE-3), resets a password (a one-time password shown
 * once; the account must change it at its next sign-in), suspends an account; a system
 * administrator sees every unit (`?unit=CODE` narrows) and also restores suspended accounts.
 *
 * - Sign-in (POST /admin/login) is the auth service's webSignIn (the portal's checks, throttling,
 *   one-use code and refusals); only role 'super' or 'unit' gets in, and with
 *   `security.adminRequiresTwoFactor` (default) only with two-factor sign-in on.
 * - Then a server-side session (admin-session.ts) in the `buudien_admin` cookie (HttpOnly,
 *   SameSite=Strict, Path=/admin, Secure over TLS or a trusted proxy's https); every request
 *   reads the account again and ends the session when it was suspended or deleted, or when its
 *   password hash, TOTP secret, role or unit differ from sign-in (a password changed or reset,
 *   two-factor turned off or reset, a role or unit changed: accountFingerprint). A failed sign-in
 *   leaves the browser's session as it was; a successful one replaces it. POST /admin/logout ends it.
 * - Every POST passes the portal's checks (readPortalForm: cross-site refused by Sec-Fetch-Site
 *   and Origin, proxy without X-Forwarded-For, passwords and sessions only over TLS/trusted
 *   proxy https/loopback per allowPlaintextAuth, form type, sizes) and, once signed in, the
 *   session's CSRF token.
 * - Rights and audit are the account service's: every action runs as Actor {admin address, role,
 *   unit}; a refusal is shown as its bilingual message with a 4xx. An administrator may not
 *   reset or suspend its own account here (it would lock itself out; /portal or the CLI). A
 *   reset revokes the account's app passwords (the service), and the result says how many; the
 *   table shows each account's number of app passwords (devices). A success is kept in the
 *   session and the browser sent back to /admin (Post/Redirect/Get): a refresh repeats nothing,
 *   and a one-time password is shown once.
 *
 * Routes: GET /admin (sign-in form or dashboard), GET /admin/usage.csv, GET /admin/directory.csv
 * (R-DIR-1, accounts/directory.ts: the unit's directory for its web portal), GET
 * /admin/report-year.{txt,csv} (R-OPS-2: the yearly report of NA Phụ lục 2, `?year=`; a unit
 * administrator gets its own unit's, the one it sends the province), GET
 * /admin/report-quarter.{txt,csv} (R-OPS-2: the quarterly operations report, `?quarter=2026-Q3`;
 * system administrators), POST /admin/login, /admin/logout, /admin/reset-password,
 * /admin/suspend, /admin/restore.
 */
import type http from 'node:http';
import type { BlockList } from 'node:net';
import type { AccountService, AccountView, Actor } from '../accounts/service.js';
import { twoFactorMethod, type PortalAuthService } from '../auth/index.js';
import type { Config } from '../config/schema.js';
import { withoutTrailing } from '../lib/regex.js';
import { formatBytes } from '../lib/bytes.js';
import { vietnamMinutes, vietnamTime, type Clock } from '../lib/clock.js';
import { bi, isMailError, MailError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import type { Account, AccountKind, AccountState, Store } from '../store/port.js';
import { csvDocument, type CsvCell } from '../lib/csv.js';
import { directoryCsv } from '../accounts/directory.js';
import { operationsReportCsv, operationsReportText } from '../accounts/operations-report.js';
import { usageReportCsv, usageReportText } from '../accounts/report.js';
import { accountFingerprint, csrfMatches, type AdminFlash, type AdminSession, type AdminSessionStore } from './admin-session.js';
import { CODE_LABEL, CREDENTIAL_STATUS, esc, label, logRefusal, pair, noticeHtml, NOT_OVER_TLS, PORTAL_HEADERS, portalField, portalRequest, portalShell, readPortalForm, refusalNotice, type Notice, type PortalRequest } from './portal.js';

export const ADMIN_COOKIE = 'buudien_admin';

/** The longest address, suspension reason and unit code the page takes. */
const MAX_ADDRESS_CHARS = 320;
const MAX_REASON_CHARS = 500;
const MAX_UNIT_CHARS = 64;
const MAX_CSRF_CHARS = 100;

export interface AdminDeps {
  config: Readonly<Config>;
  auth: PortalAuthService;
  accounts: AccountService;
  store: Pick<Store, 'getAccount' | 'usage' | 'listAppPasswords'>;
  sessions: AdminSessionStore;
  clock: Clock;
  log: Logger;
}

export interface AdminAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Each route and the methods it answers. */
const ROUTES: Readonly<Record<string, readonly string[]>> = {
  '/admin': ['GET', 'HEAD'],
  '/admin/usage.csv': ['GET', 'HEAD'],
  '/admin/directory.csv': ['GET', 'HEAD'],
  '/admin/report-year.txt': ['GET', 'HEAD'],
  '/admin/report-year.csv': ['GET', 'HEAD'],
  '/admin/report-quarter.txt': ['GET', 'HEAD'],
  '/admin/report-quarter.csv': ['GET', 'HEAD'],
  '/admin/login': ['POST'],
  '/admin/logout': ['POST'],
  '/admin/reset-password': ['POST'],
  '/admin/suspend': ['POST'],
  '/admin/restore': ['POST'],
};

/** The request path is the administrators' page's (the listener sends these here). */
export function isAdminRoute(route: string): boolean {
  return route === '/admin' || route.startsWith('/admin/');
}

const SESSION_ENDED: Notice = {
  kind: 'warn',
  text: bi('Phiên làm việc đã kết thúc; hãy đăng nhập lại', 'Your session has ended; sign in again'),
};

const NOT_AN_ADMIN = bi(
  'Tài khoản này không có quyền quản trị; trang này chỉ dành cho quản trị viên đơn vị và quản trị hệ thống',
  'This account is not an administrator; this page is for unit and system administrators only',
);

const KIND: Record<AccountKind, [string, string]> = {
  personal: ['cá nhân', 'personal'],
  unit: ['đơn vị', 'unit'],
  admin: ['quản trị', 'administrator'],
};

const STATE: Record<AccountState, [string, string]> = {
  active: ['hoạt động', 'active'],
  suspended: ['tạm khóa', 'suspended'],
  deleted: ['đã xóa', 'deleted'],
};

function cookieValue(req: http.IncomingMessage, name: string): string | null {
  const raw = req.headers.cookie;
  if (raw === undefined) return null;
  for (const part of raw.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return null;
}

function cookieHeader(value: string, secure: boolean, clear: boolean): string {
  return `${ADMIN_COOKIE}=${value}; HttpOnly; SameSite=Strict; Path=/admin${clear ? '; Max-Age=0' : ''}${secure ? '; Secure' : ''}`;
}

/** Why a signed-in administrator's session may not go on, or null. */
function endedBecause(config: Readonly<Config>, auth: PortalAuthService, now: Date, session: AdminSession, a: Account | null): string | null {
  if (a === null || a.address !== session.address) return 'account gone';
  if (a.state !== 'active') return `account ${a.state}`;
  if (a.role !== 'super' && !(a.role === 'unit' && a.unitId !== null)) return 'no longer an administrator';
  if (accountFingerprint(a) !== session.fingerprint) return 'password, two-factor secret, role or unit changed since sign-in';
  if (a.mustChangePassword) return 'password reset';
  if (auth.passwordExpired(a, now)) return 'password expired';
  if (config.security.adminRequiresTwoFactor && twoFactorMethod(a) === null) return 'two-factor sign-in turned off';
  return null;
}

function actorOf(admin: Account): Actor {
  return { name: admin.address, role: admin.role, unitId: admin.unitId };
}

/** A service refusal (rights, unknown account, bad input) as a status and its bilingual text; null for anything else. */
function refusalOf(e: unknown): { status: number; text: string } | null {
  if (!isMailError(e)) return null;
  switch (e.code) {
    case 'PERMISSION_DENIED':
      return { status: 403, text: e.message };
    case 'NOT_FOUND':
      return { status: 404, text: e.message };
    case 'INVALID_INPUT':
    case 'PASSWORD_WEAK':
    case 'LIMIT_EXCEEDED':
      return { status: 400, text: e.message };
    case 'ALREADY_EXISTS':
    case 'IN_USE':
      return { status: 409, text: e.message };
    default:
      return null;
  }
}

interface Row {
  account: AccountView;
  used: number;
  /** App passwords (devices) the account has. */
  appPasswords: number;
}

function percent(used: number, quota: number): number | null {
  return quota > 0 ? Math.round((used / quota) * 1000) / 10 : null;
}

/** Vietnam's time without the zone (the column heading names it), for the CSV. */
function vnMinutes(d: Date | null): string {
  return d === null ? '' : vietnamMinutes(d);
}

function hiddenFields(session: AdminSession, unit: string): string {
  return `<input type="hidden" name="csrf" value="${esc(session.csrf)}">${unit === '' ? '' : `<input type="hidden" name="unit" value="${esc(unit)}">`}`;
}

function actionsCell(session: AdminSession, admin: Account, a: AccountView, unit: string): string {
  if (a.id === admin.id) return pair('(tài khoản của bạn)', '(your account)');
  if (a.state === 'deleted') return '';
  // What a unit administrator may not change (accounts/service.ts requireOnAccount): said, not offered.
  if (admin.role !== 'super' && (a.role !== 'none' || a.kind !== 'personal')) {
    return `<small>${a.kind === 'unit' ? pair('Hộp thư đơn vị: dùng qua ủy quyền; do quản trị hệ thống quản lý', 'Unit mailbox: used by delegation; managed by the system administrator') : pair('Tài khoản quản trị: do quản trị hệ thống quản lý', 'Administrator account: managed by the system administrator')}</small>`;
  }
  const target = `<input type="hidden" name="address" value="${esc(a.address)}">`;
  const reset = `<form method="post" action="/admin/reset-password">${hiddenFields(session, unit)}${target}<button type="submit">Đặt lại mật khẩu / Reset password</button></form>`;
  const suspend =
    a.state === 'active'
      ? `<form method="post" action="/admin/suspend">${hiddenFields(session, unit)}${target}<input name="reason" type="text" required maxlength="${MAX_REASON_CHARS}" placeholder="Lý do / Reason" aria-label="Lý do tạm khóa / Reason for suspending"><button type="submit">Tạm khóa / Suspend</button></form>`
      : '';
  // Restoring is the system administrator's (accounts/service.ts restore); a unit administrator is told whom to ask.
  const restore =
    a.state === 'suspended'
      ? admin.role === 'super'
        ? `<form method="post" action="/admin/restore">${hiddenFields(session, unit)}${target}<button type="submit">Khôi phục / Restore</button></form>`
        : `<small>${pair('Khôi phục: liên hệ quản trị hệ thống', 'To restore: ask the system administrator')}</small>`
      : '';
  return `${reset}${suspend}${restore}`;
}

/** The two-factor column: off, on with an app, or on with SMS codes. */
function twoFactorText(a: Account): string {
  const m = twoFactorMethod(a);
  return m === 'sms' ? bi('bật (SMS)', 'on (SMS)') : m === 'totp' ? bi('bật (ứng dụng)', 'on (app)') : bi('tắt', 'off');
}

function twoFactorCell(a: Account): string {
  const [vi = '', en = ''] = twoFactorText(a).split(' / ');
  return pair(vi, en);
}

function stateCell(a: AccountView): string {
  const [vi, en] = STATE[a.state];
  const reason = a.state !== 'active' && a.stateReason ? ` (${a.stateReason})` : '';
  const mustChange = a.mustChangePassword ? `<br>${pair('phải đổi mật khẩu', 'must change password')}` : '';
  return `${pair(vi + reason, en + reason)}${mustChange}`;
}

function tableHtml(session: AdminSession, admin: Account, rows: Row[], unit: string): string {
  if (rows.length === 0) return `<p>${pair('Không có tài khoản nào.', 'No accounts.')}</p>`;
  const showUnit = admin.role === 'super';
  const body = rows
    .map(({ account: a, used, appPasswords }) => {
      const pct = percent(used, a.effectiveQuotaBytes);
      return `<tr><td>${esc(a.address)}</td><td>${esc(a.fullName)}</td>${showUnit ? `<td>${esc(a.unitAddress ?? '')}</td>` : ''}<td>${pair(...KIND[a.kind])}</td><td>${stateCell(a)}</td><td>${esc(formatBytes(used))}</td><td>${esc(formatBytes(a.effectiveQuotaBytes))}</td><td>${pct === null ? '' : `${pct}%`}</td><td>${a.lastLoginAt === null ? pair('chưa có', 'never') : esc(vietnamTime(a.lastLoginAt))}</td><td>${twoFactorCell(a)}</td><td class="app-passwords">${appPasswords}</td><td>${actionsCell(session, admin, a, unit)}</td></tr>`;
    })
    .join('\n');
  const th = (vi: string, en: string) => `<th>${pair(vi, en)}</th>`;
  return `<table id="accounts"><thead><tr>${th('Địa chỉ', 'Address')}${th('Họ tên', 'Full name')}${showUnit ? th('Đơn vị', 'Unit') : ''}${th('Loại', 'Kind')}${th('Trạng thái', 'State')}${th('Đã dùng', 'Used')}${th('Dung lượng', 'Quota')}${th('Tỷ lệ', 'Share')}${th('Đăng nhập gần nhất', 'Last sign-in')}${th('Xác thực hai lớp', 'Two-factor')}${th('Mật khẩu ứng dụng', 'App passwords')}${th('Thao tác', 'Actions')}</tr></thead>
<tbody>
${body}
</tbody></table>`;
}

function totalsOf(rows: Array<Pick<Row, 'account' | 'used'>>): { count: number; active: number; suspended: number; used: number; quota: number } {
  return {
    count: rows.length,
    active: rows.filter((r) => r.account.state === 'active').length,
    suspended: rows.filter((r) => r.account.state === 'suspended').length,
    used: rows.reduce((s, r) => s + r.used, 0),
    quota: rows.reduce((s, r) => s + r.account.effectiveQuotaBytes, 0),
  };
}

function totalsHtml(rows: Row[]): string {
  const t = totalsOf(rows);
  const pct = percent(t.used, t.quota);
  const share = pct === null ? '' : ` (${pct}%)`;
  return `<p id="totals">${pair(
    `Tổng: ${t.count} tài khoản (${t.active} hoạt động, ${t.suspended} tạm khóa); đã dùng ${formatBytes(t.used)} trên ${formatBytes(t.quota)}${share}`,
    `Total: ${t.count} accounts (${t.active} active, ${t.suspended} suspended); ${formatBytes(t.used)} used of ${formatBytes(t.quota)}${share}`,
  )}</p>`;
}

/** The unit filter of a query or form: '' for none, null when malformed. */
function unitParam(value: string | null): string | null {
  const v = (value ?? '').trim().toLowerCase();
  if (v.length > MAX_UNIT_CHARS || !/^[a-z0-9._-]*$/.test(v)) return null;
  return v;
}

const BAD_UNIT: Notice = { kind: 'error', text: bi(`Mã đơn vị không hợp lệ (chữ, số, dấu chấm, gạch; tối đa ${MAX_UNIT_CHARS} ký tự)`, `Not a valid unit code (letters, digits, dots, dashes; at most ${MAX_UNIT_CHARS} characters)`) };

export async function handleAdmin(
  deps: AdminDeps,
  trusted: BlockList,
  req: http.IncomingMessage,
  url: URL,
  body: () => Promise<string | null>,
): Promise<AdminAnswer> {
  const { config, auth, accounts, store, sessions, clock, log } = deps;
  const route = withoutTrailing(url.pathname.toLowerCase(), '/') || '/';
  const method = req.method ?? '';
  const portalDeps = { config, auth, log };

  const html = (status: number, heading: string, content: string, extra: Record<string, string> = {}): AdminAnswer => ({
    status,
    headers: { ...PORTAL_HEADERS, ...extra },
    // The dashboard's table needs more room than the portal's forms.
    body: portalShell(config, heading, `<style>body{max-width:80rem}td form{margin:.2rem 0}td input{width:auto}</style>\n${content}`),
  });
  const text = (status: number, message: string, extra: Record<string, string> = {}): AdminAnswer => ({
    status,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...extra },
    body: message + '\n',
  });

  const methods = ROUTES[route];
  if (!methods) return text(404, bi('Không tìm thấy', 'Not found'));
  if (!methods.includes(method)) {
    logRefusal(log, req, null, 405, `method ${method.slice(0, 20)} not allowed`);
    return text(405, bi(`Phương thức không được phép (chỉ ${methods.join(', ')})`, `Method not allowed (only ${methods.join(', ')})`), { allow: methods.join(', ') });
  }

  const pr: PortalRequest = portalRequest(portalDeps, trusted, req);
  const clearCookie = { 'set-cookie': cookieHeader('', pr.client.secure, true) };
  /** Logs a refusal of this request (warn: address, path, reason). */
  const refusing = (status: number, reason: string, extra: Record<string, unknown> = {}): void => logRefusal(log, req, pr.client.ip, status, reason, extra);

  function loginPage(status: number, notice: Notice | undefined, opts: { username?: string; form?: boolean; content?: string; headers?: Record<string, string> } = {}): AdminAnswer {
    const showForm = (opts.form ?? true) && pr.canSendPasswords;
    const twoFactor = config.security.adminRequiresTwoFactor;
    const form = showForm
      ? `<form method="post" action="/admin/login" autocomplete="off">
${portalField('username', bi('Địa chỉ thư hoặc tên đăng nhập', 'E-mail address or user name'), 'text', `required autocomplete="username" value="${esc(opts.username ?? '')}"`)}
${portalField('password', bi('Mật khẩu', 'Password'), 'password', 'required autocomplete="current-password"')}
${portalField('totp', CODE_LABEL, 'text', 'inputmode="numeric" autocomplete="one-time-code"', 6)}
<p><button type="submit">Đăng nhập / Sign in</button></p>
</form>
${twoFactor ? `<p><small>${pair('Quản trị viên phải bật xác thực hai lớp trước:', 'Administrators must turn on two-factor sign-in first:')} <a href="/portal/security">/portal/security</a></small></p>` : ''}`
      : '';
    const shown = notice ?? (pr.canSendPasswords ? undefined : NOT_OVER_TLS);
    return html(status, bi('Trang quản trị', 'Administration'), `${noticeHtml(shown)}\n${opts.content ?? ''}\n${form}`, opts.headers ?? {});
  }

  /** A refusal outside the dashboard (a bad or foreign request), with the way back. */
  const messagePage = (status: number, notice: Notice, extra: Record<string, string> = {}): AdminAnswer =>
    html(status, bi('Trang quản trị', 'Administration'), `${noticeHtml(notice)}\n<p><a href="/admin">Quay lại trang quản trị / Back to the administration page</a></p>`, extra);

  /** The signed-in administrator, read again now; a session that may not go on is ended. */
  async function current(): Promise<{ session: AdminSession; admin: Account } | { ended: boolean }> {
    const id = cookieValue(req, ADMIN_COOKIE);
    if (id === null || id === '') return { ended: false };
    const session = sessions.get(id);
    if (!session) {
      // A made-up, expired or signed-out cookie: whatever the route answers, it is logged here.
      refusing(401, 'unknown or expired admin session');
      return { ended: true };
    }
    const admin = await store.getAccount(session.accountId);
    const why = endedBecause(config, auth, clock.now(), session, admin);
    if (admin === null || why !== null) {
      sessions.delete(session.id);
      log.info({ account: session.address, reason: why ?? 'account gone' }, 'admin page session ended');
      return { ended: true };
    }
    return { session, admin };
  }

  /** R-OPS-2: the yearly report (Phụ lục 2) for every administrator, the quarterly one for system administrators. */
  function reportLinks(admin: Account, query: string): string {
    const yearly = `<a href="${esc(`/admin/report-year.txt${query}`)}">văn bản / text</a>, <a href="${esc(`/admin/report-year.csv${query}`)}">CSV</a>`;
    const quarterly = `<a href="/admin/report-quarter.txt">văn bản / text</a>, <a href="/admin/report-quarter.csv">CSV</a>`;
    return `<p>${label(bi('Báo cáo năm về quản lý, sử dụng thư điện tử công vụ (Phụ lục 2)', 'Yearly report on the use of official e-mail (NA Phụ lục 2)'))}: ${yearly}${
      admin.role === 'super' ? ` · ${label(bi('Báo cáo quý đánh giá hoạt động hệ thống (quý vừa kết thúc)', 'Quarterly operations report (the last quarter ended)'))}: ${quarterly}` : ''
    }</p>`;
  }

  async function dashboard(session: AdminSession, admin: Account, status: number, notice: Notice | undefined, unit: string, flash: AdminFlash | null = null): Promise<AdminAnswer> {
    let list: AccountView[] = [];
    let refused: Notice | undefined;
    try {
      list = (await accounts.listAccounts({ unit: unit === '' ? null : unit }, actorOf(admin))).filter((a) => a.state !== 'deleted');
    } catch (e) {
      const r = refusalOf(e);
      if (!r) throw e;
      refusing(r.status, 'account list refused', { admin: admin.address, unit: unit === '' ? null : unit, refusal: r.text });
      refused = { kind: 'error', text: r.text };
      if (status < 400) status = r.status;
    }
    const rows: Row[] = await Promise.all(
      list.map(async (account) => ({ account, used: await store.usage(account.id), appPasswords: (await store.listAppPasswords(account.id)).length })),
    );
    const roleText = admin.role === 'super' ? pair('quản trị hệ thống', 'system administrator') : pair('quản trị viên đơn vị', 'unit administrator');
    const filter =
      admin.role === 'super'
        ? `<form method="get" action="/admin"><p><label for="unit">${label(bi('Lọc theo mã đơn vị (để trống: tất cả)', 'Filter by unit code (empty: all)'))}</label><br><input id="unit" name="unit" type="text" maxlength="${MAX_UNIT_CHARS}" value="${esc(unit)}"> <button type="submit">Lọc / Filter</button></p></form>`
        : '';
    const secret = flash?.secret
      ? `<p class="secret"><code>${esc(flash.secret.password)}</code></p>
<p>${pair(
          `Mật khẩu dùng một lần của ${flash.secret.address}: chỉ hiện một lần. Hãy trao trực tiếp cho người dùng (không gửi qua thư); họ phải đổi mật khẩu tại ${config.passwords.changeUrl} trước khi dùng thư.`,
          `One-time password of ${flash.secret.address}: shown only once. Hand it to the user in person (not by mail); they must change it at ${config.passwords.changeUrl} before using mail.`,
        )}</p>`
      : '';
    const query = unit === '' ? '' : `?unit=${encodeURIComponent(unit)}`;
    const csvHref = `/admin/usage.csv${query}`;
    const content = `<p>${pair(`Đăng nhập: ${admin.address}`, `Signed in: ${admin.address}`)} (${roleText})</p>
<form method="post" action="/admin/logout">${hiddenFields(session, '')}<button type="submit">Đăng xuất / Sign out</button></form>
${noticeHtml(flash ? { kind: flash.kind, text: flash.text } : notice)}
${flash && notice ? noticeHtml(notice) : ''}
${noticeHtml(refused)}
${secret}
${filter}
${refused ? '' : `${totalsHtml(rows)}\n<p><a href="${esc(csvHref)}">Tải báo cáo sử dụng (CSV) / Download the usage report (CSV)</a> · <a href="${esc(`/admin/directory.csv${query}`)}">Tải danh bạ (CSV) / Download the directory (CSV)</a></p>\n${reportLinks(admin, query)}\n${tableHtml(session, admin, rows, unit)}`}`;
    return html(status, bi('Trang quản trị', 'Administration'), content);
  }

  // ── GET ──
  if (method === 'GET' || method === 'HEAD') {
    if (!pr.canSendPasswords) {
      if (route === '/admin') return loginPage(200, undefined);
      refusing(403, 'admin page without TLS');
      return text(403, bi('Chỉ mở được qua HTTPS', 'Available over HTTPS only'));
    }
    const unit = unitParam(url.searchParams.get('unit'));
    const cur = await current();
    if (!('session' in cur)) {
      if (route === '/admin') return loginPage(200, cur.ended ? SESSION_ENDED : undefined, cur.ended ? { headers: clearCookie } : {});
      if (!cur.ended) refusing(401, 'no admin session');
      return text(401, bi('Hãy đăng nhập trang quản trị trước', 'Sign in to the administration page first'), cur.ended ? clearCookie : {});
    }
    const { session, admin } = cur;
    if (route.startsWith('/admin/report-')) {
      if (unit === null) {
        refusing(400, 'malformed unit filter', { admin: admin.address });
        return text(400, BAD_UNIT.text);
      }
      return reportDownload(admin, route, unit, url.searchParams, method === 'GET');
    }
    if (route === '/admin/usage.csv' || route === '/admin/directory.csv') {
      if (unit === null) {
        refusing(400, 'malformed unit filter', { admin: admin.address });
        return text(400, BAD_UNIT.text);
      }
      return route === '/admin/usage.csv' ? usageCsv(admin, unit) : directoryReport(admin, unit);
    }
    if (unit === null) {
      refusing(400, 'malformed unit filter', { admin: admin.address });
      return dashboard(session, admin, 400, BAD_UNIT, '');
    }
    // The flash is shown by one GET (not by a HEAD).
    const flash = method === 'GET' ? session.flash : null;
    if (method === 'GET') session.flash = null;
    return dashboard(session, admin, 200, undefined, unit, flash);
  }

  async function usageCsv(admin: Account, unit: string): Promise<AdminAnswer> {
    let list: AccountView[];
    try {
      list = (await accounts.listAccounts({ unit: unit === '' ? null : unit }, actorOf(admin))).filter((a) => a.state !== 'deleted');
    } catch (e) {
      const r = refusalOf(e);
      if (!r) throw e;
      refusing(r.status, 'usage report refused', { admin: admin.address, unit: unit === '' ? null : unit, refusal: r.text });
      return text(r.status, r.text);
    }
    const rows = await Promise.all(list.map(async (account) => ({ account, used: await store.usage(account.id) })));
    const cells: CsvCell[][] = [
      [
        'Địa chỉ / Address',
        'Họ tên / Full name',
        'Đơn vị / Unit',
        'Loại / Kind',
        'Trạng thái / State',
        'Đã dùng (byte) / Used (bytes)',
        'Dung lượng (byte) / Quota (bytes)',
        'Tỷ lệ (%) / Share (%)',
        'Đăng nhập gần nhất (UTC+7) / Last sign-in (UTC+7)',
        'Xác thực hai lớp / Two-factor',
      ],
      ...rows.map(({ account: a, used }): CsvCell[] => [
        a.address,
        a.fullName,
        a.unitAddress ?? '',
        bi(...KIND[a.kind]),
        bi(...STATE[a.state]),
        used,
        a.effectiveQuotaBytes,
        percent(used, a.effectiveQuotaBytes),
        vnMinutes(a.lastLoginAt),
        twoFactorText(a),
      ]),
    ];
    const t = totalsOf(rows);
    cells.push([bi('Tổng', 'Total'), `${t.count}`, '', '', '', t.used, t.quota, percent(t.used, t.quota), '', '']);
    const day = vnMinutes(clock.now()).slice(0, 10);
    const name = `buudien-usage-${unit === '' ? 'all' : unit}-${day}.csv`;
    log.info({ admin: admin.address, unit: unit === '' ? null : unit, accounts: rows.length }, 'admin page: usage report downloaded');
    return {
      status: 200,
      headers: {
        'content-type': 'text/csv; charset=utf-8',
        'content-disposition': `attachment; filename="${name}"`,
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
      },
      body: csvDocument(cells),
    };
  }

  /**
   * R-OPS-2's reports as files: the yearly one (Phụ lục 2) for the units the administrator may
   * read (`?unit=` narrows a system administrator's; `?year=`), the quarterly one (`?quarter=`) for
   * system administrators. Rights and refusals are the account service's.
   */
  async function reportDownload(admin: Account, route: string, unit: string, params: URLSearchParams, download: boolean): Promise<AdminAnswer> {
    const csv = route.endsWith('.csv');
    const yearly = route.startsWith('/admin/report-year.');
    const year = params.get('year')?.trim() ?? '';
    const quarter = (params.get('quarter') ?? '').trim().slice(0, 20);
    let body: string;
    let name: string;
    try {
      if (yearly) {
        if (year !== '' && !/^\d{4}$/.test(year)) throw new MailError('INVALID_INPUT', bi('Năm báo cáo phải là 4 chữ số', 'the report year must be 4 digits'));
        const r = await accounts.usageReport({ unit: unit === '' ? null : unit, year: year === '' ? null : Number(year) }, actorOf(admin));
        body = csv ? usageReportCsv(r) : usageReportText(r);
        // A unit administrator's file is named after its unit, so the province can tell them apart.
        name = `buudien-bao-cao-nam-${r.period.year}-${unit !== '' ? unit : admin.role === 'super' ? 'all' : (r.rows[0]?.address ?? 'unit')}`;
      } else {
        if (unit !== '') throw new MailError('INVALID_INPUT', bi('Báo cáo quý là của cả hệ thống: không lọc theo đơn vị', 'the quarterly report is the whole system’s: it takes no unit'));
        const r = await accounts.operationsReport({ quarter: quarter === '' ? null : quarter }, actorOf(admin));
        body = csv ? operationsReportCsv(r) : operationsReportText(r);
        name = `buudien-bao-cao-quy-${r.period.year}-Q${r.period.quarter}`;
      }
    } catch (e) {
      const r = refusalOf(e);
      if (!r) throw e;
      refusing(r.status, 'report refused', { admin: admin.address, route, unit: unit === '' ? null : unit, refusal: r.text });
      return text(r.status, r.text);
    }
    if (download) log.info({ admin: admin.address, route, unit: unit === '' ? null : unit }, 'admin page: report downloaded');
    return {
      status: 200,
      headers: {
        'content-type': csv ? 'text/csv; charset=utf-8' : 'text/plain; charset=utf-8',
        'content-disposition': `attachment; filename="${name.replace(/[^\w.-]/g, '_')}.${csv ? 'csv' : 'txt'}"`,
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
      },
      body,
    };
  }

  /** R-DIR-1: the directory of the units the administrator may read (`?unit=` narrows), for Excel. */
  async function directoryReport(admin: Account, unit: string): Promise<AdminAnswer> {
    let csv: string;
    try {
      csv = directoryCsv(await accounts.directory({ unit: unit === '' ? null : unit }, actorOf(admin)));
    } catch (e) {
      const r = refusalOf(e);
      if (!r) throw e;
      refusing(r.status, 'directory refused', { admin: admin.address, unit: unit === '' ? null : unit, refusal: r.text });
      return text(r.status, r.text);
    }
    const name = `buudien-directory-${unit === '' ? 'all' : unit}-${vnMinutes(clock.now()).slice(0, 10)}.csv`;
    log.info({ admin: admin.address, unit: unit === '' ? null : unit }, 'admin page: directory downloaded');
    return {
      status: 200,
      headers: { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': `attachment; filename="${name}"`, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' },
      body: csv,
    };
  }

  // ── POST ──
  const form = await readPortalForm(portalDeps, trusted, req, pr, body);
  if (!form.ok) {
    if (route === '/admin/login') return loginPage(form.status, form.notice, { form: form.form });
    return messagePage(form.status, form.notice);
  }

  if (route === '/admin/login') {
    const username = form.get('username').trim();
    const password = form.get('password');
    const totp = form.get('totp').trim();
    if (username === '' || password === '') {
      refusing(400, 'sign-in form incomplete');
      return loginPage(400, { kind: 'error', text: bi('Hãy điền địa chỉ và mật khẩu', 'Fill in the address and the password') }, { username });
    }
    const r = await auth.webSignIn({ username, password, totp: totp === '' ? null : totp, ip: form.ip, secure: form.secure });
    if (!r.ok) {
      const link = r.kind === 'must-change' || r.kind === 'expired' ? `<p><a href="/portal">Đổi mật khẩu / Change password</a></p>` : '';
      return loginPage(CREDENTIAL_STATUS[r.kind], refusalNotice(r.kind, r.message), { username, content: link });
    }
    const account = r.account;
    if (account.role !== 'super' && !(account.role === 'unit' && account.unitId !== null)) {
      log.warn({ ip: form.ip, account: account.address, role: account.role, reason: account.role === 'unit' ? 'unit administrator without a unit' : 'not an administrator' }, 'admin page sign-in refused');
      return loginPage(403, { kind: 'error', text: NOT_AN_ADMIN }, { username });
    }
    if (config.security.adminRequiresTwoFactor && twoFactorMethod(account) === null) {
      log.warn({ ip: form.ip, account: account.address, reason: 'two-factor sign-in not on' }, 'admin page sign-in refused');
      return loginPage(
        403,
        {
          kind: 'warn',
          text: bi(
            'Quản trị viên phải bật xác thực hai lớp trước khi dùng trang quản trị. Hãy bật tại trang Xác thực hai lớp, rồi đăng nhập lại',
            'Administrators must turn on two-factor sign-in before using this page. Turn it on at the two-factor page, then sign in again',
          ),
        },
        { username, form: false, content: `<p><a id="enable-2fa" href="/portal/security">Bật xác thực hai lớp / Turn on two-factor sign-in (/portal/security)</a></p>` },
      );
    }
    // A successful sign-in replaces the session this browser had (a failed one leaves it be).
    const old = cookieValue(req, ADMIN_COOKIE);
    if (old) sessions.delete(old);
    const session = sessions.create({ accountId: account.id, address: account.address, fingerprint: accountFingerprint(account) });
    log.info({ ip: form.ip, account: account.address, role: account.role }, 'admin page: signed in');
    return { status: 303, headers: { location: '/admin', 'cache-control': 'no-store', 'set-cookie': cookieHeader(session.id, pr.client.secure, false), 'content-type': 'text/plain; charset=utf-8' }, body: '' };
  }

  const cur = await current();
  if (!('session' in cur)) {
    if (route === '/admin/logout') return loginPage(200, { kind: 'ok', text: bi('Đã đăng xuất', 'Signed out') }, { headers: clearCookie });
    if (!cur.ended) refusing(401, 'no admin session');
    return loginPage(401, SESSION_ENDED, cur.ended ? { headers: clearCookie } : {});
  }
  const { session, admin } = cur;
  const posted = form.get('csrf');
  if (posted.length > MAX_CSRF_CHARS || !csrfMatches(session, posted)) {
    log.warn({ ip: form.ip, account: admin.address, route }, 'admin page: CSRF token missing or wrong');
    return messagePage(403, { kind: 'error', text: bi('Biểu mẫu đã cũ hoặc không phải của trang này; hãy tải lại trang quản trị', 'The form is stale or not this page\'s; reload the administration page') });
  }

  if (route === '/admin/logout') {
    sessions.delete(session.id);
    log.info({ ip: form.ip, account: admin.address }, 'admin page: signed out');
    return loginPage(200, { kind: 'ok', text: bi('Đã đăng xuất', 'Signed out') }, { headers: clearCookie });
  }

  const unit = unitParam(form.get('unit')) ?? '';
  const address = form.get('address').trim().toLowerCase();
  const fail = (status: number, t: string) => dashboard(session, admin, status, { kind: 'error', text: t }, unit);
  if (address === '' || address.length > MAX_ADDRESS_CHARS) {
    refusing(400, 'no or overlong account address', { admin: admin.address });
    return fail(400, bi(`Hãy chọn một tài khoản (địa chỉ tối đa ${MAX_ADDRESS_CHARS} ký tự)`, `Choose an account (an address of at most ${MAX_ADDRESS_CHARS} characters)`));
  }
  const actor = actorOf(admin);
  let flash: AdminFlash;
  try {
    if (route === '/admin/reset-password' || route === '/admin/suspend') {
      // Not on its own account: it would lock itself out (the service refuses a unit administrator anyway).
      const target = await accounts.getAccount(address, actor);
      if (target.id === admin.id) {
        log.warn({ ip: form.ip, admin: admin.address, route }, 'admin page: action on own account refused');
        return await fail(
          403,
          bi(
            'Không thể tự đặt lại mật khẩu hay tự tạm khóa tài khoản của mình tại trang quản trị (sẽ tự khóa mình); hãy đổi mật khẩu tại /portal, hoặc dùng dòng lệnh',
            'You may not reset the password of, or suspend, your own account on this page (you would lock yourself out); change your password at /portal, or use the command line',
          ),
        );
      }
    }
    if (route === '/admin/reset-password') {
      const r = await accounts.setPassword(address, null, actor);
      const revoked = r.appPasswordsRevoked;
      flash = {
        kind: 'ok',
        text:
          revoked > 0
            ? bi(
                `Đã đặt lại mật khẩu của ${r.account.address}; đã thu hồi ${revoked} mật khẩu ứng dụng (thiết bị phải đăng nhập lại)`,
                `The password of ${r.account.address} has been reset; ${revoked} app password(s) revoked (devices must be set up again)`,
              )
            : bi(`Đã đặt lại mật khẩu của ${r.account.address}`, `The password of ${r.account.address} has been reset`),
        ...(r.oneTimePassword !== null ? { secret: { address: r.account.address, password: r.oneTimePassword } } : {}),
      };
    } else if (route === '/admin/suspend') {
      const reason = form.get('reason').trim();
      if (reason === '' || reason.length > MAX_REASON_CHARS) {
        refusing(400, 'suspension reason missing or too long', { admin: admin.address });
        return await fail(400, bi(`Hãy ghi lý do tạm khóa (tối đa ${MAX_REASON_CHARS} ký tự)`, `Give the reason for suspending (at most ${MAX_REASON_CHARS} characters)`));
      }
      const a = await accounts.suspend(address, reason, actor);
      flash = {
        kind: 'ok',
        text: bi(`Đã tạm khóa ${a.address}: không đăng nhập được, thư đến vẫn được nhận`, `${a.address} is suspended: it cannot sign in, incoming mail is still received`),
      };
    } else {
      const a = await accounts.restore(address, actor);
      flash = { kind: 'ok', text: bi(`Đã khôi phục ${a.address}`, `${a.address} is restored`) };
    }
  } catch (e) {
    const r = refusalOf(e);
    if (!r) throw e;
    log.warn({ ip: form.ip, admin: admin.address, target: address, route, refusal: r.text }, 'admin page: action refused');
    return fail(r.status, r.text);
  }
  log.info({ ip: form.ip, admin: admin.address, target: address, route }, 'admin page: action done');
  session.flash = flash;
  // Post/Redirect/Get: a refresh repeats nothing (the result, and a one-time password, are shown once).
  const back = `/admin${unit === '' ? '' : `?unit=${encodeURIComponent(unit)}`}`;
  return { status: 303, headers: { location: back, 'cache-control': 'no-store', 'content-type': 'text/plain; charset=utf-8' }, body: '' };
}
