/**
 * Backups of the embedded store (R-OPS-1): a consistent snapshot taken while the server runs,
 * checking one, and restoring one.
 *
 * A backup is one folder:
 *   buudien.db            SQLite's online backup of the database (rollback-journal mode, so it
 *                         opens read-only with nothing beside it)
 *   blobs/ab/cd/<sha256>  every blob file the snapshot references (small bodies are inside the
 *                         database); hard links to the previous backup's copy when it has one
 *   files/<path>          the other files of storage.dir (the self-signed TLS pair)
 *   manifest.json         written last, atomically (temp file, fsync, rename): a folder without it
 *                         is an unfinished backup
 *
 * Not copied: other SQLite files under storage.dir (a raw copy of a live database is not
 * consistent; anything derived, such as a search index kept in its own file, must be rebuilt by
 * the store when it finds it missing) and the -wal/-shm files (the snapshot holds their content).
 *
 * The race with the blob collector. The snapshot references blobs by hash; if a message were
 * expunged right after the snapshot and the collector (in this process, in `serve`, or in a
 * `buudien jobs run blob-gc` next to it) then removed the file, the backup would reference a
 * blob it could no longer copy. Copying first and catching stragglers afterwards narrows that
 * window but does not close it (a straggler can be collected before it is copied), so the backup
 * takes a LEASE instead: a `backup-lease:<id>` row in `settings`, committed before the snapshot
 * starts and removed when the last blob is copied. collectGarbage() checks for a live lease inside
 * its write transaction and removes nothing while one exists. Either the collector committed
 * before the lease (then the snapshot, taken after, no longer references what it removed) or it
 * runs after (then it sees the lease). The lease carries a wall-clock expiry, renewed while
 * copying, so a backup process that dies cannot stop collection for more than LEASE_TTL_MS.
 */
import type Database from 'better-sqlite3';
import { openDatabase } from './connection.js';
import { exclusiveLock } from './serve-lock.js';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, copyFile, link, mkdir, mkdtemp, open, readdir, readFile, rename, rm, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { systemClock } from '../../lib/clock.js';
import { bi, MailError } from '../../lib/errors.js';
import { silentLogger, type Logger } from '../../lib/log.js';
import { BACKUP_MANIFEST, type BackupCheck, type BackupManifest, type BackupOptions, type BackupResult, type BackupTools, type RestoreResult, type Store } from '../port.js';
import { MIGRATIONS } from './migrations.js';

/** The database file, in storage.dir and in a backup. */
export const DB_FILE = 'buudien.db';

/** settings keys of backup leases; the value is JSON { until: epoch ms (wall clock), pid, dir }. */
export const LEASE_PREFIX = 'backup-lease:';
export const LEASE_TTL_MS = 10 * 60_000;
const LEASE_RENEW_MS = 60_000;

/** Pages (4 KiB) per step of the online backup: the event loop runs between steps. */
const STEP_PAGES = 1024;

/** Blob files read or written at once. */
const PARALLEL = 4;

const HASH = /^[0-9a-f]{64}$/;

/** Entries of storage.dir that are not "other files" of the store. */
const SQLITE_FILE = /\.(db|sqlite|sqlite3)(-wal|-shm|-journal)?$/;
const isStagingName = (name: string): boolean => name.startsWith('.restore-') || name.startsWith('.before-restore-');

// ───────────────────────────── small helpers ─────────────────────────────

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}

export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (c) => h.update(c))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

async function fsyncPath(p: string): Promise<void> {
  const fh = await open(p, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Write a new file, readable by its owner only (a backup holds password hashes and keys), and fsync it (fails if it exists). */
async function writeDurable(file: string, data: Buffer | string): Promise<void> {
  const fh = await open(file, 'wx', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Copy a new file (owner-only, fsynced), hashing it on the way: its sha256 and size. */
async function copyHashed(from: string, to: string): Promise<{ sha256: string; bytes: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  const fh = await open(to, 'wx', 0o600);
  try {
    for await (const chunk of createReadStream(from, { highWaterMark: 1 << 20 })) {
      const b = chunk as Buffer;
      h.update(b);
      bytes += b.length;
      await fh.writeFile(b);
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  return { sha256: h.digest('hex'), bytes };
}

/** Copy a file and fsync the copy. */
async function copyDurable(from: string, to: string): Promise<void> {
  await copyFile(from, to);
  await fsyncPath(to);
}

/** Relative path of a blob file: blobs/ab/cd/<hash> (the store's own layout, blobs.ts). */
function blobRel(hash: string): string {
  return path.join('blobs', hash.slice(0, 2), hash.slice(2, 4), hash);
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** A relative path from a manifest that stays inside its folder. */
function safeRel(p: unknown): p is string {
  return typeof p === 'string' && p !== '' && !path.isAbsolute(p) && !p.split(/[\\/]/).some((s) => s === '..' || s === '');
}

/**
 * May a manifest's `files` entry be restored into storage.dir? Only what otherFiles() could have
 * listed: a safe relative path (no `..`, `.`, empty or absolute part), no SQLite file at any depth
 * (the database, its -wal/-shm/-journal, fts.db), nothing under blobs/ or lost+found/, no staging
 * name at the top. Anything else would overwrite the checked database or a blob when restored.
 */
export function restorableFile(p: unknown): p is string {
  if (!safeRel(p)) return false;
  const parts = p.split(/[\\/]/);
  const top = (parts[0] ?? '').toLowerCase();
  if (top === 'blobs' || top === 'lost+found' || isStagingName(top)) return false;
  return !parts.some((s) => s === '.' || SQLITE_FILE.test(s.toLowerCase()));
}

function badFilePath(p: unknown): string {
  return bi(`Đường dẫn tệp không hợp lệ trong manifest: ${JSON.stringify(p)}`, `invalid file path in the manifest: ${JSON.stringify(p)}`);
}

/** Creates directories on demand and fsyncs every one it made (deepest first) at the end. */
class Dirs {
  private readonly made = new Set<string>();
  constructor(private readonly root: string) {}

  async ensure(dir: string): Promise<void> {
    if (dir === this.root || this.made.has(dir)) return;
    await this.ensure(path.dirname(dir));
    try {
      await mkdir(dir);
    } catch (e) {
      if (errno(e) !== 'EEXIST') throw e;
    }
    this.made.add(dir);
  }

  /** fsync every directory made, then the root and its parent (the new entries are durable). */
  async sync(): Promise<void> {
    const dirs = [...this.made].sort((a, b) => b.length - a.length);
    for (const d of dirs) await fsyncPath(d);
    await fsyncPath(this.root);
    await fsyncPath(path.dirname(this.root));
  }
}

/** Run fn over items, `n` at a time; the first error stops the rest. */
async function pool<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown = null;
  const worker = async (): Promise<void> => {
    while (failed === null && next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  if (failed !== null) throw failed;
}

/** Other files of storage.dir (relative paths): not the database, its journals, blobs or restore leftovers. */
async function otherFiles(storageDir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(path.join(storageDir, rel), { withFileTypes: true });
    for (const e of entries) {
      const r = path.join(rel, e.name);
      if (rel === '' && (e.name === 'blobs' || e.name === 'lost+found' || isStagingName(e.name))) continue;
      if (SQLITE_FILE.test(e.name)) continue;
      if (e.isDirectory()) await walk(r);
      else if (e.isFile()) out.push(r);
    }
  };
  await walk('');
  return out.sort();
}

// ───────────────────────────── leases ─────────────────────────────

/** Which lease rows are live at `nowMs` (wall clock), and which have expired. */
export function leaseState(rows: ReadonlyArray<{ key: string; value: string }>, nowMs: number): { held: boolean; expired: string[] } {
  let held = false;
  const expired: string[] = [];
  for (const r of rows) {
    let until = 0;
    try {
      until = Number((JSON.parse(r.value) as { until?: unknown }).until) || 0;
    } catch {
      // unreadable: treated as expired
    }
    if (until > nowMs) held = true;
    else expired.push(r.key);
  }
  return { held, expired };
}

// ───────────────────────────── create ─────────────────────────────

/** What takeBackup needs from the open store. */
export interface BackupSource {
  /** storage.dir */
  dir: string;
  /** The store's connection: the online backup reads through it, so its own writes meanwhile reach the copy. */
  db: Database.Database;
  log: Logger;
  /** Path of a blob file in the live store. */
  blobPath(hash: string): string;
  /** Write or delete (null) a settings row, durably (the lease). */
  setSetting(key: string, value: string | null): Promise<void>;
  /** True once the store began closing: the backup stops. */
  closing(): boolean;
}

function closingError(): MailError {
  return new MailError('TEMPORARY', bi('Kho thư đang đóng; đã dừng sao lưu', 'The store is closing; the backup was stopped'));
}

/**
 * SQLite's online backup of the live database into `file`, in steps. Writes through the same
 * connection meanwhile are applied to the copy; a write through another connection (another
 * process) makes SQLite start over, so after each restart the steps grow (doubling) until one
 * step outruns the writers. The result is the database as of the end of the last step.
 */
async function snapshotDb(src: BackupSource, file: string, keepLease: () => void): Promise<void> {
  let done = -1;
  let rate = STEP_PAGES;
  await src.db.backup(file, {
    progress: ({ totalPages, remainingPages }) => {
      if (src.closing()) throw closingError();
      keepLease();
      const now = totalPages - remainingPages;
      if (now < done) rate = Math.min(rate * 2, 0x7fffffff);
      done = now;
      return rate;
    },
  });
}

export async function takeBackup(src: BackupSource, destDir: string, opts: BackupOptions): Promise<BackupResult> {
  const dest = path.resolve(destDir);
  const storage = path.resolve(src.dir);
  if (isInside(dest, storage) || isInside(storage, dest)) {
    throw new MailError(
      'INVALID_INPUT',
      bi(`Thư mục sao lưu ${dest} không được nằm trong hay chứa storage.dir (${storage})`, `The backup folder ${dest} must not be inside or contain storage.dir (${storage})`),
    );
  }
  await mkdir(path.dirname(dest), { recursive: true });
  try {
    await mkdir(dest, { mode: 0o700 });
  } catch (e) {
    if (errno(e) === 'EEXIST') throw new MailError('ALREADY_EXISTS', bi(`Thư mục sao lưu ${dest} đã tồn tại`, `Backup folder ${dest} already exists`));
    throw e;
  }
  const linkFrom = opts.linkFrom ? path.resolve(opts.linkFrom) : null;
  const leaseKey = LEASE_PREFIX + randomBytes(8).toString('hex');
  let lastRenew = 0;
  const renewLease = async (force = false): Promise<void> => {
    if (!force && Date.now() - lastRenew < LEASE_RENEW_MS) return;
    lastRenew = Date.now();
    await src.setSetting(leaseKey, JSON.stringify({ until: Date.now() + LEASE_TTL_MS, pid: process.pid, dir: dest }));
  };
  try {
    // The lease is committed before the snapshot begins (see the top of this file).
    await renewLease(true);
    let written = 0;

    // 1. The database.
    const dbPath = path.join(dest, DB_FILE);
    await snapshotDb(src, dbPath, () => void renewLease().catch((err: unknown) => src.log.warn({ err }, 'backup: could not renew the lease')));
    await chmod(dbPath, 0o600);
    let rows: Array<{ id: string; size: number }>;
    let schemaVersion: number;
    const snap = openDatabase(dbPath);
    try {
      snap.pragma('journal_mode = DELETE');
      rows = snap.prepare('SELECT id, size FROM blobs WHERE data IS NULL ORDER BY id').all() as Array<{ id: string; size: number }>;
      schemaVersion = (snap.prepare('SELECT max(version) AS v FROM schema_version').get() as { v: number | null }).v ?? 0;
    } finally {
      snap.close();
    }
    await fsyncPath(dbPath);
    const dbBytes = (await stat(dbPath)).size;
    written += dbBytes;

    // 2. Blob files: hard links into the previous backup where it has the same file, else copies
    // checked against their hash on the way (a damaged file in the store fails the backup, loudly).
    const dirs = new Dirs(dest);
    let linked = 0;
    let copied = 0;
    let blobBytes = 0;
    await pool(rows, PARALLEL, async (row) => {
      if (src.closing()) throw closingError();
      await renewLease();
      if (!HASH.test(row.id)) throw new MailError('INTERNAL', bi(`Tên tệp thư không hợp lệ trong CSDL: ${row.id}`, `Invalid blob id in the database: ${row.id}`));
      const rel = blobRel(row.id);
      const to = path.join(dest, rel);
      await dirs.ensure(path.dirname(to));
      blobBytes += row.size;
      if (linkFrom) {
        const from = path.join(linkFrom, rel);
        try {
          if ((await stat(from)).size === row.size) {
            await link(from, to);
            linked++;
            return;
          }
        } catch (e) {
          // Not in the previous backup, or no hard links there (another file system): copy.
          if (!['ENOENT', 'EXDEV', 'EPERM', 'ENOTSUP', 'EMLINK', 'EOPNOTSUPP'].includes(errno(e) ?? '')) throw e;
        }
      }
      let copy: { sha256: string; bytes: number };
      try {
        copy = await copyHashed(src.blobPath(row.id), to);
      } catch (e) {
        if (errno(e) === 'ENOENT') throw new MailError('INTERNAL', bi(`Kho thư thiếu tệp thư ${row.id}`, `The store is missing blob file ${row.id}`));
        throw e;
      }
      if (copy.bytes !== row.size || copy.sha256 !== row.id) {
        throw new MailError('INTERNAL', bi(`Tệp thư ${row.id} trong kho bị hỏng (mã băm không khớp)`, `Blob file ${row.id} in the store is damaged (hash mismatch)`));
      }
      copied++;
      written += copy.bytes;
    });

    // 3. The other files of storage.dir.
    const files: BackupManifest['files'] = [];
    for (const rel of await otherFiles(storage)) {
      const to = path.join(dest, 'files', rel);
      await dirs.ensure(path.dirname(to));
      const data = await readFile(path.join(storage, rel));
      await writeDurable(to, data);
      files.push({ path: rel.split(path.sep).join('/'), bytes: data.length, sha256: sha256(data) });
      written += data.length;
    }
    await dirs.sync();

    // 4. The manifest, last and atomically: until it is there the folder is an unfinished backup.
    const manifest: BackupManifest = {
      format: 'buudien-backup',
      version: 1,
      createdAt: opts.now.toISOString(),
      serverVersion: opts.serverVersion,
      schemaVersion,
      db: { file: DB_FILE, bytes: dbBytes, sha256: await sha256File(dbPath) },
      blobs: { count: rows.length, bytes: blobBytes, linked, copied },
      files,
    };
    const tmp = path.join(dest, `${BACKUP_MANIFEST}.tmp`);
    await writeDurable(tmp, JSON.stringify(manifest, null, 2) + '\n');
    await rename(tmp, path.join(dest, BACKUP_MANIFEST));
    await fsyncPath(dest);
    return { dir: dest, manifest, writtenBytes: written };
  } catch (e) {
    await rm(dest, { recursive: true, force: true }).catch((err: unknown) => src.log.warn({ err, dir: dest }, 'backup: could not remove the unfinished backup folder'));
    throw e;
  } finally {
    await src.setSetting(leaseKey, null).catch((err: unknown) => src.log.warn({ err }, 'backup: could not release the lease (it expires by itself)'));
  }
}

// ───────────────────────────── verify ─────────────────────────────

/** manifest.json of a backup folder: the manifest, or why there is none usable. */
export async function readManifest(dir: string): Promise<{ manifest: BackupManifest } | { problem: string }> {
  let text: string;
  try {
    text = await readFile(path.join(dir, BACKUP_MANIFEST), 'utf8');
  } catch (e) {
    if (errno(e) === 'ENOENT') {
      return { problem: bi(`Thiếu ${BACKUP_MANIFEST}: bản sao lưu chưa hoàn tất hoặc không phải bản sao lưu`, `${BACKUP_MANIFEST} missing: the backup is unfinished or not a backup`) };
    }
    return { problem: bi(`Không đọc được ${BACKUP_MANIFEST}`, `cannot read ${BACKUP_MANIFEST}`) + `: ${(e as Error).message}` };
  }
  try {
    const m = JSON.parse(text) as BackupManifest;
    if (
      m?.format !== 'buudien-backup' ||
      m.version !== 1 ||
      typeof m.createdAt !== 'string' ||
      !m.db ||
      !safeRel(m.db.file) ||
      typeof m.db.sha256 !== 'string' ||
      !m.blobs ||
      typeof m.blobs.count !== 'number' ||
      !Array.isArray(m.files)
    ) {
      return { problem: bi(`${BACKUP_MANIFEST} không đúng định dạng`, `${BACKUP_MANIFEST} has an unexpected format`) };
    }
    return { manifest: m };
  } catch {
    return { problem: bi(`${BACKUP_MANIFEST} không phải JSON hợp lệ`, `${BACKUP_MANIFEST} is not valid JSON`) };
  }
}

/** Referenced blob rows of a backup's database (data IS NULL: held in a file). */
function blobRows(db: Database.Database): Array<{ id: string; size: number }> {
  return db.prepare('SELECT id, size FROM blobs WHERE data IS NULL ORDER BY id').all() as Array<{ id: string; size: number }>;
}

export async function verifyBackup(dirArg: string): Promise<BackupCheck> {
  const dir = path.resolve(dirArg);
  const problems: string[] = [];
  try {
    if (!(await stat(dir)).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  } catch {
    return { ok: false, problems: [bi(`Không có thư mục sao lưu ${dir}`, `no backup folder ${dir}`)], manifest: null };
  }
  const m = await readManifest(dir);
  const manifest = 'manifest' in m ? m.manifest : null;
  if ('problem' in m) problems.push(m.problem);

  // The database: the file the manifest describes, intact.
  const dbPath = path.join(dir, manifest?.db.file ?? DB_FILE);
  let rows: Array<{ id: string; size: number }> | null = null;
  let dbSize: number | null = null;
  try {
    dbSize = (await stat(dbPath)).size;
  } catch {
    problems.push(bi(`Thiếu tệp CSDL ${path.basename(dbPath)}`, `database file ${path.basename(dbPath)} missing`));
  }
  if (dbSize !== null) {
    if (manifest && (dbSize !== manifest.db.bytes || (await sha256File(dbPath)) !== manifest.db.sha256)) {
      problems.push(bi(`Tệp CSDL khác với lúc sao lưu (kích thước hoặc mã băm sha256 không khớp)`, `the database file differs from the one backed up (size or sha256 mismatch)`));
    }
    let db: Database.Database | null = null;
    try {
      db = openDatabase(dbPath, { readonly: true, fileMustExist: true });
      const result = (db.pragma('integrity_check') as Array<{ integrity_check: string }>).map((r) => r.integrity_check);
      if (result.length !== 1 || result[0] !== 'ok') {
        for (const line of result.slice(0, 20)) problems.push(bi('CSDL hỏng (integrity_check)', 'database damaged (integrity_check)') + `: ${line}`);
      } else {
        rows = blobRows(db);
      }
    } catch (e) {
      problems.push(bi('Không mở được CSDL', 'cannot open the database') + `: ${(e as Error).message}`);
    } finally {
      db?.close();
    }
  }

  // Every blob the database references: present, and its content hashes to its name.
  if (rows) {
    let bytes = 0;
    const blobProblems: string[] = [];
    await pool(rows, PARALLEL, async (row) => {
      bytes += row.size;
      if (!HASH.test(row.id)) {
        blobProblems.push(bi(`Tên tệp thư không hợp lệ trong CSDL: ${JSON.stringify(row.id)}`, `invalid blob id in the database: ${JSON.stringify(row.id)}`));
        return;
      }
      const file = path.join(dir, blobRel(row.id));
      let hash: string;
      try {
        hash = await sha256File(file);
      } catch {
        blobProblems.push(bi(`Thiếu tệp thư ${row.id}`, `blob ${row.id} missing`));
        return;
      }
      if (hash !== row.id) blobProblems.push(bi(`Tệp thư ${row.id} bị hỏng (mã băm không khớp)`, `blob ${row.id} damaged (hash mismatch)`));
      else if ((await stat(file)).size !== row.size) blobProblems.push(bi(`Tệp thư ${row.id} sai kích thước`, `blob ${row.id} has the wrong size`));
    });
    problems.push(...blobProblems.sort());
    if (manifest && (manifest.blobs.count !== rows.length || manifest.blobs.bytes !== bytes)) {
      problems.push(
        bi(
          `Số tệp thư khác manifest (${rows.length} tệp, ${bytes} byte; manifest: ${manifest.blobs.count}, ${manifest.blobs.bytes})`,
          `blob count differs from the manifest (${rows.length} files, ${bytes} bytes; manifest: ${manifest.blobs.count}, ${manifest.blobs.bytes})`,
        ),
      );
    }
  }

  // The other files.
  for (const f of manifest?.files ?? []) {
    if (!restorableFile(f.path)) {
      problems.push(badFilePath(f.path));
      continue;
    }
    try {
      const data = await readFile(path.join(dir, 'files', f.path));
      if (sha256(data) !== f.sha256) problems.push(bi(`Tệp ${f.path} bị hỏng (mã băm không khớp)`, `file ${f.path} damaged (hash mismatch)`));
    } catch {
      problems.push(bi(`Thiếu tệp ${f.path}`, `file ${f.path} missing`));
    }
  }
  return { ok: problems.length === 0, problems, manifest };
}

// ───────────────────────────── in use ─────────────────────────────

/**
 * Does a process have the store open? Every connection to a WAL database holds a shared lock on
 * the file while open (the server always has one), so an EXCLUSIVE lock is refused exactly then.
 * SQLite's locks also separate connections within one process. Nothing is written.
 */
export async function storeInUse(storageDir: string): Promise<boolean> {
  const file = path.join(path.resolve(storageDir), DB_FILE);
  try {
    await stat(file);
  } catch {
    return false;
  }
  let db: Database.Database | null;
  try {
    db = exclusiveLock(file, { fileMustExist: true });
  } catch {
    // Not a database, or damaged: nobody is serving from it.
    return false;
  }
  if (db === null) return true;
  db.exec('ROLLBACK');
  db.close();
  return false;
}

// ───────────────────────────── restore ─────────────────────────────

/** Copy a verified backup's content into `to` (an empty folder): the database, blobs, other files; fsynced. */
async function fill(from: string, manifest: BackupManifest, to: string): Promise<void> {
  const dirs = new Dirs(to);
  await copyDurable(path.join(from, manifest.db.file), path.join(to, DB_FILE));
  // fts.db (the full-text index) is not in a backup: the store rebuilds it from the messages
  // when it opens a database without one (store/sqlite/fts.ts).
  await fsyncPath(path.join(to, DB_FILE));
  const hashes: string[] = [];
  const blobRoot = path.join(from, 'blobs');
  for (const a of await readdir(blobRoot).catch(() => [] as string[])) {
    for (const b of await readdir(path.join(blobRoot, a)).catch(() => [] as string[])) {
      for (const f of await readdir(path.join(blobRoot, a, b)).catch(() => [] as string[])) {
        if (HASH.test(f) && f.startsWith(a + b)) hashes.push(f);
      }
    }
  }
  await pool(hashes, PARALLEL, async (h) => {
    const rel = blobRel(h);
    await dirs.ensure(path.dirname(path.join(to, rel)));
    await copyDurable(path.join(from, rel), path.join(to, rel));
  });
  for (const f of manifest.files) {
    // verifyBackup refused these already; never trust a manifest to name what a restore overwrites.
    if (!restorableFile(f.path)) throw new MailError('INVALID_INPUT', badFilePath(f.path));
    const target = path.join(to, f.path);
    await dirs.ensure(path.dirname(target));
    await copyDurable(path.join(from, 'files', f.path), target);
  }
  await dirs.sync();
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

export async function restoreBackup(dirArg: string, storageDirArg: string, opts: { force?: boolean } = {}): Promise<RestoreResult> {
  const from = path.resolve(dirArg);
  const target = path.resolve(storageDirArg);
  if (isInside(from, target)) {
    throw new MailError('INVALID_INPUT', bi(`Bản sao lưu ${from} nằm trong storage.dir (${target})`, `The backup ${from} is inside storage.dir (${target})`));
  }
  if (await storeInUse(target)) {
    throw new MailError(
      'IN_USE',
      bi(`Kho thư ${target} đang được dùng (máy chủ đang chạy?); hãy dừng máy chủ trước khi khôi phục`, `The store in ${target} is in use (is the server running?); stop the server before restoring`),
    );
  }
  let entries: string[] | null = null;
  try {
    entries = (await readdir(target)).filter((e) => e !== 'lost+found');
  } catch (e) {
    if (errno(e) !== 'ENOENT') throw e;
  }
  const nonEmpty = entries !== null && entries.length > 0;
  if (nonEmpty && !opts.force) {
    throw new MailError(
      'ALREADY_EXISTS',
      bi(`storage.dir (${target}) không trống; dùng --force để thay (nội dung cũ được giữ lại bên cạnh)`, `storage.dir (${target}) is not empty; use --force to replace it (the old content is kept aside)`),
    );
  }

  const check = await verifyBackup(from);
  if (!check.ok || !check.manifest) return { ok: false, problems: check.problems };
  const manifest = check.manifest;
  const known = MIGRATIONS.reduce((v, m) => Math.max(v, m.version), 0);
  if (manifest.schemaVersion > known) {
    throw new MailError(
      'INVALID_INPUT',
      bi(
        `Bản sao lưu do phiên bản mới hơn tạo (${manifest.serverVersion}, lược đồ ${manifest.schemaVersion}); hãy cập nhật máy chủ trước`,
        `The backup was made by a newer server (${manifest.serverVersion}, schema ${manifest.schemaVersion}); upgrade this server first`,
      ),
    );
  }

  const parent = path.dirname(target);
  await mkdir(parent, { recursive: true });
  // Normally the new store is built beside storage.dir and renamed into place: one atomic step.
  // When storage.dir is a mount point (a Docker volume) it cannot be renamed, nor can anything
  // be renamed into it from outside: then the new store is built inside it and its entries are
  // moved in one by one (the database last), after the old ones were moved aside.
  const mounted = entries !== null && (await stat(target)).dev !== (await stat(parent)).dev;
  let staging: string | null = null;
  if (!mounted) {
    try {
      staging = await mkdtemp(path.join(parent, `.${path.basename(target)}.restore-`));
    } catch (e) {
      if (!['EACCES', 'EPERM', 'EROFS'].includes(errno(e) ?? '') || entries === null) throw e;
    }
  }

  if (staging) {
    try {
      await fill(from, manifest, staging);
      await checkRestored(staging);
      let previous: string | null = null;
      if (entries === null) {
        await rename(staging, target);
      } else if (!nonEmpty) {
        await rmdir(target);
        await rename(staging, target);
      } else {
        previous = `${target}.before-restore-${stamp()}`;
        await rename(target, previous);
        try {
          await rename(staging, target);
        } catch (e) {
          await rename(previous, target);
          throw e;
        }
      }
      staging = null;
      try {
        await fsyncPath(parent);
      } catch (e) {
        // The restored store is a copy of the backup: set aside and removed, the previous one put back.
        const aside = `${target}.failed-restore-${stamp()}`;
        throw await putBack(e, previous, async () => {
          await rename(target, aside);
          if (previous) await rename(previous, target);
          else if (entries !== null) await mkdir(target);
          await rm(aside, { recursive: true, force: true });
        });
      }
      return { ok: true, storageDir: target, manifest, previous };
    } finally {
      if (staging) await rm(staging, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  // Inside storage.dir (a mount point, or its parent is not writable).
  const inner = await mkdtemp(path.join(target, '.restore-'));
  try {
    await fill(from, manifest, inner);
    await checkRestored(inner);
  } catch (e) {
    await rm(inner, { recursive: true, force: true }).catch(() => undefined);
    throw e;
  }
  // From here on each step is one rename; a failure moves everything back (the restored entries
  // into .restore-*, removed; the old ones out of .before-restore-*).
  let previous: string | null = null;
  const movedOld: string[] = [];
  const movedNew: string[] = [];
  try {
    const old = (entries ?? []).filter((e) => !isStagingName(e));
    if (old.length > 0) {
      previous = path.join(target, `.before-restore-${stamp()}`);
      await mkdir(previous);
      for (const e of old) {
        await rename(path.join(target, e), path.join(previous, e));
        movedOld.push(e);
      }
    }
    const fresh = (await readdir(inner)).sort((a, b) => Number(a === DB_FILE) - Number(b === DB_FILE));
    for (const e of fresh) {
      await rename(path.join(inner, e), path.join(target, e));
      movedNew.push(e);
    }
    await rmdir(inner);
    await fsyncPath(target);
  } catch (e) {
    const before = previous;
    throw await putBack(e, before, async () => {
      for (const n of movedNew) await rename(path.join(target, n), path.join(inner, n)).catch(() => rm(path.join(target, n), { recursive: true, force: true }));
      if (before) {
        for (const n of movedOld) await rename(path.join(before, n), path.join(target, n));
        await rmdir(before);
      }
      await rm(inner, { recursive: true, force: true });
    });
  }
  return { ok: true, storageDir: target, manifest, previous };
}

/**
 * The restored copy, before it replaces anything: its database passes integrity_check and the
 * store opens on it (applying this server's newer migrations, as the first start would).
 */
async function checkRestored(dir: string): Promise<void> {
  const fail = (why: string): MailError =>
    new MailError('INVALID_INPUT', bi(`Bản khôi phục không dùng được (storage.dir chưa bị thay đổi)`, `the restored copy is not usable (storage.dir was not changed)`) + `: ${why}`);
  let db: Database.Database | null = null;
  try {
    db = openDatabase(path.join(dir, DB_FILE), { fileMustExist: true });
    const result = (db.pragma('integrity_check') as Array<{ integrity_check: string }>).map((r) => r.integrity_check);
    if (result.length !== 1 || result[0] !== 'ok') throw fail(`integrity_check: ${result.slice(0, 3).join('; ')}`);
  } catch (e) {
    throw e instanceof MailError ? e : fail((e as Error).message);
  } finally {
    db?.close();
  }
  // Imported here: index.ts imports this file.
  const { openSqliteStore } = await import('./index.js');
  let store: Store;
  try {
    store = await openSqliteStore({ dir, log: silentLogger(), clock: systemClock, inlineBlobMaxBytes: 0, groupCommitWindowMs: 0 });
  } catch (e) {
    throw fail((e as Error).message);
  }
  await store.close();
}

/**
 * After a failure once the restored copy was in place: run `undo` (which puts the previous store
 * back) and return the error to throw, naming where the previous store is if that failed too.
 */
async function putBack(cause: unknown, previous: string | null, undo: () => Promise<void>): Promise<MailError> {
  const why = (cause as Error).message;
  try {
    await undo();
  } catch (e) {
    return new MailError(
      'INTERNAL',
      bi(
        `Khôi phục thất bại và không trả lại được kho cũ: kho cũ ở ${previous ?? '(không có)'}`,
        `the restore failed and the previous store could not be put back: it is in ${previous ?? '(none)'}`,
      ) + `: ${why}; ${(e as Error).message}`,
      cause,
    );
  }
  return new MailError('INTERNAL', bi('Khôi phục thất bại; storage.dir đã được trả lại như cũ', 'the restore failed; storage.dir was put back as it was') + `: ${why}`, cause);
}

/** The embedded store's backup tools (BackupTools of store/port.ts). */
export const sqliteBackupTools: BackupTools = { verifyBackup, restoreBackup, storeInUse };
