/**
 * The account service's two-factor sign-in and app passwords (R-AUTH-3) with R-ACC-7 rights: a
 * unit administrator within its unit only, users nothing, deleted accounts no changes.
 */
import { rmSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAccountService, superActor, type AccountService, type Actor } from '../../../src/accounts/service.js';
import { verifyPassword } from '../../../src/auth/passwords.js';
import { currentTotp, verifyTotp } from '../../../src/auth/totp.js';
import { configFrom } from '../../../src/config/load.js';
import { ManualClock } from '../../../src/lib/clock.js';
import { silentLogger } from '../../../src/lib/log.js';
import type { Store } from '../../../src/store/port.js';
import { openSqliteStore } from '../../../src/store/sqlite/index.js';
import { testDir } from '../../helpers/app.js';
import { errorCode } from '../../helpers/accounts.js';

const root = superActor('cli:test');
let dir: string;
let store: Store;
let clock: ManualClock;
let svc: AccountService;
let unitAdmin: Actor;

const code = errorCode;

beforeEach(async () => {
  dir = testDir('buudien-2fa-');
  clock = new ManualClock(new Date('2026-03-02T08:00:00Z'));
  const config = configFrom({ domains: ['example.gov.vn'], storage: { dir } });
  store = await openSqliteStore({ dir, log: silentLogger(), clock, inlineBlobMaxBytes: 65536, groupCommitWindowMs: 0 });
  await store.addDomain('example.gov.vn', { actor: 'test', action: 'domain.add', target: 'example.gov.vn' });
  svc = createAccountService({ store, config, clock, log: silentLogger() });
  const stc = await svc.addUnit({ name: 'Sở Tài chính' }, root);
  await svc.addUnit({ name: 'Sở Y tế' }, root);
  await svc.addAccount({ fullName: 'Đỗ Văn Mạnh', unit: 'stc' }, root);
  await svc.addAccount({ fullName: 'Lê Thị Lan', unit: 'syt' }, root);
  unitAdmin = { name: 'quantri.stc@example.gov.vn', role: 'unit', unitId: stc.id };
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('two-factor sign-in (R-AUTH-3)', () => {
  it('enable stores a TOTP secret and returns it with an otpauth URI; again only with reset; disable clears it', async () => {
    const r = await svc.enableTwoFactor('manhdv', root, { ref: 'CV-1' });
    expect(r.replaced).toBe(false);
    expect(r.account.totpSecret).toBe(r.secret);
    expect(r.uri).toBe(`otpauth://totp/example.gov.vn:manhdv%40example.gov.vn?secret=${r.secret}&period=30&digits=6&algorithm=SHA1&issuer=example.gov.vn`);
    expect(verifyTotp(r.secret, currentTotp(r.secret, clock.now()), clock.now())).toBe(true);
    expect(await code(svc.enableTwoFactor('manhdv', root))).toBe('ALREADY_EXISTS');
    const again = await svc.enableTwoFactor('manhdv', root, { reset: true });
    expect(again.replaced).toBe(true);
    expect(again.secret).not.toBe(r.secret);
    expect((await store.getAccountByAddress('manhdv@example.gov.vn'))?.totpSecret).toBe(again.secret);

    expect(await code(svc.disableTwoFactor('manhdv', '  ', root))).toBe('INVALID_INPUT');
    expect((await svc.disableTwoFactor('manhdv', 'mất điện thoại', root, 'CV-2')).totpSecret).toBeNull();
    expect(await code(svc.disableTwoFactor('manhdv', 'lần nữa', root))).toBe('INVALID_INPUT');

    const audit = (await store.listAudit({ target: 'manhdv@example.gov.vn' })).filter((e) => e.action.startsWith('account.2fa'));
    expect(audit.map((e) => [e.action, e.ref ?? null, e.details ?? {}])).toEqual(
      expect.arrayContaining([
        ['account.2fa.enable', 'CV-1', {}],
        ['account.2fa.enable', null, { reset: true }],
        ['account.2fa.disable', 'CV-2', { reason: 'mất điện thoại', method: 'totp' }],
      ]),
    );
    expect(audit).toHaveLength(3);
  });
});

describe('app passwords (R-AUTH-3)', () => {
  it('add returns the secret once and stores only its hash; list has no hash; remove is by the account’s own id', async () => {
    const a = await svc.addAppPassword('manhdv', ' Outlook văn phòng ', root, 'CV-3');
    expect(a.appPassword.label).toBe('Outlook văn phòng');
    expect(a.secret).toMatch(/^[a-z]{4} [a-z]{4} [a-z]{4} [a-z]{4}$/);
    const stored = await store.listAppPasswords(a.account.id);
    expect(await verifyPassword(stored[0]?.hash ?? '', a.secret.replace(/ /g, ''))).toBe(true);
    const listed = await svc.listAppPasswords('manhdv', root);
    expect(listed).toEqual([{ id: a.appPassword.id, label: 'Outlook văn phòng', createdAt: clock.now(), lastUsedAt: null }]);
    expect(listed[0]).not.toHaveProperty('hash');

    const lan = await svc.addAppPassword('lanlt', 'Thunderbird', root);
    expect(await code(svc.removeAppPassword('manhdv', lan.appPassword.id, root))).toBe('NOT_FOUND');
    expect(await svc.listAppPasswords('lanlt', root)).toHaveLength(1);
    const removed = await svc.removeAppPassword('manhdv', a.appPassword.id, root, 'CV-4');
    expect(removed.appPassword).toMatchObject({ id: a.appPassword.id, label: 'Outlook văn phòng' });
    expect(await svc.listAppPasswords('manhdv', root)).toEqual([]);
    expect(await code(svc.removeAppPassword('manhdv', a.appPassword.id, root))).toBe('NOT_FOUND');
    expect(await code(svc.addAppPassword('manhdv', '', root))).toBe('INVALID_INPUT');

    const audit = (await store.listAudit({ target: 'manhdv@example.gov.vn' })).filter((e) => e.action.startsWith('account.app-password'));
    expect(audit.map((e) => [e.action, e.ref, e.details])).toEqual(
      expect.arrayContaining([
        ['account.app-password.add', 'CV-3', { id: a.appPassword.id, label: 'Outlook văn phòng' }],
        ['account.app-password.remove', 'CV-4', { id: a.appPassword.id, label: 'Outlook văn phòng' }],
      ]),
    );
    expect(audit).toHaveLength(2);
  });

  it('an administrator\'s password reset revokes every app password of the account, with the count in the audit entry', async () => {
    const one = await svc.addAppPassword('manhdv', 'Outlook', root);
    await svc.addAppPassword('manhdv', 'Điện thoại', root);
    const lan = await svc.addAppPassword('lanlt', 'Thunderbird', root);
    const r = await svc.setPassword('manhdv', null, unitAdmin, { ref: 'CV-9' });
    expect(r.appPasswordsRevoked).toBe(2);
    expect(await store.listAppPasswords(one.account.id)).toEqual([]);
    // Another account's are not touched.
    expect(await svc.listAppPasswords('lanlt', root)).toEqual([expect.objectContaining({ id: lan.appPassword.id })]);
    const passwd = (await store.listAudit({ target: 'manhdv@example.gov.vn' })).filter((e) => e.action === 'account.passwd');
    expect(passwd.map((e) => [e.actor, e.ref, e.details])).toEqual([['quantri.stc@example.gov.vn', 'CV-9', { appPasswordsRevoked: 2 }]]);

    // None left: a second reset revokes none, and says so.
    const again = await svc.setPassword('manhdv', 'Mat-khau-moi#2026', root, { forceChange: false });
    expect(again.appPasswordsRevoked).toBe(0);
    const last = (await store.listAudit({ target: 'manhdv@example.gov.vn' })).filter((e) => e.action === 'account.passwd');
    expect(last.map((e) => e.details)).toEqual(expect.arrayContaining([{ appPasswordsRevoked: 0, noForceChange: true }]));
  });

  it('the reset and the revocation are one transaction: a failed reset leaves the app passwords and the password as they were', async () => {
    const added = await svc.addAppPassword('manhdv', 'Outlook', root);
    const before = await store.getAccount(added.account.id);
    // A store whose transactions fail at the account update, after the app passwords were removed.
    const failing: Store = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop !== 'batch') return Reflect.get(target, prop, receiver) as unknown;
        return <T>(fn: (tx: Store) => Promise<T>) =>
          target.batch((tx) =>
            fn(
              new Proxy(tx, {
                get(t, p, r) {
                  if (p === 'updateAccount') return () => Promise.reject(new Error('disk full'));
                  return Reflect.get(t, p, r) as unknown;
                },
              }),
            ),
          );
      },
    });
    await expect(svc.withStore(failing).setPassword('manhdv', null, root)).rejects.toThrow('disk full');
    expect(await store.listAppPasswords(added.account.id)).toEqual([expect.objectContaining({ id: added.appPassword.id })]);
    expect(await store.getAccount(added.account.id)).toEqual(before);
    expect((await store.listAudit({ target: 'manhdv@example.gov.vn' })).filter((e) => e.action === 'account.passwd')).toEqual([]);
  });
});

describe('R-ACC-7 rights, as for a password reset', () => {
  it('a unit admin acts within its unit only; a user not at all; a deleted account takes no change', async () => {
    expect(await code(svc.enableTwoFactor('manhdv', unitAdmin))).toBe('ok');
    expect(await code(svc.disableTwoFactor('manhdv', 'thử', unitAdmin))).toBe('ok');
    const added = await svc.addAppPassword('manhdv', 'Outlook', unitAdmin);
    expect(await code(svc.listAppPasswords('manhdv', unitAdmin))).toBe('ok');
    expect(await code(svc.removeAppPassword('manhdv', added.appPassword.id, unitAdmin))).toBe('ok');
    expect((await store.listAudit({ target: 'manhdv@example.gov.vn' })).filter((e) => e.actor === 'quantri.stc@example.gov.vn')).toHaveLength(4);

    const lan = await svc.addAppPassword('lanlt', 'Outlook', root);
    await svc.enableTwoFactor('lanlt', root);
    const outside: Array<() => Promise<unknown>> = [
      () => svc.enableTwoFactor('lanlt', unitAdmin, { reset: true }),
      () => svc.disableTwoFactor('lanlt', 'x', unitAdmin),
      () => svc.addAppPassword('lanlt', 'Outlook 2', unitAdmin),
      () => svc.listAppPasswords('lanlt', unitAdmin),
      () => svc.removeAppPassword('lanlt', lan.appPassword.id, unitAdmin),
    ];
    for (const f of outside) expect(await code(f())).toBe('PERMISSION_DENIED');
    const user: Actor = { name: 'manhdv@example.gov.vn', role: 'none', unitId: unitAdmin.unitId };
    expect(await code(svc.enableTwoFactor('manhdv', user))).toBe('PERMISSION_DENIED');
    expect(await code(svc.addAppPassword('manhdv', 'x', user))).toBe('PERMISSION_DENIED');
    const lanAccount = await store.getAccountByAddress('lanlt@example.gov.vn');
    expect(await store.listAppPasswords(lanAccount?.id ?? 0)).toHaveLength(1);

    await svc.delete('manhdv', 'nghỉ hưu', root);
    expect(await code(svc.enableTwoFactor('manhdv', root))).toBe('INVALID_INPUT');
    expect(await code(svc.addAppPassword('manhdv', 'Outlook', root))).toBe('INVALID_INPUT');
    expect(await code(svc.listAppPasswords('manhdv', root))).toBe('ok');
    expect(await code(svc.enableTwoFactor('khongco', root))).toBe('NOT_FOUND');
  });
});
