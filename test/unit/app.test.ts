import { readdirSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { configFrom } from '../../src/config/load.js';
import { silentLogger } from '../../src/lib/log.js';
import { testDir } from '../helpers/app.js';

/** Files under `dir` this process holds open (Linux /proc). */
function openFilesUnder(dir: string): string[] {
  return readdirSync('/proc/self/fd')
    .map((fd) => {
      try {
        return readlinkSync(path.join('/proc/self/fd', fd));
      } catch {
        return '';
      }
    })
    .filter((f) => f.startsWith(dir));
}

describe('createApp', () => {
  it('closes the store when wiring fails (an unknown policy rule), leaving no file open', async () => {
    const dir = testDir();
    const config = configFrom({ storage: { dir }, log: { level: 'silent' }, policy: { rules: [{ name: 'no-such-rule', action: 'reject' }] } });
    await expect(createApp({ config, log: silentLogger() })).rejects.toThrow(/no-such-rule/);
    expect(openFilesUnder(dir)).toEqual([]);
  });

  it('when a listener cannot bind (a port in use), start fails and closes the listeners that did open', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const takenPort = (taken.address() as net.AddressInfo).port;
    // A port that is free now, for the SMTP listener that opens before submission fails.
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const smtpPort = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const dir = testDir();
    const off = { host: '127.0.0.1', port: 0, enabled: false };
    const config = configFrom({
      domains: ['example.gov.vn'],
      storage: { dir },
      log: { level: 'silent' },
      listeners: { smtp: { host: '127.0.0.1', port: smtpPort }, submission: { host: '127.0.0.1', port: takenPort }, submissions: off, imap: off, imaps: off, pop3: off, pop3s: off, http: off },
    });
    const app = await createApp({ config, log: silentLogger() });
    // Said for the administrator: which listener, which address (net/listener.ts listenError).
    await expect(app.start()).rejects.toThrow(new RegExp(`the port of listeners\\.submission \\(127\\.0\\.0\\.1:${takenPort}\\) is in use by another program`));
    // The SMTP listener that had opened is closed again: nothing keeps the process alive.
    const refused = await new Promise<boolean>((r) => {
      const s = net.connect(smtpPort, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        r(false);
      });
      s.once('error', () => r(true));
    });
    expect(refused).toBe(true);
    expect(openFilesUnder(dir)).toEqual([]);
    await new Promise<void>((r) => taken.close(() => r()));
  });
});
