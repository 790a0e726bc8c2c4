/**
 * Connection counting by key: per IP in the listeners, per account in the sessions
 * (security.maxConnectionsPerAccount, shared by IMAP and POP3 when both get the same counter).
 *
 *   const perAccount = new ConnectionCounter(20);
 *   const release = perAccount.acquire(String(account.id)); // null → over the cap
 *   … release();                                           // idempotent
 */
import { unmapIpv4 } from '../lib/ip.js';
export { KeyedCounter as ConnectionCounter } from '../lib/keyed-counter.js';

/** "::ffff:1.2.3.4" → "1.2.3.4", so one client is one key whatever the socket family. */
export function normalizeIp(ip: string | undefined): string {
  if (!ip) return 'unknown';
  return unmapIpv4(ip);
}
