/**
 * The jobs `buudien jobs run NAME` can run (and `serve`'s scheduler may run on a timetable).
 * Adding a job: export a `Job` from its module and add one line to JOBS.
 */
import type { App } from '../app.js';
import { runLifecycle } from '../accounts/lifecycle.js';
import { pruneSendLog } from '../delivery/index.js';
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
  /** How often `serve` runs it (default: once a day). */
  everyMs?: number;
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

/** R-ACC-3 / R-ACC-5: suspend inactive accounts, delete those suspended past the configured period. */
const accountLifecycle: Job = {
  name: 'account-lifecycle',
  description: 'tạm khóa tài khoản không dùng, xóa tài khoản quá hạn tạm khóa / suspend inactive accounts, delete expired suspensions',
  async run({ app, now, out }) {
    const r = await runLifecycle({ store: app.store, config: app.config, log: app.log }, now);
    for (const a of r.suspended) out(`suspended ${a}`);
    for (const a of r.deleted) out(`deleted ${a}`);
    out(`account-lifecycle: ${r.suspended.length} suspended, ${r.deleted.length} deleted`);
  },
};

/** R-LOG-1: drop send-log rows older than sendLog.retentionDays (delivery's pruneSendLog). */
const sendLogPrune: Job = {
  name: 'send-log-prune',
  description: 'xóa nhật ký gửi thư quá hạn lưu / drop send-log rows past sendLog.retentionDays',
  async run({ app, now, out }) {
    const n = await pruneSendLog(app.store, app.config, now);
    out(`send-log-prune: ${n} rows`);
  },
};

/** One line per job. */
export const JOBS: Job[] = [accountLifecycle, sendLogPrune, blobGc];
