import Database from 'better-sqlite3';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Mailbox, Store, StoreEvent } from '../../../src/store/port.js';
import { foldVietnamese } from '../../../src/mail/fold.js';
import { message, newAccount, openSecondStore, openTestStore, rfc822, type TestStore } from './helpers.js';
import { until } from '../../helpers/messages.js';

let t: TestStore;
let store: Store;
beforeEach(async () => {
  t = await openTestStore({ inlineBlobMaxBytes: 64 * 1024 });
  store = t.store;
});
afterEach(async () => {
  await t.cleanup();
});

function dirBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    total += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return total;
}

async function inbox(accountId: number): Promise<Mailbox> {
  const mb = await store.getMailbox(accountId, 'inbox');
  if (!mb) throw new Error('no INBOX');
  return mb;
}

async function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

describe('storeMessage', () => {
  it('stores byte-exact, assigns uid/modseq, caches envelope and structure, emits events', async () => {
    const a = await newAccount(store);
    const box = await inbox(a.id);
    const events: StoreEvent[] = [];
    store.onEvent((e) => events.push(e));
    const raw = 'Subject: Chào\r\n\r\nNội dung thư\r\n';
    const [c1] = await store.storeMessage(message(raw, [{ mailboxId: box.id, quotaBytes: null, flags: ['\\seen', '$Label1'] }]));
    const [c2] = await store.storeMessage(message('second', [box.id]));
    expect(c1).toMatchObject({ mailboxId: box.id, uid: 1, uidValidity: box.uidValidity });
    expect(c2?.uid).toBe(2);
    expect(c2!.modseq).toBeGreaterThan(c1!.modseq);
    const list = await store.listMessages(box.id);
    expect(list.map((m) => [m.uid, m.flags])).toEqual([
      [1, ['\\Seen', '$Label1']],
      [2, []],
    ]);
    expect(list[0]?.size).toBe(Buffer.byteLength(raw));
    expect((await store.readBlob(list[0]!.blobId)).toString()).toBe(raw);
    expect((await store.readBlob(list[0]!.blobId, { start: 9, end: 14 })).toString()).toBe('Chào');
    expect((await readAll(store.streamBlob(list[0]!.blobId, { start: 0, end: 7 }))).toString()).toBe('Subject');
    const details = await store.getMessageDetails(box.id, [2, 1, 99]);
    expect(details.map((x) => x.uid)).toEqual([1, 2]);
    expect(details[0]?.envelope.subject).toBe('Thử nghiệm');
    expect(details[0]?.structure.type).toBe('text');
    const st = await store.mailboxStatus(box.id);
    expect(st).toMatchObject({ messages: 2, unseen: 1, uidNext: 3, size: Buffer.byteLength(raw) + 6, highestModseq: c2!.modseq });
    expect(events.filter((e) => e.kind === 'added').map((e) => (e.kind === 'added' ? e.uids : []))).toEqual([[1], [2]]);
  });

  it('keeps the rendered FETCH strings, returns inline bytes on request, lists columns', async () => {
    const a = await newAccount(store);
    const box = await inbox(a.id);
    const imap = { envelope: '(NIL "x" NIL NIL NIL NIL NIL NIL NIL NIL)', body: '("text" "plain" NIL NIL NIL "7bit" 5 1)', bodyStructure: '("text" "plain" NIL NIL NIL "7bit" 5 1 NIL NIL NIL NIL)' };
    for (let i = 1; i <= 12; i++) {
      const m = message(`msg ${i}`, [{ mailboxId: box.id, quotaBytes: null, flags: i % 2 ? ['\\Seen'] : [] }]);
      await store.storeMessage(i === 3 ? m : { ...m, imap });
    }
    // dense set: one range query; a UID missing from the set is left out
    const dense = await store.getMessageDetails(box.id, [1, 2, 3, 5, 6], { bytes: true });
    expect(dense.map((d) => d.uid)).toEqual([1, 2, 3, 5, 6]);
    expect(dense[0]?.imap).toEqual(imap);
    expect(dense[2]?.imap).toBeUndefined(); // stored without: FETCH renders from the JSON
    expect(dense[2]?.structure.type).toBe('text');
    expect(dense[1]?.bytes?.toString()).toBe('msg 2');
    // sparse set: one lookup each; no bytes unless asked
    const sparse = await store.getMessageDetails(box.id, [12, 1, 99]);
    expect(sparse.map((d) => d.uid)).toEqual([1, 12]);
    expect(sparse[0]?.bytes).toBeUndefined();
    expect(sparse[1]?.envelope.subject).toBe('Thử nghiệm');
    // only the strings asked for; the JSON is read on first use when the row was read without it
    const lean = await store.getMessageDetails(box.id, [2, 3], { parsed: false, rendered: ['bodyStructure'] });
    expect(lean[0]?.imap).toEqual({ bodyStructure: imap.bodyStructure });
    expect(lean[0]?.structure.type).toBe('text');
    expect(lean[1]?.imap).toBeUndefined();
    expect(lean[1]?.envelope.subject).toBe('Thử nghiệm');
    const idx = await store.listMessageIndex(box.id);
    expect(idx.uids).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(idx.flags.slice(0, 2)).toEqual(['\\Seen', '']);
    expect(idx.sizes[0]).toBe(5);
    expect(idx.modseqs[11]).toBe((await store.mailboxStatus(box.id)).highestModseq);
  });

  it('large messages go to files and read back by range and stream', async () => {
    const a = await newAccount(store);
    const box = await inbox(a.id);
    const raw = Buffer.alloc(300 * 1024);
    for (let i = 0; i < raw.length; i++) raw[i] = (i * 31 + 7) & 0xff;
    await store.storeMessage(message(raw, [box.id]));
    const [m] = await store.listMessages(box.id);
    expect((await store.readBlob(m!.blobId)).equals(raw)).toBe(true);
    expect((await store.readBlob(m!.blobId, { start: 1000, end: 5000 })).equals(raw.subarray(1000, 5000))).toBe(true);
    expect((await readAll(store.streamBlob(m!.blobId))).equals(raw)).toBe(true);
    expect((await readAll(store.streamBlob(m!.blobId, { start: 100_000, end: 200_001 }))).equals(raw.subarray(100_000, 200_001))).toBe(true);
    await expect(store.readBlob('0'.repeat(64))).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('dedup: one 1 MB message to 500 mailboxes is stored once and counted in each usage', async () => {
    const accounts = [];
    for (let i = 0; i < 500; i++) accounts.push(await newAccount(store));
    const boxes = await Promise.all(accounts.map((a) => inbox(a.id)));
    store = await t.reopen(); // measure with the WAL checkpointed (close truncates it)
    const before = dirBytes(t.dir);
    const raw = Buffer.alloc(1024 * 1024, 'Thông báo khẩn\r\n');
    const copies = await store.storeMessage(message(raw, boxes.map((b) => b.id)));
    expect(copies).toHaveLength(500);
    expect(new Set(copies.map((c) => c.mailboxId)).size).toBe(500);
    store = await t.reopen();
    const growth = dirBytes(t.dir) - before;
    expect(growth).toBeGreaterThan(1024 * 1024);
    expect(growth).toBeLessThan(1.5 * 1024 * 1024);
    expect(await store.usage(accounts[0]!.id)).toBe(raw.length);
    expect(await store.usage(accounts[499]!.id)).toBe(raw.length);
    expect(await store.storageBytes()).toBe(raw.length);
  });

  it('quota: the whole delivery is refused when any target would exceed its quota', async () => {
    const small = await newAccount(store, undefined, 100);
    const big = await newAccount(store);
    const sBox = await inbox(small.id);
    const bBox = await inbox(big.id);
    await store.storeMessage(message('x'.repeat(60), [{ mailboxId: sBox.id, quotaBytes: 100 }]));
    await expect(
      store.storeMessage(message('y'.repeat(60), [{ mailboxId: bBox.id, quotaBytes: null }, { mailboxId: sBox.id, quotaBytes: 100 }])),
    ).rejects.toMatchObject({ code: 'OVER_QUOTA' });
    expect(await store.listMessages(bBox.id)).toEqual([]);
    expect(await store.usage(small.id)).toBe(60);
    expect(await store.usage(big.id)).toBe(0);
    // exactly at the limit is fine
    await store.storeMessage(message('z'.repeat(40), [{ mailboxId: sBox.id, quotaBytes: 100 }]));
    expect(await store.usage(small.id)).toBe(100);
  });

  it('group commit: concurrent deliveries commit together, a failing one fails alone', async () => {
    const a = await newAccount(store, undefined, 1000);
    const box = await inbox(a.id);
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        store.storeMessage(message(i === 7 ? 'x'.repeat(5000) : `message ${i}`, [{ mailboxId: box.id, quotaBytes: 1000 }])),
      ),
    );
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
    expect(results[7]).toMatchObject({ status: 'rejected', reason: { code: 'OVER_QUOTA' } });
    const uids = results.flatMap((r) => (r.status === 'fulfilled' ? r.value.map((c) => c.uid) : []));
    expect(uids).toEqual(Array.from({ length: 19 }, (_, i) => i + 1));
    expect((await store.listMessages(box.id)).map((m) => m.uid)).toEqual(uids);
  });
});

describe('group commit under other writes', () => {
  it('a delivery is not held back while other writers keep the WAL fsync loop busy', async () => {
    const a = await newAccount(store);
    const box = await inbox(a.id);
    // Another writer commits every event-loop turn, so a new fsync is always waiting when one ends.
    let writing = true;
    let writes = 0;
    const writer = (async () => {
      const pending: Promise<void>[] = [];
      while (writing) {
        pending.push(store.setSetting('busy', String(writes++)));
        await new Promise((r) => setImmediate(r));
      }
      await Promise.all(pending);
    })();
    await new Promise((r) => setTimeout(r, 20));
    const startedAt = writes;
    const stored = await Promise.race([
      store.storeMessage(message('under load', [box.id])).then(() => 'stored'),
      new Promise<string>((r) => setTimeout(() => r('held back'), 3000)),
    ]);
    const during = writes - startedAt;
    writing = false;
    await writer;
    expect(stored).toBe('stored');
    expect(during).toBeGreaterThan(0);
    expect((await store.listMessages(box.id)).length).toBe(1);
  });
});

describe('close', () => {
  it('waits for writes already started, then refuses new ones', async () => {
    const a = await newAccount(store);
    const box = await inbox(a.id);
    const big = Buffer.alloc(100 * 1024, 'L');
    const writes = [store.storeMessage(message(big, [box.id])), ...Array.from({ length: 9 }, (_, i) => store.storeMessage(message(`m${i}`, [box.id])))];
    const closed = store.close();
    await expect(store.storeMessage(message('late', [box.id]))).rejects.toMatchObject({ code: 'TEMPORARY' });
    const copies = await Promise.all(writes);
    await closed;
    store = await t.reopen();
    const list = await store.listMessages(box.id);
    // UIDs follow commit order (the large one commits last: its file is written first).
    expect(list.map((m) => m.uid)).toEqual(copies.map((c) => c[0]!.uid).sort((x, y) => x - y));
    const bigUid = copies[0]![0]!.uid;
    expect((await store.readBlob(list.find((m) => m.uid === bigUid)!.blobId)).equals(big)).toBe(true);
  });
});

describe('concurrency', () => {
  it('a delivery made while a batch is open commits after it, and survives the batch rolling back', async () => {
    const a = await newAccount(store);
    const box = await inbox(a.id);
    let delivered = false;
    let signalInside!: () => void;
    const inside = new Promise<void>((r) => (signalInside = r));
    let signalGo!: () => void;
    const go = new Promise<void>((r) => (signalGo = r));
    const batch = store.batch(async (tx) => {
      await tx.createMailbox(a.id, 'Batch box');
      signalInside();
      await go;
      expect(delivered).toBe(false);
      throw new Error('roll back');
    });
    await inside;
    const delivery = store.storeMessage(message('outside the batch', [box.id])).then((c) => {
      delivered = true;
      return c;
    });
    signalGo();
    await expect(batch).rejects.toThrow('roll back');
    const [copy] = await delivery;
    expect(copy?.uid).toBe(1);
    expect(await store.getMailbox(a.id, 'Batch box')).toBeNull();
    expect((await store.listMessages(box.id)).map((m) => m.uid)).toEqual([1]);
  });

  it('the collector leaves alone a blob whose delivery is still in flight', async () => {
    const a = await newAccount(store);
    const box = await inbox(a.id);
    const big = Buffer.alloc(500 * 1024, 'G');
    // An unreferenced copy of the same bytes exists (delivered, then expunged) …
    await store.storeMessage(message(big, [box.id]));
    await store.expunge(box.id, [1]);
    // … and a new delivery of them starts while the collector runs.
    const delivery = store.storeMessage(message(big, [box.id]));
    const gc = await store.collectGarbage();
    const [copy] = await delivery;
    const [m] = await store.listMessages(box.id);
    expect(m?.uid).toBe(copy?.uid);
    expect((await store.readBlob(m!.blobId)).equals(big)).toBe(true);
    expect(gc.blobs).toBe(0);
  });
});

describe('two processes on one storage dir', () => {
  it("a collector in another process cannot break a delivery of the same bytes in flight", async () => {
    const other = await openSecondStore(t);
    try {
      const a = await newAccount(store);
      const box = await inbox(a.id);
      const big = Buffer.alloc(300 * 1024, 'P');
      await store.storeMessage(message(big, [box.id]));
      await store.expunge(box.id, [1]);
      // Our delivery sees the file and skips writing it; the other process collects row and file first.
      const delivery = store.storeMessage(message(big, [box.id]));
      expect(await other.collectGarbage()).toEqual({ blobs: 1, bytes: big.length });
      const [copy] = await delivery;
      const [m] = await store.listMessages(box.id);
      expect(m?.uid).toBe(copy?.uid);
      expect((await store.readBlob(m!.blobId)).equals(big)).toBe(true);
      expect((await other.readBlob(m!.blobId)).equals(big)).toBe(true);
    } finally {
      await other.close();
    }
  });
});

describe('flags, expunge, changes', () => {
  it('setFlags bumps modseq per changed message, honours unchangedSince; expunge records vanished uids', async () => {
    const a = await newAccount(store);
    const box = await inbox(a.id);
    for (let i = 0; i < 5; i++) await store.storeMessage(message(`m${i}`, [box.id]));
    const base = (await store.mailboxStatus(box.id)).highestModseq;

    const table: Array<{ op: 'set' | 'add' | 'remove'; uids: number[]; flags: string[]; expect: Record<number, string[]> }> = [
      { op: 'add', uids: [1, 2, 3], flags: ['\\Seen'], expect: { 1: ['\\Seen'], 2: ['\\Seen'], 3: ['\\Seen'], 4: [] } },
      { op: 'add', uids: [1], flags: ['\\FLAGGED', '$Important'], expect: { 1: ['\\Seen', '\\Flagged', '$Important'] } },
      { op: 'remove', uids: [1, 2], flags: ['\\seen'], expect: { 1: ['\\Flagged', '$Important'], 2: [] } },
      { op: 'set', uids: [4], flags: ['\\Deleted', '\\Answered'], expect: { 4: ['\\Deleted', '\\Answered'] } },
    ];
    for (const row of table) {
      await store.setFlags(box.id, row.uids, row.op, row.flags);
      const list = await store.listMessages(box.id);
      for (const [uid, flags] of Object.entries(row.expect)) expect(list.find((m) => m.uid === Number(uid))?.flags).toEqual(flags);
    }
    // no-op changes nothing
    const noop = await store.setFlags(box.id, [3], 'add', ['\\Seen']);
    expect(noop.changes).toEqual([]);

    const mid = (await store.mailboxStatus(box.id)).highestModseq;
    expect(mid).toBeGreaterThan(base);
    const r = await store.setFlags(box.id, [1, 2, 3], 'add', ['$X']);
    expect(r.changes.map((c) => c.uid)).toEqual([1, 2, 3]);
    expect(new Set(r.changes.map((c) => c.modseq)).size).toBe(3);

    // CONDSTORE: uid 1 was modified after `mid`? No: all three changed after mid, so unchangedSince=mid fails them.
    const cond = await store.setFlags(box.id, [1, 5], 'add', ['\\Seen'], { unchangedSince: mid });
    expect(cond.failed).toEqual([1]);
    expect(cond.changes.map((c) => c.uid)).toEqual([5]);

    const ch = await store.changesSince(box.id, mid);
    expect(ch.changed.map((m) => m.uid)).toEqual([1, 2, 3, 5]);
    expect(ch.expunged).toEqual([]);

    const beforeExpunge = (await store.mailboxStatus(box.id)).highestModseq;
    const events: StoreEvent[] = [];
    store.onEvent((e) => events.push(e));
    expect(await store.expunge(box.id, undefined, { origin: 'session-1' })).toEqual([4]);
    expect(await store.expunge(box.id, [2, 99])).toEqual([2]);
    expect((await store.listMessages(box.id)).map((m) => m.uid)).toEqual([1, 3, 5]);
    const after = await store.changesSince(box.id, beforeExpunge);
    expect(after.expunged).toEqual([2, 4]);
    expect(after.changed).toEqual([]);
    expect(events[0]).toMatchObject({ kind: 'expunged', uids: [4], origin: 'session-1' });
    expect(await store.usage(a.id)).toBe(6); // m0 m2 m4
    // uid 1 lost \Seen (removed, then the CONDSTORE add failed); 3 and 5 are \Seen
    expect(await store.mailboxStatus(box.id)).toMatchObject({ messages: 3, unseen: 1, size: 6 });
    // \\Recent is a session's, never stored: setting it is setting nothing.
    await store.setFlags(box.id, [1, 3, 5], 'set', ['\\Recent']);
    expect((await store.listMessages(box.id)).map((m) => m.flags)).toEqual([[], [], []]);
    expect(await store.mailboxStatus(box.id)).toMatchObject({ messages: 3, unseen: 3 });
    await store.setFlags(box.id, [3], 'add', ['\\Seen']);
    expect(await store.mailboxStatus(box.id)).toMatchObject({ unseen: 2 });
  });

  it('claimRecent hands each UID above the mark to one caller; peek and STATUS leave the mark', async () => {
    const a = await newAccount(store);
    const box = await inbox(a.id);
    expect(await store.claimRecent(box.id)).toEqual({ first: 1, last: 0 }); // empty mailbox
    for (let i = 0; i < 3; i++) await store.storeMessage(message(`m${i}`, [box.id]));
    expect(await store.mailboxStatus(box.id)).toMatchObject({ messages: 3, recent: 3 });
    expect(await store.claimRecent(box.id, { peek: true })).toEqual({ first: 1, last: 3 });
    expect(await store.mailboxStatus(box.id)).toMatchObject({ recent: 3 });
    // Two sessions at once: exactly one gets 1..3.
    const [x, y] = await Promise.all([store.claimRecent(box.id), store.claimRecent(box.id)]);
    expect([x, y]).toEqual(expect.arrayContaining([{ first: 1, last: 3 }, { first: 4, last: 3 }]));
    expect(await store.mailboxStatus(box.id)).toMatchObject({ messages: 3, recent: 0 });
    // New mail counts above the mark; expunging it uncounts it; an expunge below the mark does not.
    for (let i = 3; i < 6; i++) await store.storeMessage(message(`m${i}`, [box.id]));
    expect(await store.mailboxStatus(box.id)).toMatchObject({ messages: 6, recent: 3 });
    await store.expunge(box.id, [1, 5]);
    expect(await store.mailboxStatus(box.id)).toMatchObject({ messages: 4, recent: 2 });
    expect(await store.claimRecent(box.id)).toEqual({ first: 4, last: 6 });
    expect(await store.claimRecent(box.id)).toEqual({ first: 7, last: 6 });
    expect(await store.mailboxStatus(box.id)).toMatchObject({ messages: 4, recent: 0 });
    // A copy into the mailbox is new there (RFC 3501 §6.4.7).
    const archive = (await store.getMailbox(a.id, 'Archive'))!;
    await store.copyMessages(box.id, [2], archive.id, null);
    expect(await store.mailboxStatus(archive.id)).toMatchObject({ messages: 1, recent: 1 });
    await expect(store.claimRecent(999_999)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('allOrNothing: a uid gone copies nothing and moves nothing (NOT_FOUND, rolled back)', async () => {
    const a = await newAccount(store);
    const box = await inbox(a.id);
    const archive = (await store.getMailbox(a.id, 'Archive'))!;
    for (let i = 0; i < 2; i++) await store.storeMessage(message(`msg${i}`, [box.id]));
    await store.expunge(box.id, [2]);
    await expect(store.copyMessages(box.id, [1, 2], archive.id, null, { allOrNothing: true })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(store.moveMessages(box.id, [1, 2], archive.id, null, { allOrNothing: true })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await store.listMessages(archive.id)).toEqual([]);
    expect((await store.listMessages(box.id)).map((m) => m.uid)).toEqual([1]);
    expect((await store.copyMessages(box.id, [1], archive.id, null, { allOrNothing: true })).mapping).toEqual([[1, 1]]);
  });

  it('copy and move keep flags, assign new uids, check quota on the target', async () => {
    const a = await newAccount(store);
    const other = await newAccount(store, undefined, 10);
    const box = await inbox(a.id);
    const archive = (await store.getMailbox(a.id, 'Archive'))!;
    for (let i = 0; i < 3; i++) await store.storeMessage(message(`msg${i}`, [box.id]));
    await store.setFlags(box.id, [2], 'add', ['\\Flagged']);
    const copy = await store.copyMessages(box.id, [3, 2, 42], archive.id, null);
    expect(copy.uidValidity).toBe(archive.uidValidity);
    expect(copy.mapping).toEqual([
      [2, 1],
      [3, 2],
    ]);
    expect((await store.listMessages(archive.id)).map((m) => m.flags)).toEqual([['\\Flagged'], []]);
    expect(await store.usage(a.id)).toBe(20);

    const otherBox = await inbox(other.id);
    await expect(store.copyMessages(box.id, [1, 2, 3], otherBox.id, 10)).rejects.toMatchObject({ code: 'OVER_QUOTA' });
    expect(await store.listMessages(otherBox.id)).toEqual([]);

    const move = await store.moveMessages(box.id, [1, 2], archive.id, 20); // same account: no quota growth
    expect(move.mapping).toEqual([
      [1, 3],
      [2, 4],
    ]);
    expect((await store.listMessages(box.id)).map((m) => m.uid)).toEqual([3]);
    expect((await store.listMessages(archive.id)).map((m) => m.uid)).toEqual([1, 2, 3, 4]);
    expect((await store.changesSince(box.id, 0)).expunged).toEqual([1, 2]);
    expect(await store.usage(a.id)).toBe(20);
  });
});

describe('searchText', () => {
  /** A count read from one of the store's files on a connection of its own (as another process would see it). */
  const countIn = (file: string, sql: string): number => {
    const db = new Database(path.join(t.dir, file), { readonly: true });
    try {
      return (db.prepare(sql).get() as { n: number }).n;
    } finally {
      db.close();
    }
  };

  it('matches folded terms as substrings per field (the caller folds both sides with foldVietnamese)', async () => {
    const a = await newAccount(store);
    const box = await inbox(a.id);
    await store.storeMessage(message(rfc822({ subject: 'Họp tại Đà Nẵng', body: 'Kính gửi ông Nguyễn Văn Long' }), [box.id]));
    await store.storeMessage(message(rfc822({ subject: 'Báo cáo quý', body: 'Số liệu Hà Nội', from: 'Trần Mai <mai@hanoi.gov.vn>' }), [box.id]));
    await store.storeMessage(message(rfc822({ subject: 'Re: Họp', body: 'đồng ý', from: '=?UTF-8?B?TmfDtCBC4bqjbw==?= <bao@example.gov.vn>' }), [box.id]));
    const table: Array<[string[], Parameters<Store['searchText']>[2], number[]]> = [
      [['nguyen'], 'text', [1]],
      [['Nguyễn'], 'body', [1]],
      [['da nang'], 'subject', [1]],
      [['ĐÀ NẴNG'], 'text', [1]],
      [['hop'], 'subject', [1, 3]],
      [['hop', 'nang'], 'text', [1]],
      [['ngo bao'], 'from', [3]], // RFC 2047 display name decoded and folded
      [['hanoi.gov'], 'from', [2]],
      [['mai@'], 'to', [1, 2, 3]],
      [['ha'], 'body', [2]], // short term: substring scan
      [['xyz'], 'text', []],
      [['bao cao'], 'body', []], // BODY is the body only: the subject is not part of it
      [['bao cao'], 'text', [2]],
      [[], 'text', [1, 2, 3]],
    ];
    for (const [terms, field, want] of table) expect(await store.searchText(box.id, terms.map(foldVietnamese), field), `${field} ${terms.join('+')}`).toEqual(want);
    const other = await newAccount(store);
    expect(await store.searchText((await inbox(other.id)).id, ['nguyen'], 'text')).toEqual([]);
  });

  it('gives the same answers on a large mailbox (intersection path) as on a small one (per-row path)', async () => {
    const a = await newAccount(store);
    const box = await inbox(a.id);
    await store.storeMessage(message(rfc822({ subject: 'Beta tại Đà Nẵng', body: 'beta' }), [box.id]));
    const many = Array.from({ length: 2100 }, () => box.id); // one blob, 2,100 rows
    await store.storeMessage(message(rfc822({ subject: 'Alpha Hà Nội', body: 'alpha' }), many));
    await store.storeMessage(message(rfc822({ subject: 'Gamma Đà Lạt', body: 'gamma' }), [box.id]));
    expect(await store.searchText(box.id, ['da nang'], 'subject')).toEqual([1]);
    expect(await store.searchText(box.id, [foldVietnamese('Đà')], 'subject')).toEqual([1, 2102]);
    expect(await store.searchText(box.id, ['da', 'lat'], 'subject')).toEqual([2102]);
    expect(await store.searchText(box.id, ['ha noi'], 'text')).toHaveLength(2100);
    expect(await store.searchText(box.id, ['nowhere'], 'text')).toEqual([]);
  });

  it('finds messages delivered just before the store closed', async () => {
    const a = await newAccount(store);
    const box = await inbox(a.id);
    // Deliver and close at once: what was not indexed yet waits in fts_todo for the next start.
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.storeMessage(message(rfc822({ subject: `Công văn số ${i}`, body: `m${i}` }), [box.id]))));
    store = await t.reopen();
    expect(await store.searchText(box.id, ['cong van so 4'], 'subject')).toEqual([5, ...Array.from({ length: 10 }, (_, i) => 41 + i)]);
    expect(await store.searchText(box.id, ['van'], 'text')).toHaveLength(50);
  });

  it('indexes by itself once deliveries pause, and a search right after a burst waits for the index', async () => {
    const a = await newAccount(store);
    const box = await inbox(a.id);
    const burst = (from: number, count: number): Promise<unknown> =>
      Promise.all(Array.from({ length: count }, (_, k) => store.storeMessage(message(rfc822({ subject: `Quyết định ${from + k}`, body: `điều ${from + k}` }), [box.id]))));
    // A search straight after a burst (deliveries have not paused yet): it has everything indexed first.
    await burst(0, 120);
    expect(await store.searchText(box.id, ['quyet dinh'], 'subject')).toHaveLength(120);
    expect(await store.searchText(box.id, ['quyet dinh 11'], 'subject')).toEqual([12, ...Array.from({ length: 10 }, (_, i) => 111 + i)]);
    // Another burst and no search: the indexer is asked once writes pause, and fts_todo empties by itself.
    await burst(120, 40);
    const pending = (): number => countIn('buudien.db', 'SELECT count(*) AS n FROM fts_todo');
    const indexed = (): number => countIn('fts.db', "SELECT count(*) AS n FROM msg_fts WHERE msg_fts MATCH 'dinh'");
    await until(async () => pending() === 0 && indexed() === 160);
    expect(await store.searchText(box.id, ['dieu 159'], 'body')).toEqual([160]);
  });

  it('during a long burst, indexes once what waits would take seconds to index, without waiting for a pause', async () => {
    const a = await newAccount(store);
    const box = await inbox(a.id);
    const indexedRows = (): number => countIn('fts.db', 'SELECT count(*) AS n FROM msg_fts');
    // 1 MB text messages back to back: writes never pause for 200 ms, so only the catch-up bound
    // (3 s at the starting estimate of 10 MB/s, about 30 of them) can start the indexer.
    const line = 'Báo cáo tình hình thực hiện nhiệm vụ quý IV của ủy ban nhân dân tỉnh.\r\n';
    const body = line.repeat(Math.ceil((1024 * 1024) / Buffer.byteLength(line)));
    let sent = 0;
    let startedWhileWriting = false;
    while (sent < 80 && !startedWhileWriting) {
      await store.storeMessage(message(rfc822({ subject: `Báo cáo ${sent}`, body }), [box.id]));
      sent++;
      startedWhileWriting = indexedRows() > 0;
    }
    expect(startedWhileWriting).toBe(true);
    expect(sent).toBeGreaterThan(5);
    expect(await store.searchText(box.id, ['bao cao'], 'subject')).toHaveLength(sent);
  });

  it('indexes a message whose blob number was given out again after a collection in another process', async () => {
    const a = await newAccount(store);
    const box = await inbox(a.id);
    await store.storeMessage(message(rfc822({ subject: 'Kế hoạch cũ', body: 'cũ' }), [box.id]));
    expect(await store.searchText(box.id, ['ke hoach cu'], 'subject')).toEqual([1]);
    // Another process (the CLI next to the server) expunges it and collects its blob: the
    // highest number is free again, and this process's indexer was not told.
    const other = await openSecondStore(t);
    try {
      await other.expunge(box.id, [1]);
      expect((await other.collectGarbage()).blobs).toBe(1);
    } finally {
      await other.close();
    }
    await store.storeMessage(message(rfc822({ subject: 'Kế hoạch mới', body: 'mới' }), [box.id]));
    const db = new Database(path.join(t.dir, 'buudien.db'), { readonly: true });
    expect((db.prepare('SELECT max(n) AS n FROM blobs').get() as { n: number }).n).toBe(1); // the same number
    db.close();
    expect(await store.searchText(box.id, ['ke hoach moi'], 'subject')).toEqual([2]);
    expect(await store.searchText(box.id, ['ke hoach'], 'subject')).toEqual([2]);
  });

  it("a collection's late delete request does not take the index row of a new message that reused the number", async () => {
    const a = await newAccount(store);
    const box = await inbox(a.id);
    await store.storeMessage(message(rfc822({ subject: 'Công văn đến', body: 'cũ' }), [box.id]));
    expect(await store.searchText(box.id, ['cong van den'], 'subject')).toEqual([1]);
    const other = await openSecondStore(t);
    try {
      await other.expunge(box.id, [1]);
      expect((await other.collectGarbage()).blobs).toBe(1);
      // The other process's indexer (still starting) has the delete request; meanwhile this
      // process stores a new message under the freed number and indexes it.
      await store.storeMessage(message(rfc822({ subject: 'Quyết định mới', body: 'mới' }), [box.id]));
      expect(await store.searchText(box.id, ['quyet dinh moi'], 'subject')).toEqual([2]);
    } finally {
      await other.close(); // its indexer has applied the delete by now
    }
    expect(await store.searchText(box.id, ['quyet dinh moi'], 'subject')).toEqual([2]);
  });

  it('a message whose file cannot be read waits in fts_todo; the others are indexed, and later mail too', async () => {
    const a = await newAccount(store);
    const box = await inbox(a.id);
    const big = 'Nội dung dài. '.repeat(8000); // over 64 KB: stored as a file of its own
    await store.storeMessage(message(rfc822({ subject: 'Tờ trình một', body: 'ngắn' }), [box.id]));
    await store.storeMessage(message(rfc822({ subject: 'Tờ trình hai', body: big }), [box.id]));
    await store.storeMessage(message(rfc822({ subject: 'Tờ trình ba', body: 'ngắn' }), [box.id]));
    // Its file turns into something unreadable (EISDIR here; EACCES or EIO in real life).
    const db = new Database(path.join(t.dir, 'buudien.db'), { readonly: true });
    const file = db.prepare("SELECT id FROM blobs WHERE data IS NULL").pluck().get() as string;
    db.close();
    const where = path.join(t.dir, 'blobs', file.slice(0, 2), file.slice(2, 4), file);
    const bytes = readFileSync(where);
    rmSync(where);
    mkdirSync(where);
    expect(await store.searchText(box.id, ['to trinh'], 'subject')).toEqual([1, 3]);
    for (let i = 0; i < 3; i++) {
      await store.storeMessage(message(rfc822({ subject: `Báo cáo ${i}`, body: 'ngắn' }), [box.id]));
      expect(await store.searchText(box.id, [`bao cao ${i}`], 'subject')).toEqual([4 + i]);
    }
    await until(async () => countIn('buudien.db', 'SELECT count(*) AS n FROM fts_todo') === 1);
    expect(await store.searchText(box.id, ['to trinh hai'], 'subject')).toEqual([]);
    // Readable again: the next pass indexes it.
    rmSync(where, { recursive: true });
    writeFileSync(where, bytes);
    expect(await store.searchText(box.id, ['to trinh hai'], 'subject')).toEqual([2]);
    await until(async () => countIn('buudien.db', 'SELECT count(*) AS n FROM fts_todo') === 0);
  });

  it('rebuilds the whole index when fts.db is missing (a restored backup has none)', async () => {
    const a = await newAccount(store);
    const box = await inbox(a.id);
    for (let i = 0; i < 5; i++) await store.storeMessage(message(rfc822({ subject: `Giấy mời họp ${i}`, body: `Phòng họp số ${i}` }), [box.id]));
    await store.close();
    for (const f of ['fts.db', 'fts.db-wal', 'fts.db-shm']) rmSync(path.join(t.dir, f), { force: true });
    store = await t.reopen();
    expect(await store.searchText(box.id, ['giay moi'], 'subject')).toEqual([1, 2, 3, 4, 5]);
    expect(await store.searchText(box.id, ['phong hop so 3'], 'body')).toEqual([4]);
  });

  it('a damaged fts.db does not keep the store from opening: it is set aside and rebuilt', async () => {
    const a = await newAccount(store);
    const box = await inbox(a.id);
    for (let i = 0; i < 3; i++) await store.storeMessage(message(rfc822({ subject: `Phiếu chuyển ${i}`, body: `Hồ sơ ${i}` }), [box.id]));
    await store.close();
    for (const f of ['fts.db-wal', 'fts.db-shm']) rmSync(path.join(t.dir, f), { force: true });
    writeFileSync(path.join(t.dir, 'fts.db'), Buffer.alloc(8192, 0x5a));
    store = await t.reopen();
    expect(await store.searchText(box.id, ['phieu chuyen'], 'subject')).toEqual([1, 2, 3]);
    expect(readdirSync(t.dir).some((f) => /^fts\.db\.damaged-\d+$/.test(f))).toBe(true);
  });

  it('rebuilds from the stored bytes the index rows a crash lost (fts_todo)', async () => {
    const a = await newAccount(store);
    const box = await inbox(a.id);
    for (let i = 0; i < 30; i++) {
      const raw = `Subject: =?UTF-8?B?${Buffer.from(`Tờ trình số ${i}`).toString('base64')}?=\r\nFrom: Lê Văn Tám <tam@example.gov.vn>\r\n\r\nNội dung tờ trình ${i}\r\n`;
      await store.storeMessage(message(raw, [box.id], { subject: `Tờ trình số ${i}` }));
    }
    await store.close();
    // As after a power cut between the delivery's commit and the indexer's: rows gone, numbers listed.
    const fts = new Database(path.join(t.dir, 'fts.db'));
    fts.exec('DELETE FROM msg_fts');
    fts.close();
    const db = new Database(path.join(t.dir, 'buudien.db'));
    db.exec('INSERT OR IGNORE INTO fts_todo (n) SELECT n FROM blobs');
    db.close();
    store = await t.reopen();
    // The search waits for the rebuild; fields come from parsing the bytes, not from the lost rows.
    expect(await store.searchText(box.id, ['to trinh so 2'], 'subject')).toEqual([3, ...Array.from({ length: 10 }, (_, i) => 21 + i)]);
    expect(await store.searchText(box.id, ['noi dung'], 'body')).toHaveLength(30);
    expect(await store.searchText(box.id, ['le van tam'], 'from')).toHaveLength(30);
    // And the list is cleared once the rows are on disk.
    await store.close();
    const check = new Database(path.join(t.dir, 'buudien.db'), { readonly: true });
    expect((check.prepare('SELECT count(*) AS n FROM fts_todo').get() as { n: number }).n).toBe(0);
    check.close();
    store = await t.reopen();
  });
});

describe('mailboxes', () => {
  it('create, rename with children, INBOX rename rule, delete, subscribe', async () => {
    const a = await newAccount(store);
    await store.createMailbox(a.id, 'Dự án');
    await store.createMailbox(a.id, 'Dự án/2026', { subscribed: true });
    await store.createMailbox(a.id, 'Dự án/2026/Q1');
    await store.createMailbox(a.id, 'Dự án khác');
    await expect(store.createMailbox(a.id, 'Dự án')).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    await expect(store.createMailbox(a.id, 'inbox')).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    await expect(store.createMailbox(a.id, 'bad//name')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    const sub = (await store.getMailbox(a.id, 'Dự án/2026'))!;
    await store.storeMessage(message('kept', [sub.id]));

    await store.renameMailbox(a.id, 'Dự án', 'Lưu trữ/Dự án');
    const names = (await store.listMailboxes(a.id)).map((m) => m.name);
    expect(names).toContain('Lưu trữ/Dự án');
    expect(names).toContain('Lưu trữ/Dự án/2026');
    expect(names).toContain('Lưu trữ/Dự án/2026/Q1');
    expect(names).toContain('Dự án khác'); // not a child
    expect(names).not.toContain('Dự án');
    const moved = (await store.getMailbox(a.id, 'Lưu trữ/Dự án/2026'))!;
    expect(moved.id).toBe(sub.id);
    expect(moved.uidValidity).toBe(sub.uidValidity);
    expect(await store.listMessages(moved.id)).toHaveLength(1);
    await expect(store.renameMailbox(a.id, 'Sent', 'Drafts')).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    await expect(store.renameMailbox(a.id, 'Nope', 'X')).rejects.toMatchObject({ code: 'NOT_FOUND' });

    // INBOX rename: messages move to the new mailbox, INBOX stays and is empty
    const box = await inbox(a.id);
    await store.createMailbox(a.id, 'INBOX/child');
    await store.storeMessage(message('one', [box.id]));
    await store.storeMessage(message('two', [box.id]));
    await store.setFlags(box.id, [1], 'add', ['\\Seen']);
    await store.renameMailbox(a.id, 'INBOX', 'Old mail');
    const old = (await store.getMailbox(a.id, 'Old mail'))!;
    expect((await store.listMessages(old.id)).map((m) => [m.uid, m.flags])).toEqual([
      [1, ['\\Seen']],
      [2, []],
    ]);
    expect(await store.listMessages(box.id)).toEqual([]);
    expect(await store.getMailbox(a.id, 'INBOX')).not.toBeNull();
    expect(await store.getMailbox(a.id, 'INBOX/child')).not.toBeNull();
    expect((await store.mailboxStatus(box.id)).uidNext).toBe(3);

    await expect(store.deleteMailbox(a.id, 'INBOX')).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    const usageBefore = await store.usage(a.id);
    await store.deleteMailbox(a.id, 'Old mail');
    expect(await store.getMailbox(a.id, 'Old mail')).toBeNull();
    expect(await store.usage(a.id)).toBe(usageBefore - 6);
    await store.setSubscribed(a.id, 'Sent', false);
    expect((await store.getMailbox(a.id, 'Sent'))?.subscribed).toBe(false);
    // A recreated mailbox gets a new UIDVALIDITY
    await store.createMailbox(a.id, 'Old mail');
    expect((await store.getMailbox(a.id, 'Old mail'))!.uidValidity).toBeGreaterThan(old.uidValidity);
  });
});

describe('garbage collection', () => {
  it('reclaims blobs no message, queue or quarantine item references (rows and files)', async () => {
    const a = await newAccount(store);
    const box = await inbox(a.id);
    const big = Buffer.alloc(200 * 1024, 'b');
    await store.storeMessage(message(big, [box.id]));
    await store.storeMessage(message('small', [box.id]));
    await store.enqueue({ sender: 's@example.gov.vn', recipients: ['r@x.vn'], raw: Buffer.from('queued'), account: null, messageId: null, now: t.clock.now() });
    expect(await store.collectGarbage()).toEqual({ blobs: 0, bytes: 0 });
    const blobsDir = path.join(t.dir, 'blobs');
    expect(dirBytes(blobsDir)).toBeGreaterThanOrEqual(big.length);
    await store.expunge(box.id, [1, 2]);
    const gc = await store.collectGarbage();
    expect(gc).toEqual({ blobs: 2, bytes: big.length + 5 });
    expect(dirBytes(blobsDir)).toBe(0);
    expect(await store.storageBytes()).toBe(6); // the queued one
    // storing the same bytes again after collection works
    await store.storeMessage(message(big, [box.id]));
    const [m] = await store.listMessages(box.id);
    expect((await store.readBlob(m!.blobId)).equals(big)).toBe(true);
  });
});
