/**
 * Adjustments to smtp-server's connection, installed once per process:
 *
 * 1. smtp-server picks an enhanced status code from the reply code alone (550 → 5.1.1,
 *    554 → 5.6.0 …), so a hook cannot say `554 5.7.1` or `452 4.5.3`. A hook error whose
 *    message starts with an enhanced code (reply.ts's hookError) is sent as given.
 * 2. smtp-server's own texts are English; every reply we send is bilingual, Vietnamese first.
 * 3. (below) addresses with full-width/ideographic dots reach the hooks as sent.
 * 4. (below) MAIL/RCPT parameters reach the hooks as sent too (`esmtpRaw`), next to
 *    smtp-server's xtext-decoded `args`: the DSN parameters' xtext syntax is checked on them.
 * 5. (below) EXPN answers 252; smtp-server's joke commands, XCLIENT and XFORWARD are removed.
 */
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { bi } from '../lib/errors.js';
import { FULLWIDTH_DOTS } from '../mail/addresses.js';
import { replies } from './reply.js';

const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3} /;

/**
 * Replies written in one turn of the event loop leave in one write: the socket is corked at the
 * first and uncorked at the end of the turn (setImmediate). A pipelining client's MAIL, RCPT and
 * DATA are answered by three replies in the same turn — one system call instead of three. Not for
 * 220 (STARTTLS hands the socket over right after it) nor 221/421 (the connection closes; end()
 * flushes anyway).
 */
function coalesce(conn: SMTPConnection, code: number): void {
  if (code === 220 || code === 221 || code === 421) return;
  const socket = (conn as unknown as { _socket?: { writableCorked?: number; cork?: () => void; uncork?: () => void; destroyed?: boolean } })._socket;
  if (!socket?.cork || !socket.uncork || socket.destroyed || (socket.writableCorked ?? 0) > 0) return;
  socket.cork();
  setImmediate(() => socket.uncork?.());
}

/** smtp-server's built-in texts (by prefix) → bilingual text. */
const TRANSLATIONS: Array<[string, (rest: string) => string]> = [
  ['Accepted', () => bi('Đồng ý', 'Accepted')],
  ['Ready to start TLS', () => bi('Sẵn sàng bắt đầu TLS', 'Ready to start TLS')],
  ['Bye', () => bi('Tạm biệt', 'Bye')],
  ['Try to send something. No promises though', () => bi('Không xác minh địa chỉ; hãy gửi thư', 'Cannot verify the address; send the message')],
  ['End data with <CR><LF>.<CR><LF>', () => bi('Gửi nội dung thư, kết thúc bằng <CR><LF>.<CR><LF>', 'End data with <CR><LF>.<CR><LF>')],
  ['Error: too many unauthenticated commands', () => bi('Quá nhiều lệnh khi chưa đăng nhập', 'Too many unauthenticated commands')],
  ['Error: too many unrecognized commands', () => bi('Quá nhiều lệnh không hợp lệ', 'Too many unrecognized commands')],
  ['Error: too many recipients', () => bi('Quá nhiều người nhận', 'Too many recipients')],
  ['Server shutting down', () => bi('Máy chủ đang tắt', 'Server shutting down')],
  ['Timeout - closing connection', () => bi('Hết thời gian chờ, đóng kết nối', 'Timeout, closing connection')],
  ['Error: internal server error', () => bi('Lỗi máy chủ, thử lại sau', 'Internal server error, try again later')],
  ['Error: command not recognized', () => bi('Lệnh không hợp lệ', 'Command not recognized')],
  ['Error: Bad recipient address syntax', () => bi('Cú pháp địa chỉ người nhận sai', 'Bad recipient address syntax')],
  ['Error: Bad sender address syntax', () => bi('Cú pháp địa chỉ người gửi sai', 'Bad sender address syntax')],
  ['Error: need MAIL command', () => bi('Cần lệnh MAIL trước', 'Need MAIL command')],
  ['Error: need RCPT command', () => bi('Cần lệnh RCPT trước', 'Need RCPT command')],
  ['Error: nested MAIL command', () => bi('Lệnh MAIL lồng nhau', 'Nested MAIL command')],
  ['Error: Must issue a STARTTLS command first', () => bi('Cần dùng STARTTLS trước', 'Must issue a STARTTLS command first')],
  ['Error: authentication Required', () => bi('Cần đăng nhập trước', 'Authentication required')],
  ['Error: message exceeds fixed maximum message size', (rest) => bi(`Thư vượt quá kích thước cho phép${rest}`, `Message exceeds the fixed maximum size${rest}`)],
  ['Authentication successful', () => bi('Đăng nhập thành công', 'Authentication successful')],
  ['Error: Invalid', (rest) => bi(`Tham số không hợp lệ${rest}`, `Invalid${rest}`)],
  ['Error: send HELO/EHLO first', () => bi('Cần gửi HELO/EHLO trước', 'Send HELO/EHLO first')],
  ['Error: Syntax: HELO hostname', () => bi('Cú pháp: HELO tên-máy', 'Syntax: HELO hostname')],
  ['Error: syntax: EHLO hostname', () => bi('Cú pháp: EHLO tên-máy', 'Syntax: EHLO hostname')],
  ['Error: Bad hostname syntax', () => bi('Tên máy sai cú pháp', 'Bad hostname syntax')],
  ['See https://tools.ietf.org/html/rfc5321 for details', () => bi('Hướng dẫn giao thức: RFC 5321, https://www.rfc-editor.org/rfc/rfc5321', 'Protocol help: RFC 5321, https://www.rfc-editor.org/rfc/rfc5321')],
  ['Error: Syntax: VRFY address', () => bi('Cú pháp: VRFY địa-chỉ', 'Syntax: VRFY address')],
  ['Error: Bad message size syntax', () => bi('Tham số SIZE sai cú pháp', 'Bad SIZE parameter syntax')],
  ['Invalid BODY parameter value', () => bi('Giá trị BODY không hợp lệ: chỉ nhận 7BIT hoặc 8BITMIME', 'Invalid BODY value: must be 7BIT or 8BITMIME')],
  ['Error: Command line too long', () => bi('Dòng lệnh quá dài', 'Command line too long')],
  ['Error: TLS already active', () => bi('TLS đã được bật', 'TLS already active')],
  ['Error: syntax: STARTTLS', () => bi('Cú pháp: STARTTLS (không có tham số)', 'Syntax: STARTTLS (no parameters)')],
  ['Error: Unrecognized authentication type', () => bi('Kiểu đăng nhập không được hỗ trợ (dùng PLAIN hoặc LOGIN)', 'Unrecognized authentication type (use PLAIN or LOGIN)')],
  ['Error: invalid userdata', () => bi('Dữ liệu đăng nhập không hợp lệ', 'Invalid authentication data')],
  ['Error: missing username', () => bi('Thiếu tên đăng nhập', 'Missing user name')],
  ['Authentication aborted', () => bi('Đã hủy đăng nhập', 'Authentication aborted')],
  ['Error: No identity changes permitted', () => bi('Đã đăng nhập: không đổi được danh tính', 'Already signed in: no identity changes permitted')],
  ['Error: syntax: AUTH', (rest) => bi(`Cú pháp: AUTH${rest}`, `Syntax: AUTH${rest}`)],
  ['Error: Authentication credentials invalid', () => bi('Sai tên đăng nhập hoặc mật khẩu', 'Invalid user name or password')],
  ['Error: Bad command parameter syntax', () => bi('Tham số lệnh sai cú pháp', 'Bad command parameter syntax')],
  ['HTTP requests not allowed', () => bi('Đây là máy chủ SMTP, không nhận yêu cầu HTTP', 'This is an SMTP server: HTTP requests are not allowed')],
];

/** smtp-server's one-word texts, matched whole (a prefix would also catch longer texts). */
const EXACT: Record<string, string> = {
  OK: bi('Đồng ý', 'OK'),
  Flushed: bi('Đã hủy giao dịch', 'Transaction reset'),
};

/** smtp-server's refusals of DSN parameters (RFC 3461), given the texts our own checks use. */
const PATTERNS: Array<[RegExp, (m: RegExpExecArray) => string]> = [
  [/^Error: NOTIFY parameter must be/, () => replies.badDsnNotify().text],
  [/^Error: NOTIFY=NEVER cannot be combined/, () => replies.dsnNotifyNeverCombined().text],
  [/^Error: Bad ORCPT parameter syntax/, () => replies.badDsnOrcpt().text],
  [/^Invalid RET parameter value/, () => replies.badDsnRet().text],
  [/^Error: duplicate ([A-Z0-9-]+) parameter$/, (m) => bi(`Tham số ${m[1]} bị lặp lại`, `Duplicate ${m[1]} parameter`)],
  [/^Error: ([A-Z0-9-]+) parameter requires a value$/, (m) => bi(`Tham số ${m[1]} cần có giá trị`, `The ${m[1]} parameter requires a value`)],
  // These two start with the server's name.
  [/^(\S+) You talk too soon$/, (m) => `${m[1]} ${bi('Gửi lệnh trước lời chào của máy chủ', 'You talk too soon')}`],
  [/^(\S+) Too many connected clients/, (m) => `${m[1]} ${bi('Quá nhiều kết nối, thử lại sau', 'Too many connected clients, try again in a moment')}`],
];

export function translate(text: string): string {
  if (text.includes(' / ')) return text;
  const exact = EXACT[text];
  if (exact !== undefined) return exact;
  for (const [re, fn] of PATTERNS) {
    const m = re.exec(text);
    if (m) return fn(m);
  }
  for (const [prefix, fn] of TRANSLATIONS) {
    if (text.startsWith(prefix)) return fn(text.slice(prefix.length));
  }
  return text;
}

type ParseFn = (this: SMTPConnection, name: string, command: unknown) => { address: string; esmtpRaw?: Record<string, string | true> } | false;

/**
 * The parameters after the path, split as smtp-server splits them (whitespace, then the first
 * "="), with their values as sent: KEY → value, or true for a bare keyword.
 */
export function rawEsmtpParams(command: string): Record<string, string | true> {
  const out: Record<string, string | true> = {};
  // After the path's closing ">" (a quoted local part or a stray space inside "<…>" is part of
  // the path, not a parameter); a path without brackets ends at the first white space.
  const rest = command.slice(command.indexOf(':') + 1).trim();
  const close = rest.startsWith('<') ? rest.indexOf('>') : -1;
  const parts = close >= 0 ? rest.slice(close + 1).trim().split(/\s+/).filter(Boolean) : rest.split(/\s+/).slice(1);
  for (const p of parts) {
    const i = p.indexOf('=');
    const key = (i < 0 ? p : p.slice(0, i)).toUpperCase();
    if (!key || key in out) continue;
    out[key] = i < 0 ? true : p.slice(i + 1);
  }
  return out;
}
/**
 * Text after the command's first "<…>" that holds another path: a word of its own starting with
 * "<" or ",", or a CR. A "<…>" inside a parameter value is not a path (`AUTH=<>`, RFC 4954 §5).
 */
export function hasSecondPath(command: string): boolean {
  const close = command.indexOf('>');
  if (close < 0) return false;
  const tail = command.slice(close + 1);
  if (tail.includes('\r') || /^\s*,/.test(tail)) return true;
  return tail
    .trim()
    .split(/\s+/)
    .some((word) => word.startsWith('<') || word.startsWith(','));
}

/**
 * AUTH is disabled for this session only (a submission listener's plaintext connection that
 * must use STARTTLS first; the MX disables it for the whole server) and TLS is not up yet.
 */
function authNeedsTls(conn: SMTPConnection): boolean {
  const c = conn as unknown as { secure?: boolean; session?: { disabledCommands?: unknown }; _server: { options: { disabledCommands?: string[] } } };
  const sessionOff = Array.isArray(c.session?.disabledCommands) && c.session.disabledCommands.some((x) => String(x).toUpperCase() === 'AUTH');
  return !c.secure && sessionOff && !(c._server.options.disabledCommands ?? []).includes('AUTH');
}

type SendFn = (this: SMTPConnection, code: number, data?: string | string[], context?: string | false) => void;
let installed = false;

export function installReplyWriter(): void {
  if (installed) return;
  installed = true;
  const proto = SMTPConnection.prototype as unknown as { send: SendFn; _parseAddressCommand: ParseFn };
  // 3. smtp-server maps full-width and ideographic dots to "." (punycode) before our hooks run,
  //    so "lan@example．gov．vn" would look local. Hand the hooks the address as sent instead;
  //    smtp/address.ts then refuses it like every other disguise.
  const parse = proto._parseAddressCommand;
  proto._parseAddressCommand = function parseAddressCommand(this: SMTPConnection, name: string, command: unknown) {
    const text = Buffer.isBuffer(command) ? command.toString('utf8') : String(command);
    // One path per command (RFC 5321 §4.1.1.2-3): "<a> <b>", "<a>,<b>" or "<a>\r<b>" is a syntax
    // error (501), never the first address with the rest ignored.
    if (hasSecondPath(text)) return false;
    const parsed = parse.call(this, name, command);
    if (parsed === false && name.toLowerCase() === 'rcpt to') {
      // A recipient smtp-server finds malformed (trailing dot, quoted @, source route …) still
      // reaches our hook, so the MX answers every relay disguise with the same 554 5.7.1.
      const raw = /^\s*RCPT\s+TO\s*:\s*<([^<>]*)>/i.exec(text)?.[1];
      // Its parameters (DSN ones included) are still checked there.
      if (raw !== undefined && raw.length > 0 && raw.length <= 512) return { address: raw, args: false, esmtpRaw: rawEsmtpParams(text) };
    }
    if (parsed && FULLWIDTH_DOTS.test(text)) {
      const raw = /<([^>]*)>/.exec(text)?.[1];
      if (raw !== undefined) parsed.address = raw;
    }
    if (parsed) parsed.esmtpRaw = rawEsmtpParams(text);
    return parsed;
  };
  const handlers = SMTPConnection.prototype as unknown as Record<string, unknown>;
  // 5. RFC 5321 §7.3: a server that does not expand mailing lists answers EXPN with 252, which
  //    neither confirms nor denies (like VRFY); it is a known command, not a bad one.
  handlers.handler_EXPN = function handlerExpn(this: SMTPConnection, _command: unknown, callback: () => void): void {
    (this as unknown as { send: SendFn }).send.call(this, 252, bi('Không mở rộng danh sách thư; hãy gửi thư', 'Mailing lists are not expanded; send the message'));
    callback();
  };
  // smtp-server's joke commands (WIZ, SHELL, KILL) are not SMTP: they are unknown commands here.
  // So are Postfix's XCLIENT and XFORWARD (never enabled: no useXClient/useXForward), whose
  // handlers would answer an English-only "550 5.7.0 Error: Not allowed".
  for (const c of ['WIZ', 'SHELL', 'KILL', 'XCLIENT', 'XFORWARD']) delete handlers[`handler_${c}`];
  const original = proto.send;
  proto.send = function send(this: SMTPConnection, code: number, data?: string | string[], context?: string | false): void {
    coalesce(this, code);
    if (code === 500 && data === 'Error: command not recognized' && context === 'AUTH' && authNeedsTls(this)) {
      // AUTH is left out of EHLO until STARTTLS on a listener that wants TLS first (it is
      // disabled for the session), but it is a known command: RFC 3207 §4 answers 530 5.7.0, and
      // it does not count as an unknown command.
      const self = this as unknown as { _unrecognizedCommands?: number };
      self._unrecognizedCommands = Math.max(0, (self._unrecognizedCommands ?? 1) - 1);
      const r = replies.tlsRequired();
      return original.call(this, r.code, `${r.enhanced} ${r.text}`, false);
    }
    if (code === 500 && data === 'Error: command not recognized') {
      // smtp-server closes after a fixed 10 unknown commands; smtp.maxBadCommands may be lower.
      const self = this as unknown as { _unrecognizedCommands?: number; _server: { options: { buudienMaxBadCommands?: number } } };
      const limit = self._server.options.buudienMaxBadCommands;
      if (limit !== undefined && (self._unrecognizedCommands ?? 0) >= limit) {
        return original.call(this, 421, `4.7.0 ${bi('Quá nhiều lệnh sai, đóng kết nối', 'Too many bad commands, closing connection')}`, false);
      }
    }
    if (typeof data === 'string' && ENHANCED.test(data)) {
      // Our own reply with its enhanced code: send it verbatim.
      return original.call(this, code, data, false);
    }
    if (typeof data === 'string' && code >= 200) return original.call(this, code, translate(data), context);
    return original.call(this, code, data, context);
  };
}
