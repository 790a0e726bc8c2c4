/**
 * Ids a session holds never come to mean another row, and a UID EXPUNGE removes only what is
 * flagged \Deleted when it runs (two sessions on one mailbox, raw sockets).
 * - A session selected on a mailbox that another session deletes must not reach the mailbox the
 *   next CREATE makes, the other account's included: mailbox ids are never given out twice.
 * - The same for app passwords: a session signed in with a removed one does not hold because a
 *   new app password got its id.
 * - RFC 4315 §2.1: UID EXPUNGE removes messages in the set that have \Deleted, as the store sees
 *   them, not as the session last saw them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppPassword } from '../../src/auth/app-passwords.js';
import { credentialOf, currentSignIn } from '../../src/auth/sign-in-holds.js';
import { createTestAccount } from '../helpers/accounts.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { messagesIn, storeParsed } from '../helpers/messages.js';
import { LineClient } from './imap-helpers.js';

let app: TestApp;
beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => app?.stop());

const audit = { actor: 'test', action: 'test', target: 'x' };
const msg = (subject: string, body: string): string =>
  `From: <a@example.gov.vn>\r\nTo: <b@example.gov.vn>\r\nSubject: ${subject}\r\nDate: Mon, 23 Nov 2026 09:00:00 +0700\r\nMessage-ID: <${Math.random()}@t>\r\n\r\n${body}\r\n`;

async function signedIn(user: string): Promise<LineClient> {
  const c = await LineClient.connect(app.port('imap'));
  await c.login(user);
  return c;
}

describe('ids held by sessions', () => {
  it('a session left on a deleted mailbox never reads or expunges the mailbox another account creates next', async () => {
    const alice = await createTestAccount(app.store, 'alice.ids@example.gov.vn');
    const bob = await createTestAccount(app.store, 'bob.ids@example.gov.vn');
    const a1 = await signedIn('alice.ids');
    const a2 = await signedIn('alice.ids');
    const b = await signedIn('bob.ids');
    expect((await a1.cmd('A1', 'CREATE Tmp')).at(-1)).toMatch(/^A1 OK/);
    await storeParsed(app.store, alice.id, msg('alice tmp', 'alice body'), { mailbox: 'Tmp' });
    expect((await a1.cmd('A2', 'SELECT Tmp')).at(-1)).toMatch(/^A2 OK/);
    const tmpId = (await app.store.getMailbox(alice.id, 'Tmp'))?.id;
    expect((await a2.cmd('B1', 'DELETE Tmp')).at(-1)).toMatch(/^B1 OK/);
    expect((await b.cmd('C1', 'CREATE Private')).at(-1)).toMatch(/^C1 OK/);
    const priv = await app.store.getMailbox(bob.id, 'Private');
    expect(priv?.id).not.toBe(tmpId);
    await storeParsed(app.store, bob.id, msg('BOB PRIVATE', 'bob secret body'), { mailbox: 'Private' });
    // The session left on the deleted mailbox is ended (RFC 2180 §3.3) before it can act on any
    // mailbox again; what it was told never holds Bob's message.
    a1.write('A3 FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[TEXT])\r\n');
    a1.write('A4 STORE 1:* +FLAGS (\\Deleted)\r\nA5 EXPUNGE\r\n');
    const told = await a1.waitFor((buf) => buf.includes('* BYE'));
    expect(told).not.toContain('BOB PRIVATE');
    expect(told).not.toContain('bob secret body');
    expect(told).not.toMatch(/^A[345] OK/m);
    expect((await messagesIn(app.store, bob.id, 'Private')).map((m) => m.toString())).toEqual([expect.stringContaining('BOB PRIVATE')]);
    for (const c of [a1, a2, b]) c.close();
  });

  it('an app password removed and another created: the new one does not get the old id, so sessions of the old one end', async () => {
    const a = await createTestAccount(app.store, 'apw.ids@example.gov.vn');
    const first = await createAppPassword(app.store, a.id, 'phone', { audit: () => audit });
    const credential = credentialOf(a, first.appPassword.id);
    await app.store.removeAppPassword(a.id, first.appPassword.id);
    const second = await createAppPassword(app.store, a.id, 'new phone', { audit: () => audit });
    expect(second.appPassword.id).not.toBe(first.appPassword.id);
    expect(await currentSignIn(app.store, credential)).toBeNull();
  });
});

describe('UID EXPUNGE and another session’s flag change (RFC 4315 §2.1)', () => {
  it('does not remove a message whose \\Deleted another session has just taken off', async () => {
    const a = await createTestAccount(app.store, 'expunge.ids@example.gov.vn');
    await storeParsed(app.store, a.id, msg('one', 'one'), { flags: ['\\Deleted'] });
    await storeParsed(app.store, a.id, msg('two', 'two'));
    const c1 = await signedIn('expunge.ids');
    const c2 = await signedIn('expunge.ids');
    await c1.cmd('A1', 'SELECT INBOX');
    await c2.cmd('B1', 'SELECT INBOX');
    expect((await c2.cmd('B2', 'UID STORE 1 -FLAGS.SILENT (\\Deleted)')).at(-1)).toMatch(/^B2 OK/);
    const r = await c1.cmd('A2', 'UID EXPUNGE 1:*');
    expect(r.at(-1)).toMatch(/^A2 OK/);
    expect(r.join('\n')).not.toMatch(/^\* \d+ EXPUNGE/m);
    expect(await messagesIn(app.store, a.id)).toHaveLength(2);
    for (const c of [c1, c2]) c.close();
  });
});
