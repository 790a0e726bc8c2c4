/**
 * The account lifecycle run by the `account-lifecycle` job (R-ACC-3, R-ACC-5):
 * - active accounts with no sign-in for lifecycle.inactiveSuspendDays are suspended (they still
 *   receive mail); super-administrators and unit mailboxes (reached through delegation, R-ACC-6)
 *   are left alone;
 * - NA: an account suspended deleteAfterSuspendedDays calendar days in a row is deleted;
 * - NB: deleteAfterNoticeWorkingDays working days (weekends and lifecycle.holidays skipped) after
 *   the suspension notice, the account is deleted and its mailboxes removed completely.
 * Either rule may be off (null). Dates are counted in Vietnam time (UTC+7, no daylight saving).
 * Only suspensions this job made for inactivity are ever deleted, counted from that suspension (the
 * day its notice goes out): never one an administrator made (a compromise or a violation is
 * restored once fixed, R-ACC-4), never a unit mailbox (R-ACC-6) or an administrator's account.
 * Each account is read again inside the deletion's transaction, so a restore made meanwhile wins.
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

/**
 * When the account's current suspension was made by this job's inactivity rule, the time it was
 * made (the notice's day, from which NB's working days and NA's days are counted); else null.
 * Both marks must agree: the reason the rule writes, and the account's latest `account.suspend`
 * audit entry being the rule's own (an administrator who types the same reason is not the rule).
 * Unit mailboxes and administrators' accounts are never deleted by this job, whoever suspended them.
 */
async function inactivitySuspensionSince(store: Store, a: Account): Promise<Date | null> {
  if (a.state !== 'suspended' || a.stateChangedAt === null) return null;
  if (a.kind !== 'personal' || a.role !== 'none') return null;
  if (a.stateReason !== INACTIVE_REASON) return null;
  const audit = await store.listAudit({ target: a.address });
  const last = audit.find((e) => e.action === 'account.suspend' || e.action === 'account.restore');
  if (last?.action !== 'account.suspend' || last.actor !== LIFECYCLE_ACTOR || last.details?.['rule'] !== 'inactive') return null;
  return a.stateChangedAt;
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

  for (const listed of await store.listAccounts({ state: 'suspended' })) {
    if (listed.stateReason !== INACTIVE_REASON) continue; // an administrator's suspension: no write transaction for it
    const deleted = await store.batch(async (tx) => {
      // Read again: a restore (or a new suspension) since the listing wins.
      const a = await tx.getAccount(listed.id);
      if (a === null) return false;
      const since = await inactivitySuspensionSince(tx, a);
      if (since === null) return false;
      const byCalendar = deleteAfterSuspendedDays !== null && now.getTime() - since.getTime() >= deleteAfterSuspendedDays * DAY_MS;
      const byNotice = deleteAfterNoticeWorkingDays !== null && workingDaysBetween(since, now, holidays) >= deleteAfterNoticeWorkingDays;
      if (!byCalendar && !byNotice) return false;
      const rule = byNotice ? `${deleteAfterNoticeWorkingDays} working days after notice` : `${deleteAfterSuspendedDays} days suspended`;
      await tx.updateAccount(
        a.id,
        { state: 'deleted', stateReason: bi('Tự động xóa sau thời hạn tạm khóa', 'deleted automatically after the suspension period'), stateChangedAt: now, stateRef: a.stateRef },
        { actor: LIFECYCLE_ACTOR, action: 'account.delete', target: a.address, ref: a.stateRef, details: { rule, suspendedAt: since.toISOString() } },
      );
      await tx.purgeAccount(a.id, { actor: LIFECYCLE_ACTOR, action: 'account.purge', target: a.address, ref: a.stateRef, details: { rule } });
      return true;
    });
    if (deleted) result.deleted.push(listed.address);
  }
  if (result.suspended.length || result.deleted.length) log.info({ ...result }, 'account lifecycle');
  return result;
}
