/**
 * SMTP benchmark: messages accepted AND stored (250 after the durable commit) per second over
 * real sockets against the real app (createApp, MX listener on loopback, SPF/DKIM/DMARC off
 * because there is no DNS), at 1, 10 and 50 connections for 4 KB, 100 KB and 2 MB messages,
 * with the server's peak RSS. The server is the compiled build in a plain Node process of its
 * own (SERVER_RUNNER) and the client is this module run again in a child process (`--client`),
 * so the server has its event loop to itself and the RSS is the server's alone.
 * Targets: 4 KB at 10 connections ≥ 2,000 msg/s; 2 MB at 10 connections ≥ 150 MB/s;
 * memory < 300 MB at 50 connections. (The send-log search over 10 million rows is in bench/store.ts.)
 * Run alone: `node --import tsx bench/smtp.ts`.
 */
import { execFile, execFileSync, fork } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createApp, type App } from '../src/app.js';
import { configFrom } from '../src/config/load.js';
import { silentLogger } from '../src/lib/log.js';

/** Message bodies: all plain text (the worst case: every byte is text to index) or a short note with a PDF attached. */
export type BodyKind = 'text' | 'pdf';

function message(i: number, size: number, kind: BodyKind = 'text'): Buffer {
  if (kind === 'pdf') return withPdf(i, size);
  const head =
    `From: <sender${i % 50}@other.example.com>\r\nTo: <bench@example.gov.vn>\r\nSubject: Cong van so ${i}\r\n` +
    `Message-ID: <bench-${i}-${size}@other.example.com>\r\nDate: Sun, 22 Nov 2026 09:00:00 +0700\r\nMIME-Version: 1.0\r\n` +
    'Content-Type: text/plain; charset=utf-8\r\n\r\n';
  const line = `Dong ${i}: kinh gui uy ban nhan dan tinh bao cao tinh hinh thuc hien nhiem vu quy IV nam 2026.\r\n`;
  const parts = [head];
  let n = head.length;
  while (n < size) {
    parts.push(line);
    n += line.length;
  }
  return Buffer.from(parts.join(''));
}

/** multipart/mixed: a few lines of text and a base64 PDF making up the rest of `size`. */
function withPdf(i: number, size: number): Buffer {
  const b = `b${i}`;
  const head =
    `From: <sender${i % 50}@other.example.com>\r\nTo: <bench@example.gov.vn>\r\nSubject: Cong van so ${i} (kem tep)\r\n` +
    `Message-ID: <bench-pdf-${i}-${size}@other.example.com>\r\nDate: Sun, 22 Nov 2026 09:00:00 +0700\r\nMIME-Version: 1.0\r\n` +
    `Content-Type: multipart/mixed; boundary="${b}"\r\n\r\n--${b}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n` +
    `Kinh gui cac don vi, gui kem cong van so ${i}.\r\n--${b}\r\nContent-Type: application/pdf; name="cv${i}.pdf"\r\n` +
    `Content-Disposition: attachment; filename="cv${i}.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n`;
  const tail = `\r\n--${b}--\r\n`;
  const raw = Math.floor(((size - head.length - tail.length) * 57) / 78);
  const pdf = Buffer.alloc(Math.max(0, raw));
  pdf.write(`%PDF-1.7\n% cong van ${i}\n`);
  for (let k = 32; k < pdf.length; k++) pdf[k] = (k * 2654435761 + i) & 0xff;
  const lines = pdf.toString('base64').match(/.{1,76}/g) ?? [];
  return Buffer.from(head + lines.join('\r\n') + tail);
}

const DOT = Buffer.from('.\r\n');

/** A pipelining SMTP client: reads replies line by line. */
class Client {
  private buf = '';
  private waiter: (() => void) | null = null;
  private constructor(private readonly s: Socket) {
    s.setEncoding('latin1');
    s.setNoDelay(true);
    s.on('data', (d: string) => {
      if (process.env.BENCH_DEBUG) process.stderr.write(`${Date.now() % 100000} S: ${d.slice(0, 20)}\n`);
      this.buf += d;
      const w = this.waiter;
      this.waiter = null;
      w?.();
    });
  }
  static open(port: number): Promise<Client> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(new Client(s)));
      s.once('error', reject);
    });
  }
  async reply(): Promise<number> {
    for (;;) {
      const m = /^(\d{3}) [^\r\n]*\r\n/m.exec(this.buf);
      if (m) {
        this.buf = this.buf.slice((m.index ?? 0) + m[0].length);
        return Number(m[1]);
      }
      await new Promise<void>((r) => (this.waiter = r));
    }
  }
  write(b: string | Buffer): void {
    this.s.write(b);
  }
  async send(data: Buffer): Promise<void> {
    this.write('MAIL FROM:<sender@other.example.com>\r\nRCPT TO:<bench@example.gov.vn>\r\nDATA\r\n');
    const codes = [await this.reply(), await this.reply(), await this.reply()];
    if (codes[0] !== 250 || codes[1] !== 250 || codes[2] !== 354) throw new Error(`unexpected replies ${codes.join(',')}`);
    this.write(data);
    this.write(DOT);
    const done = await this.reply();
    if (done !== 250) throw new Error(`DATA refused: ${done}`);
  }
  close(): void {
    this.s.end('QUIT\r\n');
  }
}

/** Send `total` messages of `size` bytes over `connections` pipelined SMTP connections; exported for bench/policy.ts. */
export async function run(port: number, connections: number, size: number, total: number, kind: BodyKind = 'text'): Promise<{ seconds: number; perSecond: number; mbPerSecond: number; peakRssMb: number }> {
  const clients = await Promise.all(Array.from({ length: connections }, () => Client.open(port)));
  for (const c of clients) {
    await c.reply();
    c.write('EHLO bench.example.com\r\n');
    await c.reply();
  }
  // Few distinct bodies for big sizes: the client shares the process, keep its memory small.
  const bodies = Array.from({ length: Math.min(total, size > 1024 * 1024 ? 2 : 64) }, (_, i) => message(i, size, kind));
  let next = 0;
  let peak = process.memoryUsage.rss();
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  const t0 = process.hrtime.bigint();
  await Promise.all(
    clients.map(async (c) => {
      for (;;) {
        const i = next++;
        if (i >= total) break;
        await c.send(bodies[i % bodies.length] as Buffer);
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage.rss());
  for (const c of clients) c.close();
  return { seconds, perSecond: total / seconds, mbPerSecond: (total * size) / 1024 / 1024 / seconds, peakRssMb: peak / 1024 / 1024 };
}

export async function benchSmtp(): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'buudien-bench-smtp-'));
  const out: string[] = ['## SMTP (MX inbound: accepted and durably stored)', ''];
  try {
    await smtpPart(dir, out);
    out.push(`Load average at the end: ${os.loadavg().map((l) => l.toFixed(1)).join(' / ')} on ${os.cpus().length} cores.`, '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out.join('\n');
}

/**
 * The same run with the client in a child process (this module again, `--client`): the server
 * gets the event loop to itself, as it would in production.
 */
export async function runInChild(port: number, connections: number, size: number, total: number, kind: BodyKind = 'text'): Promise<{ perSecond: number; mbPerSecond: number }> {
  const out = await new Promise<string>((resolve, reject) => {
    const args = [...process.execArgv, fileURLToPath(import.meta.url), '--client', String(port), String(connections), String(size), String(total), kind];
    execFile(process.execPath, args, { timeout: 600_000, maxBuffer: 1024 * 1024 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
  });
  const r = JSON.parse(out) as { perSecond: number; mbPerSecond: number };
  return { perSecond: r.perSecond, mbPerSecond: r.mbPerSecond };
}

// Text bodies are the worst case (all of it goes to the full-text index); the "PDF" rows are
// the usual shape of a big message: a short note and a base64 attachment.
const PLAN: ReadonlyArray<[string, number, number[], BodyKind]> = [
  ['4 KB', 4 * 1024, [300, 2000, 2000], 'text'],
  ['100 KB', 100 * 1024, [100, 300, 300], 'text'],
  ['2 MB', 2 * 1024 * 1024, [10, 40, 60], 'text'],
  ['2 MB (PDF attached)', 2 * 1024 * 1024, [10, 60, 100], 'pdf'],
];

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Compile src/ into dist/ (tsconfig.build.json), as `npm run build` does. */
function buildDist(): void {
  execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
}

/**
 * The config of the real app with only the MX listener (and HTTP) on a free port, SPF/DKIM/DMARC
 * off (no DNS here), logging off. `config` adds keys.
 */
function mxConfig(storageDir: string, config: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    domains: ['example.gov.vn'],
    organization: { hostname: 'mail.example.gov.vn' },
    storage: { dir: storageDir },
    listeners: Object.fromEntries(['smtp', 'submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s', 'http'].map((n) => [n, { host: '127.0.0.1', port: 0, enabled: n === 'smtp' || n === 'http' }])),
    smtp: { checkAuthentication: false, maxConnectionsPerIp: 1000 },
    security: { maxConnectionsPerIp: 1000 },
    log: { level: 'silent' },
    ...config,
  };
}

/** The one mailbox the clients send to. */
const BENCH_ACCOUNT = {
  account: { address: 'bench@example.gov.vn', kind: 'unit', fullName: 'Bench', unitId: null, passwordHash: 'x', mustChangePassword: false, quotaBytes: 2 ** 50 },
  audit: { actor: 'bench', action: 'account.create', target: 'bench@example.gov.vn' },
} as const;

/** The MX app (mxConfig) in this process, from src/, with the bench mailbox. */
export async function startMxApp(storageDir: string, config: Record<string, unknown> = {}): Promise<{ app: App; port: number }> {
  const app = await createApp({ config: configFrom(mxConfig(storageDir, config)), log: silentLogger() });
  await app.start();
  try {
    await app.store.createAccount(BENCH_ACCOUNT.account, BENCH_ACCOUNT.audit);
  } catch (e) {
    await app.stop();
    throw e;
  }
  return { app, port: app.listeners.get('smtp')?.port ?? 0 };
}

/**
 * The server process of the size classes: plain Node running the compiled build (dist/) with
 * the environment and flags of `npm start` and the Docker image (startCommand), so its RSS has no
 * TypeScript loader in it. BENCH_SERVER_FLAGS adds Node flags (say `--cpu-prof --cpu-prof-dir=DIR`
 * to profile it). It samples its own RSS every 20 ms and answers {peak: true} (the peak since the
 * last question) over IPC.
 */
const SERVER_RUNNER = `
const [dist, configJson, accountJson] = process.argv.slice(2);
const load = (m) => import(new URL(m, 'file://' + dist + '/').href);
const [{ createApp }, { configFrom }, { silentLogger }] = await Promise.all([load('app.js'), load('config/load.js'), load('lib/log.js')]);
const app = await createApp({ config: configFrom(JSON.parse(configJson)), log: silentLogger() });
await app.start();
const { account, audit } = JSON.parse(accountJson);
await app.store.createAccount(account, audit);
let peak = 0;
setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
process.on('message', async (m) => {
  if (m.peak) { process.send({ peak: Math.max(peak, process.memoryUsage.rss()) }); peak = 0; }
  if (m.stop) { await app.stop(); process.exit(0); }
});
process.send({ port: app.listeners.get('smtp').port });
`;

/** `npm start` (package.json: "VAR=value … node FLAGS bin/buudien.js serve", which the Dockerfile's ENV and CMD repeat): its environment and Node flags. */
function startCommand(): { text: string; env: Record<string, string>; flags: string[] } {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const words = pkg.scripts.start.split(/\s+/);
  const node = words.indexOf('node');
  const env = Object.fromEntries(words.slice(0, node).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]));
  return { text: words.slice(0, words.indexOf('bin/buudien.js')).join(' '), env, flags: words.slice(node + 1, words.indexOf('bin/buudien.js')) };
}

interface ServerProcess {
  port: number;
  /** Peak RSS in MB since the previous call. */
  peakRssMb(): Promise<number>;
  /** CPU seconds (user + system) the server has used so far: its main thread and all its threads; null off Linux. */
  cpuSeconds(): { main: number; all: number } | null;
  stop(): Promise<void>;
}

/** utime + stime of a /proc stat file, in seconds (fields 14 and 15; USER_HZ is 100 on Linux). */
function statCpuSeconds(file: string): number {
  const fields = readFileSync(file, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function startServerProcess(dir: string): Promise<ServerProcess> {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'server-runner.mjs');
  writeFileSync(file, SERVER_RUNNER);
  const start = startCommand();
  const child = fork(file, [path.join(root, 'dist'), JSON.stringify(mxConfig(path.join(dir, 'data'))), JSON.stringify(BENCH_ACCOUNT)], { execArgv: [...start.flags, ...(process.env.BENCH_SERVER_FLAGS?.split(' ').filter(Boolean) ?? [])], env: { ...process.env, ...start.env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = <T>(key: string): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const onMessage = (m: Record<string, T>) => {
        if (!(key in m)) return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(m[key] as T);
      };
      const onExit = (code: number | null) => reject(new Error(`bench server exited (${code})`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  const port = await next<number>('port');
  return {
    port,
    async peakRssMb() {
      const p = next<number>('peak');
      child.send({ peak: true });
      return (await p) / 1024 / 1024;
    },
    cpuSeconds() {
      const pid = child.pid;
      if (pid === undefined || !existsSync(`/proc/${pid}/stat`)) return null;
      return { main: statCpuSeconds(`/proc/${pid}/task/${pid}/stat`), all: statCpuSeconds(`/proc/${pid}/stat`) };
    },
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.send({ stop: true });
      }),
  };
}

/**
 * One message size against a fresh server process (bench/smtp.ts --class N): the RSS of one
 * size's runs never carries over into the next size's. Prints one table row per line.
 */
async function smtpClass(dir: string, index: number): Promise<void> {
  const entry = PLAN[index];
  if (!entry) throw new Error(`no class ${index}`);
  const [label, size, totals, kind] = entry;
  const server = await startServerProcess(dir);
  try {
    for (const [k, connections] of [1, 10, 50].entries()) {
      const total = totals[k] ?? 100;
      await runInChild(server.port, connections, size, Math.min(total, connections), kind); // warm-up: one message per connection
      await server.peakRssMb(); // the peak of this row's runs alone
      // Two runs, the faster kept (this shared VM varies by ±20 % from run to run); the RSS is the
      // higher peak of the two.
      const runs: Array<{ perSecond: number; mbPerSecond: number; cpu: string }> = [];
      for (let i = 0; i < 2; i++) {
        const before = server.cpuSeconds();
        const r = await runInChild(server.port, connections, size, total, kind);
        const after = server.cpuSeconds();
        const perMessage = (a: number, b: number): string => `${(((b - a) / total) * 1e6).toFixed(0)} µs`;
        runs.push({ ...r, cpu: before && after ? `${perMessage(before.main, after.main)} / ${perMessage(before.all, after.all)}` : 'n/a' });
      }
      const r = runs.reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
      const rss = await server.peakRssMb();
      process.stderr.write(`smtp bench: ${label} × ${connections}: ${r.perSecond.toFixed(0)} msg/s\n`);
      console.log(`| ${label} | ${connections} | ${total} | ${r.perSecond.toFixed(0)} | ${r.mbPerSecond.toFixed(1)} | ${r.cpu} | ${rss.toFixed(0)} MB |`);
    }
  } finally {
    await server.stop();
  }
}

async function smtpPart(dir: string, out: string[]): Promise<void> {
  buildDist();
  out.push('| size | connections | messages | msg/s | MB/s | server CPU per message (main thread / all threads) | server peak RSS |', '|---|---|---|---|---|---|---|');
  for (let i = 0; i < PLAN.length; i++) {
    const rows = await new Promise<string>((resolve, reject) => {
      const args = [...process.execArgv, fileURLToPath(import.meta.url), '--class', String(i), path.join(dir, `class-${i}`)];
      execFile(process.execPath, args, { timeout: 900_000, maxBuffer: 1024 * 1024 }, (err, stdout, stderr) => {
        process.stderr.write(stderr);
        if (err) reject(new Error(`${err.message}\n${stderr}`));
        else resolve(stdout);
      });
    });
    out.push(...rows.split('\n').filter((l) => l.startsWith('| ')));
  }
  out.push(
    '',
    `The server is the compiled build (\`dist/\`) in a plain Node process with the environment and Node flags of \`npm start\` and the Docker image (\`${startCommand().text}\`; no TypeScript loader in its memory), a fresh one for each size (so one size's memory does not carry over into the next); the clients run in child processes. Each row is the faster of two runs; its server peak RSS is the highest during either. The CPU columns are that run's user + system time of the server process (/proc) divided by its messages: the main thread (the event loop: SMTP, parsing, policy, SQLite statements and commits) and all threads (with libuv's pool, hashing and fsyncs, and the full-text worker, which indexes during the run). Unlike msg/s they hardly depend on how busy the machine is, but a host's CPU steal inflates them too.`,
    '',
    'Targets: 4 KB at 10 connections ≥ 2,000 msg/s; 2 MB at 10 connections ≥ 150 MB/s; RSS < 300 MB at 50 connections.',
    '',
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href && process.argv[2] === '--class') {
  smtpClass(process.argv[4] ?? '', Number(process.argv[3])).then(
    () => undefined,
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
} else if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href && process.argv[2] === '--client') {
  const [port, connections, size, total] = process.argv.slice(3, 7).map(Number);
  run(port ?? 0, connections ?? 1, size ?? 4096, total ?? 1, process.argv[7] === 'pdf' ? 'pdf' : 'text').then(
    (r) => console.log(JSON.stringify(r)),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
} else if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  benchSmtp().then(
    (md) => console.log(md),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
