/**
 * The jobs `buudien jobs run NAME` can run (and `serve`'s scheduler may run on a timetable).
 * Adding a job: export a `Job` from its module and add one line to JOBS.
 */
import type { App } from '../app.js';
import { runLifecycle, type OwedNotice } from '../accounts/lifecycle.js';
import type { Config } from '../config/schema.js';
import { pruneSendLog, pruneSignInHistory } from '../delivery/index.js';
import { formatBytes } from '../lib/bytes.js';
import { many } from '../lib/count.js';
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
  /** `jobs run --now` earlier than the real clock is refused (the job's periods count from its run). */
  pastNowRefused?: boolean;
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
    out(`blob-gc: ${r.deferred ? bi('hoãn lại, một bản sao lưu đang chép các tệp thư', 'deferred, a backup is copying blobs') : bi(`${r.blobs} tệp thư, ${r.bytes} byte`, `${r.blobs} blobs, ${r.bytes} bytes`)}`);
  },
};

/** R-ACC-3 / R-ACC-5: suspend inactive accounts, notify their units, delete those suspended past the configured period. */
const accountLifecycle: Job = {
  name: 'account-lifecycle',
  description: 'tạm khóa tài khoản không dùng, xóa tài khoản quá hạn tạm khóa / suspend inactive accounts, delete expired suspensions',
  // The notice periods count from the day the job runs: a run "in the past" would shorten them.
  pastNowRefused: true,
  async run({ app, now, out }) {
    const r = await runLifecycle({ store: app.store, config: app.config, log: app.log, notify: (owed) => noticeOfSuspension(app, owed) }, now);
    for (const a of r.suspended) out(bi(`đã tạm khóa ${a}`, `suspended ${a}`));
    for (const a of r.notified) out(bi(`đã thông báo việc tạm khóa ${a}`, `suspension of ${a} notified`));
    for (const to of r.noticeRecipients) out(bi(`đã gửi thông báo tới ${to}`, `notice sent to ${to}`));
    for (const a of r.deleted) out(bi(`đã xóa ${a}`, `deleted ${a}`));
    out(`account-lifecycle: ${bi(`tạm khóa ${r.suspended.length}, xóa ${r.deleted.length}`, `${r.suspended.length} suspended, ${r.deleted.length} deleted`)}`);
  },
};

/** A Vietnam date (YYYY-MM-DD) as Vietnamese write it: 28/07/2026. */
function vnDay(date: string): string {
  const [y, m, d] = date.split('-');
  return `${d}/${m}/${y}`;
}

/**
 * R-ACC-3 (NB Đ7.1): an inactivity suspension notifies the managing unit. Each unit whose accounts
 * are owed a notice gets one bilingual notice listing them, with the day each may be deleted from
 * if nobody asks to reopen it, in its unit mailboxes and to its unit administrators; with neither,
 * the system administrators get it. A recipient the delivery fails for is logged and skipped;
 * an account whose unit nobody got the notice for stays owed (runLifecycle tries again next run).
 */
async function noticeOfSuspension(app: App, owed: readonly OwedNotice[]): Promise<Map<string, string[]>> {
  const { store, config, log } = app;
  const byUnit = new Map<number | null, OwedNotice[]>();
  for (const o of owed) byUnit.set(o.unitId, [...(byUnit.get(o.unitId) ?? []), o]);
  const supers = (await store.listAccounts({ state: 'active' })).filter((a) => a.role === 'super');
  const sent = new Map<string, string[]>();
  const days = config.lifecycle.inactiveSuspendDays;
  for (const [unitId, notices] of byUnit) {
    const ofUnit = unitId === null ? [] : await store.listAccounts({ unitId });
    let to: Account[] = ofUnit.filter((a) => a.state !== 'deleted' && (a.kind === 'unit' || (a.role === 'unit' && a.state === 'active')));
    if (to.length === 0) to = supers;
    const vi = notices.map((n) => `  - ${n.address}${n.deletableFrom ? ` (sẽ bị xóa hẳn từ ngày ${vnDay(n.deletableFrom)} nếu không có đề nghị mở lại)` : ''}`).join('\n');
    const en = notices.map((n) => `  - ${n.address}${n.deletableFrom ? ` (removed for good from ${n.deletableFrom} unless reopening is requested)` : ''}`).join('\n');
    const got: string[] = [];
    for (const recipient of to) {
      try {
        await deliverNotice(app, recipient, {
          subject: `Thông báo: tạm khóa ${notices.length} tài khoản không sử dụng / Notice: ${many(notices.length, 'inactive account')} suspended`,
          body:
            `Các tài khoản sau không đăng nhập quá ${days} ngày nên đã bị tạm khóa; chúng vẫn nhận thư:\n${vi}\n` +
            `Để mở lại một tài khoản, đơn vị gửi đề nghị bằng văn bản tới quản trị hệ thống thư điện tử trước ngày nêu trên.\n\n` +
            `These accounts had no sign-in for more than ${days} days and are suspended; they still receive mail:\n${en}\n` +
            `To reopen one, the unit sends a written request to the mail system's administrators before that day.\n`,
        });
        got.push(recipient.address);
      } catch (e) {
        log.error({ err: e, to: recipient.address }, 'account lifecycle: suspension notice not delivered');
      }
    }
    for (const n of notices) sent.set(n.address, got);
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
    out(`send-log-prune: ${bi(`${n} dòng nhật ký, ${m} lượt đăng nhập`, `${n} rows, ${m} sign-ins`)}`);
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
      out(`backup: ${bi(`chưa đến hạn (bản mới nhất ${due.newest.name}, mỗi ${intervalDays} ngày)`, `not due (newest ${due.newest.name}, every ${intervalDays} days)`)}`);
      return;
    }
    const r = await createBackup(app.store, { root: dir, storageDir: app.config.storage.dir, now, keep, serverVersion: serverVersion(), actor: BACKUP_ACTOR, log: app.log });
    if (r.sameDevice) app.log.warn({ dir }, 'backup: backup.dir is on the same device as storage.dir (R-OPS-1 asks for another storage device)');
    const m = r.manifest;
    out(`backup: ${r.dir}, ${bi(`${m.blobs.count} tệp thư (${m.blobs.linked} liên kết, ${m.blobs.copied} chép), ghi ${formatBytes(r.writtenBytes)}, bỏ ${r.pruned.length} bản cũ`, `${m.blobs.count} blobs (${m.blobs.linked} linked, ${m.blobs.copied} copied), ${formatBytes(r.writtenBytes)} written, ${r.pruned.length} pruned`)}`);
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
        out(bi(`đã cảnh báo ${a.address}: ${level}%`, `warned ${a.address}: ${level}%`));
      }
    }
    out(`quota-warnings: ${bi(`cảnh báo ${warned}`, `${warned} warned`)}`);
  },
};

export const JOBS: Job[] = [accountLifecycle, sendLogPrune, blobGc, backup, quotaWarnings];
