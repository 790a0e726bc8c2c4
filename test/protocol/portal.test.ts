/**
 * The self-service portal (/portal on the HTTP listener): a user whose initial password must be
 * changed (R-ACC-2) changes it there and then signs in over IMAP with a real client (imapflow);
 * wrong passwords, weak ones, two-factor accounts, suspended accounts, cross-site forms and
 * passwords over plain HTTP from a non-loopback client are refused, each with a bilingual page.
 */
import { imapSignsIn } from './imap-helpers.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentTotp, newTotpSecret } from '../../src/auth/totp.js';
import { createTestAccount, PASSWORD } from '../helpers/accounts.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { notice } from '../helpers/portal.js';

const NEW = 'Doi-mat-khau#2027';



describe('self-service portal', () => {
  let app: TestApp;
  let base: string;
  const post = (fields: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(`${base}/portal`, { method: 'POST', body: new URLSearchParams(fields), headers, redirect: 'manual' });

  beforeAll(async () => {
    app = await startApp({ security: { authFailureDelayMs: 0, authFailureMaxDelayMs: 0 } });
    base = `http://127.0.0.1:${app.port('http')}`;
    await createTestAccount(app.store, 'moitao@example.gov.vn', { mustChangePassword: true });
    await createTestAccount(app.store, 'haylop@example.gov.vn');
    const suspended = await createTestAccount(app.store, 'tamkhoa@example.gov.vn', { mustChangePassword: true });
    await app.store.updateAccount(suspended.id, { state: 'suspended' }, null);
  });
  afterAll(async () => app?.stop());

  it('GET /portal is a bilingual form, framed by nobody and loading nothing from elsewhere', async () => {
    const res = await fetch(`${base}/portal`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(res.headers.get('cache-control')).toBe('no-store');
    const html = await res.text();
    expect(html).toContain('<form method="post" action="/portal"');
    for (const name of ['username', 'password', 'totp', 'newPassword', 'repeat']) expect(html).toContain(`name="${name}"`);
    expect(html.indexOf('Mật khẩu hiện tại')).toBeLessThan(html.indexOf('Current password'));
    expect(html).toContain('ít nhất 8 ký tự');
    expect((await fetch(`${base}/portal`, { method: 'PUT' })).status).toBe(405);
  });

  it('a new account changes its initial password here, then signs in over IMAP with the new one only', async () => {
    const before = await imapSignsIn(app, 'moitao', PASSWORD);
    expect(before.ok).toBe(false);
    expect(before.text).toContain('/portal');

    const wrong = await post({ username: 'moitao', password: 'Sai-mat-khau#1', newPassword: NEW, repeat: NEW });
    expect(wrong.status).toBe(401);
    expect(notice(await wrong.text())).toBe('Sai tên đăng nhập, mật khẩu hoặc mã xác thực / Wrong user name, password or code');

    const mismatch = await post({ username: 'moitao', password: PASSWORD, newPassword: NEW, repeat: `${NEW}x` });
    expect(mismatch.status).toBe(400);
    expect(notice(await mismatch.text())).toContain('không khớp / The two new passwords do not match');

    const weak = await post({ username: 'moitao', password: PASSWORD, newPassword: 'yeu', repeat: 'yeu' });
    expect(weak.status).toBe(400);
    const weakText = notice(await weak.text());
    expect(weakText).toMatch(/^Mật khẩu chưa đạt: .*ít nhất 8 ký tự.* \/ weak password: .*at least 8 characters/);

    const same = await post({ username: 'moitao', password: PASSWORD, newPassword: PASSWORD, repeat: PASSWORD });
    expect(same.status).toBe(400);
    expect(notice(await same.text())).toContain('The new password must differ from the current one');

    // Nothing so far changed anything.
    expect((await app.store.getAccountByAddress('moitao@example.gov.vn'))?.mustChangePassword).toBe(true);

    // A proxy's headers from a peer not in security.trustedProxies (a proxy on this host never
    // listed): no loopback exemption, so no password over its plain HTTP; nothing changes.
    const proxyHeaders: Array<Record<string, string>> = [{ 'x-forwarded-for': '203.0.113.5' }, { forwarded: 'for=203.0.113.5;proto=https' }, { 'x-real-ip': '203.0.113.5' }];
    for (const h of proxyHeaders) {
      const viaProxy = await post({ username: 'moitao@example.gov.vn', password: PASSWORD, newPassword: NEW, repeat: NEW }, h);
      expect(viaProxy.status).toBe(403);
    }
    expect((await app.store.getAccountByAddress('moitao@example.gov.vn'))?.mustChangePassword).toBe(true);

    // From this host itself (the loopback exemption of allowPlaintextAuth: loopback).
    const ok = await post({ username: 'moitao@example.gov.vn', password: PASSWORD, newPassword: NEW, repeat: NEW });
    expect(ok.status).toBe(200);
    const okHtml = await ok.text();
    expect(notice(okHtml)).toContain('Đã đổi mật khẩu của moitao@example.gov.vn');
    expect(okHtml).not.toContain('<form');

    const account = await app.store.getAccountByAddress('moitao@example.gov.vn');
    expect(account?.mustChangePassword).toBe(false);
    expect((await imapSignsIn(app, 'moitao', NEW)).ok).toBe(true);
    expect((await imapSignsIn(app, 'moitao', PASSWORD)).ok).toBe(false);
    const audit = await app.store.listAudit({ target: 'moitao@example.gov.vn' });
    expect(audit.some((a) => a.action === 'account.passwd.self' && a.actor === 'moitao@example.gov.vn' && a.details?.ip === '127.0.0.1')).toBe(true);
  });

  it('an account with two-factor sign-in also needs its current code', async () => {
    const secret = newTotpSecret();
    const a = await app.store.getAccountByAddress('haylop@example.gov.vn');
    await app.store.updateAccount(a?.id ?? 0, { totpSecret: secret }, null);
    const fields = { username: 'haylop', password: PASSWORD, newPassword: NEW, repeat: NEW };
    const missing = await post(fields);
    expect(missing.status).toBe(401);
    // The same answer as a wrong password: it does not tell that the password was right.
    expect(notice(await missing.text())).toBe('Sai tên đăng nhập, mật khẩu hoặc mã xác thực / Wrong user name, password or code');
    expect((await post({ ...fields, totp: '000000' === currentTotp(secret, new Date()) ? '111111' : '000000' })).status).toBe(401);
    const ok = await post({ ...fields, totp: currentTotp(secret, new Date()) });
    expect(ok.status).toBe(200);
    expect(await app.store.getAccountByAddress('haylop@example.gov.vn').then((x) => x?.passwordHash !== a?.passwordHash)).toBe(true);
  });

  it('a suspended account cannot change its password (it still receives mail)', async () => {
    const res = await post({ username: 'tamkhoa', password: PASSWORD, newPassword: NEW, repeat: NEW });
    expect(res.status).toBe(403);
    expect(notice(await res.text())).toContain('tạm khóa');
    expect((await app.store.getAccountByAddress('tamkhoa@example.gov.vn'))?.mustChangePassword).toBe(true);
  });

  it('refuses a form posted from another site, other content types and oversized bodies', async () => {
    // A wrong password: judged on its merits this would be 401, so each 403 below is the refusal.
    const wrong = { username: 'moitao', password: 'Sai-mat-khau#1', newPassword: NEW, repeat: NEW };
    const cross = await post(wrong, { origin: 'https://evil.example' });
    expect(cross.status).toBe(403);
    expect(notice(await cross.text())).toContain('A form sent from another site is refused');
    expect((await post(wrong, { origin: 'null' })).status).toBe(403);
    expect((await post(wrong, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await post(wrong, { 'sec-fetch-site': 'same-site', origin: base })).status).toBe(403);
    const json = await fetch(`${base}/portal`, { method: 'POST', body: JSON.stringify(wrong), headers: { 'content-type': 'application/json' } });
    expect(json.status).toBe(415);
    const big = await post({ ...wrong, filler: 'x'.repeat(100 * 1024) });
    expect(big.status).toBe(413);
    expect(big.headers.get('connection')).toBe('close');
    // The page's own form (its Origin, or that of passwords.changeUrl behind a proxy that rewrites Host) is judged on its merits.
    expect((await post(wrong, { origin: base, 'sec-fetch-site': 'same-origin' })).status).toBe(401);
    expect((await post(wrong, { origin: 'https://MAIL.example.gov.vn' })).status).toBe(401);
  });
});

describe('self-service portal behind a reverse proxy', () => {
  let app: TestApp;
  let base: string;
  beforeAll(async () => {
    // The proxy is on this host (loopback) and listed; allowPlaintextAuth stays at its default
    // (loopback), which must not let a proxied plain-HTTP request through.
    app = await startApp({ security: { trustedProxies: ['127.0.0.0/8'], authFailureDelayMs: 0, authFailureMaxDelayMs: 0 } });
    base = `http://127.0.0.1:${app.port('http')}`;
    await createTestAccount(app.store, 'quaproxy@example.gov.vn', { mustChangePassword: true });
  });
  afterAll(async () => app?.stop());
  const fields = { username: 'quaproxy', password: PASSWORD, newPassword: NEW, repeat: NEW };
  const post = (headers: Record<string, string>) => fetch(`${base}/portal`, { method: 'POST', body: new URLSearchParams(fields), headers });

  it('a request the proxy got over plain HTTP shows no form, and a password sent anyway is refused', async () => {
    const page = await (await fetch(`${base}/portal`, { headers: { 'x-forwarded-proto': 'http', 'x-forwarded-for': '198.51.100.7' } })).text();
    expect(notice(page)).toContain('HTTPS');
    expect(page).not.toContain('<form');
    const plain: Array<Record<string, string>> = [{ 'x-forwarded-for': '198.51.100.7' }, { 'x-forwarded-proto': 'http', 'x-forwarded-for': '198.51.100.7' }, { 'x-forwarded-proto': 'http', 'x-forwarded-for': '127.0.0.1' }];
    for (const headers of plain) {
      const res = await post(headers);
      expect(res.status).toBe(403);
      expect(notice(await res.text())).toContain('open this page over HTTPS');
    }
    expect((await app.store.getAccountByAddress('quaproxy@example.gov.vn'))?.mustChangePassword).toBe(true);
  });

  it('a proxied request that names no client address is refused (it would share the proxy\'s throttle)', async () => {
    for (const xff of [undefined, 'not-an-address', '198.51.100.7:4431']) {
      const res = await post({ 'x-forwarded-proto': 'https', ...(xff ? { 'x-forwarded-for': xff } : {}) });
      expect(res.status).toBe(400);
      expect(notice(await res.text())).toContain('X-Forwarded-For');
    }
  });

  it('a trusted proxy that terminated TLS (X-Forwarded-Proto: https) is believed, and its last X-Forwarded-For is the client', async () => {
    const page = await (await fetch(`${base}/portal`, { headers: { 'x-forwarded-proto': 'https', 'x-forwarded-for': '198.51.100.7' } })).text();
    expect(page).toContain('<form');
    const res = await post({ 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.9, 198.51.100.7' });
    expect(res.status).toBe(200);
    const audit = await app.store.listAudit({ target: 'quaproxy@example.gov.vn' });
    expect(audit.find((a) => a.action === 'account.passwd.self')?.details?.ip).toBe('198.51.100.7');
  });
});

describe('self-service portal without trusted proxies', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp({ security: { allowPlaintextAuth: 'never' } });
    await createTestAccount(app.store, 'giamao@example.gov.vn', { mustChangePassword: true });
  });
  afterAll(async () => app?.stop());

  it('ignores X-Forwarded-Proto from a client that is not a listed proxy', async () => {
    const res = await fetch(`http://127.0.0.1:${app.port('http')}/portal`, {
      method: 'POST',
      body: new URLSearchParams({ username: 'giamao', password: PASSWORD, newPassword: NEW, repeat: NEW }),
      headers: { 'x-forwarded-proto': 'https' },
    });
    expect(res.status).toBe(403);
    expect((await app.store.getAccountByAddress('giamao@example.gov.vn'))?.mustChangePassword).toBe(true);
  });
});
