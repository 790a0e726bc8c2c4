/**
 * Sign-in throttling (SECURITY-NOTES "Sign-in"), shared by every protocol through the auth service:
 *
 * - FailureTracker: failure counters per key ("ip:1.2.3.4", "acct:42", "user:foo"). The delay
 *   before answering a failure is base × 2^(n−1), capped at max, where n is the highest count
 *   among the keys involved. A key's failures are forgotten after `windowMs` without a failure.
 *   No hard lock-out: a right password always gets in (after the sign-in it is part of). Wrong
 *   two-factor codes have a tracker of their own (auth/service.ts) whose delay, once a few codes
 *   were wrong, refuses further codes unchecked until it has passed (the code already proves the
 *   password; a right password is never refused for others' failures).
 * (At most N sign-ins in flight per IP, checked before any hashing: a lib/keyed-counter.ts
 * KeyedCounter in the auth service.)
 *
 * The tracker is bounded: it sweeps stale keys and never holds more than `maxKeys`.
 */
import type { Clock } from '../lib/clock.js';

export interface FailureTrackerOptions {
  clock: Clock;
  baseDelayMs: number;
  maxDelayMs: number;
  windowMs: number;
  maxKeys?: number;
}

interface Entry {
  count: number;
  lastAt: number;
}

export class FailureTracker {
  private readonly entries = new Map<string, Entry>();
  private readonly maxKeys: number;

  constructor(private readonly opts: FailureTrackerOptions) {
    this.maxKeys = opts.maxKeys ?? 100_000;
  }

  /** Current failure count of a key (0 when unknown or forgotten). */
  count(key: string): number {
    const e = this.entries.get(key);
    if (!e) return 0;
    if (this.opts.clock.now().getTime() - e.lastAt > this.opts.windowMs) {
      this.entries.delete(key);
      return 0;
    }
    return e.count;
  }

  /** Record one failure on each key; returns the delay to apply before answering. */
  fail(keys: string[]): number {
    const now = this.opts.clock.now().getTime();
    let n = 0;
    for (const key of keys) {
      const c = this.count(key) + 1;
      this.entries.delete(key); // re-insert: Map order = least recently failed first
      this.entries.set(key, { count: c, lastAt: now });
      n = Math.max(n, c);
    }
    this.sweep(now);
    return this.delayFor(n);
  }

  /**
   * How long (ms) attempts on the key are refused unchecked: until its last failure's delay has
   * passed, once it has at least `free` failures (the first few mistakes cost only the delay).
   */
  blockedFor(key: string, free = 0): number {
    const n = this.count(key);
    if (n === 0 || n < free) return 0;
    const e = this.entries.get(key);
    if (!e) return 0;
    return Math.max(0, e.lastAt + this.delayFor(n) - this.opts.clock.now().getTime());
  }

  /** Forget a key (e.g. an account after a successful sign-in). */
  reset(key: string): void {
    this.entries.delete(key);
  }

  delayFor(failures: number): number {
    if (failures <= 0) return 0;
    const exp = Math.min(failures - 1, 30);
    return Math.min(this.opts.baseDelayMs * 2 ** exp, this.opts.maxDelayMs);
  }

  get size(): number {
    return this.entries.size;
  }

  private sweep(now: number): void {
    // Oldest first: stop at the first fresh entry.
    for (const [key, e] of this.entries) {
      if (now - e.lastAt > this.opts.windowMs || this.entries.size > this.maxKeys) this.entries.delete(key);
      else break;
    }
  }
}
