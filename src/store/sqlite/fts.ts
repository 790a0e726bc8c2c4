/**
 * The full-text index, kept off the event loop and off the delivery's commit.
 *
 * - The index is its own SQLite file, `fts.db` beside `buudien.db` (FTS5, trigram tokenizer, so a
 *   term matches any substring, as IMAP SEARCH asks). One worker thread (fts-worker.ts) is its
 *   only writer: trigram indexing costs as much CPU as the rest of a delivery, and on its own
 *   thread it uses the second core instead of the event loop.
 * - A delivery's commit writes only the blob's number into `fts_todo` (buudien.db). After the
 *   commit the row's folded text goes to the worker; when the worker's commit is on disk it
 *   acknowledges, and the store removes those numbers from `fts_todo`. What a crash or a worker
 *   failure leaves in `fts_todo` is indexed again from the blob (the store's `reindex` option).
 * - The worker also checkpoints buudien.db's WAL (PASSIVE, on its own connection) when the store
 *   asks, so the copy of committed pages into the database file leaves the event loop too.
 * - Searches run on a read-only connection to fts.db with buudien.db attached read-only as
 *   `store`, so one query joins the index with messages and blobs; a read-only connection
 *   takes no write lock on either file, so neither the worker nor deliveries wait for it.
 *   `sync()` first waits until everything posted so far is committed: a search sees every
 *   message delivered before it.
 */
import Database from 'better-sqlite3';
import { existsSync, renameSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../../lib/log.js';
import type { SearchText } from '../port.js';

/** One row of the index: the blob's number and its folded search fields. */
export interface FtsDoc extends SearchText {
  n: number;
}

export type FtsRequest = { op: 'add'; rows: FtsDoc[] } | { op: 'delete'; ns: number[] } | { op: 'sync'; id: number } | { op: 'checkpoint' } | { op: 'close' };

export type FtsReply =
  | { op: 'done'; indexed: number[]; synced: number[] }
  | { op: 'durable'; ns: number[] }
  | { op: 'failed'; message: string; synced: number[] }
  | { op: 'warn'; message: string }
  | { op: 'closed' };

/** Default bound on rows handed to the worker and not yet committed: past it rows wait in fts_todo (memory stays bounded under a long burst). */
export const FTS_IN_FLIGHT_MAX = 20_000;
/** The same bound in characters of text (big bodies: 1 MB of text each). */
const FTS_IN_FLIGHT_CHARS_MAX = 16 * 1024 * 1024;

function docChars(d: FtsDoc): number {
  return d.subject.length + d.from.length + d.to.length + d.cc.length + d.bcc.length + d.body.length;
}

const SCHEMA = `CREATE VIRTUAL TABLE IF NOT EXISTS msg_fts USING fts5(subject, "from", "to", cc, bcc, body, tokenize = 'trigram');`;

function spawn(dbPath: string, storePath: string): Worker {
  const options = { workerData: { path: dbPath, storePath } };
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
  /** Blob numbers handed to the worker and not yet acknowledged, with their text's length. */
  readonly inFlight = new Map<number, number>();
  private inFlightChars = 0;
  private closing = false;
  private closed = false;

  constructor(
    dir: string,
    private readonly storePath: string,
    private readonly log: Logger,
    /** Called with blob numbers whose rows are committed in fts.db and on disk. */
    private readonly onIndexed: (ns: number[]) => void,
    /** Called when the worker failed: rows it had not committed must be indexed again. */
    private readonly onFailed: () => void,
    readonly inFlightMax = FTS_IN_FLIGHT_MAX,
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
    const db = new Database(file);
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
    const w = spawn(this.path, this.storePath);
    w.unref();
    w.on('message', (r: FtsReply) => this.onReply(r));
    const lost = (why: unknown): void => {
      if (this.worker !== w) return;
      this.worker = null;
      if (this.closing) return;
      this.log.error({ err: why }, 'full-text indexer stopped; its unfinished rows will be indexed again');
      this.forgetInFlight();
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
      return;
    }
    if (r.op === 'failed') {
      this.log.error({ err: r.message }, 'full-text indexing failed; the rows will be indexed again');
      this.forgetInFlight();
      this.onFailed();
    } else if (r.op === 'durable') {
      this.onIndexed(r.ns);
      return;
    } else {
      for (const n of r.indexed) {
        this.inFlightChars -= this.inFlight.get(n) ?? 0;
        this.inFlight.delete(n);
      }
    }
    for (const id of r.synced) {
      this.syncWaiters.get(id)?.();
      this.syncWaiters.delete(id);
    }
    if (this.syncWaiters.size === 0 && !this.closing) this.worker?.unref();
  }

  private forgetInFlight(): void {
    this.inFlight.clear();
    this.inFlightChars = 0;
  }

  private wakeAll(): void {
    for (const wake of this.syncWaiters.values()) wake();
    this.syncWaiters.clear();
  }

  private post(op: FtsRequest): void {
    if (this.closing) return;
    this.start().postMessage(op);
  }

  /** Hand rows to the worker; false (nothing posted) while inFlightMax rows are already waiting. */
  /** True while the worker thread is up (checkpoints can go to it). */
  get running(): boolean {
    return this.worker !== null && !this.closing;
  }

  /** A PASSIVE checkpoint of buudien.db on the worker's own connection (off the event loop). */
  checkpoint(): void {
    if (this.running) this.post({ op: 'checkpoint' });
  }

  add(rows: FtsDoc[]): boolean {
    if (rows.length === 0) return true;
    let chars = 0;
    for (const r of rows) chars += docChars(r);
    const full = this.inFlight.size + rows.length > this.inFlightMax || this.inFlightChars + chars > FTS_IN_FLIGHT_CHARS_MAX;
    if (this.inFlight.size > 0 && full) return false; // (one batch always passes)
    for (const r of rows) {
      this.inFlightChars -= this.inFlight.get(r.n) ?? 0; // the same blob posted again replaces its row
      this.inFlight.set(r.n, docChars(r));
    }
    this.inFlightChars += chars;
    this.post({ op: 'add', rows });
    return true;
  }

  remove(ns: number[]): void {
    if (ns.length > 0) this.post({ op: 'delete', ns });
  }

  /** Resolves once every row posted before the call is committed (or the worker failed: then searches may miss those rows). */
  sync(): Promise<void> {
    if (this.closed || !this.worker) return Promise.resolve();
    const id = this.nextSync++;
    const w = this.worker;
    return new Promise<void>((resolve) => {
      this.syncWaiters.set(id, resolve);
      w.ref(); // a pending search keeps the process alive
      w.postMessage({ op: 'sync', id } satisfies FtsRequest);
    });
  }

  /** The read-only search connection (fts.db, with buudien.db attached as `store`). */
  search(): Database.Database {
    if (!this.reader) {
      const db = new Database(this.path, { readonly: true });
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
