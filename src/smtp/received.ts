/** The Received header we prepend (RFC 5321 §4.4), with the TLS details of the connection. */
import { domainToASCII } from 'node:url';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 5322 date-time in UTC: "Sun, 22 Nov 2026 10:05:29 +0000". */
export function rfc5322Date(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** Client-supplied tokens (HELO name) reduced to characters that cannot break the header. */
function token(s: string): string {
  const t = s.replace(/[^A-Za-z0-9.\-_:[\]]/g, '').slice(0, 255);
  return t.length > 0 ? t : 'unknown';
}

/** What a HELO name may keep as is: it cannot break the header, the comment or the clause. */
const HELO_ASCII = /^[A-Za-z0-9.\-_:[\]]+$/;
/** Characters that would break the header: kept out even of a UTF-8 name. */
const HELO_UNSAFE_UTF8 = /[^\p{L}\p{M}\p{N}.\-_:[\]]/gu;

/**
 * The EHLO/HELO name as the client presented it, never a different name (RFC 5321 §4.4: the
 * FROM clause records what the client said). ASCII names with nothing unsafe stay as they are.
 * An internationalised name stays in UTF-8 in an SMTPUTF8 transaction (RFC 6531 §3.7.3 allows
 * U-labels in trace fields there) and becomes its A-label otherwise, so the header stays ASCII.
 * What cannot be written safely (controls, CR/LF, parentheses, ";", spaces, or a non-ASCII
 * name that is no IDN outside SMTPUTF8) is replaced by "?", which no host name contains: the
 * name is visibly altered rather than silently turned into another valid one.
 */
export function heloForTrace(helo: string, utf8: boolean): string {
  const name = helo.slice(0, 255);
  if (name.length === 0) return 'unknown';
  if (HELO_ASCII.test(name)) return name;
  const ascii = /^\p{ASCII}*$/u.test(name);
  if (!ascii && !utf8) {
    const aLabel = domainToASCII(name);
    if (aLabel && HELO_ASCII.test(aLabel)) return aLabel;
    return name.replace(/[^A-Za-z0-9.\-_:[\]]/gu, '?');
  }
  return name.replace(HELO_UNSAFE_UTF8, '?');
}

/**
 * The WITH protocol (RFC 3848 registry): an SMTPUTF8 transaction is UTF8SMTP, UTF8SMTPS,
 * UTF8SMTPA or UTF8SMTPSA (RFC 6531 §3.7.3 and §4.3) instead of ESMTP…
 */
export function withProtocol(transmissionType: string, utf8: boolean): string {
  return utf8 && transmissionType.startsWith('ESMTP') ? `UTF8SMTP${transmissionType.slice(5)}` : transmissionType;
}

export interface ReceivedInput {
  helo: string;
  /** The transaction used SMTPUTF8 (RFC 6531): the HELO name may stay in UTF-8. */
  utf8?: boolean;
  clientHostname: string | null;
  ip: string;
  hostname: string;
  /** ESMTP, ESMTPS, ESMTPSA … */
  protocol: string;
  tls: { protocol: string; cipher: string } | null;
  id: string;
  /** Only named when the message has a single recipient (privacy). */
  recipient: string | null;
  date: Date;
}

export function receivedHeader(r: ReceivedInput): string {
  const ipLiteral = r.ip.includes(':') ? `IPv6:${r.ip}` : r.ip;
  const rdns = r.clientHostname && !r.clientHostname.startsWith('[') ? `${token(r.clientHostname)} ` : '';
  const tls = r.tls ? ` (${token(r.tls.protocol)} cipher ${token(r.tls.cipher)})` : '';
  const forPart = r.recipient ? `\r\n for <${r.recipient.replace(/[^\p{L}\p{N}@.!#$%&'*+/=?^_`{|}~-]/gu, '')}>` : '';
  return `Received: from ${heloForTrace(r.helo, r.utf8 ?? false)} (${rdns}[${ipLiteral}])\r\n by ${token(r.hostname)} (buudien) with ${token(r.protocol)}${tls}\r\n id ${token(r.id)}${forPart};\r\n ${rfc5322Date(r.date)}`;
}
