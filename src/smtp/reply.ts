/**
 * The one mapping from MailError codes (and SMTP situations) to wire replies:
 * reply code, RFC 3463 enhanced status code and a bilingual text, Vietnamese first.
 * Internal detail never reaches the client; it goes to the log.
 */
import { SIGN_IN_GONE } from '../auth/sign-in-holds.js';
import { bi, isMailError, isStorageFull, STORAGE_FULL_TEXT, type MailErrorCode } from '../lib/errors.js';

export interface SmtpReply {
  code: number;
  /** RFC 3463 enhanced status code, e.g. "5.7.1". */
  enhanced: string;
  text: string;
}

/** An Error that smtp-server turns into this reply (see wire.ts: the enhanced code is kept as given). */
export interface SmtpHookError extends Error {
  responseCode: number;
}

export function reply(code: number, enhanced: string, text: string): SmtpReply {
  return { code, enhanced, text };
}

/** "550 5.1.1 text" as one line (logs, DSN diagnostic codes). */
export function formatReply(r: SmtpReply): string {
  return `${r.code} ${r.enhanced} ${r.text}`;
}

/** The error object smtp-server hooks take: message "5.1.1 text", responseCode 550. */
export function hookError(r: SmtpReply): SmtpHookError {
  const e = new Error(`${r.enhanced} ${r.text}`) as SmtpHookError;
  e.responseCode = r.code;
  return e;
}

/** Replies used across the SMTP layer, each bilingual. */
export const replies = {
  relayDenied: (): SmtpReply =>
    reply(554, '5.7.1', bi('Không chuyển tiếp thư cho địa chỉ này (máy chủ không phải open relay)', 'Relaying denied for this address')),
  unknownUser: (): SmtpReply => reply(550, '5.1.1', bi('Hộp thư không tồn tại', 'No such mailbox')),
  badRecipientSyntax: (): SmtpReply => reply(553, '5.1.3', bi('Địa chỉ người nhận không hợp lệ', 'Invalid recipient address')),
  badSenderSyntax: (): SmtpReply => reply(553, '5.1.7', bi('Địa chỉ người gửi không hợp lệ', 'Invalid sender address')),
  senderNotOwned: (): SmtpReply =>
    reply(553, '5.7.1', bi('Bạn không được gửi thư với địa chỉ người gửi này', 'You may not send as this sender address')),
  fromNotOwned: (): SmtpReply =>
    reply(553, '5.7.1', bi('Tiêu đề From không phải địa chỉ của bạn', 'The From header is not one of your addresses')),
  senderHeaderNotOwned: (): SmtpReply =>
    reply(553, '5.7.1', bi('Tiêu đề Sender không phải địa chỉ của bạn', 'The Sender header is not one of your addresses')),
  /** A display name (From or Sender) showing an address that is not the sender's own, or control characters. */
  misleadingDisplayName: (): SmtpReply =>
    reply(
      553,
      '5.7.1',
      bi('Tên hiển thị trong From hoặc Sender chứa địa chỉ khác hoặc ký tự điều khiển', 'The display name in From or Sender shows another address or holds control characters'),
    ),
  /** RFC 6531 §3.5: a non-ASCII address needs the SMTPUTF8 parameter on MAIL. */
  utf8SenderWithoutSmtputf8: (): SmtpReply =>
    reply(550, '5.6.7', bi('Địa chỉ người gửi có ký tự ngoài ASCII: cần tham số SMTPUTF8', 'Non-ASCII sender address without the SMTPUTF8 parameter')),
  utf8RecipientWithoutSmtputf8: (): SmtpReply =>
    reply(553, '5.6.7', bi('Địa chỉ người nhận có ký tự ngoài ASCII: cần tham số SMTPUTF8 ở lệnh MAIL', 'Non-ASCII recipient address without SMTPUTF8 on MAIL')),
  overQuota: (): SmtpReply => reply(452, '4.2.2', bi('Hộp thư người nhận đã đầy', 'Recipient mailbox is over quota')),
  tooManyRecipients: (max: number): SmtpReply =>
    reply(452, '4.5.3', bi(`Quá nhiều người nhận (tối đa ${max})`, `Too many recipients (at most ${max})`)),
  tooLarge: (max: number): SmtpReply =>
    reply(552, '5.3.4', bi(`Thư vượt quá kích thước cho phép (${max} byte)`, `Message exceeds the size limit (${max} bytes)`)),
  bareLineEnding: (): SmtpReply =>
    reply(
      550,
      '5.6.0',
      bi(
        'Thư chứa ký tự CR hoặc LF đứng riêng; chỉ chấp nhận CRLF (RFC 5321 mục 2.3.8)',
        'Message contains a bare CR or LF; only CRLF line endings are accepted (RFC 5321 section 2.3.8)',
      ),
    ),
  headerTooLarge: (max: number): SmtpReply =>
    reply(552, '5.3.4', bi(`Phần tiêu đề thư quá lớn (tối đa ${max} byte)`, `Message header section too large (at most ${max} bytes)`)),
  headerLineTooLong: (max: number): SmtpReply =>
    reply(550, '5.6.0', bi(`Dòng tiêu đề thư quá dài (tối đa ${max} byte)`, `Message header line too long (at most ${max} bytes)`)),
  temporary: (): SmtpReply => reply(451, '4.3.0', bi('Lỗi tạm thời, vui lòng thử lại sau', 'Temporary failure, please try again later')),
  tooManyConnections: (): SmtpReply =>
    reply(421, '4.7.0', bi('Quá nhiều kết nối từ địa chỉ IP của bạn, thử lại sau', 'Too many connections from your IP address, try again later')),
  tooManyBadCommands: (): SmtpReply =>
    reply(421, '4.7.0', bi('Quá nhiều lệnh sai, đóng kết nối', 'Too many bad commands, closing connection')),
  authRequired: (): SmtpReply => reply(530, '5.7.0', bi('Cần đăng nhập trước', 'Authentication required')),
  /** RFC 3207 §4: AUTH on a connection that must be encrypted first. */
  tlsRequired: (): SmtpReply => reply(530, '5.7.0', bi('Cần dùng STARTTLS trước khi đăng nhập', 'Must issue a STARTTLS command first')),
  authFailed: (): SmtpReply => reply(535, '5.7.8', bi('Sai tên đăng nhập hoặc mật khẩu', 'Authentication credentials invalid')),
  dmarcReject: (domain: string): SmtpReply =>
    reply(
      550,
      '5.7.1',
      bi(`Thư không vượt qua kiểm tra DMARC của ${domain} (p=reject)`, `Message failed the DMARC policy of ${domain} (p=reject)`),
    ),
  /** RFC 5321 §6.3: a server MUST detect trivial loops; counting Received fields is the usual way. */
  mailLoop: (max: number): SmtpReply =>
    reply(
      554,
      '5.4.6',
      bi(`Phát hiện thư chuyển vòng lặp (quá ${max} tiêu đề Received)`, `Mail loop detected (more than ${max} Received headers)`),
    ),
  /** RFC 5322 §3.6: the From field occurs exactly once. */
  multipleFrom: (): SmtpReply =>
    reply(550, '5.6.0', bi('Thư có nhiều hơn một tiêu đề From (RFC 5322 mục 3.6)', 'Message has more than one From header (RFC 5322 section 3.6)')),
  /** Submission: more authors in From than a signed-in user needs (server.ts MAX_AUTHORS: why 550 5.7.1). */
  tooManyAuthors: (max: number): SmtpReply =>
    reply(550, '5.7.1', bi(`Tiêu đề From có quá nhiều địa chỉ tác giả (tối đa ${max})`, `The From header names too many authors (at most ${max})`)),
  multipleSender: (): SmtpReply =>
    reply(550, '5.6.0', bi('Thư có nhiều hơn một tiêu đề Sender (RFC 5322 mục 3.6)', 'Message has more than one Sender header (RFC 5322 section 3.6)')),
  /** The session's sign-in no longer holds (reset, suspension, revocation): 421 closes the connection. */
  signInGone: (): SmtpReply => reply(421, '4.7.0', SIGN_IN_GONE),
  /** RFC 5321 §4.1.1.11, RFC 1869: a parameter of no extension we advertise. */
  unknownParameter: (name: string): SmtpReply => {
    const n = String(name).replace(/[^A-Za-z0-9-]/g, '').slice(0, 32) || '?';
    return reply(555, '5.5.4', bi(`Tham số ${n} không được hỗ trợ`, `Parameter ${n} not recognized or not implemented`));
  },
  commandTimeout: (): SmtpReply =>
    reply(421, '4.4.2', bi('Lệnh không được gửi hết trong thời gian cho phép, đóng kết nối', 'Command not completed in time, closing connection')),
  sessionTimeout: (): SmtpReply =>
    reply(421, '4.4.2', bi('Phiên kết nối đã quá thời gian cho phép, đóng kết nối', 'Session time limit reached, closing connection')),
  accepted: (id: string): SmtpReply => reply(250, '2.0.0', bi(`Đã nhận thư, mã ${id}`, `Message accepted, id ${id}`)),
  // RFC 3461 DSN parameters (smtp/dsn-params.ts; wire.ts gives smtp-server's own refusals these texts)
  badDsnNotify: (): SmtpReply =>
    reply(
      501,
      '5.5.4',
      bi('Tham số NOTIFY không hợp lệ: NEVER, hoặc kết hợp SUCCESS, FAILURE, DELAY', 'Invalid NOTIFY parameter: NEVER, or any of SUCCESS, FAILURE, DELAY'),
    ),
  dsnNotifyNeverCombined: (): SmtpReply =>
    reply(501, '5.5.4', bi('NOTIFY=NEVER không được kết hợp với giá trị khác', 'NOTIFY=NEVER cannot be combined with other values')),
  badDsnOrcpt: (): SmtpReply =>
    reply(
      501,
      '5.5.4',
      bi('Tham số ORCPT không hợp lệ (kiểu-địa-chỉ;xtext, tối đa 500 ký tự)', 'Invalid ORCPT parameter (addr-type;xtext, at most 500 characters)'),
    ),
  badDsnEnvid: (): SmtpReply =>
    reply(501, '5.5.4', bi('Tham số ENVID không hợp lệ (xtext, tối đa 100 ký tự)', 'Invalid ENVID parameter (xtext, at most 100 characters)')),
  badDsnRet: (): SmtpReply => reply(501, '5.5.4', bi('Tham số RET không hợp lệ (FULL hoặc HDRS)', 'Invalid RET parameter (FULL or HDRS)')),
};

/** MailError code → SMTP reply (DESIGN.md: one error type, translated once per protocol). */
const BY_CODE: Record<MailErrorCode, SmtpReply> = {
  NOT_FOUND: replies.unknownUser(),
  ALREADY_EXISTS: reply(451, '4.3.0', bi('Lỗi tạm thời', 'Temporary failure')),
  INVALID_INPUT: reply(501, '5.5.4', bi('Tham số không hợp lệ', 'Invalid parameters')),
  PERMISSION_DENIED: reply(550, '5.7.1', bi('Không được phép', 'Not authorised')),
  AUTH_FAILED: replies.authFailed(),
  ACCOUNT_SUSPENDED: reply(535, '5.7.8', bi('Tài khoản đang tạm khóa, liên hệ quản trị', 'Account suspended, contact the administrator')),
  ACCOUNT_DELETED: replies.authFailed(),
  PASSWORD_EXPIRED: reply(535, '5.7.8', bi('Mật khẩu đã hết hạn, hãy đổi mật khẩu', 'Password expired, please change it')),
  PASSWORD_MUST_CHANGE: reply(535, '5.7.8', bi('Cần đổi mật khẩu lần đầu trước khi dùng', 'You must change your initial password first')),
  PASSWORD_WEAK: reply(535, '5.7.8', bi('Mật khẩu không đạt yêu cầu', 'Password does not meet the rules')),
  OVER_QUOTA: replies.overQuota(),
  TOO_LARGE: reply(552, '5.3.4', bi('Thư quá lớn', 'Message too large')),
  LIMIT_EXCEEDED: reply(451, '4.7.1', bi('Vượt giới hạn gửi, thử lại sau', 'Sending limit exceeded, try again later')),
  IN_USE: reply(451, '4.3.0', bi('Tài nguyên đang bận, thử lại sau', 'Resource busy, try again later')),
  POLICY_REJECT: reply(550, '5.7.1', bi('Thư bị từ chối theo chính sách', 'Message rejected by policy')),
  TEMPORARY: replies.temporary(),
  CONFIG: replies.temporary(),
  INTERNAL: replies.temporary(),
};

/**
 * Reply for anything thrown below the SMTP layer. A MailError keeps its own bilingual
 * message when it has one (policy texts name the file and the rule); anything else is a
 * temporary failure so the sender retries (durability: never lose mail on a bug).
 */
export function replyForError(e: unknown): SmtpReply {
  // RFC 3463 §3.4: X.3.1 "mail system full"; 452 (RFC 5321 §4.2.2: insufficient system storage).
  if (isStorageFull(e)) return reply(452, '4.3.1', STORAGE_FULL_TEXT);
  if (!isMailError(e)) return replies.temporary();
  const base = BY_CODE[e.code];
  const text = e.message.includes(' / ') ? e.message : base.text;
  return { ...base, text };
}
