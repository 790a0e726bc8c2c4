/**
 * deliver(): one message, one outcome (durability review). The local copies and the queue item
 * of the remote recipients commit together; a failure of either leaves nothing and every
 * recipient 451 4.3.0. Per-recipient outcomes stay: an unknown user is refused, a full mailbox
 * waits in the queue next to the others' deliveries.
 */
import { rmSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configFrom } from '../../../src/config/load.js';
import { createDelivery, type Delivery } from '../../../src/delivery/index.js';
import { systemClock } from '../../../src/lib/clock.js';
import { silentLogger } from '../../../src/lib/log.js';
import { parseMessage } from '../../../src/mail/parse.js';
import type { Account, Store } from '../../../src/store/port.js';
import { openSqliteStore } from '../../../src/store/sqlite/index.js';
import { testDir } from '../../helpers/app.js';
import { failInserts } from '../../helpers/sqlite-faults.js';

const audit = { actor: 'test', action: 'setup', target: 'x' };
let dir: string;
let store: Store;
let delivery: Delivery;

async function account(address: string, quotaBytes: number | null = null): Promise<Account> {
  return store.createAccount({ address, kind: 'personal', fullName: address, unitId: null, passwordHash: 'x', mustChangePassword: false, quotaBytes }, audit);
}

async function inboxCount(a: Account): Promise<number> {
  const box = await store.getMailbox(a.id, 'INBOX');
  return box ? (await store.listMessages(box.id)).length : 0;
}

const raw = Buffer.from(`From: <lan@example.gov.vn>\r\nTo: <hoa@example.gov.vn>, <x@other.vn>\r\nSubject: hon hop\r\nMessage-ID: <mixed@example.gov.vn>\r\n\r\n${'Xin chào\r\n'.repeat(20)}`);
const send = (recipients: string[], through: Delivery = delivery) =>
  through.deliver({ raw, parsed: parseMessage(raw), sender: 'lan@example.gov.vn', recipients, direction: 'submission', clientIp: '127.0.0.1', account: 'lan@example.gov.vn' });
const outcomes = (r: Awaited<ReturnType<typeof send>>) => r.results.map((x) => [x.recipient, x.outcome, x.code]);

beforeEach(async () => {
  dir = testDir();
  store = await openSqliteStore({ dir, log: silentLogger(), clock: systemClock, inlineBlobMaxBytes: 64 * 1024, groupCommitWindowMs: 0 });
  await store.addDomain('example.gov.vn', audit);
  delivery = createDelivery({ store, config: configFrom({ domains: ['example.gov.vn'], storage: { dir } }), log: silentLogger(), clock: systemClock });
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('deliver: local and remote recipients of one message', () => {
  it.each([
    ['queue', 'a failed queue write stores no local copy'],
    ['messages', 'a failed local write queues nothing either'],
  ] as const)('%s: %s: every recipient 451 4.3.0, nothing stored, nothing queued', async (table, _what) => {
    const hoa = await account('hoa@example.gov.vn');
    const restore = failInserts(dir, table);
    let r: Awaited<ReturnType<typeof send>>;
    try {
      r = await send(['hoa@example.gov.vn', 'x@other.vn']);
    } finally {
      restore();
    }
    expect(outcomes(r)).toEqual([
      ['hoa@example.gov.vn', 'deferred', 451],
      ['x@other.vn', 'deferred', 451],
    ]);
    expect(r.results.every((x) => x.enhanced === '4.3.0')).toBe(true);
    expect(r.queueId).toBeNull();
    expect(await inboxCount(hoa)).toBe(0);
    expect(await store.listQueue()).toHaveLength(0);
  });

  it('a full disk: every recipient 452 4.3.1 (RFC 3463 "mail system full"), bilingual, nothing stored', async () => {
    const hoa = await account('hoa@example.gov.vn');
    const enospc = (): Promise<never> => Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
    const full = new Proxy(store, {
      get(target, prop) {
        if (prop === 'storeMessage' || prop === 'storeMessages' || prop === 'enqueue') return enospc;
        const v: unknown = Reflect.get(target, prop, target);
        return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v;
      },
    });
    const onFullDisk = createDelivery({ store: full, config: configFrom({ domains: ['example.gov.vn'], storage: { dir } }), log: silentLogger(), clock: systemClock });
    for (const recipients of [['hoa@example.gov.vn'], ['hoa@example.gov.vn', 'x@other.vn'], ['x@other.vn']]) {
      const r = await send(recipients, onFullDisk);
      expect(r.results.map((x) => [x.code, x.enhanced, x.text]), recipients.join()).toEqual(
        recipients.map(() => [452, '4.3.1', 'Máy chủ tạm hết chỗ lưu trữ, vui lòng thử lại sau / Insufficient system storage, try again later']),
      );
    }
    expect(await inboxCount(hoa)).toBe(0);
  });

  it('a full mailbox waits in the queue item committed with the other copies; an unknown user is refused', async () => {
    const hoa = await account('hoa@example.gov.vn');
    const mai = await account('mai@example.gov.vn', 10);
    const r = await send(['hoa@example.gov.vn', 'mai@example.gov.vn', 'khongco@example.gov.vn', 'x@other.vn']);
    expect(outcomes(r)).toEqual([
      ['hoa@example.gov.vn', 'delivered', 250],
      ['mai@example.gov.vn', 'queued', 250],
      ['khongco@example.gov.vn', 'rejected', 550],
      ['x@other.vn', 'queued', 250],
    ]);
    expect(r.results[1]?.text).toMatch(/452 4\.2\.2/);
    expect(await inboxCount(hoa)).toBe(1);
    expect(await inboxCount(mai)).toBe(0);
    const queue = await store.listQueue();
    expect(queue.map((q) => [q.id, q.recipients])).toEqual([[r.queueId, ['x@other.vn', 'mai@example.gov.vn']]]);
  });

  it('every local mailbox full: the remote recipients and the local retries are queued alone', async () => {
    const mai = await account('mai@example.gov.vn', 10);
    const r = await send(['mai@example.gov.vn', 'x@other.vn']);
    expect(outcomes(r)).toEqual([
      ['mai@example.gov.vn', 'queued', 250],
      ['x@other.vn', 'queued', 250],
    ]);
    expect(await inboxCount(mai)).toBe(0);
    expect((await store.listQueue()).map((q) => q.recipients)).toEqual([['x@other.vn', 'mai@example.gov.vn']]);
  });

  it('local recipients only, one of them over quota: the other is delivered, the full one queued in the same commit', async () => {
    const hoa = await account('hoa@example.gov.vn');
    await account('mai@example.gov.vn', 10);
    const r = await send(['mai@example.gov.vn', 'hoa@example.gov.vn']);
    expect(outcomes(r)).toEqual([
      ['mai@example.gov.vn', 'queued', 250],
      ['hoa@example.gov.vn', 'delivered', 250],
    ]);
    expect(await inboxCount(hoa)).toBe(1);
    expect((await store.listQueue()).map((q) => q.recipients)).toEqual([['mai@example.gov.vn']]);
  });

  it('a single local recipient over quota is answered 452 4.2.2 (nothing queued)', async () => {
    await account('mai@example.gov.vn', 10);
    const r = await send(['mai@example.gov.vn']);
    expect(outcomes(r)).toEqual([['mai@example.gov.vn', 'deferred', 452]]);
    expect(await store.listQueue()).toHaveLength(0);
  });
});
