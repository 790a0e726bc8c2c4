/**
 * The store side of a queue recipient left for its notice alone (migration 11, queue.notice_pending):
 * a version-10 database keeps its queued rows (every recipient still to be delivered),
 * finishAttempt keeps a pending notice only for a recipient still queued, with the time of its
 * attempt, and noticesSent takes out only the recipients whose notice went.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/log.js';
import type { PendingNotice, Store } from '../../src/store/port.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { MIGRATIONS } from '../../src/store/sqlite/migrations.js';

const clock = new ManualClock(new Date('2026-11-23T08:00:00Z'));
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'buudien-queue-left-'));
  dirs.push(dir);
  return dir;
}

const open = (dir: string): Promise<Store> => openSqliteStore({ dir, log: silentLogger(), clock, inlineBlobMaxBytes: 64 * 1024, groupCommitWindowMs: 0 });

const failed: PendingNotice = { action: 'failed', status: '5.1.1', diagnostic: 'smtp; 550 5.1.1 no such user', remoteMta: 'mx.other.example.com', originalRecipient: 'rfc822;Gone@other.example.com' };

describe('migration 11 (queue notices pending)', () => {
  it('a queue row of a version-10 database stays valid: its recipients are all still to be delivered', async () => {
    const dir = tempDir();
    const db = new Database(path.join(dir, 'buudien.db'));
    db.exec('CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    for (const m of MIGRATIONS.filter((x) => x.version <= 10)) {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_version VALUES (?, ?, 0)').run(m.version, m.name);
    }
    const at = clock.now().getTime();
    db.prepare('INSERT INTO blobs (id, size, data, created_at) VALUES (?, 4, ?, 0)').run('h1', Buffer.from('body'));
    db.prepare(
      `INSERT INTO queue (sender, recipients, blob_id, size, created_at, next_attempt_at, attempts, last_error, account, message_id)
       VALUES ('s@example.gov.vn', '["a@x.vn","b@y.vn"]', 'h1', 4, ?, ?, 2, '451 later', NULL, '<m@x>')`,
    ).run(at, at);
    db.close();

    const store = await open(dir);
    try {
      const [item] = await store.claimDue(clock.now(), 10);
      expect(item).toMatchObject({ recipients: ['a@x.vn', 'b@y.vn'], attempts: 2, lastError: '451 later', noticePending: {} });
      await store.finishAttempt(item?.id ?? 0, { remaining: ['b@y.vn'], nextAttemptAt: clock.now(), error: null, noticePending: { 'b@y.vn': failed } });
      expect((await store.listQueue()).map((x) => [x.recipients, x.noticePending])).toEqual([[['b@y.vn'], { 'b@y.vn': failed }]]);
    } finally {
      await store.close();
    }
    const check = new Database(path.join(dir, 'buudien.db'), { readonly: true });
    expect((check.prepare('SELECT max(version) AS v FROM schema_version').get() as { v: number }).v).toBeGreaterThanOrEqual(11);
    check.close();
  });
});

describe('finishAttempt, noticesSent and pending notices', () => {
  let dir: string;
  let store: Store;
  beforeEach(async () => {
    dir = tempDir();
    store = await open(dir);
  });
  afterEach(async () => {
    await store.close();
  });

  async function item(recipients: string[]): Promise<number> {
    const q = await store.enqueue({ sender: 's@example.gov.vn', recipients, raw: Buffer.from('Subject: x\r\n\r\nbody\r\n'), account: null, messageId: null, now: clock.now() });
    expect(q.noticePending).toEqual({});
    return q.id;
  }

  it('keeps a pending notice only for a recipient still queued, across a restart', async () => {
    const id = await item(['a@x.vn', 'gone@other.example.com']);
    const later = new Date(clock.now().getTime() + 60_000);
    await store.finishAttempt(id, {
      remaining: ['a@x.vn', 'gone@other.example.com'],
      nextAttemptAt: later,
      error: '451',
      noticePending: { 'gone@other.example.com': failed, 'ok@other.example.com': { ...failed, action: 'relayed', status: '2.0.0' } },
    });
    await store.close();
    store = await open(dir);
    const [again] = await store.claimDue(later, 10);
    expect(again).toMatchObject({ recipients: ['a@x.vn', 'gone@other.example.com'], noticePending: { 'gone@other.example.com': failed } });
    expect(again?.noticePending).not.toHaveProperty('ok@other.example.com');

    // Without `noticePending` the entries of recipients still queued stay; the others go.
    await store.finishAttempt(id, { remaining: ['gone@other.example.com'], nextAttemptAt: later, error: null });
    expect((await store.listQueue())[0]?.noticePending).toEqual({ 'gone@other.example.com': failed });
    // The notice went: an empty set clears it, and no recipient left drops the item.
    await store.finishAttempt(id, { remaining: ['gone@other.example.com'], nextAttemptAt: later, error: null, noticePending: {} });
    expect((await store.listQueue())[0]?.noticePending).toEqual({});
    await store.finishAttempt(id, { remaining: [], nextAttemptAt: null, error: null });
    expect(await store.queueDepth()).toBe(0);
  });

  it('keeps the time of the attempt (lastAttemptAt) across a restart', async () => {
    const id = await item(['gone@other.example.com']);
    const at = clock.now().getTime() - 3_600_000;
    await store.finishAttempt(id, { remaining: ['gone@other.example.com'], nextAttemptAt: clock.now(), error: null, noticePending: { 'gone@other.example.com': { ...failed, lastAttemptAt: at } } });
    await store.close();
    store = await open(dir);
    expect((await store.listQueue())[0]?.noticePending['gone@other.example.com']?.lastAttemptAt).toBe(at);
  });

  describe('noticesSent', () => {

    it('takes out only recipients whose notice was pending; attempts and schedule stay; the last one drops the item', async () => {
      const q = await store.enqueue({ sender: 's@example.gov.vn', recipients: ['a@x.vn', 'gone@other.example.com', 'ok@other.example.com'], raw: Buffer.from('Subject: x\r\n\r\nbody\r\n'), account: null, messageId: null, now: clock.now() });
      const later = new Date(clock.now().getTime() + 60_000);
      await store.finishAttempt(q.id, {
        remaining: ['a@x.vn', 'gone@other.example.com', 'ok@other.example.com'],
        nextAttemptAt: later,
        error: '451 later',
        noticePending: { 'gone@other.example.com': failed, 'ok@other.example.com': { ...failed, action: 'relayed', status: '2.0.0' } },
      });

      // a@x.vn is still to be delivered: named or not, it stays.
      await store.noticesSent(q.id, { recipients: ['gone@other.example.com', 'a@x.vn'], delayNoticeSent: true });
      let [left] = await store.listQueue();
      expect(left).toMatchObject({ recipients: ['a@x.vn', 'ok@other.example.com'], attempts: 1, lastError: '451 later', delayNoticeSent: true });
      expect(left?.nextAttemptAt.getTime()).toBe(later.getTime());
      expect(left?.noticePending).toEqual({ 'ok@other.example.com': { ...failed, action: 'relayed', status: '2.0.0' } });

      await store.noticesSent(q.id, { recipients: ['ok@other.example.com'] });
      [left] = await store.listQueue();
      expect(left).toMatchObject({ recipients: ['a@x.vn'], noticePending: {}, delayNoticeSent: true, attempts: 1 });

      // Only pending recipients left: the last notice sent drops the item; a second call is harmless.
      await store.finishAttempt(q.id, { remaining: ['a@x.vn'], nextAttemptAt: later, error: null, noticePending: { 'a@x.vn': failed } });
      await store.noticesSent(q.id, { recipients: ['a@x.vn'] });
      expect(await store.queueDepth()).toBe(0);
      await expect(store.noticesSent(q.id, { recipients: ['a@x.vn'] })).resolves.toBeUndefined();
    });
  });
});
