/**
 * Delivery status notifications (RFC 3464): multipart/report with a bilingual human part,
 * the machine-readable message/delivery-status part and the original headers.
 */
import { randomBytes } from 'node:crypto';
import { bi } from '../lib/errors.js';
import { encodeHeaderValue } from '../mail/headers.js';
import { rfc5322Date } from './received.js';

export interface DsnRecipient {
  recipient: string;
  action: 'failed' | 'delayed';
  /** RFC 3463 status, e.g. "5.1.1". */
  status: string;
  /** The remote reply or our reason ("smtp; 550 5.1.1 …"). */
  diagnostic: string | null;
  remoteMta: string | null;
}

export interface DsnInput {
  hostname: string;
  /** The original envelope sender: the DSN goes there. */
  to: string;
  recipients: DsnRecipient[];
  /** The original message (only its header section is returned). */
  original: Buffer;
  arrivalDate: Date;
  now: Date;
  /** How long we keep trying (for the delay notice). */
  retryUntil?: Date;
}

function base64Lines(s: string): string {
  return (Buffer.from(s, 'utf8').toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
}

function headerSection(raw: Buffer): Buffer {
  const end = raw.indexOf('\r\n\r\n');
  return end < 0 ? raw.subarray(0, Math.min(raw.length, 64 * 1024)) : raw.subarray(0, end + 2);
}

const clean = (s: string): string => s.replace(/[\r\n]+/g, ' ');

export function buildDsn(d: DsnInput): Buffer {
  const failed = d.recipients.filter((r) => r.action === 'failed');
  const delayed = d.recipients.filter((r) => r.action === 'delayed');
  const boundary = `=_buudien_${randomBytes(12).toString('hex')}`;
  const subject = failed.length > 0
    ? bi('Thư không gửi được', 'Undelivered Mail Returned to Sender')
    : bi('Thư đang chậm gửi', 'Delayed Mail (still being retried)');
  const lines: string[] = [];
  if (failed.length > 0) {
    lines.push(
      'Đây là thông báo tự động từ máy chủ thư. Thư của bạn không gửi được tới những người nhận sau:',
      ...failed.map((r) => `  <${r.recipient}>: ${r.diagnostic ?? r.status}`),
      '',
      'This is an automatic message from the mail server. Your message could not be delivered to the following recipients:',
      ...failed.map((r) => `  <${r.recipient}>: ${r.diagnostic ?? r.status}`),
    );
  }
  if (delayed.length > 0) {
    if (lines.length > 0) lines.push('');
    const until = d.retryUntil ? rfc5322Date(d.retryUntil) : null;
    lines.push(
      `Thư của bạn chưa gửi được tới những người nhận sau; máy chủ vẫn đang thử lại${until ? ` đến ${until}` : ''}. Bạn không cần gửi lại.`,
      ...delayed.map((r) => `  <${r.recipient}>: ${r.diagnostic ?? r.status}`),
      '',
      `Your message has not yet been delivered to the following recipients; the server keeps trying${until ? ` until ${until}` : ''}. You do not need to resend it.`,
      ...delayed.map((r) => `  <${r.recipient}>: ${r.diagnostic ?? r.status}`),
    );
  }
  const human = `${lines.join('\r\n')}\r\n`;

  const perMessage = [`Reporting-MTA: dns; ${d.hostname}`, `Arrival-Date: ${rfc5322Date(d.arrivalDate)}`];
  const perRecipient = d.recipients.map((r) => {
    const f = [`Final-Recipient: rfc822; ${clean(r.recipient)}`, `Action: ${r.action}`, `Status: ${r.status}`];
    if (r.remoteMta) f.push(`Remote-MTA: dns; ${clean(r.remoteMta)}`);
    if (r.diagnostic) f.push(`Diagnostic-Code: ${clean(r.diagnostic).slice(0, 900)}`);
    f.push(`Last-Attempt-Date: ${rfc5322Date(d.now)}`);
    if (r.action === 'delayed' && d.retryUntil) f.push(`Will-Retry-Until: ${rfc5322Date(d.retryUntil)}`);
    return f.join('\r\n');
  });
  const status = `${perMessage.join('\r\n')}\r\n\r\n${perRecipient.join('\r\n\r\n')}\r\n`;

  const head = [
    `From: ${encodeHeaderValue(bi('Hệ thống thư', 'Mail Delivery System'))} <MAILER-DAEMON@${d.hostname}>`,
    `To: <${clean(d.to)}>`,
    `Subject: ${encodeHeaderValue(subject)}`,
    `Date: ${rfc5322Date(d.now)}`,
    `Message-ID: <${randomBytes(12).toString('hex')}@${d.hostname}>`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
  ].join('\r\n');

  const body = [
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
    `--${boundary}`,
    'Content-Type: text/rfc822-headers',
    'Content-Description: Undelivered message headers',
    '',
  ].join('\r\n');
  return Buffer.concat([
    Buffer.from(`${head}\r\n\r\n${body}\r\n`, 'utf8'),
    headerSection(d.original),
    Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8'),
  ]);
}
