/**
 * Thunderbird-style sync (CLIENT-NOTES): CONDSTORE/QRESYNC with ENABLED, VANISHED for
 * expunges, CHANGEDSINCE fetches of flags; driven with imapflow's QRESYNC mode.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImapFlow } from 'imapflow';
import type { Account } from '../../src/store/port.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { createUser, deliver, flow, message, PASSWORD } from './imap-helpers.js';

describe('Thunderbird: CONDSTORE / QRESYNC sync', () => {
  let app: TestApp;
  let user: Account;
  beforeAll(async () => {
    app = await startApp();
    user = await createUser(app, 'sync');
    for (let i = 0; i < 4; i++) await deliver(app, user, message({ subject: `Thư ${i}` }));
  });
  afterAll(async () => app?.stop());

  it('reports VANISHED by UID, flag changes with MODSEQ, and CHANGEDSINCE returns only what changed', async () => {
    const tb = new ImapFlow({
      host: '127.0.0.1',
      port: app.port('imap'),
      secure: false,
      doSTARTTLS: false,
      auth: { user: 'sync', pass: PASSWORD },
      logger: false,
      qresync: true,
    });
    await tb.connect();
    expect(tb.enabled.has('QRESYNC')).toBe(true);
    const mb = await tb.mailboxOpen('INBOX');
    const start = BigInt(mb.highestModseq ?? 0);
    expect(start > 0n).toBe(true);

    const vanished = new Promise<{ uid?: number | undefined; vanished: boolean }>((resolve) => tb.on('expunge', (e) => resolve(e)));
    const flags = new Promise<{ uid?: number | undefined; flags?: Set<string> | undefined }>((resolve) => tb.on('flags', (e) => resolve(e)));

    const other = flow(app, 'sync');
    await other.connect();
    await other.mailboxOpen('INBOX');
    await other.messageFlagsAdd({ uid: '2' }, ['\\Seen'], { uid: true });
    await other.messageDelete({ uid: '3' }, { uid: true });
    await other.logout();

    await tb.noop();
    const v = await vanished;
    expect(v).toMatchObject({ uid: 3, vanished: true });
    const f = await flags;
    expect(f.uid).toBe(2);
    expect(f.flags?.has('\\Seen')).toBe(true);

    const changed: number[] = [];
    for await (const m of tb.fetch('1:*', { uid: true, flags: true }, { uid: true, changedSince: start })) changed.push(m.uid);
    expect(changed).toEqual([2]);
    await tb.logout();
  });
});
