/**
 * `*` in a message sequence set on an empty mailbox (RFC 9051 §9, seq-number: "The server should
 * respond with a tagged BAD response to a command that uses a message sequence number greater
 * than the number of messages in the selected mailbox. This includes "*" if the selected mailbox
 * is empty."). UIDs are different: `UID FETCH 1:*` on an empty mailbox is legal and answers OK
 * with nothing (`*` is then UIDNEXT-1 or so; no message has it). SEARCH keeps its sequence-set key
 * lenient (a search criterion, as for numbers beyond EXISTS): `UID SEARCH 1:* NOT DELETED` on an
 * empty mailbox answers an empty result.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import type { Account } from '../../src/store/port.js';
import { createUser, deliver, flow, LineClient, message } from './imap-helpers.js';

describe('"*" on an empty mailbox', () => {
  let app: TestApp;
  let user: Account;
  beforeAll(async () => {
    app = await startApp();
    user = await createUser(app, 'trongnv');
    await app.store.createMailbox(user.id, 'Empty', { subscribed: true });
  });
  afterAll(async () => app?.stop());

  it('FETCH, STORE, COPY and MOVE by sequence number answer BAD; their UID forms answer OK with nothing', async () => {
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
    ] as const) {
      const r = await c.cmd(tag, command);
      expect(r, command).toHaveLength(1);
      expect(r[0], command).toMatch(new RegExp(`^${tag} BAD .*(trống|empty)`));
    }

    for (const [tag, command] of [
      ['u1', 'UID FETCH 1:* (FLAGS)'],
      ['u2', 'UID FETCH * (FLAGS)'],
      ['u3', 'UID STORE 1:* +FLAGS (\\Seen)'],
      ['u4', 'UID COPY 1:* INBOX'],
      ['u5', 'UID MOVE 1:* INBOX'],
    ] as const) {
      const r = await c.cmd(tag, command);
      expect(r, command).toHaveLength(1);
      expect(r[0], command).toMatch(new RegExp(`^${tag} OK`));
    }

    // SEARCH: a criterion, kept lenient (empty result, OK).
    const q1 = await c.cmd('q1', 'SEARCH 1:*');
    expect(q1[0]).toBe('* SEARCH');
    expect(q1.at(-1)).toMatch(/^q1 OK/);
    const q2 = await c.cmd('q2', 'UID SEARCH 1:* NOT DELETED');
    expect(q2[0]).toBe('* SEARCH');
    expect(q2.at(-1)).toMatch(/^q2 OK/);

    // The BADs did not end the session, and once a message is announced `*` names it.
    await deliver(app, user, message({ subject: 'Thư đầu tiên' }), 'Empty');
    expect(await c.cmd('n', 'NOOP')).toContain('* 1 EXISTS');
    const f = await c.cmd('f4', 'FETCH 1:* (UID)');
    expect(f).toEqual(['* 1 FETCH (UID 1)', expect.stringMatching(/^f4 OK/)]);
    c.close();
  });

  it('a message not yet announced does not count: "*" is still BAD until EXISTS is sent', async () => {
    await app.store.createMailbox(user.id, 'Later', { subscribed: true });
    const c = await LineClient.connect(app.port('imap'));
    await c.login('trongnv');
    await c.cmd('s', 'SELECT Later');
    await deliver(app, user, message({ subject: 'Mới' }), 'Later');
    // FETCH may not announce the new message before answering; the client still counts 0.
    const r = await c.cmd('f', 'FETCH 1:* (FLAGS)');
    expect(r.at(-1)).toMatch(/^f BAD/);
    c.close();
  });

  it('imapflow: UID fetches of an empty mailbox work; a sequence fetch of 1:* is refused and the connection stays usable', async () => {
    const c = flow(app, 'trongnv');
    await c.connect();
    await app.store.createMailbox(user.id, 'Empty2', { subscribed: true });
    const mb = await c.mailboxOpen('Empty2');
    expect(mb.exists).toBe(0);
    expect(await c.fetchAll('1:*', { uid: true, flags: true }, { uid: true })).toEqual([]);
    // imapflow resolves a bare '*' itself and sends nothing for an empty mailbox.
    const none: unknown[] = [];
    for await (const m of c.fetch('*', { flags: true })) none.push(m);
    expect(none).toEqual([]);
    expect(await c.search({ all: true })).toEqual([]);
    await expect(c.fetchAll('1:*', { flags: true })).rejects.toThrow();
    expect(c.usable).toBe(true);
    const st = await c.status('Empty2', { messages: true });
    expect(st && st.messages).toBe(0);
    await c.logout();
  });
});
