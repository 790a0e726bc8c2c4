/**
 * Review fixes for who may hold which address (R-ACC-6, R-ACC-7): the domain's role mailboxes
 * (postmaster@, abuse@, …) are administrator accounts only, so no unit administrator can reset
 * them; a unit mailbox sits at its own unit's address with no administrator role; a unit mailbox
 * is delegated to a person only; a request form reaches staff accounts only.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { importRequests, parseRequestCsv } from '../../../src/accounts/import.js';
import type { AccountService, Actor } from '../../../src/accounts/service.js';
import type { Config } from '../../../src/config/schema.js';
import { isMailError } from '../../../src/lib/errors.js';
import type { Store } from '../../../src/store/port.js';
import { importActor as root, openImportFixture, type ImportFixture } from './import-fixture.js';

const HEADER = 'STT,Họ và tên,Chức vụ,Phòng/ban/đơn vị,Số điện thoại,Nội dung đề nghị,Email';

async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    if (isMailError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('not refused');
}

describe('addresses, roles and delegation (review)', () => {
  let fixture: ImportFixture;
  let store: Store;
  let svc: AccountService;
  let config: Readonly<Config>;
  let stcAdmin: Actor;
  beforeEach(async () => {
    fixture = await openImportFixture('buudien-roles-review-', ['nghean.gov.vn']);
    ({ store, svc, config } = fixture);
    const stc = await store.getUnitByCode('stc');
    await svc.addAccount({ fullName: 'Nguyễn Văn Long', unit: 'stc', role: 'unit', password: 'Abcdef1!xyz9' }, root);
    stcAdmin = { name: 'longnv@nghean.gov.vn', role: 'unit', unitId: stc?.id ?? null };
  });
  afterEach(() => fixture.close());

  it.each(['postmaster', 'abuse', 'Hostmaster', 'mailer-daemon'])('%s@ is no personal or unit account, on the command line or from a form', async (local) => {
    const r = await refusal(svc.addAccount({ fullName: 'Hoàng Văn Bưu', unit: 'stc', address: local }, root));
    expect(r.code).toBe('INVALID_INPUT');
    expect(r.message).toMatch(/^Địa chỉ \S+ nhận thư về cả tên miền \(RFC 2142\).* \/ the address \S+ receives mail about the whole domain/);
    const form = await importRequests({ store, service: svc, config }, parseRequestCsv(`${HEADER}\n1,Hoàng Văn Bưu,Văn thư,stc,0912345678,Cấp mới,${local}\n`), { actor: root });
    expect(form.applied).toBe(false);
    expect(await store.getAccountByAddress(`${local.toLowerCase()}@nghean.gov.vn`)).toBeNull();
  });

  it('a system administrator may make postmaster@ an administrator account, which no unit administrator can reset', async () => {
    const { account } = await svc.addAccount({ fullName: 'Quản trị thư', address: 'postmaster', kind: 'admin', password: 'Abcdef1!xyz9Q' }, root);
    expect(account.address).toBe('postmaster@nghean.gov.vn');
    expect((await refusal(svc.setPassword('postmaster@nghean.gov.vn', null, stcAdmin))).code).toBe('PERMISSION_DENIED');
  });

  it('a unit mailbox is at its own unit\'s address and has no administrator role', async () => {
    const other = await refusal(svc.addAccount({ fullName: 'Hộp thư STC', unit: 'stc', kind: 'unit', address: 'stttt' }, root));
    expect(other.code).toBe('INVALID_INPUT');
    expect(other.message).toContain('the unit mailbox of stc is at stc@…, not stttt@nghean.gov.vn');
    const admin = await refusal(svc.addAccount({ fullName: 'Hộp thư STC', unit: 'stc', kind: 'unit', role: 'super' }, root));
    expect(admin.message).toBe('Hộp thư đơn vị không mang quyền quản trị (--role none) / a unit mailbox has no administrator role (--role none)');
    expect(await store.getAccountByAddress('stttt@nghean.gov.vn')).toBeNull();
    expect(await store.getAccountByAddress('stc@nghean.gov.vn')).toBeNull();
    const made = await svc.addAccount({ fullName: 'Hộp thư STC', unit: 'stc', kind: 'unit', address: 'stc' }, root);
    expect(made.account).toMatchObject({ address: 'stc@nghean.gov.vn', kind: 'unit', role: 'none' });
  });

  it('a unit mailbox is delegated to a person: not to itself or another unit mailbox', async () => {
    await svc.addAccount({ fullName: 'Hộp thư STC', unit: 'stc', kind: 'unit' }, root);
    await svc.addAccount({ fullName: 'Hộp thư STTTT', unit: 'stttt', kind: 'unit' }, root);
    for (const clerk of ['stc@nghean.gov.vn', 'stttt@nghean.gov.vn']) {
      const r = await refusal(svc.delegate('stc@nghean.gov.vn', clerk, root));
      expect(r.message).toBe(`${clerk} không phải tài khoản cá nhân: chỉ ủy quyền hộp thư đơn vị cho văn thư / ${clerk} is not a personal account: a unit mailbox is delegated to its clerk only`);
    }
    const { account: clerk } = await svc.addAccount({ fullName: 'Lê Thị Vân', unit: 'stc' }, root);
    await svc.delegate('stc@nghean.gov.vn', clerk.address, root);
    expect((await store.listDelegatedTo(clerk.id)).map((u) => u.address)).toEqual(['stc@nghean.gov.vn']);
  });

  it('a request form suspends or deletes staff only: not the unit mailbox, not the unit administrator', async () => {
    await svc.addAccount({ fullName: 'Sở Tài chính', unit: 'stc', kind: 'unit' }, root);
    const rows = parseRequestCsv(`${HEADER}\n1,Sở Tài chính,,stc,,Xóa,stc\n2,Nguyễn Văn Long,,stc,,Tạm khóa,longnv\n`);
    for (const dryRun of [true, false]) {
      const r = await importRequests({ store, service: svc, config }, rows, { actor: root, dryRun });
      expect(r.applied).toBe(false);
      expect(r.outcomes.map((o) => (o.ok ? o.action : o.reason))).toEqual([
        expect.stringContaining('stc@nghean.gov.vn is a unit mailbox: a request form only suspends or deletes staff accounts'),
        expect.stringContaining('longnv@nghean.gov.vn is an administrator account: a request form only suspends or deletes staff accounts'),
      ]);
    }
    expect(await store.getAccountByAddress('stc@nghean.gov.vn')).toMatchObject({ state: 'active' });
    expect(await store.getAccountByAddress('longnv@nghean.gov.vn')).toMatchObject({ state: 'active' });
  });
});
