/**
 * One account guessed from many addresses (security.accountGuard*), end to end: wrong passwords
 * reach /portal/security from several networks through a trusted HTTPS proxy; past the limit a
 * network new to the account gets one check per interval and the rest are refused unchecked
 * (429, listed among refused attempts), while the network the user reads mail from (IMAP over
 * loopback, imapflow) and its web sign-ins are never held back.
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

  it('holds back new networks past the limit, never the ones the account uses', async () => {
    // The user's own mail program, on the loopback network.
    expect((await imapSignsIn(app, 'bidoan', PASSWORD)).ok).toBe(true);
    for (let i = 0; i < 4; i++) expect((await post({ username: 'bidoan', password: `Sai-mat-khau#${i}` }, `198.51.${i}.10`)).status).toBe(401);
    // One check for new networks per interval: this one is checked (wrong), the next is held back unchecked even with the right password.
    expect((await post({ username: 'bidoan', password: 'Sai-mat-khau#9' }, '203.0.113.10')).status).toBe(401);
    const held = await post({ username: 'bidoan', password: PASSWORD }, '192.0.2.10');
    expect(held.status).toBe(429);
    expect(held.html).toContain('Quá nhiều lần đăng nhập cùng lúc');
    // The user's network is not held back, over IMAP nor on the web.
    expect((await imapSignsIn(app, 'bidoan', PASSWORD)).ok).toBe(true);
    const own = await post({ username: 'bidoan', password: PASSWORD }, '127.0.0.1');
    expect(own.status).toBe(200);
    // The held-back attempt is listed among the refused ones.
    expect(own.html).toContain('192.0.2.10');
    expect(own.html).toContain('tạm giữ');
  });
});
