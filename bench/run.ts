/**
 * `npm run bench`: runs every benchmark module under bench/ and writes bench/README.md
 * with the machine and the date next to each figure. `npm run bench -- smtp imap` runs some.
 * Each module exports `bench<Name>(): Promise<string>` returning a markdown section.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
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

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const names = wanted.length ? wanted : [...ALL];
  const sections: string[] = [];
  for (const name of names) {
    const file = path.join(here, `${name}.ts`);
    if (!existsSync(file)) {
      sections.push(`## ${name}\n\nNo benchmark yet (bench/${name}.ts is missing).\n`);
      continue;
    }
    const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    const fnName = `bench${name[0]?.toUpperCase()}${name.slice(1)}`;
    const fn = mod[fnName];
    if (typeof fn !== 'function') {
      sections.push(`## ${name}\n\nbench/${name}.ts does not export ${fnName}().\n`);
      continue;
    }
    console.log(`== ${name}`);
    const started = Date.now();
    try {
      const section = (await (fn as () => Promise<string>)()).trim();
      sections.push(`${section}\n\n_(took ${((Date.now() - started) / 1000).toFixed(1)} s)_\n`);
      console.log(section);
    } catch (err) {
      sections.push(`## ${name}\n\nFailed: ${String(err)}\n`);
      console.error(err);
    }
  }
  const out =
    `# Benchmarks\n\nRun with \`npm run bench\` (or \`npm run bench -- smtp\` for one). Figures below were measured on:\n\n` +
    `- ${machine()}\n- ${new Date().toISOString()}\n\n` +
    sections.join('\n');
  if (!wanted.length) writeFileSync(path.join(here, 'README.md'), out);
  else console.log(`(partial run: bench/README.md not rewritten)`);
}

await main();
