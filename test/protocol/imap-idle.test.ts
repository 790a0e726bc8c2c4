/** IDLE as clients use it (CLIENT-NOTES "Every client"): keep-alives, re-IDLE cycles, and changes made by another process. */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/log.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import type { Account } from '../../src/store/port.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { createUser, LineClient, message } from './imap-helpers.js';
import { parseMessage } from '../../src/mail/parse.js';

describe('IDLE', () => {
  let app: TestApp;
  let user: Account;
  beforeAll(async () => {
    app = await startApp({ imap: { idleKeepaliveMs: 50 } });
    user = await createUser(app, 'idle');
  });
  afterAll(async () => app?.stop());

  it('sends "* OK Still here" keep-alives so NAT boxes keep the connection', async () => {
    const c = await LineClient.connect(app.port('imap'));
    await c.login('idle');
    await c.cmd('s', 'SELECT INBOX');
    c.write('i IDLE\r\n');
    await c.waitFor((b) => (b.match(/\* OK [^\r\n]*Still here/g) ?? []).length >= 2);
    c.write('DONE\r\n');
    expect((await c.until('i')).at(-1)).toMatch(/^i OK/);
    c.close();
  });

  it('accepts DONE and a new IDLE again and again (clients re-IDLE every 23–29 minutes)', async () => {
    const c = await LineClient.connect(app.port('imap'));
    await c.login('idle');
    await c.cmd('s', 'SELECT INBOX');
    for (let i = 0; i < 20; i++) {
      c.write(`i${i} IDLE\r\n`);
      await c.waitFor((b) => b.includes('+ '));
      c.take();
      c.write('DONE\r\n');
      expect((await c.until(`i${i}`)).at(-1)).toMatch(new RegExp(`^i${i} OK`));
    }
    const n = await c.cmd('n', 'NOOP');
    expect(n.at(-1)).toMatch(/^n OK/);
    c.close();
  });

  it('hears about mail stored by another process (polled HIGHESTMODSEQ)', async () => {
    const c = await LineClient.connect(app.port('imap'));
    await c.login('idle');
    await c.cmd('s', 'SELECT INBOX');
    c.write('i IDLE\r\n');
    await c.waitFor((b) => b.includes('+ '));
    // A second store on the same files stands for another process: its events never reach this server.
    const other = await openSqliteStore({ dir: path.resolve(app.dir), log: silentLogger(), clock: systemClock, inlineBlobMaxBytes: 65536, groupCommitWindowMs: 0 });
    try {
      const mb = await other.getMailbox(user.id, 'INBOX');
      const raw = message({ subject: 'from elsewhere' });
      const p = parseMessage(raw);
      await other.storeMessage({ raw, envelope: p.envelope, structure: p.structure, internalDate: new Date(), targets: [{ mailboxId: mb?.id ?? 0, quotaBytes: null }] });
      await c.waitFor((b) => /\* \d+ EXISTS/.test(b.slice(b.indexOf('+ '))));
    } finally {
      await other.close();
    }
    c.write('DONE\r\n');
    await c.until('i');
    c.close();
  });
});
