/** `buudien config check|show [--config FILE]`. */
import { stringify } from 'yaml';
import { ConfigError, configPath, loadConfig } from '../../config/load.js';
import { bi } from '../../lib/errors.js';
import { policyConfigProblems } from '../../policy/pipeline.js';
import type { RegisterCommand } from '../context.js';

export const register: RegisterCommand = (program, ctx) => {
  const config = program.command('config').description('cấu hình / configuration');

  config
    .command('check')
    .description('kiểm tra tệp cấu hình / validate the config: each problem as "path: expected …, got …"')
    .action(() => {
      const file = configPath(ctx.configFile());
      let problems: string[];
      try {
        // Schema problems first; a config that loads is then checked against the policy rule registry.
        problems = policyConfigProblems(loadConfig(file));
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        problems = e.problems;
      }
      if (problems.length === 0) {
        ctx.out(`${bi('Cấu hình hợp lệ', 'the config is valid')}: ${file}`);
        return;
      }
      for (const p of problems) ctx.out(p);
      ctx.err(`${bi(`Cấu hình có ${problems.length} lỗi`, `the config has ${problems.length} problem(s)`)}: ${file}`);
      ctx.exitCode = 1;
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
