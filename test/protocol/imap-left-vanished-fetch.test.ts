/**
 * UID FETCH … (CHANGEDSINCE m VANISHED) (RFC 7162 §3.2.6): a message expunged since m is reported
 * in VANISHED (EARLIER) only, never also as a FETCH response, even while this session's view
 * still holds it (another session expunged it and this one was not told yet). Any VANISHED
 * (EARLIER) comes before every FETCH response.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import type { Account } from '../../src/store/port.js';
import { ImapFlow } from 'imapflow';
import { createUser, deliver, LineClient, message, PASSWORD } from './imap-helpers.js';

describe('UID FETCH (CHANGEDSINCE VANISHED) and messages expunged by another session', () => {
  let app: TestApp;
  let user: Account;
  beforeAll(async () => {
    app = await startApp();
    user = await createUser(app, 'hungdq');
    for (let i = 1; i <= 5; i++) await deliver(app, user, message({ subject: `Thư ${i}` }));
  });
  afterAll(async () => app?.stop());

  it('lists the expunged UIDs in VANISHED (EARLIER) only, before the FETCH responses', async () => {
    const a = await LineClient.connect(app.port('imap'));
    await a.login('hungdq');
    await a.cmd('a0', 'ENABLE QRESYNC');
    const sel = (await a.cmd('a1', 'SELECT INBOX')).join('\n');
    const m = Number(/HIGHESTMODSEQ (\d+)/.exec(sel)?.[1]);
    expect(m).toBeGreaterThan(0);
    // This session changes messages 2 and 3 (its view then holds MODSEQs above m for them)…
    await a.cmd('a2', 'UID STORE 2 +FLAGS.SILENT (\\Flagged)');
    await a.cmd('a3', 'UID STORE 3,4 +FLAGS.SILENT (\\Deleted)');

    // …and another session expunges 3 and 4 before this one hears of it.
    const b = await LineClient.connect(app.port('imap'));
    await b.login('hungdq');
    await b.cmd('b1', 'SELECT INBOX');
    expect((await b.cmd('b2', 'EXPUNGE')).at(-1)).toMatch(/^b2 OK/);
    b.close();

    const r = await a.cmd('a4', `UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${m} VANISHED)`);
    const fetches = r.filter((l) => / FETCH \(/.test(l));
    expect(fetches.some((l) => /UID [34]\b/.test(l))).toBe(false);
    expect(fetches).toHaveLength(1);
    expect(fetches[0]).toMatch(/UID 2\b.*\\Flagged/);
    const earlier = r.indexOf('* VANISHED (EARLIER) 3:4');
    expect(earlier).toBeGreaterThanOrEqual(0);
    expect(earlier).toBeLessThan(r.indexOf(fetches[0] as string));
    expect(r.at(-1)).toMatch(/^a4 OK/);

    // The session learns of the expunge the ordinary way (VANISHED without EARLIER), once.
    const all = (await a.cmd('a5', 'NOOP')).concat(r).filter((l) => l === '* VANISHED 3:4');
    expect(all).toHaveLength(1);
    const f = await a.cmd('a6', 'FETCH 1:* (UID)');
    expect(f.filter((l) => l.startsWith('* '))).toEqual(['* 1 FETCH (UID 1)', '* 2 FETCH (UID 2)', '* 3 FETCH (UID 5)']);
    a.close();
  });

  it('imapflow (QRESYNC) fetching with changedSince gets no message that is gone', async () => {
    const c = new ImapFlow({ host: '127.0.0.1', port: app.port('imap'), secure: false, auth: { user: 'hungdq', pass: PASSWORD }, logger: false, qresync: true, doSTARTTLS: false, tls: { rejectUnauthorized: false } });
    await c.connect();
    expect(c.enabled.has('QRESYNC')).toBe(true);
    const mb = await c.mailboxOpen('INBOX');
    const since = BigInt(mb.highestModseq ?? 0n);
    await c.messageFlagsAdd('5', ['\\Deleted'], { uid: true });
    const other = await LineClient.connect(app.port('imap'));
    await other.login('hungdq');
    await other.cmd('o1', 'SELECT INBOX');
    await other.cmd('o2', 'EXPUNGE');
    other.close();
    const got: number[] = [];
    const vanished: number[] = [];
    c.on('expunge', (e: { uid?: number; vanished?: boolean; earlier?: boolean }) => {
      if (e.uid !== undefined) vanished.push(e.uid);
    });
    for await (const msg of c.fetch('1:*', { uid: true, flags: true }, { uid: true, changedSince: since })) got.push(msg.uid);
    expect(got).not.toContain(5);
    expect(vanished).toContain(5);
    await c.logout();
  });
});
