/**
 * App passwords: per-device, revocable passwords for mail programs that cannot do TOTP
 * (R-AUTH-3, SECURITY-NOTES). The secret is shown once, grouped for reading ("abcd efgh ijkl mnop");
 * only its argon2 hash is stored. Sign-in strips whitespace before checking (service.ts).
 *
 *   const { secret, appPassword } = await createAppPassword(store, account.id, 'Outlook ở văn phòng');
 *   await revokeAppPassword(store, account.id, appPassword.id);
 */
import { randomInt } from 'node:crypto';
import { bi, MailError } from '../lib/errors.js';
import type { AppPassword, Store } from '../store/port.js';
import { hashPassword } from './passwords.js';

/** Lower-case letters without look-alikes (no l, o): 16 of them ≈ 74 bits. */
const ALPHABET = 'abcdefghijkmnpqrstuvwxyz';
const LENGTH = 16;
export const MAX_APP_PASSWORDS = 20;

export function generateAppPasswordSecret(): string {
  let s = '';
  for (let i = 0; i < LENGTH; i++) s += ALPHABET[randomInt(ALPHABET.length)];
  return (s.match(/.{4}/g) ?? [s]).join(' ');
}

export async function createAppPassword(
  store: Pick<Store, 'addAppPassword' | 'listAppPasswords'>,
  accountId: number,
  label: string,
): Promise<{ secret: string; appPassword: AppPassword }> {
  const name = label.trim();
  if (name.length === 0 || name.length > 100) {
    throw new MailError('INVALID_INPUT', bi('Tên thiết bị phải có từ 1 đến 100 ký tự', 'The device label must have 1 to 100 characters'));
  }
  const existing = await store.listAppPasswords(accountId);
  if (existing.length >= MAX_APP_PASSWORDS) {
    throw new MailError(
      'LIMIT_EXCEEDED',
      bi(`Mỗi tài khoản có tối đa ${MAX_APP_PASSWORDS} mật khẩu ứng dụng`, `An account may have at most ${MAX_APP_PASSWORDS} app passwords`),
    );
  }
  const secret = generateAppPasswordSecret();
  const appPassword = await store.addAppPassword(accountId, name, await hashPassword(secret.replace(/\s+/g, '')));
  return { secret, appPassword };
}

export async function revokeAppPassword(store: Pick<Store, 'removeAppPassword'>, accountId: number, id: number): Promise<void> {
  await store.removeAppPassword(accountId, id);
}
