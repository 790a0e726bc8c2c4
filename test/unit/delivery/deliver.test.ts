/** delivery/: one blob for every local recipient, quota per recipient, the queue for remote ones, a send-log row each. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configFrom } from '../../../src/config/load.js';
import { createDelivery, type Delivery } from '../../../src/delivery/index.js';
import { systemClock } from '../../../src/lib/clock.js';
import { silentLogger } from '../../../src/lib/log.js';
import { parseMessage } from '../../../src/mail/parse.js';
import type { Account, Store } from '../../../src/store/port.js';
import { openSqliteStore } from '../../../src/store/sqlite/index.js';
import { rmSync } from 'node:fs';
import { testDir } from '../../helpers/app.js';

const audit = { actor: 'test', action: 'setup', target: 'x' };
let dir: string;
let store: Store;
let delivery: Delivery;

async function account(address: string, quotaBytes: number | null = null): Promise<Account> {
  return store.createAccount({ address, kind: 'personal', fullName: address, unitId: null, passwordHash: 'x', mustChangePassword: false, quotaBytes }, audit);
}

const raw = Buffer.from('From: <a@other.example.com>\r\nTo: <lan@example.gov.vn>\r\nSubject: =?utf-8?B?VGjhu60=?=\r\nMessage-ID: <m1@other.example.com>\r\n\r\nXin chào\r\n');

beforeEach(async () => {
  dir = testDir();
  const config = configFrom({ domains: ['example.gov.vn'], storage: { dir } });
  store = await openSqliteStore({ dir, log: silentLogger(), clock: systemClock, inlineBlobMaxBytes: 64 * 1024, groupCommitWindowMs: 0 });
  await store.addDomain('example.gov.vn', audit);
  delivery = createDelivery({ store, config, log: silentLogger(), clock: systemClock });
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function inbox(a: Account): Promise<{ blobId: string }[]> {
  const box = await store.getMailbox(a.id, 'INBOX');
  return box ? store.listMessages(box.id) : [];
}

describe('deliver', () => {
  it('stores one blob for all local recipients (aliases share a copy), queues remote ones, logs each recipient', async () => {
    const lan = await account('lan@example.gov.vn');
    const hoa = await account('hoa@example.gov.vn');
    await store.addAlias('van-thu@example.gov.vn', lan.id, audit);
    const r = await delivery.deliver({
      raw,
      parsed: parseMessage(raw),
      sender: 'a@other.example.com',
      recipients: ['lan@example.gov.vn', 'van-thu@example.gov.vn', 'hoa@example.gov.vn', 'x@far.example.com'],
      direction: 'submission',
      clientIp: '192.0.2.7',
      account: 'a@other.example.com',
      findings: ['spam: flag 3.1'],
    });
    expect(r.results.map((x) => [x.recipient, x.outcome, x.code])).toEqual([
      ['lan@example.gov.vn', 'delivered', 250],
      ['van-thu@example.gov.vn', 'delivered', 250],
      ['hoa@example.gov.vn', 'delivered', 250],
      ['x@far.example.com', 'queued', 250],
    ]);
    const [l, h] = [await inbox(lan), await inbox(hoa)];
    expect(l).toHaveLength(1);
    expect(h[0]?.blobId).toBe(l[0]?.blobId);
    const q = await store.listQueue();
    expect(q.map((i) => i.recipients)).toEqual([['x@far.example.com']]);
    const log = await store.searchSendLog({ sender: 'a@other.example.com' });
    expect(log).toHaveLength(4);
    expect(log.find((e) => e.recipient === 'hoa@example.gov.vn')).toMatchObject({ clientIp: '192.0.2.7', messageId: '<m1@other.example.com>', size: raw.length, findings: ['spam: flag 3.1'], direction: 'submission' });
  });

  it('a recipient over quota gets 452 4.2.2 when alone, and is queued for a later retry next to a success', async () => {
    const full = await account('full@example.gov.vn', 10);
    const ok = await account('ok@example.gov.vn');
    const alone = await delivery.deliver({ raw, parsed: parseMessage(raw), sender: 'a@other.example.com', recipients: ['full@example.gov.vn'], direction: 'inbound', clientIp: null, account: null });
    expect(alone.results[0]).toMatchObject({ outcome: 'deferred', code: 452, enhanced: '4.2.2' });
    expect(await store.queueDepth()).toBe(0);
    const mixed = await delivery.deliver({ raw, parsed: parseMessage(raw), sender: 'a@other.example.com', recipients: ['full@example.gov.vn', 'ok@example.gov.vn'], direction: 'inbound', clientIp: null, account: null });
    expect(mixed.results.map((x) => x.outcome)).toEqual(['queued', 'delivered']);
    expect((await store.listQueue()).map((i) => i.recipients)).toEqual([['full@example.gov.vn']]);
    expect(await inbox(full)).toHaveLength(0);
    expect(await inbox(ok)).toHaveLength(1);
  });

  it('delivers into Junk when asked, and refuses a deleted account with 550 5.1.1', async () => {
    const lan = await account('lan@example.gov.vn');
    const gone = await account('gone@example.gov.vn');
    await store.updateAccount(gone.id, { state: 'deleted' }, null);
    const r = await delivery.deliver({ raw, parsed: parseMessage(raw), sender: '', recipients: ['lan@example.gov.vn', 'gone@example.gov.vn'], direction: 'inbound', clientIp: null, account: null, junk: true });
    expect(r.results.map((x) => [x.outcome, x.code])).toEqual([['delivered', 250], ['rejected', 550]]);
    const junk = (await store.listMailboxes(lan.id)).find((b) => b.specialUse === '\\Junk');
    expect(junk).toBeDefined();
    expect(await store.listMessages(junk?.id ?? -1)).toHaveLength(1);
    expect(await inbox(lan)).toHaveLength(0);
  });

  it('quotaFor: the account own quota, else the default of its kind (R-STORE-1)', async () => {
    const a = await account('q@example.gov.vn', 123);
    const b = await account('d@example.gov.vn');
    expect(delivery.quotaFor(a)).toBe(123);
    expect(delivery.quotaFor(b)).toBe(2 * 1024 ** 3);
  });
});

describe('Return-Path', () => {
  it('local copies get Return-Path with the envelope sender (an earlier one is dropped); the queued copy does not', async () => {
    const lan = await account('lan@example.gov.vn');
    const forged = Buffer.concat([Buffer.from('Return-Path: <forged@evil.example>\r\n'), raw]);
    await delivery.deliver({ raw: forged, parsed: parseMessage(forged), sender: 'a@other.example.com', recipients: ['lan@example.gov.vn', 'x@far.example.com'], direction: 'inbound', clientIp: null, account: null });
    const [m] = await inbox(lan);
    const stored = (await store.readBlob(m?.blobId ?? '')).toString();
    expect(stored.match(/^Return-Path:.*$/gim)).toEqual(['Return-Path: <a@other.example.com>']);
    const [q] = await store.listQueue();
    expect((await store.readBlob(q?.blobId ?? '')).toString()).toContain('Return-Path: <forged@evil.example>');
  });
});

describe('postmaster (RFC 5321 §4.5.1) and DSN parameters', () => {
  const superAdmin = (address: string): Promise<Account> =>
    store.createAccount({ address, kind: 'admin', role: 'super', fullName: address, unitId: null, passwordHash: 'x', mustChangePassword: false }, audit);

  it('resolveRecipient: postmaster@ a served domain without an account goes to the oldest active super-administrator; an own account or alias wins', async () => {
    expect(await delivery.resolveRecipient('postmaster@example.gov.vn')).toBeNull(); // nobody at all yet
    await account('lan@example.gov.vn');
    const first = await superAdmin('admin@example.gov.vn');
    await superAdmin('admin2@example.gov.vn');
    // The "nobody" answer above is remembered for a while: a fresh delivery object asks again.
    const d = createDelivery({ store, config: configFrom({ domains: ['example.gov.vn'], storage: { dir } }), log: silentLogger(), clock: systemClock });
    expect((await d.resolveRecipient('postmaster@example.gov.vn'))?.id).toBe(first.id);
    expect((await d.resolveRecipient('PostMaster@example.gov.vn'))?.id).toBe(first.id);
    expect(await d.resolveRecipient('postmaster@far.example.com')).toBeNull();
    expect(await d.resolveRecipient('nobody@example.gov.vn')).toBeNull();
    const pm = await account('hoa@example.gov.vn');
    await store.addAlias('postmaster@example.gov.vn', pm.id, audit);
    expect((await d.resolveRecipient('postmaster@example.gov.vn'))?.id).toBe(pm.id);
    // Delivery without an RCPT-time lookup (the queue's local retry) takes the same path.
    await store.removeAlias('postmaster@example.gov.vn', audit);
    const r = await d.deliver({ raw, parsed: parseMessage(raw), sender: 'a@other.example.com', recipients: ['postmaster@example.gov.vn'], direction: 'local', clientIp: null, account: null });
    expect(r.results.map((x) => x.outcome)).toEqual(['delivered']);
    expect(await inbox(first)).toHaveLength(1);
  });

  it('smtp.postmasterAddress is used when it has an account', async () => {
    const vanthu = await account('vanthu@example.gov.vn');
    await superAdmin('admin@example.gov.vn');
    const d = createDelivery({ store, config: configFrom({ domains: ['example.gov.vn'], storage: { dir }, smtp: { postmasterAddress: 'vanthu@example.gov.vn' } }), log: silentLogger(), clock: systemClock });
    expect((await d.resolveRecipient('postmaster@example.gov.vn'))?.id).toBe(vanthu.id);
  });

  it('queues RET/ENVID and the NOTIFY/ORCPT of the queued recipients', async () => {
    await delivery.deliver({
      raw,
      parsed: parseMessage(raw),
      sender: 'a@other.example.com',
      recipients: ['x@far.example.com', 'y@far.example.com'],
      direction: 'submission',
      clientIp: null,
      account: null,
      dsn: { ret: 'FULL', envid: 'e1' },
      recipientDsn: new Map([['x@far.example.com', { notify: ['SUCCESS' as const], orcpt: 'rfc822;X@far.example.com' }]]),
    });
    const [q] = await store.listQueue();
    expect(q).toMatchObject({ recipients: ['x@far.example.com', 'y@far.example.com'], dsn: { ret: 'FULL', envid: 'e1' }, recipientDsn: { 'x@far.example.com': { notify: ['SUCCESS'], orcpt: 'rfc822;X@far.example.com' } } });
  });
});
