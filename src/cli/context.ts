/**
 * What every `buudien` command receives: output writers (injected by tests), the global options
 * (--config, --actor), the config, an opened app (store, no listeners) and printing helpers.
 * A command file is one `register(program, ctx)` function plus one line in cli/main.ts.
 */
import { bidiControlIn, dropInvisible } from '../lib/invisible.js';
import os from 'node:os';
import { Writable } from 'node:stream';
import { InvalidArgumentError, type Command } from 'commander';
import { createApp, type App } from '../app.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { Clock } from '../lib/clock.js';
import { bi } from '../lib/errors.js';
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

/** --actor's length at most. */
const MAX_ACTOR_CHARS = 64;

/**
 * A free-text option for the audit log (--ref, --reason): one line in NFC, not empty, no control
 * or invisible formatting characters (bidi overrides), at most `max` characters, and not another
 * option taken as its value ("--reason --ref" gave the reason "--ref").
 */
export function textOption(max: number, vi: string, en: string): (value: string) => string {
  return (value) => {
    const t = dropInvisible(value.normalize('NFC')).trim().replace(/\s+/g, ' ');
    if (t === '') throw new InvalidArgumentError(bi(`${vi} trống`, `${en} is empty`));
    if (t.startsWith('--')) throw new InvalidArgumentError(bi(`${vi} bắt đầu bằng "--": thiếu giá trị?`, `${en} starts with "--": is its value missing?`));
    const bidi = bidiControlIn(t);
    if (bidi) throw new InvalidArgumentError(bi(`${vi} chứa ký tự điều khiển hướng chữ ${bidi} (không nhìn thấy)`, `${en} holds the invisible text-direction control ${bidi}`));
    if (/[\p{Cc}\u2028\u2029]/u.test(t) || [...t].length > max) {
      throw new InvalidArgumentError(bi(`${vi}: tối đa ${max} ký tự, không có ký tự điều khiển`, `${en}: at most ${max} characters, no control characters`));
    }
    return t;
  };
}

/** The global --actor, checked when the command line is read (before any command acts, so every action has its audit entry). */
export const actorOption = textOption(MAX_ACTOR_CHARS, 'Người thực hiện', 'the actor');

/** The request document's number (số văn bản), written to the audit log. */
export const REF_OPTION = ['--ref <ref>', 'số văn bản đề nghị / request reference (audit)', textOption(100, 'Số văn bản', 'the reference')] as const;

/** Why an account is suspended, deleted or its second factor removed. */
export const REASON_OPTION = ['--reason <reason>', 'lý do / reason', textOption(500, 'Lý do', 'the reason')] as const;

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
      let user = io.user;
      if (!user) {
        try {
          user = os.userInfo().username;
        } catch {
          user = 'unknown';
        }
      }
      // --actor (checked by actorOption) names the person at a shared account; the audit keeps the OS user beside it.
      const v = program.opts<{ actor?: string }>().actor;
      const named = typeof v === 'string' ? v : '';
      return superActor(named === '' || named === user ? `cli:${user}` : `cli:${named} (${user})`);
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
