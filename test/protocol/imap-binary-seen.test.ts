/**
 * BINARY[...] without PEEK sets \Seen like BODY[...] (RFC 3516 §4.2), but only for a message whose
 * data was sent: when a BINARY item fails (NO [UNKNOWN-CTE], NO [NONEXISTENT]) the message it
 * failed on, and those after it that the command never reached, stay unseen. Over a real socket.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/store/port.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { createUser, deliver, LineClient, message } from './imap-helpers.js';

const UUENCODED = Buffer.from('Subject: uu\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 a\r\n#86)C\r\n`\r\nend\r\n');

describe('IMAP: a failing BINARY FETCH does not mark the message \\Seen', () => {
  let app: TestApp;
  let user: Account;
  let c: LineClient;

  /** The flags the store holds for each UID of a mailbox (what every other session sees). */
  async function seen(mailbox: string): Promise<boolean[]> {
    const mb = await app.store.getMailbox(user.id, mailbox);
    const msgs = await app.store.listMessages(mb!.id);
    return msgs.map((m) => m.flags.includes('\\Seen'));
  }

  beforeAll(async () => {
    app = await startApp();
    user = await createUser(app, 'binseen');
    await app.store.createMailbox(user.id, 'One');
    await deliver(app, user, UUENCODED, 'One');
    await app.store.createMailbox(user.id, 'Three');
    await deliver(app, user, message({ subject: 'a' }), 'Three');
    await deliver(app, user, UUENCODED, 'Three');
    await deliver(app, user, message({ subject: 'c' }), 'Three');
    await app.store.createMailbox(user.id, 'Size');
    await deliver(app, user, message({ subject: 's' }), 'Size');
    await app.store.createMailbox(user.id, 'Ok');
    await deliver(app, user, message({ subject: 'ok' }), 'Ok');
    c = await LineClient.connect(app.port('imap'));
    await c.login('binseen@example.gov.vn');
  });
  afterAll(async () => {
    c?.socket.destroy();
    await app?.stop();
  });

  it('BINARY[] of a part in an unknown Content-Transfer-Encoding: NO [UNKNOWN-CTE], message still unseen', async () => {
    await c.cmd('s1', 'SELECT One');
    const r = await c.cmd('f1', 'FETCH 1 (BINARY[])');
    expect(r.at(-1)).toMatch(/^f1 NO \[UNKNOWN-CTE\]/);
    expect(r.some((l) => l.includes('\\Seen'))).toBe(false);
    const flags = await c.cmd('f2', 'FETCH 1 (FLAGS)');
    expect(flags[0]).toMatch(/^\* 1 FETCH \(FLAGS \((\\Recent)?\)\)$/);
    expect(await seen('One')).toEqual([false]);
  });

  it('FETCH 1:3 BINARY[1] failing on message 2: message 1 is sent and seen, 2 and 3 are not', async () => {
    await c.cmd('s2', 'SELECT Three');
    const r = await c.cmd('f3', 'FETCH 1:3 (BINARY[1])');
    expect(r.at(-1)).toMatch(/^f3 NO \[UNKNOWN-CTE\]/);
    expect(r.join('\n')).toMatch(/^\* 1 FETCH \(BINARY\[1\] \{\d+\}\n[^]*FLAGS \(\\Seen/m);
    expect(r.some((l) => /^\* [23] FETCH/.test(l))).toBe(false);
    expect(await seen('Three')).toEqual([true, false, false]);
    const flags = await c.cmd('f4', 'FETCH 1:3 (FLAGS)');
    expect(flags[0]).toMatch(/^\* 1 FETCH \(FLAGS \(\\Seen/);
    expect(flags[1]).toMatch(/^\* 2 FETCH \(FLAGS \((\\Recent)?\)\)$/);
    expect(flags[2]).toMatch(/^\* 3 FETCH \(FLAGS \((\\Recent)?\)\)$/);
  });

  it('BODY[] with a BINARY.SIZE of a missing part: NO [NONEXISTENT], message still unseen', async () => {
    await c.cmd('s3', 'SELECT Size');
    const r = await c.cmd('f5', 'FETCH 1 (BODY[] BINARY.SIZE[3])');
    expect(r.at(-1)).toMatch(/^f5 NO \[NONEXISTENT\]/);
    expect(await seen('Size')).toEqual([false]);
  });

  it('a BINARY[] that succeeds still sets \\Seen and says so', async () => {
    await c.cmd('s4', 'SELECT Ok');
    const r = await c.cmd('f6', 'FETCH 1 (BINARY[1])');
    expect(r.at(-1)).toMatch(/^f6 OK/);
    expect(r.join('\n')).toMatch(/FLAGS \(\\Seen/);
    expect(await seen('Ok')).toEqual([true]);
  });
});
