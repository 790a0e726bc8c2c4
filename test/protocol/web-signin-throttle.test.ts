/**
 * Guessing through the web pages (/portal/security here; /admin and /portal share the check):
 * - wrong two-factor codes have a tracker of their own per account: past three, further codes
 *   are refused unchecked (the same answer) until the delay has passed, and a mail program's
 *   successful sign-in in between does not clear it;
 * - the right password is never refused for earlier failures (a lock-out anyone could cause):
 *   parallel sign-ins after a mistake all get in;
 * - an initial password refused outside /portal is recorded as a refused sign-in, not a success
 *   (the inactivity rule and the history would otherwise count it).
 * Real HTTP over fetch; the app's clock is a ManualClock, so the delays are stepped, not waited.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppPassword } from '../../src/auth/app-passwords.js';
import { currentTotp } from '../../src/auth/totp.js';
import { ManualClock } from '../../src/lib/clock.js';
import { createTestAccount, PASSWORD } from '../helpers/accounts.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { imapSignsIn } from './imap-helpers.js';

const SECRET = 'JBSWY3DPEHPK3PXP';
const clock = new ManualClock(new Date('2026-11-23T09:00:00Z'));
let app: TestApp;
let base: string;

beforeAll(async () => {
  // Small real delays (the answers to failures sleep them), room for parallel requests per IP.
  app = await startApp({ security: { authFailureDelayMs: 20, authFailureMaxDelayMs: 40, maxConcurrentAuthPerIp: 50 } }, { clock });
  base = `http://127.0.0.1:${app.port('http')}`;
});
afterAll(async () => app?.stop());

const audit = { actor: 'test', action: 'test', target: 'x' };

async function show(user: string, password: string, totp = ''): Promise<number> {
  const res = await fetch(`${base}/portal/security`, { method: 'POST', body: new URLSearchParams({ action: 'show', username: user, password, totp }), redirect: 'manual' });
  await res.text();
  return res.status;
}

/** A six-digit code that is not the current one (nor the ones beside it). */
function wrongCode(): string {
  const near = new Set([-1, 0, 1].map((k) => currentTotp(SECRET, new Date(clock.now().getTime() + k * 30_000))));
  for (let n = 0; ; n++) {
    const c = String(n).padStart(6, '0');
    if (!near.has(c)) return c;
  }
}

describe('two-factor codes guessed on the web', () => {
  it('past three wrong codes the right one waits out the delay, and a mail sign-in in between does not clear it', async () => {
    const a = await createTestAccount(app.store, 'maxacthuc@example.gov.vn');
    await app.store.updateAccount(a.id, { totpSecret: SECRET }, audit);
    const phone = await createAppPassword(app.store, a.id, 'phone', { audit: () => audit });
    for (let i = 0; i < 3; i++) expect(await show('maxacthuc', PASSWORD, wrongCode())).toBe(401);
    expect((await imapSignsIn(app, 'maxacthuc', phone.secret.replace(/ /g, ''))).ok).toBe(true);
    // Blocked: the right code gets the wrong-code answer and is not used up.
    expect(await show('maxacthuc', PASSWORD, currentTotp(SECRET, clock.now()))).toBe(401);
    const history = await app.store.listSignIns(a.id, { ok: false, limit: 1 });
    expect(history[0]?.reason).toBe('totp-throttled');
    // The delay after three wrong codes (20 ms × 2²) has passed on the app's clock.
    clock.advance(1000);
    expect(await show('maxacthuc', PASSWORD, currentTotp(SECRET, clock.now()))).toBe(200);
  });
});

describe('the right password after a mistake', () => {
  it('is never refused for earlier failures: parallel sign-ins (a mail program\'s connections) all get in', async () => {
    await createTestAccount(app.store, 'songsong@example.gov.vn');
    expect(await show('songsong', 'Sai-mat-khau#1')).toBe(401);
    const statuses = await Promise.all(Array.from({ length: 4 }, () => show('songsong', PASSWORD)));
    expect(statuses).toEqual([200, 200, 200, 200]);
  });
});

describe('an initial password outside /portal', () => {
  it('is a refused sign-in in the history, and sets no last sign-in', async () => {
    const a = await createTestAccount(app.store, 'bandau@example.gov.vn', { mustChangePassword: true });
    expect(await show(a.address, PASSWORD)).toBe(403);
    const rows = await app.store.listSignIns(a.id);
    expect(rows.map((r) => [r.protocol, r.ok, r.reason])).toEqual([['http', false, 'must-change']]);
    expect((await app.store.getAccount(a.id))?.lastLoginAt ?? null).toBeNull();
  });
});
