/**
 * R-OPS-2: the yearly report on the management and use of official e-mail that each unit sends
 * the province (NA Phụ lục 2, due before 11 December; figures from 10 December of the year
 * before to 10 December of the report's year). Its three figures, per unit:
 *
 * - staff with an account: the unit's active personal accounts against its staff count
 *   (`org add|set --staff`); no staff count, no percentage;
 * - staff using mail regularly: of those accounts, the ones that signed in themselves (any
 *   protocol or the web) in the last `regularDays` days of the period;
 * - directory reviewed and published: whether the directory covering the unit was exported
 *   (`directory export`, `/admin/directory.csv`: audited `directory.export`) in the period.
 *
 * buildUsageReport is pure; the account service gathers its input with the actor's rights. Each
 * unit counts its own accounts (a sub-unit has its own row); the total adds the rows up.
 */
import { vietnamTime } from '../lib/clock.js';
import { csvDocument, type CsvCell } from '../lib/csv.js';
import type { Account, Unit } from '../store/port.js';
import { isListedPerson } from './directory.js';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface ReportPeriod {
  /** The report's year: the period ends on 10 December of it. */
  year: number;
  from: Date;
  /** Exclusive; never later than the time the report was made. */
  to: Date;
  /** The period had not ended when the report was made (figures so far). */
  partial: boolean;
}

/** 10 December 00:00 in Vietnam (UTC+7) of `year`. */
function tenthOfDecember(year: number): Date {
  return new Date(Date.UTC(year, 11, 10) - 7 * 3600_000);
}

/** The period of the report for `year` (NA Đ13: 10 December of the year before to 10 December), cut at `now`. */
export function reportPeriod(year: number, now: Date): ReportPeriod {
  const from = tenthOfDecember(year - 1);
  const end = tenthOfDecember(year);
  return { year, from, to: end.getTime() < now.getTime() ? end : now, partial: end.getTime() > now.getTime() };
}

/** The year whose report is due next: this year's until its 10 December has passed, then next year's. */
export function currentReportYear(now: Date): number {
  const y = new Date(now.getTime() + 7 * 3600_000).getUTCFullYear();
  return now.getTime() < tenthOfDecember(y).getTime() ? y : y + 1;
}

export interface UsageReportRow {
  unit: string;
  /** The unit's address ("vp.stc"). */
  address: string;
  staff: number | null;
  accounts: number;
  /** accounts / staff in %, one decimal; null without a staff count. */
  accountsPct: number | null;
  regular: number;
  /** regular / accounts in %, one decimal; null without accounts. */
  regularPct: number | null;
  /** The last directory export covering the unit within the period, or null. */
  directoryExportedAt: Date | null;
}

export interface UsageReport {
  organization: string;
  period: ReportPeriod;
  regularDays: number;
  generatedAt: Date;
  rows: UsageReportRow[];
  total: Omit<UsageReportRow, 'unit' | 'address' | 'directoryExportedAt'> & { directoryExported: number };
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
  /** Directory exports within the period: their target ("*" = every unit, else a unit's address) and time. */
  exports: ReadonlyArray<{ target: string; at: Date }>;
}

const pct = (part: number, whole: number | null): number | null => (whole === null || whole <= 0 ? null : Math.round((part / whole) * 1000) / 10);

export function buildUsageReport(input: UsageReportInput): UsageReport {
  const byId = new Map(input.allUnits.map((u) => [u.id, u]));
  /** The unit and its ancestors' addresses: an export of any of them covered it. */
  const covering = (u: Unit): Set<string> => {
    const out = new Set<string>(['*', u.address]);
    for (let p = u.parentId, n = 0; p !== null && n < 50; n++) {
      const parent = byId.get(p);
      if (!parent) break;
      out.add(parent.address);
      p = parent.parentId;
    }
    return out;
  };
  const rows = input.units.map((u): UsageReportRow => {
    const people = input.accounts.filter((a) => a.unitId === u.id && isListedPerson(a));
    const regular = people.filter((a) => input.signedIn.has(a.id)).length;
    const targets = covering(u);
    const last = input.exports.filter((e) => targets.has(e.target)).reduce<Date | null>((m, e) => (m === null || e.at > m ? e.at : m), null);
    return {
      unit: u.name.normalize('NFC'),
      address: u.address,
      staff: u.staff,
      accounts: people.length,
      accountsPct: pct(people.length, u.staff),
      regular,
      regularPct: pct(regular, people.length),
      directoryExportedAt: last,
    };
  });
  const staffKnown = rows.filter((r) => r.staff !== null);
  const staff = staffKnown.length === 0 ? null : staffKnown.reduce((n, r) => n + (r.staff ?? 0), 0);
  const accounts = rows.reduce((n, r) => n + r.accounts, 0);
  const regular = rows.reduce((n, r) => n + r.regular, 0);
  // Against the staff of the units that gave one only: a unit without a staff count would skew it.
  const accountsOfStaffed = staffKnown.reduce((n, r) => n + r.accounts, 0);
  return {
    organization: input.organization.normalize('NFC'),
    period: input.period,
    regularDays: input.regularDays,
    generatedAt: input.generatedAt,
    rows,
    total: {
      staff,
      accounts,
      accountsPct: pct(accountsOfStaffed, staff),
      regular,
      regularPct: pct(regular, accounts),
      directoryExported: rows.filter((r) => r.directoryExportedAt !== null).length,
    },
  };
}

/** The start of the "regular use" window: regularDays before the period's end, not before its start. */
export function regularSince(period: ReportPeriod, regularDays: number): Date {
  return new Date(Math.max(period.from.getTime(), period.to.getTime() - regularDays * DAY_MS));
}

const vnDate = (d: Date): string => {
  const t = new Date(d.getTime() + 7 * 3600_000).toISOString();
  return `${t.slice(8, 10)}/${t.slice(5, 7)}/${t.slice(0, 4)}`;
};
const vnPct = (p: number | null): string => (p === null ? '—' : `${p.toFixed(1).replace('.', ',')}%`);
const enPct = (p: number | null): string => (p === null ? '—' : `${p.toFixed(1)}%`);

/**
 * The report as text in the shape of Phụ lục 2 (section 1, per unit then in total), Vietnamese
 * first with the English under each line; sections 2 and 3 (problems, proposals) are the unit's
 * own words and are left for it to write.
 */
export function usageReportText(r: UsageReport): string {
  const p = r.period;
  const to = p.partial ? `${vnDate(p.to)} (${vietnamTime(p.to)}, chưa hết kỳ / period not over)` : vnDate(p.to);
  const lines = [
    `BÁO CÁO Tình hình quản lý và sử dụng hệ thống Thư điện tử công vụ năm ${p.year}`,
    `Report on the management and use of the official e-mail system, ${p.year}`,
    `${r.organization}`,
    `Kỳ số liệu / Period: ${vnDate(p.from)} – ${to}`,
    '',
  ];
  const block = (name: string, x: Omit<UsageReportRow, 'unit' | 'address' | 'directoryExportedAt'>, directory: [string, string]): void => {
    lines.push(
      name,
      `- Tỷ lệ cán bộ, công chức, viên chức và người lao động đã được cấp phát tài khoản thư điện tử công vụ: ${x.accounts}/${x.staff ?? '—'}. Đạt tỷ lệ: ${vnPct(x.accountsPct)}`,
      `  Staff given an official e-mail account: ${x.accounts}/${x.staff ?? '—'} (${enPct(x.accountsPct)})`,
      `- Tỷ lệ CBCCVC thường xuyên sử dụng hệ thống thư điện tử trong công việc: ${vnPct(x.regularPct)} (${x.regular}/${x.accounts} tài khoản có đăng nhập trong ${r.regularDays} ngày cuối kỳ)`,
      `  Staff using e-mail regularly: ${enPct(x.regularPct)} (${x.regular}/${x.accounts} accounts signed in during the last ${r.regularDays} days of the period)`,
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
    block(`Tổng cộng ${r.rows.length} đơn vị / Total of ${r.rows.length} units`, r.total, [
      `${r.total.directoryExported}/${r.rows.length} đơn vị đã thực hiện`,
      `${r.total.directoryExported}/${r.rows.length} units done`,
    ]);
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
  'Đã công khai danh bạ / Directory published',
  'Xuất danh bạ lần cuối / Last directory export',
] as const;

/** One row per unit, then the total (Excel: lib/csv.ts, BOM, neutralised cells). */
export function usageReportCsv(r: UsageReport): string {
  const n = (v: number | null): CsvCell => (v === null ? '' : String(v));
  const rows: CsvCell[][] = [[...USAGE_REPORT_CSV_HEADER]];
  for (const x of r.rows) {
    rows.push([x.unit, x.address, n(x.staff), String(x.accounts), n(x.accountsPct), String(x.regular), n(x.regularPct), x.directoryExportedAt ? 'có / yes' : 'không / no', x.directoryExportedAt?.toISOString() ?? '']);
  }
  rows.push(['Tổng cộng / Total', '', n(r.total.staff), String(r.total.accounts), n(r.total.accountsPct), String(r.total.regular), n(r.total.regularPct), `${r.total.directoryExported}/${r.rows.length}`, '']);
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
