/**
 * App passwords: per-device, revocable passwords for mail programs that cannot do TOTP
 * (R-AUTH-3, SECURITY-NOTES). The secret is shown once, grouped for reading ("abcd efgh ijkl mnop");
 * only its argon2 hash is stored. Sign-in strips whitespace before checking (service.ts).
 * Adding and removing write the row and its audit entry in one transaction; the administrators'
 * commands (accounts/service.ts) and the user's own security page (service.ts) both come here.
 *
 *   const { secret, appPassword } = await createAppPassword(store, account.id, 'Outlook ở văn phòng', {
 *     audit: (added) => ({ actor, action: 'account.app-password.add', target: account.address, details: { id: added.id } }),
 *   });
 *   const removed = await revokeAppPassword(store, account.id, id, { audit: (found) => ({ … }) });   // null: no such id
 */
import { randomInt } from 'node:crypto';
import { bi, MailError } from '../lib/errors.js';
import type { AppPassword, AuditEntry, Store } from '../store/port.js';
import { hashPassword } from './passwords.js';

/** Lower-case letters without look-alikes (no l, o): 16 of them ≈ 74 bits. */
const ALPHABET = 'abcdefghijkmnpqrstuvwxyz';
const LENGTH = 16;
export const MAX_APP_PASSWORDS = 20;

/** How many of the secret's letters are kept in clear to pick the hashes worth checking (store migration 9). */
export const HINT_LETTERS = 4;

/** Whitespace is never part of an app password (they get pasted with spaces or line breaks). */
export function normalizeAppPassword(p: string): string {
  return p.replace(/\s+/gu, '');
}

/** The hint of a typed app password (whitespace never counts); '' when it is too short to be one. */
export function appPasswordHint(typed: string): string {
  const s = normalizeAppPassword(typed);
  return s.length < HINT_LETTERS ? '' : s.slice(0, HINT_LETTERS);
}

/** The app passwords worth an argon2 check for what was typed: the hint matches, or there is none (older ones). */
export function appPasswordCandidates<T extends { hint: string | null }>(all: readonly T[], typed: string): T[] {
  const hint = appPasswordHint(typed);
  return all.filter((p) => p.hint === null || p.hint === hint);
}

export function generateAppPasswordSecret(): string {
  let s = '';
  for (let i = 0; i < LENGTH; i++) s += ALPHABET[randomInt(ALPHABET.length)];
  return (s.match(/.{4}/g) ?? [s]).join(' ');
}

export type AppPasswordStore = Pick<Store, 'listAppPasswords' | 'batch'>;

export interface AppPasswordChange {
  /** The audit entry written with the change, in its transaction. */
  audit: (p: AppPassword) => AuditEntry;
  /**
   * Checked inside the transaction before anything is written (say, the account did not change
   * since its credentials were checked); whatever it throws aborts the change.
   */
  guard?: (tx: Store) => Promise<void>;
}

/**
 * A new app password: the label (1–100 characters) and the per-account limit checked, the secret
 * hashed outside the transaction, the row and its audit entry written together.
 */
export async function createAppPassword(
  store: AppPasswordStore,
  accountId: number,
  label: string,
  change: AppPasswordChange,
): Promise<{ secret: string; appPassword: AppPassword }> {
  const name = label.trim();
  if (name.length === 0 || name.length > 100) {
    throw new MailError('INVALID_INPUT', bi('Tên thiết bị phải có từ 1 đến 100 ký tự', 'The device label must have 1 to 100 characters'));
  }
  const tooMany = (n: number): void => {
    if (n < MAX_APP_PASSWORDS) return;
    throw new MailError(
      'LIMIT_EXCEEDED',
      bi(`Mỗi tài khoản có tối đa ${MAX_APP_PASSWORDS} mật khẩu ứng dụng`, `An account may have at most ${MAX_APP_PASSWORDS} app passwords`),
    );
  };
  tooMany((await store.listAppPasswords(accountId)).length);
  const secret = generateAppPasswordSecret();
  const hash = await hashPassword(normalizeAppPassword(secret));
  const hint = appPasswordHint(secret);
  const appPassword = await store.batch(async (tx) => {
    await change.guard?.(tx);
    tooMany((await tx.listAppPasswords(accountId)).length); // again: another add may have come in while hashing
    const added = await tx.addAppPassword(accountId, name, hash, hint);
    await tx.audit(change.audit(added));
    return added;
  });
  return { secret, appPassword };
}

/** Revoke one app password of the account, audited; null when the account has none with that id. */
export async function revokeAppPassword(store: Pick<Store, 'batch'>, accountId: number, id: number, change: AppPasswordChange): Promise<AppPassword | null> {
  return store.batch(async (tx) => {
    await change.guard?.(tx);
    const found = (await tx.listAppPasswords(accountId)).find((a) => a.id === id);
    if (!found) return null;
    await tx.removeAppPassword(accountId, id);
    await tx.audit(change.audit(found));
    return found;
  });
}
