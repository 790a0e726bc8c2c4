/**
 * The app the IMAP and POP3 benchmarks run: every listener on a free loopback port, logging off,
 * SPF/DKIM/DMARC off (no DNS here). `extra` adds or overrides config keys.
 */
import { createApp, type App } from '../src/app.js';
import { configFrom } from '../src/config/load.js';
import { silentLogger } from '../src/lib/log.js';

export async function startBenchApp(dir: string, extra: Record<string, unknown> = {}): Promise<App> {
  const config = configFrom({
    domains: ['example.gov.vn'],
    storage: { dir },
    listeners: Object.fromEntries(['smtp', 'submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s', 'http'].map((n) => [n, { host: '127.0.0.1', port: 0 }])),
    log: { level: 'silent' },
    smtp: { checkAuthentication: false },
    ...extra,
  });
  const app = await createApp({ config, log: silentLogger() });
  await app.start();
  return app;
}
