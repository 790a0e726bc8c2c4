/**
 * Open IMAP sessions end when the sign-in they rest on no longer holds (imap.signInCheckMs):
 * an administrator's suspension or password reset, two-factor turned on for a main-password
 * session, or the removal of the app password a session used. Other sessions go on. Raw sockets:
 * the check must reach a session sitting in IDLE, where the client sends nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppPassword } from '../../src/auth/app-passwords.js';
import { hashPassword } from '../../src/auth/passwords.js';
import { createTestAccount, PASSWORD } from '../helpers/accounts.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { LineClient } from './imap-helpers.js';

let app: TestApp;
beforeAll(async () => {
  app = await startApp({ imap: { signInCheckMs: 50 } });
});
afterAll(async () => app?.stop());

const audit = { actor: 'test', action: 'test', target: 'x' };

async function idling(user: string, password = PASSWORD): Promise<LineClient> {
  const c = await LineClient.connect(app.port('imap'));
  await c.login(user, password);
  await c.cmd('S1', 'SELECT INBOX');
  c.write('I1 IDLE\r\n');
  await c.waitFor((b) => b.includes('+ '));
  c.take();
  return c;
}

async function endedWithBye(c: LineClient): Promise<string> {
  await c.waitClosed();
  return c.take();
}

describe('open IMAP sessions and a sign-in that no longer holds', () => {
  it('a suspension ends the account’s sessions, in IDLE too; another account’s go on', async () => {
    const a = await createTestAccount(app.store, 'tamkhoa.imap@example.gov.vn');
    await createTestAccount(app.store, 'khac.imap@example.gov.vn');
    const mine = await idling('tamkhoa.imap');
    const other = await idling('khac.imap');
    await app.store.updateAccount(a.id, { state: 'suspended', stateReason: 'test' }, audit);
    expect(await endedWithBye(mine)).toMatch(/^\* BYE .*sign in again\r\n$/m);
    other.write('DONE\r\n');
    expect((await other.until('I1')).at(-1)).toMatch(/^I1 OK/);
    other.close();
  });

  it('a password reset ends main-password sessions; turning two-factor on does too', async () => {
    const a = await createTestAccount(app.store, 'datlai.imap@example.gov.vn');
    const s1 = await idling('datlai.imap');
    await app.store.updateAccount(a.id, { passwordHash: await hashPassword('Mat-Khau-Moi#2027') }, audit);
    expect(await endedWithBye(s1)).toContain('* BYE');
    const b = await createTestAccount(app.store, 'haiLop.imap@example.gov.vn');
    const s2 = await idling('hailop.imap');
    await app.store.updateAccount(b.id, { totpSecret: 'JBSWY3DPEHPK3PXP' }, audit);
    expect(await endedWithBye(s2)).toContain('* BYE');
  });

  it('removing an app password ends the sessions that used it, not those of another app password', async () => {
    const a = await createTestAccount(app.store, 'thietbi.imap@example.gov.vn');
    await app.store.updateAccount(a.id, { totpSecret: 'JBSWY3DPEHPK3PXP' }, audit);
    const phone = await createAppPassword(app.store, a.id, 'phone', { audit: () => audit });
    const laptop = await createAppPassword(app.store, a.id, 'laptop', { audit: () => audit });
    const onPhone = await idling('thietbi.imap', phone.secret.replace(/ /g, ''));
    const onLaptop = await idling('thietbi.imap', laptop.secret.replace(/ /g, ''));
    // A password change by the user keeps app-password sessions (and the app passwords).
    await app.store.updateAccount(a.id, { passwordHash: await hashPassword('Mat-Khau-Moi#2027') }, audit);
    await app.store.removeAppPassword(a.id, phone.appPassword.id);
    expect(await endedWithBye(onPhone)).toContain('* BYE');
    onLaptop.write('DONE\r\n');
    expect((await onLaptop.until('I1')).at(-1)).toMatch(/^I1 OK/);
    expect((await onLaptop.cmd('N1', 'NOOP')).at(-1)).toMatch(/^N1 OK/);
    onLaptop.close();
  });
});
