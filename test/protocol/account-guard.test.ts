/**
 * One account guessed from many addresses (security.accountGuard*), end to end: wrong passwords
 * reach /portal/security from several networks through a trusted HTTPS proxy; past the limit a
 * network that guessed is refused unchecked for a while (429, listed among refused attempts),
 * while a new network that guessed nothing and the network the user reads mail from (IMAP over
 * loopback, imapflow) are never held back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestAccount, PASSWORD } from '../helpers/accounts.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { imapSignsIn } from './imap-helpers.js';

describe('an account guessed from many networks', () => {
  let app: TestApp;
  let base: string;
  const post = async (fields: Record<string, string>, from: string) => {
    const res = await fetch(`${base}/portal/security`, {
      method: 'POST',
      body: new URLSearchParams({ action: 'show', ...fields }),
      headers: { 'x-forwarded-proto': 'https', 'x-forwarded-for': from },
    });
    return { status: res.status, html: await res.text() };
  };

  beforeAll(async () => {
    app = await startApp({
      security: { authFailureDelayMs: 0, authFailureMaxDelayMs: 0, trustedProxies: ['127.0.0.1', '::1'], accountGuardFailures: 4, accountGuardIntervalMs: 60_000 },
    });
    base = `http://127.0.0.1:${app.port('http')}`;
    await createTestAccount(app.store, 'bidoan@example.gov.vn');
  });
  afterAll(async () => app?.stop());

  it('holds back networks that guessed, never a new one that did not nor the ones the account uses', async () => {
    // The user's own mail program, on the loopback network.
    expect((await imapSignsIn(app, 'bidoan', PASSWORD)).ok).toBe(true);
    for (let i = 0; i < 4; i++) expect((await post({ username: 'bidoan', password: `Sai-mat-khau#${i}` }, `198.51.${i}.10`)).status).toBe(401);
    // A network that guessed is held back unchecked for a while, even with the right password.
    const held = await post({ username: 'bidoan', password: PASSWORD }, '198.51.0.11');
    expect(held.status).toBe(429);
    expect(held.html).toContain('Có nhiều lần đăng nhập sai vào tài khoản này');
    // The owner on a new network that guessed nothing gets in at once, and so does the usual one (web and IMAP).
    expect((await post({ username: 'bidoan', password: PASSWORD }, '192.0.2.10')).status).toBe(200);
    expect((await imapSignsIn(app, 'bidoan', PASSWORD)).ok).toBe(true);
    const own = await post({ username: 'bidoan', password: PASSWORD }, '127.0.0.1');
    expect(own.status).toBe(200);
    // The held-back attempt is listed among the refused ones.
    expect(own.html).toContain('198.51.0.11');
    expect(own.html).toContain('tạm giữ');
  });
});
