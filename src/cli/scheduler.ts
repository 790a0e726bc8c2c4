/**
 * The scheduled jobs `buudien serve` runs: each job of the registry once a while after start-up,
 * then every `everyMs` (default: daily). One job at a time; a failing job is logged and retried
 * at its next turn, never stops the server. `stop()` cancels the timers and waits for a running job.
 */
import type { Logger } from '../lib/log.js';
import type { Job } from './jobs.js';

export const DAY_MS = 86_400_000;

export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface Scheduler {
  /** Resolves once the jobs started so far have finished (and been rescheduled). */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

export function startScheduler(opts: {
  jobs: readonly Job[];
  run: (job: Job) => Promise<void>;
  log: Logger;
  /** Delay before the first round (lets the listeners settle). */
  firstDelayMs?: number;
  timers?: Timers;
}): Scheduler {
  const timers = opts.timers ?? realTimers;
  const handles = new Map<string, unknown>();
  let chain: Promise<void> = Promise.resolve();
  let stopped = false;

  const schedule = (job: Job, ms: number): void => {
    if (stopped) return;
    handles.set(
      job.name,
      timers.set(() => {
        chain = chain.then(async () => {
          if (stopped) return;
          try {
            await opts.run(job);
            opts.log.info({ job: job.name }, 'job done');
          } catch (e) {
            opts.log.error({ err: e, job: job.name }, 'job failed');
          }
          schedule(job, job.everyMs ?? DAY_MS);
        });
      }, ms),
    );
  };

  for (const job of opts.jobs) schedule(job, opts.firstDelayMs ?? 60_000);

  return {
    idle: () => chain,
    async stop() {
      stopped = true;
      for (const h of handles.values()) timers.clear(h);
      handles.clear();
      await chain;
    },
  };
}
