/**
 * MULTIAPPEND is all or nothing (RFC 3502 §3, durability review): when the second message of
 * a set cannot be stored, the client gets NO, none of the set is in the mailbox, and another
 * session never sees an EXISTS for it (nor the EXPUNGE of an undo). A retry stores each once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/store/port.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { messagesIn } from '../helpers/messages.js';
import { failInserts } from '../helpers/sqlite-faults.js';
import { createUser, LineClient, message } from './imap-helpers.js';

describe('MULTIAPPEND atomicity', () => {
  let app: TestApp;
  let user: Account;
  beforeAll(async () => {
    app = await startApp();
    user = await createUser(app, 'multiappend');
  });
  afterAll(async () => app?.stop());

  /** MULTIAPPEND of `msgs` to INBOX with non-synchronising literals; the tagged reply's lines. */
  async function multiAppend(c: LineClient, tag: string, msgs: Buffer[]): Promise<string[]> {
    c.write(`${tag} APPEND INBOX`);
    for (const m of msgs) {
      c.write(` (\\Seen) {${m.length}+}\r\n`);
      c.write(m);
    }
    c.write('\r\n');
    return c.until(tag);
  }

  it('a failure of the second message stores none, answers NO, and shows nothing to another session', async () => {
    const first = message({ subject: 'mot', body: 'Thư thứ nhất' });
    const second = message({ subject: 'hai', body: 'Thư thứ hai, dài hơn thư thứ nhất một chút.' });
    const control = message({ subject: 'kiem tra', body: 'Thư kiểm tra, dài hơn hẳn hai thư kia để có kích thước khác.' });
    expect(new Set([first.length, second.length, control.length]).size).toBe(3);

    const watcher = await LineClient.connect(app.port('imap'));
    await watcher.login('multiappend');
    await watcher.cmd('s', 'SELECT INBOX');
    watcher.write('w IDLE\r\n');
    await watcher.waitFor((b) => b.includes('+ '));
    watcher.take();

    const c = await LineClient.connect(app.port('imap'));
    await c.login('multiappend');
    // The second message's row cannot be written (a disk error in the middle of the set).
    const restore = failInserts(app.dir, 'messages', `NEW.size = ${second.length}`);
    let r: string[];
    try {
      r = await multiAppend(c, 'm1', [first, second]);
    } finally {
      restore();
    }
    expect(r.at(-1)).toMatch(/^m1 NO /);
    expect(await messagesIn(app.store, user.id)).toHaveLength(0);

    // Events are delivered in order: once the watcher sees the control message, it has seen
    // everything the failed set could have shown it.
    const ok = await c.cmd('a2', `APPEND INBOX {${control.length}+}\r\n${control.toString()}`);
    expect(ok.at(-1)).toMatch(/^a2 OK \[APPENDUID \d+ \d+\]/);
    await watcher.waitFor((b) => /\* \d+ EXISTS\r\n/.test(b));
    const seen = watcher.take().split('\r\n').filter((l) => /^\* \d+ (EXISTS|EXPUNGE)$/.test(l));
    expect(seen).toEqual(['* 1 EXISTS']);

    // The client's retry of the set stores each message once.
    const again = await multiAppend(c, 'm3', [first, second]);
    expect(again.at(-1)).toMatch(/^m3 OK \[APPENDUID \d+ \d+:\d+\]/);
    const subjects = (await messagesIn(app.store, user.id)).map((m) => /^Subject: (.*)$/m.exec(m.toString())?.[1]?.trim());
    expect(subjects).toEqual(['kiem tra', 'mot', 'hai']);

    watcher.write('DONE\r\n');
    await watcher.until('w');
    watcher.close();
    c.close();
  });
});
