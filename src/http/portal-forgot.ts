/**
 * "Forgot password" on the portal (`/portal/forgot`, R-AUTH-4: self-service, or a reset by the
 * unit administrator). Two steps on one page, no session: the address asks for a code by SMS to
 * the phone on file (action `send-code`); the code, the authenticator's code when the account has
 * one, and the new password twice set it (action `reset`). The transport and form checks are the
 * portal's (readPortalForm: same-site forms only, passwords only over HTTPS); the rules, the
 * throttling, the audit and the owner's notice are the auth service's (requestPasswordReset,
 * resetPassword). With no SMS gateway (or `sms.passwordReset: false`) the page says to ask the
 * unit administrator.
 */
import type { BlockList } from 'node:net';
import type http from 'node:http';
import { RESET_UNAVAILABLE, type PasswordResetFailureKind, type PortalAuthService } from '../auth/index.js';
import type { Config } from '../config/schema.js';
import { bi } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import {
  CREDENTIAL_STATUS,
  esc,
  label,
  logRefusal,
  MAX_FIELD_CHARS,
  NOT_OVER_TLS,
  noticeHtml,
  PORTAL_HEADERS,
  portalField,
  portalRequest,
  portalShell,
  readPortalForm,
  rulesText,
  selfResetOn,
  type Notice,
} from './portal.js';

export interface PortalForgotDeps {
  config: Readonly<Config>;
  auth: PortalAuthService;
  log?: Logger;
}

const STATUS: Record<PasswordResetFailureKind, number> = {
  unavailable: 503,
  'plaintext-refused': CREDENTIAL_STATUS['plaintext-refused'],
  throttled: CREDENTIAL_STATUS.throttled,
  'bad-code': 401,
  weak: 400,
  unchanged: 400,
};

interface Page {
  status: number;
  notice?: Notice;
  form: boolean;
  username?: string;
}

/**
 * Two forms, one per step: Enter in a field of the second sends the reset, never a request for a
 * new code (which would void the code being typed in).
 */
function forgotForm(config: Readonly<Config>, username: string | undefined): string {
  const user = (id: string): string =>
    `<p><label for="${id}">${label(bi('Địa chỉ thư hoặc tên đăng nhập', 'E-mail address or user name'))}</label><br><input id="${id}" name="username" type="text" maxlength="${MAX_FIELD_CHARS}" required autocomplete="username" value="${esc(username ?? '')}"></p>`;
  return `<form method="post" action="/portal/forgot" autocomplete="off">
<fieldset><legend>${label(bi('1. Xin mã qua SMS', '1. Ask for a code by SMS'))}</legend>
${user('username')}
<p><button type="submit" name="action" value="send-code">Gửi mã qua SMS / Send a code by SMS</button></p>
</fieldset>
</form>
<form method="post" action="/portal/forgot" autocomplete="off">
<fieldset><legend>${label(bi('2. Đã nhận mã: đặt mật khẩu mới', '2. Got the code: set a new password'))}</legend>
${user('username2')}
${portalField('code', bi('Mã đặt lại mật khẩu 6 số (trong SMS)', '6-digit reset code (in the SMS)'), 'text', 'required inputmode="numeric" autocomplete="one-time-code"')}
${portalField('totp', bi('Mã của ứng dụng xác thực (chỉ khi tài khoản dùng ứng dụng xác thực)', 'Authenticator app code (only if the account uses an authenticator app)'), 'text', 'inputmode="numeric"')}
${portalField('newPassword', bi('Mật khẩu mới', 'New password'), 'password', 'required autocomplete="new-password"')}
${portalField('repeat', bi('Nhập lại mật khẩu mới', 'New password again'), 'password', 'required autocomplete="new-password"')}
<p><small>${label(rulesText(config))}</small></p>
<p><button type="submit" name="action" value="reset">Đặt lại mật khẩu / Reset the password</button></p>
</fieldset>
</form>`;
}

export async function handlePortalForgot(
  deps: PortalForgotDeps,
  trusted: BlockList,
  req: http.IncomingMessage,
  body: () => Promise<string | null>,
): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const { config, auth } = deps;
  const answer = (page: Page) => ({
    status: page.status,
    headers: { ...PORTAL_HEADERS },
    body: portalShell(config, bi('Quên mật khẩu', 'Forgot your password'), `${noticeHtml(page.notice)}\n${page.form ? forgotForm(config, page.username) : ''}`),
  });
  const pr = portalRequest(deps, trusted, req);
  const { canSendPasswords } = pr;
  if (!selfResetOn(config)) {
    // Off: no form to fill in for nothing; a POST is refused by the auth service all the same.
    if (req.method !== 'POST') return answer({ status: 200, form: false, notice: { kind: 'warn', text: RESET_UNAVAILABLE } });
  } else if (req.method !== 'POST') {
    return answer({ status: 200, form: canSendPasswords, ...(canSendPasswords ? {} : { notice: NOT_OVER_TLS }) });
  }
  const form = await readPortalForm(deps, trusted, req, pr, body);
  if (!form.ok) return answer({ status: form.status, form: form.form && canSendPasswords, notice: form.notice });
  const username = form.get('username').trim();
  const action = form.get('action');
  const bad = (text: string, reason: string) => {
    logRefusal(deps.log, req, form.ip, 400, reason);
    return answer({ status: 400, form: true, username, notice: { kind: 'error', text } });
  };
  if (username === '') return bad(bi('Hãy điền địa chỉ thư', 'Fill in the e-mail address'), 'forgot form: no address');
  if (action === 'send-code') {
    const r = await auth.requestPasswordReset({ username, ip: form.ip, secure: form.secure });
    if (r.ok) return answer({ status: 200, form: true, username, notice: { kind: 'ok', text: r.message } });
    return answer({ status: STATUS[r.kind], form: r.kind !== 'unavailable', username, notice: { kind: 'error', text: r.message } });
  }
  if (action !== 'reset') return bad(bi('Yêu cầu không hợp lệ', 'Unknown request'), 'forgot form: unknown action');
  const [code, totp, newPassword, repeat] = [form.get('code').trim(), form.get('totp').trim(), form.get('newPassword'), form.get('repeat')];
  if (code === '' || newPassword === '') return bad(bi('Hãy điền mã trong SMS và mật khẩu mới', 'Fill in the code from the SMS and the new password'), 'forgot form incomplete');
  if (newPassword !== repeat) return bad(bi('Hai lần nhập mật khẩu mới không khớp', 'The two new passwords do not match'), 'new passwords differ');
  const r = await auth.resetPassword({ username, code, totp: totp === '' ? null : totp, newPassword, ip: form.ip, secure: form.secure });
  if (r.ok) {
    return answer({
      status: 200,
      form: false,
      notice: {
        kind: 'ok',
        text: bi(
          `Đã đặt lại mật khẩu của ${r.account.address}. Hãy dùng mật khẩu mới trong chương trình thư`,
          `The password of ${r.account.address} has been reset. Use the new password in your mail program`,
        ),
      },
    });
  }
  return answer({ status: STATUS[r.kind], form: r.kind !== 'unavailable', username, notice: { kind: 'error', text: r.message } });
}
