/**
 * A server-wide cap on password checks in progress (SECURITY-NOTES "Sign-in"). argon2 runs on
 * libuv's thread pool (UV_THREADPOOL_SIZE, 4 by default), which file system work shares: a flood
 * of wrong sign-ins from many networks (every /64 of an IPv6 /48 passes the per-IP gate) would
 * queue hashes there and stall every other sign-in and every write. At most `concurrent` checks
 * run at once; up to `queue` more wait their turn (first come, first served), each at most
 * `maxWaitMs`; beyond that a sign-in is refused, before any hashing, as throttled. The queue is
 * long enough for a whole office's mail programs reconnecting at once (after a restart every
 * Outlook and Thunderbird signs in again, Thunderbird with up to 5 connections an account):
 * those are served in a second or two, not refused.
 *
 *   const slots = new HashSlots(8, 512, 10_000);
 *   const release = await slots.acquire();   // null: over the cap and the queue is full
 *   try { … verify … } finally { release?.(); }
 */

export { threadPoolSize } from '../config/environment.js';

/** Password checks run at once: twice the thread pool (one hashing, one ready per thread). */
export const HASH_CONCURRENCY_PER_THREAD = 2;
/** Password checks that may wait for a slot, per slot (8 slots: 512 waiting, some seconds of hashing). */
export const HASH_QUEUE_PER_SLOT = 64;
/** The longest a sign-in waits for its turn before it is refused as throttled. */
export const HASH_MAX_WAIT_MS = 10_000;

export class HashSlots {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    readonly concurrent: number,
    readonly queue: number,
    readonly maxWaitMs = HASH_MAX_WAIT_MS,
  ) {}

  /** A slot (its release function, idempotent), after waiting in the queue if need be; null when the queue is full or the wait too long. */
  acquire(): Promise<(() => void) | null> {
    if (this.running < this.concurrent) {
      this.running++;
      return Promise.resolve(this.releaser());
    }
    if (this.waiting.length >= this.queue) return Promise.resolve(null);
    // The slot passes straight from the releaser to the waiter: `running` never drops in between.
    return new Promise((resolve) => {
      const turn = (): void => {
        clearTimeout(timer);
        resolve(this.releaser());
      };
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(turn);
        if (i >= 0) this.waiting.splice(i, 1);
        resolve(null);
      }, this.maxWaitMs);
      timer.unref();
      this.waiting.push(turn);
    });
  }

  /** Checks in progress and waiting (for tests and metrics). */
  get size(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    };
  }
}
