/**
 * The jobs `buudien jobs run NAME` can run (and `serve`'s scheduler may run on a timetable).
 * Adding a job: export a `Job` from its module and add one line to JOBS.
 */
import type { App } from '../app.js';
import { runLifecycle } from '../accounts/lifecycle.js';
import type { Config } from '../config/schema.js';
import { pruneSendLog, pruneSignInHistory } from '../delivery/index.js';
import { formatBytes } from '../lib/bytes.js';
import { bi, MailError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { serverVersion } from '../lib/version.js';
import { deliverNotice } from '../policy/notice.js';
import { checkQuotaWarnings } from '../policy/quota-warnings.js';
import type { Account } from '../store/port.js';
import { BACKUP_ACTOR, backupDue, createBackup } from '../jobs/backup.js';

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
  /** Whether `serve` schedules it with this config (default: always). */
  enabled?(config: Readonly<Config>): boolean;
  run(ctx: JobContext): Promise<void>;
}

/** Reclaim message blobs no message, queue or quarantine item references. */
const blobGc: Job = {
  name: 'blob-gc',
  description: 'dọn tệp thư không còn dùng / reclaim unreferenced message blobs',
  async run({ app, out }) {
    const r = await app.store.collectGarbage();
    out(r.deferred ? 'blob-gc: deferred, a backup is copying blobs' : `blob-gc: ${r.blobs} blobs, ${r.bytes} bytes`);
  },
};

/** R-ACC-3 / R-ACC-5: suspend inactive accounts, delete those suspended past the configured period. */
const accountLifecycle: Job = {
  name: 'account-lifecycle',
  description: 'tạm khóa tài khoản không dùng, xóa tài khoản quá hạn tạm khóa / suspend inactive accounts, delete expired suspensions',
  async run({ app, now, out }) {
    const r = await runLifecycle({ store: app.store, config: app.config, log: app.log }, now);
    for (const a of r.suspended) out(`suspended ${a}`);
    for (const to of await noticeOfSuspension(app, r.suspended)) out(`notice sent to ${to}`);
    for (const a of r.deleted) out(`deleted ${a}`);
    out(`account-lifecycle: ${r.suspended.length} suspended, ${r.deleted.length} deleted`);
  },
};

/**
 * R-ACC-3 (NB Đ7.1): an inactivity suspension notifies the managing unit. Each unit whose accounts
 * were suspended gets one bilingual notice listing them, in its unit mailboxes and to its unit
 * administrators; with neither, the system administrators get it. Returns who was notified.
 */
async function noticeOfSuspension(app: App, suspended: readonly string[]): Promise<string[]> {
  if (suspended.length === 0) return [];
  const { store, config } = app;
  const byUnit = new Map<number | null, string[]>();
  for (const address of suspended) {
    const a = await store.getAccountByAddress(address);
    const key = a?.unitId ?? null;
    byUnit.set(key, [...(byUnit.get(key) ?? []), address]);
  }
  const supers = (await store.listAccounts({ state: 'active' })).filter((a) => a.role === 'super');
  const sent: string[] = [];
  for (const [unitId, addresses] of byUnit) {
    const ofUnit = unitId === null ? [] : await store.listAccounts({ unitId });
    let to: Account[] = ofUnit.filter((a) => a.state !== 'deleted' && (a.kind === 'unit' || (a.role === 'unit' && a.state === 'active')));
    if (to.length === 0) to = supers;
    const list = addresses.map((a) => `  - ${a}`).join('\n');
    const days = config.lifecycle.inactiveSuspendDays;
    for (const recipient of to) {
      await deliverNotice(app, recipient, {
        subject: `Thông báo: tạm khóa ${addresses.length} tài khoản không sử dụng / Notice: ${addresses.length} inactive account(s) suspended`,
        body:
          `Các tài khoản sau không đăng nhập quá ${days} ngày nên đã bị tạm khóa; chúng vẫn nhận thư:\n${list}\n` +
          `Để mở lại một tài khoản: buudien account restore ĐỊA_CHỈ.\n\n` +
          `These accounts had no sign-in for more than ${days} days and are suspended; they still receive mail:\n${list}\n` +
          `To reopen one: buudien account restore ADDRESS.\n`,
      });
      sent.push(recipient.address);
    }
  }
  return sent;
}

/** R-LOG-1: drop send-log rows older than sendLog.retentionDays (delivery's pruneSendLog), and sign-in history (R-AUTH-5) as old. */
const sendLogPrune: Job = {
  name: 'send-log-prune',
  description: 'xóa nhật ký gửi thư quá hạn lưu / drop send-log rows past sendLog.retentionDays',
  async run({ app, now, out }) {
    const n = await pruneSendLog(app.store, app.config, now);
    const m = await pruneSignInHistory(app.store, app.config, now);
    out(`send-log-prune: ${n} rows, ${m} sign-ins`);
  },
};

/**
 * R-OPS-1: a backup into backup.dir when the newest there is backup.intervalDays old (so a restart
 * does not make an extra one), then retention (backup.keep). Checked daily; off without backup.dir.
 */
const backup: Job = {
  name: 'backup',
  description: 'sao lưu kho thư vào backup.dir khi đến hạn (R-OPS-1) / back up the store into backup.dir when due (R-OPS-1)',
  enabled: (config) => config.backup.dir !== null,
  async run({ app, now, out }) {
    const { dir, keep, intervalDays } = app.config.backup;
    if (dir === null) throw new MailError('INVALID_INPUT', bi('Chưa đặt backup.dir trong cấu hình', 'backup.dir is not set in the config'));
    const due = await backupDue(dir, now, intervalDays);
    if (!due.due && due.newest) {
      out(`backup: not due (newest ${due.newest.name}, every ${intervalDays} days)`);
      return;
    }
    const r = await createBackup(app.store, { root: dir, storageDir: app.config.storage.dir, now, keep, serverVersion: serverVersion(), actor: BACKUP_ACTOR, log: app.log });
    if (r.sameDevice) app.log.warn({ dir }, 'backup: backup.dir is on the same device as storage.dir (R-OPS-1 asks for another storage device)');
    const m = r.manifest;
    out(`backup: ${r.dir}, ${m.blobs.count} blobs (${m.blobs.linked} linked, ${m.blobs.copied} copied), ${formatBytes(r.writtenBytes)} written, ${r.pruned.length} pruned`);
  },
};

/** One line per job. */
/**
 * R-STORE-3 for what no delivery or APPEND checks: a quota an administrator lowered, a mailbox
 * that fell below a threshold (so crossing it again warns again). Daily, over every account
 * that still receives mail (active or suspended).
 */
const quotaWarnings: Job = {
  name: 'quota-warnings',
  description: 'gửi thư cảnh báo hộp thư sắp đầy / send the warning mails of mailboxes nearly full',
  async run({ app, out }) {
    let warned = 0;
    for (const a of await app.store.listAccounts()) {
      if (a.state === 'deleted') continue;
      const level = await checkQuotaWarnings({ store: app.store, config: app.config, clock: app.clock }, a.id);
      if (level !== null) {
        warned++;
        out(`warned ${a.address}: ${level}%`);
      }
    }
    out(`quota-warnings: ${warned} warned`);
  },
};

export const JOBS: Job[] = [accountLifecycle, sendLogPrune, blobGc, backup, quotaWarnings];
