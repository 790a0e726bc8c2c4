/**
 * Review fixes for `import requests` (R-ACC-1): the request cell is compared whole, a tạm khóa /
 * xóa row's Email may hold a login name alone (R-ADDR-6), and the separator is the header line's.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeOutcome, importRequests, parseRequestCsv } from '../../../src/accounts/import.js';
import type { AccountService } from '../../../src/accounts/service.js';
import type { Config } from '../../../src/config/schema.js';
import type { Store } from '../../../src/store/port.js';
import { importActor, openImportFixture, type ImportFixture } from './import-fixture.js';

const HEADER = 'STT,Họ và tên,Chức vụ,Phòng/ban/đơn vị,Số điện thoại,Nội dung đề nghị,Email';
const actionOf = (text: string) => parseRequestCsv(`${HEADER}\n1,A,,stc,,${text},\n`)[0]?.action;

describe('the request cell is compared whole, not by its beginning', () => {
  it.each([
    ['Cấp mới', 'create'],
    ['cấp mới tài khoản', 'create'],
    ['CẤP MỚI TÀI KHOẢN THƯ ĐIỆN TỬ CÔNG VỤ', 'create'],
    ['Tạm khóa', 'suspend'],
    ['tạm  khoá', 'suspend'],
    ['Tạm khóa tài khoản', 'suspend'],
    ['Xóa', 'delete'],
    ['XOÁ', 'delete'],
    ['Xóa tài khoản', 'delete'],
    ['xóa tài khoản thư điện tử công vụ', 'delete'],
    ['Xóa'.normalize('NFD'), 'delete'],
    ['xoa', 'delete'],
    ['cap moi', 'create'],
    ['"  Xóa\u00a0 tài   khoản "', 'delete'],
  ])('%j is %s', (text, action) => {
    expect(actionOf(text)).toBe(action);
  });

  it.each(['Xóa bỏ tạm khóa', 'Xoá tạm khóa', 'Xóa bỏ', 'Cấp mớii', 'Cấp mới lại', 'Tạm khóa rồi xóa', 'Mở khóa', 'Khôi phục', 'Xóa.', 'capmoi', ''])(
    '%j is not a request kind',
    (text) => {
      expect(actionOf(text)).toBeNull();
    },
  );
});

describe('importRequests: review fixes', () => {
  let store: Store;
  let svc: AccountService;
  let config: Readonly<Config>;
  const actor = importActor;

  let fixture: ImportFixture;
  beforeEach(async () => {
    fixture = await openImportFixture('buudien-import-review-', ['nghean.gov.vn', 'so.nghean.gov.vn']);
    ({ store, svc, config } = fixture);
  });
  afterEach(() => fixture.close());

  it('"Xóa bỏ tạm khóa" (lift a suspension) deletes nothing: the whole form is refused, naming the line, the text and the accepted words', async () => {
    await svc.addAccount({ fullName: 'Hoàng Văn Đức', unit: 'stttt' }, actor);
    await svc.suspend('duchv@nghean.gov.vn', 'test', actor);
    const rows = parseRequestCsv(`${HEADER}\n1,Nguyễn Văn Long,,stttt,,Cấp mới,\n2,Hoàng Văn Đức,,stttt,,Xóa bỏ tạm khóa,duchv@nghean.gov.vn\n3,Lê Thị Cúc,,stttt,,Cấp mớii,\n`);
    const before = (await store.listAudit()).length;
    for (const dryRun of [true, false]) {
      const r = await importRequests({ store, service: svc, config }, rows, { actor, dryRun });
      expect(r.applied).toBe(false);
      const bad = r.outcomes.filter((o) => !o.ok);
      expect(bad.map((o) => o.row.line)).toEqual([3, 4]);
      const line = describeOutcome(bad[0]!, dryRun);
      expect(line).toMatch(/^Dòng \/ line 3 \(STT 2\), Hoàng Văn Đức: LỖI \/ ERROR: Nội dung đề nghị "Xóa bỏ tạm khóa" không phải một trong: "cấp mới", "tạm khóa", "xóa"/);
      expect(line).toContain('/ the request "Xóa bỏ tạm khóa" is none of "cấp mới", "tạm khóa", "xóa"');
      expect(describeOutcome(bad[1]!, dryRun)).toContain('the request "Cấp mớii" is none of');
    }
    expect(await store.getAccountByAddress('duchv@nghean.gov.vn')).toMatchObject({ state: 'suspended' });
    expect(await store.getAccountByAddress('longnv@nghean.gov.vn')).toBeNull();
    expect(await store.getAccountByAddress('cucnt@nghean.gov.vn')).toBeNull();
    expect((await store.listAudit()).length).toBe(before);
  });

  it.each([
    ['Tạm khóa', 'longnv', 'suspended'],
    ['Xóa', ' LongNV ', 'deleted'],
  ])('%s with a login name alone (%j) in the Email column is carried out on that account', async (action, written, state) => {
    await svc.addAccount({ fullName: 'Nguyễn Văn Long', unit: 'stttt' }, actor);
    const rows = parseRequestCsv(`${HEADER}\n1,Nguyễn Văn Long,,stttt,,${action},${written}\n`);
    const r = await importRequests({ store, service: svc, config }, rows, { actor, ref: 'CV-7' });
    expect(r.outcomes.map((o) => (o.ok ? o.address : o.reason))).toEqual(['longnv@nghean.gov.vn']);
    expect(r.applied).toBe(true);
    expect(await store.getAccountByAddress('longnv@nghean.gov.vn')).toMatchObject({ state, stateRef: 'CV-7' });
  });

  it('a login name alone still meets the name and unit checks, and one that several domains share is refused with their addresses', async () => {
    await svc.addAccount({ fullName: 'Nguyễn Văn Long', unit: 'stttt' }, actor);
    await svc.addAccount({ fullName: 'Phạm Thị Hoa', unit: 'stc' }, actor);
    await svc.addAccount({ fullName: 'Phạm Thị Hoa', unit: 'stc', domain: 'so.nghean.gov.vn' }, actor);
    const reasons = async (csv: string) => {
      const r = await importRequests({ store, service: svc, config }, parseRequestCsv(`${HEADER}\n${csv}\n`), { actor });
      expect(r.applied).toBe(false);
      return r.outcomes.map((o) => (o.ok ? `ok ${o.address}` : o.reason));
    };
    expect(await reasons('1,Lê Văn Hùng,,stttt,,Xóa,longnv')).toEqual([expect.stringContaining('the account longnv@nghean.gov.vn is "Nguyễn Văn Long", not "Lê Văn Hùng"')]);
    expect(await reasons('1,Nguyễn Văn Long,,stc,,Xóa,longnv')).toEqual([expect.stringContaining('the account longnv@nghean.gov.vn belongs to the unit')]);
    expect(await reasons('1,Phạm Thị Hoa,,stc,,Tạm khóa,hoapt')).toEqual([
      expect.stringContaining('the login name "hoapt" matches 2 accounts (hoapt@nghean.gov.vn, hoapt@so.nghean.gov.vn): put the full address in the Email column'),
    ]);
    expect(await reasons('1,Trần Văn An,,stc,,Tạm khóa,antv')).toEqual(['Không có tài khoản antv / no account antv']);
    for (const a of ['longnv@nghean.gov.vn', 'hoapt@nghean.gov.vn', 'hoapt@so.nghean.gov.vn']) {
      expect((await store.getAccountByAddress(a))?.state).toBe('active');
    }
    // The full address settles it.
    const r = await importRequests({ store, service: svc, config }, parseRequestCsv(`${HEADER}\n1,Phạm Thị Hoa,,stc,,Tạm khóa,hoapt@so.nghean.gov.vn\n`), { actor });
    expect(r.applied).toBe(true);
    expect((await store.getAccountByAddress('hoapt@so.nghean.gov.vn'))?.state).toBe('suspended');
    expect((await store.getAccountByAddress('hoapt@nghean.gov.vn'))?.state).toBe('active');
  });

  it('a deleted namesake in another domain does not make a login name ambiguous', async () => {
    await svc.addAccount({ fullName: 'Phạm Thị Hoa', unit: 'stc' }, actor);
    await svc.addAccount({ fullName: 'Phạm Thị Hoa', unit: 'stc', domain: 'so.nghean.gov.vn' }, actor);
    await svc.delete('hoapt@so.nghean.gov.vn', 'test', actor);
    const r = await importRequests({ store, service: svc, config }, parseRequestCsv(`${HEADER}\n1,Phạm Thị Hoa,,stc,,Tạm khóa,hoapt\n`), { actor });
    expect(r.outcomes.map((o) => (o.ok ? o.address : o.reason))).toEqual(['hoapt@nghean.gov.vn']);
    expect((await store.getAccountByAddress('hoapt@nghean.gov.vn'))?.state).toBe('suspended');
  });
});

describe('the separator is the header line\'s, whatever a title line above it holds', () => {
  const semicolonForm = 'STT;Họ và tên;Chức vụ;Phòng/ban/đơn vị;Số điện thoại;Nội dung đề nghị\n1;Trần Văn Bình;Chuyên viên, phó phòng;stttt;0912;Cấp mới\n';

  it.each([
    ['a comma', 'Nghệ An, ngày 1 tháng 3 năm 2026\n'],
    ['commas and a BOM', '\uFEFFUBND TỈNH NGHỆ AN, SỞ TTTT, 2026\n\n'],
    ['tabs', 'PHIẾU ĐỀ NGHỊ\t\tSố: 12/STTTT\n'],
  ])('a title line with %s above a semicolon form', (_what, title) => {
    const rows = parseRequestCsv(Buffer.from(title + semicolonForm, 'utf8'));
    expect(rows.map((r) => [r.fullName, r.title, r.unit, r.phone, r.action])).toEqual([['Trần Văn Bình', 'Chuyên viên, phó phòng', 'stttt', '0912', 'create']]);
    expect(rows[0]?.line).toBe(title.split('\n').length + 1);
  });

  it('a title line with semicolons above a comma form', () => {
    const rows = parseRequestCsv(`Nghệ An; ngày 1/3/2026\n${HEADER}\n1,Trần Văn Bình,,stttt,,Tạm khóa,binhtv\n`);
    expect(rows.map((r) => [r.line, r.fullName, r.action, r.address])).toEqual([[3, 'Trần Văn Bình', 'suspend', 'binhtv']]);
  });

  it('a file without a header line is still refused as such', () => {
    expect(() => parseRequestCsv('Nghệ An, ngày 1 tháng 3 năm 2026\na;b;c\n')).toThrow(/no header line with a "Họ và tên"/);
  });
});
