/**
 * R-ACC-6: nobody knows a unit mailbox's own password. It is created (and reset) with a random
 * one shown to nobody — its delegates open it with their own, as UNIT*CLERK — and a password
 * given for it is refused, saying how it is opened instead.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AccountService } from '../../../src/accounts/service.js';
import { isMailError } from '../../../src/lib/errors.js';
import type { Store } from '../../../src/store/port.js';
import { importActor as root, openImportFixture, type ImportFixture } from './import-fixture.js';

async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    if (isMailError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('not refused');
}

describe('a unit mailbox has no password anyone knows (R-ACC-6)', () => {
  let fixture: ImportFixture;
  let store: Store;
  let svc: AccountService;
  beforeEach(async () => {
    fixture = await openImportFixture('buudien-unit-password-', ['nghean.gov.vn']);
    ({ store, svc } = fixture);
  });
  afterEach(() => fixture.close());

  it('is created with a random password that is not shown; a given one is refused', async () => {
    const given = await refusal(svc.addAccount({ fullName: 'Sở Tài chính', unit: 'stc', kind: 'unit', password: 'Chung-ca-phong#1' }, root));
    expect(given.code).toBe('INVALID_INPUT');
    expect(given.message).toMatch(/^Hộp thư đơn vị không có mật khẩu riêng: .+ \/ a unit mailbox has no password of its own: its delegates \(account delegate\) open it with their own/);
    const made = await svc.addAccount({ fullName: 'Sở Tài chính', unit: 'stc', kind: 'unit' }, root);
    expect(made.account.kind).toBe('unit');
    expect(made.oneTimePassword).toBeNull();
    expect((await store.getAccountByAddress(made.account.address))?.passwordHash).toMatch(/^\$argon2id\$/);
    // A personal account still gets its one-time password.
    expect((await svc.addAccount({ fullName: 'Nguyễn Văn Long', unit: 'stc' }, root)).oneTimePassword).toMatch(/.{14,}/);
  });

  it('a reset gives it another random password, shown to nobody', async () => {
    const made = await svc.addAccount({ fullName: 'Sở Tài chính', unit: 'stc', kind: 'unit' }, root);
    const before = made.account.passwordHash;
    const reset = await svc.setPassword(made.account.address, null, root);
    expect(reset.oneTimePassword).toBeNull();
    expect(reset.account.passwordHash).not.toBe(before);
    expect((await refusal(svc.setPassword(made.account.address, 'Chung-ca-phong#1', root))).code).toBe('INVALID_INPUT');
  });
});
