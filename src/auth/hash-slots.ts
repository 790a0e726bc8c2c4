/**
 * A server-wide cap on password checks in progress (SECURITY-NOTES "Sign-in"). argon2 runs on
 * libuv's thread pool (UV_THREADPOOL_SIZE, 4 by default), which file system work shares: a flood
 * of wrong sign-ins from many networks (every /64 of an IPv6 /48 passes the per-IP gate) would
 * queue hashes there and stall every other sign-in and every write. At most `concurrent` checks
 * run at once; up to `queue` more wait their turn (first come, first served); beyond that a
 * sign-in is refused at once, before any hashing, as throttled.
 *
 *   const slots = new HashSlots(8, 32);
 *   const release = await slots.acquire();   // null: over the cap and the queue is full
 *   try { … verify … } finally { release?.(); }
 */

export { threadPoolSize } from '../config/environment.js';

/** Password checks run at once: twice the thread pool (one hashing, one ready per thread). */
export const HASH_CONCURRENCY_PER_THREAD = 2;
/** Password checks that may wait for a slot, per slot: a short queue, drained in a few hashes' time. */
export const HASH_QUEUE_PER_SLOT = 4;

export class HashSlots {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    readonly concurrent: number,
    readonly queue: number,
  ) {}

  /** A slot (its release function, idempotent), after waiting in the queue if need be; null when the queue is full. */
  acquire(): Promise<(() => void) | null> {
    if (this.running < this.concurrent) {
      this.running++;
      return Promise.resolve(this.releaser());
    }
    if (this.waiting.length >= this.queue) return Promise.resolve(null);
    // The slot passes straight from the releaser to the waiter: `running` never drops in between.
    return new Promise((resolve) => this.waiting.push(() => resolve(this.releaser())));
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
