/** The Received header we prepend (RFC 5321 §4.4), with the TLS details of the connection. */

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

export interface ReceivedInput {
  helo: string;
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
  return `Received: from ${token(r.helo)} (${rdns}[${ipLiteral}])\r\n by ${token(r.hostname)} (buudien) with ${token(r.protocol)}${tls}\r\n id ${token(r.id)}${forPart};\r\n ${rfc5322Date(r.date)}`;
}
