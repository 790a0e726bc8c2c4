/**
 * `buudien directory export [--org CODE] [--format csv|json|html]` (R-DIR-1): the directory of
 * units and people, to stdout, for a unit's web portal. What is listed, and in what order:
 * accounts/directory.ts; who may read what: the account service's `directory()`.
 */
import { directoryCsv, directoryHtml, directoryJson, type Directory } from '../../accounts/directory.js';
import { MailError, bi } from '../../lib/errors.js';
import type { RegisterCommand } from '../context.js';

const FORMATS = {
  csv: directoryCsv,
  json: directoryJson,
  html: directoryHtml,
} satisfies Record<string, (d: Directory) => string>;

type Format = keyof typeof FORMATS;

function isFormat(v: string): v is Format {
  return Object.hasOwn(FORMATS, v);
}

export const register: RegisterCommand = (program, ctx) => {
  const directory = program.command('directory').description('danh bạ đơn vị và cán bộ / directory of units and people (R-DIR-1)');

  directory
    .command('export')
    .description(
      'xuất danh bạ (người dùng đang hoạt động) ra stdout để đăng trên cổng thông tin / print the directory (active personal accounts) for a web portal',
    )
    .option('--org <code>', 'một đơn vị và các đơn vị trực thuộc / one unit and its sub-units')
    .option('--format <format>', 'csv | json | html', 'csv')
    .action(async (opts: { org?: string; format: string }) => {
      const format = opts.format.trim().toLowerCase();
      if (!isFormat(format)) {
        throw new MailError(
          'INVALID_INPUT',
          bi(`Định dạng "${opts.format}" không hợp lệ (csv | json | html)`, `"${opts.format}" is not one of csv | json | html`),
        );
      }
      await ctx.withApp(async (app) => {
        const d = await ctx.accounts(app).directory({ unit: opts.org ?? null }, ctx.actor());
        ctx.io.stdout(FORMATS[format](d));
      });
    });
};
