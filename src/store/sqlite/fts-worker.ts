/**
 * The full-text indexer's thread (see fts.ts). It owns `fts.db`, the FTS5 trigram index, as its
 * only writer, and builds every row itself from the stored message:
 * - `index`: read the blob numbers waiting in buudien.db's `fts_todo` (on a connection of its
 *   own), read each message's bytes (inline, or its blob file), parse and fold them
 *   (mail/search-text.ts) and insert the rows, BATCH_ROWS / BATCH_BYTES per transaction, until
 *   it reaches the highest number that was waiting when the request began. The event loop never
 *   parses, folds or copies text for the index.
 * - Each batch is answered `durable` once its commit is on disk. Commits run with
 *   synchronous=NORMAL and the WAL is flushed (fdatasync) at most every DURABLE_EVERY_MS for all
 *   of them together. Only `durable` rows leave fts_todo (the store removes them).
 * - `sync` is answered once everything asked before it is committed (a search then sees every
 *   message delivered before it).
 * `index`, `sync` and `close` are carried out in the order they were posted, one batch per turn
 * of this thread's event loop (a `close` ends the indexing: what is left waits in fts_todo).
 * `delete` (rows of collected blobs) and `checkpoint` are applied as they arrive.
 */
import type Database from 'better-sqlite3';
import { openDatabase } from './connection.js';
import { closeSync, fdatasyncSync, fstatSync, openSync, readSync } from 'node:fs';
import os from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { ParseLimits } from '../../mail/parse.js';
import { searchTextOfRaw, type SearchText } from '../../mail/search-text.js';
import { blobFilePath } from './blobs.js';
import type { FtsReply, FtsRequest } from './fts.js';

if (!parentPort) throw new Error('fts-worker must run as a worker thread');
const port = parentPort;

const { path: dbPath, storePath, blobRoot, parseLimits } = workerData as { path: string; storePath: string; blobRoot: string; parseLimits: ParseLimits };

// Background work: a lower priority for this thread alone (fts.ts, INDEXER_NICE). Lowering needs
// no rights; where the system refuses, indexing runs at the normal priority.
try {
  os.setPriority((workerData as { nice: number }).nice);
} catch {
  // Left at the normal priority.
}

/** Rows per indexing transaction, and the message bytes read for one, at most. */
const BATCH_ROWS = 200;
const BATCH_BYTES = 4 * 1024 * 1024;

const db = openDatabase(dbPath);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('busy_timeout = 10000');
const put = db.prepare('INSERT OR REPLACE INTO msg_fts (rowid, subject, "from", "to", cc, bcc, body) VALUES (?, ?, ?, ?, ?, ?, ?)');
const del = db.prepare('DELETE FROM msg_fts WHERE rowid = ?');

/** A second connection, to buudien.db: it reads fts_todo and the messages, and runs PASSIVE checkpoints (which never block its writer). */
let store: Database.Database | null = null;

function storeDb(): Database.Database {
  if (!store) {
    store = openDatabase(storePath);
    store.pragma('synchronous = NORMAL'); // a checkpoint syncs the WAL before and the database after
    store.pragma('busy_timeout = 10000');
  }
  return store;
}

function warn(what: string, e: unknown): void {
  port.postMessage({ op: 'warn', message: `${what}: ${e instanceof Error ? e.message : String(e)}` } satisfies FtsReply);
}

function checkpoint(): void {
  try {
    storeDb().pragma('wal_checkpoint(PASSIVE)');
  } catch (e) {
    warn('checkpoint', e);
  }
}

const DURABLE_EVERY_MS = 100;
/** Committed (or found gone), not yet flushed: blob number and the blob id it was indexed for ('' for a blob found gone). */
let unflushed: Array<[number, string]> = [];
let flushTimer: NodeJS.Timeout | null = null;
let walFd: number | null = null;

/** fdatasync fts.db-wal, then tell which rows are on disk. */
function flush(): void {
  flushTimer = null;
  if (unflushed.length === 0) return;
  const rows = unflushed;
  unflushed = [];
  try {
    walFd ??= openSync(`${dbPath}-wal`, 'r');
    fdatasyncSync(walFd);
    port.postMessage({ op: 'durable', rows } satisfies FtsReply);
  } catch (e) {
    // Not acknowledged: the rows stay in fts_todo, and the next pass indexes them again.
    for (const [n] of rows) indexed.delete(n);
    warn('flush', e);
  }
}

function acknowledge(rows: Array<[number, string]>): void {
  if (rows.length === 0) return;
  unflushed.push(...rows);
  flushTimer ??= setTimeout(flush, DURABLE_EVERY_MS);
}

/**
 * Rows this thread indexed or could not read (blob number → blob id) that may still be listed in
 * fts_todo: the store removes indexed ones only once they are acknowledged. A later pass skips
 * them unless the number now names another blob (numbers of collected blobs are given out again,
 * by this process or by another one). Bounded: the oldest are forgotten first (indexing a row
 * twice only costs the time).
 */
const indexed = new Map<number, string>();
const INDEXED_MAX = 50_000;

function remember(n: number, id: string): void {
  indexed.delete(n);
  indexed.set(n, id);
  if (indexed.size > INDEXED_MAX) {
    for (const k of indexed.keys()) {
      indexed.delete(k);
      if (indexed.size <= INDEXED_MAX * 0.9) break;
    }
  }
}

interface Pass {
  /** The highest number listed when the pass began: it ends there (new mail waits for the next). */
  last: number;
  /** The pass has read fts_todo up to here. */
  after: number;
}

interface TodoRow {
  n: number;
  id: string | null;
  inline: number;
}

const EMPTY: SearchText = { subject: '', from: '', to: '', cc: '', bcc: '', body: '' };

/**
 * One buffer, grown as needed, for every message read from a file: each is parsed and folded
 * before the next is read, and a new buffer of a few MB per message would leave this thread's
 * allocator holding far more memory than it uses.
 */
let readBuffer = Buffer.alloc(0);
const READ_KEEP_BYTES = 8 * 1024 * 1024;

function readFile(file: string): Buffer {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    // Past READ_KEEP_BYTES a message gets a buffer of its own, not kept.
    if (readBuffer.length < size && size <= READ_KEEP_BYTES) readBuffer = Buffer.alloc(Math.min(READ_KEEP_BYTES, Math.max(size, readBuffer.length * 2, 64 * 1024)));
    const buf = size <= readBuffer.length ? readBuffer : Buffer.alloc(size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, buf, off, size - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}

/** The message's bytes; null when its blob is gone (collected meanwhile) or cannot be read (warned; left in fts_todo). */
function readMessage(st: Database.Database, r: TodoRow & { id: string }): Buffer | null {
  try {
    if (r.inline) {
      const row = st.prepare('SELECT data FROM blobs WHERE n = ? AND id = ?').get(r.n, r.id) as { data: Buffer | null } | undefined;
      return row?.data ?? null;
    }
    return readFile(blobFilePath(blobRoot, r.id));
  } catch (e) {
    // A file the collector removed inside its transaction: the row we listed is going too.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !st.prepare('SELECT 1 FROM blobs WHERE n = ? AND id = ?').get(r.n, r.id)) return null;
    // Anything else (a missing file whose row is still there, EACCES, EMFILE): this message
    // alone waits in fts_todo; the next pass tries it again.
    warn(`reading message ${r.id} for the index`, e);
    return null;
  }
}

/** One transaction of the pass's next rows; true when the pass has rows left. */
function indexBatch(pass: Pass): boolean {
  const started = performance.now();
  const st = storeDb();
  const rows = st
    .prepare('SELECT t.n, b.id, b.data IS NOT NULL AS inline FROM fts_todo t LEFT JOIN blobs b ON b.n = t.n WHERE t.n > ? AND t.n <= ? ORDER BY t.n LIMIT ?')
    .all(pass.after, pass.last, BATCH_ROWS) as TodoRow[];
  const docs: Array<{ n: number; id: string; text: SearchText }> = [];
  const gone: Array<[number, string]> = [];
  let bytes = 0;
  let after = pass.after;
  for (const r of rows) {
    if (bytes >= BATCH_BYTES) break;
    after = r.n;
    if (r.id === null) {
      gone.push([r.n, '']); // collected before it was indexed: only its fts_todo row is left
      continue;
    }
    if (indexed.get(r.n) === r.id) continue; // indexed by an earlier pass, acknowledgement on its way
    const raw = readMessage(st, { ...r, id: r.id });
    if (raw === null) continue;
    bytes += raw.length;
    let text: SearchText;
    try {
      text = searchTextOfRaw(raw, parseLimits);
    } catch (e) {
      // The parser accepts anything; should it still fail, the message is listed with no text
      // rather than retried for ever.
      warn(`reading message ${r.id} for the index`, e);
      text = EMPTY;
    }
    docs.push({ n: r.n, id: r.id, text });
  }
  if (docs.length > 0) {
    db.transaction(() => {
      for (const { n, text: t } of docs) put.run(n, t.subject, t.from, t.to, t.cc, t.bcc, t.body);
    }).immediate();
  }
  for (const d of docs) remember(d.n, d.id);
  pass.after = after;
  acknowledge([...gone, ...docs.map((d): [number, string] => [d.n, d.id])]);
  if (bytes > 0) port.postMessage({ op: 'pace', bytes, ms: performance.now() - started } satisfies FtsReply);
  return rows.length > 0 && (after < (rows[rows.length - 1]?.n ?? after) || rows.length === BATCH_ROWS);
}

/**
 * Rows of collected blobs. Applied when it arrives, even during a pass; a number already given to
 * a new blob keeps its row (the new message's, or one the pass will overwrite), so a delete that
 * arrives late cannot take a new message's row away.
 */
function remove(ns: number[]): void {
  const st = storeDb();
  const exists = st.prepare('SELECT 1 FROM blobs WHERE n = ?');
  db.transaction(() => {
    for (const n of ns) {
      if (exists.get(n)) continue;
      del.run(n);
      indexed.delete(n);
    }
  }).immediate();
}

/** Requests not yet carried out, oldest first; an `index` request gets its pass when it begins. */
const queue: Array<FtsRequest & { pass?: Pass }> = [];
let pumping = false;
let closing = false;

function step(): void {
  const op = queue[0];
  if (!op) return;
  if (op.op === 'index') {
    try {
      if (closing) {
        queue.shift();
        return;
      }
      op.pass ??= { last: (storeDb().prepare('SELECT max(n) AS n FROM fts_todo').get() as { n: number | null }).n ?? 0, after: 0 };
      if (!indexBatch(op.pass)) queue.shift();
    } catch (e) {
      // Nothing of this batch was committed: its rows stay in fts_todo for the next request.
      queue.shift();
      port.postMessage({ op: 'failed', message: e instanceof Error ? e.message : String(e) } satisfies FtsReply);
    }
    return;
  }
  queue.shift();
  if (op.op === 'sync') {
    port.postMessage({ op: 'synced', id: op.id } satisfies FtsReply);
  } else if (op.op === 'close') {
    if (flushTimer) clearTimeout(flushTimer);
    flush();
    if (walFd !== null) closeSync(walFd);
    db.close();
    store?.close();
    port.postMessage({ op: 'closed' } satisfies FtsReply);
    port.close();
  }
}

function pump(): void {
  step();
  if (queue.length > 0) setImmediate(pump);
  else pumping = false;
}

port.on('message', (op: FtsRequest) => {
  if (op.op === 'checkpoint') {
    checkpoint();
    return;
  }
  if (op.op === 'delete') {
    try {
      remove(op.ns);
    } catch (e) {
      port.postMessage({ op: 'failed', message: e instanceof Error ? e.message : String(e) } satisfies FtsReply);
    }
    return;
  }
  // An index request still waiting to begin covers this one too (its pass reads fts_todo when it begins).
  if (op.op === 'index' && queue.some((q) => q.op === 'index' && !q.pass)) return;
  if (op.op === 'close') closing = true;
  queue.push(op);
  if (!pumping) {
    pumping = true;
    setImmediate(pump);
  }
});
