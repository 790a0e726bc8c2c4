import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isMailError } from '../../../src/lib/errors.js';
import type { Store } from '../../../src/store/port.js';
import { AUDIT, message, newAccount, openSecondStore, openTestStore, type TestStore } from './helpers.js';

let t: TestStore;
let store: Store;
beforeEach(async () => {
  t = await openTestStore();
  store = t.store;
});
afterEach(async () => {
  await t.cleanup();
});

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(isMailError(err), `expected MailError ${code}, got ${String(err)}`).toBe(true);
  if (isMailError(err)) {
    expect(err.code).toBe(code);
    expect(err.message).toContain(' / '); // bilingual
  }
}

describe('accounts', () => {
  it('createAccount creates the six subscribed mailboxes and an audit entry', async () => {
    const a = await store.createAccount(
      { address: 'Long.NV@Example.gov.vn', kind: 'personal', fullName: 'Nguyễn Văn Long', unitId: null, passwordHash: 'h', mustChangePassword: true },
      { actor: 'admin@example.gov.vn', action: 'account.create', target: 'long.nv@example.gov.vn', ref: 'CV-12/2026' },
    );
    expect(a.address).toBe('long.nv@example.gov.vn');
    expect(a.localPart).toBe('long.nv');
    expect(a.domain).toBe('example.gov.vn');
    expect(a.state).toBe('active');
    expect(a.role).toBe('none');
    expect(a.mustChangePassword).toBe(true);
    const boxes = await store.listMailboxes(a.id);
    const byName = Object.fromEntries(boxes.map((b) => [b.name, b]));
    expect(Object.keys(byName).sort()).toEqual(['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
    expect(byName.Sent?.specialUse).toBe('\\Sent');
    expect(byName.Drafts?.specialUse).toBe('\\Drafts');
    expect(byName.Trash?.specialUse).toBe('\\Trash');
    expect(byName.Junk?.specialUse).toBe('\\Junk');
    expect(byName.Archive?.specialUse).toBe('\\Archive');
    expect(byName.INBOX?.specialUse).toBeNull();
    expect(boxes.every((b) => b.subscribed)).toBe(true);
    // UIDVALIDITY unique and increasing
    const validities = boxes.map((b) => b.uidValidity);
    expect(new Set(validities).size).toBe(6);
    const audit = await store.listAudit({ target: 'long.nv@example.gov.vn' });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor: 'admin@example.gov.vn', action: 'account.create', ref: 'CV-12/2026' });
  });

  it('refuses duplicates of accounts and aliases with ALREADY_EXISTS', async () => {
    const a = await newAccount(store, 'mai@example.gov.vn');
    await rejectsWith(newAccount(store, 'MAI@example.gov.vn'), 'ALREADY_EXISTS');
    await store.addAlias('van-thu@example.gov.vn', a.id, AUDIT);
    await rejectsWith(newAccount(store, 'van-thu@example.gov.vn'), 'ALREADY_EXISTS');
    await rejectsWith(store.addAlias('mai@example.gov.vn', a.id, AUDIT), 'ALREADY_EXISTS');
    expect(await store.addressTaken('Van-Thu@example.gov.vn')).toBe(true);
    expect(await store.addressTaken('nobody@example.gov.vn')).toBe(false);
    expect((await store.resolveAddress('van-thu@example.gov.vn'))?.id).toBe(a.id);
    expect((await store.resolveAddress('MAI@example.gov.vn'))?.id).toBe(a.id);
    expect(await store.resolveAddress('x@example.gov.vn')).toBeNull();
    expect(await store.listAliases(a.id)).toEqual(['van-thu@example.gov.vn']);
    await store.removeAlias('van-thu@example.gov.vn', AUDIT);
    expect(await store.listAliases(a.id)).toEqual([]);
  });

  it('batch: all or nothing, and outer calls wait for it', async () => {
    const before = await store.listAccounts();
    await expect(
      store.batch(async (tx) => {
        await newAccount(tx, 'a1@example.gov.vn');
        await newAccount(tx, 'a2@example.gov.vn');
        await tx.setSetting('k', 'v');
        await newAccount(tx, 'a1@example.gov.vn'); // duplicate → the whole batch rolls back
      }),
    ).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    expect(await store.listAccounts()).toEqual(before);
    expect(await store.getAccountByAddress('a2@example.gov.vn')).toBeNull();
    expect(await store.getSetting('k')).toBeNull();
    expect(await store.listAudit()).toHaveLength(before.length);

    const events: string[] = [];
    store.onEvent((e) => events.push(e.kind));
    // A concurrent caller (outside the batch callback) waits until the batch has committed.
    let outerDone = false;
    let signalStarted!: () => void;
    const started = new Promise<void>((r) => (signalStarted = r));
    let signalOuterIssued!: () => void;
    const outerIssued = new Promise<void>((r) => (signalOuterIssued = r));
    const batchDone = store.batch(async (tx) => {
      const a = await newAccount(tx, 'b1@example.gov.vn');
      signalStarted();
      await outerIssued;
      await newAccount(tx, 'b2@example.gov.vn');
      expect(outerDone).toBe(false);
      expect(events).toEqual([]); // events only after commit
      return a;
    });
    await started;
    const outer = store.getAccountByAddress('b1@example.gov.vn').then((a) => {
      outerDone = true;
      return a;
    });
    signalOuterIssued();
    const a = await batchDone;
    expect((await outer)?.id).toBe(a.id); // the outer read ran after the commit
    expect(events).toEqual(['mailboxes', 'mailboxes']);
    expect(await store.getAccountByAddress('b2@example.gov.vn')).not.toBeNull();
  });

  it('batch: calls on the outer store from inside the callback join the transaction (no deadlock)', async () => {
    await expect(
      store.batch(async () => {
        await newAccount(store, 'inner1@example.gov.vn'); // the OUTER store, inside the batch
        expect(await store.getAccountByAddress('inner1@example.gov.vn')).not.toBeNull();
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await store.getAccountByAddress('inner1@example.gov.vn')).toBeNull();
    const a = await store.batch(async () => newAccount(store, 'inner2@example.gov.vn'));
    expect((await store.getAccount(a.id))?.address).toBe('inner2@example.gov.vn');
  });

  it('updates accounts, finds them by local part and filters lists', async () => {
    const u = await store.addUnit({ code: 'skhdt', address: 'skhdt', name: 'Sở Kế hoạch và Đầu tư', parentId: null, staff: 40 }, AUDIT);
    const a = await newAccount(store, 'long@example.gov.vn');
    await newAccount(store, 'long@other.gov.vn');
    const at = new Date('2026-03-02T00:00:00Z');
    const b = await store.updateAccount(
      a.id,
      { state: 'suspended', stateReason: 'nghỉ việc', stateChangedAt: at, stateRef: 'QĐ-5', unitId: u.id, quotaBytes: 1000, mustChangePassword: true, role: 'unit' },
      { actor: 'admin', action: 'account.suspend', target: a.address },
    );
    expect(b).toMatchObject({ state: 'suspended', stateReason: 'nghỉ việc', stateRef: 'QĐ-5', unitId: u.id, quotaBytes: 1000, mustChangePassword: true, role: 'unit' });
    expect(b.stateChangedAt?.toISOString()).toBe(at.toISOString());
    expect((await store.findAccountsByLocalPart('LONG')).map((x) => x.domain).sort()).toEqual(['example.gov.vn', 'other.gov.vn']);
    expect((await store.listAccounts({ state: 'suspended' })).map((x) => x.id)).toEqual([a.id]);
    expect((await store.listAccounts({ unitId: u.id })).map((x) => x.id)).toEqual([a.id]);
    expect((await store.listAccounts({ domain: 'other.gov.vn' })).map((x) => x.address)).toEqual(['long@other.gov.vn']);
    await rejectsWith(store.updateAccount(9999, { fullName: 'x' }, null), 'NOT_FOUND');
  });

  it('units: tree, lookups and duplicate codes', async () => {
    const root = await store.addUnit({ code: 'ubnd', address: 'ubnd', name: 'UBND tỉnh', parentId: null, staff: null }, AUDIT);
    const child = await store.addUnit({ code: 'vp', address: 'vp.ubnd', name: 'Văn phòng', parentId: root.id, staff: 12 }, AUDIT);
    expect(child.parentId).toBe(root.id);
    expect((await store.getUnitByCode('vp.ubnd'))?.id).toBe(child.id);
    expect((await store.getUnitByCode('VP'))?.id).toBe(child.id);
    expect((await store.getUnit(root.id))?.name).toBe('UBND tỉnh');
    expect(await store.getUnit(999)).toBeNull();
    await rejectsWith(store.addUnit({ code: 'vp', address: 'vp2.ubnd', name: 'x', parentId: root.id, staff: null }, AUDIT), 'ALREADY_EXISTS');
    await rejectsWith(store.addUnit({ code: 'x', address: 'vp.ubnd', name: 'x', parentId: null, staff: null }, AUDIT), 'ALREADY_EXISTS');
    await rejectsWith(store.addUnit({ code: 'y', address: 'y', name: 'y', parentId: 999, staff: null }, AUDIT), 'NOT_FOUND');
    expect((await store.listUnits()).map((u) => u.code)).toEqual(['ubnd', 'vp']);
  });

  it('domains, delegations, app passwords, settings, purge', async () => {
    await store.addDomain('Example.gov.vn', AUDIT);
    await rejectsWith(store.addDomain('example.gov.vn', AUDIT), 'ALREADY_EXISTS');
    expect((await store.listDomains()).map((x) => x.name)).toEqual(['example.gov.vn']);

    const unit = await store.createAccount(
      { address: 'vanthu@example.gov.vn', kind: 'unit', fullName: 'Văn thư', unitId: null, passwordHash: 'h', mustChangePassword: false },
      AUDIT,
    );
    const clerk = await newAccount(store, 'clerk@example.gov.vn');
    await rejectsWith(store.removeDomain('example.gov.vn', AUDIT), 'IN_USE');
    await store.addDelegation(unit.id, clerk.id, AUDIT);
    await rejectsWith(store.addDelegation(unit.id, clerk.id, AUDIT), 'ALREADY_EXISTS');
    await rejectsWith(store.addDelegation(clerk.id, unit.id, AUDIT), 'INVALID_INPUT');
    expect((await store.listDelegatedTo(clerk.id)).map((a) => a.address)).toEqual(['vanthu@example.gov.vn']);
    await store.removeDelegation(unit.id, clerk.id, AUDIT);
    expect(await store.listDelegatedTo(clerk.id)).toEqual([]);

    const ap = await store.addAppPassword(clerk.id, 'Outlook', 'hash1');
    await store.touchAppPassword(ap.id, new Date('2026-03-05T00:00:00Z'));
    const aps = await store.listAppPasswords(clerk.id);
    expect(aps).toHaveLength(1);
    expect(aps[0]?.lastUsedAt?.toISOString()).toBe('2026-03-05T00:00:00.000Z');
    await rejectsWith(store.removeAppPassword(unit.id, ap.id), 'NOT_FOUND');
    await store.removeAppPassword(clerk.id, ap.id);
    expect(await store.listAppPasswords(clerk.id)).toEqual([]);

    await store.setSetting('dkim.selector', 's1');
    expect(await store.getSetting('dkim.selector')).toBe('s1');
    await store.setSetting('dkim.selector', 's2');
    expect(await store.getSetting('dkim.selector')).toBe('s2');
    await store.setSetting('dkim.selector', null);
    expect(await store.getSetting('dkim.selector')).toBeNull();

    // Purged completely: the sign-in secrets, the phone and the delegations go with the mail.
    await store.addAppPassword(clerk.id, 'Thunderbird', 'hash2');
    await store.addDelegation(unit.id, clerk.id, AUDIT);
    await store.updateAccount(clerk.id, { totpSecret: 'JBSWY3DPEHPK3PXP', phone: '+84912345678' }, null);
    await store.purgeAccount(clerk.id, AUDIT);
    expect(await store.listMailboxes(clerk.id)).toEqual([]);
    expect(await store.usage(clerk.id)).toBe(0);
    expect(await store.listAppPasswords(clerk.id)).toEqual([]);
    expect(await store.listDelegatedTo(clerk.id)).toEqual([]);
    expect(await store.getAccount(clerk.id)).toMatchObject({ totpSecret: null, phone: null, address: 'clerk@example.gov.vn' });
  });

  it('state survives a reopen (migrations are applied once)', async () => {
    const a = await newAccount(store, 'persist@example.gov.vn');
    store = await t.reopen();
    expect((await store.getAccount(a.id))?.address).toBe('persist@example.gov.vn');
    await store.ping();
  });
});

// resolveAddress and mailboxId answer from memory while nothing could have changed them
// (Core.lookupHit): every answer must still be the one a read would give, after writes of this
// process, writes of another process on the same files, batches and deliveries.
/** A second store on the same files: what the CLI next to the server is. */
async function otherProcess<T>(fn: (s: Store) => Promise<T>): Promise<T> {
  const other = await openSecondStore(t);
  try {
    return await fn(other);
  } finally {
    await other.close();
  }
}

describe('remembered lookups', () => {
  it('resolveAddress sees every change made by this process (state, name, alias) and is a copy', async () => {
    const a = await newAccount(store, 'tam.lv@example.gov.vn');
    expect((await store.resolveAddress('tam.lv@example.gov.vn'))?.state).toBe('active');
    await store.updateAccount(a.id, { state: 'suspended', stateReason: 'nghỉ việc' }, AUDIT);
    expect((await store.resolveAddress('tam.lv@example.gov.vn'))?.state).toBe('suspended');
    await store.updateAccount(a.id, { fullName: 'Lê Văn Tám' }, AUDIT);
    expect((await store.resolveAddress('TAM.LV@example.gov.vn'))?.fullName).toBe('Lê Văn Tám');
    expect(await store.resolveAddress('van.thu@example.gov.vn')).toBeNull();
    await store.addAlias('van.thu@example.gov.vn', a.id, AUDIT);
    expect((await store.resolveAddress('van.thu@example.gov.vn'))?.id).toBe(a.id);
    await store.removeAlias('van.thu@example.gov.vn', AUDIT);
    expect(await store.resolveAddress('van.thu@example.gov.vn')).toBeNull();
    // A caller changing the object it got does not change the next answer.
    const got = await store.resolveAddress('tam.lv@example.gov.vn');
    if (got) got.state = 'deleted';
    expect((await store.resolveAddress('tam.lv@example.gov.vn'))?.state).toBe('suspended');
  });

  it('sees what another process commits on the same files', async () => {
    const a = await newAccount(store, 'mai.tt@example.gov.vn');
    expect((await store.resolveAddress('mai.tt@example.gov.vn'))?.state).toBe('active');
    const inboxId = await store.mailboxId(a.id, 'INBOX');
    expect(inboxId).not.toBeNull();
    await otherProcess(async (other) => {
      await other.updateAccount(a.id, { state: 'suspended' }, AUDIT);
      await other.renameMailbox(a.id, 'Archive', 'Lưu trữ');
    });
    expect((await store.resolveAddress('mai.tt@example.gov.vn'))?.state).toBe('suspended');
    expect(await store.mailboxId(a.id, 'Lưu trữ')).not.toBeNull();
    expect(await store.mailboxId(a.id, 'Archive')).toBeNull();
    expect(await store.mailboxId(a.id, 'inbox')).toBe(inboxId);
  });

  it('mailboxId follows renames and deletes; deliveries keep the remembered answers correct', async () => {
    const a = await newAccount(store);
    const id = await store.mailboxId(a.id, 'Drafts');
    expect(id).not.toBeNull();
    await store.renameMailbox(a.id, 'Drafts', 'Thư nháp');
    expect(await store.mailboxId(a.id, 'Drafts')).toBeNull();
    expect(await store.mailboxId(a.id, 'Thư nháp')).toBe(id);
    await store.createMailbox(a.id, 'Drafts');
    const fresh = await store.mailboxId(a.id, 'Drafts');
    expect(fresh).not.toBeNull();
    expect(fresh).not.toBe(id);
    const inbox = await store.mailboxId(a.id, 'INBOX');
    for (let i = 0; i < 3; i++) await store.storeMessage(message(`m${i}`, [inbox ?? 0]));
    expect(await store.mailboxId(a.id, 'INBOX')).toBe(inbox);
    await store.deleteMailbox(a.id, 'Thư nháp');
    expect(await store.mailboxId(a.id, 'Thư nháp')).toBeNull();
  });

  it('a batch that changed an account and rolled back leaves the answers as they were; one that committed is seen', async () => {
    const a = await newAccount(store, 'long.nv@example.gov.vn');
    expect((await store.resolveAddress('long.nv@example.gov.vn'))?.state).toBe('active');
    await expect(
      store.batch(async (tx) => {
        await tx.updateAccount(a.id, { state: 'suspended' }, AUDIT);
        expect((await tx.resolveAddress('long.nv@example.gov.vn'))?.state).toBe('suspended'); // inside: the batch's own view
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect((await store.resolveAddress('long.nv@example.gov.vn'))?.state).toBe('active');
    await store.batch(async (tx) => {
      await tx.updateAccount(a.id, { state: 'suspended' }, AUDIT);
    });
    expect((await store.resolveAddress('long.nv@example.gov.vn'))?.state).toBe('suspended');
  });
});
