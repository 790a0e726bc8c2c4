/**
 * A POP3 session signed in acts only while its sign-in holds (pop3.signInCheckMs): QUIT always
 * checks before it deletes, other commands once the last check is older than the setting. A
 * session whose sign-in no longer holds ends with -ERR [AUTH] (RFC 3206) and deletes nothing.
 * Python's poplib as the real client that marks a message deleted and quits after a suspension;
 * the raw client for the exact replies of the other cases.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppPassword } from '../../src/auth/app-passwords.js';
import { hashPassword } from '../../src/auth/passwords.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { deliver, makeAccount, PASSWORD, Pop3Client, simpleMessage } from '../helpers/pop3-fixtures.js';

const CHECK_MS = 100;
let app: TestApp;
beforeAll(async () => {
  app = await startApp({ pop3: { signInCheckMs: CHECK_MS } });
});
afterAll(async () => app?.stop());

const audit = { actor: 'test', action: 'test', target: 'x' };
const GONE = /^-ERR \[AUTH\] Quyền đăng nhập đã thay đổi .+ \/ Your sign-in no longer holds/;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function inboxCount(accountId: number): Promise<number> {
  const inbox = await app.store.getMailbox(accountId, 'INBOX');
  return inbox ? (await app.store.listMessages(inbox.id)).length : -1;
}

/** poplib signs in, marks message 1 deleted, prints "ready", waits for a line, then QUITs. */
const PY = `
import poplib, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=30)
p.user(sys.argv[2]); p.pass_(sys.argv[3])
p.dele(1)
print("ready", flush=True)
sys.stdin.readline()
try:
    print("quit:" + p.quit().decode())
except poplib.error_proto as e:
    print("error:" + e.args[0].decode())
`;

describe('POP3 sessions and a sign-in that no longer holds', () => {
  it('poplib: a suspension between DELE and QUIT ends the session with -ERR [AUTH]; nothing is deleted', async () => {
    const a = await makeAccount(app.store, 'tamkhoa.pop@example.gov.vn');
    await deliver(app.store, a, simpleMessage('Mot', 'mot\r\n'));
    await deliver(app.store, a, simpleMessage('Hai', 'hai\r\n'));
    const py = spawn('python3', ['-c', PY, String(app.port('pop3')), 'tamkhoa.pop', PASSWORD], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    const exited = new Promise<number | null>((resolve) => py.on('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      py.stdout.on('data', (d: Buffer) => {
        out += d.toString('utf8');
        if (out.includes('ready')) resolve();
      });
      py.on('exit', () => reject(new Error(`poplib ended early: ${out}`)));
    });
    await app.store.updateAccount(a.id, { state: 'suspended', stateReason: 'test' }, audit);
    py.stdin.end('go\n');
    expect(await exited).toBe(0);
    expect(out).toMatch(/error:-ERR \[AUTH\] Quyền đăng nhập đã thay đổi .+ \/ Your sign-in no longer holds/);
    expect(await inboxCount(a.id)).toBe(2);
  });

  it('a password reset ends a main-password session at its next command past pop3.signInCheckMs', async () => {
    const a = await makeAccount(app.store, 'datlai.pop@example.gov.vn');
    await deliver(app.store, a, simpleMessage('Mot', 'mot\r\n'));
    const c = await Pop3Client.open(app.port('pop3'));
    await c.line();
    expect(await c.login('datlai.pop')).toMatch(/^\+OK /);
    expect(await c.cmd('DELE 1')).toMatch(/^\+OK/);
    await app.store.updateAccount(a.id, { passwordHash: await hashPassword('Mat-Khau-Moi#2027') }, audit);
    await sleep(CHECK_MS + 50);
    expect(await c.cmd('STAT')).toMatch(GONE);
    await c.waitClosed();
    expect(await inboxCount(a.id)).toBe(1);
  });

  it('removing an app password ends the session that used it; another app password’s session goes on and its QUIT deletes', async () => {
    const a = await makeAccount(app.store, 'thietbi.pop@example.gov.vn');
    await deliver(app.store, a, simpleMessage('Mot', 'mot\r\n'));
    await app.store.updateAccount(a.id, { totpSecret: 'JBSWY3DPEHPK3PXP' }, audit);
    const phone = await createAppPassword(app.store, a.id, 'phone', { audit: () => audit });
    const laptop = await createAppPassword(app.store, a.id, 'laptop', { audit: () => audit });
    const onPhone = await Pop3Client.open(app.port('pop3'));
    await onPhone.line();
    expect(await onPhone.login('thietbi.pop', phone.secret.replace(/ /g, ''))).toMatch(/^\+OK /);
    await app.store.removeAppPassword(a.id, phone.appPassword.id);
    await sleep(CHECK_MS + 50);
    expect(await onPhone.cmd('LIST')).toMatch(GONE);
    await onPhone.waitClosed();
    // The phone's session ended and released the maildrop lock: the laptop signs in.
    const onLaptop = await Pop3Client.open(app.port('pop3'));
    await onLaptop.line();
    expect(await onLaptop.login('thietbi.pop', laptop.secret.replace(/ /g, ''))).toMatch(/^\+OK /);
    await sleep(CHECK_MS + 50);
    expect(await onLaptop.cmd('STAT')).toMatch(/^\+OK 1 /);
    expect(await onLaptop.cmd('DELE 1')).toMatch(/^\+OK/);
    expect(await onLaptop.cmd('QUIT')).toMatch(/^\+OK /);
    await onLaptop.waitClosed();
    expect(await inboxCount(a.id)).toBe(0);
  });
});
