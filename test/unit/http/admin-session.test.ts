/**
 * The administrators' page's session store (src/http/admin-session.ts): ids and CSRF tokens of 32
 * random bytes, idle and absolute expiry on the clock, the cap (oldest dropped), ending one
 * session or all of an account's, the account fingerprint (password hash, TOTP secret, role,
 * unit) and the CSRF comparison.
 */
import { describe, expect, it } from 'vitest';
import {
  ADMIN_SESSION_ABSOLUTE_MS,
  ADMIN_SESSION_IDLE_MS,
  createAdminSessionStore,
  accountFingerprint,
  csrfMatches,
} from '../../../src/http/admin-session.js';
import { ManualClock } from '../../../src/lib/clock.js';

const who = (accountId: number) => ({ accountId, address: `a${accountId}@example.gov.vn`, fingerprint: accountFingerprint({ passwordHash: `hash-${accountId}`, totpSecret: null, role: 'unit', unitId: 1 }) });
const MIN = 60_000;

describe('admin session store', () => {
  it('makes sessions with 32-byte base64url ids and CSRF tokens, found again by id', () => {
    const clock = new ManualClock(new Date('2026-11-23T08:00:00Z'));
    const store = createAdminSessionStore({ clock });
    const s = store.create(who(1));
    expect(s.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(s.id, 'base64url')).toHaveLength(32);
    expect(s.csrf).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(s.csrf).not.toBe(s.id);
    const t = store.create(who(1));
    expect(t.id).not.toBe(s.id);
    expect(t.csrf).not.toBe(s.csrf);
    expect(store.get(s.id)?.address).toBe('a1@example.gov.vn');
    expect(store.size()).toBe(2);
  });

  it('refuses unknown and malformed ids', () => {
    const store = createAdminSessionStore({ clock: new ManualClock(new Date()) });
    const s = store.create(who(1));
    for (const id of ['', 'x', s.id.slice(0, -1), `${s.id}A`, `${s.id.slice(0, -1)}=`, s.id.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')), '../'.repeat(20)]) {
      expect(store.get(id)).toBeNull();
    }
  });

  it('ends a session idle for 15 minutes; each use starts the idle time again', () => {
    const clock = new ManualClock(new Date('2026-11-23T08:00:00Z'));
    const store = createAdminSessionStore({ clock });
    const s = store.create(who(1));
    clock.advance(ADMIN_SESSION_IDLE_MS - 1);
    expect(store.get(s.id)).not.toBeNull();
    clock.advance(ADMIN_SESSION_IDLE_MS - 1);
    expect(store.get(s.id)).not.toBeNull();
    clock.advance(ADMIN_SESSION_IDLE_MS);
    expect(store.get(s.id)).toBeNull();
    // Gone for good, even if the clock went back.
    clock.advance(-ADMIN_SESSION_IDLE_MS);
    expect(store.get(s.id)).toBeNull();
    expect(ADMIN_SESSION_IDLE_MS).toBe(15 * MIN);
  });

  it('ends a session 8 hours after sign-in however busy', () => {
    const clock = new ManualClock(new Date('2026-11-23T08:00:00Z'));
    const store = createAdminSessionStore({ clock });
    const s = store.create(who(1));
    for (let t = 0; t < ADMIN_SESSION_ABSOLUTE_MS - 10 * MIN; t += 10 * MIN) {
      clock.advance(10 * MIN);
      expect(store.get(s.id)).not.toBeNull();
    }
    clock.advance(10 * MIN);
    expect(store.get(s.id)).toBeNull();
    expect(ADMIN_SESSION_ABSOLUTE_MS).toBe(8 * 60 * MIN);
  });

  it('a clock set back before the sign-in does not lengthen a session', () => {
    const clock = new ManualClock(new Date('2026-11-23T08:00:00Z'));
    const store = createAdminSessionStore({ clock });
    const s = store.create(who(1));
    clock.advance(-MIN);
    expect(store.get(s.id)).toBeNull();
  });

  it('keeps at most maxSessions, dropping the oldest first, and sweeps expired ones before', () => {
    const clock = new ManualClock(new Date('2026-11-23T08:00:00Z'));
    const store = createAdminSessionStore({ clock, maxSessions: 3 });
    const [a, b, c] = [store.create(who(1)), store.create(who(2)), store.create(who(3))];
    const d = store.create(who(4));
    expect(store.get(a.id)).toBeNull();
    expect([b, c, d].every((s) => store.get(s.id) !== null)).toBe(true);
    expect(store.size()).toBe(3);
    // b, c, d expire; a new session then drops nobody live.
    clock.advance(ADMIN_SESSION_IDLE_MS);
    const e = store.create(who(5));
    expect(store.size()).toBe(1);
    expect(store.get(e.id)).not.toBeNull();
  });

  it('ends one session, or all sessions of one account', () => {
    const store = createAdminSessionStore({ clock: new ManualClock(new Date()) });
    const [a1, a2, b] = [store.create(who(1)), store.create(who(1)), store.create(who(2))];
    store.delete(a1.id);
    expect(store.get(a1.id)).toBeNull();
    expect(store.get(a2.id)).not.toBeNull();
    store.create(who(1));
    store.deleteAccount(1);
    expect(store.size()).toBe(1);
    expect(store.get(b.id)).not.toBeNull();
  });

  it('fingerprints the password hash, TOTP secret, role and unit (not the hash or secret themselves) and compares CSRF tokens exactly', () => {
    const signedIn = { passwordHash: '$argon2id$v=19$m=65536,t=3,p=4$abc$def', totpSecret: 'JBSWY3DPEHPK3PXP', role: 'unit', unitId: 7 };
    const f = accountFingerprint(signedIn);
    expect(f).not.toContain('argon2');
    expect(f).not.toContain('JBSWY3DPEHPK3PXP');
    expect(f).toBe(accountFingerprint({ ...signedIn }));
    for (const changed of [
      { passwordHash: '$argon2id$v=19$m=65536,t=3,p=4$abc$deg' },
      { totpSecret: 'KRSXG5CTMVRXEZLU' },
      { totpSecret: null },
      { role: 'super' },
      { role: 'none' },
      { unitId: 8 },
      { unitId: null },
    ]) {
      expect(accountFingerprint({ ...signedIn, ...changed })).not.toBe(f);
    }
    const store = createAdminSessionStore({ clock: new ManualClock(new Date()) });
    const s = store.create(who(1));
    expect(csrfMatches(s, s.csrf)).toBe(true);
    for (const wrong of ['', s.csrf.slice(1), `${s.csrf}x`, s.csrf.toUpperCase() === s.csrf ? s.csrf.toLowerCase() : s.csrf.toUpperCase(), 'é'.repeat(43)]) {
      expect(csrfMatches(s, wrong)).toBe(false);
    }
  });
});
