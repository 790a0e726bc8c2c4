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
    // An hour ago: within every period's last days whatever the date (a period has run a day at least).
    await signIn('hunglv', 1 / 24);
    await signIn('ngaht', 1 / 24);
    // A delegate's sign-in for the unit mailbox: the unit mailbox is no person, and manhdv did not sign in itself.
    await signIn('stc', 1 / 24, `manhdv${D}`);
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
      rows: Array<{ address: string; staff: number | null; accounts: number; accountsPct: number | null; regular: number; regularPct: number | null; regularOfAccountsPct: number | null; directoryExportedAt: string | null }>;
      total: Record<string, number | null>;
    };
    expect(r.year).toBe(currentReportYear(new Date()));
    expect(r.regularDays).toBe(30);
    expect(r.rows.map((x) => [x.address, x.staff, x.accounts, x.accountsPct, x.regular, x.regularPct, x.regularOfAccountsPct, x.directoryExportedAt !== null])).toEqual([
      ['stc', 4, 3, 75, 1, 25, 33.3, true],
      ['pns.stc', 2, 1, 50, 1, 50, 100, true],
      ['syt', null, 1, null, 0, null, 0, false],
    ]);
    // The total's shares are over the units with a staff count (4 accounts, 2 regular users of 6 staff), cut not rounded.
    expect(r.total).toEqual({ staff: 6, accounts: 5, accountsPct: 66.6, regular: 2, regularPct: 33.3, regularOfAccountsPct: 40, staffedAccounts: 4, staffedRegular: 2, directoryExported: 2 });
  });

  it('text: the shape of Phụ lục 2, Vietnamese first', async () => {
    const text = ok(await cli(['report', 'usage', '--config', config])).stdout;
    expect(text).toMatch(/^BÁO CÁO Tình hình quản lý và sử dụng hệ thống Thư điện tử công vụ năm \d{4}\nReport on the management and use of the official e-mail system, \d{4}\n/);
    expect(text).toContain('Đơn vị / Unit: Sở Tài chính (stc)');
    expect(text).toContain('- Tỷ lệ cán bộ, công chức, viên chức và người lao động đã được cấp phát tài khoản thư điện tử công vụ: 3/4. Đạt tỷ lệ: 75,0%');
    expect(text).toContain('  Staff given an official e-mail account: 3/4 (75.0%)');
    expect(text).toContain('- Tỷ lệ CBCCVC thường xuyên sử dụng hệ thống thư điện tử trong công việc: 1/4. Đạt tỷ lệ: 25,0% (có đăng nhập trong 30 ngày cuối kỳ; 1/3 tài khoản = 33,3%)');
    expect(text).toMatch(/Đã thực hiện rà soát, cập nhật công khai danh bạ thư điện tử công vụ lên Cổng thông tin điện tử: Đã thực hiện \(xuất danh bạ lần cuối /);
    expect(text).toContain('Đơn vị / Unit: Sở Y tế (syt) — chưa có số cán bộ (org set --staff) / no staff count');
    expect(text).toContain('Chưa thực hiện (không có lần xuất danh bạ nào trong kỳ)');
    expect(text).toContain('Tổng cộng 3 đơn vị (tỷ lệ tính trên 2 đơn vị có số cán bộ) / Total of 3 units (shares over the 2 with a staff count)');
    expect(text).toContain('Đạt tỷ lệ: 66,6%');
  });

  it('csv: bilingual header, a row per unit and the total; --org narrows', async () => {
    const csv = ok(await cli(['report', 'usage', '--org', 'stc', '--format', 'csv', '--config', config])).stdout;
    const lines = csv.slice(1).trim().split('\r\n');
    expect(lines[0]).toBe(
      'Đơn vị / Unit,Mã đơn vị / Unit code,Số cán bộ / Staff,Có tài khoản / With an account,Tỷ lệ có tài khoản (%) / With an account (%),Thường xuyên sử dụng / Regular users,Tỷ lệ thường xuyên sử dụng (%) / Regular users (%),Trên số tài khoản (%) / Of the accounts (%),Đã công khai danh bạ / Directory published,Xuất danh bạ lần cuối (UTC+7) / Last directory export (UTC+7)',
    );
    expect(lines.slice(1).map((l) => l.split(',').slice(0, 9).join(','))).toEqual([
      'Sở Tài chính,stc,4,3,75,1,25,33.3,có / yes',
      'Phòng Ngân sách,pns.stc,2,1,50,1,50,100,có / yes',
      'Tổng cộng / Total,,6,4,66.6,2,33.3,50,2/2',
    ]);
  });

  it('the period runs from 10 December of the year before through 10 December (Vietnam time); the report due is that of this year through the 10th', () => {
    const p = reportPeriod(2026, new Date('2027-01-01T00:00:00Z'));
    expect([p?.from.toISOString(), p?.to.toISOString(), p?.partial]).toEqual(['2025-12-09T17:00:00.000Z', '2026-12-10T17:00:00.000Z', false]);
    // On 10 December, the day before it is due, the default is still that year's report.
    expect(currentReportYear(new Date('2026-12-10T16:59:59Z'))).toBe(2026);
    expect(currentReportYear(new Date('2026-12-10T17:00:00Z'))).toBe(2027);
    expect(reportPeriod(2028, new Date('2026-12-31T00:00:00Z'))).toBeNull();
  });

  it('refuses a bad year, window, format or unit with one bilingual line', async () => {
    userError(await cli(['report', 'usage', '--year', '20x6', '--config', config]), /--year must be a whole number from 2000 to 2200/);
    userError(await cli(['report', 'usage', '--regular-days', '0', '--config', config]), /--regular-days must be a whole number from 1 to 366/);
    userError(await cli(['report', 'usage', '--format', 'pdf', '--config', config]), /"pdf" is not one of text \| csv \| json/);
    userError(await cli(['report', 'usage', '--org', 'khongco', '--config', config]), /khongco/);
    userError(await cli(['report', 'usage', '--year', '2199', '--config', config]), /the report period of 2199 has not begun/);
    userError(await cli(['report', 'usage', '--year', '2020', '--config', config]), /sign-ins are kept only 365 days \(sendLog\.retentionDays\): there are no figures left for 2020/);
  });
});
