/**
 * The network a client address belongs to, for telling a usual sign-in from an unusual one
 * (R-AUTH-5): an IPv4 /24 or an IPv6 /48, so an ISP's address changes within its block and an
 * IPv6 client's temporary addresses (RFC 8981) do not count as new. IPv4-mapped IPv6 addresses
 * are IPv4. Anything else (a Unix socket, an empty address) is its own network.
 *
 *   networkOf('203.0.113.77')            // '203.0.113.0/24'
 *   networkOf('2001:db8:1234:5::1')      // '2001:db8:1234::/48'
 * Sign-in throttling keys clients by throttleKeyOf (an IPv4 address, an IPv6 /64).
 */
import { isIPv4, isIPv6 } from 'node:net';
import { unmapIpv4 } from '../lib/ip.js';

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

/** The address folded (zone dropped, IPv4-mapped IPv6 as IPv4), and its IPv6 groups when it is IPv6. */
function fold(address: string): { ip: string; v4: boolean; v6: number[] | null } {
  let ip = address.trim().toLowerCase();
  const zone = ip.indexOf('%');
  if (zone >= 0) ip = ip.slice(0, zone);
  ip = unmapIpv4(ip);
  if (isIPv4(ip)) return { ip, v4: true, v6: null };
  const groups = isIPv6(ip) && !ip.includes('.') ? expandIpv6(ip) : null;
  // ::ffff:c000:201 is 192.0.2.1 written in hex (RFC 4291 §2.5.5.2).
  if (groups && groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [hi = 0, lo = 0] = groups.slice(6);
    return { ip: `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`, v4: true, v6: null };
  }
  return { ip, v4: false, v6: groups };
}

const prefix = (groups: number[], n: number): string => `${groups.slice(0, n).map((g) => g.toString(16)).join(':')}::/${n * 16}`;

export function networkOf(address: string): string {
  const { ip, v4, v6 } = fold(address);
  if (v4) return `${ip.split('.').slice(0, 3).join('.')}.0/24`;
  if (v6) return prefix(v6, 3);
  return ip.slice(0, 64);
}

/**
 * What sign-in throttling counts a client as (the per-IP gate, the failure delays): an IPv4
 * address itself (many users share one behind NAT), an IPv6 /64 (one host can use any address
 * of its /64, RFC 4291 §2.5.1, so counting addresses would not count it at all).
 *
 *   throttleKeyOf('2001:db8:0:1::5')   // '2001:db8:0:1::/64'
 */
export function throttleKeyOf(address: string): string {
  const { ip, v4, v6 } = fold(address);
  if (v4) return ip;
  if (v6) return prefix(v6, 4);
  return ip.slice(0, 64);
}

/**
 * The wider block sign-in throttling also counts an IPv6 client in: its /48 (a site's usual
 * allocation, RFC 6177), so that a flood from every /64 of one site is capped as one; null for
 * IPv4 and anything else (their per-address key is already the block).
 *
 *   throttleBlockOf('2001:db8:0:1::5')   // '2001:db8:0::/48'
 */
export function throttleBlockOf(address: string): string | null {
  const { v6 } = fold(address);
  return v6 ? prefix(v6, 3) : null;
}
