/** `buudien jobs list|run NAME [--now ISO-8601 [--force]]`: run a scheduled job once. */
import { ManualClock, systemClock } from '../../lib/clock.js';
import { MailError, bi } from '../../lib/errors.js';
import { JOBS } from '../jobs.js';
import type { RegisterCommand } from '../context.js';

const DAY_MS = 86_400_000;

const NOW_FORMAT =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?(Z|[+-](\d{2}):(\d{2}))?)?$/;

/**
 * `--now`: a calendar date (YYYY-MM-DD, read as 00:00 UTC as before) or an ISO-8601 date-time
 * (YYYY-MM-DDTHH:MM[:SS[.sss]][Z|±HH:MM], local time without an offset). Impossible values
 * (2026-02-30, 25:00, +15:00) are refused, not rolled over as Date would. More than a day after
 * the real clock is refused unless `force`: the lifecycle job would suspend (and delete) accounts
 * and send-log-prune drop the log kept by R-LOG-1 as if that day had come. Earlier dates are fine
 * (to replay a run).
 */
function parseNow(text: string, force: boolean): { now: Date; forced: boolean } {
  const bad = (): MailError =>
    new MailError(
      'INVALID_INPUT',
      bi(
        `"${text}" không phải ngày (YYYY-MM-DD) hay thời điểm ISO-8601 (YYYY-MM-DDTHH:MM[:SS][Z|±HH:MM]) có thật`,
        `"${text}" is not a real date (YYYY-MM-DD) or ISO-8601 time (YYYY-MM-DDTHH:MM[:SS][Z|±HH:MM])`,
      ),
    );
  const m = NOW_FORMAT.exec(text);
  if (!m) throw bad();
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const daysInMonth = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  if (daysInMonth === undefined || day < 1 || day > daysInMonth) throw bad();
  if (m[4] !== undefined && (Number(m[4]) > 23 || Number(m[5]) > 59 || (m[6] !== undefined && Number(m[6]) > 59))) throw bad();
  if (m[8] !== undefined && (Number(m[8]) > 14 || Number(m[9]) > 59)) throw bad();
  const now = new Date(text);
  if (Number.isNaN(now.getTime())) throw bad();
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
      const forced = given?.forced ?? false;
      const clock = given ? new ManualClock(given.now) : undefined;
      await ctx.withApp(
        async (app) => {
          await job.run({ app, now: app.clock.now(), log: app.log, out: (line) => ctx.out(line) });
          await app.store.audit({ actor: ctx.actor().name, action: 'job.run', target: job.name, ref: null, details: { now: app.clock.now().toISOString(), ...(forced ? { forced: true } : {}) } });
        },
        clock ? { clock } : {},
      );
    });
};
