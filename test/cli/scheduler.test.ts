import { describe, expect, it } from 'vitest';
import { DAY_MS, startScheduler, type Timers } from '../../src/cli/scheduler.js';
import type { Job } from '../../src/cli/jobs.js';
import { silentLogger } from '../../src/lib/log.js';

/** Timers the test fires by hand. */
function manualTimers(): Timers & { pending: Array<{ fn: () => void; ms: number; cleared: boolean }>; fire(i: number): void } {
  const pending: Array<{ fn: () => void; ms: number; cleared: boolean }> = [];
  return {
    pending,
    set(fn, ms) {
      const t = { fn, ms, cleared: false };
      pending.push(t);
      return t;
    },
    clear(h) {
      (h as { cleared: boolean }).cleared = true;
    },
    fire(i) {
      const t = pending[i];
      if (!t || t.cleared) throw new Error('no such timer');
      t.fn();
    },
  };
}

const job = (name: string, run: () => Promise<void>, everyMs?: number): Job => ({ name, description: name, run, ...(everyMs ? { everyMs } : {}) });

describe('serve scheduler', () => {
  it('runs each job after the first delay, then every everyMs (daily by default), and survives a failing job', async () => {
    const timers = manualTimers();
    const ran: string[] = [];
    const jobs = [
      job('a', async () => {
        ran.push('a');
      }),
      job('b', async () => {
        ran.push('b');
        throw new Error('boom');
      }, 3_600_000),
    ];
    const s = startScheduler({ jobs, run: (j) => j.run({} as never), log: silentLogger(), firstDelayMs: 5000, timers });
    expect(timers.pending.map((t) => t.ms)).toEqual([5000, 5000]);
    timers.fire(0);
    await s.idle();
    timers.fire(1);
    await s.idle();
    await s.stop();
    expect(ran).toEqual(['a', 'b']);
    // each rescheduled itself (the failing one too) before stop cleared them
    expect(timers.pending.slice(2).map((t) => [t.ms, t.cleared])).toEqual([
      [DAY_MS, true],
      [3_600_000, true],
    ]);
  });
});
