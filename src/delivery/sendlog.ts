/**
 * Send-log retention (R-LOG-1: kept at least six months; config sendLog.retentionDays ≥ 184).
 * The sign-in history (R-AUTH-5) is kept as long.
 */
import type { Config } from '../config/schema.js';
import type { Store } from '../store/port.js';

const DAY_MS = 24 * 3600 * 1000;

/** Remove send-log rows older than the retention period; returns how many were removed. For the jobs registry. */
export async function pruneSendLog(store: Store, config: Readonly<Config>, now: Date): Promise<number> {
  const before = new Date(now.getTime() - config.sendLog.retentionDays * DAY_MS);
  return store.pruneSendLog(before);
}

/** Remove sign-in history rows older than the send log's retention period; returns how many. */
export async function pruneSignInHistory(store: Store, config: Readonly<Config>, now: Date): Promise<number> {
  return store.pruneSignIns(new Date(now.getTime() - config.sendLog.retentionDays * DAY_MS));
}
