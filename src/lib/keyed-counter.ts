/**
 * Holders counted by key (connections per IP or per account, sign-ins in flight per IP).
 *
 *   const perAccount = new KeyedCounter(20);
 *   const release = perAccount.acquire(String(account.id)); // null → over the cap
 *   … release();                                           // idempotent
 *
 * At most `max` holders per key at once; the map only holds keys with a holder.
 */
export class KeyedCounter {
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
