import { describe, expect, it } from 'vitest';
import { createAppPassword, generateAppPasswordSecret, MAX_APP_PASSWORDS, revokeAppPassword } from '../../../src/auth/app-passwords.js';
import { verifyPassword } from '../../../src/auth/passwords.js';
import { currentTotp, newTotpSecret, totpUri, verifyTotp } from '../../../src/auth/totp.js';
import { isMailError } from '../../../src/lib/errors.js';
import type { AppPassword, AuditEntry, Store } from '../../../src/store/port.js';

class Apps {
  items: AppPassword[] = [];
  audits: AuditEntry[] = [];
  async audit(e: AuditEntry) {
    this.audits.push(e);
  }
  async batch<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    return fn(this as unknown as Store);
  }
  async addAppPassword(accountId: number, label: string, hash: string, hint: string | null = null) {
    const a: AppPassword = { id: this.items.length + 1, accountId, label, hash, hint, createdAt: new Date(), lastUsedAt: null };
    this.items.push(a);
    return a;
  }
  async listAppPasswords(accountId: number) {
    return this.items.filter((a) => a.accountId === accountId);
  }
  async removeAppPassword(accountId: number, id: number) {
    this.items = this.items.filter((a) => !(a.accountId === accountId && a.id === id));
  }
}

describe('app passwords', () => {
  it('secrets are 16 letters in groups of four', () => {
    expect(generateAppPasswordSecret()).toMatch(/^[a-z]{4} [a-z]{4} [a-z]{4} [a-z]{4}$/);
    expect(generateAppPasswordSecret()).not.toBe(generateAppPasswordSecret());
  });

  it('stores only a hash of the secret without spaces; revoke removes it', async () => {
    const store = new Apps();
    const audit = (action: string) => (p: AppPassword): AuditEntry => ({ actor: 'test', action, target: 'a', details: { id: p.id, label: p.label } });
    const { secret, appPassword } = await createAppPassword(store, 1, '  Outlook văn phòng ', { audit: audit('add') });
    expect(appPassword.label).toBe('Outlook văn phòng');
    // The first 4 letters in clear pick the hash to check at sign-in; the other 12 stay hashed.
    expect(appPassword.hint).toBe(secret.slice(0, 4));
    expect(appPassword.hash).not.toContain(secret.replace(/ /g, ''));
    expect(await verifyPassword(appPassword.hash, secret.replace(/ /g, ''))).toBe(true);
    expect(await revokeAppPassword(store, 1, appPassword.id, { audit: audit('remove') })).toMatchObject({ id: appPassword.id });
    expect(await store.listAppPasswords(1)).toEqual([]);
    expect(await revokeAppPassword(store, 1, appPassword.id, { audit: audit('remove') })).toBeNull();
    // The audit entries name the label, never the secret.
    expect(store.audits.map((a) => [a.action, a.details])).toEqual([
      ['add', { id: appPassword.id, label: 'Outlook văn phòng' }],
      ['remove', { id: appPassword.id, label: 'Outlook văn phòng' }],
    ]);
  });

  it('refuses an empty label and more than the maximum, bilingually', async () => {
    const store = new Apps();
    const audit = (p: AppPassword): AuditEntry => ({ actor: 'test', action: 'add', target: 'a', details: { id: p.id } });
    await expect(createAppPassword(store, 1, '  ', { audit })).rejects.toThrow(/^Tên thiết bị .* \/ The device label/);
    for (let i = 0; i < MAX_APP_PASSWORDS; i++) await store.addAppPassword(1, `d${i}`, 'x');
    const e = await createAppPassword(store, 1, 'one more', { audit }).catch((x: unknown) => x);
    expect(isMailError(e, 'LIMIT_EXCEEDED')).toBe(true);
  });
});

describe('TOTP', () => {
  it('accepts the current code and one step of drift, refuses others', () => {
    const secret = newTotpSecret();
    const now = new Date('2026-06-01T08:00:10Z');
    const code = currentTotp(secret, now);
    expect(verifyTotp(secret, code, now)).toBe(true);
    expect(verifyTotp(secret, `${code.slice(0, 3)} ${code.slice(3)}`, now)).toBe(true);
    expect(verifyTotp(secret, code, new Date(now.getTime() + 30_000))).toBe(true);
    expect(verifyTotp(secret, code, new Date(now.getTime() + 120_000))).toBe(false);
    expect(verifyTotp(secret, '12345', now)).toBe(false);
    expect(verifyTotp(secret, 'abcdef', now)).toBe(false);
  });
  it('builds an otpauth URI for the QR code', () => {
    const uri = totpUri('JBSWY3DPEHPK3PXP', 'longnv@nghean.gov.vn', 'buudien');
    expect(uri).toMatch(/^otpauth:\/\/totp\/buudien:longnv%40nghean\.gov\.vn\?secret=JBSWY3DPEHPK3PXP/);
  });
});
