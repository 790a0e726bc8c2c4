/**
 * `buudien directory export [--org CODE] [--format csv|json|html]` (R-DIR-1): the directory of
 * units and people, to stdout, for a unit's web portal. What is listed, and in what order:
 * accounts/directory.ts; who may read what: the account service's `directory()`.
 */
import { directoryCsv, directoryHtml, directoryJson, type Directory } from '../../accounts/directory.js';
import type { RegisterCommand } from '../context.js';
import { pickFormat } from '../formats.js';

const FORMATS: Readonly<Record<string, (d: Directory) => string>> = {
  csv: directoryCsv,
  json: directoryJson,
  html: directoryHtml,
};

export const register: RegisterCommand = (program, ctx) => {
  const directory = program.command('directory').description('danh bạ đơn vị và cán bộ / directory of units and people (R-DIR-1)');

  directory
    .command('export')
    .description(
      'xuất danh bạ (người dùng đang hoạt động) ra stdout để đăng trên cổng thông tin / print the directory (active personal accounts) for a web portal',
    )
    .option('--org <code>', 'một đơn vị và các đơn vị trực thuộc / one unit and its sub-units')
    .option('--format <format>', 'csv | json | html', 'csv')
    .option('--json', 'như --format json / the same as --format json')
    .action(async (opts: { org?: string; format: string; json?: boolean }) => {
      const render = pickFormat(FORMATS, opts.json ? 'json' : opts.format);
      await ctx.withApp(async (app) => {
        const d = await ctx.accounts(app).directory({ unit: opts.org ?? null }, ctx.actor());
        ctx.io.stdout(render(d));
      });
    });
};
