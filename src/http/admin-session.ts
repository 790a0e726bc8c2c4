/**
 * Sessions of the administrators' page (`/admin`, admin.ts): in memory, server-side, lost on a
 * restart (the administrator signs in again). A session is found by the id in the
 * `buudien_admin` cookie (32 random bytes, base64url); it carries the CSRF token every form of
 * the page posts back, and a fingerprint of the account's credentials and rights at sign-in
 * (accountFingerprint), so that a request can tell whether they changed since (admin.ts ends
 * the session then).
 *
 * Expiry is lazy (no timer keeps the process alive): a session idle for IDLE_MS, or older than
 * ABSOLUTE_MS, is gone when next looked up; at most MAX_SESSIONS live at once, the oldest
 * dropped first.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../lib/clock.js';

/** A session unused this long ends. */
export const ADMIN_SESSION_IDLE_MS = 15 * 60 * 1000;
/** A session ends this long after its sign-in, however busy. */
export const ADMIN_SESSION_ABSOLUTE_MS = 8 * 60 * 60 * 1000;
/** Sessions kept at once; a new one past this drops the oldest. */
export const ADMIN_SESSION_MAX = 1000;

/** A session id, as the cookie carries it: 32 bytes in base64url, no padding. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

/** What a session remembers of the account that signed in. */
export interface AdminIdentity {
  accountId: number;
  address: string;
  /**
   * accountFingerprint() at sign-in: a changed password, two-factor secret, role or unit ends
   * the session.
   */
  fingerprint: string;
}

/** A one-time result shown by the next page (Post/Redirect/Get). */
export interface AdminFlash {
  kind: 'ok' | 'error' | 'warn';
  /** Bilingual ("vi / en"). */
  text: string;
  /** A one-time password to show once, with the account it belongs to. */
  secret?: { address: string; password: string };
}

export interface AdminSession extends AdminIdentity {
  readonly id: string;
  /** Every form of the page carries it; every POST is checked against it. */
  readonly csrf: string;
  readonly createdAt: number;
  lastSeenAt: number;
  /** Shown once by the next page, then dropped. */
  flash: AdminFlash | null;
}

export interface AdminSessionStoreOptions {
  clock: Clock;
  idleMs?: number;
  absoluteMs?: number;
  maxSessions?: number;
}

export interface AdminSessionStore {
  /** A new session for an account that just signed in (the oldest dropped when full). */
  create(identity: AdminIdentity): AdminSession;
  /** The live session with this id (and its last use set to now), or null: unknown, malformed, idle or too old. */
  get(id: string): AdminSession | null;
  /** End a session (sign-out, or the account changed). */
  delete(id: string): void;
  /** End every session of an account. */
  deleteAccount(accountId: number): void;
  /** Live sessions (expired ones not yet looked up are dropped first). */
  size(): number;
}

/** What of an account a session's fingerprint covers. */
export type FingerprintedAccount = { passwordHash: string; totpSecret: string | null; smsTwoFactor?: boolean; phone?: string | null; role: string; unitId: number | null };

/**
 * The digest a session compares, over what the account signed in with and the rights it had:
 * the password hash, the TOTP secret (or SMS codes on, and their phone), the role and the unit (none of them kept as such). A
 * password reset or change, a new two-factor secret (a lost phone), two-factor turned off, a
 * role or unit change: each gives another fingerprint, and the session ends.
 */
export function accountFingerprint(a: FingerprintedAccount): string {
  return createHash('sha256')
    .update(`buudien admin session\n${JSON.stringify([a.passwordHash, a.totpSecret, a.role, a.unitId, ...(a.smsTwoFactor ? ['sms', a.phone ?? null] : [])])}`)
    .digest('base64url');
}

/** The CSRF token a form posted equals the session's (in constant time). */
export function csrfMatches(session: Pick<AdminSession, 'csrf'>, posted: string): boolean {
  const a = Buffer.from(session.csrf);
  const b = Buffer.from(posted);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function createAdminSessionStore(opts: AdminSessionStoreOptions): AdminSessionStore {
  const { clock } = opts;
  const idleMs = opts.idleMs ?? ADMIN_SESSION_IDLE_MS;
  const absoluteMs = opts.absoluteMs ?? ADMIN_SESSION_ABSOLUTE_MS;
  const max = Math.max(1, opts.maxSessions ?? ADMIN_SESSION_MAX);
  /** By id, in creation order (a Map keeps insertion order): the first is the oldest. */
  const sessions = new Map<string, AdminSession>();

  const expired = (s: AdminSession, now: number): boolean => now - s.lastSeenAt >= idleMs || now - s.createdAt >= absoluteMs || now < s.createdAt;

  function sweep(now: number): void {
    for (const [id, s] of sessions) if (expired(s, now)) sessions.delete(id);
  }

  return {
    create(identity) {
      const now = clock.now().getTime();
      sweep(now);
      while (sessions.size >= max) {
        const oldest = sessions.keys().next().value;
        if (oldest === undefined) break;
        sessions.delete(oldest);
      }
      // 256 random bits: no collision in practice; the loop only makes it certain.
      let id = randomBytes(32).toString('base64url');
      while (sessions.has(id)) id = randomBytes(32).toString('base64url');
      const session: AdminSession = {
        id,
        csrf: randomBytes(32).toString('base64url'),
        accountId: identity.accountId,
        address: identity.address,
        fingerprint: identity.fingerprint,
        createdAt: now,
        lastSeenAt: now,
        flash: null,
      };
      sessions.set(id, session);
      return session;
    },
    get(id) {
      if (!SESSION_ID.test(id)) return null;
      const s = sessions.get(id);
      if (!s) return null;
      const now = clock.now().getTime();
      if (expired(s, now)) {
        sessions.delete(id);
        return null;
      }
      s.lastSeenAt = now;
      return s;
    },
    delete(id) {
      sessions.delete(id);
    },
    deleteAccount(accountId) {
      for (const [id, s] of sessions) if (s.accountId === accountId) sessions.delete(id);
    },
    size() {
      sweep(clock.now().getTime());
      return sessions.size;
    },
  };
}
