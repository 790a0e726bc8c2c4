/** Helpers for CLI tests: a temp config, main() in-process with captured output, and a real spawn. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, expect } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/context.js';
import { systemClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/log.js';
import type { Store } from '../../src/store/port.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** A temp folder with a config file (storage under it, every listener on 127.0.0.1 port 0). */
export function tempSetup(extraYaml = '', domains = ['nghean.gov.vn']): { dir: string; config: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'buudien-cli-'));
  const listeners = ['smtp', 'submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s', 'http']
    .map((n) => `  ${n}: { host: 127.0.0.1, port: 0 }`)
    .join('\n');
  const config = path.join(dir, 'buudien.yaml');
  writeFileSync(
    config,
    `domains: [${domains.join(', ')}]\nstorage: { dir: ${JSON.stringify(path.join(dir, 'data'))} }\nlog: { level: silent }\nsmtp: { checkAuthentication: false }\nlisteners:\n${listeners}\n${extraYaml}`,
  );
  return { dir, config };
}

/** tempSetup() for each test of the file that calls this: the config's path, its folder removed after the test. */
export function tempSetupPerTest(): (extraYaml?: string, domains?: string[]) => string {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  return (extraYaml = '', domains) => {
    const s = tempSetup(extraYaml, domains);
    dirs.push(s.dir);
    return s.config;
  };
}

/** The store of a tempSetup() config, opened for the length of `fn` (the CLI's commands open it themselves). */
export async function withStore<T>(config: string, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openSqliteStore({ dir: path.join(path.dirname(config), 'data'), log: silentLogger(), clock: systemClock, inlineBlobMaxBytes: 65536, groupCommitWindowMs: 0 });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** A run that succeeded (its stderr shown when not). */
export function ok(r: Run): Run {
  expect(r.code, r.stderr).toBe(0);
  return r;
}

/** A refused command: exit 1, nothing on stdout, one bilingual line ("Vietnamese / English") on stderr matching `pattern`. */
export function userError(r: Run, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(1);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^\S.* \/ \S/); // Vietnamese / English
  expect(lines[0]).toMatch(pattern);
}

/** main() in-process with captured output. */
export async function cli(argv: string[], extra: Partial<CliIo> = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    user: 'tester',
    ...extra,
    stdout: (t) => {
      stdout += t;
      extra.stdout?.(t);
    },
    stderr: (t) => {
      stderr += t;
      extra.stderr?.(t);
    },
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

const TSX = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const ENTRY = path.join(ROOT, 'src/main.ts');

/** Spawn the real entry (`node --import tsx src/main.ts …`). onStdout may send a signal. */
export function spawnCli(argv: string[], opts: { cwd?: string; onStdout?: (all: string, child: ReturnType<typeof spawn>) => void } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX, ENTRY, ...argv], { cwd: opts.cwd ?? ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      opts.onStdout?.(stdout, child);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr }));
  });
}
