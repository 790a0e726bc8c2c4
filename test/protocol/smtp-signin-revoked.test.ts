/**
 * A submission session signed in keeps sending only while its sign-in holds: each MAIL FROM
 * checks it again, and a password reset, two-factor turned on (for a main-password session) or
 * the removal of the app password the session used ends it with 421 4.7.0. Raw sockets for the
 * exact replies; nodemailer's pooled transport, which keeps its connection between messages, as
 * the real client that would otherwise go on sending.
 */
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppPassword } from '../../src/auth/app-passwords.js';
import { hashPassword } from '../../src/auth/passwords.js';
import type { Account } from '../../src/store/port.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { createUser, message, messagesIn, PASSWORD, sendRaw, SmtpLineClient } from './smtp-helpers.js';

let app: TestApp;
let to: Account;
const audit = { actor: 'test', action: 'test', target: 'x' };

beforeAll(async () => {
  app = await startApp();
  to = await createUser(app.store, 'nhan.revoke@example.gov.vn');
}, 30_000);
afterAll(async () => app?.stop());

const plain = (user: string, password: string): string => Buffer.from(`\0${user}\0${password}`, 'utf8').toString('base64');

async function signedIn(user: string, password = PASSWORD): Promise<SmtpLineClient> {
  const c = await SmtpLineClient.connect(app.port('submissions'), { tls: true });
  await c.read();
  await c.cmd('EHLO client.example');
  expect((await c.cmd(`AUTH PLAIN ${plain(user, password)}`)).code).toBe(235);
  return c;
}

const mail = (from: string, subject: string): string => message({ from, to: 'nhan.revoke@example.gov.vn', subject });

/** The next MAIL FROM ends the session: 421 4.7.0, then the server closes the connection. */
async function endsAtNextMail(c: SmtpLineClient, from: string): Promise<void> {
  const r = await c.cmd(`MAIL FROM:<${from}>`);
  expect(r.code).toBe(421);
  expect(r.text).toMatch(/^4\.7\.0 Quyền đăng nhập đã thay đổi .+ \/ Your sign-in no longer holds/);
  expect((await c.read()).code).toBe(0);
}

describe('submission sessions and a sign-in that no longer holds', () => {
  it('an administrator’s password reset ends a signed-in session at its next MAIL FROM; the old password is refused after', async () => {
    const a = await createUser(app.store, 'datlai.smtp@example.gov.vn');
    const c = await signedIn('datlai.smtp');
    expect((await sendRaw(c, a.address, [to.address], mail(a.address, 'truoc'))).code).toBe(250);
    await app.store.updateAccount(a.id, { passwordHash: await hashPassword('Mat-Khau-Moi#2027') }, audit);
    await endsAtNextMail(c, a.address);
    const again = await SmtpLineClient.connect(app.port('submissions'), { tls: true });
    await again.read();
    await again.cmd('EHLO client.example');
    expect((await again.cmd(`AUTH PLAIN ${plain('datlai.smtp', PASSWORD)}`)).code).toBe(535);
    again.close();
    expect((await messagesIn(app.store, to.id)).map((m) => m.toString()).filter((m) => m.includes('Subject: truoc'))).toHaveLength(1);
  });

  it('turning two-factor on ends a main-password session', async () => {
    const a = await createUser(app.store, 'hailop.smtp@example.gov.vn');
    const c = await signedIn('hailop.smtp');
    expect((await c.cmd(`MAIL FROM:<${a.address}>`)).code).toBe(250);
    await c.cmd('RSET');
    await app.store.updateAccount(a.id, { totpSecret: 'JBSWY3DPEHPK3PXP' }, audit);
    await endsAtNextMail(c, a.address);
  });

  it('removing an app password ends the sessions that used it; another app password’s session and a password change leave it be', async () => {
    const a = await createUser(app.store, 'thietbi.smtp@example.gov.vn');
    await app.store.updateAccount(a.id, { totpSecret: 'JBSWY3DPEHPK3PXP' }, audit);
    const phone = await createAppPassword(app.store, a.id, 'phone', { audit: () => audit });
    const laptop = await createAppPassword(app.store, a.id, 'laptop', { audit: () => audit });
    const onPhone = await signedIn('thietbi.smtp', phone.secret.replace(/ /g, ''));
    const onLaptop = await signedIn('thietbi.smtp', laptop.secret.replace(/ /g, ''));
    // The user's own password change keeps app-password sessions.
    await app.store.updateAccount(a.id, { passwordHash: await hashPassword('Mat-Khau-Moi#2027') }, audit);
    expect((await sendRaw(onPhone, a.address, [to.address], mail(a.address, 'phone-1'))).code).toBe(250);
    await app.store.removeAppPassword(a.id, phone.appPassword.id);
    await endsAtNextMail(onPhone, a.address);
    expect((await sendRaw(onLaptop, a.address, [to.address], mail(a.address, 'laptop-1'))).code).toBe(250);
    onLaptop.close();
  });

  it('nodemailer’s pooled connection stops sending after a suspension', async () => {
    const a = await createUser(app.store, 'tamkhoa.smtp@example.gov.vn');
    const t = nodemailer.createTransport({
      pool: true,
      maxConnections: 1,
      host: '127.0.0.1',
      port: app.port('submissions'),
      secure: true,
      tls: { rejectUnauthorized: false },
      auth: { user: 'tamkhoa.smtp', pass: PASSWORD },
    });
    try {
      const env = { from: a.address, to: to.address, subject: 'pool', text: 'x' };
      await expect(t.sendMail({ ...env, subject: 'pool-1' })).resolves.toMatchObject({ accepted: [to.address] });
      await app.store.updateAccount(a.id, { state: 'suspended', stateReason: 'test' }, audit);
      // The pooled connection's next MAIL FROM gets 421; a new connection is refused at AUTH.
      const err = (await t.sendMail({ ...env, subject: 'pool-2' }).then(
        () => null,
        (e: unknown) => e,
      )) as { responseCode?: number } | null;
      expect(err).not.toBeNull();
      expect([421, 535]).toContain(err?.responseCode);
      const got = (await messagesIn(app.store, to.id)).map((m) => m.toString());
      expect(got.filter((m) => m.includes('Subject: pool-1'))).toHaveLength(1);
      expect(got.filter((m) => m.includes('Subject: pool-2'))).toHaveLength(0);
    } finally {
      t.close();
    }
  });
});
