/**
 * What every `buudien` command receives: output writers (injected by tests), the global options
 * (--config, --actor), the config, an opened app (store, no listeners) and printing helpers.
 * A command file is one `register(program, ctx)` function plus one line in cli/main.ts.
 */
import os from 'node:os';
import { Writable } from 'node:stream';
import type { Command } from 'commander';
import { createApp, type App } from '../app.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { Clock } from '../lib/clock.js';
import { createLogger, type Logger } from '../lib/log.js';
import { superActor, type AccountService, type Actor } from '../accounts/service.js';
import { bootstrapNotice } from '../accounts/bootstrap.js';

export interface CliIo {
  /** Write text to standard output (no newline added). */
  stdout(text: string): void;
  /** Write text to standard error (no newline added). */
  stderr(text: string): void;
  /** Resolves with a signal name when `serve` should stop. Default: the first SIGTERM or SIGINT. */
  waitForStop?(): Promise<string>;
  /** The OS user recorded as the actor when --actor is absent. */
  user?: string;
}

export const processIo: CliIo = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
};

export type Column<T> = [header: string, value: (row: T) => string];

export interface CliContext {
  readonly io: CliIo;
  /** One line to stdout / stderr. */
  out(line: string): void;
  err(line: string): void;
  /** The global --config value, if given. */
  configFile(): string | undefined;
  /** Who the audit log names: --actor, else the OS user. */
  actor(): Actor;
  /** Load and validate the config (throws ConfigError). */
  config(): Readonly<Config>;
  /** A logger for the command: warnings and errors to stderr unless the config says silent. */
  logger(level?: string): Logger;
  /** Open the app (store, bootstrap; no listeners started), run fn, close. */
  withApp<T>(fn: (app: App) => Promise<T>, opts?: { clock?: Clock }): Promise<T>;
  accounts(app: App): AccountService;
  /** A table, or JSON with --json. */
  printList<T>(rows: T[], json: boolean, columns: Column<T>[], toJson?: (row: T) => unknown): void;
  /** "key: value" lines, or JSON with --json. */
  printRecord(record: Record<string, unknown>, json: boolean): void;
  /** Exit status the command asks for (0 unless set). */
  exitCode: number;
}

export type RegisterCommand = (program: Command, ctx: CliContext) => void;

function cell(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/**
 * Text for the administrator's terminal: control characters (an escape sequence planted in a
 * user name, a mailbox name, a header) and bidirectional overrides become "?". JSON output
 * escapes them itself.
 */
export function terminalSafe(s: string): string {
  return s.replace(/[\p{Cc}\u2028\u2029\u202A-\u202E\u2066-\u2069]/gu, '?');
}

export function createContext(program: Command, io: CliIo): CliContext {
  let cachedConfig: Readonly<Config> | null = null;
  const ctx: CliContext = {
    io,
    exitCode: 0,
    out: (line) => io.stdout(`${line}\n`),
    err: (line) => io.stderr(`${line}\n`),
    configFile() {
      const v = program.opts<{ config?: string }>().config;
      return typeof v === 'string' ? v : undefined;
    },
    actor() {
      const v = program.opts<{ actor?: string }>().actor;
      let name = typeof v === 'string' && v.trim() !== '' ? v.trim() : io.user;
      if (!name) {
        try {
          name = os.userInfo().username;
        } catch {
          name = 'unknown';
        }
      }
      return superActor(`cli:${name}`);
    },
    config() {
      cachedConfig ??= loadConfig(ctx.configFile());
      return cachedConfig;
    },
    logger(level) {
      const stream = new Writable({
        write(chunk: Buffer | string, _enc, cb) {
          io.stderr(String(chunk));
          cb();
        },
      });
      const configured = ctx.config().log.level;
      return createLogger({ level: level ?? (configured === 'silent' ? 'silent' : 'warn'), destination: stream });
    },
    async withApp(fn, opts = {}) {
      const app = await createApp({ config: ctx.config(), log: ctx.logger(), ...(opts.clock ? { clock: opts.clock } : {}) });
      try {
        // A first start through an admin command: the password goes to stderr so --json output stays clean.
        for (const line of bootstrapNotice(app.bootstrap)) ctx.err(line);
        return await fn(app);
      } finally {
        await app.stop();
      }
    },
    accounts(app) {
      return app.accounts;
    },
    printList(rows, json, columns, toJson) {
      if (json) {
        ctx.out(JSON.stringify(rows.map((r) => (toJson ? toJson(r) : r)), null, 2));
        return;
      }
      if (rows.length === 0) {
        ctx.out('(không có / none)');
        return;
      }
      const table = [columns.map(([h]) => h), ...rows.map((r) => columns.map(([, f]) => terminalSafe(f(r))))];
      const widths = columns.map((_, i) => Math.max(...table.map((line) => [...(line[i] ?? '')].length)));
      for (const line of table) {
        ctx.out(line.map((c, i) => (i === line.length - 1 ? c : c + ' '.repeat((widths[i] ?? 0) - [...c].length))).join('  ').trimEnd());
      }
    },
    printRecord(record, json) {
      if (json) {
        ctx.out(JSON.stringify(record, null, 2));
        return;
      }
      const width = Math.max(...Object.keys(record).map((k) => k.length));
      for (const [k, v] of Object.entries(record)) ctx.out(`${k.padEnd(width)}  ${terminalSafe(cell(v))}`);
    },
  };
  return ctx;
}

export { cell };
