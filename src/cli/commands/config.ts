/** `buudien config check|show [--config FILE]`. */
import { stringify } from 'yaml';
import { ConfigError, configPath, loadConfig } from '../../config/load.js';
import { bi } from '../../lib/errors.js';
import type { RegisterCommand } from '../context.js';

export const register: RegisterCommand = (program, ctx) => {
  const config = program.command('config').description('cấu hình / configuration');

  config
    .command('check')
    .description('kiểm tra tệp cấu hình / validate the config: each problem as "path: expected …, got …"')
    .action(() => {
      const file = configPath(ctx.configFile());
      try {
        loadConfig(file);
        ctx.out(`${bi('Cấu hình hợp lệ', 'the config is valid')}: ${file}`);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        for (const p of e.problems) ctx.out(p);
        ctx.err(`${bi(`Cấu hình có ${e.problems.length} lỗi`, `the config has ${e.problems.length} problem(s)`)}: ${file}`);
        ctx.exitCode = 1;
      }
    });

  config
    .command('show')
    .description('in cấu hình đang dùng (đã gộp extends) / print the effective config')
    .option('--json', 'JSON')
    .action((opts: { json?: boolean }) => {
      const c = ctx.config();
      ctx.out(opts.json ? JSON.stringify(c, null, 2) : stringify(c).trimEnd());
    });
};
