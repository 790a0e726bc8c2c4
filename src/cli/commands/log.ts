/** `buudien log search`: the send log (R-LOG-1), for incident investigation. */
import type { Command } from 'commander';
import type { CliContext, RegisterCommand } from '../context.js';
import { csvDocument } from '../../lib/csv.js';
import { bi, MailError } from '../../lib/errors.js';
import type { SendLogQuery, SendLogRecord } from '../../store/port.js';

/** Vietnam's offset (UTC+7 all year): times given without an offset are Vietnam time. */
const VIETNAM_OFFSET = '+07:00';
const TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?)?$/;

/**
 * A time for --since/--until: "2026-11-22" (a day), "2026-11-22T10:00" or "2026-11-22 10:00:30"
 * (Vietnam time, UTC+7, unless an offset or Z follows). Nothing else: no "May 5", no "1", no
 * 30 February rolled over into March. A bare date means the start of that day in Vietnam, or
 * with endOfDay its end (--until: the whole day is included). `jobs run --now` reads it too.
 */
export function parseTime(s: string, name: string, opts: { endOfDay?: boolean } = {}): Date {
  const bad = (): MailError =>
    new MailError(
      'INVALID_INPUT',
      bi(
        `--${name}: thời điểm không hợp lệ "${s}" (dạng 2026-11-22 hoặc 2026-11-22T10:00, giờ Việt Nam nếu không ghi múi giờ)`,
        `--${name}: invalid time "${s}" (expected 2026-11-22 or 2026-11-22T10:00, Vietnam time unless an offset is given)`,
      ),
    );
  const m = TIME.exec(s.trim());
  if (!m) throw bad();
  const [, y, mo, d, h, mi, sec, zone] = m;
  const day = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (day.getUTCFullYear() !== Number(y) || day.getUTCMonth() !== Number(mo) - 1 || day.getUTCDate() !== Number(d)) throw bad();
  if (h === undefined) {
    const start = new Date(`${y}-${mo}-${d}T00:00:00${VIETNAM_OFFSET}`);
    return opts.endOfDay ? new Date(start.getTime() + 24 * 3600_000) : start;
  }
  if (Number(h) > 23 || Number(mi) > 59 || Number(sec ?? 0) > 59) throw bad();
  // UTC offsets run from -12:00 to +14:00.
  if (zone !== undefined && zone !== 'Z' && (Number(zone.slice(1, 3)) > 14 || Number(zone.slice(4, 6)) > 59)) throw bad();
  const t = new Date(`${s.trim().replace(' ', 'T').replace(/(Z|[+-]\d{2}:\d{2})$/, '')}${zone ?? VIETNAM_OFFSET}`);
  if (Number.isNaN(t.getTime())) throw bad();
  return t;
}

const COLUMNS: Array<[string, (r: SendLogRecord) => string]> = [
  ['TIME', (r) => r.at.toISOString()],
  ['DIRECTION', (r) => r.direction],
  ['SENDER', (r) => r.sender || '<>'],
  ['RECIPIENT', (r) => r.recipient],
  ['IP', (r) => r.clientIp ?? '-'],
  ['ACCOUNT', (r) => r.account ?? '-'],
  ['MESSAGE-ID', (r) => r.messageId ?? '-'],
  ['SIZE', (r) => (r.size === null ? '-' : String(r.size))],
  ['OUTCOME', (r) => r.outcome],
  ['CODE', (r) => (r.code === null ? '-' : String(r.code))],
  ['TEXT', (r) => r.text ?? ''],
  ['FINDINGS', (r) => r.findings.join('; ')],
];

export function formatSendLog(rows: SendLogRecord[], format: 'table' | 'json' | 'csv', ctx: Pick<CliContext, 'out' | 'io' | 'printList'>): void {
  if (format === 'json') {
    ctx.out(JSON.stringify(rows.map((r) => ({ ...r, at: r.at.toISOString() })), null, 2));
    return;
  }
  if (format === 'csv') {
    // As spreadsheets read it (lib/csv.ts): a byte-order mark for the Vietnamese texts, CRLF line ends.
    // A missing value is an empty cell, not the table's "-" (which the formula guard would turn into "'-").
    ctx.io.stdout(csvDocument([COLUMNS.map(([h]) => h.toLowerCase()), ...rows.map((r) => COLUMNS.map(([, f]) => (f(r) === '-' ? '' : f(r))))]));
    return;
  }
  ctx.printList(rows, false, COLUMNS);
}

interface SearchOpts {
  from?: string;
  to?: string;
  ip?: string;
  since?: string;
  until?: string;
  limit?: string;
  format?: string;
  json?: boolean;
}

export const register: RegisterCommand = (program: Command, ctx) => {
  const log = program.command('log').description('nhật ký gửi thư / send log (R-LOG-1)');
  log
    .command('search')
    .description('tìm trong nhật ký gửi thư / search the send log')
    .option('--from <address>', 'người gửi / sender')
    .option('--to <address>', 'người nhận / recipient')
    .option('--ip <ip>', 'địa chỉ IP người gửi / client IP')
    .option('--since <time>', 'từ thời điểm: 2026-11-22 hoặc 2026-11-22T10:00 (giờ Việt Nam) / from this time (Vietnam time unless an offset is given)')
    .option('--until <time>', 'đến thời điểm (một ngày: hết ngày đó) / until this time (a bare date: to the end of that day)')
    .option('--limit <n>', 'số dòng tối đa / at most this many rows', '1000')
    .option('--format <format>', 'table | json | csv', 'table')
    .option('--json', 'JSON (như --format json / same as --format json)')
    .action(async (opts: SearchOpts) => {
      const format = opts.json ? 'json' : (opts.format ?? 'table');
      if (format !== 'table' && format !== 'json' && format !== 'csv') {
        throw new MailError('INVALID_INPUT', bi(`--format phải là table, json hoặc csv, không phải "${format}"`, `--format must be table, json or csv, got "${format}"`));
      }
      const limit = Number(opts.limit ?? '1000');
      if (!Number.isInteger(limit) || limit <= 0) throw new MailError('INVALID_INPUT', bi('--limit phải là số nguyên dương', '--limit must be a positive integer'));
      const q: SendLogQuery = { limit };
      if (opts.from) q.sender = opts.from.toLowerCase();
      if (opts.to) q.recipient = opts.to.toLowerCase();
      if (opts.ip) q.clientIp = opts.ip;
      if (opts.since) q.since = parseTime(opts.since, 'since');
      if (opts.until) q.until = parseTime(opts.until, 'until', { endOfDay: true });
      await ctx.withApp(async (app) => {
        const rows = await app.store.searchSendLog(q);
        formatSendLog(rows, format, ctx);
      });
    });
};
