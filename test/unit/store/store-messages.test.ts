/**
 * store.storeMessages: several messages (and a queue item) in one transaction, riding in the
 * group commit — all durable together or none (RFC 3502 MULTIAPPEND; one SMTP message with local
 * and remote recipients). A failing set leaves no row, no usage and no event behind, and does not
 * take down the other deliveries of its group commit.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewQueueItem, StoreEvent } from '../../../src/store/port.js';
import { errorCode } from '../../helpers/accounts.js';
import { failInserts } from '../../helpers/sqlite-faults.js';
import { message, newAccount, openTestStore, type TestStore } from './helpers.js';

let t: TestStore;
beforeEach(async () => {
  t = await openTestStore({ inlineBlobMaxBytes: 1024 });
});
afterEach(async () => {
  await t.cleanup();
});

const queueItem = (raw: string, recipients = ['doitac@other.example.com']): NewQueueItem => ({
  sender: 'long@example.gov.vn',
  recipients,
  raw: Buffer.from(raw),
  account: 'long@example.gov.vn',
  messageId: '<q@example.gov.vn>',
  now: new Date('2026-03-01T08:00:00Z'),
});

async function inbox(accountId: number): Promise<{ id: number; uids: number[] }> {
  const box = await t.store.getMailbox(accountId, 'INBOX');
  if (!box) throw new Error('no INBOX');
  return { id: box.id, uids: (await t.store.listMessages(box.id)).map((m) => m.uid) };
}

describe('storeMessages', () => {
  it('stores every message and the queue item in one commit, copies in order (large blobs as files)', async () => {
    const a = await newAccount(t.store);
    const { id } = await inbox(a.id);
    const events: StoreEvent[] = [];
    t.store.onEvent((e) => events.push(e));
    const big = `Subject: lon\r\n\r\n${'x'.repeat(5000)}\r\n`;
    const r = await t.store.storeMessages({
      messages: [message('Subject: mot\r\n\r\n1\r\n', [id]), message(big, [id]), message('Subject: ba\r\n\r\n3\r\n', [id])],
      enqueue: queueItem('Subject: ra ngoai\r\n\r\nq\r\n'),
    });
    expect(r.copies.map((c) => c.map((x) => x.uid))).toEqual([[1], [2], [3]]);
    expect(r.queued?.recipients).toEqual(['doitac@other.example.com']);
    expect((await t.store.listQueue()).map((q) => q.id)).toEqual([r.queued?.id]);
    expect((await inbox(a.id)).uids).toEqual([1, 2, 3]);
    expect(events.filter((e) => e.kind === 'added')).toHaveLength(3);
    const metas = await t.store.listMessages(id);
    expect((await t.store.readBlob(metas[1]?.blobId ?? '')).toString()).toBe(big);
    // Durable: a reopen (another process, a restart) finds all of it.
    await t.reopen();
    expect((await inbox(a.id)).uids).toEqual([1, 2, 3]);
    expect(await t.store.listQueue()).toHaveLength(1);
  });

  it('a message over quota fails the whole set: no row, no usage, no event, no queue item', async () => {
    const a = await newAccount(t.store, undefined, 3000);
    const { id } = await inbox(a.id);
    const events: StoreEvent[] = [];
    t.store.onEvent((e) => events.push(e));
    const target = { mailboxId: id, quotaBytes: 3000 };
    const code = await errorCode(
      t.store.storeMessages({
        // Each fits alone; the second does not fit after the first.
        messages: [message(`Subject: a\r\n\r\n${'a'.repeat(2000)}\r\n`, [target]), message(`Subject: b\r\n\r\n${'b'.repeat(2000)}\r\n`, [target])],
        enqueue: queueItem('Subject: q\r\n\r\nq\r\n'),
      }),
    );
    expect(code).toBe('OVER_QUOTA');
    expect((await inbox(a.id)).uids).toEqual([]);
    expect(await t.store.usage(a.id)).toBe(0);
    expect(await t.store.listQueue()).toHaveLength(0);
    expect(events.filter((e) => e.kind === 'added')).toHaveLength(0);
    // The UIDs were not used up either.
    const [copy] = await t.store.storeMessage(message('Subject: c\r\n\r\nc\r\n', [target]));
    expect(copy?.uid).toBe(1);
  });

  it('a failed queue write takes the local copies back with it', async () => {
    const a = await newAccount(t.store);
    const { id } = await inbox(a.id);
    const restore = failInserts(t.dir, 'queue');
    try {
      await expect(t.store.storeMessages({ messages: [message('Subject: m\r\n\r\nm\r\n', [id])], enqueue: queueItem('Subject: m\r\n\r\nm\r\n') })).rejects.toThrow(/injected/);
    } finally {
      restore();
    }
    expect((await inbox(a.id)).uids).toEqual([]);
    expect(await t.store.listQueue()).toHaveLength(0);
  });

  it('fails alone in its group commit: a delivery committed with it is kept', async () => {
    // A group-commit window long enough for both writes to gather in one commit.
    await t.cleanup();
    t = await openTestStore({ inlineBlobMaxBytes: 1024, groupCommitWindowMs: 100 });
    const a = await newAccount(t.store);
    const b = await newAccount(t.store);
    const boxA = (await inbox(a.id)).id;
    const boxB = (await inbox(b.id)).id;
    const restore = failInserts(t.dir, 'queue');
    try {
      // One group commit, one savepoint each.
      const [set, single] = await Promise.allSettled([
        t.store.storeMessages({ messages: [message('Subject: set\r\n\r\ns\r\n', [boxA])], enqueue: queueItem('Subject: set\r\n\r\ns\r\n') }),
        t.store.storeMessage(message('Subject: don\r\n\r\nd\r\n', [boxB])),
      ]);
      expect(set.status).toBe('rejected');
      expect(single.status).toBe('fulfilled');
    } finally {
      restore();
    }
    expect((await inbox(a.id)).uids).toEqual([]);
    expect((await inbox(b.id)).uids).toEqual([1]);
  });

  it('joins an open batch', async () => {
    const a = await newAccount(t.store);
    const { id } = await inbox(a.id);
    await expect(
      t.store.batch(async (tx) => {
        await tx.storeMessages({ messages: [message('Subject: lo\r\n\r\nl\r\n', [id])] });
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect((await inbox(a.id)).uids).toEqual([]);
    const r = await t.store.batch((tx) => tx.storeMessages({ messages: [message('Subject: lo\r\n\r\nl\r\n', [id])] }));
    expect(r.copies.flat().map((c) => c.uid)).toEqual([1]);
  });

  it('refuses an empty set and a message without a target', async () => {
    expect(await errorCode(t.store.storeMessages({ messages: [] }))).toBe('INVALID_INPUT');
    expect(await errorCode(t.store.storeMessages({ messages: [message('Subject: x\r\n\r\nx\r\n', [])] }))).toBe('INVALID_INPUT');
  });
});
