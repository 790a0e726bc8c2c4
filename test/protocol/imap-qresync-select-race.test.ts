/**
 * SELECT … (QRESYNC …) with a message expunged while the SELECT runs, after its listing was read
 * and before the changes since the client's MODSEQ are: that message is counted in EXISTS, so
 * VANISHED (EARLIER) must not name it; a plain VANISHED does, once
 * (RFC 7162 §3.2.5.1). The expunge is made at that very point by wrapping the store's
 * changesSince for the one call.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import { createUser, deliver, LineClient, message } from './imap-helpers.js';

let app: TestApp;
beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => app?.stop());

describe('SELECT QRESYNC racing an expunge', () => {
  it('VANISHED (EARLIER) names only what the listing left out; the late one is told once, by a plain VANISHED', async () => {
    const user = await createUser(app, 'qrace');
    for (let i = 1; i <= 3; i++) await deliver(app, user, message({ subject: `Thư ${i}` }));
    const box = await app.store.getMailbox(user.id, 'INBOX');
    if (!box) throw new Error('no INBOX');
    const c = await LineClient.connect(app.port('imap'));
    await c.login('qrace');
    await c.cmd('e1', 'ENABLE QRESYNC');
    const first = await c.cmd('s1', 'SELECT INBOX');
    const modseq = Number(/HIGHESTMODSEQ (\d+)/.exec(first.join('\n'))?.[1]);
    await c.cmd('u1', 'UNSELECT');
    // While the client was away: message 1 expunged.
    await app.store.expunge(box.id, [1]);

    // During the next SELECT, after its listing: message 2 expunged.
    const original = app.store.changesSince.bind(app.store);
    app.store.changesSince = async (id, since) => {
      // SELECT's own listing may ask too (since the listing cached at the first SELECT, `modseq`);
      // the QRESYNC ask is since the MODSEQ the client gives, one lower.
      if (since !== modseq - 1) return original(id, since);
      app.store.changesSince = original;
      await app.store.expunge(box.id, [2]);
      return original(id, since);
    };
    const again = await c.cmd('s2', `SELECT INBOX (QRESYNC (${box.uidValidity} ${modseq - 1}))`);
    expect(again).toContain('* 2 EXISTS'); // messages 2 and 3, as the listing read them
    const next = await c.cmd('n1', 'NOOP');
    // Message 1 as EARLIER; message 2 once, as a plain VANISHED (at the end of the SELECT or at the NOOP).
    expect([...again, ...next].filter((l) => l.startsWith('* VANISHED'))).toEqual(['* VANISHED (EARLIER) 1', '* VANISHED 2']);
    c.close();
  });
});
