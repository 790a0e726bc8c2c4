/** The sign-in history (R-AUTH-5): recorded per account, listed newest first, known sources, pruned. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SignInEntry, Store } from '../../../src/store/port.js';
import { createTestAccount } from '../../helpers/accounts.js';
import { openTestStore, type TestStore } from './helpers.js';

let t: TestStore;
let store: Store;
beforeEach(async () => {
  t = await openTestStore();
  store = t.store;
});
afterEach(async () => {
  await t.cleanup();
});

const h = (n: number) => new Date(Date.UTC(2026, 10, 1, n));

function entry(accountId: number, over: Partial<SignInEntry>): SignInEntry {
  return { accountId, at: h(1), protocol: 'imap', ip: '10.0.0.5', network: '10.0.0.0/24', ok: true, method: 'password', appPasswordId: null, reason: null, ...over };
}

describe('sign-in history', () => {
  it('lists an account’s sign-ins newest first, filtered by success and time; others’ stay apart', async () => {
    const a = await createTestAccount(store, 'long@example.gov.vn');
    const b = await createTestAccount(store, 'mai@example.gov.vn');
    await store.recordSignIn(entry(a.id, { at: h(1) }));
    await store.recordSignIn(entry(a.id, { at: h(3), protocol: 'pop3', ip: '203.0.113.9', ok: false, method: null, reason: 'bad-credentials' }));
    await store.recordSignIn(entry(a.id, { at: h(2), protocol: 'smtp', method: 'app-password', appPasswordId: 7 }));
    await store.recordSignIn(entry(b.id, { at: h(4), ip: '10.0.0.99' }));

    const all = await store.listSignIns(a.id);
    expect(all.map((r) => r.at.toISOString())).toEqual([h(3), h(2), h(1)].map((d) => d.toISOString()));
    expect(all[0]).toMatchObject({ accountId: a.id, protocol: 'pop3', ip: '203.0.113.9', ok: false, method: null, reason: 'bad-credentials' });
    expect(all[1]).toMatchObject({ protocol: 'smtp', ok: true, method: 'app-password', appPasswordId: 7, reason: null });
    expect((await store.listSignIns(a.id, { ok: false })).map((r) => r.ip)).toEqual(['203.0.113.9']);
    expect((await store.listSignIns(a.id, { ok: true, since: h(2) })).map((r) => r.protocol)).toEqual(['smtp']);
    expect(await store.listSignIns(a.id, { limit: 1 })).toHaveLength(1);
    expect((await store.listSignIns(b.id)).map((r) => r.ip)).toEqual(['10.0.0.99']);
  });

  it('knows the networks an account signed in from successfully, since a date', async () => {
    const a = await createTestAccount(store, 'long@example.gov.vn');
    await store.recordSignIn(entry(a.id, { at: h(2), ip: '10.0.0.5' }));
    await store.recordSignIn(entry(a.id, { at: h(5), ip: '198.51.100.1', network: '198.51.100.0/24', ok: false, method: null, reason: 'bad-credentials' }));
    expect(await store.signedInFrom(a.id, '10.0.0.0/24', h(1))).toBe(true);
    expect(await store.signedInFrom(a.id, '10.0.0.0/24', h(3))).toBe(false);
    // A failure does not make a network known.
    expect(await store.signedInFrom(a.id, '198.51.100.0/24', h(1))).toBe(false);
  });

  it('sign-ins alike on one UTC day share a row with a count, the first and the last time; any difference makes a new row', async () => {
    const a = await createTestAccount(store, 'long@example.gov.vn');
    const m = (min: number) => new Date(Date.UTC(2026, 10, 1, 8, min));
    for (const min of [5, 0, 40]) await store.recordSignIn(entry(a.id, { at: m(min), protocol: 'pop3' }));
    await store.recordSignIn(entry(a.id, { at: m(10), protocol: 'pop3', ip: '10.0.0.6' }));
    await store.recordSignIn(entry(a.id, { at: m(11), protocol: 'pop3', method: 'app-password', appPasswordId: 3 }));
    await store.recordSignIn(entry(a.id, { at: m(12), protocol: 'pop3', ok: false, method: null, reason: 'bad-credentials' }));
    await store.recordSignIn(entry(a.id, { at: m(13), protocol: 'pop3', ok: false, method: null, reason: 'bad-credentials' }));
    await store.recordSignIn(entry(a.id, { at: new Date(Date.UTC(2026, 10, 2, 0, 1)), protocol: 'pop3' }));
    const rows = await store.listSignIns(a.id);
    expect(rows.map((r) => [r.at.toISOString(), r.firstAt.toISOString(), r.count, r.ip, r.method, r.ok])).toEqual([
      ['2026-11-02T00:01:00.000Z', '2026-11-02T00:01:00.000Z', 1, '10.0.0.5', 'password', true],
      [m(40).toISOString(), m(0).toISOString(), 3, '10.0.0.5', 'password', true],
      [m(13).toISOString(), m(12).toISOString(), 2, '10.0.0.5', null, false],
      [m(11).toISOString(), m(11).toISOString(), 1, '10.0.0.5', 'app-password', true],
      [m(10).toISOString(), m(10).toISOString(), 1, '10.0.0.6', 'password', true],
    ]);
  });

  it('prunes rows older than a date', async () => {
    const a = await createTestAccount(store, 'long@example.gov.vn');
    await store.recordSignIn(entry(a.id, { at: h(1) }));
    await store.recordSignIn(entry(a.id, { at: h(30) }));
    expect(await store.pruneSignIns(h(3))).toBe(1);
    expect((await store.listSignIns(a.id)).map((r) => r.at.toISOString())).toEqual([h(30).toISOString()]);
  });
});
