/**
 * Store backups (store/sqlite/backup.ts): snapshot + blobs + manifest, hard links against the
 * previous backup, the lease that keeps the blob collector off, verify, restore.
 */
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/lib/log.js';
import type { Mailbox, Store } from '../../../src/store/port.js';
import { LEASE_PREFIX, restoreBackup, storeInUse, takeBackup, verifyBackup } from '../../../src/store/sqlite/backup.js';
import { openSqliteStore } from '../../../src/store/sqlite/index.js';
import { message, newAccount, openTestStore, type TestStore } from './helpers.js';

let t: TestStore;
let store: Store;
let out: string;
beforeEach(async () => {
  t = await openTestStore({ inlineBlobMaxBytes: 1024 });
  store = t.store;
  out = mkdtempSync(path.join(os.tmpdir(), 'buudien-backup-'));
});
afterEach(async () => {
  await t.cleanup();
  rmSync(out, { recursive: true, force: true });
});

const OPTS = { serverVersion: '0.0.0-test', now: new Date('2026-03-01T08:00:00Z') };

async function inbox(accountId: number): Promise<Mailbox> {
  const mb = await store.getMailbox(accountId, 'INBOX');
  if (!mb) throw new Error('no INBOX');
  return mb;
}

const big = (fill: string, kb = 8): Buffer => Buffer.alloc(kb * 1024, fill);

function blobFile(root: string, hash: string): string {
  return path.join(root, 'blobs', hash.slice(0, 2), hash.slice(2, 4), hash);
}

function openStoreAt(dir: string): Promise<Store> {
  return openSqliteStore({ dir, log: silentLogger(), clock: t.clock, inlineBlobMaxBytes: 1024, groupCommitWindowMs: 0 });
}

describe('Store.backup', () => {
  it('writes the database, every blob file, the other files and the manifest last; verify passes', async () => {
    const a = await newAccount(store);
    const box = await inbox(a.id);
    await store.storeMessage(message('small, inline', [box.id]));
    await store.storeMessage(message(big('A'), [box.id]));
    await store.storeMessage(message(big('B'), [box.id]));
    mkdirSync(path.join(t.dir, 'tls'), { recursive: true });
    writeFileSync(path.join(t.dir, 'tls', 'self-signed.key'), 'KEY');

    const r = await store.backup(path.join(out, 'b1'), OPTS);
    expect(r.manifest).toMatchObject({
      format: 'buudien-backup',
      version: 1,
      createdAt: '2026-03-01T08:00:00.000Z',
      serverVersion: '0.0.0-test',
      db: { file: 'buudien.db' },
      blobs: { count: 2, bytes: 16 * 1024, linked: 0, copied: 2 },
      files: [{ path: 'tls/self-signed.key', bytes: 3 }],
    });
    expect(r.manifest.schemaVersion).toBeGreaterThan(0);
    expect(readdirSync(r.dir).sort()).toEqual(['blobs', 'buudien.db', 'files', 'manifest.json']);
    expect(JSON.parse(readFileSync(path.join(r.dir, 'manifest.json'), 'utf8'))).toEqual(r.manifest);
    // A backup holds password hashes and keys: its owner only.
    expect(statSync(r.dir).mode & 0o077).toBe(0);
    expect(statSync(path.join(r.dir, 'buudien.db')).mode & 0o077).toBe(0);
    // The snapshot is a plain rollback-journal database: nothing beside it, opens read-only.
    const db = new Database(path.join(r.dir, 'buudien.db'), { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('delete');
    expect(db.prepare('SELECT count(*) AS n FROM messages').get()).toEqual({ n: 3 });
    db.close();
    expect(await verifyBackup(r.dir)).toMatchObject({ ok: true, problems: [] });
    // The lease is gone once the backup is done.
    expect(await store.collectGarbage()).toEqual({ blobs: 0, bytes: 0 });
  });

  it('a second backup hard-links the blobs the first has and copies only new ones', async () => {
    const a = await newAccount(store);
    const box = await inbox(a.id);
    await store.storeMessage(message(big('A'), [box.id]));
    await store.storeMessage(message(big('B'), [box.id]));
    const first = await store.backup(path.join(out, 'b1'), OPTS);
    await store.storeMessage(message(big('C'), [box.id]));
    const second = await store.backup(path.join(out, 'b2'), { ...OPTS, linkFrom: first.dir });
    expect(second.manifest.blobs).toMatchObject({ count: 3, linked: 2, copied: 1 });
    const [m1, m2, m3] = await store.listMessages(box.id);
    for (const m of [m1!, m2!]) {
      const s1 = statSync(blobFile(first.dir, m.blobId));
      const s2 = statSync(blobFile(second.dir, m.blobId));
      expect(s2.ino).toBe(s1.ino);
      expect(s2.nlink).toBe(2);
    }
    expect(statSync(blobFile(second.dir, m3!.blobId)).nlink).toBe(1);
    // Only the new blob and the database were written.
    expect(second.writtenBytes).toBeLessThan(second.manifest.db.bytes + 8 * 1024 + 4096);
    expect((await verifyBackup(second.dir)).ok).toBe(true);
    // Removing the older backup leaves the newer one whole (retention deletes folders).
    rmSync(first.dir, { recursive: true });
    expect((await verifyBackup(second.dir)).ok).toBe(true);
  });

  it('refuses a destination inside storage.dir or one that exists', async () => {
    await expect(store.backup(path.join(t.dir, 'backups', 'b1'), OPTS)).rejects.toThrow(/inside or contain storage.dir/);
    mkdirSync(path.join(out, 'there'));
    await expect(store.backup(path.join(out, 'there'), OPTS)).rejects.toThrow(/already exists/);
  });
});

describe('the backup lease and the blob collector', () => {
  it('a live lease (from any process) defers collection; an expired one is removed and collection runs', async () => {
    const a = await newAccount(store);
    const box = await inbox(a.id);
    await store.storeMessage(message(big('X'), [box.id]));
    await store.expunge(box.id, [1]);
    const other = await openStoreAt(t.dir);
    try {
      await other.setSetting(`${LEASE_PREFIX}other`, JSON.stringify({ until: Date.now() + 60_000, pid: 1 }));
      expect(await store.collectGarbage()).toEqual({ blobs: 0, bytes: 0, deferred: true });
      await other.setSetting(`${LEASE_PREFIX}other`, JSON.stringify({ until: Date.now() - 1, pid: 1 }));
      expect(await store.collectGarbage()).toEqual({ blobs: 1, bytes: 8 * 1024 });
      expect(await other.getSetting(`${LEASE_PREFIX}other`)).toBeNull();
    } finally {
      await other.close();
    }
  });

  it('a blob the snapshot references survives an expunge and a collection before it is copied', async () => {
    const a = await newAccount(store);
    const box = await inbox(a.id);
    const raw = big('R');
    await store.storeMessage(message(raw, [box.id]));
    const [m] = await store.listMessages(box.id);
    // The backup reads through its own connection, as `buudien backup create` next to a running server does.
    const conn = new Database(path.join(t.dir, 'buudien.db'));
    let gc: unknown = null;
    const deliveries: Array<Promise<unknown>> = [];
    try {
      const src = {
        dir: t.dir,
        log: silentLogger(),
        blobPath: (h: string) => blobFile(t.dir, h),
        setSetting: (k: string, v: string | null) => store.setSetting(k, v),
        closing: () => false,
        db: {
          // Between the snapshot and the copying of blobs: the message goes, the collector runs.
          backup: async (file: string, opts: Parameters<Database.Database['backup']>[1]) => {
            // Writes through the server's connection while the snapshot runs make SQLite start over; it still finishes.
            for (let i = 0; i < 5; i++) deliveries.push(store.storeMessage(message(`during ${i}`, [box.id])));
            const r = await conn.backup(file, opts);
            await store.expunge(box.id, [1]);
            gc = await store.collectGarbage();
            return r;
          },
        } as unknown as Database.Database,
      };
      const r = await takeBackup(src, path.join(out, 'race'), OPTS);
      expect(gc).toEqual({ blobs: 0, bytes: 0, deferred: true });
      expect(r.manifest.blobs.count).toBe(1);
      expect(readFileSync(blobFile(r.dir, m!.blobId)).equals(raw)).toBe(true);
      expect((await verifyBackup(r.dir)).ok).toBe(true);
    } finally {
      await Promise.all(deliveries);
      conn.close();
    }
    // Lease released: now the collector takes it.
    expect(await store.collectGarbage()).toEqual({ blobs: 1, bytes: raw.length });
  });

  it('close() stops a running backup, removes its folder and releases the lease', async () => {
    const a = await newAccount(store);
    const box = await inbox(a.id);
    for (let i = 0; i < 20; i++) await store.storeMessage(message(big(String.fromCharCode(65 + i)), [box.id]));
    const dest = path.join(out, 'stopped');
    const running = store.backup(dest, OPTS).then(
      () => null,
      (e: unknown) => e,
    );
    await t.reopen();
    expect(String(await running)).toMatch(/The store is closing; the backup was stopped/);
    expect(existsSync(dest)).toBe(false);
    const db = new Database(path.join(t.dir, 'buudien.db'), { readonly: true });
    expect(db.prepare(`SELECT count(*) AS n FROM settings WHERE key LIKE 'backup-lease:%'`).get()).toEqual({ n: 0 });
    db.close();
  });
});

describe('verifyBackup', () => {
  async function made(): Promise<{ dir: string; hashes: string[] }> {
    const a = await newAccount(store);
    const box = await inbox(a.id);
    await store.storeMessage(message(big('A'), [box.id]));
    await store.storeMessage(message(big('B'), [box.id]));
    const r = await store.backup(path.join(out, 'b'), OPTS);
    return { dir: r.dir, hashes: (await store.listMessages(box.id)).map((m) => m.blobId).sort() };
  }

  it('names a damaged blob and a missing one, one bilingual line each', async () => {
    const { dir, hashes } = await made();
    const [h1, h2] = hashes as [string, string];
    const f = blobFile(dir, h1);
    const bytes = readFileSync(f);
    bytes[100] = bytes[100]! ^ 1;
    rmSync(f);
    writeFileSync(f, bytes);
    rmSync(blobFile(dir, h2));
    const check = await verifyBackup(dir);
    expect(check.ok).toBe(false);
    expect(check.problems).toHaveLength(2);
    expect(check.problems.find((p) => p.includes(h1))).toMatch(/^Tệp thư .* bị hỏng .* \/ blob [0-9a-f]{64} damaged \(hash mismatch\)$/);
    expect(check.problems.find((p) => p.includes(h2))).toMatch(/^Thiếu tệp thư [0-9a-f]{64} \/ blob [0-9a-f]{64} missing$/);
  });

  it('fails a truncated database and a backup without its manifest', async () => {
    const { dir } = await made();
    const db = path.join(dir, 'buudien.db');
    truncateSync(db, Math.floor(statSync(db).size / 2));
    const check = await verifyBackup(dir);
    expect(check.ok).toBe(false);
    expect(check.problems.some((p) => /sha256 mismatch/.test(p))).toBe(true);
    expect(check.problems.some((p) => /database damaged|cannot open the database/.test(p))).toBe(true);
    for (const p of check.problems) expect(p).toMatch(/^[^\n]+ \/ [^\n]+$/);

    rmSync(path.join(dir, 'manifest.json'));
    expect((await verifyBackup(dir)).problems[0]).toMatch(/manifest.json missing: the backup is unfinished/);
    expect((await verifyBackup(path.join(out, 'nothing'))).problems).toEqual([expect.stringMatching(/no backup folder/)]);
  });
});

describe('restoreBackup', () => {
  it('restores into a fresh folder; the store opens there and reads every message back', async () => {
    const a = await newAccount(store);
    const box = await inbox(a.id);
    await store.storeMessage(message('inline one', [box.id]));
    await store.storeMessage(message(big('Q'), [box.id]));
    const backup = await store.backup(path.join(out, 'b'), OPTS);
    const target = path.join(out, 'restored', 'data');
    const r = await restoreBackup(backup.dir, target);
    expect(r).toMatchObject({ ok: true, storageDir: target, previous: null });
    expect(readdirSync(path.dirname(target))).toEqual(['data']); // no staging folder left
    const restored = await openStoreAt(target);
    try {
      const acct = await restored.getAccountByAddress(a.address);
      const rbox = await restored.getMailbox(acct!.id, 'INBOX');
      const msgs = await restored.listMessages(rbox!.id);
      const orig = await store.listMessages(box.id);
      expect(msgs.map((m) => m.uid)).toEqual(orig.map((m) => m.uid));
      for (let i = 0; i < msgs.length; i++) {
        expect((await restored.readBlob(msgs[i]!.blobId)).equals(await store.readBlob(orig[i]!.blobId))).toBe(true);
      }
    } finally {
      await restored.close();
    }
  });

  it('refuses a store in use, a non-empty folder without force, and a damaged backup; force keeps the old content aside', async () => {
    const a = await newAccount(store);
    const box = await inbox(a.id);
    await store.storeMessage(message(big('Z'), [box.id]));
    const backup = await store.backup(path.join(out, 'b'), OPTS);

    // In use: the test store is open on t.dir (SQLite's locks tell connections of one process apart too).
    expect(await storeInUse(t.dir)).toBe(true);
    await expect(restoreBackup(backup.dir, t.dir, { force: true })).rejects.toThrow(/is in use .*stop the server/);

    const target = path.join(out, 'data');
    mkdirSync(target);
    writeFileSync(path.join(target, 'something'), 'old');
    expect(await storeInUse(target)).toBe(false);
    await expect(restoreBackup(backup.dir, target)).rejects.toThrow(/not empty; use --force/);

    // A damaged backup: problems, and the target is untouched.
    const broken = path.join(out, 'broken');
    await store.backup(broken, OPTS);
    const [m] = await store.listMessages(box.id);
    rmSync(blobFile(broken, m!.blobId));
    const bad = await restoreBackup(broken, target, { force: true });
    expect(bad).toEqual({ ok: false, problems: [expect.stringMatching(/missing$/)] });
    expect(readdirSync(target)).toEqual(['something']);

    const r = await restoreBackup(backup.dir, target, { force: true });
    expect(r.ok).toBe(true);
    const previous = r.ok ? r.previous : null;
    expect(previous).toMatch(/data\.before-restore-\d{8}T\d{6}Z$/);
    expect(readFileSync(path.join(previous!, 'something'), 'utf8')).toBe('old');
    expect(existsSync(path.join(target, 'buudien.db'))).toBe(true);
    expect(existsSync(path.join(target, 'something'))).toBe(false);
    expect(readdirSync(out).filter((n) => n.includes('.restore-'))).toEqual([]);
  });
});
