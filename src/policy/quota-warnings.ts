/**
 * R-STORE-3: one bilingual warning mail into the mailbox at each threshold of
 * config.quota.warnPercent (80/90/95), not repeated until usage falls below the threshold and
 * crosses it again. State: store setting `quota-warning:<accountId>` = highest threshold warned.
 * Call after deliveries (and from the scheduled job); cheap when nothing changes.
 */
import type { Config } from '../config/schema.js';
import { formatBytes } from '../lib/bytes.js';
import type { Clock } from '../lib/clock.js';
import { effectiveQuotaBytes, type Account, type Store } from '../store/port.js';
import { deliverNotice } from './notice.js';

export interface QuotaWarningDeps {
  store: Store;
  config: Readonly<Config>;
  clock: Clock;
}

/**
 * Returns the threshold warned about now, or null when no warning was sent. `known` is what a
 * delivery already has: the account and its usage right after the delivery (StoredCopy.usedBytes).
 */
export async function checkQuotaWarnings(deps: QuotaWarningDeps, accountId: number, known?: { account: Account; used: number }): Promise<number | null> {
  const { store, config } = deps;
  const account = known?.account ?? (await store.getAccount(accountId));
  if (!account || account.state === 'deleted') return null;
  const limit = effectiveQuotaBytes(account, config.quota);
  if (limit <= 0) return null;
  const used = known?.used ?? (await store.usage(accountId));
  const percent = (used * 100) / limit;
  const thresholds = [...config.quota.warnPercent].sort((a, b) => a - b);
  const reached = thresholds.filter((t) => percent >= t).pop() ?? 0;
  const key = `quota-warning:${accountId}`;
  // Read each time, not remembered: another process (the CLI releasing quarantined mail) may
  // deliver, and so warn, too.
  const stored = Number((await store.getSetting(key)) ?? '0') || 0;
  if (reached === stored) return null;
  if (reached < stored) {
    // Usage fell below: remember the lower level so crossing again warns again.
    await store.setSetting(key, reached === 0 ? null : String(reached));
    return null;
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
  return reached;
}
