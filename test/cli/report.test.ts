/**
 * `buudien report usage` (R-OPS-2, NA Phụ lục 2): per unit, the staff with an account against
 * the staff count, the accounts used regularly (signed in themselves during the last N days of
 * the period), and whether the directory covering the unit was exported in the period; then the
 * total. Text (Vietnamese first), CSV and JSON; refusals are one bilingual line with exit 1.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportPeriod, currentReportYear } from '../../src/accounts/report.js';
import { cli, ok, tempSetup, userError, withStore } from './run.js';

const D = '@nghean.gov.vn';
let dir = '';
let config = '';

beforeAll(async () => {
  const s = tempSetup();
  dir = s.dir;
  config = s.config;
  ok(await cli(['org', 'add', '--name', 'Sở Tài chính', '--staff', '4', '--config', config]));
  ok(await cli(['org', 'add', '--name', 'Phòng Ngân sách', '--code', 'pns', '--parent', 'stc', '--staff', '2', '--config', config]));
  ok(await cli(['org', 'add', '--name', 'Sở Y tế', '--config', config]));
  for (const [name, org] of [
    ['Lê Văn Hùng', 'stc'],
    ['Trần Thị Lan', 'stc'],
    ['Đỗ Văn Mạnh', 'stc'],
    ['Hồ Thị Nga', 'pns.stc'],
    ['Phan Văn Tú', 'syt'],
  ]) {
    ok(await cli(['account', 'add', '--name', name as string, '--org', org as string, '--config', config]));
  }
  // Not people of a unit: a unit mailbox and a suspended account.
  ok(await cli(['account', 'add', '--name', 'Sở Tài chính', '--org', 'stc', '--kind', 'unit', '--config', config]));
  ok(await cli(['account', 'add', '--name', 'Vũ Văn Nghỉ', '--org', 'stc', '--config', config]));
  ok(await cli(['account', 'suspend', 'nghivv', '--reason', 'nghỉ hưu', '--config', config]));
  await withStore(config, async (store) => {
    const now = Date.now();
    const signIn = async (address: string, daysAgo: number, via: string | null = null) => {
      const a = await store.getAccountByAddress(`${address}${D}`);
      await store.recordSignIn({ accountId: a!.id, at: new Date(now - daysAgo * 86_400_000), protocol: 'imap', ip: '10.0.0.1', network: '10.0.0.0/24', ok: true, method: 'password', appPasswordId: null, reason: null, via });
    };
    await signIn('hunglv', 2);
    await signIn('lantt', 40); // before the last 30 days: not regular by default
    await signIn('ngaht', 1);
    // A delegate's sign-in for the unit mailbox is the delegate's, not the unit's use.
    await signIn('stc', 1, `manhdv${D}`);
  });
  // The whole directory exported once in the period (R-DIR-1), and Sở Y tế's never on its own.
  ok(await cli(['directory', 'export', '--org', 'stc', '--config', config]));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('report usage (R-OPS-2)', () => {
  it('json: per unit and in total, in tree order', async () => {
    const r = JSON.parse(ok(await cli(['report', 'usage', '--format', 'json', '--config', config])).stdout) as {
      year: number;
      partial: boolean;
      regularDays: number;
      rows: Array<{ address: string; staff: number | null; accounts: number; accountsPct: number | null; regular: number; regularPct: number | null; directoryExportedAt: string | null }>;
      total: { staff: number | null; accounts: number; accountsPct: number | null; regular: number; regularPct: number | null; directoryExported: number };
    };
    expect(r.year).toBe(currentReportYear(new Date()));
    expect(r.regularDays).toBe(30);
    expect(r.rows.map((x) => [x.address, x.staff, x.accounts, x.accountsPct, x.regular, x.regularPct, x.directoryExportedAt !== null])).toEqual([
      ['stc', 4, 3, 75, 1, 33.3, true],
      ['pns.stc', 2, 1, 50, 1, 100, true],
      ['syt', null, 1, null, 0, 0, false],
    ]);
    // The total's account share counts only units with a staff count (4 of 6).
    expect(r.total).toEqual({ staff: 6, accounts: 5, accountsPct: 66.7, regular: 2, regularPct: 40, directoryExported: 2 });
  });

  it('text: the shape of Phụ lục 2, Vietnamese first; --regular-days widens the window', async () => {
    const text = ok(await cli(['report', 'usage', '--regular-days', '60', '--config', config])).stdout;
    expect(text).toMatch(/^BÁO CÁO Tình hình quản lý và sử dụng hệ thống Thư điện tử công vụ năm \d{4}\nReport on the management and use of the official e-mail system, \d{4}\n/);
    expect(text).toContain('Đơn vị / Unit: Sở Tài chính (stc)');
    expect(text).toContain('- Tỷ lệ cán bộ, công chức, viên chức và người lao động đã được cấp phát tài khoản thư điện tử công vụ: 3/4. Đạt tỷ lệ: 75,0%');
    expect(text).toContain('  Staff given an official e-mail account: 3/4 (75.0%)');
    // 60 days: lantt (40 days ago) is regular now.
    expect(text).toContain('- Tỷ lệ CBCCVC thường xuyên sử dụng hệ thống thư điện tử trong công việc: 66,7% (2/3 tài khoản có đăng nhập trong 60 ngày cuối kỳ)');
    expect(text).toMatch(/Đã thực hiện rà soát, cập nhật công khai danh bạ thư điện tử công vụ lên Cổng thông tin điện tử: Đã thực hiện \(xuất danh bạ lần cuối /);
    expect(text).toContain('Đơn vị / Unit: Sở Y tế (syt) — chưa có số cán bộ (org set --staff) / no staff count');
    expect(text).toContain('Chưa thực hiện (không có lần xuất danh bạ nào trong kỳ)');
    expect(text).toContain('Tổng cộng 3 đơn vị / Total of 3 units');
  });

  it('csv: bilingual header, a row per unit and the total; --org narrows; a past year has no sign-ins in its window', async () => {
    const csv = ok(await cli(['report', 'usage', '--org', 'stc', '--format', 'csv', '--config', config])).stdout;
    const lines = csv.slice(1).trim().split('\r\n');
    expect(lines[0]).toBe(
      'Đơn vị / Unit,Mã đơn vị / Unit code,Số cán bộ / Staff,Có tài khoản / With an account,Tỷ lệ có tài khoản (%) / With an account (%),Thường xuyên sử dụng / Regular users,Tỷ lệ thường xuyên sử dụng (%) / Regular users (%),Đã công khai danh bạ / Directory published,Xuất danh bạ lần cuối / Last directory export',
    );
    expect(lines.slice(1).map((l) => l.split(',').slice(0, 8).join(','))).toEqual([
      'Sở Tài chính,stc,4,3,75,1,33.3,có / yes',
      'Phòng Ngân sách,pns.stc,2,1,50,1,100,có / yes',
      'Tổng cộng / Total,,6,4,66.7,2,50,2/2',
    ]);
    const past = JSON.parse(ok(await cli(['report', 'usage', '--year', '2020', '--format', 'json', '--config', config])).stdout) as { partial: boolean; rows: Array<{ regular: number; directoryExportedAt: string | null }> };
    expect(past.partial).toBe(false);
    expect(past.rows.every((x) => x.regular === 0 && x.directoryExportedAt === null)).toBe(true);
  });

  it('the period runs from 10 December of the year before to 10 December (Vietnam time)', () => {
    const p = reportPeriod(2026, new Date('2027-01-01T00:00:00Z'));
    expect([p.from.toISOString(), p.to.toISOString(), p.partial]).toEqual(['2025-12-09T17:00:00.000Z', '2026-12-09T17:00:00.000Z', false]);
    expect(currentReportYear(new Date('2026-12-09T16:59:59Z'))).toBe(2026);
    expect(currentReportYear(new Date('2026-12-09T17:00:00Z'))).toBe(2027);
  });

  it('refuses a bad year, window, format or unit with one bilingual line', async () => {
    userError(await cli(['report', 'usage', '--year', '20x6', '--config', config]), /--year must be a whole number from 2000 to 2200/);
    userError(await cli(['report', 'usage', '--regular-days', '0', '--config', config]), /--regular-days must be a whole number from 1 to 366/);
    userError(await cli(['report', 'usage', '--format', 'pdf', '--config', config]), /"pdf" is not one of text \| csv \| json/);
    userError(await cli(['report', 'usage', '--org', 'khongco', '--config', config]), /khongco/);
  });
});
