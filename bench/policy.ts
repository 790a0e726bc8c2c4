/**
 * Policy benchmark: the pipeline's cost per message (default rules, no clamd/rspamd) for a clean
 * 100 KB message, a 10 MB PDF attachment and a zip with 1,000 entries, plus a zip bomb; with the
 * longest event-loop stall seen while each ran (archive inspection yields between members).
 * Parsing (src/mail) is not counted: the SMTP layer parses once before the pipeline.
 * Run alone: `node --import tsx bench/policy.ts`.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { configFrom } from '../src/config/load.js';
import { systemClock } from '../src/lib/clock.js';
import { silentLogger } from '../src/lib/log.js';
import { parseMessage } from '../src/mail/parse.js';
import { createPipeline } from '../src/policy/pipeline.js';
import type { PolicyContext } from '../src/policy/types.js';
import type { Store } from '../src/store/port.js';
import { mimeMessage, overlappingBomb, zip } from '../test/unit/policy/fixtures.js';
import { runInChild, startMxApp } from './smtp.js';

/** CPU time (user + system, seconds) of this process's main thread — the server's event loop here — from /proc (Linux); null elsewhere. */
function eventLoopCpu(): number | null {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return null;
  }
}

/**
 * Clean mail over real SMTP (MX inbound, 10 connections, 100 KB), with the default rules and with
 * every rule off: the target is that the pipeline costs at most 15 % of throughput. Messages per
 * second swing widely on a shared VM (the same build has measured a "loss" of -95 % and +22 %
 * minutes apart), so the server's event-loop CPU time per message is measured too: the event loop
 * is where the pipeline runs and what bounds throughput, and its CPU time hardly depends on what
 * else the machine is doing. The verdict uses the CPU figure when /proc has it.
 */
async function smtpWithAndWithout(): Promise<string[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'buudien-bench-policy-'));
  const rates: Record<'on' | 'off', number> = { on: 0, off: 0 };
  const cpuPerMessage: Record<'on' | 'off', number> = { on: Infinity, off: Infinity };
  const total = 300;
  try {
    // Alternate on/off rounds so machine noise hits both alike; keep the better round of each.
    for (const round of [1, 2, 3]) {
      for (const mode of ['on', 'off'] as const) {
        const defaults = configFrom({}).policy.rules;
        const { app, port } = await startMxApp(path.join(dir, `${mode}-${round}`), {
          policy: { rules: mode === 'on' ? defaults : defaults.map((r) => ({ name: r.name, action: 'off' })) },
        });
        try {
          await runInChild(port, 10, 100 * 1024, 20);
          const before = eventLoopCpu();
          const r = await runInChild(port, 10, 100 * 1024, total);
          const after = eventLoopCpu();
          rates[mode] = Math.max(rates[mode], r.perSecond);
          if (before !== null && after !== null) cpuPerMessage[mode] = Math.min(cpuPerMessage[mode], ((after - before) * 1e6) / total);
        } finally {
          await app.stop();
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const loss = (1 - rates.on / rates.off) * 100;
  const haveCpu = Number.isFinite(cpuPerMessage.on) && Number.isFinite(cpuPerMessage.off);
  const cpuLoss = haveCpu ? (1 - cpuPerMessage.off / cpuPerMessage.on) * 100 : null;
  return [
    '### Clean mail over SMTP with the pipeline on and off',
    '',
    '| rules | 100 KB messages/s (10 connections) | event-loop CPU per message |',
    '|---|---|---|',
    `| default rules on | ${rates.on.toFixed(0)} | ${haveCpu ? `${cpuPerMessage.on.toFixed(0)} µs` : 'n/a'} |`,
    `| every rule off | ${rates.off.toFixed(0)} | ${haveCpu ? `${cpuPerMessage.off.toFixed(0)} µs` : 'n/a'} |`,
    '',
    `Throughput lost to the pipeline, by messages/s: ${loss.toFixed(1)} %${cpuLoss !== null ? `; by event-loop CPU per message (the share of the event loop's time the pipeline takes, which bounds throughput): ${cpuLoss.toFixed(1)} %` : ''} (target: at most 15 %${cpuLoss !== null ? `: ${cpuLoss <= 15 ? 'met' : 'not met'} by CPU` : ''}).`,
    '',
  ];
}

const ctx: PolicyContext = { direction: 'inbound', clientIp: '192.0.2.1', account: null, sender: 'a@example.org', recipients: ['longnv@example.gov.vn'] };

function pdf(bytes: number): Buffer {
  const b = Buffer.alloc(bytes);
  b.write('%PDF-1.7\n');
  for (let i = 9; i < bytes; i++) b[i] = (i * 131 + (i >> 7)) & 0xff;
  return b;
}

async function measure(label: string, raw: Buffer, iterations: number): Promise<string> {
  const pipeline = createPipeline({ config: configFrom({ domains: ['example.gov.vn'] }), log: silentLogger(), store: {} as Store, clock: systemClock });
  const parsed = parseMessage(raw);
  // Warm-up, and the verdict for the table.
  const verdict = await pipeline.checkMessage(ctx, { raw, parsed });
  // Stall: the longest gap between ticks of a 1 ms timer (messages are checked one after another,
  // with a macrotask turn between them, as separate SMTP sessions would be).
  let last = performance.now();
  let stall = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    stall = Math.max(stall, now - last);
    last = now;
  }, 1);
  let busy = 0;
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    await pipeline.checkMessage(ctx, { raw, parsed }); // a new object each time: no scan cache
    busy += performance.now() - t0;
    await new Promise((resolve) => setImmediate(resolve));
  }
  clearInterval(timer);
  const ms = busy / iterations;
  const outcome = verdict.action === 'accept' ? 'accept' : `${verdict.action} ${verdict.reply?.code ?? ''}`;
  return `| ${label} | ${(raw.length / 1024).toFixed(0)} KB | ${ms.toFixed(2)} ms | ${(1000 / ms).toFixed(0)} | ${stall.toFixed(1)} ms | ${outcome} |`;
}

export async function benchPolicy(): Promise<string> {
  const rows: string[] = [];
  const text = 'Kính gửi các đơn vị, '.repeat(1200);
  rows.push(await measure('clean 100 KB (text + 60 KB PDF)', mimeMessage({ text, attachments: [{ name: 'cong-van.pdf', data: pdf(60 * 1024) }] }), 200));
  rows.push(await measure('10 MB PDF attachment', mimeMessage({ attachments: [{ name: 'bao-cao.pdf', data: pdf(10 * 1024 * 1024) }] }), 10));
  const entries = Array.from({ length: 1000 }, (_, i) => ({ name: `ho-so/tai-lieu-${i}.docx`, data: `Nội dung ${i} `.repeat(40), deflate: true }));
  rows.push(await measure('zip with 1,000 entries', mimeMessage({ attachments: [{ name: 'ho-so.zip', data: zip(entries) }] }), 20));
  rows.push(await measure('overlapping zip bomb (refused)', mimeMessage({ attachments: [{ name: 'bomb.zip', data: overlappingBomb(1000) }] }), 50));
  return [
    '## policy',
    '',
    'Pipeline cost per message with the default rules (executables, encrypted-archives, attachment-size; clamd and rspamd not configured). "Stall" is the longest time the event loop was blocked (gap between ticks of a 1 ms timer) while the messages were checked one after another.',
    '',
    '| message | size | per message | messages/s | stall | verdict |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
    ...(await smtpWithAndWithout()),
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  benchPolicy().then(
    (s) => console.log(s),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
