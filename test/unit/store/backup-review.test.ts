/**
 * Review fixes of store/sqlite/backup.ts: verify refuses manifest `files` entries a restore would
 * write over the database, a blob or its own staging folders; restore checks the restored copy
 * (integrity_check, the store opens and migrates) before it replaces anything, and puts the
 * previous store back when a step after the swap fails.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Store } from '../../../src/store/port.js';
import { restoreBackup, verifyBackup } from '../../../src/store/sqlite/backup.js';
import { message, newAccount, openTestStore, type TestStore } from './helpers.js';

/** fs/promises as is, but open() can be made to fail (the fsync after the swap). */
const failOpen = vi.hoisted(() => ({ when: null as ((p: string) => boolean) | null }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const open: typeof real.open = (file, ...rest) => {
    if (failOpen.when?.(String(file))) return Promise.reject(Object.assign(new Error(`EIO: i/o error, open '${String(file)}'`), { code: 'EIO', path: String(file) }));
    return real.open(file, ...rest);
  };
  return { ...real, default: { ...real, open }, open };
});

let t: TestStore;
let store: Store;
let out: string;
beforeEach(async () => {
  t = await openTestStore({ inlineBlobMaxBytes: 1024 });
  store = t.store;
  out = mkdtempSync(path.join(os.tmpdir(), 'buudien-backup-review-'));
});
afterEach(async () => {
  failOpen.when = null;
  await t.cleanup();
  rmSync(out, { recursive: true, force: true });
});

const OPTS = { serverVersion: '0.0.0-test', now: new Date('2026-03-01T08:00:00Z') };
const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

/** A backup of a store with one account and a message in a blob file. */
async function made(name = 'b'): Promise<string> {
  const a = await newAccount(store);
  const box = await store.getMailbox(a.id, 'INBOX');
  await store.storeMessage(message(Buffer.alloc(8 * 1024, 'A'), [box!.id]));
  return (await store.backup(path.join(out, name), OPTS)).dir;
}

interface Manifest {
  schemaVersion: number;
  db: { bytes: number; sha256: string };
  files: Array<{ path: string; bytes: number; sha256: string }>;
}
const manifestOf = (dir: string): Manifest => JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
const writeManifest = (dir: string, m: Manifest): void => writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(m));

/** A storage.dir with old content, to restore over with force. */
function occupied(): string {
  const target = path.join(out, 'data');
  mkdirSync(target);
  writeFileSync(path.join(target, 'notes.txt'), 'old');
  return target;
}

describe('verifyBackup: manifest file paths', () => {
  const refused = [
    'buudien.db',
    'BUUDIEN.DB',
    'buudien.db-wal',
    'buudien.db-shm',
    'buudien.db-journal',
    'fts.db',
    './buudien.db',
    'tls/./x',
    'blobs/ab/cd/ef',
    'Blobs/x',
    'lost+found/x',
    '.restore-abc/buudien.db',
    '.before-restore-20260101T000000Z/x',
    '../outside',
    'tls/../buudien.db',
    '/etc/passwd',
    '',
  ];
  it.each(refused)('refuses %j (a restore would write it over the store), even with the file present and hashing right', async (p) => {
    const dir = await made();
    const m = manifestOf(dir);
    const bytes = readFileSync(path.join(dir, 'buudien.db')).subarray(0, 100); // not a database
    const safe = p.replace(/^\/+/, '').replace(/\.\.\//g, 'up/');
    if (safe !== '') {
      mkdirSync(path.dirname(path.join(dir, 'files', safe)), { recursive: true });
      writeFileSync(path.join(dir, 'files', safe), bytes);
    }
    m.files.push({ path: p, bytes: bytes.length, sha256: sha(bytes) });
    writeManifest(dir, m);
    const check = await verifyBackup(dir);
    expect(check.ok).toBe(false);
    expect(check.problems).toEqual([`Đường dẫn tệp không hợp lệ trong manifest: ${JSON.stringify(p)} / invalid file path in the manifest: ${JSON.stringify(p)}`]);

    // And restore refuses it before touching storage.dir.
    const target = occupied();
    const r = await restoreBackup(dir, target, { force: true });
    expect(r.ok).toBe(false);
    expect(readdirSync(target)).toEqual(['notes.txt']);
    expect(readdirSync(out).sort()).toEqual(['b', 'data']);
  });

  it('still accepts the store’s other files at any depth', async () => {
    mkdirSync(path.join(t.dir, 'tls'), { recursive: true });
    writeFileSync(path.join(t.dir, 'tls', 'self-signed.key'), 'KEY');
    writeFileSync(path.join(t.dir, 'notes.restore-me'), 'N');
    const dir = await made();
    expect(manifestOf(dir).files.map((f) => f.path)).toEqual(['notes.restore-me', 'tls/self-signed.key']);
    expect(await verifyBackup(dir)).toMatchObject({ ok: true, problems: [] });
  });
});

describe('restoreBackup checks the restored copy before the swap', () => {
  /** A backup whose database passes verify (sha256 in the manifest updated) after `change`. */
  async function tampered(change: (db: Database.Database) => void): Promise<string> {
    const dir = await made();
    const file = path.join(dir, 'buudien.db');
    const db = new Database(file);
    change(db);
    db.close();
    const m = manifestOf(dir);
    m.db = { ...m.db, bytes: statSync(file).size, sha256: sha(readFileSync(file)) };
    writeManifest(dir, m);
    expect((await verifyBackup(dir)).problems).toEqual([]);
    return dir;
  }

  it('a database the store cannot migrate: refused, storage.dir untouched, nothing left beside it', async () => {
    // Migrations 9 and 10 recorded as not applied: applying 9 again fails (its column exists).
    const dir = await tampered((db) => db.exec('DELETE FROM schema_version WHERE version >= 9'));
    const target = occupied();
    await expect(restoreBackup(dir, target, { force: true })).rejects.toThrow(
      /^Bản khôi phục không dùng được \(storage\.dir chưa bị thay đổi\) \/ the restored copy is not usable \(storage\.dir was not changed\): /,
    );
    expect(readdirSync(target)).toEqual(['notes.txt']);
    expect(readdirSync(out).sort()).toEqual(['b', 'data']);
  });

  it('a restore into a missing storage.dir that cannot open leaves it missing', async () => {
    const dir = await tampered((db) => db.exec('DELETE FROM schema_version WHERE version >= 9'));
    const target = path.join(out, 'fresh');
    await expect(restoreBackup(dir, target)).rejects.toThrow(/not usable/);
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(out).sort()).toEqual(['b']);
  });
});

describe('restoreBackup puts the previous store back when a step after the swap fails', () => {
  it('the fsync after the rename fails: the old content is back in storage.dir and the error says so', async () => {
    const dir = await made();
    const target = occupied();
    // Fail the fsync of the parent folder once the old content was renamed aside (after the swap).
    failOpen.when = (p) => p === out && readdirSync(out).some((n) => n.startsWith('data.before-restore-'));
    await expect(restoreBackup(dir, target, { force: true })).rejects.toThrow(
      /^Khôi phục thất bại; storage\.dir đã được trả lại như cũ \/ the restore failed; storage\.dir was put back as it was: EIO/,
    );
    failOpen.when = null;
    expect(readdirSync(target)).toEqual(['notes.txt']);
    expect(readFileSync(path.join(target, 'notes.txt'), 'utf8')).toBe('old');
    expect(readdirSync(out).sort()).toEqual(['b', 'data']);

    // Nothing stuck: the same restore then succeeds.
    const r = await restoreBackup(dir, target, { force: true });
    expect(r.ok).toBe(true);
    expect(existsSync(path.join(target, 'buudien.db'))).toBe(true);
  });
});
