/**
 * `npm run bench`: runs every benchmark module under bench/ and writes bench/README.md
 * with the machine and the date next to each figure. `npm run bench -- smtp imap` runs some.
 * Each module exports `bench<Name>(): Promise<string>` returning a markdown section. Each runs
 * in a process of its own (this file again, `--one NAME OUT`): one benchmark's leftovers (a
 * 10-million-row send log's page cache, a 100,000-message heap) never count in the next one's
 * figures, memory above all.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const ALL = ['store', 'smtp', 'imap', 'pop3', 'policy'] as const;

function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  let disk = '';
  try {
    disk = execFileSync('df', ['-h', here], { encoding: 'utf8' }).trim().split('\n')[1] ?? '';
  } catch {
    disk = 'unknown';
  }
  return `${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version}, ${os.platform()} ${os.release()}; disk: ${disk}`;
}

/** In the child: run one benchmark, write its markdown section to `out`. */
async function runOne(name: string, out: string): Promise<void> {
  const file = path.join(here, `${name}.ts`);
  const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  const fnName = `bench${name[0]?.toUpperCase()}${name.slice(1)}`;
  const fn = mod[fnName];
  if (typeof fn !== 'function') {
    writeFileSync(out, `## ${name}\n\nbench/${name}.ts does not export ${fnName}().\n`);
    return;
  }
  const section = (await (fn as () => Promise<string>)()).trim();
  writeFileSync(out, section);
  console.log(section);
}

async function main(): Promise<void> {
  const one = process.argv.indexOf('--one');
  if (one >= 0) {
    await runOne(process.argv[one + 1] ?? '', process.argv[one + 2] ?? '');
    return;
  }
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const names = wanted.length ? wanted : [...ALL];
  const sections: string[] = [];
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'buudien-bench-run-'));
  for (const name of names) {
    const file = path.join(here, `${name}.ts`);
    if (!existsSync(file)) {
      sections.push(`## ${name}\n\nNo benchmark yet (bench/${name}.ts is missing).\n`);
      continue;
    }
    console.log(`== ${name}`);
    const started = Date.now();
    const out = path.join(tmp, `${name}.md`);
    const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--one', name, out], { stdio: 'inherit' });
    if (r.status === 0 && existsSync(out)) {
      sections.push(`${readFileSync(out, 'utf8').trim()}\n\n_(took ${((Date.now() - started) / 1000).toFixed(1)} s, in a process of its own)_\n`);
    } else {
      sections.push(`## ${name}\n\nFailed (exit ${String(r.status ?? r.signal)}); see the run's output.\n`);
    }
  }
  rmSync(tmp, { recursive: true, force: true });
  const out =
    `# Benchmarks\n\nRun with \`npm run bench\` (or \`npm run bench -- smtp\` for one). Figures below were measured on:\n\n` +
    `- ${machine()}\n- ${new Date().toISOString()}\n\n` +
    sections.join('\n');
  if (!wanted.length) writeFileSync(path.join(here, 'README.md'), out);
  else console.log(`(partial run: bench/README.md not rewritten)`);
}

await main();
