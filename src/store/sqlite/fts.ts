/**
 * The full-text index, kept off the event loop and off the delivery's commit.
 *
 * - The index is its own SQLite file, `fts.db` beside `buudien.db` (FTS5, trigram tokenizer, so a
 *   term matches any substring, as IMAP SEARCH asks). One worker thread (fts-worker.ts) is its
 *   only writer, and it builds each row from the stored message itself: reading, parsing,
 *   folding and trigram indexing cost more CPU than the rest of a delivery, and none of it
 *   happens on the event loop.
 * - A delivery's commit writes only the blob's number into `fts_todo` (buudien.db). The store
 *   asks the worker to `index()` what waits there: when deliveries pause, when the backlog
 *   grows past a bound, or before a search (store/sqlite/index.ts, Core.maybeIndex). So a burst
 *   of mail is taken in at full speed and indexed right after, as Dovecot indexes lazily. When
 *   the worker's commit is on disk it acknowledges, and the store removes those numbers from
 *   `fts_todo`; what a crash or a worker failure leaves there is simply indexed by a later request.
 * - The worker also checkpoints buudien.db's WAL (PASSIVE, on its own connection) when the store
 *   asks, so the copy of committed pages into the database file leaves the event loop too.
 * - Searches run on a read-only connection to fts.db with buudien.db attached read-only as
 *   `store`, so one query joins the index with messages and blobs; a read-only connection
 *   takes no write lock on either file, so neither the worker nor deliveries wait for it.
 *   `sync()` first has the worker index everything waiting and waits for it: a search sees
 *   every message delivered before it.
 */
import type Database from 'better-sqlite3';
import { openDatabase } from './connection.js';
import { existsSync, renameSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../../lib/log.js';
import type { ParseLimits } from '../../mail/parse.js';

export type FtsRequest = { op: 'index' } | { op: 'delete'; ns: number[] } | { op: 'sync'; id: number } | { op: 'checkpoint' } | { op: 'close' };

export type FtsReply =
  | { op: 'synced'; id: number }
  /** Rows on disk in fts.db: blob number and the blob id indexed ('' for a blob found gone). */
  | { op: 'durable'; rows: Array<[number, string]> }
  /** A batch of `bytes` of stored messages took `ms` to read, parse and index. */
  | { op: 'pace'; bytes: number; ms: number }
  | { op: 'failed'; message: string }
  | { op: 'warn'; message: string }
  | { op: 'closed' };

const SCHEMA = `CREATE VIRTUAL TABLE IF NOT EXISTS msg_fts USING fts5(subject, "from", "to", cc, bcc, body, tokenize = 'trigram');`;

/**
 * The worker's young generation, in MB. V8's default (up to 16 MB per semi-space) let the worker
 * hold some 40 MB more while it indexed 2 MB messages in the middle of a burst (bench/smtp.ts,
 * 2 MB at 50 connections); its garbage is short-lived, so a small nursery costs it little.
 */
const WORKER_YOUNG_GENERATION_MB = 8;

/**
 * The worker's priority (nice; on Linux a thread's own): indexing is background work, so when the
 * CPU is busy, accepting and storing mail (the event loop, the fsyncs) goes first and the index
 * catches up in quieter moments. A search still has everything waiting indexed before it answers.
 */
export const INDEXER_NICE = 10;

function spawn(dbPath: string, storePath: string, blobRoot: string, parseLimits: ParseLimits): Worker {
  const options = { workerData: { path: dbPath, storePath, blobRoot, parseLimits, nice: INDEXER_NICE }, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } };
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./fts-worker.js', import.meta.url), options);
  // Under tsx/vitest this module is TypeScript: the worker registers tsx's loader, then loads fts-worker.ts.
  const target = JSON.stringify(new URL('./fts-worker.ts', import.meta.url).href);
  const code = `import('tsx/esm/api').then(({ register }) => { register(); return import(${target}); });`;
  return new Worker(code, { ...options, eval: true });
}

export class FtsIndex {
  readonly path: string;
  /** fts.db did not exist: the store lists every message for indexing (a restore, a lost file). */
  readonly created: boolean;
  private worker: Worker | null = null;
  private reader: Database.Database | null = null;
  private nextSync = 1;
  private readonly syncWaiters = new Map<number, () => void>();
  private closeWaiter: (() => void) | null = null;
  private closing = false;
  private closed = false;
  /**
   * How fast the worker indexes, in bytes of stored messages per ms (a moving average of its
   * batches). Text-heavy mail indexes at about 10 MB/s here, mail that is mostly attachments much
   * faster; it starts at the slow end.
   */
  bytesPerMs = 10_000;

  constructor(
    dir: string,
    private readonly storePath: string,
    /** dir/blobs, where the worker reads the messages stored as files. */
    private readonly blobRoot: string,
    private readonly log: Logger,
    /** Called with the rows committed in fts.db and on disk (blob number, blob id or '' for one found gone). */
    private readonly onIndexed: (rows: Array<[number, string]>) => void,
    /** Called when the worker failed: rows it had not committed must be indexed again. */
    private readonly onFailed: () => void,
    /** The parser limits delivery uses (config limits), for the worker's parse of each message. */
    private readonly parseLimits: ParseLimits = {},
  ) {
    this.path = path.join(dir, 'fts.db');
    let created = !existsSync(this.path);
    try {
      FtsIndex.prepare(this.path);
    } catch (err) {
      // A damaged index must not keep the mail store from opening: it is only derived data.
      // Set it aside (for inspection) and start a new one, which the store then fills again.
      const aside = `${this.path}.damaged-${Date.now()}`;
      log.error({ err, aside }, 'full-text index unreadable: set aside, rebuilding it from the messages');
      for (const suffix of ['', '-wal', '-shm']) {
        if (existsSync(this.path + suffix)) renameSync(this.path + suffix, aside + suffix);
      }
      FtsIndex.prepare(this.path);
      created = true;
    }
    this.created = created;
  }

  /** Create fts.db (WAL, the FTS5 table) if needed, synchronously, so the read connection can open it before the worker starts. */
  private static prepare(file: string): void {
    const db = openDatabase(file);
    try {
      db.pragma('journal_mode = WAL');
      db.exec(SCHEMA);
      db.prepare('SELECT count(*) FROM msg_fts WHERE rowid = 0').get();
    } finally {
      db.close();
    }
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = spawn(this.path, this.storePath, this.blobRoot, this.parseLimits);
    w.unref();
    w.on('message', (r: FtsReply) => this.onReply(r));
    const lost = (why: unknown): void => {
      if (this.worker !== w) return;
      this.worker = null;
      if (this.closing) return;
      this.log.error({ err: why }, 'full-text indexer stopped; its unfinished rows will be indexed again');
      this.wakeAll();
      this.onFailed();
    };
    w.on('error', lost);
    w.on('exit', (code) => {
      if (this.closeWaiter) {
        this.closeWaiter();
        this.closeWaiter = null;
      }
      lost(new Error(`exit ${code}`));
    });
    this.worker = w;
    return w;
  }

  private onReply(r: FtsReply): void {
    if (r.op === 'closed') return;
    if (r.op === 'warn') {
      this.log.warn({ err: r.message }, 'store maintenance in the index worker failed');
    } else if (r.op === 'failed') {
      this.log.error({ err: r.message }, 'full-text indexing failed; the rows will be indexed again');
      this.onFailed();
    } else if (r.op === 'durable') {
      this.onIndexed(r.rows);
    } else if (r.op === 'pace') {
      // Moving average of the indexing speed (bytes of stored messages per ms).
      const speed = r.bytes / Math.max(r.ms, 0.01);
      this.bytesPerMs = this.bytesPerMs * 0.8 + speed * 0.2;
    } else {
      this.syncWaiters.get(r.id)?.();
      this.syncWaiters.delete(r.id);
      if (this.syncWaiters.size === 0 && !this.closing) this.worker?.unref();
    }
  }

  private wakeAll(): void {
    for (const wake of this.syncWaiters.values()) wake();
    this.syncWaiters.clear();
  }

  private post(op: FtsRequest): void {
    if (this.closing) return;
    this.start().postMessage(op);
  }

  /** True while the worker thread is up. */
  get running(): boolean {
    return this.worker !== null && !this.closing;
  }

  /** Have the worker index every message waiting in fts_todo now (starting it if needed). */
  index(): void {
    this.post({ op: 'index' });
  }

  /** A PASSIVE checkpoint of buudien.db on the worker's own connection (off the event loop). */
  checkpoint(): void {
    this.post({ op: 'checkpoint' });
  }

  remove(ns: number[]): void {
    if (ns.length > 0) this.post({ op: 'delete', ns });
  }

  /** Resolves once every message waiting in fts_todo now is indexed (or the worker failed: then searches may miss those messages). */
  sync(): Promise<void> {
    if (this.closing || this.closed) return Promise.resolve();
    const w = this.start();
    const id = this.nextSync++;
    return new Promise<void>((resolve) => {
      this.syncWaiters.set(id, resolve);
      w.ref(); // a pending search keeps the process alive
      w.postMessage({ op: 'index' } satisfies FtsRequest);
      w.postMessage({ op: 'sync', id } satisfies FtsRequest);
    });
  }

  /** The read-only search connection (fts.db, with buudien.db attached as `store`). */
  search(): Database.Database {
    if (!this.reader) {
      const db = openDatabase(this.path, { readonly: true });
      db.prepare('ATTACH DATABASE ? AS store').run(this.storePath);
      this.reader = db;
    }
    return this.reader;
  }

  /** Commit what is queued, stop the worker, close the read connection. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const w = this.worker;
    if (w) {
      await new Promise<void>((resolve) => {
        this.closeWaiter = resolve;
        w.ref();
        w.postMessage({ op: 'close' } satisfies FtsRequest);
      });
    }
    this.closed = true;
    this.worker = null;
    this.wakeAll();
    this.reader?.close();
    this.reader = null;
  }
}
