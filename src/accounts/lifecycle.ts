/**
 * The account lifecycle run by the `account-lifecycle` job (R-ACC-3, R-ACC-5):
 * - active accounts with no sign-in for lifecycle.inactiveSuspendDays are suspended (they still
 *   receive mail); super-administrators and unit mailboxes (reached through delegation, R-ACC-6)
 *   are left alone;
 * - NA: an account suspended deleteAfterSuspendedDays calendar days in a row is deleted;
 * - NB: deleteAfterNoticeWorkingDays working days (weekends and lifecycle.holidays skipped) after
 *   the suspension notice, the account is deleted and its mailboxes removed completely.
 * Either rule may be off (null). Dates are counted in Vietnam time (UTC+7, no daylight saving).
 * The result's `suspended` list is what the notice to the managing unit (NB Đ7.1) is made of: the
 * `account-lifecycle` job (cli/jobs.ts) delivers it to the unit's mailboxes and administrators.
 */
import type { Config } from '../config/schema.js';
import { bi } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import type { Account, Store } from '../store/port.js';

const DAY_MS = 86_400_000;
const VN_OFFSET_MS = 7 * 3_600_000;
export const LIFECYCLE_ACTOR = 'system:lifecycle';

export const INACTIVE_REASON = bi('Không đăng nhập quá thời hạn quy định', 'no sign-in for the configured period');

/** The calendar date (YYYY-MM-DD) of an instant in Vietnam. */
export function vnDate(d: Date): string {
  return new Date(d.getTime() + VN_OFFSET_MS).toISOString().slice(0, 10);
}

/** Working days after `from`'s date up to and including `to`'s date (Vietnam calendar). */
export function workingDaysBetween(from: Date, to: Date, holidays: readonly string[]): number {
  const holidaySet = new Set(holidays);
  const start = Date.parse(`${vnDate(from)}T00:00:00Z`);
  const end = Date.parse(`${vnDate(to)}T00:00:00Z`);
  let n = 0;
  for (let t = start + DAY_MS; t <= end; t += DAY_MS) {
    const day = new Date(t);
    const weekday = day.getUTCDay();
    if (weekday === 0 || weekday === 6) continue;
    if (holidaySet.has(day.toISOString().slice(0, 10))) continue;
    n++;
  }
  return n;
}

export interface LifecycleResult {
  suspended: string[];
  deleted: string[];
}

function lastActivity(a: Account): Date {
  return a.lastLoginAt && a.lastLoginAt > a.createdAt ? a.lastLoginAt : a.createdAt;
}

export async function runLifecycle(deps: { store: Store; config: Readonly<Config>; log: Logger }, now: Date): Promise<LifecycleResult> {
  const { store, config, log } = deps;
  const { inactiveSuspendDays, deleteAfterSuspendedDays, deleteAfterNoticeWorkingDays, holidays } = config.lifecycle;
  const result: LifecycleResult = { suspended: [], deleted: [] };

  for (const a of await store.listAccounts({ state: 'active' })) {
    if (a.role === 'super' || a.kind === 'unit') continue;
    if (now.getTime() - lastActivity(a).getTime() < inactiveSuspendDays * DAY_MS) continue;
    await store.updateAccount(
      a.id,
      { state: 'suspended', stateReason: INACTIVE_REASON, stateChangedAt: now, stateRef: null },
      { actor: LIFECYCLE_ACTOR, action: 'account.suspend', target: a.address, ref: null, details: { rule: 'inactive', days: inactiveSuspendDays, lastActivity: lastActivity(a).toISOString() } },
    );
    result.suspended.push(a.address);
  }

  for (const a of await store.listAccounts({ state: 'suspended' })) {
    const since = a.stateChangedAt;
    if (!since || a.role === 'super') continue;
    const byCalendar = deleteAfterSuspendedDays !== null && now.getTime() - since.getTime() >= deleteAfterSuspendedDays * DAY_MS;
    const byNotice = deleteAfterNoticeWorkingDays !== null && workingDaysBetween(since, now, holidays) >= deleteAfterNoticeWorkingDays;
    if (!byCalendar && !byNotice) continue;
    const rule = byNotice ? `${deleteAfterNoticeWorkingDays} working days after notice` : `${deleteAfterSuspendedDays} days suspended`;
    await store.updateAccount(
      a.id,
      { state: 'deleted', stateReason: bi('Tự động xóa sau thời hạn tạm khóa', 'deleted automatically after the suspension period'), stateChangedAt: now, stateRef: a.stateRef },
      { actor: LIFECYCLE_ACTOR, action: 'account.delete', target: a.address, ref: a.stateRef, details: { rule, suspendedAt: since.toISOString() } },
    );
    await store.purgeAccount(a.id, { actor: LIFECYCLE_ACTOR, action: 'account.purge', target: a.address, ref: a.stateRef, details: { rule } });
    result.deleted.push(a.address);
  }
  if (result.suspended.length || result.deleted.length) log.info({ ...result }, 'account lifecycle');
  return result;
}
