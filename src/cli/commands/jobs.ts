/** `buudien jobs list|run NAME [--now ISO-8601 [--force]]`: run a scheduled job once. */
import { ManualClock, systemClock } from '../../lib/clock.js';
import { MailError, bi } from '../../lib/errors.js';
import { JOBS } from '../jobs.js';
import { parseTime } from './log.js';
import type { RegisterCommand } from '../context.js';

const DAY_MS = 86_400_000;

/**
 * `--now`: a calendar date or a time as `log search` reads them (parseTime: YYYY-MM-DD or
 * YYYY-MM-DDTHH:MM[:SS][Z|±HH:MM], Vietnam time without an offset, as the lifecycle counts days;
 * impossible values refused, not rolled over). More than a day after the real clock is refused
 * unless `force`: the lifecycle job would suspend (and delete) accounts and send-log-prune drop
 * the log kept by R-LOG-1 as if that day had come. Earlier dates replay a run, except for a job
 * whose periods count from its run (Job.pastNowRefused: account-lifecycle's notices).
 */
function parseNow(text: string, force: boolean): { now: Date; forced: boolean } {
  const now = parseTime(text, 'now');
  const ahead = now.getTime() > systemClock.now().getTime() + DAY_MS;
  if (ahead && !force) {
    throw new MailError(
      'INVALID_INPUT',
      bi(
        `--now ${text} muộn hơn đồng hồ thật quá 1 ngày: việc sẽ chạy như thể ngày đó đã đến (tạm khóa, xóa tài khoản; xóa nhật ký gửi thư cần lưu giữ). Nếu đúng ý, thêm --force`,
        `--now ${text} is more than a day after the real clock: the job would act as if that day had come (suspending and deleting accounts, dropping send-log rows that must be kept). Add --force if that is what you mean`,
      ),
    );
  }
  return { now, forced: ahead };
}

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
    .option('--now <iso>', 'coi "hôm nay" là thời điểm này (YYYY-MM-DD hoặc ISO-8601; không quá 1 ngày sau đồng hồ thật) / fix "now" for this run (YYYY-MM-DD or ISO-8601; at most a day after the real clock)')
    .option('--force', 'cho phép --now muộn hơn đồng hồ thật quá 1 ngày / allow a --now more than a day after the real clock')
    .action(async (name: string, opts: { now?: string; force?: boolean }) => {
      const job = JOBS.find((j) => j.name === name);
      if (!job) {
        throw new MailError('NOT_FOUND', bi(`Không có việc "${name}" (có: ${JOBS.map((j) => j.name).join(', ')})`, `no job "${name}" (known: ${JOBS.map((j) => j.name).join(', ')})`));
      }
      const given = opts.now === undefined ? null : parseNow(opts.now, opts.force ?? false);
      // A day's slack, as for later dates: "--now 2026-11-24" is today's midnight in Vietnam.
      if (given && job.pastNowRefused && given.now.getTime() < systemClock.now().getTime() - DAY_MS) {
        throw new MailError(
          'INVALID_INPUT',
          bi(
            `--now ${opts.now ?? ''} sớm hơn đồng hồ thật: việc ${job.name} tính thời hạn thông báo từ ngày chạy, chạy "lùi ngày" sẽ rút ngắn thời hạn đó. Hãy chạy không có --now (một lần chạy hôm nay làm mọi việc lần chạy bị lỡ lẽ ra đã làm)`,
            `--now ${opts.now ?? ''} is before the real clock: ${job.name} counts its notice periods from the day it runs, and a run "in the past" would shorten them. Run it without --now (a run today does everything the missed run would have)`,
          ),
        );
      }
      const forced = given?.forced ?? false;
      const clock = given ? new ManualClock(given.now) : undefined;
      await ctx.withApp(
        async (app) => {
          await job.run({ app, now: app.clock.now(), log: app.log, out: (line) => ctx.out(line) });
          // With --now the app's clock (so the audit's own time) is that day's: the real time is kept beside it.
          const real = given ? { ranAt: systemClock.now().toISOString() } : {};
          await app.store.audit({ actor: ctx.actor().name, action: 'job.run', target: job.name, ref: null, details: { now: app.clock.now().toISOString(), ...real, ...(forced ? { forced: true } : {}) } });
        },
        clock ? { clock } : {},
      );
    });
};
