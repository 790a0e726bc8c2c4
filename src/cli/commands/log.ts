/** `buudien log search`: the send log (R-LOG-1), for incident investigation. */
import type { Command } from 'commander';
import type { CliContext, RegisterCommand } from '../context.js';
import { bi, MailError } from '../../lib/errors.js';
import type { SendLogQuery, SendLogRecord } from '../../store/port.js';

/** "2026-11-22", "2026-11-22T10:00", full ISO-8601 → Date; a bare date means its start (UTC). */
export function parseTime(s: string, name: string): Date {
  const v = /^\d{4}-\d{2}-\d{2}$/.test(s) ? `${s}T00:00:00Z` : s;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) {
    throw new MailError('INVALID_INPUT', bi(`--${name}: thời điểm không hợp lệ "${s}" (ISO-8601)`, `--${name}: invalid time "${s}" (expected ISO-8601)`));
  }
  return d;
}

function csvCell(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
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

export function formatSendLog(rows: SendLogRecord[], format: 'table' | 'json' | 'csv', ctx: Pick<CliContext, 'out' | 'printList'>): void {
  if (format === 'json') {
    ctx.out(JSON.stringify(rows.map((r) => ({ ...r, at: r.at.toISOString() })), null, 2));
    return;
  }
  if (format === 'csv') {
    ctx.out(COLUMNS.map(([h]) => h.toLowerCase()).join(','));
    for (const r of rows) ctx.out(COLUMNS.map(([, f]) => csvCell(f(r))).join(','));
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
    .option('--since <time>', 'từ thời điểm (ISO-8601) / from this time')
    .option('--until <time>', 'đến thời điểm (ISO-8601) / until this time')
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
      if (opts.until) q.until = parseTime(opts.until, 'until');
      await ctx.withApp(async (app) => {
        const rows = await app.store.searchSendLog(q);
        formatSendLog(rows, format, ctx);
      });
    });
};
