/** Behaviours real clients rely on (../shared/CLIENT-NOTES.md); each test names the client. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/store/port.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { createUser, LineClient, message } from './imap-helpers.js';

describe('client behaviours', () => {
  let app: TestApp;
  let user: Account;
  let c: LineClient;
  beforeAll(async () => {
    app = await startApp();
    user = await createUser(app, 'vanthu');
    c = await LineClient.connect(app.port('imap'));
    await c.login('vanthu');
  });
  afterAll(async () => {
    c?.close();
    await app?.stop();
  });

  it('Outlook: "Sent Items" / "Deleted Items" reach our special-use folders instead of stray copies', async () => {
    const raw = message({ subject: 'Outlook sent' });
    c.write(`a APPEND "Sent Items" (\\Seen) {${raw.length}+}\r\n`);
    c.write(raw);
    c.write('\r\n');
    expect((await c.until('a')).at(-1)).toMatch(/^a OK \[APPENDUID \d+ 1\]/);
    const sent = await app.store.getMailbox(user.id, 'Sent');
    expect((await app.store.mailboxStatus(sent?.id ?? 0)).messages).toBe(1);
    expect(await app.store.getMailbox(user.id, 'Sent Items')).toBeNull();
    const st = await c.cmd('s', 'STATUS "Deleted Items" (MESSAGES)');
    expect(st[0]).toBe('* STATUS "Deleted Items" (MESSAGES 0)');
  });

  it('Outlook and old Thunderbird: every folder, new or special-use, is subscribed (LSUB shows it)', async () => {
    await c.cmd('c', 'CREATE "Ph&AOI-ng/T&Hs8- ch&Hu8-c"'); // "Phòng/Tổ chức" in modified UTF-7
    const lsub = await c.cmd('l', 'LSUB "" "*"');
    const names = lsub.filter((l) => l.startsWith('* LSUB')).map((l) => l.replace(/^\* LSUB \([^)]*\) "\/" /, ''));
    expect(names).toEqual(expect.arrayContaining(['"INBOX"', '"Sent"', '"Drafts"', '"Trash"', '"Junk"', '"Archive"', '"Ph&AOI-ng"', '"Ph&AOI-ng/T&Hs8- ch&Hu8-c"']));
  });

  it('Thunderbird: draft saving by APPEND then UID EXPUNGE of the old draft keeps the new one', async () => {
    let last = 0;
    for (let i = 0; i < 5; i++) {
      const raw = message({ subject: `Nháp ${i}` });
      c.write(`d${i} APPEND Drafts (\\Draft) {${raw.length}+}\r\n`);
      c.write(raw);
      c.write('\r\n');
      const r = (await c.until(`d${i}`)).at(-1) ?? '';
      const uid = Number(/APPENDUID \d+ (\d+)/.exec(r)?.[1]);
      expect(uid).toBeGreaterThan(last);
      if (last > 0) {
        await c.cmd(`s${i}`, 'SELECT Drafts');
        await c.cmd(`f${i}`, `UID STORE ${last} +FLAGS.SILENT (\\Deleted)`);
        await c.cmd(`x${i}`, `UID EXPUNGE ${last}`);
      }
      last = uid;
    }
    const f = await c.cmd('all', 'UID FETCH 1:* (UID)');
    expect(f.filter((l) => l.startsWith('*'))).toEqual([`* 1 FETCH (UID ${last})`]);
  });

  it('Every client: an unknown command or a broken line gets BAD and the session goes on', async () => {
    const r = await c.cmd('z1', 'FROBNICATE');
    expect(r.at(-1)).toMatch(/^z1 BAD/);
    const r2 = await c.cmd('z2', 'FETCH (');
    expect(r2.at(-1)).toMatch(/^z2 BAD/);
    const ok = await c.cmd('z3', 'NOOP');
    expect(ok.at(-1)).toMatch(/^z3 OK/);
  });
});
