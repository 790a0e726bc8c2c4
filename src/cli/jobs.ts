/**
 * The jobs `buudien jobs run NAME` can run (and `serve`'s scheduler may run on a timetable).
 * Adding a job: export a `Job` from its module and add one line to JOBS.
 */
import type { App } from '../app.js';
import type { Logger } from '../lib/log.js';

export interface JobContext {
  app: App;
  /** "Today" for this run (--now, else the clock). The app's clock is fixed to it too. */
  now: Date;
  log: Logger;
  /** A line of human-readable output. */
  out(line: string): void;
}

export interface Job {
  name: string;
  /** Bilingual, one line. */
  description: string;
  run(ctx: JobContext): Promise<void>;
}

/** Reclaim message blobs no message, queue or quarantine item references. */
const blobGc: Job = {
  name: 'blob-gc',
  description: 'dọn tệp thư không còn dùng / reclaim unreferenced message blobs',
  async run({ app, out }) {
    const r = await app.store.collectGarbage();
    out(`blob-gc: ${r.blobs} blobs, ${r.bytes} bytes`);
  },
};

/** One line per job. */
export const JOBS: Job[] = [blobGc];
