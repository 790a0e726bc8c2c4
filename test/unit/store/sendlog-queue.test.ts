import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SendLogEntry, Store } from '../../../src/store/port.js';
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

function entry(over: Partial<SendLogEntry>): SendLogEntry {
  return {
    at: new Date('2026-03-01T08:00:00Z'),
    direction: 'submission',
    sender: 'long@example.gov.vn',
    recipient: 'mai@example.gov.vn',
    clientIp: '10.0.0.5',
    account: 'long@example.gov.vn',
    messageId: '<a@b>',
    size: 1234,
    outcome: 'delivered',
    code: 250,
    text: null,
    findings: [],
    ...over,
  };
}

describe('send log', () => {
  it('searches by sender, recipient, ip and time, newest first; prunes', async () => {
    const h = (n: number) => new Date(Date.UTC(2026, 2, 1, n));
    await store.logSend([
      entry({ at: h(1) }),
      entry({ at: h(2), recipient: 'Dung@Other.vn', outcome: 'queued', findings: ['executables: reject ho-so.exe'] }),
      entry({ at: h(3), sender: 'mai@example.gov.vn', recipient: 'long@example.gov.vn', clientIp: '10.0.0.9' }),
      entry({ at: h(4), direction: 'inbound', sender: '', recipient: 'long@example.gov.vn', clientIp: '203.0.113.7', outcome: 'rejected', code: 550 }),
    ]);
    const table: Array<[Parameters<Store['searchSendLog']>[0], number[]]> = [
      [{}, [4, 3, 2, 1]],
      [{ sender: 'LONG@example.gov.vn' }, [2, 1]],
      [{ recipient: 'long@example.gov.vn' }, [4, 3]],
      [{ recipient: 'dung@other.vn' }, [2]],
      [{ recipient: '@other.vn' }, [2]],
      [{ clientIp: '203.0.113.7' }, [4]],
      [{ since: h(2), until: h(4) }, [3, 2]],
      [{ sender: 'long@example.gov.vn', since: h(2) }, [2]],
      [{ limit: 1 }, [4]],
    ];
    for (const [q, hours] of table) {
      const rows = await store.searchSendLog(q);
      expect(rows.map((r) => r.at.getUTCHours()), JSON.stringify(q)).toEqual(hours);
    }
    const [r2] = await store.searchSendLog({ recipient: 'dung@other.vn' });
    expect(r2).toMatchObject({ direction: 'submission', outcome: 'queued', findings: ['executables: reject ho-so.exe'], size: 1234, code: 250 });
    expect(await store.pruneSendLog(h(3))).toBe(2);
    expect((await store.searchSendLog({})).map((r) => r.at.getUTCHours())).toEqual([4, 3]);
  });
});

describe('queue', () => {
  it('enqueue, claim (invisible while claimed, claimable again after a crash), finish', async () => {
    const now = t.clock.now();
    const raw = Buffer.from('From: a\r\n\r\nbody');
    const q1 = await store.enqueue({ sender: 'long@example.gov.vn', recipients: ['a@x.vn', 'b@y.vn'], raw, account: 'long@example.gov.vn', messageId: '<m1@x>', now });
    expect(q1).toMatchObject({ recipients: ['a@x.vn', 'b@y.vn'], size: raw.length, attempts: 0, delayNoticeSent: false });
    expect((await store.readBlob(q1.blobId)).equals(raw)).toBe(true);
    await store.enqueue({ sender: 'x@example.gov.vn', recipients: ['c@z.vn'], raw: Buffer.from('other'), account: null, messageId: null, now: new Date(now.getTime() + 60_000) });
    expect(await store.queueDepth()).toBe(2);

    const claimed = await store.claimDue(now, 10);
    expect(claimed.map((c) => c.id)).toEqual([q1.id]);
    expect(await store.claimDue(now, 10)).toEqual([]); // already claimed
    // After a crash the claim expires and the item is claimable again.
    const later = new Date(now.getTime() + 60 * 60_000);
    expect((await store.claimDue(later, 10)).map((c) => c.id).sort()).toHaveLength(2);

    await store.finishAttempt(q1.id, { remaining: ['b@y.vn'], nextAttemptAt: new Date(later.getTime() + 1000), error: '451 try later', delayNoticeSent: true });
    const [item] = (await store.listQueue()).filter((i) => i.id === q1.id);
    expect(item).toMatchObject({ recipients: ['b@y.vn'], attempts: 1, lastError: '451 try later', delayNoticeSent: true });
    expect(await store.claimDue(later, 10)).toEqual([]); // not due yet
    expect((await store.claimDue(new Date(later.getTime() + 1000), 10)).map((c) => c.id)).toEqual([q1.id]);
    await store.finishAttempt(q1.id, { remaining: [], nextAttemptAt: null, error: null });
    expect(await store.queueDepth()).toBe(1);
    await expect(store.finishAttempt(q1.id, { remaining: [], nextAttemptAt: null, error: null })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('keeps the RFC 3461 parameters: RET and ENVID per item, NOTIFY and ORCPT per recipient (only its own recipients)', async () => {
    const now = t.clock.now();
    const plain = await store.enqueue({ sender: 's@example.gov.vn', recipients: ['a@x.vn'], raw: Buffer.from('p'), account: null, messageId: null, now });
    expect(plain).toMatchObject({ dsn: { ret: null, envid: null }, recipientDsn: {} });
    const q = await store.enqueue({
      sender: 's@example.gov.vn',
      recipients: ['a@x.vn', 'b@y.vn', 'c@z.vn'],
      raw: Buffer.from('d'),
      account: null,
      messageId: null,
      now,
      dsn: { ret: 'HDRS', envid: 'QD99+2025' },
      recipientDsn: { 'a@x.vn': { notify: ['SUCCESS', 'DELAY'], orcpt: 'rfc822;A@x.vn' }, 'b@y.vn': { notify: ['NEVER'], orcpt: null }, 'local@example.gov.vn': { notify: ['SUCCESS'], orcpt: null } },
    });
    const want = { dsn: { ret: 'HDRS', envid: 'QD99+2025' }, recipientDsn: { 'a@x.vn': { notify: ['SUCCESS', 'DELAY'], orcpt: 'rfc822;A@x.vn' }, 'b@y.vn': { notify: ['NEVER'], orcpt: null } } };
    expect(q).toMatchObject(want);
    expect(q.recipientDsn).not.toHaveProperty('local@example.gov.vn');
    await store.finishAttempt(q.id, { remaining: ['a@x.vn'], nextAttemptAt: now, error: '451' });
    const [again] = (await store.claimDue(now, 10)).filter((i) => i.id === q.id);
    expect(again).toMatchObject({ recipients: ['a@x.vn'], ...want });
  });
});

describe('quarantine', () => {
  it('stores, lists, gets and removes', async () => {
    const raw = Buffer.from('virus?');
    const q = await store.quarantine({ at: t.clock.now(), sender: 's@x.vn', recipients: ['r@example.gov.vn'], reason: 'clamav: Eicar', direction: 'inbound', raw });
    expect(q).toMatchObject({ sender: 's@x.vn', recipients: ['r@example.gov.vn'], size: 6, reason: 'clamav: Eicar', direction: 'inbound' });
    expect((await store.readBlob(q.blobId)).toString()).toBe('virus?');
    expect((await store.listQuarantine()).map((x) => x.id)).toEqual([q.id]);
    expect((await store.getQuarantine(q.id))?.blobId).toBe(q.blobId);
    await store.removeQuarantine(q.id);
    expect(await store.getQuarantine(q.id)).toBeNull();
    await expect(store.removeQuarantine(q.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await store.collectGarbage()).blobs).toBe(1);
  });
});
