/**
 * A session whose selected mailbox is deleted elsewhere (imap-left-deleted-mailbox.test.ts) is
 * ended with BYE, but only when that is safe and useful:
 *  - never while the client is partway through sending a command (an APPEND's literal): the
 *    command arrives whole first;
 *  - commands that do not need the selected mailbox still run and are answered (APPEND to another
 *    folder, STATUS, LIST, LOGOUT...); SELECT/EXAMINE move to the new mailbox and UNSELECT/CLOSE
 *    just leave the gone one, with no BYE;
 *  - commands that need it (FETCH, STORE, SEARCH, COPY, MOVE, EXPUNGE, UID..., IDLE, NOOP) get the
 *    BYE instead of running.
 * A SELECT racing a DELETE never answers OK for a mailbox that is gone.
 * "Partway" is made deterministic here by sending the start of a command, deleting the mailbox,
 * then sending the rest.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import type { Account } from '../../src/store/port.js';
import { createUser, deliver, LineClient, message } from './imap-helpers.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('commands around the deletion of the selected mailbox', () => {
  let app: TestApp;
  let user: Account;
  beforeAll(async () => {
    // No periodic sign-in check: only the deletion may end the sessions here.
    app = await startApp({ imap: { signInCheckMs: 0 } });
    user = await createUser(app, 'hoangvm');
  });
  afterAll(async () => app?.stop());

  async function mailboxWithMail(name: string): Promise<void> {
    await app.store.createMailbox(user.id, name, { subscribed: true });
    await deliver(app, user, message({ subject: `Thư trong ${name}` }), name);
  }

  async function count(name: string): Promise<number> {
    const mb = await app.store.getMailbox(user.id, name);
    return mb ? (await app.store.mailboxStatus(mb.id)).messages : -1;
  }

  /** A session with `name` selected. */
  async function onMailbox(name: string): Promise<LineClient> {
    const c = await LineClient.connect(app.port('imap'));
    await c.login('hoangvm');
    expect((await c.cmd('s', `SELECT "${name}"`)).at(-1)).toMatch(/^s OK/);
    return c;
  }

  /** Send the start of a command and give it time to reach the server's parser. */
  async function partial(c: LineClient, text: string): Promise<void> {
    c.write(text);
    await sleep(50);
  }

  /** Delete `name` as another session/admin would, and give the hub time to tell the sessions. */
  async function deleteElsewhere(name: string): Promise<void> {
    await app.store.deleteMailbox(user.id, name);
    await sleep(100);
  }

  it('an APPEND whose literal is split around the deletion completes, the message is stored, then BYE', async () => {
    await mailboxWithMail('Open1');
    await app.store.createMailbox(user.id, 'Drafts1', { subscribed: true });
    const c = await onMailbox('Open1');
    const body = message({ subject: 'Bản nháp đang gửi', body: 'Nội dung thư nháp.' });
    c.write(`ap APPEND Drafts1 {${body.length}}\r\n`);
    await c.waitFor((b) => b.includes('+ '));
    c.take();
    c.write(body.subarray(0, 40));
    await sleep(30);
    await deleteElsewhere('Open1');
    expect(c.take()).not.toContain('BYE'); // not while the literal is coming
    expect(c.closed).toBe(false);
    c.write(Buffer.concat([body.subarray(40), Buffer.from('\r\n')]));
    const got = await c.waitFor((b) => /ap (OK|NO|BAD)/.test(b) && b.includes('* BYE'));
    expect(got).toMatch(/ap OK \[APPENDUID \d+ 1\]/);
    expect(got.indexOf('* BYE')).toBeGreaterThan(got.indexOf('ap OK'));
    await c.waitClosed();
    expect(await count('Drafts1')).toBe(1);
  });

  it('the same with a non-synchronising literal (LITERAL+)', async () => {
    await mailboxWithMail('Open2');
    await app.store.createMailbox(user.id, 'Drafts2', { subscribed: true });
    const c = await onMailbox('Open2');
    const body = message({ subject: 'LITERAL+' });
    c.write(Buffer.concat([Buffer.from(`ap APPEND Drafts2 (\\Seen) {${body.length}+}\r\n`), body.subarray(0, 30)]));
    await sleep(30);
    await deleteElsewhere('Open2');
    expect(c.take()).not.toContain('BYE');
    c.write(Buffer.concat([body.subarray(30), Buffer.from('\r\n')]));
    const got = await c.waitFor((b) => /ap (OK|NO|BAD)/.test(b) && b.includes('* BYE'));
    expect(got).toMatch(/ap OK/);
    await c.waitClosed();
    expect(await count('Drafts2')).toBe(1);
  });

  it('pipelined commands after the deletion: STATUS, APPEND to another folder and LIST run; the FETCH after them gets the BYE', async () => {
    await mailboxWithMail('Open3');
    await app.store.createMailbox(user.id, 'Other3', { subscribed: true });
    const c = await onMailbox('Open3');
    const body = message({ subject: 'Gửi sau khi xóa' });
    await partial(c, 'a0 STATUS Other3 (MESSAGES'); // partway through a command
    await deleteElsewhere('Open3');
    expect(c.take()).not.toContain('BYE');
    c.write(Buffer.concat([
      Buffer.from(`)\r\na1 APPEND Other3 {${body.length}+}\r\n`),
      body,
      Buffer.from('\r\na2 LIST "" "Other3"\r\na3 FETCH 1 (UID)\r\na4 NOOP\r\n'),
    ]));
    await c.waitClosed();
    const got = c.take();
    expect(got).toMatch(/\* STATUS "?Other3"? \(MESSAGES 0\)\r\na0 OK/);
    expect(got).toMatch(/a1 OK \[APPENDUID \d+ 1\]/);
    expect(got).toMatch(/\* LIST .*Other3.*\r\na2 OK/);
    expect(got).toMatch(/\* BYE .*(deleted|xóa)/);
    expect(got.indexOf('* BYE')).toBeGreaterThan(got.indexOf('a2 OK'));
    expect(got).not.toMatch(/a3 (OK|NO|BAD)|\* 1 FETCH|a4 /);
    expect(await count('Other3')).toBe(1);
  });

  it('SELECT of another mailbox after the deletion works, with no BYE', async () => {
    await mailboxWithMail('Open4');
    await mailboxWithMail('Next4');
    const c = await onMailbox('Open4');
    await partial(c, 's2 SELECT Ne');
    await deleteElsewhere('Open4');
    c.write('xt4\r\n');
    const r = await c.until('s2');
    expect(r.join('\n')).not.toContain('BYE');
    expect(r).toContain('* 1 EXISTS');
    expect(r.at(-1)).toMatch(/^s2 OK \[READ-WRITE\]/);
    expect(await c.cmd('f', 'FETCH 1 (UID)')).toEqual(['* 1 FETCH (UID 1)', expect.stringMatching(/^f OK/)]);
    const n = await c.cmd('n', 'NOOP');
    expect(n.join('\n')).not.toContain('BYE');
    expect(n.at(-1)).toMatch(/^n OK/);
    c.close();
  });

  it('EXAMINE of another mailbox after the deletion works too', async () => {
    await mailboxWithMail('Open5');
    await mailboxWithMail('Next5');
    const c = await onMailbox('Open5');
    await partial(c, 'e EXAM');
    await deleteElsewhere('Open5');
    c.write('INE Next5\r\n');
    const r = await c.until('e');
    expect(r.join('\n')).not.toContain('BYE');
    expect(r.at(-1)).toMatch(/^e OK \[READ-ONLY\]/);
    c.close();
  });

  it('UNSELECT and CLOSE after the deletion just leave the gone mailbox: OK, no BYE, signed in', async () => {
    for (const [i, command] of ['UNSELECT', 'CLOSE'].entries()) {
      const name = `Open6${i}`;
      await mailboxWithMail(name);
      const c = await onMailbox(name);
      await c.cmd('d', 'STORE 1 +FLAGS.SILENT (\\Deleted)'); // CLOSE would expunge it
      await partial(c, `u ${command.slice(0, 3)}`);
      await deleteElsewhere(name);
      c.write(`${command.slice(3)}\r\n`);
      const r = await c.until('u');
      expect(r.join('\n'), command).not.toContain('BYE');
      expect(r.at(-1), command).toMatch(/^u OK/);
      const n = await c.cmd('n', 'NOOP');
      expect(n.join('\n'), command).not.toContain('BYE');
      expect(n.at(-1), command).toMatch(/^n OK/);
      expect((await c.cmd('f', 'FETCH 1 (UID)')).at(-1), command).toMatch(/^f BAD/); // nothing selected
      expect((await c.cmd('l', 'LIST "" "*"')).join('\n'), command).not.toContain(name);
      c.close();
    }
  });

  it('LOGOUT after the deletion is answered as usual', async () => {
    await mailboxWithMail('Open7');
    const c = await onMailbox('Open7');
    await partial(c, 'lo LOG');
    await deleteElsewhere('Open7');
    c.write('OUT\r\n');
    const r = await c.until('lo');
    expect(r.at(-1)).toMatch(/^lo OK/);
    expect(r.join('\n')).not.toMatch(/deleted|xóa/);
    await c.waitClosed();
  });

  it('FETCH (and UID FETCH) after the deletion still get the BYE, never an answer', async () => {
    for (const command of ['FETCH 1 (UID FLAGS)', 'UID FETCH 1:* (FLAGS)', 'STORE 1 +FLAGS (\\Seen)', 'EXPUNGE']) {
      const name = `Open8${command.length}`;
      await mailboxWithMail(name);
      const c = await onMailbox(name);
      await partial(c, `f ${command.slice(0, 4)}`);
      await deleteElsewhere(name);
      expect(c.take(), command).not.toContain('BYE');
      c.write(`${command.slice(4)}\r\n`);
      await c.waitClosed();
      const got = c.take();
      expect(got, command).toMatch(/\* BYE .*(deleted|xóa)/);
      expect(got, command).not.toMatch(/f (OK|NO|BAD)|\* 1 FETCH/);
    }
  });

  it('between commands with nothing pending, the BYE still comes at once', async () => {
    await mailboxWithMail('Open9');
    const c = await onMailbox('Open9');
    await app.store.deleteMailbox(user.id, 'Open9');
    await c.waitFor((b) => b.includes('* BYE'));
    await c.waitClosed();
  });

  it('a DELETE landing between the SELECT status read and the watch: SELECT answers NO [NONEXISTENT], the session stays usable', async () => {
    await mailboxWithMail('Racy');
    const c = await LineClient.connect(app.port('imap'));
    await c.login('hoangvm');
    const orig = app.store.mailboxStatus.bind(app.store);
    const spy = vi.spyOn(app.store, 'mailboxStatus').mockImplementation(async (id: number) => {
      const st = await orig(id);
      spy.mockRestore();
      await app.store.deleteMailbox(user.id, 'Racy'); // another session's DELETE, committed now
      await sleep(20); // its event is handled before this session watches the mailbox
      return st;
    });
    try {
      const r = await c.cmd('s', 'SELECT Racy');
      expect(r.at(-1)).toMatch(/^s NO \[NONEXISTENT\]/);
      expect(r.join('\n')).not.toContain('BYE');
    } finally {
      spy.mockRestore();
    }
    const n = await c.cmd('n', 'NOOP');
    expect(n.join('\n')).not.toContain('BYE');
    expect(n.at(-1)).toMatch(/^n OK/);
    expect((await c.cmd('f', 'FETCH 1 (UID)')).at(-1)).toMatch(/^f BAD/); // nothing selected
    expect((await c.cmd('s2', 'SELECT INBOX')).at(-1)).toMatch(/^s2 OK/);
    c.close();
  });
});
