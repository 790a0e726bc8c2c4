/**
 * An IPv4-mapped IPv6 address in its dotted form ("::ffff:192.0.2.1", RFC 4291 §2.5.5.2: what a
 * dual-stack socket reports for an IPv4 client) as the IPv4 address; anything else unchanged.
 * One rule for every place that compares or keys client addresses (limits, the plaintext rule,
 * throttling, sign-in networks, the portal).
 */
export function unmapIpv4(ip: string): string {
  return /^::ffff:\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/i.test(ip) ? ip.slice(7) : ip;
}
