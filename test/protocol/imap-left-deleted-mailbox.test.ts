/**
 * A session whose selected mailbox is deleted elsewhere (another session's DELETE, an admin
 * deleting the mailbox or purging the account through the store) is told with an untagged BYE
 * and disconnected (RFC 2180 §3.3), instead of carrying on with a mailbox that is gone. A RENAME
 * keeps the mailbox (same id, RFC 2180 §3.4), so sessions on it carry on.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import type { Account } from '../../src/store/port.js';
import { createUser, deliver, flow, LineClient, message } from './imap-helpers.js';

/** Send a NOOP and wait for its tagged answer, a BYE or the close; returns what was read. */
async function noopOrBye(c: LineClient, tag: string): Promise<string> {
  c.write(`${tag} NOOP\r\n`);
  const tagged = new RegExp(`(^|\\r\\n)${tag} (OK|NO|BAD)`);
  try {
    return await c.waitFor((b) => b.includes('* BYE') || tagged.test(b));
  } catch {
    return c.take(); // closed: waitFor throws with what it read, take() has it too
  }
}

describe('the selected mailbox is deleted by someone else', () => {
  let app: TestApp;
  let user: Account;
  beforeAll(async () => {
    // No periodic sign-in check: only the deletion may end the sessions here.
    app = await startApp({ imap: { signInCheckMs: 0 } });
    user = await createUser(app, 'lanpt');
  });
  afterAll(async () => app?.stop());

  async function mailboxWithMail(name: string): Promise<void> {
    await app.store.createMailbox(user.id, name, { subscribed: true });
    await deliver(app, user, message({ subject: `Thư trong ${name}` }), name);
  }

  it("another session's DELETE ends the session with * BYE, never an OK on a mailbox that is gone", async () => {
    await mailboxWithMail('Projects');
    const b = await LineClient.connect(app.port('imap'));
    await b.login('lanpt');
    expect((await b.cmd('b1', 'SELECT Projects')).at(-1)).toMatch(/^b1 OK/);

    const a = await LineClient.connect(app.port('imap'));
    await a.login('lanpt');
    expect((await a.cmd('a1', 'DELETE Projects')).at(-1)).toMatch(/^a1 OK/);

    const got = await noopOrBye(b, 'b2');
    expect(got).toMatch(/\* BYE .*(deleted|xóa)/);
    expect(got).not.toMatch(/b2 OK/);
    await b.waitClosed();

    // The deleting session carries on.
    expect((await a.cmd('a2', 'NOOP')).at(-1)).toMatch(/^a2 OK/);
    a.close();
  });

  it('an IDLE session hears the BYE at once when an admin deletes the mailbox through the store', async () => {
    await mailboxWithMail('Archive2025');
    const b = await LineClient.connect(app.port('imap'));
    await b.login('lanpt');
    await b.cmd('b1', 'SELECT Archive2025');
    b.write('i IDLE\r\n');
    await b.waitFor((buf) => buf.includes('+ '));
    b.take();

    await app.store.deleteMailbox(user.id, 'Archive2025');
    await b.waitFor((buf) => buf.includes('* BYE'));
    await b.waitClosed();
  });

  it('purging the account ends the sessions that have one of its mailboxes selected', async () => {
    const gone = await createUser(app, 'xoatk');
    await deliver(app, gone, message({ subject: 'Thư cuối' }));
    const b = await LineClient.connect(app.port('imap'));
    await b.login('xoatk');
    await b.cmd('b1', 'SELECT INBOX');

    await app.store.purgeAccount(gone.id, { actor: 'test', action: 'account.purge', target: gone.address });
    const got = await noopOrBye(b, 'b2');
    expect(got).toContain('* BYE');
    expect(got).not.toMatch(/b2 OK/);
    await b.waitClosed();
  });

  it('a deletion this process was not told of (another process) is found when the view next syncs', async () => {
    await mailboxWithMail('Elsewhere');
    const b = await LineClient.connect(app.port('imap'));
    await b.login('lanpt');
    await b.cmd('b1', 'SELECT Elsewhere');
    const mb = await app.store.getMailbox(user.id, 'Elsewhere');
    // The look-up after the store event still finds the mailbox, as if another process deleted it.
    const spy = vi.spyOn(app.store, 'getMailboxById').mockResolvedValue(mb);
    try {
      await app.store.deleteMailbox(user.id, 'Elsewhere');
      // IDLE pulls the changes first: the store no longer knows the mailbox.
      b.write('i IDLE\r\n');
      await b.waitFor((buf) => buf.includes('* BYE'));
      await b.waitClosed();
    } finally {
      spy.mockRestore();
    }
  });

  it('imapflow sees the connection close after the BYE (a real client then reconnects)', async () => {
    await mailboxWithMail('Shared');
    const c = flow(app, 'lanpt');
    c.on('error', () => undefined);
    await c.connect();
    await c.mailboxOpen('Shared');
    const closed = new Promise<void>((resolve) => c.on('close', () => resolve()));

    const a = await LineClient.connect(app.port('imap'));
    await a.login('lanpt');
    expect((await a.cmd('a1', 'DELETE Shared')).at(-1)).toMatch(/^a1 OK/);
    await c.noop().catch(() => undefined);
    await closed;
    expect(c.usable).toBe(false);
    a.close();
  });

  it('deleting its own selected mailbox leaves the session signed in, with nothing selected', async () => {
    await mailboxWithMail('Mine');
    const a = await LineClient.connect(app.port('imap'));
    await a.login('lanpt');
    await a.cmd('a1', 'SELECT Mine');
    expect((await a.cmd('a2', 'DELETE Mine')).at(-1)).toMatch(/^a2 OK/);
    const r = await a.cmd('a3', 'NOOP');
    expect(r.join('\n')).not.toContain('BYE');
    expect(r.at(-1)).toMatch(/^a3 OK/);
    expect((await a.cmd('a4', 'FETCH 1 (UID)')).at(-1)).toMatch(/^a4 BAD/); // no mailbox selected
    a.close();
  });

  it('a RENAME by another session keeps the mailbox: sessions on it carry on (RFC 2180 §3.4)', async () => {
    await mailboxWithMail('Old');
    const b = await LineClient.connect(app.port('imap'));
    await b.login('lanpt');
    await b.cmd('b1', 'SELECT Old');
    const a = await LineClient.connect(app.port('imap'));
    await a.login('lanpt');
    expect((await a.cmd('a1', 'RENAME Old New')).at(-1)).toMatch(/^a1 OK/);
    const f = await b.cmd('b2', 'FETCH 1 (UID)');
    expect(f.join('\n')).not.toContain('BYE');
    expect(f).toContain('* 1 FETCH (UID 1)');
    expect(f.at(-1)).toMatch(/^b2 OK/);
    a.close();
    b.close();
  });
});
