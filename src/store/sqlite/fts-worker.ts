/**
 * The full-text indexer's thread (see fts.ts). It owns `fts.db`, the FTS5 trigram index, as its
 * only writer: rows arrive by message, are inserted in batches (one transaction for everything
 * that arrived meanwhile) and acknowledged only after the commit is on disk
 * (synchronous=FULL: the WAL is fsynced at each commit, on this thread, never the event loop's).
 * Operations are applied in the order they were posted, so a `sync` answers only after every
 * row posted before it is committed.
 */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import type { FtsReply, FtsRequest } from './fts.js';

if (!parentPort) throw new Error('fts-worker must run as a worker thread');
const port = parentPort;
const { path: dbPath, storePath } = workerData as { path: string; storePath: string };

const db = new Database(dbPath);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
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
