import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeOutcome, importRequests, parseRequestCsv } from '../../../src/accounts/import.js';
import type { AccountService } from '../../../src/accounts/service.js';
import type { Config } from '../../../src/config/schema.js';
import type { Store } from '../../../src/store/port.js';
import { verifyPassword } from '../../../src/auth/passwords.js';
import { importActor, openImportFixture, type ImportFixture } from './import-fixture.js';

const HEADER = 'STT,Họ và tên,Chức vụ,Phòng/ban/đơn vị,Số điện thoại,Nội dung đề nghị';

describe('parseRequestCsv', () => {
  it('reads NA Phụ lục 1 with BOM, semicolons, title lines and loose headers', () => {
    const text =
      '\uFEFFPHIẾU ĐỀ NGHỊ CẤP TÀI KHOẢN;;;;;\n\n' +
      ' stt ; HỌ VÀ  TÊN ;chức vụ; Phòng / ban / đơn vị ;Số điện thoại;NỘI DUNG ĐỀ NGHỊ\n' +
      '1;Nguyễn Văn Long;Chuyên viên;stttt;0912 345 678;Cấp mới\n' +
      ';;;;;\n' +
      '2;"Trần Thị   Mai";;Sở Tài chính;;Tạm khoá\n' +
      '3;Lê Văn Hùng;;stc;;XÓA\n';
    const rows = parseRequestCsv(Buffer.from(text, 'utf8'));
    expect(rows.map((r) => [r.line, r.stt, r.fullName, r.unit, r.action])).toEqual([
      [4, '1', 'Nguyễn Văn Long', 'stttt', 'create'],
      [6, '2', 'Trần Thị Mai', 'Sở Tài chính', 'suspend'],
      [7, '3', 'Lê Văn Hùng', 'stc', 'delete'],
    ]);
    expect(rows[0]).toMatchObject({ title: 'Chuyên viên', phone: '0912 345 678' });
  });

  it('reads commas and NFD headers, and marks unknown requests', () => {
    const rows = parseRequestCsv(`${HEADER.normalize('NFD')}\n1,"Đỗ, Văn A",,stc,,gia hạn\n`);
    expect(rows[0]).toMatchObject({ fullName: 'Đỗ, Văn A', action: null, actionText: 'gia hạn' });
  });

  it('reads UTF-16 with a BOM (Excel "Unicode text", tab separated) and refuses non-UTF-8 bytes', () => {
    const text = `${HEADER.replace(/,/g, '\t')}\n1\tNguyễn Văn Long\t\tstttt\t\tCấp mới\n`;
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    expect(parseRequestCsv(utf16)[0]).toMatchObject({ fullName: 'Nguyễn Văn Long', unit: 'stttt', action: 'create' });
    const latin = Buffer.from('STT,H\xe1 v\xe0 t\xean\n', 'latin1');
    expect(() => parseRequestCsv(latin)).toThrow(/not UTF-8/);
  });

  it('refuses a file without the needed columns', () => {
    expect(() => parseRequestCsv('STT,Họ và tên\n1,A\n')).toThrow(/Phòng\/ban\/đơn vị/);
    expect(() => parseRequestCsv('a,b\n1,2\n')).toThrow(/Họ và tên/);
  });

  it('reads every row when CRLF and LF line ends are mixed (none joins the next)', () => {
    const text = `${HEADER}\r\n1,Kim Văn Hải,CV,skhdt,0911,Cấp mới\n2,Kim Văn Hà,CV,skhdt,0911,Cấp mới\r\n3,"Lê\r\nVăn Ba",CV,skhdt,,Cấp mới\n`;
    expect(parseRequestCsv(text).map((r) => [r.line, r.fullName, r.action])).toEqual([
      [2, 'Kim Văn Hải', 'create'],
      [3, 'Kim Văn Hà', 'create'],
      [5, 'Lê Văn Ba', 'create'],
    ]);
  });

  it('refuses a row of another shape than the header, naming its line: extra filled cells, or too short to reach a required column', () => {
    expect(() => parseRequestCsv(`${HEADER}\n1,A,CV,skhdt,0911,Cấp mới\n2,B,CV,skhdt,0911,Cấp mới,EXTRA\n`)).toThrow(/line 3: 7 cells, the header has 6/);
    expect(() => parseRequestCsv(`${HEADER}\n1,A,CV,skhdt,0911\n`)).toThrow(/Dòng 2: có 5 ô.* \/ line 2: 5 cells/);
    // Empty trailing cells (Excel's habit) are fine.
    expect(parseRequestCsv(`${HEADER}\n1,A,CV,skhdt,0911,Cấp mới,,\n`)).toHaveLength(1);
  });
});

describe('importRequests (all or nothing)', () => {
  let store: Store;
  let svc: AccountService;
  let config: Readonly<Config>;
  const actor = importActor;

  let fixture: ImportFixture;
  beforeEach(async () => {
    fixture = await openImportFixture('buudien-import-', ['nghean.gov.vn']);
    ({ store, svc, config } = fixture);
  });
  afterEach(() => fixture.close());

  it('applies every row, numbering namesakes inside the file, and keeps the reference', async () => {
    await svc.addAccount({ fullName: 'Lê Văn Hùng', unit: 'stc' }, actor);
    const rows = parseRequestCsv(
      `${HEADER}\n1,Nguyễn Văn Long,Chuyên viên,Sở Thông tin và Truyền thông,0912,Cấp mới\n2,Nguyễn Văn Long,,stc,,cấp mới\n3,Lê Văn Hùng,,Sở Tài chính,,xóa\n`,
    );
    const r = await importRequests({ store, service: svc, config }, rows, { actor, ref: '123/STTTT', dryRun: false });
    expect(r.applied).toBe(true);
    expect(r.outcomes.map((o) => (o.ok ? `${o.action} ${o.address}` : o.reason))).toEqual([
      'create longnv@nghean.gov.vn',
      'create longnv2@nghean.gov.vn',
      'delete hunglv@nghean.gov.vn',
    ]);
    const created = r.outcomes[0];
    const acc = await store.getAccountByAddress('longnv@nghean.gov.vn');
    expect(acc).toMatchObject({ title: 'Chuyên viên', phone: '0912', mustChangePassword: true });
    expect(created?.ok && (await verifyPassword(acc?.passwordHash ?? '', created.oneTimePassword ?? ''))).toBe(true);
    expect((await store.getAccountByAddress('hunglv@nghean.gov.vn'))?.state).toBe('deleted');
    expect((await store.listAudit({ target: 'longnv2@nghean.gov.vn' }))[0]?.ref).toBe('123/STTTT');
    expect(describeOutcome(r.outcomes[0]!, false)).toContain('longnv@nghean.gov.vn');
  });

  it('changes nothing when one row fails, and reports every failing row', async () => {
    const rows = parseRequestCsv(
      `${HEADER}\n1,Nguyễn Văn Long,,stttt,,Cấp mới\n2,Trần Văn B,,không có,,Cấp mới\n3,!!!,,stc,,Cấp mới\n4,Ai Đó,,stc,,tạm khóa\n`,
    );
    const before = (await store.listAudit()).length;
    const r = await importRequests({ store, service: svc, config }, rows, { actor, ref: null, dryRun: false });
    expect(r.applied).toBe(false);
    expect(r.outcomes.filter((o) => !o.ok).map((o) => o.row.stt)).toEqual(['2', '3', '4']);
    expect(await store.getAccountByAddress('longnv@nghean.gov.vn')).toBeNull();
    expect(await store.listAccounts()).toEqual([]);
    expect((await store.listAudit()).length).toBe(before);
  });

  it('dry run reports what would happen and changes nothing', async () => {
    const rows = parseRequestCsv(`${HEADER}\n1,Nguyễn Văn Long,,stttt,,Cấp mới\n2,Nguyễn Văn Long,,stttt,,Cấp mới\n`);
    const r = await importRequests({ store, service: svc, config }, rows, { actor, dryRun: true });
    expect(r.applied).toBe(false);
    expect(r.outcomes.map((o) => (o.ok ? o.address : o.reason))).toEqual(['longnv@nghean.gov.vn', 'longnv2@nghean.gov.vn']);
    expect(describeOutcome(r.outcomes[1]!, true)).toMatch(/sẽ cấp mới longnv2@nghean.gov.vn \/ would create/);
    expect(await store.listAccounts()).toEqual([]);
  });

  it('suspends by name in the unit, and asks for the address when namesakes make it ambiguous', async () => {
    await svc.addAccount({ fullName: 'Phạm Thị Hoa', unit: 'stc' }, actor);
    await svc.addAccount({ fullName: 'Phạm Thị Hoa', unit: 'stc' }, actor);
    const ambiguous = parseRequestCsv(`${HEADER}\n1,Phạm Thị Hoa,,stc,,Tạm khóa\n`);
    const r1 = await importRequests({ store, service: svc, config }, ambiguous, { actor });
    expect(r1.applied).toBe(false);
    expect(r1.outcomes[0]?.ok === false && r1.outcomes[0].reason).toMatch(/hoapt@nghean.gov.vn, hoapt2@nghean.gov.vn/);
    const withAddress = parseRequestCsv(`${HEADER},Email\n1,Phạm Thị Hoa,,stc,,Tạm khóa,hoapt2@nghean.gov.vn\n`);
    const r2 = await importRequests({ store, service: svc, config }, withAddress, { actor, ref: 'CV-9' });
    expect(r2.applied).toBe(true);
    expect(await store.getAccountByAddress('hoapt2@nghean.gov.vn')).toMatchObject({ state: 'suspended', stateRef: 'CV-9' });
    expect((await store.getAccountByAddress('hoapt@nghean.gov.vn'))?.state).toBe('active');
  });

  it.each(['Tạm khóa', 'Xóa'])('%s with an Email of an account that bears another name: row refused with its line, nothing carried out', async (action) => {
    await svc.addAccount({ fullName: 'Phạm Thị Hoa', unit: 'stc' }, actor);
    await svc.addAccount({ fullName: 'Lê Văn Hùng', unit: 'stc' }, actor);
    const rows = parseRequestCsv(`${HEADER},Email\n1,Nguyễn Văn Long,,stttt,,Cấp mới,\n2,Lê Văn Hùng,,stc,,${action},hoapt@nghean.gov.vn\n`);
    const before = (await store.listAudit()).length;
    const r = await importRequests({ store, service: svc, config }, rows, { actor });
    expect(r.applied).toBe(false);
    const bad = r.outcomes.find((o) => !o.ok);
    expect(bad?.row.line).toBe(3);
    expect(bad && describeOutcome(bad, false)).toBe(
      'Dòng / line 3 (STT 2), Lê Văn Hùng: LỖI / ERROR: Tài khoản hoapt@nghean.gov.vn là của "Phạm Thị Hoa", không phải "Lê Văn Hùng": sửa họ và tên hoặc địa chỉ thư / the account hoapt@nghean.gov.vn is "Phạm Thị Hoa", not "Lê Văn Hùng": correct the name or the address',
    );
    expect((await store.getAccountByAddress('hoapt@nghean.gov.vn'))?.state).toBe('active');
    expect((await store.getAccountByAddress('hunglv@nghean.gov.vn'))?.state).toBe('active');
    expect(await store.getAccountByAddress('longnv@nghean.gov.vn')).toBeNull();
    expect((await store.listAudit()).length).toBe(before);
  });

  it.each(['Tạm khóa', 'Xóa'])('%s with an Email of an account in another unit than the row\'s: row refused with its line, nothing carried out', async (action) => {
    await svc.addAccount({ fullName: 'Phạm Thị Hoa', unit: 'stc' }, actor);
    const rows = parseRequestCsv(`${HEADER},Email\n1,Phạm Thị Hoa,,stttt,,${action},hoapt@nghean.gov.vn\n`);
    const before = (await store.listAudit()).length;
    const r = await importRequests({ store, service: svc, config }, rows, { actor });
    expect(r.applied).toBe(false);
    const bad = r.outcomes.find((o) => !o.ok);
    expect(bad && describeOutcome(bad, false)).toBe(
      'Dòng / line 2 (STT 1), Phạm Thị Hoa: LỖI / ERROR: Tài khoản hoapt@nghean.gov.vn thuộc đơn vị "Sở Tài chính" (stc), không phải "Sở Thông tin và Truyền thông" (stttt): sửa cột đơn vị hoặc địa chỉ thư / the account hoapt@nghean.gov.vn belongs to the unit "Sở Tài chính" (stc), not "Sở Thông tin và Truyền thông" (stttt): correct the unit or the address',
    );
    expect((await store.getAccountByAddress('hoapt@nghean.gov.vn'))?.state).toBe('active');
    expect((await store.listAudit()).length).toBe(before);
    // The same row with the right unit is carried out.
    const fixed = parseRequestCsv(`${HEADER},Email\n1,Phạm Thị Hoa,,stc,,${action},hoapt@nghean.gov.vn\n`);
    expect((await importRequests({ store, service: svc, config }, fixed, { actor })).applied).toBe(true);
  });

  it('an Email whose account bears the row\'s name, written without diacritics or in another case, is carried out', async () => {
    await svc.addAccount({ fullName: 'Phạm Thị Hoa', unit: 'stc' }, actor);
    const rows = parseRequestCsv(`${HEADER},Email\n1,PHAM  thi hoa,,stc,,Tạm khóa,HoaPT@nghean.gov.vn\n`);
    const r = await importRequests({ store, service: svc, config }, rows, { actor });
    expect(r.applied).toBe(true);
    expect((await store.getAccountByAddress('hoapt@nghean.gov.vn'))?.state).toBe('suspended');
  });

  it('cấp mới with the Email of an existing account is refused (already so), whoever it names, nothing carried out', async () => {
    await svc.addAccount({ fullName: 'Phạm Thị Hoa', unit: 'stc' }, actor);
    const rows = parseRequestCsv(`${HEADER},Email\n1,Nguyễn Văn Long,,stttt,,Cấp mới,\n2,Lê Văn Hùng,,stc,,Cấp mới,hoapt@nghean.gov.vn\n3,Phạm Thị Hoa,,stc,,Cấp mới,hoapt@nghean.gov.vn\n`);
    const r = await importRequests({ store, service: svc, config }, rows, { actor });
    expect(r.applied).toBe(false);
    expect(r.outcomes.filter((o) => !o.ok).map((o) => [o.row.line, o.ok ? '' : o.reason])).toEqual([
      [3, 'Địa chỉ hoapt@nghean.gov.vn đã có người dùng / the address hoapt@nghean.gov.vn is already taken'],
      [4, 'Địa chỉ hoapt@nghean.gov.vn đã có người dùng / the address hoapt@nghean.gov.vn is already taken'],
    ]);
    expect(await store.getAccountByAddress('longnv@nghean.gov.vn')).toBeNull();
    expect((await store.getAccountByAddress('hoapt@nghean.gov.vn'))?.fullName).toBe('Phạm Thị Hoa');
  });
});
