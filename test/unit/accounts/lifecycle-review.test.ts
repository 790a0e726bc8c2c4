/**
 * Review fixes to the account lifecycle (R-ACC-3..6): only suspensions the inactivity rule made are
 * deleted automatically, counted from that suspension (its notice), never unit mailboxes or
 * administrators, and a restore made while the job runs wins.
 */
import { rmSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { INACTIVE_REASON, runLifecycle, type OwedNotice, type SuspensionNotifier } from '../../../src/accounts/lifecycle.js';
import { createAccountService, superActor, type AccountService } from '../../../src/accounts/service.js';
import { configFrom } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/schema.js';
import { ManualClock } from '../../../src/lib/clock.js';
import { silentLogger } from '../../../src/lib/log.js';
import type { AccountState, Store } from '../../../src/store/port.js';
import { openSqliteStore } from '../../../src/store/sqlite/index.js';
import { testDir } from '../../helpers/app.js';

const DAY = 86_400_000;
/** Every notice reaches the unit's mailbox. */
const notifyAll: SuspensionNotifier = async (owed) => new Map(owed.map((o) => [o.address, ['stc@example.gov.vn']]));
const NB = { inactiveSuspendDays: 183, deleteAfterSuspendedDays: null, deleteAfterNoticeWorkingDays: 15 };
const NA = { inactiveSuspendDays: 183, deleteAfterSuspendedDays: 183, deleteAfterNoticeWorkingDays: null };

describe('runLifecycle deletes only inactivity suspensions', () => {
  let dir: string;
  let store: Store;
  let clock: ManualClock;
  let svc: AccountService;
  let config: Readonly<Config>;
  const root = superActor('cli:test');
  const start = new Date('2026-01-05T02:00:00Z'); // Monday

  async function open(lifecycle: Record<string, unknown>): Promise<void> {
    config = configFrom({ domains: ['example.gov.vn'], storage: { dir }, lifecycle });
    store = await openSqliteStore({ dir, log: silentLogger(), clock, inlineBlobMaxBytes: 65536, groupCommitWindowMs: 0 });
    await store.addDomain('example.gov.vn', { actor: 't', action: 'domain.add', target: 'example.gov.vn' });
    svc = createAccountService({ store, config, clock, log: silentLogger() });
    await svc.addUnit({ name: 'Sở Tài chính' }, root);
  }

  /** The job as `serve` runs it: the store's clock at the run's time. */
  function run(at: Date, s: Store = store, notify: SuspensionNotifier = notifyAll): ReturnType<typeof runLifecycle> {
    clock.set(at);
    return runLifecycle({ store: s, config, log: silentLogger(), notify }, at);
  }

  async function state(address: string): Promise<AccountState | undefined> {
    return (await store.getAccountByAddress(address))?.state;
  }

  async function mailboxCount(address: string): Promise<number> {
    const a = await store.getAccountByAddress(address);
    return a ? (await store.listMailboxes(a.id)).length : -1;
  }

  beforeEach(() => {
    dir = testDir('buudien-lifecycle-review-');
    clock = new ManualClock(start);
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('NB: manual suspensions (a compromise, a unit mailbox, the same reason typed by hand) and administrators are kept', async () => {
    await open(NB);
    await svc.addAccount({ fullName: 'Lê Văn Hùng', unit: 'stc' }, root); // idle: the rule suspends it
    await svc.addAccount({ fullName: 'Trần Thị Mai', unit: 'stc' }, root);
    await svc.addAccount({ fullName: 'Phạm Thị Ngọc', unit: 'stc' }, root);
    await svc.addAccount({ fullName: 'Sở Tài chính', unit: 'stc', kind: 'unit' }, root);
    await svc.addAccount({ fullName: 'Đỗ Văn Quản', unit: 'stc', role: 'unit' }, root); // idle unit administrator

    // Day 183: the rule suspends the idle accounts (the unit administrator too: that rule is unchanged).
    const t1 = new Date(start.getTime() + 183 * DAY);
    clock.set(new Date(t1.getTime() - DAY));
    await store.updateAccount((await store.getAccountByAddress('maitt@example.gov.vn'))!.id, { lastLoginAt: clock.now() }, null);
    await store.updateAccount((await store.getAccountByAddress('ngocpt@example.gov.vn'))!.id, { lastLoginAt: clock.now() }, null);
    await svc.suspend('stc', 'bị lộ mật khẩu, chờ xử lý', root);
    await svc.suspend('maitt', 'compromised', root);
    await svc.suspend('ngocpt', INACTIVE_REASON, root); // an administrator's suspension, whatever its wording
    expect((await run(t1)).suspended.sort()).toEqual(['hunglv@example.gov.vn', 'quandv@example.gov.vn']);

    // 15 working days after the notice (no holidays): only the rule's own suspension of a user goes.
    const r = await run(new Date(t1.getTime() + 40 * DAY));
    expect(r.deleted).toEqual(['hunglv@example.gov.vn']);
    expect(await state('hunglv@example.gov.vn')).toBe('deleted');
    for (const kept of ['stc@example.gov.vn', 'maitt@example.gov.vn', 'ngocpt@example.gov.vn', 'quandv@example.gov.vn']) {
      expect(await state(kept), kept).toBe('suspended');
      expect(await mailboxCount(kept), kept).toBeGreaterThan(0);
    }
    // R-ACC-4: the compromised account can still be restored.
    expect((await svc.restore('maitt', root)).state).toBe('active');
  });

  it('NA: the calendar rule also leaves manual suspensions alone', async () => {
    await open(NA);
    await svc.addAccount({ fullName: 'Trần Thị Mai', unit: 'stc' }, root);
    await svc.suspend('maitt', 'phát tán thư rác', root);
    expect((await run(new Date(start.getTime() + 400 * DAY))).deleted).toEqual([]);
    expect(await state('maitt@example.gov.vn')).toBe('suspended');
  });

  it('NB: counted from the latest inactivity suspension, not an earlier one restored since', async () => {
    await open(NB);
    const hung = (await svc.addAccount({ fullName: 'Lê Văn Hùng', unit: 'stc' }, root)).account;
    const t1 = new Date('2026-07-07T02:00:00Z'); // Tuesday, 183 days after start
    expect((await run(t1)).suspended).toEqual(['hunglv@example.gov.vn']);
    clock.set(new Date(t1.getTime() + DAY));
    await svc.restore('hunglv', root);
    await store.updateAccount(hung.id, { lastLoginAt: clock.now() }, null);
    // Idle again: suspended a second time on 2027-01-07 (Thursday).
    const t2 = new Date(t1.getTime() + DAY + 183 * DAY);
    expect(t2.toISOString()).toBe('2027-01-07T02:00:00.000Z');
    expect((await run(new Date(t2.getTime() - DAY))).suspended).toEqual([]);
    expect((await run(t2)).suspended).toEqual(['hunglv@example.gov.vn']);
    // The 15th working day after t2 is 2027-01-28: kept through it, deleted the day after.
    expect((await run(new Date('2027-01-28T02:00:00Z'))).deleted).toEqual([]);
    expect((await run(new Date('2027-01-29T02:00:00Z'))).deleted).toEqual(['hunglv@example.gov.vn']);
    const audit = await store.listAudit({ target: 'hunglv@example.gov.vn', actor: 'system:lifecycle' });
    expect(audit.find((e) => e.action === 'account.delete')?.details?.['suspendedAt']).toBe(t2.toISOString());
  });

  it('a restore between the listing and the deletion wins', async () => {
    await open(NB);
    await svc.addAccount({ fullName: 'Lê Văn Hùng', unit: 'stc' }, root);
    const t1 = new Date(start.getTime() + 183 * DAY);
    expect((await run(t1)).suspended).toEqual(['hunglv@example.gov.vn']);
    // The administrator restores the account right after the job listed the suspended accounts.
    const racing = new Proxy(store, {
      get(target, prop) {
        if (prop === 'listAccounts') {
          return async (filter?: { state?: AccountState }) => {
            const listed = await target.listAccounts(filter);
            if (filter?.state === 'suspended') await svc.restore('hunglv', root);
            return listed;
          };
        }
        const v: unknown = Reflect.get(target, prop, target);
        return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v;
      },
    });
    expect((await run(new Date(t1.getTime() + 40 * DAY), racing)).deleted).toEqual([]);
    expect(await state('hunglv@example.gov.vn')).toBe('active');
    expect(await mailboxCount('hunglv@example.gov.vn')).toBeGreaterThan(0);
  });

  /** The store, with `hook` run right after the job lists the accounts in `state`. */
  function afterListing(state: AccountState, hook: () => Promise<unknown>): Store {
    return new Proxy(store, {
      get(target, prop) {
        if (prop === 'listAccounts') {
          return async (filter?: { state?: AccountState }) => {
            const listed = await target.listAccounts(filter);
            if (filter?.state === state) await hook();
            return listed;
          };
        }
        const v: unknown = Reflect.get(target, prop, target);
        return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v;
      },
    });
  }

  it("an administrator's suspension made while the job lists active accounts is kept as it is, never deleted", async () => {
    await open(NB);
    await svc.addAccount({ fullName: 'Lê Văn Hùng', unit: 'stc' }, root);
    const t1 = new Date(start.getTime() + 184 * DAY);
    clock.set(t1);
    const r = await run(t1, afterListing('active', () => svc.suspend('hunglv', 'bị lộ mật khẩu', root)));
    expect(r.suspended).toEqual([]);
    expect((await store.getAccountByAddress('hunglv@example.gov.vn'))?.stateReason).toBe('bị lộ mật khẩu');
    expect((await run(new Date(t1.getTime() + 60 * DAY))).deleted).toEqual([]);
    expect(await state('hunglv@example.gov.vn')).toBe('suspended');
  });

  it('a sign-in made after the listing keeps the account active', async () => {
    await open(NB);
    const hung = (await svc.addAccount({ fullName: 'Lê Văn Hùng', unit: 'stc' }, root)).account;
    const t1 = new Date(start.getTime() + 184 * DAY);
    expect((await run(t1, afterListing('active', () => store.updateAccount(hung.id, { lastLoginAt: t1 }, null)))).suspended).toEqual([]);
    expect(await state('hunglv@example.gov.vn')).toBe('active');
  });

  it('R-ACC-4: a restored account is not suspended again the next day (the restore counts as activity)', async () => {
    await open(NB);
    await svc.addAccount({ fullName: 'Lê Văn Hùng', unit: 'stc' }, root);
    const t1 = new Date(start.getTime() + 184 * DAY);
    expect((await run(t1)).suspended).toEqual(['hunglv@example.gov.vn']);
    clock.set(new Date(t1.getTime() + 3 * 3_600_000));
    await svc.restore('hunglv', root);
    expect((await run(new Date(t1.getTime() + DAY))).suspended).toEqual([]);
    expect((await run(new Date(t1.getTime() + 30 * DAY))).suspended).toEqual([]);
    expect(await state('hunglv@example.gov.vn')).toBe('active');
    // Still idle six months after the restore: suspended again.
    expect((await run(new Date(t1.getTime() + 3 * 3_600_000 + 184 * DAY))).suspended).toEqual(['hunglv@example.gov.vn']);
  });

  it('NB: a notice that could not be delivered is owed: sent at the next run, and the account is not deleted before it went out plus 15 working days', async () => {
    await open(NB);
    await svc.addAccount({ fullName: 'Lê Văn Hùng', unit: 'stc' }, root);
    const t1 = new Date('2026-07-08T02:00:00Z'); // Wednesday, 184 days after start
    const nobody: SuspensionNotifier = async () => new Map();
    const first = await run(t1, store, nobody);
    expect(first).toMatchObject({ suspended: ['hunglv@example.gov.vn'], notified: [], deleted: [] });
    // A month later the mail system works again: the notice goes out then, and the count starts there.
    const t2 = new Date('2026-08-10T02:00:00Z'); // Monday
    let owed: readonly OwedNotice[] = [];
    const second = await run(t2, store, async (o) => {
      owed = o;
      return notifyAll(o);
    });
    expect(second).toMatchObject({ suspended: [], notified: ['hunglv@example.gov.vn'], noticeRecipients: ['stc@example.gov.vn'], deleted: [] });
    // The 15th working day after Monday 08-10 is Monday 08-31: the account goes on 09-01.
    expect(owed).toEqual([{ address: 'hunglv@example.gov.vn', unitId: expect.any(Number), deletableFrom: '2026-09-01' }]);
    // Owed no more: the next run sends nothing.
    expect((await run(new Date('2026-08-11T02:00:00Z'))).notified).toEqual([]);
    expect((await run(new Date('2026-08-31T16:30:00Z'))).deleted).toEqual([]); // 23:30 on the 15th working day
    expect((await run(new Date('2026-08-31T17:30:00Z'))).deleted).toEqual(['hunglv@example.gov.vn']); // 00:30 on 09-01
  });

  it('NB: never deleted while its notice is owed, however long', async () => {
    await open(NB);
    await svc.addAccount({ fullName: 'Lê Văn Hùng', unit: 'stc' }, root);
    const nobody: SuspensionNotifier = async () => new Map();
    expect((await run(new Date(start.getTime() + 184 * DAY), store, nobody)).suspended).toEqual(['hunglv@example.gov.vn']);
    expect((await run(new Date(start.getTime() + 400 * DAY), store, nobody)).deleted).toEqual([]);
    expect(await state('hunglv@example.gov.vn')).toBe('suspended');
  });

  it('NA: 184 days: suspended on 1 July, kept through 31 December, deleted on 1 January', async () => {
    await open({ deleteAfterNoticeWorkingDays: null });
    clock.set(new Date('2024-12-29T01:00:00Z'));
    await svc.addAccount({ fullName: 'Lê Văn Hùng', unit: 'stc' }, root);
    expect((await run(new Date('2025-07-01T01:00:00Z'))).suspended).toEqual(['hunglv@example.gov.vn']);
    expect((await run(new Date('2025-12-31T01:00:00Z'))).deleted).toEqual([]);
    expect((await run(new Date('2026-01-01T01:00:00Z'))).deleted).toEqual(['hunglv@example.gov.vn']);
  });
});
