/**
 * The full-text indexer's thread (see fts.ts). It owns `fts.db`, the FTS5 trigram index, as its
 * only writer: rows arrive by message and are inserted in batches (one transaction for
 * everything that arrived meanwhile). Two answers per row:
 * - `done` right after the commit (the rows are visible to searches; a `sync` posted after
 *   them is answered with it), and
 * - `durable` once the commit is on disk. Commits run with synchronous=NORMAL and the WAL is
 *   flushed (fdatasync) at most every DURABLE_EVERY_MS for all of them together: a few flushes a
 *   second instead of one per batch, so the indexer does not compete with deliveries for the disk.
 *   Only `durable` rows leave fts_todo.
 * Operations are applied in the order they were posted.
 */
import Database from 'better-sqlite3';
import { closeSync, fdatasyncSync, openSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import type { FtsReply, FtsRequest } from './fts.js';

if (!parentPort) throw new Error('fts-worker must run as a worker thread');
const port = parentPort;
const { path: dbPath, storePath } = workerData as { path: string; storePath: string };

const db = new Database(dbPath);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('busy_timeout = 10000');
const put = db.prepare('INSERT OR REPLACE INTO msg_fts (rowid, subject, "from", "to", cc, bcc, body) VALUES (?, ?, ?, ?, ?, ?, ?)');
const del = db.prepare('DELETE FROM msg_fts WHERE rowid = ?');

/** A second connection to buudien.db, only for PASSIVE checkpoints (they never block its writer). */
let store: Database.Database | null = null;

function checkpoint(): void {
  try {
    if (!store) {
      store = new Database(storePath);
      store.pragma('synchronous = NORMAL'); // a checkpoint syncs the WAL before and the database after
    }
    store.pragma('wal_checkpoint(PASSIVE)');
  } catch (e) {
    port.postMessage({ op: 'warn', message: `checkpoint: ${e instanceof Error ? e.message : String(e)}` } satisfies FtsReply);
  }
}

const DURABLE_EVERY_MS = 100;
/** Committed, not yet flushed. */
let unflushed: number[] = [];
let flushTimer: NodeJS.Timeout | null = null;
let walFd: number | null = null;

/** fdatasync fts.db-wal, then tell which rows are on disk. */
function flush(): void {
  flushTimer = null;
  if (unflushed.length === 0) return;
  const ns = unflushed;
  unflushed = [];
  try {
    walFd ??= openSync(`${dbPath}-wal`, 'r');
    fdatasyncSync(walFd);
    port.postMessage({ op: 'durable', ns } satisfies FtsReply);
  } catch (e) {
    // Not acknowledged: the rows stay in fts_todo and are indexed again at the next start.
    port.postMessage({ op: 'warn', message: `flush: ${e instanceof Error ? e.message : String(e)}` } satisfies FtsReply);
  }
}

let queue: FtsRequest[] = [];
let scheduled = false;

function apply(ops: FtsRequest[]): { indexed: number[]; synced: number[] } {
  const indexed: number[] = [];
  const synced: number[] = [];
  db.transaction(() => {
    for (const op of ops) {
      if (op.op === 'add') {
        for (const r of op.rows) {
          put.run(r.n, r.subject, r.from, r.to, r.cc, r.bcc, r.body);
          indexed.push(r.n);
        }
      } else if (op.op === 'delete') {
        for (const n of op.ns) del.run(n);
      } else if (op.op === 'sync') {
        synced.push(op.id);
      }
    }
  }).immediate();
  return { indexed, synced };
}

function drain(): void {
  scheduled = false;
  const ops = queue;
  queue = [];
  if (ops.length === 0) return;
  let reply: FtsReply;
  try {
    const { indexed, synced } = apply(ops);
    reply = { op: 'done', indexed, synced };
    if (indexed.length > 0) {
      unflushed.push(...indexed);
      flushTimer ??= setTimeout(flush, DURABLE_EVERY_MS);
    }
  } catch (e) {
    // Nothing of this batch was committed: the rows stay in fts_todo and are indexed again on the
    // next start (or by the recovery the main thread runs after this error).
    const synced = ops.flatMap((o) => (o.op === 'sync' ? [o.id] : []));
    reply = { op: 'failed', message: e instanceof Error ? e.message : String(e), synced };
  }
  port.postMessage(reply);
}

port.on('message', (op: FtsRequest) => {
  if (op.op === 'checkpoint') {
    checkpoint();
    return;
  }
  if (op.op === 'close') {
    drain();
    if (flushTimer) clearTimeout(flushTimer);
    flush();
    if (walFd !== null) closeSync(walFd);
    db.close();
    store?.close();
    port.postMessage({ op: 'closed' } satisfies FtsReply);
    port.close();
    return;
  }
  queue.push(op);
  // Gather what arrives in the same turn into one transaction (one fsync).
  if (!scheduled) {
    scheduled = true;
    setImmediate(drain);
  }
});
