/**
 * `*` in a message sequence set on an empty mailbox. RFC 9051 §9 (seq-number) says "The server
 * should respond with a tagged BAD response to a command that uses a message sequence number
 * greater than the number of messages in the selected mailbox. This includes "*" if the selected
 * mailbox is empty." It is a "should", and this server does not follow it for "*": on a mailbox
 * the client was told is empty, a set using "*" names no message and FETCH, STORE, COPY and MOVE
 * answer OK with nothing. Interoperability decides: imapflow (fetchAll('1:*'), fetch({all:true}),
 * messageFlagsAdd('1:*'), messageDelete({all:true}), messageMove('1:*')) and scripts using
 * Python's imaplib (M.fetch('1:*', ...), the "empty Trash" idiom M.store('1:*', '+FLAGS',
 * '\\Deleted')) send `1:*` without looking at EXISTS and throw, or silently report failure, on a
 * BAD; and a message arriving just before the command, not yet announced by EXISTS, would turn a
 * correct `1:*` into an error. Explicit numbers above EXISTS are still refused with BAD. UID forms
 * and SEARCH were always lenient.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import { has } from '../helpers/tools.js';
import type { Account } from '../../src/store/port.js';
import { createUser, deliver, flow, LineClient, message, PASSWORD } from './imap-helpers.js';

const run = promisify(execFile);
const hasPython = has('python3');
if (!hasPython) console.warn('SKIPPED: python3 is not installed; the imaplib test of "*" on an empty mailbox does not run');

describe('"*" on an empty mailbox', () => {
  let app: TestApp;
  let user: Account;
  beforeAll(async () => {
    app = await startApp({ imap: { signInCheckMs: 0 } });
    user = await createUser(app, 'trongnv');
    await app.store.createMailbox(user.id, 'Empty', { subscribed: true });
  });
  afterAll(async () => app?.stop());

  it('FETCH, STORE, COPY and MOVE with "*" answer OK with nothing; explicit numbers above EXISTS stay BAD', async () => {
    const c = await LineClient.connect(app.port('imap'));
    await c.login('trongnv');
    expect(await c.cmd('s', 'SELECT Empty')).toContain('* 0 EXISTS');

    for (const [tag, command] of [
      ['f1', 'FETCH 1:* (FLAGS)'],
      ['f2', 'FETCH * (UID)'],
      ['f3', 'FETCH *:1 (FLAGS)'],
      ['t1', 'STORE * +FLAGS (\\Seen)'],
      ['t2', 'STORE 1:* +FLAGS.SILENT (\\Deleted)'],
      ['c1', 'COPY 1:* INBOX'],
      ['m1', 'MOVE * INBOX'],
      ['u1', 'UID FETCH 1:* (FLAGS)'],
      ['u2', 'UID FETCH * (FLAGS)'],
      ['u3', 'UID STORE 1:* +FLAGS (\\Seen)'],
      ['u4', 'UID COPY 1:* INBOX'],
      ['u5', 'UID MOVE 1:* INBOX'],
      ['e1', 'EXPUNGE'],
    ] as const) {
      const r = await c.cmd(tag, command);
      expect(r, command).toHaveLength(1);
      expect(r[0], command).toMatch(new RegExp(`^${tag} OK`));
    }

    // Explicit numbers above EXISTS are still refused, as before.
    for (const [tag, command] of [
      ['x1', 'FETCH 1 (FLAGS)'],
      ['x2', 'STORE 1:2 +FLAGS (\\Seen)'],
      ['x3', 'COPY 3 INBOX'],
    ] as const) {
      const r = await c.cmd(tag, command);
      expect(r, command).toHaveLength(1);
      expect(r[0], command).toMatch(new RegExp(`^${tag} BAD`));
    }

    // SEARCH: a criterion, lenient (empty result, OK).
    const q1 = await c.cmd('q1', 'SEARCH 1:*');
    expect(q1[0]).toBe('* SEARCH');
    expect(q1.at(-1)).toMatch(/^q1 OK/);

    // Nothing was copied or moved to INBOX by the empty sets.
    expect((await app.store.mailboxStatus((await app.store.getMailbox(user.id, 'INBOX'))!.id)).messages).toBe(0);

    // Once a message is announced `*` names it.
    await deliver(app, user, message({ subject: 'Thư đầu tiên' }), 'Empty');
    expect(await c.cmd('n', 'NOOP')).toContain('* 1 EXISTS');
    const f = await c.cmd('f4', 'FETCH 1:* (UID)');
    expect(f).toEqual(['* 1 FETCH (UID 1)', expect.stringMatching(/^f4 OK/)]);
    c.close();
  });

  it('a message arriving before EXISTS is sent: "1:*" still answers OK (the client counted 0), and the message is announced after', async () => {
    await app.store.createMailbox(user.id, 'Later', { subscribed: true });
    const c = await LineClient.connect(app.port('imap'));
    await c.login('trongnv');
    await c.cmd('s', 'SELECT Later');
    await deliver(app, user, message({ subject: 'Mới' }), 'Later');
    const r = await c.cmd('f', 'FETCH 1:* (FLAGS)');
    expect(r.at(-1)).toMatch(/^f OK/);
    expect(r.join('\n')).not.toMatch(/BAD/);
    // Announced by that FETCH or, at the latest, by the next command; then `*` names it.
    const n = await c.cmd('n', 'NOOP');
    expect([...r, ...n]).toContain('* 1 EXISTS');
    expect(await c.cmd('f2', 'FETCH * (UID)')).toEqual(['* 1 FETCH (UID 1)', expect.stringMatching(/^f2 OK/)]);
    c.close();
  });

  it('imapflow: fetchAll/fetch of all, messageFlagsAdd, messageDelete and messageMove work on an empty mailbox', async () => {
    const c = flow(app, 'trongnv');
    c.on('error', () => undefined);
    await c.connect();
    await app.store.createMailbox(user.id, 'Empty2', { subscribed: true });
    const mb = await c.mailboxOpen('Empty2');
    expect(mb.exists).toBe(0);
    expect(await c.fetchAll('1:*', { flags: true })).toEqual([]);
    expect(await c.fetchAll('1:*', { uid: true, flags: true }, { uid: true })).toEqual([]);
    const all: unknown[] = [];
    for await (const m of c.fetch({ all: true }, { flags: true })) all.push(m);
    expect(all).toEqual([]);
    expect(await c.messageFlagsAdd('1:*', ['\\Seen'])).toBe(true);
    expect(await c.messageDelete({ all: true })).toBe(true);
    // messageMove answers what the server gave back: OK with no COPYUID (nothing moved), not false.
    expect(await c.messageMove('1:*', 'INBOX')).not.toBe(false);
    expect(await c.search({ all: true })).toEqual([]);
    expect(c.usable).toBe(true);
    await c.logout();
  });

  it.skipIf(!hasPython)('Python imaplib: fetch 1:* and the "empty Trash" idiom store 1:* +FLAGS \\Deleted + expunge answer OK', async () => {
    await app.store.createMailbox(user.id, 'OldTrash', { subscribed: true });
    const script = String.raw`
import imaplib, json, sys
port, password = int(sys.argv[1]), sys.argv[2]
out = {}
m = imaplib.IMAP4('127.0.0.1', port)
m.login('trongnv', password)
typ, data = m.select('OldTrash')
out['select'] = [typ, data[0].decode()]
typ, data = m.fetch('1:*', '(FLAGS)')
out['fetch'] = [typ, [d.decode() if isinstance(d, bytes) else d for d in data]]
typ, data = m.store('1:*', '+FLAGS', '\\Deleted')
out['store'] = [typ, [d.decode() if isinstance(d, bytes) else d for d in data]]
typ, data = m.expunge()
out['expunge'] = typ
typ, data = m.search(None, 'ALL')
out['search'] = [typ, data[0].decode()]
typ, data = m.copy('1:*', 'INBOX')
out['copy'] = typ
try:
    m.fetch('5', '(FLAGS)')
    out['explicit'] = 'OK'
except imaplib.IMAP4.error as e:
    out['explicit'] = 'error'
out['close'] = m.close()[0]
out['logout'] = m.logout()[0]
print(json.dumps(out))
`;
    const { stdout } = await run('python3', ['-c', script, String(app.port('imap')), PASSWORD]);
    const out = JSON.parse(stdout) as Record<string, unknown>;
    expect(out.select).toEqual(['OK', '0']);
    expect(out.fetch).toEqual(['OK', [null]]);
    expect(out.store).toEqual(['OK', [null]]);
    expect(out.expunge).toBe('OK');
    expect(out.search).toEqual(['OK', '']);
    expect(out.copy).toBe('OK');
    expect(out.explicit).toBe('error'); // an explicit number above EXISTS is still BAD
    expect(out.close).toBe('OK');
    expect(out.logout).toBe('BYE');
  });
});
