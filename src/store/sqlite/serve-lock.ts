/**
 * One `serve` per storage directory. Two would each think they own what only one process may:
 * POP3's maildrop locks (RFC 1939 §8, held in memory), the queue's claims, the scheduled jobs
 * (a backup or the account lifecycle run twice). The lock is SQLite's own exclusive lock on a
 * small file beside the database (fcntl locks, which the kernel drops when the process dies, so
 * a `kill -9` leaves nothing to clean up). The CLI opens the store without it: it may run next to
 * `serve`.
 *
 *   const release = acquireServeLock(dir);   // throws IN_USE when another serve holds it
 *   … serve …
 *   release();
 */
import path from 'node:path';
import { MailError, bi } from '../../lib/errors.js';
import type Database from 'better-sqlite3';
import { openDatabase } from './connection.js';

export const SERVE_LOCK_FILE = 'serve.lock';

/**
 * An exclusive lock on the SQLite file `file`: the connection holding it (close it, or ROLLBACK
 * and close, to let go), or null when another connection, in this process or another, holds a
 * lock on it. Never waits. Errors other than "busy" are thrown.
 */
export function exclusiveLock(file: string, options: Database.Options = {}): Database.Database | null {
  const db = openDatabase(file, { ...options, timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    return db;
  } catch (e) {
    db.close();
    const code = (e as { code?: string }).code ?? '';
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return null;
    throw e;
  }
}

export function acquireServeLock(dir: string): () => void {
  const db = exclusiveLock(path.join(dir, SERVE_LOCK_FILE));
  if (db === null) {
    throw new MailError(
      'IN_USE',
      bi(
        `Một tiến trình "buudien serve" khác đang chạy trên thư mục lưu trữ ${dir}; chỉ một máy chủ được dùng một thư mục (các lệnh quản trị vẫn chạy được bên cạnh)`,
        `Another "buudien serve" is running on the storage directory ${dir}; only one server may use a directory (administration commands still run beside it)`,
      ),
    );
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    try {
      db.exec('ROLLBACK');
    } finally {
      db.close();
    }
  };
}
