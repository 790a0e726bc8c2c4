/**
 * Delivery status notifications (RFC 3464): multipart/report with a bilingual human part,
 * the machine-readable message/delivery-status part and the original message's headers, or
 * the whole message for a failure when the sender asked RET=FULL (RFC 3461 §4.3).
 * `createDsnSender` delivers one: into a local sender's INBOX, else (or when that fails for now)
 * through the queue.
 */
import { randomBytes } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { Delivery } from '../delivery/index.js';
import { bi } from '../lib/errors.js';
import { domainOf } from '../mail/addresses.js';
import { encodeHeaderValue } from '../mail/headers.js';
import { parseMessage } from '../mail/parse.js';
import type { MessageDsn, Store } from '../store/port.js';
import { embeddedUnicodeChar } from './dsn-params.js';
import { rfc5322Date } from './received.js';

/**
 * failed / delayed: RFC 3461 §5.2.5–5.2.6; delivered: put into a local mailbox (§5.2.3);
 * relayed: handed to a server that does not offer DSN, so no later notice will come (§5.2.2).
 */
export type DsnAction = 'failed' | 'delayed' | 'delivered' | 'relayed';

export interface DsnRecipient {
  recipient: string;
  action: DsnAction;
  /** RFC 3463 status, e.g. "5.1.1". */
  status: string;
  /** The remote reply or our reason ("smtp; 550 5.1.1 …"). */
  diagnostic: string | null;
  remoteMta: string | null;
  /** The recipient's ORCPT ("rfc822;lan@example.gov.vn"), reported as Original-Recipient. */
  originalRecipient?: string | null;
  /** When this recipient was last tried (Last-Attempt-Date), if not at the notice's `now`. */
  lastAttemptDate?: Date | null;
}

/**
 * The message a notice is about: its bytes, or, when they are lost (the queued blob is gone),
 * what is still known of it, header lines made from the queue's metadata (null: none).
 */
export type DsnOriginal = Buffer | { lost: true; headers: Buffer | null };

export interface DsnInput {
  hostname: string;
  /** The original envelope sender: the DSN goes there. */
  to: string;
  recipients: DsnRecipient[];
  /** The original message (its header section, or all of it for RET=FULL). */
  original: DsnOriginal;
  arrivalDate: Date;
  now: Date;
  /** How long we keep trying (for the delay notice). */
  retryUntil?: Date;
  /** ENVID of the original transaction, reported as Original-Envelope-Id. */
  envid?: string | null;
  /** RET of the original transaction: FULL returns the whole message with a failure notice. */
  ret?: MessageDsn['ret'];
  /** RET=FULL returns the whole message only up to this size; above, its headers. */
  returnFullMaxBytes?: number;
}

function base64Lines(s: string): string {
  return (Buffer.from(s, 'utf8').toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
}

function headerSection(raw: Buffer): Buffer {
  const end = raw.indexOf('\r\n\r\n');
  return end < 0 ? raw.subarray(0, Math.min(raw.length, 64 * 1024)) : raw.subarray(0, end + 2);
}

function has8bit(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if ((b[i] ?? 0) > 0x7f) return true;
  return false;
}

const clean = (s: string): string => s.replace(/[\r\n]+/g, ' ');

/**
 * message/delivery-status fields are US-ASCII: of a bilingual reply ("vi / en") the English
 * half is kept, anything else non-ASCII becomes "?".
 */
function ascii(s: string): string {
  const c = clean(s);
  if (/^[\x20-\x7e]*$/.test(c)) return c;
  // "smtp; 550 5.1.1 Hộp thư không tồn tại / No such mailbox" → "smtp; 550 5.1.1 No such mailbox"
  // Only a reply of ordinary length is searched for its English half: the pattern is polynomial on a long one (review).
  const en = c.length <= 1000 ? /^(.*?\b[245]\.\d{1,3}\.\d{1,3} )[^/]* \/ ([\x20-\x7e]+)$/.exec(c) : null;
  return (en ? `${en[1] ?? ''}${en[2] ?? ''}` : c).replace(/[^\x20-\x7e]/g, '?');
}

/**
 * The address of a Final-Recipient field (RFC 3464 §2.3.2). message/delivery-status is US-ASCII,
 * so an address with other characters (an SMTPUTF8 recipient) takes RFC 6533's utf-8 type in its
 * utf-8-addr-xtext form: each character outside QCHAR ("+", "=", backslash, space, controls and
 * every non-ASCII one) written as `\x{HEX}` (RFC 6533 §3).
 */
export function finalRecipient(address: string): string {
  const a = clean(address);
  if (/^[\x20-\x7e]*$/.test(a)) return `rfc822; ${a}`;
  return `utf-8; ${a.replace(/[^\x21-\x2a\x2c-\x3c\x3e-\x5b\x5d-\x7e]/gu, embeddedUnicodeChar)}`;
}

export function buildDsn(d: DsnInput): Buffer {
  const of = (a: DsnAction): DsnRecipient[] => d.recipients.filter((r) => r.action === a);
  const failed = of('failed');
  const delayed = of('delayed');
  const delivered = of('delivered');
  const relayed = of('relayed');
  const boundary = `=_buudien_${randomBytes(12).toString('hex')}`;
  const subject = failed.length > 0
    ? bi('Thư không gửi được', 'Undelivered Mail Returned to Sender')
    : delayed.length > 0
      ? bi('Thư đang chậm gửi', 'Delayed Mail (still being retried)')
      : bi('Thư đã gửi tới người nhận', 'Successful Mail Delivery Report');
  // RFC 3461 §4.3, §6.2: the whole message only with a failure, when asked and not too large.
  const whole = Buffer.isBuffer(d.original) ? d.original : null;
  const fullAsked = whole !== null && failed.length > 0 && d.ret === 'FULL';
  const returnFull = fullAsked && whole.length <= (d.returnFullMaxBytes ?? Infinity);

  const lines: string[] = [];
  const section = (list: DsnRecipient[], vi: string, en: string): void => {
    if (list.length === 0) return;
    if (lines.length > 0) lines.push('');
    const each = list.map((r) => (r.diagnostic ? `  <${r.recipient}>: ${r.diagnostic}` : `  <${r.recipient}>`));
    lines.push(vi, ...each, '', en, ...each);
  };
  section(
    failed,
    'Đây là thông báo tự động từ máy chủ thư. Thư của bạn không gửi được tới những người nhận sau:',
    'This is an automatic message from the mail server. Your message could not be delivered to the following recipients:',
  );
  const until = d.retryUntil ? rfc5322Date(d.retryUntil) : null;
  section(
    delayed,
    `Thư của bạn chưa gửi được tới những người nhận sau; máy chủ vẫn đang thử lại${until ? ` đến ${until}` : ''}. Bạn không cần gửi lại.`,
    `Your message has not yet been delivered to the following recipients; the server keeps trying${until ? ` until ${until}` : ''}. You do not need to resend it.`,
  );
  section(
    delivered,
    'Thư của bạn đã được chuyển vào hộp thư của những người nhận sau:',
    'Your message was delivered to the mailbox of the following recipients:',
  );
  section(
    relayed,
    'Thư của bạn đã được chuyển tới máy chủ thư của những người nhận sau. Máy chủ đó không gửi thông báo kết quả, nên bạn sẽ không nhận thêm thông báo nào:',
    'Your message was relayed to the mail server of the following recipients. That server does not send delivery notifications, so no further notice will follow:',
  );
  if (fullAsked && !returnFull) {
    lines.push('', 'Thư gốc quá lớn để gửi kèm; dưới đây chỉ có phần tiêu đề.', 'The original message is too large to return; only its headers are attached.');
  }
  if (whole === null) {
    lines.push('', 'Nội dung thư gốc đã bị mất trên máy chủ nên không gửi kèm được.', 'The content of the original message was lost on the server and cannot be attached.');
  }
  const human = `${lines.join('\r\n')}\r\n`;

  // RFC 3464 §2.2, §2.3: Original-Envelope-Id and Original-Recipient come first in their groups.
  const perMessage = [`Reporting-MTA: dns; ${d.hostname}`, `Arrival-Date: ${rfc5322Date(d.arrivalDate)}`];
  if (d.envid) perMessage.unshift(`Original-Envelope-Id: ${clean(d.envid)}`);
  const perRecipient = d.recipients.map((r) => {
    const f = [`Final-Recipient: ${finalRecipient(r.recipient)}`, `Action: ${r.action}`, `Status: ${r.status}`];
    if (r.originalRecipient) f.unshift(`Original-Recipient: ${clean(r.originalRecipient)}`);
    if (r.remoteMta) f.push(`Remote-MTA: dns; ${clean(r.remoteMta)}`);
    if (r.diagnostic) f.push(`Diagnostic-Code: ${ascii(r.diagnostic).slice(0, 900)}`);
    f.push(`Last-Attempt-Date: ${rfc5322Date(r.lastAttemptDate ?? d.now)}`);
    if (r.action === 'delayed' && d.retryUntil) f.push(`Will-Retry-Until: ${rfc5322Date(d.retryUntil)}`);
    return f.join('\r\n');
  });
  const status = `${perMessage.join('\r\n')}\r\n\r\n${perRecipient.join('\r\n\r\n')}\r\n`;

  // RFC 3464 §2: the third part is optional; a lost message has only the headers known of it, or none.
  // Nothing known (no bytes, no header line) leaves the part out rather than send it empty.
  const known = whole === null ? (Buffer.isBuffer(d.original) ? null : d.original.headers) : returnFull ? whole : headerSection(whole);
  const returned = known !== null && known.length > 0 ? known : null;
  const eightBit = returned !== null && has8bit(returned);
  const head = [
    `From: ${encodeHeaderValue(bi('Hệ thống thư', 'Mail Delivery System'))} <MAILER-DAEMON@${d.hostname}>`,
    `To: <${clean(d.to)}>`,
    `Subject: ${encodeHeaderValue(subject)}`,
    `Date: ${rfc5322Date(d.now)}`,
    `Message-ID: <${randomBytes(12).toString('hex')}@${d.hostname}>`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    ...(eightBit ? ['Content-Transfer-Encoding: 8bit'] : []),
  ].join('\r\n');

  const body: string[] = [
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    'Content-Description: Notification',
    '',
    base64Lines(human),
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    'Content-Description: Delivery report',
    '',
    status,
  ];
  if (returned === null) return Buffer.from(`${head}\r\n\r\n${body.join('\r\n')}\r\n--${boundary}--\r\n`, 'utf8');
  body.push(
    `--${boundary}`,
    ...(returnFull
      ? ['Content-Type: message/rfc822', 'Content-Description: Undelivered message']
      : ['Content-Type: text/rfc822-headers', `Content-Description: ${failed.length > 0 ? 'Undelivered message headers' : 'Message headers'}`]),
    ...(eightBit ? ['Content-Transfer-Encoding: 8bit'] : []),
    '',
  );
  return Buffer.concat([
    Buffer.from(`${head}\r\n\r\n${body.join('\r\n')}\r\n`, 'utf8'),
    returned,
    Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8'),
  ]);
}

/** Room left in a DSN for its own parts when the whole original message is returned. */
const REPORT_ROOM_BYTES = 64 * 1024;

/** One notice about one message: who it goes to and which recipients it reports. */
export interface DsnNotice {
  /** The original envelope sender ("" = nobody to tell: no DSN). */
  sender: string;
  original: DsnOriginal;
  arrivalDate: Date;
  now: Date;
  dsn: MessageDsn;
  recipients: DsnRecipient[];
}

export interface DsnSenderDeps {
  config: Readonly<Config>;
  store: Pick<Store, 'enqueue'>;
  delivery: Pick<Delivery, 'deliver'>;
}

/**
 * Sends DSNs: into a local sender's INBOX, else into the queue with the null sender (RFC 3461
 * §6.1, no loops). A local delivery that does not succeed (the sender's mailbox over quota: a
 * result, not a throw) goes into the queue too, which retries local recipients. Nothing is sent for the null sender or when no recipient is reported. A
 * RET=FULL message is returned whole while the DSN stays within limits.maxMessageBytes.
 */
export function createDsnSender(deps: DsnSenderDeps): (n: DsnNotice) => Promise<void> {
  const { config, store, delivery } = deps;
  const localDomains = new Set(config.domains.map((x) => x.toLowerCase()));
  return async (n) => {
    if (n.sender === '' || n.recipients.length === 0) return;
    const raw = buildDsn({
      hostname: config.organization.hostname,
      to: n.sender,
      recipients: n.recipients,
      original: n.original,
      arrivalDate: n.arrivalDate,
      now: n.now,
      retryUntil: new Date(n.arrivalDate.getTime() + config.delivery.maxQueueAgeMs),
      envid: n.dsn.envid,
      ret: n.dsn.ret,
      returnFullMaxBytes: Math.max(0, config.limits.maxMessageBytes - REPORT_ROOM_BYTES),
    });
    if (localDomains.has(domainOf(n.sender))) {
      const parsed = parseMessage(raw);
      const res = await delivery.deliver({ raw, parsed, sender: '', recipients: [n.sender], direction: 'local', clientIp: null, account: null, retryPartialFailures: false });
      if (res.results.every((r) => r.outcome === 'delivered')) return;
    }
    await store.enqueue({ sender: '', recipients: [n.sender], raw, account: null, messageId: null, now: n.now });
  };
}
