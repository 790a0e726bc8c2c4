import { rmSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runLifecycle, vnDate, workingDaysBetween, type SuspensionNotifier } from '../../../src/accounts/lifecycle.js';
import { createAccountService, superActor, type AccountService } from '../../../src/accounts/service.js';
import { configFrom } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/schema.js';
import { ManualClock } from '../../../src/lib/clock.js';
import { silentLogger } from '../../../src/lib/log.js';
import type { Store } from '../../../src/store/port.js';
import { openSqliteStore } from '../../../src/store/sqlite/index.js';
import { testDir } from '../../helpers/app.js';

const DAY = 86_400_000;
/** Every notice reaches the unit's mailbox. */
const notify: SuspensionNotifier = async (owed) => new Map(owed.map((o) => [o.address, ['stc@example.gov.vn']]));

describe('working days (R-ACC-5, Vietnam calendar)', () => {
  it.each([
    // Friday 2026-03-06 notice → the following Mon..Fri are 5 working days
    ['2026-03-06T03:00:00Z', '2026-03-13T03:00:00Z', [], 5],
    // the notice day itself does not count; weekends never count
    ['2026-03-06T03:00:00Z', '2026-03-08T03:00:00Z', [], 0],
    ['2026-03-02T03:00:00Z', '2026-03-23T03:00:00Z', [], 15],
    // 30/4 and 1/5 public holidays skipped
    ['2026-04-27T03:00:00Z', '2026-05-04T03:00:00Z', ['2026-04-30', '2026-05-01'], 3],
    // 23:30 UTC is already the next day in Vietnam
    ['2026-03-05T23:30:00Z', '2026-03-09T01:00:00Z', [], 1],
  ])('%s → %s (holidays %j) = %i', (from, to, holidays, n) => {
    expect(workingDaysBetween(new Date(from), new Date(to), holidays)).toBe(n);
  });
  it('dates in Vietnam time', () => {
    expect(vnDate(new Date('2026-03-05T17:00:00Z'))).toBe('2026-03-06');
  });
});

describe('runLifecycle', () => {
  let dir: string;
  let store: Store;
  let clock: ManualClock;
  const root = superActor('cli:test');

  async function open(lifecycle: Record<string, unknown>): Promise<{ svc: AccountService; config: Readonly<Config> }> {
    const config = configFrom({ domains: ['example.gov.vn'], storage: { dir }, lifecycle });
    store = await openSqliteStore({ dir, log: silentLogger(), clock, inlineBlobMaxBytes: 65536, groupCommitWindowMs: 0 });
    await store.addDomain('example.gov.vn', { actor: 't', action: 'domain.add', target: 'example.gov.vn' });
    const svc = createAccountService({ store, config, clock, log: silentLogger() });
    await svc.addUnit({ name: 'Sở Tài chính' }, root);
    return { svc, config };
  }

  beforeEach(() => {
    dir = testDir('buudien-lifecycle-');
    clock = new ManualClock(new Date('2026-01-05T02:00:00Z'));
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('NA: suspends after 183 idle days (not super-admins, not unit mailboxes), deletes after 183 days suspended', async () => {
    const { svc, config } = await open({ inactiveSuspendDays: 183, deleteAfterSuspendedDays: 183, deleteAfterNoticeWorkingDays: null });
    await svc.addAccount({ fullName: 'Lê Văn Hùng', unit: 'stc' }, root);
    const active = await svc.addAccount({ fullName: 'Trần Thị Mai', unit: 'stc' }, root);
    await svc.addAccount({ fullName: 'Sở Tài chính', unit: 'stc', kind: 'unit' }, root);
    await svc.addAccount({ fullName: 'Quản trị', address: 'admin', kind: 'admin', role: 'super' }, root);
    const deps = { store, config, log: silentLogger(), notify };

    expect(await runLifecycle(deps, new Date(clock.now().getTime() + 182 * DAY))).toMatchObject({ suspended: [], deleted: [] });
    await store.updateAccount(active.account.id, { lastLoginAt: new Date(clock.now().getTime() + 100 * DAY) }, null);
    const t1 = new Date(clock.now().getTime() + 183 * DAY);
    expect(await runLifecycle(deps, t1)).toMatchObject({ suspended: ['hunglv@example.gov.vn'], deleted: [] });
    const s = await store.getAccountByAddress('hunglv@example.gov.vn');
    expect(s).toMatchObject({ state: 'suspended' });
    expect(s?.stateChangedAt?.toISOString()).toBe(t1.toISOString());
    // The suspension, then its notice to the unit (NB Đ7.1), recorded with who got it.
    const entries = await store.listAudit({ target: 'hunglv@example.gov.vn', actor: 'system:lifecycle' });
    expect(entries.map((e) => e.action)).toEqual(['account.suspend.notice', 'account.suspend']);
    expect(entries[0]?.details).toEqual({ to: ['stc@example.gov.vn'], deletableFrom: vnDate(new Date(t1.getTime() + 183 * DAY)) });

    // Mai's last sign-in (day 100) is 183 days old at day 283.
    expect(await runLifecycle(deps, new Date(clock.now().getTime() + 283 * DAY))).toMatchObject({ suspended: ['maitt@example.gov.vn'], deleted: [] });
    expect((await runLifecycle(deps, new Date(t1.getTime() + 182 * DAY))).deleted).toEqual([]);
    const r = await runLifecycle(deps, new Date(t1.getTime() + 183 * DAY));
    expect(r).toMatchObject({ suspended: [], deleted: ['hunglv@example.gov.vn'] });
    expect((await store.getAccountByAddress('hunglv@example.gov.vn'))?.state).toBe('deleted');
    expect(await store.listMailboxes(s?.id ?? -1)).toEqual([]);
    expect((await store.getAccountByAddress('stc@example.gov.vn'))?.state).toBe('active');
    expect((await store.getAccountByAddress('admin@example.gov.vn'))?.state).toBe('active');
  });

  it('NB: deletes 15 working days after the inactivity suspension notice', async () => {
    const { svc, config } = await open({ inactiveSuspendDays: 183, deleteAfterSuspendedDays: null, deleteAfterNoticeWorkingDays: 15, holidays: ['2026-09-15'] });
    await svc.addAccount({ fullName: 'Lê Văn Hùng', unit: 'stc' }, root);
    const deps = { store, config, log: silentLogger(), notify };
    // Idle since 03-02: the rule suspends it (with its notice) on Monday 09-07.
    clock.set(new Date('2026-09-07T03:00:00Z'));
    expect((await runLifecycle(deps, new Date('2026-09-07T03:00:00Z'))).suspended).toEqual(['hunglv@example.gov.vn']);
    // 2026-09-28 is the 15th working day after 09-07 without the holiday; with 09-15 off it is
    // 09-29, so the period has passed whole from 09-30 (NB Đ7.1: "sau thời hạn 15 ngày làm việc").
    expect((await runLifecycle(deps, new Date('2026-09-29T03:00:00Z'))).deleted).toEqual([]);
    expect((await runLifecycle(deps, new Date('2026-09-30T03:00:00Z'))).deleted).toEqual(['hunglv@example.gov.vn']);
    const audit = await store.listAudit({ target: 'hunglv@example.gov.vn', actor: 'system:lifecycle' });
    expect(audit.map((a) => a.action).sort()).toEqual(['account.delete', 'account.purge', 'account.suspend', 'account.suspend.notice']);
  });
});
