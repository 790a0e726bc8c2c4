/**
 * The self-service portal on the HTTP listener (`/portal`): a user changes their own password
 * (R-ACC-2: the initial password at first sign-in; R-AUTH-2: an expired one). IMAP, POP3 and
 * SMTP refuse such accounts and name `passwords.changeUrl`, which points here.
 *
 * - No session and no cookie: every change carries the address, the current password and, for
 *   an account with two-factor sign-in, its code. A form posted from another site is refused
 *   all the same (Sec-Fetch-Site, Origin): it would let other sites' visitors guess passwords
 *   from many addresses.
 * - The listener is plain HTTP: the portal is published through an HTTPS reverse proxy listed
 *   in `security.trustedProxies`. From such a proxy only X-Forwarded-Proto: https lets a
 *   password through, and its X-Forwarded-For names the client. A client that is not a listed
 *   proxy is judged by `security.allowPlaintextAuth` (TLS, or loopback by default).
 * - The checks, the throttling and the audit entry are the auth service's (auth/service.ts
 *   changePassword); this file only speaks HTTP and HTML.
 */
import { BlockList, isIP } from 'node:net';
import type http from 'node:http';
import { PORTAL_PLAINTEXT_REFUSED, type AuthService, type PasswordChangeFailureKind, type PortalCredentialFailureKind } from '../auth/index.js';
import type { Config } from '../config/schema.js';
import { bi } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { normalizeIp } from '../net/index.js';

/** Fields longer than this are refused before any hashing. */
export const MAX_FIELD_CHARS = 1024;

export interface PortalDeps {
  config: Readonly<Config>;
  auth: AuthService;
  /** Where refusals are logged (the listener passes it to every portal and admin page). */
  log?: Logger;
}

/** Logs one refusal of a portal or admin request (warn: address, path, reason; never a field's value). */
export function logRefusal(log: Logger | undefined, req: http.IncomingMessage, ip: string | null, status: number, reason: string, extra: Record<string, unknown> = {}): void {
  const path = (req.url ?? '').split('?')[0]?.slice(0, 200);
  // The socket is gone (null) once a body read was abandoned: the caller's address counts first.
  const socket = req.socket as http.IncomingMessage['socket'] | null;
  log?.warn({ ip: ip ?? normalizeIp(socket?.remoteAddress), path, status, reason, ...extra }, 'http request refused');
}

/** Where a request comes from: the peer, or the client a trusted reverse proxy names. */
export interface PortalClient {
  /** The client's address; null when a trusted proxy did not name a usable one. */
  ip: string | null;
  /** TLS up to the server, or (through a trusted proxy) up to the proxy by its X-Forwarded-Proto. */
  secure: boolean;
  /** The request came through a listed proxy: the loopback exemption never applies to it. */
  proxied: boolean;
}

/** A BlockList of addresses and CIDR blocks (security.trustedProxies, security.metricsAllow). */
export function addressList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const e of entries) {
    const [addr = '', prefix] = e.split('/');
    const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(prefix), type);
  }
  return list;
}

/** Is `ip` (normalised) in `list`? */
export function listed(list: BlockList, ip: string): boolean {
  const family = isIP(ip);
  return family !== 0 && list.check(ip, family === 6 ? 'ipv6' : 'ipv4');
}

/** The peer is one of security.trustedProxies. */
function clientIsProxied(req: http.IncomingMessage, trusted: BlockList): boolean {
  return listed(trusted, normalizeIp(req.socket.remoteAddress));
}

/**
 * The client of a request. X-Forwarded-For and -Proto count only from a listed proxy; then the
 * proxy's own TLS state says nothing (it is the proxy's hop to us) and only its
 * X-Forwarded-Proto does, and a missing or unusable X-Forwarded-For gives no address at all
 * (never the proxy's loopback address, which would share one throttle among all users).
 */
export function clientOf(req: http.IncomingMessage, trusted: BlockList): PortalClient {
  const peer = normalizeIp(req.socket.remoteAddress);
  const tls = 'encrypted' in req.socket && req.socket.encrypted === true;
  if (!clientIsProxied(req, trusted)) return { ip: peer, secure: tls, proxied: false };
  const header = (name: string): string => {
    const v = req.headers[name];
    return (Array.isArray(v) ? v.join(',') : (v ?? '')).trim();
  };
  // The proxy appends the address it saw: the last entry is the one it vouches for.
  const forwarded = header('x-forwarded-for').split(',').map((x) => x.trim()).filter(Boolean);
  const last = normalizeIp(forwarded[forwarded.length - 1]);
  const proto = header('x-forwarded-proto').split(',').pop()?.trim().toLowerCase();
  return { ip: isIP(last) !== 0 ? last : null, secure: proto === 'https', proxied: true };
}

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** One bilingual line given as its two halves, escaped (a label or address may itself contain " / "). */
export function pair(vi: string, en: string): string {
  return `${esc(vi)}<br><small>${esc(en)}</small>`;
}

export const PORTAL_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  // Nothing from elsewhere, no framing (clickjacking), the form posts only here.
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  // same-origin, not no-referrer: with no-referrer a browser sends "Origin: null" even for this
  // page's own form (Fetch, serializing a request origin), and the Origin check could not tell.
  'referrer-policy': 'same-origin',
};

/** A bilingual notice ("vi / en") above a form. */
export interface Notice {
  kind: 'ok' | 'error' | 'warn';
  text: string;
}

/** The notice of a refused credential check: an SMS code sent is no error, only the next step. */
export function refusalNotice(kind: string, text: string): Notice {
  return { kind: kind === 'code-sent' ? 'ok' : 'error', text };
}

interface PageText {
  status: number;
  /** Bilingual notice above the form ("vi / en"), if any. */
  notice?: Notice;
  /** Show the form (not after a successful change). */
  form: boolean;
  username?: string;
}

/** The password rules (passwords.*), as one bilingual sentence under a new-password field. */
export function rulesText(config: Readonly<Config>): string {
  const p = config.passwords;
  const parts: Array<[string, string]> = [
    [`ít nhất ${p.userMinLength} ký tự (quản trị viên: ${p.adminMinLength})`, `at least ${p.userMinLength} characters (administrators: ${p.adminMinLength})`],
    ...(p.requireLower ? [['chữ thường', 'a lower-case letter'] as [string, string]] : []),
    ...(p.requireUpper ? [['chữ hoa', 'an upper-case letter'] as [string, string]] : []),
    ...(p.requireDigit ? [['chữ số', 'a digit'] as [string, string]] : []),
    ...(p.requireSpecial ? [[`ký tự đặc biệt (${p.specialCharacters})`, `a special character (${p.specialCharacters})`] as [string, string]] : []),
  ];
  return bi(`Mật khẩu mới cần ${parts.map(([vi]) => vi).join(', ')}.`, `The new password needs ${parts.map(([, en]) => en).join(', ')}.`);
}

/** One bilingual label: Vietnamese, then English in a smaller line. */
export function label(text: string): string {
  const [vi, en] = text.split(' / ');
  return `${esc(vi ?? text)}${en ? `<br><small>${esc(en)}</small>` : ''}`;
}

export function noticeHtml(notice: Notice | undefined): string {
  return notice ? `<p class="${notice.kind}" role="${notice.kind === 'ok' ? 'status' : 'alert'}">${label(notice.text)}</p>` : '';
}

/** One input with its bilingual label, as every portal form has them. */
export function portalField(name: string, text: string, type: string, extra = '', maxLength = MAX_FIELD_CHARS): string {
  return `<p><label for="${name}">${label(text)}</label><br><input id="${name}" name="${name}" type="${type}" maxlength="${maxLength}" ${extra}></p>`;
}

/** The label of the code field on every form that takes credentials. */
export const CODE_LABEL = bi(
  'Mã xác thực 6 số (khi tài khoản dùng xác thực hai lớp; nhận mã qua SMS: để trống và bấm nút, mã sẽ được gửi tới điện thoại)',
  '6-digit code (if the account uses two-factor sign-in; codes by SMS: leave it empty and press the button, the code is sent to your phone)',
);

/** The fields every portal change is checked with: address, current password, code. */
export function credentialFields(username: string | undefined): string {
  return `${portalField('username', bi('Địa chỉ thư hoặc tên đăng nhập', 'E-mail address or user name'), 'text', `required autocomplete="username" value="${esc(username ?? '')}"`)}
${portalField('password', bi('Mật khẩu hiện tại', 'Current password'), 'password', 'required autocomplete="current-password"')}
${portalField('totp', CODE_LABEL, 'text', 'inputmode="numeric" autocomplete="one-time-code"')}`;
}

/** "Forgot password" by SMS is on (R-AUTH-4): an SMS gateway and sms.passwordReset. */
export function selfResetOn(config: Readonly<Config>): boolean {
  return config.sms.command !== null && config.sms.passwordReset;
}

/** The portal's pages: one bilingual heading ("vi / en"), the organisation, links between the pages, the content. */
export function portalShell(config: Readonly<Config>, heading: string, content: string): string {
  const [vi = heading, en = ''] = heading.split(' / ');
  return `<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(vi)} / ${esc(en)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem}input{width:100%;padding:.4rem;box-sizing:border-box}input[type=radio]{width:auto}small{color:#555}.ok{color:#064}.error{color:#a00}.warn{color:#840}.secret{font-size:1.4rem;font-family:monospace;background:#eef;padding:.5rem;word-break:break-all}nav{margin-bottom:1rem}fieldset{margin:1rem 0}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .4rem;text-align:left}.qr svg{width:220px;height:220px}</style>
</head><body>
<nav><a href="/portal">Đổi mật khẩu / Change password</a> · <a href="/portal/security">Xác thực hai lớp và mật khẩu ứng dụng / Two-factor sign-in and app passwords</a>${selfResetOn(config) ? ' · <a href="/portal/forgot">Quên mật khẩu / Forgot password</a>' : ''}</nav>
<h1>${esc(vi)}<br><small>${esc(en)}</small></h1>
<p>${esc(config.organization.name)}</p>
${content}
</body></html>
`;
}

export function portalPage(config: Readonly<Config>, page: PageText): { status: number; body: string } {
  const form = page.form
    ? `<form method="post" action="/portal" autocomplete="off">
${credentialFields(page.username)}
${portalField('newPassword', bi('Mật khẩu mới', 'New password'), 'password', 'required autocomplete="new-password"')}
${portalField('repeat', bi('Nhập lại mật khẩu mới', 'New password again'), 'password', 'required autocomplete="new-password"')}
<p><small>${label(rulesText(config))}</small></p>
<p><button type="submit">Đổi mật khẩu / Change password</button></p>
</form>`
    : '';
  return { status: page.status, body: portalShell(config, bi('Đổi mật khẩu thư', 'Change your mail password'), `${noticeHtml(page.notice)}\n${form}`) };
}

/**
 * The origins this page may be posted from: its Host (and a trusted proxy's X-Forwarded-Host),
 * over http and https, and the origin of passwords.changeUrl (what users are sent to, even when
 * a proxy rewrites Host).
 */
function ownOrigins(req: http.IncomingMessage, trusted: BlockList, config: Readonly<Config>): Set<string> {
  const hosts = [String(req.headers.host ?? '')];
  if (clientIsProxied(req, trusted)) hosts.push(String(req.headers['x-forwarded-host'] ?? '').split(',')[0]?.trim() ?? '');
  const out = new Set<string>();
  for (const h of hosts.filter(Boolean)) for (const scheme of ['http', 'https']) out.add(`${scheme}://${h}`.toLowerCase());
  try {
    out.add(new URL(config.passwords.changeUrl).origin.toLowerCase());
  } catch {
    // Not a URL: nothing to add.
  }
  return out;
}

/** HTTP statuses of the refusals every portal page shares (the credential check, then the password's state). */
export const CREDENTIAL_STATUS: Readonly<Record<PortalCredentialFailureKind | 'must-change' | 'expired', number>> = {
  'bad-credentials': 401,
  totp: 401,
  // The password was right and a code went to the phone: the form comes back for it.
  'code-sent': 200,
  'sms-failed': 503,
  'sms-capped': 429,
  'no-phone': 409,
  suspended: 403,
  deleted: 403,
  'plaintext-refused': 403,
  'must-change': 403,
  expired: 403,
  throttled: 429,
};

const STATUS_OF: Record<PasswordChangeFailureKind, number> = { ...CREDENTIAL_STATUS, weak: 400, unchanged: 400 };

/** How the portal may proceed with a request: its client, and whether a password may come from there. */
export interface PortalRequest {
  client: PortalClient;
  /** TLS (or a trusted proxy's https), or a client allowPlaintextAuth exempts. */
  canSendPasswords: boolean;
}

/** Shown instead of a form on a page not opened over HTTPS. */
export const NOT_OVER_TLS: Notice = {
  kind: 'warn',
  text: bi(
    'Trang này chưa được mở qua HTTPS: không thể gửi mật khẩu. Hãy mở địa chỉ https:// do quản trị viên cung cấp',
    'This page was not opened over HTTPS, so no password can be sent. Open the https:// address your administrator gave you',
  ),
};

/** Headers a reverse proxy adds (RFC 7239 Forwarded, the X-Forwarded-* family, nginx's X-Real-IP). */
const PROXY_HEADERS = ['forwarded', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-real-ip'];

/**
 * A request carrying a reverse proxy's headers from a peer that is not in
 * security.trustedProxies: most often a proxy on this host that was never listed. Its users
 * would all look like the proxy's address (the loopback exemption, one shared throttle).
 */
export function fromUnlistedProxy(req: http.IncomingMessage, trusted: BlockList): boolean {
  return !clientIsProxied(req, trusted) && PROXY_HEADERS.some((h) => req.headers[h] !== undefined);
}

export function portalRequest(deps: PortalDeps, trusted: BlockList, req: http.IncomingMessage): PortalRequest {
  const client = clientOf(req, trusted);
  // Through a proxy only its X-Forwarded-Proto counts: the loopback exemption is for clients on
  // this host, and every proxied request comes from the proxy's address. A proxy that is not
  // listed gets no exemption either: only TLS to this server itself (or "always") lets a password in.
  const plaintext = deps.config.security.allowPlaintextAuth;
  const canSendPasswords = client.proxied
    ? client.ip !== null && (client.secure || plaintext === 'always')
    : fromUnlistedProxy(req, trusted)
      ? client.ip !== null && (client.secure || plaintext === 'always')
      : client.ip !== null && deps.auth.plaintextAllowed(client.ip, client.secure);
  return { client, canSendPasswords };
}

/** A posted portal form that passed the checks every portal page makes, or the refusal to show. */
export type PortalForm =
  | {
      ok: true;
      /** A field's value ('' when missing); every field is at most MAX_FIELD_CHARS long. */
      get: (name: string) => string;
      ip: string;
      /** What the auth service is told: TLS, or a trusted proxy's https (canSendPasswords held). */
      secure: boolean;
    }
  | { ok: false; status: number; notice: Notice; form: boolean };

/**
 * The checks every portal POST takes before its fields are read: another site's form refused
 * (Sec-Fetch-Site, Origin), a proxy that names no client refused, passwords only where they may
 * travel, this page's form type only, the body's size and every field's length.
 */
export async function readPortalForm(
  deps: PortalDeps,
  trusted: BlockList,
  req: http.IncomingMessage,
  pr: PortalRequest,
  body: () => Promise<string | null>,
): Promise<PortalForm> {
  const { client, canSendPasswords } = pr;
  const refuse = (status: number, reason: string, notice: Notice, form: boolean): PortalForm => {
    logRefusal(deps.log, req, client.ip, status, reason);
    return { ok: false, status, form, notice };
  };
  // A form posted from another site is refused before anything is read. Browsers say where a
  // form comes from (Sec-Fetch-Site, Origin); a request without either is no browser's, and a
  // browser cannot be made to send one without them.
  const site = String(req.headers['sec-fetch-site'] ?? '').toLowerCase();
  const origin = req.headers.origin;
  const crossSite = (site !== '' && site !== 'same-origin' && site !== 'none') || (origin !== undefined && !ownOrigins(req, trusted, deps.config).has(origin.toLowerCase()));
  if (crossSite) {
    return refuse(403, 'cross-site form', { kind: 'error', text: bi('Biểu mẫu gửi từ trang khác bị từ chối', 'A form sent from another site is refused') }, false);
  }
  if (client.ip === null) {
    return refuse(
      400,
      'trusted proxy named no client (X-Forwarded-For)',
      { kind: 'error', text: bi('Proxy không cho biết địa chỉ của người dùng (X-Forwarded-For)', 'The proxy did not give the user\'s address (X-Forwarded-For)') },
      false,
    );
  }
  if (!canSendPasswords) return refuse(403, 'password form without TLS', { kind: 'error', text: PORTAL_PLAINTEXT_REFUSED }, false);
  const type = String(req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    return refuse(415, 'not a form (content type)', { kind: 'error', text: bi('Chỉ nhận biểu mẫu của trang này', 'Only this page\'s form is accepted') }, true);
  }
  const text = await body();
  if (text === null) return refuse(413, 'body too large', { kind: 'error', text: bi('Yêu cầu quá lớn', 'Request too large') }, false);
  const fields = new URLSearchParams(text);
  for (const [k, v] of fields) {
    if (k.length > MAX_FIELD_CHARS || v.length > MAX_FIELD_CHARS) {
      return refuse(400, 'field too long', { kind: 'error', text: bi('Có ô quá dài', 'A field is too long') }, true);
    }
  }
  return { ok: true, get: (name) => fields.get(name) ?? '', ip: client.ip, secure: client.secure || client.proxied };
}

/** The portal's answer to one request; `body` reads the request's body (null: larger than the listener takes). */
export async function handlePortal(
  deps: PortalDeps,
  trusted: BlockList,
  req: http.IncomingMessage,
  body: () => Promise<string | null>,
): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const { config, auth } = deps;
  const answer = (page: PageText) => {
    const p = portalPage(config, page);
    return { status: p.status, headers: { ...PORTAL_HEADERS }, body: p.body };
  };
  const pr = portalRequest(deps, trusted, req);
  const { canSendPasswords } = pr;
  if (req.method !== 'POST') return answer({ status: 200, form: canSendPasswords, ...(canSendPasswords ? {} : { notice: NOT_OVER_TLS }) });
  const form = await readPortalForm(deps, trusted, req, pr, body);
  if (!form.ok) return answer({ status: form.status, form: form.form && canSendPasswords, notice: form.notice });
  const username = form.get('username').trim();
  const [password, newPassword, repeat, totp] = [form.get('password'), form.get('newPassword'), form.get('repeat'), form.get('totp').trim()];
  if (username === '' || password === '' || newPassword === '') {
    logRefusal(deps.log, req, form.ip, 400, 'password change form incomplete');
    return answer({ status: 400, form: canSendPasswords, username, notice: { kind: 'error', text: bi('Hãy điền địa chỉ, mật khẩu hiện tại và mật khẩu mới', 'Fill in the address, the current password and the new password') } });
  }
  if (newPassword !== repeat) {
    logRefusal(deps.log, req, form.ip, 400, 'new passwords differ');
    return answer({ status: 400, form: canSendPasswords, username, notice: { kind: 'error', text: bi('Hai lần nhập mật khẩu mới không khớp', 'The two new passwords do not match') } });
  }
  // canSendPasswords held above; auth applies the plaintext rule again to what it is told.
  const r = await auth.changePassword({ username, password, newPassword, totp: totp === '' ? null : totp, ip: form.ip, secure: form.secure });
  if (r.ok) {
    return answer({
      status: 200,
      form: false,
      notice: {
        kind: 'ok',
        text: bi(
          `Đã đổi mật khẩu của ${r.account.address}. Hãy dùng mật khẩu mới trong chương trình thư`,
          `The password of ${r.account.address} has been changed. Use the new password in your mail program`,
        ),
      },
    });
  }
  return answer({ status: STATUS_OF[r.kind], form: canSendPasswords, username, notice: refusalNotice(r.kind, r.message) });
}
