/**
 * R-AUTH-1 on what users really type: passwords are NFC before the rules, hashing and
 * verification (Unikey's "Unicode tổ hợp" types NFD, phones NFC); length counts what is seen
 * (grapheme clusters, invisible format characters left out); control characters are refused.
 */
import argon2 from 'argon2';
import { describe, expect, it } from 'vitest';
import { assertStrongPassword, hashPassword, passwordProblems, verifyPassword } from '../../../src/auth/passwords.js';
import { visibleLength } from '../../../src/auth/passwords.js';
import { configFrom } from '../../../src/config/load.js';

const rules = configFrom({ domains: ['example.gov.vn'] }).passwords;
const ok = (p: string, admin = false) => passwordProblems(p, rules, admin).length === 0;

describe('password rules count what the user sees', () => {
  it('invisible characters and combining marks do not make a short password long enough', () => {
    expect(rules.userMinLength).toBe(8);
    expect(ok('Aa1!\u0301\u0301\u0301\u0301')).toBe(false);
    expect(ok('Aa1!\u200b\u200b\u200b\u200b')).toBe(false);
    expect(ok('Aa1!\u200b\u200b\u200b\u200b\u200b\u200b', true)).toBe(false);
    expect(ok('\u00adAa1!ab\u200d\ufeff')).toBe(false);
    // Vietnamese letters count once however they were typed.
    expect(visibleLength('Ậậ1!ab'.normalize('NFD'))).toBe(6);
    expect(ok('Ậậ1!ab'.normalize('NFD'))).toBe(false);
    expect(ok('Ậậ1!abcd'.normalize('NFD'))).toBe(true);
    expect(ok('Mật-khẩu#2026')).toBe(true);
  });

  it('control characters are refused, bilingual, Vietnamese first', () => {
    for (const p of ['Aa1!\0\0\0\0', 'Mat-khau#2026\0', 'Mat\tkhau#2026', 'Mat-khau#2026\n', 'Mat-khau#2026\u0085']) {
      expect(ok(p)).toBe(false);
      expect(passwordProblems(p, rules, false)).toContain('không được có ký tự điều khiển (NUL, tab, xuống dòng…) / it may not contain control characters (NUL, tab, line breaks…)');
    }
    expect(() => assertStrongPassword('Mat-khau#2026\0', rules, false)).toThrow(/^Mật khẩu chưa đạt: không được có ký tự điều khiển .+ \/ weak password: it may not contain control characters/);
  });
});

describe('passwords are compared in NFC', () => {
  it('set in NFD (Unikey "tổ hợp"), typed in NFC on a phone — and the other way round', async () => {
    const pw = 'Mật-khẩu#2026';
    expect(pw.normalize('NFD')).not.toBe(pw.normalize('NFC'));
    const fromNfd = await hashPassword(pw.normalize('NFD'));
    expect(await verifyPassword(fromNfd, pw.normalize('NFC'))).toBe(true);
    expect(await verifyPassword(fromNfd, pw.normalize('NFD'))).toBe(true);
    const fromNfc = await hashPassword(pw.normalize('NFC'));
    expect(await verifyPassword(fromNfc, pw.normalize('NFD'))).toBe(true);
    expect(await verifyPassword(fromNfc, 'Mật-khẩu#2027')).toBe(false);
  });

  it('a hash made before normalising (of the NFD bytes) still verifies the password as typed then', async () => {
    const nfd = 'Mật-khẩu#2026'.normalize('NFD');
    const old = await argon2.hash(nfd, { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 });
    expect(await verifyPassword(old, nfd)).toBe(true);
  });

  it('bad input is false, never a throw', async () => {
    expect(await verifyPassword('not-a-hash', 'x')).toBe(false);
    expect(await verifyPassword(await hashPassword('x'), null as unknown as string)).toBe(false);
  });
});
