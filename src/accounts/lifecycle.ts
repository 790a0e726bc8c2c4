/**
 * The account lifecycle run by the `account-lifecycle` job (R-ACC-3, R-ACC-5):
 * - active accounts with no sign-in for lifecycle.inactiveSuspendDays are suspended (they still
 *   receive mail); super-administrators and unit mailboxes (reached through delegation, R-ACC-6)
 *   are left alone;
 * - NA: an account suspended deleteAfterSuspendedDays calendar days in a row is deleted;
 * - NB: deleteAfterNoticeWorkingDays working days (weekends and lifecycle.holidays skipped) after
 *   the suspension notice, the account is deleted and its mailboxes removed completely.
 * Either rule may be off (null). Dates are counted in Vietnam time (UTC+7, no daylight saving).
 * Only suspensions this job made for inactivity are ever deleted: never one an administrator made
 * (a compromise or a violation is restored once fixed, R-ACC-4), never a unit mailbox (R-ACC-6) or
 * an administrator's account. NA's days count from the suspension; NB's working days from the
 * notice, which must have gone out (NB Đ7.1): each run sends the notices still owed (the notifier,
 * cli/jobs.ts, delivers them to the unit's mailboxes and administrators) and records each one sent
 * (`account.suspend.notice`), so a run that failed before its notices went out sends them next
 * time, and no account is deleted under NB without one. Deletion waits until the period has passed
 * whole: NB's last working day has ended. Every suspension and deletion re-reads its account in
 * its own transaction: a restore or an administrator's suspension made meanwhile wins, and a
 * restore counts as activity (the account is not suspended again the next day).
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

/** The working days that have passed whole between `from` and `to`: after `from`'s date and before `to`'s. */
export function fullWorkingDaysBetween(from: Date, to: Date, holidays: readonly string[]): number {
  return workingDaysBetween(from, new Date(to.getTime() - DAY_MS), holidays);
}

/** The Vietnam date after the `n`-th working day following `from`'s date: the first day the period has passed whole. */
export function dayAfterWorkingDays(from: Date, n: number, holidays: readonly string[]): string {
  const holidaySet = new Set(holidays);
  let t = Date.parse(`${vnDate(from)}T00:00:00Z`);
  for (let left = n; left > 0; ) {
    t += DAY_MS;
    const day = new Date(t);
    const weekday = day.getUTCDay();
    if (weekday !== 0 && weekday !== 6 && !holidaySet.has(day.toISOString().slice(0, 10))) left--;
  }
  return new Date(t + DAY_MS).toISOString().slice(0, 10);
}

/** An inactivity suspension whose notice is owed to the managing unit (NB Đ7.1). */
export interface OwedNotice {
  address: string;
  unitId: number | null;
  /** The Vietnam date from which the account may be deleted if nobody asks to reopen it; null when no deletion rule is on. */
  deletableFrom: string | null;
}

/**
 * Delivers the notices (one per unit, to its mailboxes and administrators) and answers, for each
 * account, who got it; an account missing from the answer (or with nobody) is owed it still.
 */
export type SuspensionNotifier = (owed: readonly OwedNotice[]) => Promise<ReadonlyMap<string, readonly string[]>>;

export interface LifecycleResult {
  suspended: string[];
  /** Accounts whose suspension notice went out in this run (this run's suspensions and any owed from earlier runs). */
  notified: string[];
  /** Who received those notices. */
  noticeRecipients: string[];
  deleted: string[];
}

export const NOTICE_ACTION = 'account.suspend.notice';

/**
 * The last activity: the latest sign-in, the creation, or, for an active account, the last change
 * of state (a restore: R-ACC-4 reopens the account, and it must not be suspended again next day).
 */
function lastActivity(a: Account): Date {
  let t = a.createdAt;
  if (a.lastLoginAt && a.lastLoginAt > t) t = a.lastLoginAt;
  if (a.state === 'active' && a.stateChangedAt && a.stateChangedAt > t) t = a.stateChangedAt;
  return t;
}

function inactive(a: Account, now: Date, days: number): boolean {
  if (a.state !== 'active' || a.role === 'super' || a.kind === 'unit') return false;
  return now.getTime() - lastActivity(a).getTime() >= days * DAY_MS;
}

/**
 * When the account's current suspension was made by this job's inactivity rule: when it was made,
 * and when its notice went out (null while owed); else null. Both marks must agree: the reason the
 * rule writes, and the account's latest `account.suspend` audit entry being the rule's own (an
 * administrator who types the same reason is not the rule). Unit mailboxes and administrators'
 * accounts are never deleted by this job, whoever suspended them.
 */
async function inactivitySuspension(store: Store, a: Account): Promise<{ since: Date; noticeAt: Date | null } | null> {
  if (a.state !== 'suspended' || a.stateChangedAt === null) return null;
  if (a.kind !== 'personal' || a.role !== 'none') return null;
  if (a.stateReason !== INACTIVE_REASON) return null;
  let noticeAt: Date | null = null;
  // Newest first: notices of this suspension come before its own entry.
  for (const e of await store.listAudit({ target: a.address })) {
    if (e.action === NOTICE_ACTION && e.actor === LIFECYCLE_ACTOR) {
      noticeAt ??= e.at;
      continue;
    }
    if (e.action !== 'account.suspend' && e.action !== 'account.restore') continue;
    if (e.action !== 'account.suspend' || e.actor !== LIFECYCLE_ACTOR || e.details?.['rule'] !== 'inactive') return null;
    return { since: a.stateChangedAt, noticeAt };
  }
  return null;
}

export async function runLifecycle(deps: { store: Store; config: Readonly<Config>; log: Logger; notify: SuspensionNotifier }, now: Date): Promise<LifecycleResult> {
  const { store, config, log, notify } = deps;
  const { inactiveSuspendDays, deleteAfterSuspendedDays, deleteAfterNoticeWorkingDays, holidays } = config.lifecycle;
  const result: LifecycleResult = { suspended: [], notified: [], noticeRecipients: [], deleted: [] };

  for (const listed of await store.listAccounts({ state: 'active' })) {
    if (!inactive(listed, now, inactiveSuspendDays)) continue;
    const suspended = await store.batch(async (tx) => {
      // Read again: a sign-in, or an administrator's suspension, since the listing wins.
      const a = await tx.getAccount(listed.id);
      if (a === null || !inactive(a, now, inactiveSuspendDays)) return false;
      await tx.updateAccount(
        a.id,
        { state: 'suspended', stateReason: INACTIVE_REASON, stateChangedAt: now, stateRef: null },
        { actor: LIFECYCLE_ACTOR, action: 'account.suspend', target: a.address, ref: null, details: { rule: 'inactive', days: inactiveSuspendDays, lastActivity: lastActivity(a).toISOString() } },
      );
      return true;
    });
    if (suspended) result.suspended.push(listed.address);
  }

  // The notices owed: this run's suspensions, and any an earlier run could not send.
  const owed: OwedNotice[] = [];
  const pending: Array<{ account: Account; since: Date; noticeAt: Date | null }> = [];
  for (const a of await store.listAccounts({ state: 'suspended' })) {
    if (a.stateReason !== INACTIVE_REASON) continue;
    const s = await inactivitySuspension(store, a);
    if (s === null) continue;
    pending.push({ account: a, ...s });
    if (s.noticeAt !== null) continue;
    const byCalendar = deleteAfterSuspendedDays === null ? null : vnDate(new Date(s.since.getTime() + deleteAfterSuspendedDays * DAY_MS));
    const byNotice = deleteAfterNoticeWorkingDays === null ? null : dayAfterWorkingDays(now, deleteAfterNoticeWorkingDays, holidays);
    const dates = [byCalendar, byNotice].filter((d): d is string => d !== null).sort();
    owed.push({ address: a.address, unitId: a.unitId, deletableFrom: dates[0] ?? null });
  }
  if (owed.length > 0) {
    const sent = await notify(owed);
    const recipients = new Set<string>();
    for (const o of owed) {
      const to = sent.get(o.address) ?? [];
      if (to.length === 0) continue;
      await store.audit({ actor: LIFECYCLE_ACTOR, action: NOTICE_ACTION, target: o.address, ref: null, details: { to: [...to], deletableFrom: o.deletableFrom } });
      result.notified.push(o.address);
      for (const r of to) recipients.add(r);
      const p = pending.find((x) => x.account.address === o.address);
      if (p) p.noticeAt = now;
    }
    result.noticeRecipients = [...recipients];
    const missed = owed.filter((o) => !result.notified.includes(o.address)).map((o) => o.address);
    if (missed.length > 0) log.error({ accounts: missed }, 'account lifecycle: suspension notices not delivered; tried again at the next run, and these accounts are not deleted before');
  }

  for (const { account: listed } of pending) {
    const deleted = await store.batch(async (tx) => {
      // Read again: a restore (or a new suspension) since the listing wins.
      const a = await tx.getAccount(listed.id);
      if (a === null) return false;
      const s = await inactivitySuspension(tx, a);
      if (s === null) return false;
      const byCalendar = deleteAfterSuspendedDays !== null && now.getTime() - s.since.getTime() >= deleteAfterSuspendedDays * DAY_MS;
      // NB Đ7.1: "sau thời hạn 15 ngày làm việc" from the notice: only once it went out, and once the last of those days has ended.
      const byNotice = deleteAfterNoticeWorkingDays !== null && s.noticeAt !== null && fullWorkingDaysBetween(s.noticeAt, now, holidays) >= deleteAfterNoticeWorkingDays;
      if (!byCalendar && !byNotice) return false;
      const rule = byNotice ? `${deleteAfterNoticeWorkingDays} working days after notice` : `${deleteAfterSuspendedDays} days suspended`;
      await tx.updateAccount(
        a.id,
        { state: 'deleted', stateReason: bi('Tự động xóa sau thời hạn tạm khóa', 'deleted automatically after the suspension period'), stateChangedAt: now, stateRef: a.stateRef },
        { actor: LIFECYCLE_ACTOR, action: 'account.delete', target: a.address, ref: a.stateRef, details: { rule, suspendedAt: s.since.toISOString(), ...(s.noticeAt ? { noticeAt: s.noticeAt.toISOString() } : {}) } },
      );
      await tx.purgeAccount(a.id, { actor: LIFECYCLE_ACTOR, action: 'account.purge', target: a.address, ref: a.stateRef, details: { rule } });
      return true;
    });
    if (deleted) result.deleted.push(listed.address);
  }
  if (result.suspended.length || result.notified.length || result.deleted.length) log.info({ ...result }, 'account lifecycle');
  return result;
}
