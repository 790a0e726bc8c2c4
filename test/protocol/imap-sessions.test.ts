/** Sessions see each other: flags, new mail and expunges reach other sessions (and IDLE) as untagged responses. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import type { Account } from '../../src/store/port.js';
import { createUser, deliver, flow, LineClient, message } from './imap-helpers.js';

describe('two sessions on one mailbox', () => {
  let app: TestApp;
  let user: Account;
  beforeAll(async () => {
    app = await startApp();
    user = await createUser(app, 'hoalt');
    for (let i = 1; i <= 3; i++) await deliver(app, user, message({ subject: `Thư ${i}` }));
  });
  afterAll(async () => app?.stop());

  it('an IDLE client hears about new mail, flag changes and expunges made elsewhere', async () => {
    const idler = await LineClient.connect(app.port('imap'));
    await idler.login('hoalt');
    await idler.cmd('s', 'SELECT INBOX');
    idler.write('i IDLE\r\n');
    await idler.waitFor((b) => b.includes('+ '));
    idler.take();

    // New mail by delivery (SMTP's path into the store).
    await deliver(app, user, message({ subject: 'Thư mới' }));
    await idler.waitFor((b) => b.includes('* 4 EXISTS'));

    // Another session changes flags, then deletes and expunges message 2.
    const other = await LineClient.connect(app.port('imap'));
    await other.login('hoalt');
    await other.cmd('o1', 'SELECT INBOX');
    await other.cmd('o2', 'STORE 1 +FLAGS (\\Flagged)');
    // The idler selected first: message 1 is \Recent to it (and only to it).
    await idler.waitFor((b) => /\* 1 FETCH \(UID 1 FLAGS \(\\Flagged \\Recent\)/.test(b));
    await other.cmd('o3', 'STORE 2 +FLAGS.SILENT (\\Deleted)');
    const ex = await other.cmd('o4', 'EXPUNGE');
    expect(ex).toContain('* 2 EXPUNGE');
    await idler.waitFor((b) => b.includes('* 2 EXPUNGE'));

    idler.write('DONE\r\n');
    const done = await idler.until('i');
    expect(done.at(-1)).toMatch(/^i OK/);
    const f = await idler.cmd('f', 'FETCH 1:* (UID)');
    expect(f.filter((l) => l.startsWith('*'))).toEqual(['* 1 FETCH (UID 1)', '* 2 FETCH (UID 3)', '* 3 FETCH (UID 4)']);
    idler.close();
    other.close();
  });

  it('never sends EXPUNGE during FETCH, STORE or SEARCH, only at a safe moment (RFC 9051 §7.5.1)', async () => {
    const a = await LineClient.connect(app.port('imap'));
    const b = await LineClient.connect(app.port('imap'));
    await a.login('hoalt');
    await b.login('hoalt');
    await a.cmd('a1', 'SELECT INBOX');
    await b.cmd('b1', 'SELECT INBOX');
    await b.cmd('b2', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
    await b.cmd('b3', 'EXPUNGE');
    const fetch = await a.cmd('a2', 'FETCH 1 (FLAGS)');
    expect(fetch.some((l) => l.includes('EXPUNGE'))).toBe(false);
    const search = await a.cmd('a3', 'SEARCH ALL');
    expect(search.some((l) => l.includes('EXPUNGE'))).toBe(false);
    const noop = await a.cmd('a4', 'NOOP');
    expect(noop).toContain('* 1 EXPUNGE');
    a.close();
    b.close();
  });

  it('a MOVE in one imapflow session shows as EXPUNGE in another (every client)', async () => {
    const c1 = flow(app, 'hoalt');
    const c2 = flow(app, 'hoalt');
    await c1.connect();
    await c2.connect();
    await c1.mailboxOpen('INBOX');
    await c2.mailboxOpen('INBOX');
    const before = c2.mailbox && typeof c2.mailbox === 'object' ? c2.mailbox.exists : -1;
    const expunged = new Promise<number>((resolve) => c2.on('expunge', (e: { seq: number }) => resolve(e.seq)));
    await c1.messageMove('1', 'Trash');
    await c2.noop();
    expect(await expunged).toBe(1);
    expect(c2.mailbox && typeof c2.mailbox === 'object' ? c2.mailbox.exists : -1).toBe(before - 1);
    await c1.logout();
    await c2.logout();
  });
});
