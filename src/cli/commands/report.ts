/**
 * `buudien report usage [--year Y] [--org CODE] [--regular-days N] [--format text|csv|json]`
 * (R-OPS-2): the yearly report on the management and use of official e-mail each unit sends the
 * province (NA Phụ lục 2). The figures: accounts/report.ts; who may read what: the account
 * service's `usageReport()`.
 *
 * `buudien report operations [--quarter YYYY-Qn] [--format text|csv|json]` (R-OPS-2, NA Đ10.2.e):
 * the quarterly report on the system's operation (accounts/operations-report.ts).
 */
import { operationsReportCsv, operationsReportJson, operationsReportText, type OperationsReport } from '../../accounts/operations-report.js';
import { usageReportCsv, usageReportJson, usageReportText, type UsageReport } from '../../accounts/report.js';
import { MailError, bi } from '../../lib/errors.js';
import { terminalSafe, type RegisterCommand } from '../context.js';
import { pickFormat } from '../formats.js';

const FORMATS: Readonly<Record<string, (r: UsageReport) => string>> = {
  // Unit names come from administrators' input (and stores made before names were checked).
  text: (r) => usageReportText(r).split('\n').map(terminalSafe).join('\n'),
  csv: usageReportCsv,
  json: usageReportJson,
};

const OPERATIONS_FORMATS: Readonly<Record<string, (r: OperationsReport) => string>> = {
  // The refusals' examples are replies other servers wrote: nothing in them drives the terminal.
  text: (r) => operationsReportText(r).split('\n').map(terminalSafe).join('\n'),
  csv: operationsReportCsv,
  json: operationsReportJson,
};

/** A whole number within [min, max] from an option, or the refusal naming it. */
function whole(v: string | undefined, name: string, min: number, max: number): number | null {
  if (v === undefined) return null;
  if (!/^\d+$/.test(v.trim()) || Number(v) < min || Number(v) > max) {
    throw new MailError('INVALID_INPUT', bi(`${name} phải là số nguyên từ ${min} đến ${max}`, `${name} must be a whole number from ${min} to ${max}`));
  }
  return Number(v);
}

export const register: RegisterCommand = (program, ctx) => {
  const report = program.command('report').description('báo cáo / reports (R-OPS-2)');

  report
    .command('usage')
    .description(
      'báo cáo năm về quản lý, sử dụng thư điện tử công vụ theo đơn vị (Phụ lục 2) / the yearly report on the use of official e-mail per unit (NA Phụ lục 2)',
    )
    .option('--year <year>', 'năm báo cáo: số liệu từ 10/12 năm trước đến 10/12 năm đó / report year: figures from 10 Dec of the year before to 10 Dec')
    .option('--org <code>', 'một đơn vị và các đơn vị trực thuộc / one unit and its sub-units')
    .option('--regular-days <n>', 'thường xuyên sử dụng = có đăng nhập trong N ngày cuối kỳ (mặc định 30) / regular use = signed in during the last N days (default 30)')
    .option('--format <format>', 'text | csv | json', 'text')
    .option('--json', 'như --format json / the same as --format json')
    .action(async (opts: { year?: string; org?: string; regularDays?: string; format: string; json?: boolean }) => {
      const render = pickFormat(FORMATS, opts.json ? 'json' : opts.format);
      const year = whole(opts.year, '--year', 2000, 2200);
      const regularDays = whole(opts.regularDays, '--regular-days', 1, 366);
      await ctx.withApp(async (app) => {
        const r = await ctx.accounts(app).usageReport({ unit: opts.org ?? null, year, regularDays }, ctx.actor());
        ctx.io.stdout(render(r));
      });
    });

  report
    .command('operations')
    .description(
      'báo cáo quý đánh giá kết quả hoạt động của hệ thống (thư, từ chối, đăng nhập, quản trị, dung lượng, sao lưu) / the quarterly operations report (mail, refusals, sign-ins, administration, storage, backups)',
    )
    .option('--quarter <quarter>', 'quý, ví dụ 2026-Q3 (mặc định quý vừa kết thúc) / the quarter, e.g. 2026-Q3 (default: the last one ended)')
    .option('--format <format>', 'text | csv | json', 'text')
    .option('--json', 'như --format json / the same as --format json')
    .action(async (opts: { quarter?: string; format: string; json?: boolean }) => {
      const render = pickFormat(OPERATIONS_FORMATS, opts.json ? 'json' : opts.format);
      await ctx.withApp(async (app) => {
        const r = await ctx.accounts(app).operationsReport({ quarter: opts.quarter ?? null }, ctx.actor());
        ctx.io.stdout(render(r));
      });
    });
};
