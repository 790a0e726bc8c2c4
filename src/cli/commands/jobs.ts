/** `buudien jobs list|run NAME [--now ISO-8601]`: run a scheduled job once. */
import { ManualClock } from '../../lib/clock.js';
import { MailError, bi } from '../../lib/errors.js';
import { JOBS } from '../jobs.js';
import type { RegisterCommand } from '../context.js';

export const register: RegisterCommand = (program, ctx) => {
  const jobs = program.command('jobs').description('việc định kỳ / scheduled jobs');

  jobs
    .command('list')
    .description('liệt kê việc / list jobs')
    .option('--json', 'JSON')
    .action((opts: { json?: boolean }) => {
      ctx.printList(
        JOBS,
        opts.json ?? false,
        [
          ['NAME', (j) => j.name],
          ['DESCRIPTION', (j) => j.description],
        ],
        (j) => ({ name: j.name, description: j.description }),
      );
    });

  jobs
    .command('run <name>')
    .description('chạy một việc một lần / run a job once')
    .option('--now <iso>', 'coi "hôm nay" là thời điểm này / fix "now" for this run (ISO-8601)')
    .action(async (name: string, opts: { now?: string }) => {
      const job = JOBS.find((j) => j.name === name);
      if (!job) {
        throw new MailError('NOT_FOUND', bi(`Không có việc "${name}" (có: ${JOBS.map((j) => j.name).join(', ')})`, `no job "${name}" (known: ${JOBS.map((j) => j.name).join(', ')})`));
      }
      let now: Date | null = null;
      if (opts.now !== undefined) {
        now = new Date(opts.now);
        if (!/^\d{4}-\d{2}-\d{2}/.test(opts.now) || Number.isNaN(now.getTime())) {
          throw new MailError('INVALID_INPUT', bi(`"${opts.now}" không phải thời điểm ISO-8601`, `"${opts.now}" is not an ISO-8601 time`));
        }
      }
      const clock = now ? new ManualClock(now) : undefined;
      await ctx.withApp(
        async (app) => {
          await job.run({ app, now: app.clock.now(), log: app.log, out: (line) => ctx.out(line) });
          await app.store.audit({ actor: ctx.actor().name, action: 'job.run', target: job.name, ref: null, details: { now: app.clock.now().toISOString() } });
        },
        clock ? { clock } : {},
      );
    });
};
