/**
 * Review fixes for who may hold which address (R-ACC-6, R-ACC-7): the domain's role mailboxes
 * (postmaster@, abuse@, …) are administrator accounts only, so no unit administrator can reset
 * them; a unit mailbox sits at its own unit's address with no administrator role; a unit mailbox
 * is delegated to a person only; a request form reaches staff accounts only, a row typed twice
 * is refused and a form has a size limit.
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

  it('a unit whose code would be a role address (its mailbox\'s) is refused, naming --code', async () => {
    const r = await refusal(svc.addUnit({ name: 'Nhà Ông Cường' }, root));
    expect(r.message).toBe('Mã đơn vị noc trùng địa chỉ dành cho quản trị tên miền (RFC 2142): hãy chọn mã khác (--code) / the unit code noc is a role address of the domain (RFC 2142): choose another code (--code)');
    expect((await svc.addUnit({ name: 'Nhà Ông Cường', code: 'nhaoc' }, root)).address).toBe('nhaoc');
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

describe('request forms: rows typed twice and size (review)', () => {
  let fixture: ImportFixture;
  beforeEach(async () => {
    fixture = await openImportFixture('buudien-form-size-', ['nghean.gov.vn']);
  });
  afterEach(() => fixture.close());

  it('a row typed twice is refused naming the first line, and nothing is carried out', async () => {
    const { store, svc, config } = fixture;
    const rows = parseRequestCsv(`${HEADER}\n1,Vũ Thị Hoa,,stc,0912 345 678,Cấp mới,\n2,Nguyễn Văn An,,stc,,Cấp mới,\n1,Vũ thị  Hoa,,STC,0912345678,cấp mới,\n`);
    const r = await importRequests({ store, service: svc, config }, rows, { actor: root });
    expect(r.applied).toBe(false);
    expect(r.outcomes.map((o) => (o.ok ? o.address : o.reason))).toEqual([
      'hoavt@nghean.gov.vn',
      'annv@nghean.gov.vn',
      'trùng hoàn toàn dòng 2: nếu là hai người trùng tên, hãy ghi số điện thoại hoặc email riêng của từng người / the same as line 2 in every cell: if these are two namesakes, give each their own phone or e-mail',
    ]);
    expect(await store.getAccountByAddress('hoavt@nghean.gov.vn')).toBeNull();
    // The same STT without a phone: one row pasted twice.
    const pasted = parseRequestCsv(`${HEADER}\n7,Lê Văn Nam,,stc,,Cấp mới,\n7,Lê Văn Nam,,stc,,Cấp mới,\n`);
    const twice = await importRequests({ store, service: svc, config }, pasted, { actor: root });
    expect(twice.outcomes.map((o) => (o.ok ? o.address : o.reason))).toEqual(['namlv@nghean.gov.vn', expect.stringContaining('the same as line 2 in every cell')]);
    // Namesakes differ in some cell — here only their titles, with no STT and the office's one phone: two people, two accounts.
    const two = parseRequestCsv(`${HEADER}\n,Vũ Thị Hoa,Chuyên viên,stc,0238 3844 123,Cấp mới,\n,Vũ Thị Hoa,Kế toán,stc,0238.3844.123,Cấp mới,\n`);
    const ok = await importRequests({ store, service: svc, config }, two, { actor: root });
    expect(ok.outcomes.map((o) => (o.ok ? o.address : o.reason))).toEqual(['hoavt@nghean.gov.vn', 'hoavt2@nghean.gov.vn']);
  });

  it('a form over 2,000 rows or 2 MB is refused as a whole', async () => {
    const { store, svc, config } = fixture;
    const many = parseRequestCsv(`${HEADER}\n${Array.from({ length: 2001 }, (_, i) => `${i + 1},Người ${i},,stc,,Cấp mới,`).join('\n')}\n`);
    const r = await refusal(importRequests({ store, service: svc, config }, many, { actor: root }));
    expect(r.message).toBe('Tệp có 2001 dòng đề nghị, quá 2000: hãy chia thành nhiều tệp / the file has 2001 request rows, over 2000: split it into several files');
    expect(() => parseRequestCsv(Buffer.alloc(2 * 1024 * 1024 + 1, 0x41))).toThrow('the request form is over 2 MB: split it into several files');
  });
});
