/**
 * The network a client address belongs to, for telling a usual sign-in from an unusual one
 * (R-AUTH-5): an IPv4 /24 or an IPv6 /48, so an ISP's address changes within its block and an
 * IPv6 client's temporary addresses (RFC 8981) do not count as new. IPv4-mapped IPv6 addresses
 * are IPv4. Anything else (a Unix socket, an empty address) is its own network.
 *
 *   networkOf('203.0.113.77')            // '203.0.113.0/24'
 *   networkOf('2001:db8:1234:5::1')      // '2001:db8:1234::/48'
 */
import { isIPv4, isIPv6 } from 'node:net';

function expandIpv6(ip: string): number[] | null {
  const [head = '', tail, ...more] = ip.split('::');
  if (more.length > 0) return null;
  const part = (s: string): number[] => (s === '' ? [] : s.split(':').map((h) => parseInt(h, 16)));
  const a = part(head);
  const b = tail === undefined ? [] : part(tail);
  const fill = 8 - a.length - b.length;
  if (fill < 0 || (tail === undefined && fill !== 0)) return null;
  const all = [...a, ...Array<number>(fill).fill(0), ...b];
  return all.every((n) => Number.isInteger(n) && n >= 0 && n <= 0xffff) ? all : null;
}

export function networkOf(address: string): string {
  let ip = address.trim().toLowerCase();
  const zone = ip.indexOf('%');
  if (zone >= 0) ip = ip.slice(0, zone);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(ip);
  if (mapped?.[1]) ip = mapped[1];
  if (isIPv4(ip)) return `${ip.split('.').slice(0, 3).join('.')}.0/24`;
  if (isIPv6(ip) && !ip.includes('.')) {
    const h = expandIpv6(ip);
    if (h) return `${h.slice(0, 3).map((n) => n.toString(16)).join(':')}::/48`;
  }
  return ip.slice(0, 64);
}
