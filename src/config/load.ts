/**
 * YAML → merge `extends:` chain → validate → freeze. Every problem is reported as
 * `path: expected …, got …`; callers refuse to start on any.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
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

/** Key-by-key override: objects merge, everything else (arrays included) is replaced. */
export function mergeConfig(base: Plain, over: Plain): Plain {
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isPlain(b) && isPlain(v) ? mergeConfig(b, v) : v;
  }
  return out;
}

function readYaml(file: string, problems: string[]): Plain | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    problems.push(`${file}: expected a readable file, got ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
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
  const value: unknown = doc.toJS() ?? {};
  if (!isPlain(value)) {
    problems.push(`${file}: expected a mapping at the top level, got ${describe(value)}`);
    return null;
  }
  return value;
}

/** Read a file and the chain of files it extends (paths relative to the file that names them). */
function readChain(file: string, problems: string[], seen: string[] = []): Plain | null {
  const abs = path.resolve(file);
  if (seen.includes(abs)) {
    problems.push(`extends: expected no cycle, got ${[...seen, abs].join(' → ')}`);
    return null;
  }
  const raw = readYaml(abs, problems);
  if (raw === null) return null;
  const ext = raw.extends;
  if (ext === undefined) return raw;
  if (typeof ext !== 'string') {
    problems.push(`extends: expected a file path, got ${describe(ext)}`);
    return null;
  }
  const base = readChain(path.resolve(path.dirname(abs), ext), problems, [...seen, abs]);
  if (base === null) return null;
  const merged = mergeConfig(base, raw);
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
  const raw = readChain(configPath(file), problems);
  if (raw === null) throw new ConfigError(problems);
  return parseConfig(raw);
}

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
