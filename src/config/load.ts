/**
 * YAML → merge `extends:` chain → validate → freeze. Every problem is reported as
 * `path: expected …, got …`; callers refuse to start on any.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { bi } from '../lib/errors.js';
import { configSchema, type Config } from './schema.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

/** The config file to use: --config, else BUUDIEN_CONFIG, else config/buudien.yaml. */
export function configPath(explicit?: string): string {
  return path.resolve(explicit ?? process.env.BUUDIEN_CONFIG ?? 'config/buudien.yaml');
}

type Plain = Record<string, unknown>;

function isPlain(v: unknown): v is Plain {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Keys that would reach an object's prototype: refused in every mapping, as unknown settings. */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Key-by-key override: objects merge, everything else (arrays included) is replaced.
 * `__proto__`, `constructor` and `prototype` in `over` are refused as unknown settings (added to
 * `opts.problems`, else thrown as a ConfigError) and left out; the result holds own data
 * properties only, so no key sets its prototype.
 */
export function mergeConfig(base: Plain, over: Plain, opts: { problems?: string[]; file?: string; at?: readonly string[] } = {}): Plain {
  const at = opts.at ?? [];
  const out: Plain = { ...base };
  const refused: string[] = [];
  for (const [k, v] of Object.entries(over)) {
    if (FORBIDDEN_KEYS.has(k)) {
      refused.push(`${opts.file ? `${opts.file}: ` : ''}${[...at, k].join('.')}: expected no such key (unknown setting), got ${describe(v)}`);
      continue;
    }
    const b = Object.hasOwn(out, k) ? out[k] : undefined;
    // A mapping is copied key by key even where it replaces (no mapping under it), so its keys are checked too.
    const value = isPlain(v) ? mergeConfig(isPlain(b) ? b : {}, v, { ...opts, problems: opts.problems ?? refused, at: [...at, k] }) : v;
    Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true });
  }
  if (refused.length > 0) {
    if (opts.problems === undefined) throw new ConfigError(refused);
    opts.problems.push(...refused);
  }
  return out;
}

/**
 * Keys that name a file or folder. A relative one is read from the folder of the config file
 * that sets it (as `extends:` is), not from the current directory; an object given to
 * configFrom/parseConfig is taken as it is.
 */
const PATH_KEYS: ReadonlyArray<readonly string[]> = [
  ['storage', 'dir'],
  ['backup', 'dir'],
  ['tls', 'certFile'],
  ['tls', 'keyFile'],
  ['policy', 'clamd', 'socket'],
];

interface ResolvedPath {
  key: string;
  /** As written in the file. */
  written: string;
  file: string;
  abs: string;
}

function resolvePaths(raw: Plain, file: string, resolved: ResolvedPath[]): void {
  for (const keys of PATH_KEYS) {
    let parent: unknown = raw;
    for (const k of keys.slice(0, -1)) parent = isPlain(parent) && Object.hasOwn(parent, k) ? parent[k] : undefined;
    const last = keys[keys.length - 1] ?? '';
    if (!isPlain(parent) || !Object.hasOwn(parent, last)) continue;
    const v = parent[last];
    // Not a string, "" or absolute: left for the schema to judge, or as it is.
    if (typeof v !== 'string' || v === '' || path.isAbsolute(v)) continue;
    const abs = path.resolve(path.dirname(file), v);
    parent[last] = abs;
    resolved.push({ key: keys.join('.'), written: v, file, abs });
  }
}

/** The 1-based line of the first bytes that are not UTF-8. */
function firstBadLine(bytes: Uint8Array): number {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let line = 1;
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i < bytes.length && bytes[i] !== 0x0a) continue;
    try {
      decoder.decode(bytes.subarray(start, i));
    } catch {
      return line;
    }
    line++;
    start = i + 1;
  }
  return line - 1;
}

function readYaml(file: string, problems: string[]): Plain | null {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    problems.push(`${file}: expected a readable file, got ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    return null;
  }
  let text: string;
  try {
    // A leading byte order mark is dropped; any byte sequence that is not UTF-8 is refused (not read as U+FFFD).
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const line = firstBadLine(bytes);
    problems.push(
      `${file}:${line}: ${bi(
        'cần tệp mã hóa UTF-8, không phải byte không thuộc UTF-8 (hãy lưu lại tệp dưới dạng UTF-8)',
        'expected UTF-8, got bytes that are not UTF-8 (save the file as UTF-8)',
      )}`,
    );
    return null;
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    for (const err of doc.errors) {
      const pos = err.linePos?.[0];
      problems.push(`${file}${pos ? `:${pos.line}:${pos.col}` : ''}: expected valid YAML, got ${err.message.split('\n')[0]}`);
    }
    return null;
  }
  let value: unknown;
  try {
    // maxAliasCount: a "billion laughs" file (aliases of aliases) is refused instead of expanded.
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {};
  } catch (e) {
    const aliases = e instanceof ReferenceError && /alias/i.test(e.message);
    const why = e instanceof Error ? e.message : String(e);
    problems.push(
      `${file}: ${
        aliases
          ? bi(
              `cần YAML hợp lệ, không phải YAML dùng bí danh (*…) quá nhiều lần (tối đa ${MAX_ALIAS_COUNT})`,
              `expected valid YAML, got aliases (*…) used too many times (at most ${MAX_ALIAS_COUNT})`,
            )
          : bi(`cần YAML hợp lệ, không phải: ${why}`, `expected valid YAML, got ${why}`)
      }`,
    );
    return null;
  }
  if (!isPlain(value)) {
    problems.push(`${file}: expected a mapping at the top level, got ${describe(value)}`);
    return null;
  }
  return value;
}

/** How many alias expansions a config file may make (yaml's maxAliasCount). */
const MAX_ALIAS_COUNT = 100;

/** Read a file and the chain of files it extends (paths relative to the file that names them). */
function readChain(file: string, problems: string[], resolved: ResolvedPath[], seen: string[] = []): Plain | null {
  const abs = path.resolve(file);
  if (seen.includes(abs)) {
    problems.push(`extends: expected no cycle, got ${[...seen, abs].join(' → ')}`);
    return null;
  }
  const raw = readYaml(abs, problems);
  if (raw === null) return null;
  resolvePaths(raw, abs, resolved);
  const ext = raw.extends;
  if (ext === undefined) return raw;
  if (typeof ext !== 'string') {
    problems.push(`extends: expected a file path, got ${describe(ext)}`);
    return null;
  }
  const base = readChain(path.resolve(path.dirname(abs), ext), problems, resolved, [...seen, abs]);
  if (base === null) return null;
  const merged = mergeConfig(base, raw, { problems, file: abs });
  merged.extends = ext;
  return merged;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return `a list (${JSON.stringify(v).slice(0, 60)})`;
  if (typeof v === 'object') return 'a mapping';
  return JSON.stringify(v);
}

function valueAt(root: unknown, p: readonly PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const k of p) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return cur;
}

function formatIssue(issue: z.core.$ZodIssue, raw: unknown): string[] {
  const where = issue.path.length ? issue.path.map(String).join('.') : '(top level)';
  const got = describe(valueAt(raw, issue.path));
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((k) => `${where === '(top level)' ? k : `${where}.${k}`}: expected no such key (unknown setting), got ${describe(valueAt(raw, [...issue.path, k]))}`);
    case 'invalid_type':
      return [`${where}: expected ${issue.expected}, got ${got}`];
    case 'invalid_value':
      return [`${where}: expected one of ${issue.values.map((v) => JSON.stringify(v)).join(' | ')}, got ${got}`];
    case 'too_small':
      // positive() is an exclusive minimum: "> 0" (never "≥ 0, got 0").
      return [`${where}: expected ${issue.origin === 'array' ? 'at least ' + String(issue.minimum) + ' item(s)' : issue.message.startsWith('expected') ? issue.message.replace(/^expected /, '') : (issue.inclusive === false ? '> ' : '≥ ') + String(issue.minimum)}, got ${got}`];
    case 'too_big':
      return [`${where}: expected ${issue.inclusive === false ? '<' : '≤'} ${String(issue.maximum)}, got ${got}`];
    default: {
      // A message that already names the value (a bilingual one: "vi …, không phải X / expected …, got X") stands as written.
      if (issue.message.includes(', got ')) return [`${where}: ${issue.message}`];
      const msg = issue.message.startsWith('expected') ? issue.message : `expected ${issue.message}`;
      return [msg.includes(', got ') ? `${where}: ${msg}` : `${where}: ${msg}, got ${got}`];
    }
  }
}

/** Validate an already-merged plain object. Throws ConfigError listing every problem. */
export function parseConfig(raw: unknown): Readonly<Config> {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(result.error.issues.flatMap((i) => formatIssue(i, raw)));
  }
  return deepFreeze(result.data);
}

/** Load, merge and validate a config file. Throws ConfigError listing every problem. */
export function loadConfig(file?: string): Readonly<Config> {
  const problems: string[] = [];
  const resolved: ResolvedPath[] = [];
  const raw = readChain(configPath(file), problems, resolved);
  if (raw === null) throw new ConfigError(problems);
  if (problems.length > 0) {
    // Refused keys first, then whatever else the schema finds: every problem at once.
    let more: string[] = [];
    try {
      parseConfig(raw);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      more = e.problems;
    }
    throw new ConfigError([...problems, ...more]);
  }
  const config = parseConfig(raw);
  const moved = movedStore(config, resolved);
  if (moved) throw new ConfigError([moved]);
  return config;
}

/**
 * A relative storage.dir used to be read from the current directory. When it names no store
 * where it now points (beside the config file) but does where it used to (the current
 * directory), say so instead of silently starting a new, empty store there.
 */
function movedStore(config: Readonly<Config>, resolved: readonly ResolvedPath[]): string | null {
  const r = resolved.find((x) => x.key === 'storage.dir' && x.abs === config.storage.dir);
  if (!r) return null;
  const before = path.resolve(r.written);
  if (before === r.abs || existsSync(path.join(r.abs, STORE_FILE)) || !existsSync(path.join(before, STORE_FILE))) return null;
  const got = JSON.stringify(r.written);
  return `${r.file}: storage.dir: ${bi(
    `cần đường dẫn tới kho thư đang dùng, không phải ${got} (đường dẫn tương đối được tính từ thư mục của tệp cấu hình: ${r.abs} chưa có kho thư, kho thư đang có ở ${before}; hãy ghi đường dẫn tuyệt đối)`,
    `expected the path of the store in use, got ${got} (a relative path is read from the config file's folder: ${r.abs} has no store, the existing one is at ${before}; write the absolute path)`,
  )}`;
}

/** The database file of the embedded store (store/sqlite): its presence marks a store folder. */
const STORE_FILE = 'buudien.db';

/** Build a config from overrides on top of the defaults (tests, tools). */
export function configFrom(overrides: Record<string, unknown> = {}): Readonly<Config> {
  return parseConfig(overrides);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as object)) deepFreeze(v);
  }
  return o;
}
