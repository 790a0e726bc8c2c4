/**
 * The two ways the server is shipped to run, `npm start` and the Docker image's CMD, start Node
 * with the same flags and the same allocator settings, and the flags take effect: the 1 GB
 * JavaScript heap (README, "Memory") keeps V8 from letting garbage grow to gigabytes on a big
 * host before collecting it; the malloc settings keep freed message buffers from staying in the
 * process.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** `npm start` ("VAR=value … node FLAGS bin/buudien.js serve"): its environment, then the command's words. */
function startScript(): { env: Record<string, string>; words: string[] } {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const all = (pkg.scripts.start ?? '').split(/\s+/);
  const first = all.findIndex((w) => !/^[A-Z_]+=/.test(w));
  const env = Object.fromEntries(all.slice(0, first).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]));
  return { env, words: all.slice(first) };
}

/** The MALLOC_* variables the Dockerfile's ENV instructions set. */
function dockerMallocEnv(): Record<string, string> {
  const text = readFileSync(path.join(root, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const out: Record<string, string> = {};
  for (const line of text.split('\n').filter((l) => l.startsWith('ENV '))) {
    for (const [, k, v] of line.matchAll(/\b(MALLOC_[A-Z_]+)=(\S+)/g)) out[k as string] = v as string;
  }
  return out;
}

/** The Dockerfile's last CMD (exec form), as a list of words. */
function dockerCmd(): string[] {
  const cmds = readFileSync(path.join(root, 'Dockerfile'), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('CMD '));
  const last = cmds[cmds.length - 1] ?? '';
  return JSON.parse(last.slice(4)) as string[];
}

describe('how the server is started', () => {
  it('npm start and the Docker image run `node FLAGS bin/buudien.js serve` with the same flags', () => {
    const npm = startScript().words;
    const docker = dockerCmd();
    expect(npm[0]).toBe('node');
    expect(docker[0]).toBe('node');
    expect(npm.slice(-2)).toEqual(['bin/buudien.js', 'serve']);
    expect(docker.slice(-2)).toEqual(['bin/buudien.js', 'serve']);
    expect(docker.slice(1, -2)).toEqual(npm.slice(1, -2));
    expect(npm).toContain('--max-old-space-size=1024');
  });

  it('npm start and the Docker image set the same malloc settings: two arenas, buffers from 256 KB up mapped on their own', () => {
    const npm = startScript().env;
    expect(npm).toEqual({ MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '262144' });
    expect(dockerMallocEnv()).toEqual(npm);
  });

  it('the flags are valid and set a heap limit of about 1 GB', () => {
    const flags = startScript().words.slice(1, -2);
    const limit = Number(execFileSync(process.execPath, [...flags, '-e', 'process.stdout.write(String(require("v8").getHeapStatistics().heap_size_limit))'], { encoding: 'utf8' }));
    // The old space is 1024 MiB; V8 adds the young generation (a few tens of MiB) on top.
    expect(limit).toBeGreaterThanOrEqual(1024 * 2 ** 20);
    expect(limit).toBeLessThan(1200 * 2 ** 20);
  });
});
