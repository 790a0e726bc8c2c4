/**
 * Password hashing (argon2id, run on libuv's thread pool, off the event loop) and the
 * password rules of R-AUTH-1 (length, lower, upper, digit, special character).
 *
 * Passwords are Unicode NFC before the rules, hashing and verification: Vietnamese typed with
 * Unikey's "Unicode tổ hợp" (NFD) and on a phone (NFC) is one password. Verification also tries
 * the password as sent, so hashes made before normalising keep working. Length counts what the
 * user sees (grapheme clusters, invisible format characters \p{Cf} left out); control
 * characters (\p{Cc}: NUL, tab, line breaks…) are refused (IMAP and SASL cannot carry them).
 */
import { randomInt } from 'node:crypto';
import argon2 from 'argon2';
import { MailError, bi } from '../lib/errors.js';

export interface PasswordRules {
  userMinLength: number;
  adminMinLength: number;
  requireLower: boolean;
  requireUpper: boolean;
  requireDigit: boolean;
  requireSpecial: boolean;
  specialCharacters: string;
}

// OWASP's argon2id baseline (19 MiB, t=2, p=1): enough cost, small enough for many sign-ins.
const HASH_OPTIONS = { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

/** The form a password is checked, hashed and compared in (NFC). */
export function normalizePassword(password: string): string {
  return password.normalize('NFC');
}

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(normalizePassword(password), HASH_OPTIONS);
}

async function verifyRaw(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

/**
 * false for a wrong password or a malformed hash; never throws for bad input. The NFC form
 * first, then (when it differs) the password as sent: a hash made before passwords were
 * normalised was made of what the user typed.
 */
export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  if (typeof hash !== 'string' || typeof password !== 'string' || !hash.startsWith('$argon2')) return false;
  const nfc = normalizePassword(password);
  if (await verifyRaw(hash, nfc)) return true;
  return nfc !== password && (await verifyRaw(hash, password));
}

const segmenter = new Intl.Segmenter('vi', { granularity: 'grapheme' });

/** The characters a user sees: grapheme clusters of the NFC form, invisible format characters (\p{Cf}) left out. */
export function visibleLength(password: string): number {
  return [...segmenter.segment(normalizePassword(password).replace(/\p{Cf}/gu, ''))].length;
}

/** The R-AUTH-1 problems of a password, bilingual; empty when it is acceptable. */
export function passwordProblems(password: string, rules: PasswordRules, admin: boolean): string[] {
  const problems: string[] = [];
  const min = admin ? rules.adminMinLength : rules.userMinLength;
  password = normalizePassword(password);
  if (/\p{Cc}/u.test(password)) {
    problems.push(bi('không được có ký tự điều khiển (NUL, tab, xuống dòng…)', 'it may not contain control characters (NUL, tab, line breaks…)'));
  }
  if (visibleLength(password) < min) problems.push(bi(`mật khẩu phải có ít nhất ${min} ký tự`, `the password must have at least ${min} characters`));
  if (rules.requireLower && !/\p{Ll}/u.test(password)) problems.push(bi('phải có chữ thường', 'it needs a lower-case letter'));
  if (rules.requireUpper && !/\p{Lu}/u.test(password)) problems.push(bi('phải có chữ hoa', 'it needs an upper-case letter'));
  if (rules.requireDigit && !/\d/.test(password)) problems.push(bi('phải có chữ số', 'it needs a digit'));
  if (rules.requireSpecial && ![...password].some((ch) => rules.specialCharacters.includes(ch))) {
    problems.push(bi(`phải có ký tự đặc biệt (${rules.specialCharacters})`, `it needs a special character (${rules.specialCharacters})`));
  }
  return problems;
}

/** Throws PASSWORD_WEAK naming every problem (Vietnamese first, then English) when the password breaks the rules. */
export function assertStrongPassword(password: string, rules: PasswordRules, admin: boolean): void {
  const problems = passwordProblems(password, rules, admin);
  if (problems.length === 0) return;
  throw new MailError('PASSWORD_WEAK', bi(`Mật khẩu chưa đạt: ${problems.map((p) => p.split(' / ')[0]).join('; ')}`, `weak password: ${problems.map((p) => p.split(' / ')[1] ?? p).join('; ')}`));
}

/** A one-time password that satisfies the rules (for new accounts and resets). */
export function generatePassword(rules: PasswordRules, admin: boolean): string {
  const lower = 'abcdefghijkmnopqrstuvwxyz';
  const upper = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
  const digits = '23456789';
  const special = rules.specialCharacters;
  const all = lower + upper + digits;
  const length = Math.max(admin ? rules.adminMinLength : rules.userMinLength, 14);
  const pick = (s: string): string => s[randomInt(s.length)] ?? 'x';
  const chars = [pick(lower), pick(upper), pick(digits), pick(special)];
  while (chars.length < length) chars.push(pick(all));
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j] as string, chars[i] as string];
  }
  return chars.join('');
}
