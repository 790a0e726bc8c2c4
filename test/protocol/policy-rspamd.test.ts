/**
 * R-POL-4 with the real rspamd: the test starts rspamd itself (its stock rules, our local.d
 * overrides: one normal worker on a free loopback port, no controller/proxy/fuzzy, DNS pointed
 * at a dead resolver so nothing leaves the machine), sends mail through SMTP and checks the
 * X-Spam-Score / X-Spamd-Result headers and Junk delivery. Hyperscan caches go to a folder
 * under the OS temp dir that later runs reuse (the first start compiles them: slow).
 * Skips loudly when rspamd is not installed or does not come up in time.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import { mimeMessage } from '../unit/policy/fixtures.js';
import { addUser, headersOf, mailboxMessages, send } from './policy-helpers.js';
import type { Account } from '../../src/store/port.js';

const RSPAMD = ['/usr/bin/rspamd', '/usr/sbin/rspamd'].find((p) => existsSync(p)) ?? (spawnSync('which', ['rspamd']).stdout?.toString().trim() || null);
if (!RSPAMD) console.warn('SKIP policy-rspamd: rspamd is not installed (apt-get install rspamd); the real-rspamd test did not run');
const STARTUP_MS = 240_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function ping(url: string): Promise<boolean> {
  try {
    const r = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1000) });
    return r.ok;
  } catch {
    return false;
  }
}

describe.skipIf(!RSPAMD)('spam with the real rspamd', () => {
  let dir = '';
  let url = '';
  let child: ChildProcess | null = null;
  let ready = false;
  let app: TestApp | null = null;
  let user: Account;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'buudien-rspamd-'));
    const cache = path.join(os.tmpdir(), 'buudien-rspamd-cache');
    for (const d of ['local.d', 'override.d', 'run']) mkdirSync(path.join(dir, d));
    mkdirSync(cache, { recursive: true });
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const w = (f: string, text: string): void => writeFileSync(path.join(dir, f), text);
    w('local.d/worker-normal.inc', `bind_socket = "127.0.0.1:${port}";\ncount = 1;\n`);
    w('override.d/worker-controller.inc', 'enabled = false;\n');
    w('override.d/worker-proxy.inc', 'enabled = false;\n');
    w('override.d/worker-fuzzy.inc', 'enabled = false;\n');
    w('local.d/logging.inc', 'type = "console";\nlevel = "info";\n');
    w('local.d/options.inc', 'dns { nameserver = ["127.0.0.1:9"]; timeout = 0.1s; retransmits = 1; }\n');
    const asRoot = process.getuid?.() === 0 ? ['-u', 'root', '-g', 'root'] : [];
    const args = ['-f', ...asRoot, '-c', '/etc/rspamd/rspamd.conf', `--var=LOCAL_CONFDIR=${dir}`, `--var=RUNDIR=${path.join(dir, 'run')}`, `--var=DBDIR=${cache}`, `--var=LOGDIR=${dir}`];
    ready = await new Promise<boolean>((resolve) => {
      let settled = false;
      const finish = (ok: boolean): void => {
        if (settled) return;
        settled = true;
        clearInterval(retry);
        clearTimeout(limit);
        resolve(ok);
      };
      const attempt = (): void => {
        void ping(url).then((ok) => ok && finish(true));
      };
      child = spawn(RSPAMD as string, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout?.on('data', attempt);
      child.stderr?.on('data', attempt);
      child.on('exit', () => finish(false));
      // Readiness: rspamd may bind quietly after its last log line, so also retry while it starts.
      const retry = setInterval(attempt, 500);
      const limit = setTimeout(() => finish(false), STARTUP_MS);
    });
    if (!ready) {
      console.warn(`SKIP policy-rspamd: rspamd did not answer /ping within ${STARTUP_MS / 1000} s`);
      return;
    }
    app = await startApp({ policy: { rspamd: { url, junkScore: 0.5, rejectScore: 1000 } } });
    user = await addUser(app.store, 'longnv@example.gov.vn');
  }, STARTUP_MS + 30_000);

  afterAll(async () => {
    await app?.stop();
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child?.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('the verdict becomes headers; over junkScore the message goes to Junk and is flagged', async (ctx) => {
    if (!ready || !app) return ctx.skip();
    const r = await send(app, mimeMessage({ subject: 'rspamd test', text: 'Xin chào' }));
    expect(r).toMatchObject({ ok: true, code: 250 });
    const junk = await mailboxMessages(app.store, user.id, 'Junk');
    expect(junk).toHaveLength(1);
    const h = headersOf(junk[0] ?? '');
    expect(h.find((x) => x.startsWith('X-Spam-Score: '))).toMatch(/^X-Spam-Score: \d+\.\d\d$/);
    expect(h.find((x) => x.startsWith('X-Spamd-Result: '))).toMatch(/^X-Spamd-Result: default: (True|False) \[[\d.]+ \/ [\d.]+\]; /);
    expect(h.some((x) => /^X-Buudien-Policy: spam; score=\d+\.\d\d$/.test(x))).toBe(true);
    expect(await mailboxMessages(app.store, user.id, 'INBOX')).toEqual([]);
  });
});
