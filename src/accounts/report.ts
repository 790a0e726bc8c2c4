/**
 * R-OPS-2: the yearly report on the management and use of official e-mail that each unit sends
 * the province (NA Phụ lục 2, due before 11 December; figures from 10 December of the year
 * before to 10 December of the report's year). Its three figures, per unit:
 *
 * - staff with an account: the unit's active personal accounts against its staff count
 *   (`org add|set --staff`); no staff count (or 0), no percentage;
 * - staff using mail regularly: the accounts that signed in themselves (any protocol or the web)
 *   in the last `regularDays` days of the period, against the staff count (the form asks for a
 *   share of staff), and against the accounts as a second figure;
 * - directory reviewed and published: whether the directory covering the unit was exported
 *   (`directory export`, `/admin/directory.csv`: audited `directory.export`) in the period.
 *
 * Accounts are counted as they are when the report is made (a unit's accounts, states and
 * units have no history); sign-ins and exports come from their records within the period.
 * buildUsageReport is pure; the account service gathers its input with the actor's rights. Each
 * unit counts its own accounts (a sub-unit has its own row); the total adds the rows up, its
 * shares over the units that gave a staff count.
 */
import { vietnamMinutes, vietnamTime } from '../lib/clock.js';
import { csvDocument, type CsvCell } from '../lib/csv.js';
import type { Account, Unit } from '../store/port.js';
import { isListedPerson } from './directory.js';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface ReportPeriod {
  /** The report's year: the period ends with 10 December of it. */
  year: number;
  from: Date;
  /** Exclusive; never later than the time the report was made. */
  to: Date;
  /** The period had not ended when the report was made (figures so far). */
  partial: boolean;
}

/** `day` December 00:00 in Vietnam (UTC+7) of `year`. */
function december(year: number, day: number): Date {
  return new Date(Date.UTC(year, 11, day) - 7 * 3600_000);
}

/**
 * The period of the report for `year` (NA Đ13: "từ ngày 10 tháng 12 năm trước đến ngày 10 tháng
 * 12", both days included), Vietnam time, cut at `now`; null when it has not begun.
 */
export function reportPeriod(year: number, now: Date): ReportPeriod | null {
  const from = december(year - 1, 10);
  const end = december(year, 11);
  if (from.getTime() >= now.getTime()) return null;
  return { year, from, to: end.getTime() < now.getTime() ? end : now, partial: end.getTime() > now.getTime() };
}

/** The year whose report is due: this year's through 10 December (due before the 11th), then next year's. */
export function currentReportYear(now: Date): number {
  const y = new Date(now.getTime() + 7 * 3600_000).getUTCFullYear();
  return now.getTime() < december(y, 11).getTime() ? y : y + 1;
}

export interface UsageReportRow {
  unit: string;
  /** The unit's address ("vp.stc"). */
  address: string;
  staff: number | null;
  accounts: number;
  /** accounts / staff in %, one decimal (cut, not rounded up); null without a staff count. */
  accountsPct: number | null;
  regular: number;
  /** regular / staff in %: the form's figure; null without a staff count. */
  regularPct: number | null;
  /** regular / accounts in %; null without accounts. */
  regularOfAccountsPct: number | null;
  /** The last directory export covering the unit within the period, or null. */
  directoryExportedAt: Date | null;
}

export interface UsageReport {
  organization: string;
  period: ReportPeriod;
  regularDays: number;
  generatedAt: Date;
  rows: UsageReportRow[];
  /** Over every unit reported; `staff` and the shares over the units with a staff count, whose accounts and regular users are `staffedAccounts`, `staffedRegular`. */
  total: Omit<UsageReportRow, 'unit' | 'address' | 'directoryExportedAt'> & { staffedAccounts: number; staffedRegular: number; directoryExported: number };
}

export interface UsageReportInput {
  organization: string;
  period: ReportPeriod;
  regularDays: number;
  generatedAt: Date;
  /** Every unit (for the ancestors an export may have covered). */
  allUnits: readonly Unit[];
  /** The units to report on, in order. */
  units: readonly Unit[];
  /** The accounts the actor may read. */
  accounts: readonly Account[];
  /** Accounts with a sign-in of their own in the last regularDays of the period. */
  signedIn: ReadonlySet<number>;
  /** Directory exports within the period: their target ("*" = every unit, else a unit's address), whether they took in sub-units, and time. */
  exports: ReadonlyArray<{ target: string; subUnits: boolean; at: Date }>;
}

/** part / whole in %, one decimal, cut (99.95 % is 99.9 %, never a 100 % that is not). */
export const pct = (part: number, whole: number | null): number | null => (whole === null || whole <= 0 ? null : Math.floor((part / whole) * 1000) / 10);
/** A staff count to compute with: none, or 0 (not given in practice), is none. */
const staffOf = (u: Unit): number | null => (u.staff === null || u.staff <= 0 ? null : u.staff);

export function buildUsageReport(input: UsageReportInput): UsageReport {
  const byId = new Map(input.allUnits.map((u) => [u.id, u]));
  // Latest export per target, apart for those that took in sub-units (a unit administrator's export is its own unit only).
  const latest = new Map<string, Date>();
  for (const e of input.exports) {
    const k = `${e.subUnits ? '+' : '='}${e.target}`;
    const seen = latest.get(k);
    if (!seen || e.at > seen) latest.set(k, e.at);
  }
  /** The last export that covered the unit: of every unit, of the unit itself, or of an ancestor with its sub-units. */
  const lastExport = (u: Unit): Date | null => {
    const keys = ['+*', '=*', `+${u.address}`, `=${u.address}`];
    for (let p = u.parentId, n = 0; p !== null && n < 50; n++) {
      const parent = byId.get(p);
      if (!parent) break;
      keys.push(`+${parent.address}`);
      p = parent.parentId;
    }
    return keys.map((k) => latest.get(k) ?? null).reduce<Date | null>((m, d) => (d !== null && (m === null || d > m) ? d : m), null);
  };
  const people = new Map<number, Account[]>();
  for (const a of input.accounts) {
    if (a.unitId === null || !isListedPerson(a)) continue;
    people.set(a.unitId, [...(people.get(a.unitId) ?? []), a]);
  }
  const rows = input.units.map((u): UsageReportRow => {
    const here = people.get(u.id) ?? [];
    const regular = here.filter((a) => input.signedIn.has(a.id)).length;
    const staff = staffOf(u);
    return {
      unit: u.name.normalize('NFC'),
      address: u.address,
      staff,
      accounts: here.length,
      accountsPct: pct(here.length, staff),
      regular,
      regularPct: pct(regular, staff),
      regularOfAccountsPct: pct(regular, here.length),
      directoryExportedAt: lastExport(u),
    };
  });
  const staffed = rows.filter((r) => r.staff !== null);
  const staff = staffed.length === 0 ? null : staffed.reduce((n, r) => n + (r.staff ?? 0), 0);
  const accounts = rows.reduce((n, r) => n + r.accounts, 0);
  const regular = rows.reduce((n, r) => n + r.regular, 0);
  // The shares over the units that gave a staff count only: one without would skew them.
  const staffedAccounts = staffed.reduce((n, r) => n + r.accounts, 0);
  const staffedRegular = staffed.reduce((n, r) => n + r.regular, 0);
  return {
    organization: input.organization.normalize('NFC'),
    period: input.period,
    regularDays: input.regularDays,
    generatedAt: input.generatedAt,
    rows,
    total: {
      staff,
      accounts,
      accountsPct: pct(staffedAccounts, staff),
      regular,
      regularPct: pct(staffedRegular, staff),
      regularOfAccountsPct: pct(regular, accounts),
      staffedAccounts,
      staffedRegular,
      directoryExported: rows.filter((r) => r.directoryExportedAt !== null).length,
    },
  };
}

/** The start of the "regular use" window: regularDays before the period's end, not before its start. */
export function regularSince(period: ReportPeriod, regularDays: number): Date {
  return new Date(Math.max(period.from.getTime(), period.to.getTime() - regularDays * DAY_MS));
}

/** dd/mm/yyyy in Vietnam. */
export const vnDate = (d: Date): string => {
  const t = new Date(d.getTime() + 7 * 3600_000).toISOString();
  return `${t.slice(8, 10)}/${t.slice(5, 7)}/${t.slice(0, 4)}`;
};
/** A share as the report writes it: "66,6%" (Vietnamese) or "66.6%"; "—" for none. */
export const vnPct = (p: number | null): string => (p === null ? '—' : `${p.toFixed(1).replace('.', ',')}%`);
export const enPct = (p: number | null): string => (p === null ? '—' : `${p.toFixed(1)}%`);

/**
 * The report as text in the shape of Phụ lục 2 (section 1, per unit then in total), Vietnamese
 * first with the English under each line; sections 2 and 3 (problems, proposals) are the unit's
 * own words and are left for it to write.
 */
export function usageReportText(r: UsageReport): string {
  const p = r.period;
  // Both days included (the period ends when 10 December does).
  const to = p.partial ? `${vietnamTime(p.to)} (chưa hết kỳ / period not over)` : vnDate(new Date(p.to.getTime() - 1));
  const lines = [
    `BÁO CÁO Tình hình quản lý và sử dụng hệ thống Thư điện tử công vụ năm ${p.year}`,
    `Report on the management and use of the official e-mail system, ${p.year}`,
    `${r.organization}`,
    `Kỳ số liệu / Period: ${vnDate(p.from)} – ${to}`,
    '',
  ];
  const block = (name: string, x: Omit<UsageReportRow, 'unit' | 'address' | 'directoryExportedAt'>, directory: [string, string], counted = { accounts: x.accounts, regular: x.regular }): void => {
    lines.push(
      name,
      `- Tỷ lệ cán bộ, công chức, viên chức và người lao động đã được cấp phát tài khoản thư điện tử công vụ: ${counted.accounts}/${x.staff ?? '—'}. Đạt tỷ lệ: ${vnPct(x.accountsPct)}`,
      `  Staff given an official e-mail account: ${counted.accounts}/${x.staff ?? '—'} (${enPct(x.accountsPct)})`,
      `- Tỷ lệ CBCCVC thường xuyên sử dụng hệ thống thư điện tử trong công việc: ${counted.regular}/${x.staff ?? '—'}. Đạt tỷ lệ: ${vnPct(x.regularPct)} (có đăng nhập trong ${r.regularDays} ngày cuối kỳ; ${x.regular}/${x.accounts} tài khoản = ${vnPct(x.regularOfAccountsPct)})`,
      `  Staff using e-mail regularly: ${counted.regular}/${x.staff ?? '—'} (${enPct(x.regularPct)}; signed in during the last ${r.regularDays} days of the period; ${x.regular}/${x.accounts} accounts = ${enPct(x.regularOfAccountsPct)})`,
      `- Đã thực hiện rà soát, cập nhật công khai danh bạ thư điện tử công vụ lên Cổng thông tin điện tử: ${directory[0]}`,
      `  Directory reviewed and published on the web portal: ${directory[1]}`,
      '',
    );
  };
  for (const row of r.rows) {
    const d: [string, string] =
      row.directoryExportedAt === null
        ? ['Chưa thực hiện (không có lần xuất danh bạ nào trong kỳ)', 'not done (no directory export in the period)']
        : [`Đã thực hiện (xuất danh bạ lần cuối ${vietnamTime(row.directoryExportedAt)})`, `done (last directory export ${vietnamTime(row.directoryExportedAt)})`];
    block(`Đơn vị / Unit: ${row.unit} (${row.address})${row.staff === null ? ' — chưa có số cán bộ (org set --staff) / no staff count' : ''}`, row, d);
  }
  if (r.rows.length > 1) {
    const unstaffed = r.rows.filter((x) => x.staff === null).length;
    block(
      `Tổng cộng ${r.rows.length} đơn vị${unstaffed > 0 ? ` (tỷ lệ tính trên ${r.rows.length - unstaffed} đơn vị có số cán bộ)` : ''} / Total of ${r.rows.length} units${unstaffed > 0 ? ` (shares over the ${r.rows.length - unstaffed} with a staff count)` : ''}`,
      r.total,
      [`${r.total.directoryExported}/${r.rows.length} đơn vị đã thực hiện`, `${r.total.directoryExported}/${r.rows.length} units done`],
      { accounts: r.total.staffedAccounts, regular: r.total.staffedRegular },
    );
  }
  if (r.rows.length === 0) lines.push('Không có đơn vị nào. / No units.', '');
  lines.push(`Lập lúc / Made at: ${vietnamTime(r.generatedAt)}`);
  return lines.join('\n') + '\n';
}

export const USAGE_REPORT_CSV_HEADER = [
  'Đơn vị / Unit',
  'Mã đơn vị / Unit code',
  'Số cán bộ / Staff',
  'Có tài khoản / With an account',
  'Tỷ lệ có tài khoản (%) / With an account (%)',
  'Thường xuyên sử dụng / Regular users',
  'Tỷ lệ thường xuyên sử dụng (%) / Regular users (%)',
  'Trên số tài khoản (%) / Of the accounts (%)',
  'Đã công khai danh bạ / Directory published',
  'Xuất danh bạ lần cuối (UTC+7) / Last directory export (UTC+7)',
] as const;

/** One row per unit, then the total (Excel: lib/csv.ts, BOM, neutralised cells). */
export function usageReportCsv(r: UsageReport): string {
  const n = (v: number | null): CsvCell => (v === null ? '' : String(v));
  const rows: CsvCell[][] = [[...USAGE_REPORT_CSV_HEADER]];
  for (const x of r.rows) {
    rows.push([
      x.unit,
      x.address,
      n(x.staff),
      String(x.accounts),
      n(x.accountsPct),
      String(x.regular),
      n(x.regularPct),
      n(x.regularOfAccountsPct),
      x.directoryExportedAt ? 'có / yes' : 'không / no',
      x.directoryExportedAt ? vietnamMinutes(x.directoryExportedAt) : '',
    ]);
  }
  const t = r.total;
  rows.push(['Tổng cộng / Total', '', n(t.staff), String(t.accounts), n(t.accountsPct), String(t.regular), n(t.regularPct), n(t.regularOfAccountsPct), `${t.directoryExported}/${r.rows.length}`, '']);
  return csvDocument(rows);
}

/** `{ version: 1, organization, year, from, to, partial, regularDays, generatedAt, rows: [...], total }` (ISO 8601 times). */
export function usageReportJson(r: UsageReport): string {
  return (
    JSON.stringify(
      {
        version: 1,
        organization: r.organization,
        year: r.period.year,
        from: r.period.from.toISOString(),
        to: r.period.to.toISOString(),
        partial: r.period.partial,
        regularDays: r.regularDays,
        generatedAt: r.generatedAt.toISOString(),
        rows: r.rows.map((x) => ({ ...x, directoryExportedAt: x.directoryExportedAt?.toISOString() ?? null })),
        total: r.total,
      },
      null,
      2,
    ) + '\n'
  );
}
