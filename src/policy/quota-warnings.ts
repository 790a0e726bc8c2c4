/**
 * R-STORE-3: one bilingual warning mail into the mailbox at each threshold of
 * config.quota.warnPercent (80/90/95), not repeated until usage falls below the threshold and
 * crosses it again. State: store setting `quota-warning:<accountId>` = highest threshold warned.
 * Called after deliveries, after IMAP APPEND and COPY (MOVE stays within the account's usage),
 * and daily by the quota-warnings job; cheap when nothing changes.
 */
import type { Config } from '../config/schema.js';
import { formatBytes } from '../lib/bytes.js';
import type { Clock } from '../lib/clock.js';
import { effectiveQuotaBytes, type Store } from '../store/port.js';
import { deliverNotice } from './notice.js';

export interface QuotaWarningDeps {
  store: Store;
  config: Readonly<Config>;
  clock: Clock;
}

/** Checks under way per store and account: one at a time, so deliveries committed together warn once. */
const running = new WeakMap<Store, Map<number, Promise<number | null>>>();

/**
 * Returns the highest threshold warned about now, or null when no warning was sent. Checks of one
 * account run one after the other (deliveries of one group commit check at the same moment: each
 * saw the old level and sent the same warning), each reading the account and its usage when it
 * runs (a delivery's own figure is stale by then).
 */
export function checkQuotaWarnings(deps: QuotaWarningDeps, accountId: number): Promise<number | null> {
  let chains = running.get(deps.store);
  if (!chains) {
    chains = new Map();
    running.set(deps.store, chains);
  }
  const all = chains;
  const next = (all.get(accountId) ?? Promise.resolve(null)).catch(() => null).then(() => checkNow(deps, accountId));
  all.set(accountId, next);
  void next
    .finally(() => {
      if (all.get(accountId) === next) all.delete(accountId);
    })
    .catch(() => undefined);
  return next;
}

async function checkNow(deps: QuotaWarningDeps, accountId: number): Promise<number | null> {
  const { store, config } = deps;
  const thresholds = [...config.quota.warnPercent].sort((a, b) => a - b);
  const key = `quota-warning:${accountId}`;
  let warned: number | null = null;
  // A warning is a message too: when it carries usage over the next threshold, that one is told as well.
  for (let round = 0; round <= thresholds.length; round++) {
    const account = await store.getAccount(accountId);
    if (!account || account.state === 'deleted') return warned;
    const limit = effectiveQuotaBytes(account, config.quota);
    if (limit <= 0) return warned;
    const used = await store.usage(accountId);
    const percent = (used * 100) / limit;
    const reached = thresholds.filter((t) => percent >= t).pop() ?? 0;
    // Read each time, not remembered: another process (the CLI releasing quarantined mail) may
    // deliver, and so warn, too.
    const stored = Number((await store.getSetting(key)) ?? '0') || 0;
    if (reached === stored) return warned;
    if (reached < stored) {
      // Usage fell below: remember the lower level so crossing again warns again.
      await store.setSetting(key, reached === 0 ? null : String(reached));
      return warned;
    }
    await store.setSetting(key, String(reached));
    const pct = Math.floor(percent);
    await deliverNotice(deps, account, {
      subject: `Cảnh báo: hộp thư đã dùng ${reached}% dung lượng / Warning: your mailbox is ${reached}% full`,
      body:
        `Hộp thư ${account.address} đã dùng ${formatBytes(used)} trên ${formatBytes(limit)} (${pct}%).\n` +
        `Khi hộp thư đầy, thư gửi đến sẽ bị từ chối. Vui lòng xóa bớt thư cũ hoặc thư có tệp đính kèm lớn, và dọn thư mục Thùng rác.\n\n` +
        `The mailbox ${account.address} uses ${formatBytes(used)} of ${formatBytes(limit)} (${pct}%).\n` +
        `When it is full, incoming mail will be refused. Please delete old messages or large attachments and empty the Trash.\n`,
    });
    warned = reached;
  }
  return warned;
}
