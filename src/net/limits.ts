/**
 * Connection counting by key: per IP in the listeners, per account in the sessions
 * (security.maxConnectionsPerAccount, shared by IMAP and POP3 when both get the same counter).
 *
 *   const perAccount = new ConnectionCounter(20);
 *   const release = perAccount.acquire(String(account.id)); // null → over the cap
 *   … release();                                           // idempotent
 */
export class ConnectionCounter {
  private readonly counts = new Map<string, number>();
  constructor(readonly max: number) {}

  acquire(key: string): (() => void) | null {
    const n = this.counts.get(key) ?? 0;
    if (n >= this.max) return null;
    this.counts.set(key, n + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (this.counts.get(key) ?? 1) - 1;
      if (left <= 0) this.counts.delete(key);
      else this.counts.set(key, left);
    };
  }

  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  /** Keys with at least one holder. */
  get keys(): number {
    return this.counts.size;
  }
}

/** "::ffff:1.2.3.4" → "1.2.3.4", so one client is one key whatever the socket family. */
export function normalizeIp(ip: string | undefined): string {
  if (!ip) return 'unknown';
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}
