/**
 * startApp(): the real server from app.ts on 127.0.0.1, every listener on port 0,
 * storage in a fresh temporary folder. Always call `stop()` (afterEach/afterAll).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createApp, type App } from '../../src/app.js';
import { configFrom, mergeConfig } from '../../src/config/load.js';
import type { Clock } from '../../src/lib/clock.js';
import { silentLogger, type Logger } from '../../src/lib/log.js';

export interface TestApp extends App {
  dir: string;
  /** Port of a listener by its config name ("smtp", "imap", …). */
  port(name: string): number;
}

const LISTENERS = ['smtp', 'submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s', 'http'];

export function testDir(prefix = 'buudien-test-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function startApp(
  overrides: Record<string, unknown> = {},
  opts: { clock?: Clock; log?: Logger; dir?: string } = {},
): Promise<TestApp> {
  const dir = opts.dir ?? testDir();
  const base: Record<string, unknown> = {
    domains: ['example.gov.vn'],
    organization: { name: 'Test', hostname: 'mail.example.gov.vn' },
    storage: { dir },
    listeners: Object.fromEntries(LISTENERS.map((n) => [n, { host: '127.0.0.1', port: 0 }])),
    log: { level: 'silent' },
    smtp: { checkAuthentication: false },
  };
  const config = configFrom(mergeConfig(base, overrides));
  const app = await createApp({ config, log: opts.log ?? silentLogger(), ...(opts.clock ? { clock: opts.clock } : {}) });
  await app.start();
  const stop = app.stop.bind(app);
  return Object.assign(app, {
    dir,
    port(name: string): number {
      const l = app.listeners.get(name);
      if (!l) throw new Error(`listener ${name} is not running`);
      return l.port;
    },
    async stop() {
      await stop();
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  });
}
