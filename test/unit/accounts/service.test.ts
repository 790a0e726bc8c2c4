import { rmSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAccountService, superActor, type AccountService, type Actor } from '../../../src/accounts/service.js';
import { ensureBootstrap, bootstrapNotice } from '../../../src/accounts/bootstrap.js';
import { verifyPassword } from '../../../src/auth/passwords.js';
import { configFrom } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/schema.js';
import { ManualClock } from '../../../src/lib/clock.js';
import { isMailError } from '../../../src/lib/errors.js';
import { silentLogger } from '../../../src/lib/log.js';
import type { Store } from '../../../src/store/port.js';
import { openSqliteStore } from '../../../src/store/sqlite/index.js';
import { testDir } from '../../helpers/app.js';
import { errorCode } from '../../helpers/accounts.js';

const root = superActor('cli:test');
let dir: string;
let store: Store;
let clock: ManualClock;

async function open(overrides: Record<string, unknown> = {}): Promise<{ svc: AccountService; config: Readonly<Config> }> {
  const config = configFrom({ domains: ['example.gov.vn', 'other.gov.vn'], storage: { dir }, ...overrides });
  store = await openSqliteStore({ dir, log: silentLogger(), clock, inlineBlobMaxBytes: 65536, groupCommitWindowMs: 0 });
  for (const d of config.domains) await store.addDomain(d, { actor: 'test', action: 'domain.add', target: d });
  return { svc: createAccountService({ store, config, clock, log: silentLogger() }), config };
}

const code = errorCode;

beforeEach(() => {
  dir = testDir('buudien-accounts-');
  clock = new ManualClock(new Date('2026-03-02T08:00:00Z'));
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('units (R-ADDR-1, R-ADDR-2)', () => {
  it('derives codes, joins sub-units to the parent and refuses duplicates', async () => {
    const { svc } = await open();
    const so = await svc.addUnit({ name: 'Sở Kế hoạch và Đầu tư' }, root, 'CV-1');
    expect(so).toMatchObject({ code: 'skhdt', address: 'skhdt', parentId: null });
    const tc = await svc.addUnit({ name: 'Phòng Tổng hợp', code: 'TH', parent: 'skhdt', staff: 7 }, root);
    expect(tc).toMatchObject({ code: 'th', address: 'th.skhdt', parentId: so.id, staff: 7 });
    expect(await code(svc.addUnit({ name: 'Sở Kế hoạch và Đầu tư' }, root))).toBe('ALREADY_EXISTS');
    expect(await code(svc.addUnit({ name: 'Phòng X', parent: 'nope' }, root))).toBe('NOT_FOUND');
    expect((await svc.findUnit('sở kế hoạch VÀ đầu tư')).id).toBe(so.id);
    const audit = await store.listAudit({ target: 'skhdt' });
    expect(audit.some((a) => a.action === 'unit.add' && a.ref === 'CV-1' && a.actor === 'cli:test')).toBe(true);
  });

  it('tells units with the same code apart by address, and keeps unit addresses off personal ones', async () => {
    const { svc } = await open();
    await svc.addUnit({ name: 'Sở Tài chính' }, root);
    await svc.addUnit({ name: 'Sở Y tế' }, root);
    await svc.addUnit({ name: 'Văn phòng', parent: 'stc' }, root);
    await svc.addUnit({ name: 'Văn phòng', parent: 'syt' }, root);
    expect(await code(svc.getUnit('vp'))).toBe('INVALID_INPUT');
    expect((await svc.getUnit('vp.syt')).address).toBe('vp.syt');
    // a top-level unit coded "vp" is not a duplicate of vp.stc
    expect((await svc.addUnit({ name: 'Viện Pháp', code: 'vp' }, root)).address).toBe('vp');
    expect((await svc.getUnit('vp')).address).toBe('vp');
    await svc.addAccount({ fullName: 'Nguyễn Văn Long', unit: 'stc' }, root);
    expect(await code(svc.addUnit({ name: 'Long', code: 'longnv' }, root))).toBe('ALREADY_EXISTS');
  });

  it('uses the code alone when subUnitJoinsParent is false', async () => {
    const { svc } = await open({ naming: { subUnitJoinsParent: false } });
    await svc.addUnit({ name: 'Ủy ban nhân dân' }, root);
    expect((await svc.addUnit({ name: 'Văn phòng', parent: 'ubnd' }, root)).address).toBe('vp');
  });
});

describe('accounts', () => {
  it('names personal accounts, numbers namesakes 2, 3 and returns a one-time password', async () => {
    const { svc } = await open();
    await svc.addUnit({ name: 'Sở Thông tin và Truyền thông' }, root);
    expect(await svc.suggestAddress('Nguyễn Văn Long', 'stttt')).toBe('longnv@example.gov.vn');
    const first = await svc.addAccount({ fullName: 'Nguyễn Văn Long', unit: 'stttt' }, root, { ref: 'CV-12' });
    expect(first.account.address).toBe('longnv@example.gov.vn');
    expect(first.account.mustChangePassword).toBe(true);
    expect(first.oneTimePassword).toMatch(/.{14,}/);
    expect(await verifyPassword(first.account.passwordHash, first.oneTimePassword ?? '')).toBe(true);
    expect(await svc.suggestAddress('NGUYỄN  VĂN LONG', 'stttt')).toBe('longnv2@example.gov.vn');
    const second = await svc.addAccount({ fullName: 'Nguyễn Văn Long', unit: 'stttt' }, root);
    expect(second.account.address).toBe('longnv2@example.gov.vn');
    const third = await svc.addAccount({ fullName: 'Nguyễn Văn Long', unit: 'stttt', domain: 'other.gov.vn' }, root);
    expect(third.account.address).toBe('longnv@other.gov.vn');
    const audit = await store.listAudit({ target: 'longnv@example.gov.vn' });
    expect(audit[0]).toMatchObject({ action: 'account.add', ref: 'CV-12', actor: 'cli:test' });
  });

  it('namesakes added at the same moment both get an account: the second takes the next number, audited as such', async () => {
    const { svc } = await open();
    await svc.addUnit({ name: 'Sở Thông tin và Truyền thông' }, root);
    // Both are suggested longnv while their passwords hash; one commits first.
    const made = await Promise.all([1, 2, 3].map(() => svc.addAccount({ fullName: 'Nguyễn Văn Long', unit: 'stttt' }, root, { ref: 'CV-7' })));
    expect(made.map((m) => m.account.address).sort()).toEqual(['longnv2@example.gov.vn', 'longnv3@example.gov.vn', 'longnv@example.gov.vn']);
    for (const m of made) expect((await store.listAudit({ target: m.account.address }))[0]).toMatchObject({ action: 'account.add', target: m.account.address, ref: 'CV-7' });
    // An address asked for by name is never moved: a taken one is refused.
    expect(await code(svc.addAccount({ fullName: 'Nguyễn Văn Long', unit: 'stttt', address: 'longnv' }, root))).toBe('ALREADY_EXISTS');
  });

  it('follows the NB template: longnv.stttt then longnv2.stttt', async () => {
    const { svc } = await open({ naming: { personalTemplate: '{given}{initials}.{unit}' } });
    await svc.addUnit({ name: 'Sở Thông tin và Truyền thông' }, root);
    expect((await svc.addAccount({ fullName: 'Nguyễn Văn Long', unit: 'stttt' }, root)).account.address).toBe('longnv.stttt@example.gov.vn');
    expect((await svc.addAccount({ fullName: 'Nguyễn Văn Long', unit: 'stttt' }, root)).account.address).toBe('longnv2.stttt@example.gov.vn');
  });

  it('checks given passwords (admin length 10), quota by kind, duplicates, unit and domain', async () => {
    const { svc, config } = await open();
    await svc.addUnit({ name: 'Sở Tài chính' }, root);
    expect(await code(svc.addAccount({ fullName: 'Lê Văn A', unit: 'stc', password: 'short' }, root))).toBe('PASSWORD_WEAK');
    expect(await code(svc.addAccount({ fullName: 'Lê Văn A', unit: 'stc', kind: 'admin', password: 'Abcdef1!x' }, root))).toBe('PASSWORD_WEAK');
    const given = await svc.addAccount({ fullName: 'Lê Văn A', unit: 'stc', password: 'Abcdef1!', forceChange: false }, root);
    expect(given.oneTimePassword).toBeNull();
    expect(given.account.mustChangePassword).toBe(false);
    const audit = await store.listAudit({ target: given.account.address });
    expect(audit[0]?.details).toMatchObject({ noForceChange: true });
    const unitBox = await svc.addAccount({ fullName: 'Sở Tài chính', unit: 'stc', kind: 'unit' }, root);
    expect(unitBox.account.address).toBe('stc@example.gov.vn');
    expect((await svc.getAccount('stc', root)).effectiveQuotaBytes).toBe(config.quota.unitBytes);
    expect((await svc.getAccount('alv', root)).effectiveQuotaBytes).toBe(config.quota.personalBytes);
    const big = await svc.addAccount({ fullName: 'Trần B', unit: 'stc', quotaBytes: 5 * 1024 ** 3 }, root);
    expect((await svc.getAccount(big.account.address, root)).effectiveQuotaBytes).toBe(5 * 1024 ** 3);
    expect(await code(svc.addAccount({ fullName: 'X', unit: 'stc', address: 'alv' }, root))).toBe('ALREADY_EXISTS');
    expect(await code(svc.addAccount({ fullName: 'X', unit: 'nope' }, root))).toBe('NOT_FOUND');
    expect(await code(svc.addAccount({ fullName: 'X', unit: 'stc', address: 'x@gmail.com' }, root))).toBe('NOT_FOUND');
    expect(await code(svc.addAccount({ fullName: '!!!', unit: 'stc' }, root))).toBe('INVALID_INPUT');

  });

  it('suspends (still an account that receives), restores, deletes with reason, date and ref; sets quotas', async () => {
    const { svc } = await open();
    await svc.addUnit({ name: 'Sở Tài chính' }, root);
    const { account } = await svc.addAccount({ fullName: 'Phạm Thị Hoa', unit: 'stc' }, root);
    const s = await svc.suspend(account.address, 'nghỉ hưu', root, 'CV-3');
    expect(s).toMatchObject({ state: 'suspended', stateReason: 'nghỉ hưu', stateRef: 'CV-3' });
    expect(s.stateChangedAt?.toISOString()).toBe('2026-03-02T08:00:00.000Z');
    expect((await store.resolveAddress(account.address))?.id).toBe(account.id);
    expect(await code(svc.suspend(account.address, 'again', root))).toBe('INVALID_INPUT');
    expect((await svc.restore(account.address, root)).state).toBe('active');
    clock.advance(86_400_000);
    const d = await svc.delete(account.address, 'chuyển công tác', root, 'CV-4');
    expect(d).toMatchObject({ state: 'deleted', stateReason: 'chuyển công tác', stateRef: 'CV-4' });
    // a deleted account takes no more changes: no new password, no new quota
    expect(await code(svc.setPassword(account.address, null, root))).toBe('INVALID_INPUT');
    expect(await code(svc.setQuota(account.address, 3 * 1024 ** 3, root))).toBe('INVALID_INPUT');
    // the address is never reissued to a namesake
    expect((await svc.addAccount({ fullName: 'Phạm Thị Hoa', unit: 'stc' }, root)).account.address).toBe('hoapt2@example.gov.vn');
    expect((await svc.setQuota('hoapt2', 3 * 1024 ** 3, root)).quotaBytes).toBe(3 * 1024 ** 3);
    expect((await svc.setQuota('hoapt2', null, root)).quotaBytes).toBeNull();
    // R-STORE-1 floor: 2 GB for a personal account (10 GB for a unit mailbox)
    expect(await code(svc.setQuota('hoapt2', 1024 ** 3, root))).toBe('INVALID_INPUT');
    expect(await code(svc.addAccount({ fullName: 'Vũ Văn Nhỏ', unit: 'stc', quotaBytes: 100 * 1024 ** 2 }, root))).toBe('INVALID_INPUT');
    const actions = (await store.listAudit({ target: account.address })).map((a) => a.action).sort();
    expect(actions).toEqual(['account.add', 'account.delete', 'account.restore', 'account.suspend']);
  });

  it('keeps a unit address free for its unit mailbox', async () => {
    const { svc } = await open();
    await svc.addUnit({ name: 'Trạm Long', code: 'longnv' }, root);
    expect(await svc.suggestAddress('Nguyễn Văn Long', 'longnv')).toBe('longnv2@example.gov.vn');
    expect(await code(svc.addAccount({ fullName: 'Nguyễn Văn Long', unit: 'longnv', address: 'longnv' }, root))).toBe('ALREADY_EXISTS');
    expect((await svc.addAccount({ fullName: 'Trạm Long', unit: 'longnv', kind: 'unit' }, root)).account.address).toBe('longnv@example.gov.vn');
  });

  it('resets passwords: must change again unless told otherwise', async () => {
    const { svc } = await open();
    await svc.addUnit({ name: 'Sở Tài chính' }, root);
    const { account } = await svc.addAccount({ fullName: 'Vũ Văn C', unit: 'stc', password: 'Abcdef1!', forceChange: false }, root);
    const r = await svc.setPassword(account.address, null, root);
    expect(r.account.mustChangePassword).toBe(true);
    expect(await verifyPassword(r.account.passwordHash, r.oneTimePassword ?? '')).toBe(true);
  });
});

describe('R-ACC-7 unit administrators act only on their own unit', () => {
  it('lets a unit admin list, reset and suspend its own accounts and nothing else', async () => {
    const { svc } = await open();
    const a = await svc.addUnit({ name: 'Sở Tài chính' }, root);
    await svc.addUnit({ name: 'Sở Y tế' }, root);
    await svc.addAccount({ fullName: 'Đỗ Văn Mạnh', unit: 'stc' }, root);
    await svc.addAccount({ fullName: 'Lê Thị Lan', unit: 'syt' }, root);
    const unitAdmin: Actor = { name: 'quantri.stc@example.gov.vn', role: 'unit', unitId: a.id };
    expect((await svc.listAccounts({}, unitAdmin)).map((x) => x.address)).toEqual(['manhdv@example.gov.vn']);
    expect(await code(svc.listAccounts({ unit: 'syt' }, unitAdmin))).toBe('PERMISSION_DENIED');
    expect(await code(svc.setPassword('manhdv', null, unitAdmin))).toBe('ok');
    expect(await code(svc.suspend('manhdv', 'lộ mật khẩu', unitAdmin))).toBe('ok');
    expect(await code(svc.suspend('lanlt', 'x', unitAdmin))).toBe('PERMISSION_DENIED');
    expect(await code(svc.setPassword('lanlt', null, unitAdmin))).toBe('PERMISSION_DENIED');
    expect(await code(svc.delete('manhdv', 'x', unitAdmin))).toBe('PERMISSION_DENIED');
    expect(await code(svc.addAccount({ fullName: 'Mới', unit: 'stc' }, unitAdmin))).toBe('PERMISSION_DENIED');
    const user: Actor = { name: 'manhdv@example.gov.vn', role: 'none', unitId: a.id };
    expect(await code(svc.listAccounts({}, user))).toBe('PERMISSION_DENIED');
    expect((await store.listAudit({ target: 'manhdv@example.gov.vn' })).some((e) => e.actor === 'quantri.stc@example.gov.vn')).toBe(true);
  });

  it("a unit admin hands out no credentials of a unit mailbox's delegate (they open that mailbox, R-ACC-6); taking access away stays its to do", async () => {
    const { svc } = await open();
    const parent = await svc.addUnit({ name: 'Sở Tài chính' }, root);
    const sub = await svc.addUnit({ name: 'Phòng Ngân sách', parent: 'stc' }, root);
    await svc.addAccount({ fullName: 'Sở Tài chính', unit: 'stc', kind: 'unit' }, root);
    await svc.addAccount({ fullName: 'Lê Thị Văn', unit: sub.code }, root);
    await svc.addAccount({ fullName: 'Đỗ Văn Mạnh', unit: sub.code }, root);
    await svc.delegate('stc', 'vanlt', root);
    const subAdmin: Actor = { name: 'quantri.pns@example.gov.vn', role: 'unit', unitId: sub.id };
    for (const f of [
      () => svc.setPassword('vanlt', null, subAdmin),
      () => svc.addAppPassword('vanlt', 'Outlook', subAdmin),
      () => svc.enableTwoFactor('vanlt', subAdmin),
      () => svc.enableSmsTwoFactor('vanlt', subAdmin, { phone: '0912345678' }),
      () => svc.disableTwoFactor('vanlt', 'thử', subAdmin),
    ]) {
      await expect(f()).rejects.toThrow(/is a delegate of the unit mailbox stc@example\.gov\.vn: its credentials open that mailbox too/);
    }
    expect(await code(svc.suspend('vanlt', 'nghỉ việc', subAdmin))).toBe('ok');
    expect(await code(svc.setPassword('manhdv', null, subAdmin))).toBe('ok');
    expect(await code(svc.setPassword('vanlt', null, root))).toBe('ok');
    expect(parent.id).not.toBe(sub.id);
  });

  it('a unit admin changes only personal accounts without a role: never a fellow admin, the unit mailbox or itself; reading stays; super can', async () => {
    const { svc } = await open();
    const stc = await svc.addUnit({ name: 'Sở Tài chính' }, root);
    const self = (await svc.addAccount({ fullName: 'Quản trị', unit: 'stc', address: 'quantri.stc', kind: 'admin', role: 'unit' }, root)).account;
    await svc.addAccount({ fullName: 'Quản trị Hai', unit: 'stc', address: 'quantri2.stc', kind: 'admin', role: 'unit' }, root);
    // A personal account given the unit role is an administrator too.
    await svc.addAccount({ fullName: 'Phó Quản trị', unit: 'stc', address: 'phoqt.stc', role: 'unit' }, root);
    // An admin-kind account without a role is still not a unit admin's to change.
    await svc.addAccount({ fullName: 'Kỹ thuật', unit: 'stc', address: 'kythuat.stc', kind: 'admin' }, root);
    await svc.addAccount({ fullName: 'Sở Tài chính', unit: 'stc', kind: 'unit' }, root);
    await svc.addAccount({ fullName: 'Đỗ Văn Mạnh', unit: 'stc' }, root);
    const unitAdmin: Actor = { name: self.address, role: 'unit', unitId: stc.id };

    /** Every change, as a unit admin, on one address: the refusal's message, or 'ok'. */
    const changes = (address: string): Array<() => Promise<unknown>> => [
      () => svc.setPassword(address, null, unitAdmin),
      () => svc.suspend(address, 'thử', unitAdmin),
      () => svc.enableTwoFactor(address, unitAdmin),
      () => svc.disableTwoFactor(address, 'thử', unitAdmin),
      () => svc.addAppPassword(address, 'Outlook', unitAdmin),
      () => svc.removeAppPassword(address, 1, unitAdmin),
      () => svc.restore(address, unitAdmin),
      () => svc.setQuota(address, null, unitAdmin),
      () => svc.delete(address, 'thử', unitAdmin),
    ];
    const refusal = async (f: () => Promise<unknown>): Promise<string> => {
      try {
        await f();
        return 'ok';
      } catch (e) {
        if (!isMailError(e, 'PERMISSION_DENIED')) throw e;
        return e.message;
      }
    };
    const expected: Array<[string, RegExp]> = [
      [self.address, /^Quản trị viên đơn vị không tự thay đổi tài khoản của mình .* \/ a unit administrator may not change its own account/],
      ['quantri2.stc@example.gov.vn', /^quantri2\.stc@example\.gov\.vn là tài khoản quản trị.* \/ .*is an administrator account; only a system administrator may change it/],
      ['phoqt.stc@example.gov.vn', /is an administrator account/],
      ['kythuat.stc@example.gov.vn', /is an administrator account/],
      ['stc@example.gov.vn', /^stc@example\.gov\.vn là hộp thư đơn vị.* \/ .*is a unit mailbox: its access passes by delegation \(R-ACC-6\), never by a shared password/],
    ];
    for (const [address, message] of expected) {
      const before = await store.getAccountByAddress(address);
      for (const [i, f] of changes(address).entries()) {
        const m = await refusal(f);
        // restore, setQuota and delete are the system administrator's alone, whatever the account.
        expect(m, `${address} #${i}`).toMatch(i >= 6 ? /Chỉ quản trị hệ thống/ : message);
      }
      const after = await store.getAccountByAddress(address);
      expect(after).toEqual(before);
      expect(await store.listAppPasswords(after?.id ?? 0)).toEqual([]);
      // Reading is still allowed (the dashboard lists them).
      expect((await svc.getAccount(address, unitAdmin)).address).toBe(address);
      expect(await svc.listAppPasswords(address, unitAdmin)).toEqual([]);
    }
    expect((await store.listAudit({ actor: self.address })).length).toBe(0);
    // Its own unit's personal account: every change it has.
    expect(await code(svc.setPassword('manhdv', null, unitAdmin))).toBe('ok');
    expect(await code(svc.addAppPassword('manhdv', 'Outlook', unitAdmin))).toBe('ok');
    expect(await code(svc.suspend('manhdv', 'thử', unitAdmin))).toBe('ok');
    // A system administrator changes them all.
    for (const [address] of expected) {
      expect(await code(svc.setPassword(address, null, root))).toBe('ok');
      expect(await code(svc.suspend(address, 'thử', root))).toBe('ok');
      expect(await code(svc.restore(address, root))).toBe('ok');
    }
  });

  it('the last active system administrator cannot be suspended (as it cannot be deleted)', async () => {
    const { svc } = await open();
    const one = (await svc.addAccount({ fullName: 'Quản trị Một', address: 'qt1', kind: 'admin', role: 'super' }, root)).account;
    expect(await code(svc.suspend(one.address, 'thử', root))).toBe('IN_USE');
    expect((await store.getAccount(one.id))?.state).toBe('active');
    const two = (await svc.addAccount({ fullName: 'Quản trị Hai', address: 'qt2', kind: 'admin', role: 'super' }, root)).account;
    expect(await code(svc.suspend(one.address, 'nghỉ phép', root))).toBe('ok');
    // qt2 is now the last active one.
    try {
      await svc.suspend(two.address, 'thử', root);
      expect.unreachable();
    } catch (e) {
      expect(isMailError(e, 'IN_USE')).toBe(true);
      expect((e as Error).message).toBe('Không thể tạm khóa quản trị hệ thống cuối cùng còn hoạt động / cannot suspend the last active system administrator');
    }
    expect(await code(svc.delete(two.address, 'thử', root))).toBe('IN_USE');
    expect((await store.getAccount(two.id))?.state).toBe('active');
    expect(await code(svc.restore(one.address, root))).toBe('ok');
    expect(await code(svc.suspend(two.address, 'nghỉ phép', root))).toBe('ok');
  });
});

describe('R-ADDR-5 directory lookup', () => {
  it('finds namesakes with title and unit, by folded name or address prefix', async () => {
    const { svc } = await open();
    await svc.addUnit({ name: 'Sở Tài chính' }, root);
    await svc.addUnit({ name: 'Sở Y tế' }, root);
    await svc.addAccount({ fullName: 'Nguyễn Văn Long', unit: 'stc', title: 'Chuyên viên' }, root);
    await svc.addAccount({ fullName: 'Nguyễn Văn Long', unit: 'syt', title: 'Trưởng phòng' }, root);
    await svc.addAccount({ fullName: 'Lê Văn Hùng', unit: 'syt' }, root);
    const hits = await svc.findPeople('nguyen van LONG');
    expect(hits.map((h) => [h.address, h.title, h.unitAddress])).toEqual([
      ['longnv@example.gov.vn', 'Chuyên viên', 'stc'],
      ['longnv2@example.gov.vn', 'Trưởng phòng', 'syt'],
    ]);
    expect((await svc.findPeople('longnv2')).map((h) => h.address)).toEqual(['longnv2@example.gov.vn']);
    expect((await svc.findPeople('Hùng')).map((h) => h.address)).toEqual(['hunglv@example.gov.vn']);
    await svc.delete('hunglv', 'x', root);
    expect(await svc.findPeople('Hùng')).toEqual([]);
    expect(await svc.findPeople('  ')).toEqual([]);
  });
});

describe('R-ACC-6 unit mailbox handover', () => {
  it('delegates, hands over in one step, and refuses nonsense', async () => {
    const { svc } = await open();
    await svc.addUnit({ name: 'Sở Tài chính' }, root);
    await svc.addAccount({ fullName: 'Sở Tài chính', unit: 'stc', kind: 'unit' }, root);
    const old = await svc.addAccount({ fullName: 'Lê Thị Văn', unit: 'stc' }, root);
    const next = await svc.addAccount({ fullName: 'Trần Thị Thư', unit: 'stc' }, root);
    await svc.delegate('stc', 'vanlt', root, 'QĐ-1');
    expect((await store.listDelegatedTo(old.account.id)).map((a) => a.address)).toEqual(['stc@example.gov.vn']);
    expect(await code(svc.delegate('stc', 'vanlt', root))).toBe('ALREADY_EXISTS');
    expect(await code(svc.delegate('vanlt', 'thutt', root))).toBe('INVALID_INPUT');
    // a failed handover changes nothing, the password included
    const hashBefore = (await store.getAccountByAddress('stc@example.gov.vn'))!.passwordHash;
    expect(await code(svc.handover('stc', 'vanlt', 'khongco', root))).toBe('NOT_FOUND');
    expect((await store.listDelegatedTo(old.account.id)).length).toBe(1);
    expect((await store.getAccountByAddress('stc@example.gov.vn'))!.passwordHash).toBe(hashBefore);
    const before = (await store.getAccountByAddress('stc@example.gov.vn'))!;
    const handed = await svc.handover('stc', 'vanlt', 'thutt', root, 'QĐ-2');
    expect(await store.listDelegatedTo(old.account.id)).toEqual([]);
    expect((await store.listDelegatedTo(next.account.id)).map((a) => a.address)).toEqual(['stc@example.gov.vn']);
    // The mailbox's own password is reset to one nobody is told: what the old clerk knew opens
    // nothing; the new clerk signs in as itself, by the name the handover gives.
    expect(handed.unit.passwordHash).not.toBe(before.passwordHash);
    expect(handed.unit.mustChangePassword).toBe(true);
    expect(handed).not.toHaveProperty('oneTimePassword');
    expect(handed.signInName).toBe('stc@example.gov.vn*thutt@example.gov.vn');
    const audit = await store.listAudit({ target: 'stc@example.gov.vn' });
    expect(audit.filter((a) => a.ref === 'QĐ-2').map((a) => a.action).sort()).toEqual(['account.passwd', 'unit.delegate', 'unit.undelegate']);
    expect(await code(svc.undelegate('stc', 'vanlt', root))).toBe('NOT_FOUND');
  });
});

describe('domains', () => {
  it('adds and lists; refuses to remove a domain with accounts', async () => {
    const { svc } = await open();
    await svc.addDomain('third.gov.vn', root);
    expect((await svc.listDomains()).map((d) => d.name).sort()).toEqual(['example.gov.vn', 'other.gov.vn', 'third.gov.vn']);
    expect(await code(svc.addDomain('third.gov.vn', root))).toBe('ALREADY_EXISTS');
    expect(await code(svc.addDomain('not a domain', root))).toBe('INVALID_INPUT');
    await svc.addUnit({ name: 'Sở Tài chính' }, root);
    await svc.addAccount({ fullName: 'Vũ Văn C', unit: 'stc', domain: 'third.gov.vn' }, root);
    expect(await code(svc.removeDomain('third.gov.vn', root))).toBe('IN_USE');
    await svc.removeDomain('other.gov.vn', root);
    expect((await svc.listDomains()).map((d) => d.name).sort()).toEqual(['example.gov.vn', 'third.gov.vn']);
  });
});

describe('first start', () => {
  it('creates the domains and a super-admin once, then only new domains', async () => {
    const config = configFrom({ domains: ['nghean.gov.vn'], storage: { dir } });
    store = await openSqliteStore({ dir, log: silentLogger(), clock, inlineBlobMaxBytes: 65536, groupCommitWindowMs: 0 });
    const first = await ensureBootstrap({ store, config, log: silentLogger(), clock });
    expect(first.addedDomains).toEqual(['nghean.gov.vn']);
    expect(first.admin?.address).toBe('admin@nghean.gov.vn');
    const admin = await store.getAccountByAddress('admin@nghean.gov.vn');
    expect(admin).toMatchObject({ kind: 'admin', role: 'super', mustChangePassword: true });
    expect(await verifyPassword(admin?.passwordHash ?? '', first.admin?.oneTimePassword ?? '')).toBe(true);
    expect(bootstrapNotice(first).join('\n')).toContain(first.admin?.oneTimePassword ?? 'missing');
    const again = await ensureBootstrap({ store, config, log: silentLogger(), clock });
    expect(again).toEqual({ addedDomains: [], admin: null });
    expect(bootstrapNotice(again)).toEqual([]);
    const more = configFrom({ domains: ['nghean.gov.vn', 'so.nghean.gov.vn'], storage: { dir } });
    expect((await ensureBootstrap({ store, config: more, log: silentLogger(), clock })).addedDomains).toEqual(['so.nghean.gov.vn']);
    expect((await store.listAccounts()).length).toBe(1);
  });
});

describe('R-DIR-1 unit postal address: updateUnit', () => {
  it('a system administrator sets and clears it ("" or null); code and address stay; a unit administrator is refused', async () => {
    const { svc } = await open();
    const added = await svc.addUnit({ name: 'Sở Tài chính', postalAddress: '  Số 16  Trường Thi,\tTP. Vinh '.normalize('NFD') }, root);
    expect(added.postalAddress).toBe('Số 16 Trường Thi, TP. Vinh');
    expect((await svc.addUnit({ name: 'Sở Y tế', postalAddress: '' }, root)).postalAddress).toBeNull();

    const unitAdmin: Actor = { name: 'quantri.stc@example.gov.vn', role: 'unit', unitId: added.id };
    expect(await code(svc.updateUnit('stc', { postalAddress: 'Số 1 Lê Lợi' }, unitAdmin))).toBe('PERMISSION_DENIED');
    expect(await code(svc.updateUnit('stc', { name: 'Sở Tài chính tỉnh' }, { name: 'manhdv@example.gov.vn', role: 'none', unitId: added.id }))).toBe('PERMISSION_DENIED');
    expect((await svc.getUnit('stc')).postalAddress).toBe('Số 16 Trường Thi, TP. Vinh');

    const renamed = await svc.updateUnit('stc', { name: 'Sở Tài chính Nghệ An', staff: 12, postalAddress: 'Số 1 Lê Lợi, Vinh' }, root, 'CV-9');
    expect(renamed).toMatchObject({ id: added.id, code: 'stc', address: 'stc', name: 'Sở Tài chính Nghệ An', staff: 12, postalAddress: 'Số 1 Lê Lợi, Vinh' });
    const onlyStaff = await svc.updateUnit('stc', { staff: null }, root);
    expect(onlyStaff).toMatchObject({ name: 'Sở Tài chính Nghệ An', staff: null, postalAddress: 'Số 1 Lê Lợi, Vinh' });
    expect((await svc.updateUnit('stc', { postalAddress: '' }, root)).postalAddress).toBeNull();
    await svc.updateUnit('stc', { postalAddress: 'Số 2 Lê Lợi' }, root);
    expect((await svc.updateUnit('stc', { postalAddress: null }, root)).postalAddress).toBeNull();
    expect(await svc.getUnit('stc')).toMatchObject({ code: 'stc', address: 'stc', name: 'Sở Tài chính Nghệ An', postalAddress: null });

    for (const bad of [{}, { name: ' ' }, { name: 'Sở\u0000' }, { staff: -1 }, { staff: 1.5 }, { postalAddress: 'x'.repeat(301) }, { postalAddress: 'Số 1\u0007' }]) {
      expect(await code(svc.updateUnit('stc', bad, root))).toBe('INVALID_INPUT');
    }
    expect((await svc.updateUnit('stc', { postalAddress: 'x'.repeat(300) }, root)).postalAddress).toHaveLength(300);
    expect(await code(svc.updateUnit('khongco', { name: 'X' }, root))).toBe('NOT_FOUND');

    const audit = (await store.listAudit({ target: 'stc' })).filter((e) => e.action === 'unit.update');
    expect(audit).toHaveLength(6);
    expect(audit.at(-1)).toMatchObject({ actor: 'cli:test', ref: 'CV-9', details: { name: 'Sở Tài chính Nghệ An', staff: 12, postalAddress: 'Số 1 Lê Lợi, Vinh' } });
    expect(audit.some((e) => e.actor === 'quantri.stc@example.gov.vn')).toBe(false);
  });
});

describe('R-OPS-2 usage report: rights', () => {
  it('a unit administrator gets its own unit only; a user gets nothing; each directory export is audited', async () => {
    const { svc } = await open();
    const stc = await svc.addUnit({ name: 'Sở Tài chính', staff: 2 }, root);
    await svc.addUnit({ name: 'Sở Y tế', staff: 5 }, root);
    await svc.addAccount({ fullName: 'Đỗ Văn Mạnh', unit: 'stc' }, root);
    await svc.addAccount({ fullName: 'Lê Thị Lan', unit: 'syt' }, root);
    const unitAdmin: Actor = { name: 'quantri.stc@example.gov.vn', role: 'unit', unitId: stc.id };
    const mine = await svc.usageReport({}, unitAdmin);
    expect(mine.rows.map((r) => [r.address, r.accounts, r.staff])).toEqual([['stc', 1, 2]]);
    expect(await code(svc.usageReport({ unit: 'syt' }, unitAdmin))).toBe('PERMISSION_DENIED');
    expect(await code(svc.usageReport({}, { name: 'manhdv@example.gov.vn', role: 'none', unitId: stc.id }))).toBe('PERMISSION_DENIED');
    expect((await svc.usageReport({}, root)).rows.map((r) => r.address)).toEqual(['stc', 'syt']);
    await svc.directory({}, unitAdmin);
    const audit = await store.listAudit({ action: 'directory.export' });
    expect(audit.map((e) => [e.actor, e.target])).toEqual([['quantri.stc@example.gov.vn', 'stc']]);
    clock.advance(1000);
    expect((await svc.usageReport({}, unitAdmin)).rows[0]?.directoryExportedAt).not.toBeNull();
  });
});

describe('R-OPS-2 usage report: the window, sub-units, the export record', () => {
  it('counts sign-ins in the last N days only; a unit administrator’s export covers its unit, not its sub-units; one record a day', async () => {
    const { svc } = await open();
    const stc = await svc.addUnit({ name: 'Sở Tài chính', staff: 2 }, root);
    await svc.addUnit({ name: 'Phòng Ngân sách', code: 'pns', parent: 'stc', staff: 1 }, root);
    const recent = (await svc.addAccount({ fullName: 'Đỗ Văn Mạnh', unit: 'stc' }, root)).account;
    const older = (await svc.addAccount({ fullName: 'Lê Thị Lan', unit: 'stc' }, root)).account;
    await svc.addAccount({ fullName: 'Hồ Thị Nga', unit: 'pns.stc' }, root);
    const at = (daysAgo: number) => new Date(clock.now().getTime() - daysAgo * 86_400_000);
    const base = { protocol: 'imap' as const, ip: '10.0.0.1', network: '10.0.0.0/24', ok: true, method: 'password' as const, appPasswordId: null, reason: null };
    await store.recordSignIn({ ...base, accountId: recent.id, at: at(10) });
    await store.recordSignIn({ ...base, accountId: older.id, at: at(40) });
    const unitAdmin: Actor = { name: 'quantri.stc@example.gov.vn', role: 'unit', unitId: stc.id };
    await svc.directory({}, unitAdmin);
    await svc.directory({}, unitAdmin);
    expect((await store.listAudit({ action: 'directory.export' })).map((e) => [e.target, e.details?.subUnits])).toEqual([['stc', false]]);
    clock.advance(1000);
    const r30 = await svc.usageReport({}, root);
    expect(r30.rows.map((r) => [r.address, r.regular, r.regularPct, r.directoryExportedAt !== null])).toEqual([
      ['stc', 1, 50, true],
      ['pns.stc', 0, 0, false],
    ]);
    expect((await svc.usageReport({ regularDays: 60 }, root)).rows.map((r) => r.regular)).toEqual([2, 0]);
    // A system administrator's export takes in the sub-units.
    await svc.directory({ unit: 'stc' }, root);
    clock.advance(1000);
    expect((await svc.usageReport({}, root)).rows.map((r) => r.directoryExportedAt !== null)).toEqual([true, true]);
  });
});
