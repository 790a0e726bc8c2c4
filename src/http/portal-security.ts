/**
 * The portal's security page (`/portal/security`, R-AUTH-3, R-AUTH-5): a user sees their
 * account's two-factor state, recent sign-ins and refused attempts, and app passwords; adds an app password for a mail
 * program (shown once) or removes one; turns two-factor sign-in on (authenticator app, QR code)
 * or off.
 *
 * The same design as /portal (portal.ts): no session and no cookie. Every POST carries the
 * address, the current password and, for an account with two-factor sign-in, a code — one code
 * per action — except the second step of enrolment: totp-begin answers with the new secret and
 * a confirm form that carries a server-signed enrolment token (never the password) and asks for
 * the app's first code (totp-confirm). The checks, the throttling and the audit entries are the
 * auth service's (portalSecurity, confirmTotp); this file only speaks HTTP and HTML.
 *
 * Actions (the `action` field): show, app-password-add (label), app-password-remove (id),
 * totp-begin, totp-confirm (token, totp), totp-disable.
 */
import type http from 'node:http';
import type { BlockList } from 'node:net';
import QRCode from 'qrcode';
import {
  ENROL_TOKEN_TTL_MS,
  MAX_APP_PASSWORDS,
  type AppPasswordSummary,
  type PortalAuthService,
  type PortalSecurityFailureKind,
  type PortalSecurityOp,
  type PortalSecurityResult,
  type SecurityOverview,
  type SignInSummary,
  type TotpEnrolment,
} from '../auth/index.js';
import type { Config } from '../config/schema.js';
import { vietnamTime } from '../lib/clock.js';
import { bi } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import {
  CREDENTIAL_STATUS,
  refusalNotice,
  logRefusal,
  credentialFields,
  esc,
  label,
  noticeHtml,
  pair,
  NOT_OVER_TLS,
  PORTAL_HEADERS,
  portalField,
  portalRequest,
  portalShell,
  readPortalForm,
  type Notice,
} from './portal.js';

export interface PortalSecurityDeps {
  config: Readonly<Config>;
  auth: PortalAuthService;
  /** Refusals of the form itself are logged here (the auth service logs those of credentials). */
  log?: Logger;
}

const ACTIONS = ['show', 'app-password-add', 'app-password-remove', 'totp-begin', 'sms-enable', 'totp-confirm', 'totp-disable'] as const;
type Action = (typeof ACTIONS)[number];
/** The longest device label (auth/app-passwords.ts refuses longer ones). */
const MAX_LABEL_CHARS = 100;

const STATUS_OF: Record<PortalSecurityFailureKind, number> = {
  ...CREDENTIAL_STATUS,
  invalid: 400,
  token: 400,
  'not-found': 404,
  'totp-on': 409,
  'totp-off': 409,
};

/** Vietnam's time (UTC+7 all year), to the minute: what users read their sign-ins in. */
export function vnTime(d: Date | null, lang: 'vi' | 'en'): string {
  if (d === null) return lang === 'vi' ? 'chưa có' : 'never';
  return vietnamTime(d);
}

/** A time in both languages' cells (the same figures; "chưa có" / "never" when none). */
function timeCell(d: Date | null): string {
  return d === null ? pair(vnTime(d, 'vi'), vnTime(d, 'en')) : esc(vnTime(d, 'vi'));
}

/** A base32 secret in groups of four, for typing into an app. */
export function groupSecret(secret: string): string {
  return (secret.match(/.{1,4}/g) ?? [secret]).join(' ');
}


const PROTOCOL_NAMES: Record<SignInSummary['protocol'], [string, string]> = {
  imap: ['IMAP (đọc thư)', 'IMAP (reading mail)'],
  pop3: ['POP3 (tải thư)', 'POP3 (downloading mail)'],
  smtp: ['SMTP (gửi thư)', 'SMTP (sending mail)'],
  http: ['Trang web', 'Web page'],
};

const REASONS: Record<string, [string, string]> = {
  'bad-credentials': ['sai mật khẩu', 'wrong password'],
  'needs-app-password': ['mật khẩu chính trong chương trình thư, cần mật khẩu ứng dụng', 'main password in a mail program, an app password is needed'],
  'app-password-on-web': ['mật khẩu ứng dụng trên trang web', 'an app password on the web'],
  totp: ['sai mã xác thực', 'wrong code'],
  'totp-throttled': ['mã xác thực bị chặn sau nhiều lần sai', 'code refused after many wrong ones'],
  'sms-code-sent': ['đúng mật khẩu, đã gửi mã SMS', 'right password, SMS code sent'],
  'sms-code-recent': ['đúng mật khẩu, mã SMS vừa gửi trước đó', 'right password, an SMS code had just been sent'],
  'sms-failed': ['đúng mật khẩu, không gửi được mã SMS', 'right password, the SMS code could not be sent'],
  'sms-capped': ['đúng mật khẩu, hết lượt gửi mã SMS trong ngày', 'right password, no SMS codes left for the day'],
  'unit-own-password': ['đăng nhập thẳng vào hộp thư đơn vị (người được ủy quyền dùng tên HỘP_THƯ*TÊN_MÌNH)', 'a direct sign-in to the unit mailbox (delegates use MAILBOX*THEIR_NAME)'],
  guarded: ['tạm giữ: tài khoản đang bị dò mật khẩu, mạng này chưa từng dùng', 'held back: the account is being guessed and this network is new to it'],
  suspended: ['tài khoản bị tạm khóa', 'account suspended'],
  deleted: ['tài khoản đã xóa', 'account deleted'],
  'must-change': ['phải đổi mật khẩu', 'password must be changed'],
  expired: ['mật khẩu hết hạn', 'password expired'],
  'not-delegated': ['không được ủy quyền mở hộp thư đã nêu', 'not delegated to open the mailbox named'],
  'mailbox-suspended': ['hộp thư đơn vị đang bị tạm khóa', 'the unit mailbox is suspended'],
  'reset-code-sent': ['quên mật khẩu: đã gửi mã đặt lại qua SMS', 'forgot password: a reset code was sent by SMS'],
  'reset-code-recent': ['quên mật khẩu: mã đặt lại vừa gửi trước đó', 'forgot password: a reset code had just been sent'],
  'reset-code-capped': ['quên mật khẩu: hết lượt gửi mã (trong ngày, hoặc trong giờ từ mạng này)', 'forgot password: no codes left (for the day, or for the hour from this network)'],
  'reset-code-stale': ['quên mật khẩu: mã gửi trước khi mật khẩu được đặt lại', 'forgot password: a code sent before the password was reset'],
  'reset-changed-meanwhile': ['quên mật khẩu: tài khoản vừa được quản trị viên thay đổi', 'forgot password: the account was just changed by an administrator'],
  'reset-code': ['quên mật khẩu: sai mã đặt lại', 'forgot password: wrong reset code'],
  'reset-code-throttled': ['quên mật khẩu: mã bị chặn sau nhiều lần sai', 'forgot password: code refused after many wrong ones'],
};

/** Sign-ins (or refused attempts): when, how, from where, and whether they went through (R-AUTH-5). */
function signInsHtml(list: readonly SignInSummary[], none: string): string {
  if (list.length === 0) return `<p>${none}</p>`;
  const rows = list.map((r) => {
    const [pvi, pen] = PROTOCOL_NAMES[r.protocol] ?? [r.protocol, r.protocol];
    // A delegated sign-in (R-ACC-6): the unit mailbox's row names the delegate, the delegate's the mailbox.
    const how = !r.ok
      ? pair(`bị từ chối: ${REASONS[r.reason ?? '']?.[0] ?? r.reason ?? ''}`, `refused: ${REASONS[r.reason ?? '']?.[1] ?? r.reason ?? ''}`)
      : r.via !== null
        ? pair(`thành công, người được ủy quyền ${r.via} đăng nhập bằng tài khoản của mình`, `signed in by the delegate ${r.via} with its own credentials`)
        : r.method === 'app-password'
          ? pair(`thành công, mật khẩu ứng dụng ${r.appPassword ?? '(đã xóa)'}`, `signed in, app password ${r.appPassword ?? '(removed)'}`)
          : pair('thành công, mật khẩu chính', 'signed in, main password');
    const opened =
      r.opened === null ? '' : r.ok ? `<br>${pair(`mở hộp thư đơn vị ${r.opened}`, `opened the unit mailbox ${r.opened}`)}` : `<br>${pair(`hộp thư: ${r.opened}`, `mailbox: ${r.opened}`)}`;
    // Alike sign-ins of one day share a row: the last time, and how many since the first.
    const times = r.count > 1 ? `${timeCell(r.at)}<br><small>${r.count}× ${esc(vietnamTime(r.firstAt).slice(11, 16))}–${esc(vietnamTime(r.at).slice(11, 16))}</small>` : timeCell(r.at);
    return `<tr><td>${times}</td><td>${pair(pvi, pen)}</td><td>${esc(r.ip)}</td><td>${how}${opened}</td></tr>`;
  });
  return `<table><thead><tr><th>Lúc<br><small>When</small></th><th>Qua<br><small>Through</small></th><th>Địa chỉ IP<br><small>IP address</small></th><th>Kết quả<br><small>Result</small></th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody></table>`;
}

function overviewHtml(o: SecurityOverview): string {
  const rows = o.appPasswords
    .map((a) => `<tr><td>${a.id}</td><td>${esc(a.label)}</td><td>${timeCell(a.createdAt)}</td><td>${timeCell(a.lastUsedAt)}</td></tr>`)
    .join('\n');
  const apps =
    o.appPasswords.length === 0
      ? `<p>${pair('Chưa có mật khẩu ứng dụng nào.', 'No app passwords yet.')}</p>`
      : `<table><thead><tr><th>Số<br><small>No.</small></th><th>Thiết bị<br><small>Device</small></th><th>Tạo lúc<br><small>Created</small></th><th>Dùng lần cuối<br><small>Last used</small></th></tr></thead>
<tbody>
${rows}
</tbody></table>`;
  return `<section id="status">
<h2>Tình trạng tài khoản<br><small>Account status</small></h2>
<ul>
<li>${pair(`Tài khoản: ${o.address}`, `Account: ${o.address}`)}</li>
<li>${
    o.twoFactorMethod === 'sms'
      ? pair(`Xác thực hai lớp: đang bật, mã qua SMS tới số ${o.phoneTail ?? '?'}`, `Two-factor sign-in: on, codes by SMS to the phone ending ${o.phoneTail ?? '?'}`)
      : o.twoFactor
        ? pair('Xác thực hai lớp: đang bật, mã từ ứng dụng xác thực', 'Two-factor sign-in: on, codes from an authenticator app')
        : pair('Xác thực hai lớp: đang tắt', 'Two-factor sign-in: off')
  }</li>
<li>${pair(
    'Nếu có lần đăng nhập dưới đây không phải của bạn, hoặc thấy thiết bị lạ trong danh sách mật khẩu ứng dụng, hãy xóa nó, đổi mật khẩu và báo quản trị viên',
    'If a sign-in below was not you, or a device among the app passwords is not yours, remove it, change your password and tell your administrator',
  )}</li>
</ul>
<h3>Các lần đăng nhập gần đây<br><small>Recent sign-ins</small></h3>
${signInsHtml(o.recentSignIns, pair('Chưa có lần đăng nhập nào được ghi lại.', 'No sign-ins recorded yet.'))}
<h3>Các lần đăng nhập bị từ chối gần đây<br><small>Recent refused attempts</small></h3>
${signInsHtml(o.recentRefusals, pair('Không có lần nào bị từ chối.', 'None refused.'))}
<h3>Mật khẩu ứng dụng<br><small>App passwords</small></h3>
${apps}
${o.delegatedMailboxes
  .map(
    (m) => `<h3>${pair(`Các lần đăng nhập gần đây vào hộp thư đơn vị ${m.address} (bạn được ủy quyền)`, `Recent sign-ins to the unit mailbox ${m.address} (delegated to you)`)}</h3>
${signInsHtml(m.recentSignIns, pair('Chưa có lần đăng nhập nào được ghi lại.', 'No sign-ins recorded yet.'))}`,
  )
  .join('\n')}
</section>`;
}

/** The page's main form: credentials, then one button per action (the first, show, is what Enter sends). */
function mainForm(username: string | undefined, overview: SecurityOverview | undefined): string {
  const choices =
    overview && overview.appPasswords.length > 0
      ? `<p>${pair('Chọn mật khẩu ứng dụng cần xóa:', 'Choose the app password to remove:')}</p>
${overview.appPasswords.map((a: AppPasswordSummary) => `<p><label><input type="radio" name="id" value="${a.id}"> ${a.id}: ${esc(a.label)}</label></p>`).join('\n')}`
      : portalField('id', bi('Số của mật khẩu ứng dụng cần xóa (bấm “Xem” để có danh sách)', 'Number of the app password to remove (press “Show” for the list)'), 'text', 'inputmode="numeric"', 12);
  const twoFactor = overview?.twoFactor;
  return `<form method="post" action="/portal/security" autocomplete="off">
${credentialFields(username)}
<p><small>${label(bi('Mỗi mã xác thực chỉ dùng được cho một thao tác; thao tác sau cần mã kế tiếp (30 giây)', 'A code serves one action only; the next action needs the next code (30 seconds)'))}</small></p>
<p><button type="submit" name="action" value="show">Xem tình trạng / Show status</button></p>
<fieldset><legend>Mật khẩu ứng dụng / App passwords</legend>
<p><small>${label(
    bi(
      'Outlook, Thunderbird và ứng dụng thư trên điện thoại không nhập được mã xác thực: khi bật xác thực hai lớp, mỗi thiết bị dùng một mật khẩu ứng dụng riêng',
      'Outlook, Thunderbird and phone mail apps cannot take a code: with two-factor sign-in on, each device uses its own app password',
    ),
  )}</small></p>
${portalField('label', bi('Tên thiết bị (ví dụ: Outlook ở cơ quan)', 'Device name (e.g. Outlook at the office)'), 'text', '', MAX_LABEL_CHARS)}
<p><button type="submit" name="action" value="app-password-add">Tạo mật khẩu ứng dụng / Create an app password</button></p>
${choices}
<p><button type="submit" name="action" value="app-password-remove">Xóa mật khẩu ứng dụng / Remove the app password</button></p>
</fieldset>
<fieldset><legend>Xác thực hai lớp / Two-factor sign-in</legend>
${twoFactor === true ? '' : '<p><button type="submit" name="action" value="totp-begin">Bật xác thực hai lớp bằng ứng dụng / Turn on two-factor sign-in with an app</button></p>'}
${twoFactor === true || overview?.smsAvailable === false ? '' : `<p><button type="submit" name="action" value="sms-enable">Bật xác thực hai lớp bằng SMS / Turn on two-factor sign-in by SMS</button><br><small>${label(bi('Mã gửi tới số điện thoại quản trị viên đã ghi cho tài khoản: bấm lần đầu để nhận mã, rồi nhập mã và bấm lại', 'Codes go to the phone number your administrator recorded for the account: press once to get a code, then type it in and press again'))}</small></p>`}
${twoFactor === false ? '' : '<p><button type="submit" name="action" value="totp-disable">Tắt xác thực hai lớp (cần mã) / Turn off two-factor sign-in (needs a code)</button></p>'}
</fieldset>
</form>`;
}

/** The second step of enrolment: the token (no password, no secret in the clear) and the app's code. */
function confirmForm(token: string): string {
  return `<form method="post" action="/portal/security" autocomplete="off">
<input type="hidden" name="action" value="totp-confirm">
<input type="hidden" name="token" value="${esc(token)}">
${portalField('totp', bi('Mã 6 số ứng dụng đang hiện', 'The 6-digit code the app shows'), 'text', 'required inputmode="numeric" autocomplete="one-time-code"')}
<p><button type="submit">Xác nhận và bật / Confirm and turn on</button></p>
</form>`;
}

async function enrolmentHtml(e: TotpEnrolment): Promise<string> {
  const svg = await QRCode.toString(e.uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2, width: 220 });
  const minutes = Math.round(ENROL_TOKEN_TTL_MS / 60_000);
  return `<ol>
<li>${pair(
    'Cài một ứng dụng xác thực trên điện thoại (Google Authenticator, Microsoft Authenticator, FreeOTP…).',
    'Install an authenticator app on your phone (Google Authenticator, Microsoft Authenticator, FreeOTP…).',
  )}</li>
<li>${pair('Trong ứng dụng, quét mã QR này:', 'In the app, scan this QR code:')}
<div class="qr" role="img" aria-label="QR">${svg}</div>
${pair('hoặc nhập khóa bí mật:', 'or type in the secret key:')}
<p class="secret"><code>${esc(groupSecret(e.secret))}</code></p>
<details><summary>otpauth://</summary><p><code>${esc(e.uri)}</code></p></details></li>
<li>${pair(
    `Nhập mã 6 số ứng dụng hiện ra trong vòng ${minutes} phút. Khóa chỉ hiện một lần; đừng chụp lại hay gửi cho ai.`,
    `Type the 6-digit code the app shows within ${minutes} minutes. The key is shown only once; do not photograph or send it to anyone.`,
  )}</li>
</ol>`;
}

/** The action's own fields, or what is wrong with them. */
function parseOp(action: Action, get: (name: string) => string): { op: PortalSecurityOp } | { error: string } {
  switch (action) {
    case 'show':
      return { op: { kind: 'show' } };
    case 'app-password-add': {
      const name = get('label').trim();
      if (name === '') return { error: bi('Hãy điền tên thiết bị cho mật khẩu ứng dụng', 'Fill in a device name for the app password') };
      if (name.length > MAX_LABEL_CHARS) {
        return { error: bi(`Tên thiết bị dài quá ${MAX_LABEL_CHARS} ký tự`, `The device name is longer than ${MAX_LABEL_CHARS} characters`) };
      }
      return { op: { kind: 'app-password-add', label: name } };
    }
    case 'app-password-remove': {
      const id = get('id').trim();
      if (!/^[1-9]\d{0,9}$/.test(id) || Number(id) > 2 ** 31) {
        return { error: bi('Hãy chọn hoặc điền số của mật khẩu ứng dụng cần xóa', 'Choose or fill in the number of the app password to remove') };
      }
      return { op: { kind: 'app-password-remove', id: Number(id) } };
    }
    case 'totp-begin':
      return { op: { kind: 'totp-begin' } };
    case 'sms-enable':
      return { op: { kind: 'sms-enable' } };
    case 'totp-disable':
      return { op: { kind: 'totp-disable' } };
    case 'totp-confirm':
      // Not a credential action: handled before.
      return { error: bi('Thao tác không hợp lệ', 'Not a valid action') };
  }
}

interface Page {
  status: number;
  notice?: Notice;
  /** HTML between the notice and the main form. */
  content?: string;
  /** Show the main form (with this user name prefilled and this overview's choices). */
  form: boolean;
  username?: string;
  overview?: SecurityOverview;
}

/** The security page's answer to one request; `body` reads the request's body (null: larger than the listener takes). */
export async function handlePortalSecurity(
  deps: PortalSecurityDeps,
  trusted: BlockList,
  req: http.IncomingMessage,
  body: () => Promise<string | null>,
): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const { config, auth } = deps;
  const answer = (page: Page) => {
    const content = [
      noticeHtml(page.notice),
      page.content ?? '',
      page.overview ? overviewHtml(page.overview) : '',
      page.form ? mainForm(page.username ?? page.overview?.address, page.overview) : '',
    ].join('\n');
    return {
      status: page.status,
      headers: { ...PORTAL_HEADERS },
      body: portalShell(config, bi('Xác thực hai lớp và mật khẩu ứng dụng', 'Two-factor sign-in and app passwords'), content),
    };
  };
  const pr = portalRequest(deps, trusted, req);
  const { canSendPasswords } = pr;
  if (req.method !== 'POST') return answer({ status: 200, form: canSendPasswords, ...(canSendPasswords ? {} : { notice: NOT_OVER_TLS }) });
  const form = await readPortalForm(deps, trusted, req, pr, body);
  if (!form.ok) return answer({ status: form.status, form: form.form && canSendPasswords, notice: form.notice });
  const rawAction = form.get('action');
  const action = ACTIONS.find((a) => a === rawAction);
  const error = (status: number, text: string, extra: Partial<Page> = {}) => {
    // A malformed form is refused here; credentials are refused (and logged) by the auth service.
    if (status === 400) logRefusal(deps.log, req, form.ip, status, `form: ${action ?? 'unknown action'}`);
    return answer({ status, form: true, notice: { kind: 'error', text }, ...extra });
  };
  if (action === undefined) return error(400, bi('Hãy chọn một thao tác bằng các nút của trang', 'Choose an action with the page\'s buttons'));

  if (action === 'totp-confirm') {
    const token = form.get('token').trim();
    const code = form.get('totp').trim();
    if (token === '') return error(400, bi('Thiếu phiên bật xác thực hai lớp; hãy bắt đầu lại', 'The two-factor set-up is missing; start again'));
    if (code === '') return error(400, bi('Hãy nhập mã 6 số ứng dụng đang hiện', 'Type the 6-digit code the app shows'), { form: false, content: confirmForm(token) });
    const r = await auth.confirmTotp({ token, totp: code, ip: form.ip, secure: form.secure });
    if (!r.ok) {
      // A mistyped code: the same token again (it holds the secret sealed; the page never shows it again).
      if (r.kind === 'totp') return error(STATUS_OF[r.kind], r.message, { form: false, content: confirmForm(token) });
      return error(STATUS_OF[r.kind], r.message);
    }
    return answer({
      status: 200,
      form: true,
      overview: r.overview,
      notice: {
        kind: 'ok',
        text: bi(
          `Đã bật xác thực hai lớp cho ${r.overview.address}. Từ nay Outlook, Thunderbird và ứng dụng thư trên điện thoại không đăng nhập bằng mật khẩu chính được nữa: hãy tạo cho mỗi thiết bị một mật khẩu ứng dụng (nút “Tạo mật khẩu ứng dụng” bên dưới, với mã kế tiếp của ứng dụng)`,
          `Two-factor sign-in is on for ${r.overview.address}. From now on Outlook, Thunderbird and phone mail apps cannot sign in with the main password: create an app password for each device (the “Create an app password” button below, with the app's next code)`,
        ),
      },
    });
  }

  const username = form.get('username').trim();
  const password = form.get('password');
  const totp = form.get('totp').trim();
  if (username === '' || password === '') return error(400, bi('Hãy điền địa chỉ và mật khẩu hiện tại', 'Fill in the address and the current password'), { username });
  const parsed = parseOp(action, form.get);
  if ('error' in parsed) return error(400, parsed.error, { username });
  const { op } = parsed;
  // canSendPasswords held (readPortalForm); auth applies the plaintext rule again to what it is told.
  const r: PortalSecurityResult = await auth.portalSecurity({ username, password, totp: totp === '' ? null : totp, ip: form.ip, secure: form.secure, op });
  if (!r.ok) {
    if (r.kind === 'code-sent') return answer({ status: STATUS_OF[r.kind], form: true, username, notice: refusalNotice(r.kind, r.message) });
    return error(STATUS_OF[r.kind], r.message, { username });
  }
  const ok = (text: string, extra: Partial<Page> = {}) => answer({ status: 200, form: true, overview: r.overview, notice: { kind: 'ok', text }, ...extra });
  switch (r.op) {
    case 'show':
      return ok(bi(`Tình trạng của ${r.overview.address}`, `Status of ${r.overview.address}`));
    case 'app-password-add':
      return ok(bi(`Đã tạo mật khẩu ứng dụng số ${r.appPassword.id}`, `App password number ${r.appPassword.id} created`), {
        content: `<p class="secret"><code>${esc(r.secret)}</code></p>
<p>${pair(
          `Trong Outlook, Thunderbird hoặc ứng dụng thư trên điện thoại, đăng nhập bằng ${r.overview.address} và mật khẩu này thay cho mật khẩu chính (có dấu cách hay không đều được). Mật khẩu chỉ hiện một lần: hãy nhập ngay vào thiết bị, không cần ghi lại. Mất thiết bị thì xóa mật khẩu này. Mỗi tài khoản có tối đa ${MAX_APP_PASSWORDS} mật khẩu ứng dụng.`,
          `In Outlook, Thunderbird or the phone's mail app, sign in as ${r.overview.address} with this password instead of the main password (with or without the spaces). It is shown only once: enter it in the device now, no need to write it down. If the device is lost, remove this password. An account has at most ${MAX_APP_PASSWORDS} app passwords.`,
        )}</p>`,
      });
    case 'app-password-remove':
      return ok(
        bi(
          `Đã xóa mật khẩu ứng dụng số ${op.kind === 'app-password-remove' ? op.id : ''}; thiết bị dùng nó không đăng nhập được nữa`,
          `App password number ${op.kind === 'app-password-remove' ? op.id : ''} removed; the device that used it can no longer sign in`,
        ),
      );
    case 'totp-begin':
      return answer({
        status: 200,
        form: false,
        notice: { kind: 'ok', text: bi(`Bật xác thực hai lớp cho ${r.overview.address}`, `Turn on two-factor sign-in for ${r.overview.address}`) },
        content: `${await enrolmentHtml(r.enrolment)}\n${confirmForm(r.enrolment.token)}`,
      });
    case 'totp-disable':
      return ok(
        bi(
          'Đã tắt xác thực hai lớp. Chương trình thư lại đăng nhập được bằng mật khẩu chính; các mật khẩu ứng dụng vẫn dùng được cho đến khi bạn xóa',
          'Two-factor sign-in is off. Mail programs can sign in with the main password again; app passwords keep working until you remove them',
        ),
      );
    case 'totp-confirm':
      return ok(bi('Đã bật xác thực hai lớp', 'Two-factor sign-in is on'));
    case 'sms-enable':
      return ok(
        bi(
          `Đã bật xác thực hai lớp bằng SMS cho ${r.overview.address}: khi đăng nhập trang web, mã sẽ được gửi tới số ${r.overview.phoneTail ?? ''}. Outlook, Thunderbird và ứng dụng thư trên điện thoại từ nay cần mật khẩu ứng dụng (nút “Tạo mật khẩu ứng dụng” bên dưới)`,
          `Two-factor sign-in by SMS is on for ${r.overview.address}: signing in on the web sends a code to the phone ending ${r.overview.phoneTail ?? ''}. Outlook, Thunderbird and phone mail apps now need app passwords (the “Create an app password” button below)`,
        ),
      );
  }
}
