/**
 * R-ACC-6 over IMAP: when a unit mailbox passes to a new clerk (account handover), the password
 * the old clerk knew stops working — for new sign-ins and for the session already open on it —
 * and the one-time password given for the new clerk signs in only to change it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { superActor } from '../../src/accounts/service.js';
import { createTestAccount, PASSWORD } from '../helpers/accounts.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { imapSignsIn, LineClient } from './imap-helpers.js';

describe('unit mailbox handover', () => {
  let app: TestApp;
  const root = superActor('cli:test');

  beforeAll(async () => {
    app = await startApp({ imap: { signInCheckMs: 50 } });
    const unit = await app.accounts.addUnit({ name: 'Văn phòng Sở' }, root);
    await createTestAccount(app.store, `${unit.address}@example.gov.vn`, { kind: 'unit', unitId: unit.id });
    await createTestAccount(app.store, 'vanlt@example.gov.vn', { unitId: unit.id });
    await createTestAccount(app.store, 'thutt@example.gov.vn', { unitId: unit.id });
    await app.accounts.delegate(unit.address, 'vanlt', root);
  });
  afterAll(async () => app?.stop());

  it("the old clerk's password stops working at once, an open session too; the new clerk's one-time password must be changed", async () => {
    const unit = (await app.store.listAccounts({})).find((a) => a.kind === 'unit')!;
    const local = unit.address.split('@')[0]!;
    // The old clerk reads the unit mailbox with its password.
    const open = await LineClient.connect(app.port('imap'));
    await open.login(unit.address);
    expect((await open.cmd('s1', 'SELECT INBOX')).at(-1)).toMatch(/^s1 OK/);

    const r = await app.accounts.handover(local, 'vanlt', 'thutt', root, 'QĐ-9');
    expect((await imapSignsIn(app, unit.address, PASSWORD)).ok).toBe(false);
    // The open session ends at its next sign-in check.
    await new Promise((res) => setTimeout(res, 200));
    open.write('s2 NOOP\r\n');
    expect(await open.waitFor((b) => b.includes('* BYE') || /s2 NO/.test(b))).toMatch(/\* BYE|s2 NO/);
    open.close();
    // The new clerk's one-time password is right but must be changed first (R-ACC-2).
    const fresh = await imapSignsIn(app, unit.address, r.oneTimePassword);
    expect(fresh.ok).toBe(false);
    expect(fresh.text).toMatch(/đổi mật khẩu|change/i);
  });
});
