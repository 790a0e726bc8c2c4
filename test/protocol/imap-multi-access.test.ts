/**
 * Multi-accessed mailboxes (RFC 2180), over real sockets with two sessions at once:
 *  - STORE answers with the current flags, and NO [EXPUNGEISSUED] when every message named was
 *    expunged elsewhere (RFC 9051 §6.4.6, RFC 2180 §4.2.2);
 *  - COPY / UID COPY of an expunged message: the EXPUNGE is sent and NO, nothing copied (§4.4.1);
 *  - QRESYNC: a held-back VANISHED comes with `* OK [HIGHESTMODSEQ n]` below its MODSEQ (RFC 7162 §3.2);
 *  - CONDSTORE: EXPUNGE, UID EXPUNGE and MOVE answer OK [HIGHESTMODSEQ n] (RFC 7162 §3.2.7/§3.2.9, RFC 6851 §4.4);
 *  - changes made by another process reach a session at its next command, not only at NOOP or in IDLE.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/log.js';
import type { Account, Store } from '../../src/store/port.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { storeParsed } from '../helpers/messages.js';
import { createUser, deliver, LineClient, message } from './imap-helpers.js';

let app: TestApp;
let n = 0;

beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => app?.stop());

/** A fresh user with `count` messages, and two sessions with INBOX selected. */
async function twoSessions(count: number, setup: { a?: string; b?: string } = {}): Promise<{ user: Account; a: LineClient; b: LineClient; name: string }> {
  const name = `ma${++n}`;
  const user = await createUser(app, name);
  for (let i = 1; i <= count; i++) await deliver(app, user, message({ subject: `Thư ${i}` }));
  const a = await LineClient.connect(app.port('imap'));
  const b = await LineClient.connect(app.port('imap'));
  await a.login(name);
  await b.login(name);
  if (setup.a) await a.cmd('ae', setup.a);
  if (setup.b) await b.cmd('be', setup.b);
  expect((await a.cmd('as', 'SELECT INBOX')).at(-1)).toMatch(/^as OK/);
  expect((await b.cmd('bs', 'SELECT INBOX')).at(-1)).toMatch(/^bs OK/);
  return { user, a, b, name };
}

/** Session b expunges message `seq` (its own view). */
async function expungeElsewhere(b: LineClient, seq: number): Promise<void> {
  await b.cmd('bd', `STORE ${seq} +FLAGS.SILENT (\\Deleted)`);
  const r = await b.cmd('bx', 'EXPUNGE');
  expect(r).toContain(`* ${seq} EXPUNGE`);
}

function untagged(lines: string[]): string[] {
  return lines.filter((l) => l.startsWith('* '));
}

/** A second store on the same files: another process (CLI import, quarantine release). */
async function otherProcess<T>(fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openSqliteStore({ dir: path.resolve(app.dir), log: silentLogger(), clock: systemClock, inlineBlobMaxBytes: 65536, groupCommitWindowMs: 0 });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

describe('STORE on a mailbox another session changes', () => {
  it('answers with the current flags when another session already set the flag (one FETCH, not a stale one)', async () => {
    const { a, b } = await twoSessions(2);
    await b.cmd('b1', 'STORE 1 +FLAGS (\\Seen \\Flagged)');
    const r = await a.cmd('a1', 'STORE 1 +FLAGS (\\Seen)');
    expect(r.at(-1)).toMatch(/^a1 OK/);
    const fetches = untagged(r);
    expect(fetches).toHaveLength(1);
    expect(fetches[0]).toMatch(/^\* 1 FETCH \(FLAGS \((\\Seen \\Flagged|\\Flagged \\Seen)( \\Recent)?\)\)$/);
    // Nothing is told twice.
    expect(untagged(await a.cmd('a2', 'NOOP'))).toEqual([]);
    a.close();
    b.close();
  });

  it('answers NO [EXPUNGEISSUED] when every message named was expunged elsewhere (.SILENT too), and stores the rest of a mixture', async () => {
    const { a, b } = await twoSessions(3);
    await expungeElsewhere(b, 2);

    const only = await a.cmd('a1', 'STORE 2 +FLAGS (\\Seen)');
    expect(untagged(only)).toEqual([]);
    expect(only.at(-1)).toMatch(/^a1 NO \[EXPUNGEISSUED\]/);

    const silent = await a.cmd('a2', 'STORE 2 +FLAGS.SILENT (\\Seen)');
    expect(untagged(silent)).toEqual([]);
    expect(silent.at(-1)).toMatch(/^a2 NO \[EXPUNGEISSUED\]/);

    const mix = await a.cmd('a3', 'STORE 1:3 +FLAGS (\\Answered)');
    expect(mix.at(-1)).toMatch(/^a3 OK/);
    const lines = untagged(mix);
    expect(lines.some((l) => l.startsWith('* 2 '))).toBe(false);
    expect(lines.some((l) => /^\* 1 FETCH \(FLAGS \(\\Answered/.test(l))).toBe(true);
    expect(lines.some((l) => /^\* 3 FETCH \(FLAGS \(\\Answered/.test(l))).toBe(true);

    // The EXPUNGE comes at the next command that may carry it.
    const noop = await a.cmd('a4', 'NOOP');
    expect(noop).toContain('* 2 EXPUNGE');
    const f = await a.cmd('a5', 'FETCH 1:* (FLAGS)');
    expect(untagged(f).every((l) => l.includes('\\Answered'))).toBe(true);
    a.close();
    b.close();
  });

  it('UID STORE naming only an expunged message: the EXPUNGE, then NO', async () => {
    const { a, b } = await twoSessions(3);
    const uid = /UID (\d+)/.exec((await a.cmd('a0', 'FETCH 2 (UID)'))[0] ?? '')?.[1];
    await expungeElsewhere(b, 2);
    const r = await a.cmd('a1', `UID STORE ${uid} +FLAGS (\\Seen)`);
    expect(untagged(r)).toEqual(['* 2 EXPUNGE']);
    expect(r.at(-1)).toMatch(/^a1 NO \[EXPUNGEISSUED\]/);
    a.close();
    b.close();
  });
});

describe('COPY of a message another session expunged (RFC 2180 §4.4.1)', () => {
  it('sends the pending EXPUNGE and answers NO, copying nothing; COPY / UID COPY of the rest then work', async () => {
    const { a, b } = await twoSessions(4);
    await expungeElsewhere(b, 2);

    const mix = await a.cmd('a1', 'COPY 1:2 Trash');
    expect(untagged(mix)).toContain('* 2 EXPUNGE');
    expect(mix.at(-1)).toMatch(/^a1 NO \[EXPUNGEISSUED\]/);
    expect(await b.cmd('b1', 'STATUS Trash (MESSAGES)')).toContain('* STATUS "Trash" (MESSAGES 0)');

    // The client now knows: 1:3 are what is left.
    const okCopy = await a.cmd('a2', 'COPY 1 Trash');
    expect(okCopy.at(-1)).toMatch(/^a2 OK \[COPYUID /);

    // UID COPY the same way.
    const uid = /UID (\d+)/.exec((await a.cmd('a3', 'FETCH 3 (UID)'))[0] ?? '')?.[1];
    await b.cmd('b2', 'NOOP');
    await expungeElsewhere(b, 3);
    const byUid = await a.cmd('a4', `UID COPY ${uid} Trash`);
    expect(untagged(byUid)).toEqual(['* 3 EXPUNGE']);
    expect(byUid.at(-1)).toMatch(/^a4 NO \[EXPUNGEISSUED\]/);
    expect(await b.cmd('b3', 'STATUS Trash (MESSAGES)')).toContain('* STATUS "Trash" (MESSAGES 1)');

    // MOVE answers the same way (nothing moved).
    await b.cmd('b4', 'NOOP');
    await expungeElsewhere(b, 1);
    const mv = await a.cmd('a5', 'MOVE 1 Trash');
    expect(untagged(mv)).toEqual(['* 1 EXPUNGE']);
    expect(mv.at(-1)).toMatch(/^a5 NO \[EXPUNGEISSUED\]/);
    expect(await b.cmd('b5', 'STATUS Trash (MESSAGES)')).toContain('* STATUS "Trash" (MESSAGES 1)');
    a.close();
    b.close();
  });
});

describe('CONDSTORE / QRESYNC', () => {
  it('QRESYNC: FETCH and STORE with MODSEQs while a VANISHED is held back send * OK [HIGHESTMODSEQ n] below its MODSEQ', async () => {
    const { a, b } = await twoSessions(3, { a: 'ENABLE QRESYNC' });
    await expungeElsewhere(b, 3);
    // The expunge's MODSEQ: the mailbox's HIGHESTMODSEQ right after it.
    const st0 = await b.cmd('bm', 'STATUS INBOX (HIGHESTMODSEQ)');
    const expungeModseq = Number(/HIGHESTMODSEQ (\d+)/.exec(st0.find((l) => l.startsWith('* STATUS')) ?? '')?.[1]);
    expect(expungeModseq).toBeGreaterThan(0);
    // A flag change after the expunge: a higher MODSEQ.
    await b.cmd('bf', 'STORE 1 +FLAGS.SILENT (\\Flagged)');

    const f = await a.cmd('a1', 'FETCH 1 (FLAGS)');
    expect(f.some((l) => l.includes('VANISHED'))).toBe(false);
    const update = f.find((l) => /^\* 1 FETCH \(UID \d+ FLAGS \([^)]*\\Flagged[^)]*\) MODSEQ \((\d+)\)\)$/.test(l));
    expect(update).toBeDefined();
    expect(Number(/MODSEQ \((\d+)\)/.exec(update ?? '')?.[1])).toBeGreaterThan(expungeModseq);
    const floor = f.map((l) => /^\* OK \[HIGHESTMODSEQ (\d+)\]/.exec(l)?.[1]).find((x) => x !== undefined);
    expect(Number(floor)).toBeLessThan(expungeModseq);
    // It comes before the tagged OK, after the FETCH responses.
    expect(f.findIndex((l) => l.startsWith('* OK [HIGHESTMODSEQ'))).toBeGreaterThan(f.indexOf(update as string));

    const st = await a.cmd('a2', 'STORE 2 +FLAGS (\\Seen)');
    expect(st.some((l) => /^\* 2 FETCH \(FLAGS \(\\Seen[^)]*\) MODSEQ \(\d+\)\)$/.test(l))).toBe(true);
    const floor2 = st.map((l) => /^\* OK \[HIGHESTMODSEQ (\d+)\]/.exec(l)?.[1]).find((x) => x !== undefined);
    expect(Number(floor2)).toBeLessThan(expungeModseq);

    // NOOP carries the VANISHED; nothing held back any more, no floor.
    const noop = await a.cmd('a3', 'NOOP');
    expect(noop.some((l) => /^\* VANISHED \d+$/.test(l))).toBe(true);
    expect(noop.some((l) => l.startsWith('* OK [HIGHESTMODSEQ'))).toBe(false);
    a.close();
    b.close();
  });

  it('EXPUNGE, UID EXPUNGE and MOVE answer OK [HIGHESTMODSEQ n], n the mailbox HIGHESTMODSEQ; not without CONDSTORE', async () => {
    const { a, b, name } = await twoSessions(5, { a: 'ENABLE QRESYNC' });
    const status = async (tag: string): Promise<number> =>
      Number(/HIGHESTMODSEQ (\d+)/.exec((await b.cmd(tag, 'STATUS INBOX (HIGHESTMODSEQ)')).find((l) => l.startsWith('* STATUS')) ?? '')?.[1]);

    await a.cmd('a1', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
    const ex = await a.cmd('a2', 'EXPUNGE');
    expect(ex.some((l) => /^\* VANISHED \d+$/.test(l))).toBe(true);
    expect(ex.at(-1)).toMatch(/^a2 OK \[HIGHESTMODSEQ \d+\]/);
    expect(Number(/HIGHESTMODSEQ (\d+)/.exec(ex.at(-1) ?? '')?.[1])).toBe(await status('b1'));

    const uid = /UID (\d+)/.exec((await a.cmd('a3', 'FETCH 1 (UID)'))[0] ?? '')?.[1];
    await a.cmd('a4', `UID STORE ${uid} +FLAGS.SILENT (\\Deleted)`);
    const uex = await a.cmd('a5', `UID EXPUNGE ${uid}`);
    expect(uex).toContain(`* VANISHED ${uid}`);
    expect(Number(/^a5 OK \[HIGHESTMODSEQ (\d+)\]/.exec(uex.at(-1) ?? '')?.[1])).toBe(await status('b2'));

    const mv = await a.cmd('a6', 'MOVE 1 Trash');
    expect(mv.some((l) => /^\* OK \[COPYUID /.test(l))).toBe(true);
    expect(Number(/^a6 OK \[HIGHESTMODSEQ (\d+)\]/.exec(mv.at(-1) ?? '')?.[1])).toBe(await status('b3'));

    // A client that never used CONDSTORE gets no HIGHESTMODSEQ (RFC 7162 §3.1.2.1).
    const c = await LineClient.connect(app.port('imap'));
    await c.login(name);
    await c.cmd('c1', 'SELECT INBOX');
    await c.cmd('c2', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
    const plain = await c.cmd('c3', 'EXPUNGE');
    expect(plain.at(-1)).toMatch(/^c3 OK (?!\[)/);
    const plainMove = await c.cmd('c4', 'MOVE 1 Trash');
    expect(plainMove.at(-1)).toMatch(/^c4 OK (?!\[)/);
    a.close();
    b.close();
    c.close();
  });
});

describe('changes made by another process', () => {
  it('reach a session (not in IDLE) at its next command: EXISTS with FETCH, flags with SEARCH, EXPUNGE with UID FETCH', async () => {
    const { user, a, b } = await twoSessions(2);
    b.close();
    const mbId = await otherProcess(async (store) => {
      await storeParsed(store, user.id, message({ subject: 'CLI import' }));
      return (await store.getMailbox(user.id, 'INBOX'))?.id ?? 0;
    });
    const f = await a.cmd('a1', 'FETCH 1 (UID)');
    expect(f).toContain('* 3 EXISTS');
    expect(f.at(-1)).toMatch(/^a1 OK/);

    await otherProcess((store) => store.setFlags(mbId, [2], 'add', ['\\Flagged']));
    const s = await a.cmd('a2', 'SEARCH ALL');
    expect(s.some((l) => /^\* 2 FETCH \(UID 2 FLAGS \(\\Flagged[^)]*\)\)$/.test(l))).toBe(true);

    await otherProcess((store) => store.expunge(mbId, [1]));
    // Not during FETCH (RFC 9051 §7.5.1)...
    const f2 = await a.cmd('a3', 'FETCH 1 (UID)');
    expect(f2.some((l) => l.includes('EXPUNGE'))).toBe(false);
    // ...but with a UID command.
    const u = await a.cmd('a4', 'UID FETCH 1:* (UID)');
    expect(u).toContain('* 1 EXPUNGE');
    expect(untagged(await a.cmd('a5', 'FETCH 1:* (UID)'))).toEqual(['* 1 FETCH (UID 2)', '* 2 FETCH (UID 3)']);
    a.close();
  });

  it('a selected mailbox deleted by another process ends the session at its next command', async () => {
    const name = `ma${++n}`;
    const user = await createUser(app, name);
    await app.store.createMailbox(user.id, 'Work');
    await deliver(app, user, message(), 'Work');
    const a = await LineClient.connect(app.port('imap'));
    await a.login(name);
    expect((await a.cmd('a1', 'SELECT Work')).at(-1)).toMatch(/^a1 OK/);
    await otherProcess((store) => store.deleteMailbox(user.id, 'Work'));
    a.write('a2 FETCH 1 (UID)\r\n');
    const got = await a.waitFor((b) => b.includes('* BYE') || /a2 (OK|NO|BAD)/.test(b));
    expect(got).toContain('* BYE');
    expect(got).not.toMatch(/a2 OK/);
    await a.waitClosed();
    a.close();
  });
});
