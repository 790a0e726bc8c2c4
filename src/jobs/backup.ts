/**
 * Backups as the admin and the scheduler see them (R-OPS-1). A backup folder (config backup.dir,
 * or the DEST an admin gives) holds one sub-folder per backup, named by its UTC time
 * (20260301T080000Z). Each new backup hard-links the blob files the previous complete one already
 * has (blobs are immutable and named by their hash), so a weekly run copies only the week's new
 * mail; after a successful backup the oldest complete ones beyond backup.keep are removed, and so
 * are unfinished ones (no manifest: a run that died). One backup at a time per folder (a lock file).
 *
 * The snapshot itself is the store's (Store.backup); checking and restoring are BackupTools.
 */
import { mkdir, open, readdir, readFile, rm, stat, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { bi, MailError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { BACKUP_MANIFEST, type BackupManifest, type BackupResult, type Store } from '../store/port.js';

const DAY_MS = 86_400_000;

/** The scheduler checks once a day: a backup this much younger than the interval still counts as due. */
const DUE_SLACK_MS = 3_600_000;

/** Backup folder names: UTC time, with -2, -3 … when two fall in the same second. */
export const BACKUP_NAME = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z(?:-\d+)?$/;

const LOCK = '.buudien-backup.lock';

/** The actor the audit log names for scheduled backups. */
export const BACKUP_ACTOR = 'system:backup';

export interface BackupEntry {
  name: string;
  path: string;
  /** From the manifest; for an unfinished backup, from the folder name. */
  createdAt: Date;
  /** Has its manifest (finished). Unfinished ones are never restored or linked from. */
  complete: boolean;
  manifest: BackupManifest | null;
}

export function backupName(now: Date): string {
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

function nameTime(name: string): Date {
  const m = BACKUP_NAME.exec(name);
  if (!m) return new Date(0);
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}

/** The backups in a folder, oldest first ([] when the folder does not exist). Other entries are ignored. */
export async function listBackups(rootArg: string): Promise<BackupEntry[]> {
  const root = path.resolve(rootArg);
  let names: string[];
  try {
    names = await readdir(root);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: BackupEntry[] = [];
  for (const name of names) {
    if (!BACKUP_NAME.test(name)) continue;
    const p = path.join(root, name);
    if (!(await stat(p)).isDirectory()) continue;
    let manifest: BackupManifest | null = null;
    try {
      const m = JSON.parse(await readFile(path.join(p, BACKUP_MANIFEST), 'utf8')) as BackupManifest;
      if (m?.format === 'buudien-backup' && typeof m.createdAt === 'string') manifest = m;
    } catch {
      // unfinished (or damaged): no usable manifest
    }
    const createdAt = manifest ? new Date(manifest.createdAt) : nameTime(name);
    out.push({ name, path: p, createdAt, complete: manifest !== null, manifest });
  }
  return out.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Is a backup due at `now`: none complete yet, or the newest is intervalDays old? */
export async function backupDue(root: string, now: Date, intervalDays: number): Promise<{ due: boolean; newest: BackupEntry | null }> {
  const newest = (await listBackups(root)).filter((b) => b.complete).at(-1) ?? null;
  if (!newest) return { due: true, newest };
  return { due: now.getTime() - newest.createdAt.getTime() >= intervalDays * DAY_MS - DUE_SLACK_MS, newest };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Take the folder's lock (a file made with O_EXCL); a lock whose process is gone is taken over. */
async function lock(root: string): Promise<() => Promise<void>> {
  const file = path.join(root, LOCK);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(file, 'wx');
      try {
        await fh.writeFile(JSON.stringify({ pid: process.pid, host: os.hostname(), at: new Date().toISOString() }));
      } finally {
        await fh.close();
      }
      return () => unlink(file).catch(() => undefined);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let holder: { pid?: number; host?: string } = {};
    try {
      holder = JSON.parse(await readFile(file, 'utf8')) as typeof holder;
    } catch {
      // half-written by a process that died: stale
    }
    if (typeof holder.pid === 'number' && (holder.host !== os.hostname() || alive(holder.pid))) {
      throw new MailError(
        'IN_USE',
        bi(`Một lần sao lưu khác đang ghi vào ${root} (tiến trình ${holder.pid} trên ${holder.host ?? '?'}); nếu không, hãy xóa ${file}`, `another backup is writing to ${root} (process ${holder.pid} on ${holder.host ?? '?'}); if not, remove ${file}`),
      );
    }
    await unlink(file).catch(() => undefined);
  }
  throw new MailError('IN_USE', bi(`Không lấy được khóa ${file}`, `could not take the lock ${file}`));
}

export interface CreateBackupOptions {
  /** The backup folder (backup.dir or DEST). */
  root: string;
  /** storage.dir: to warn when the backups land on the same device (R-OPS-1 asks for another one). */
  storageDir: string;
  now: Date;
  /** Complete backups kept (backup.keep). */
  keep: number;
  serverVersion: string;
  /** Who the audit log names. */
  actor: string;
  log: Logger;
}

export interface CreatedBackup extends BackupResult {
  name: string;
  /** Folders removed by retention. */
  pruned: string[];
  /** The backup folder is on the same device as storage.dir. */
  sameDevice: boolean;
}

/** Make a backup into a new sub-folder of `root`, incremental against the newest complete one; then apply retention. */
export async function createBackup(store: Store, opts: CreateBackupOptions): Promise<CreatedBackup> {
  const root = path.resolve(opts.root);
  await mkdir(root, { recursive: true, mode: 0o700 });
  const release = await lock(root);
  try {
    const existing = await listBackups(root);
    const previous = existing.filter((b) => b.complete).at(-1) ?? null;
    const taken = new Set(await readdir(root));
    const base = backupName(opts.now);
    let name = base;
    for (let n = 2; taken.has(name); n++) name = `${base}-${n}`;
    const result = await store.backup(path.join(root, name), { linkFrom: previous?.path ?? null, serverVersion: opts.serverVersion, now: opts.now });
    const pruned = await prune(root, opts.keep, name, opts.log);
    const sameDevice = await stat(path.resolve(opts.storageDir))
      .then(async (s) => s.dev === (await stat(root)).dev)
      .catch(() => false);
    const m = result.manifest;
    await store.audit({
      actor: opts.actor,
      action: 'backup.create',
      target: result.dir,
      details: { blobs: m.blobs.count, linked: m.blobs.linked, copied: m.blobs.copied, bytes: m.db.bytes + m.blobs.bytes, writtenBytes: result.writtenBytes, pruned },
    });
    return { ...result, name, pruned, sameDevice };
  } finally {
    await release();
  }
}

/** Remove complete backups beyond `keep` (oldest first) and unfinished ones; never `current`. */
async function prune(root: string, keep: number, current: string, log: Logger): Promise<string[]> {
  const all = (await listBackups(root)).filter((b) => b.name !== current);
  const complete = all.filter((b) => b.complete);
  // `current` is complete and counts towards keep.
  const drop = [...all.filter((b) => !b.complete), ...complete.slice(0, Math.max(0, complete.length - (keep - 1)))];
  const removed: string[] = [];
  for (const b of drop) {
    try {
      await rm(b.path, { recursive: true, force: true });
      removed.push(b.name);
    } catch (err) {
      log.warn({ err, dir: b.path }, 'backup retention: could not remove an old backup');
    }
  }
  return removed.sort();
}
