/**
 * The plaintext rule (security.allowPlaintextAuth, SECURITY-NOTES "Sign-in"): may a password
 * travel on this connection?  secure (TLS) → always yes; otherwise per the mode:
 *   never    → no
 *   loopback → only from 127.0.0.0/8, ::1 or ::ffff:127.x.x.x (NOT the server's own public address)
 *   always   → yes
 */
import { unmapIpv4 } from '../lib/ip.js';

export type PlaintextMode = 'never' | 'loopback' | 'always';

export function isLoopback(ip: string): boolean {
  const a = ip.trim().toLowerCase();
  if (a === '::1' || a === '0:0:0:0:0:0:0:1') return true;
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(unmapIpv4(a));
  if (!m) return false;
  const octets = m.slice(1).map(Number);
  return octets.every((o) => o <= 255) && octets[0] === 127;
}

export function plaintextAllowedBy(mode: PlaintextMode, ip: string, secure: boolean): boolean {
  if (secure) return true;
  switch (mode) {
    case 'never':
      return false;
    case 'loopback':
      return isLoopback(ip);
    case 'always':
      return true;
  }
}
