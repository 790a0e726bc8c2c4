/**
 * The embedded mailstore: better-sqlite3 (WAL, synchronous=NORMAL + an explicit async WAL fsync
 * before any write is acknowledged) + content-addressed blob files.
 *
 * Concurrency model (better-sqlite3 is synchronous, one connection per process):
 * - Every Store method runs its SQL synchronously inside one transaction (IMMEDIATE for writes,
 *   DEFERRED for reads: a snapshot without the write lock), so no two methods interleave inside
 *   SQLite. Events are emitted after the commit.
 * - `storeMessage` first writes large blobs durably (async: temp file, fsync, rename, dir fsync),
 *   then joins a GROUP COMMIT: the deliveries queued in the same tick (or within
 *   groupCommitWindowMs) are committed in ONE transaction; while a WAL fsync runs, they keep
 *   gathering until it is done. Each delivery runs in its own SAVEPOINT inside it, so an
 *   over-quota delivery fails alone. `storeMessages` puts several messages (a MULTIAPPEND set)
 *   and/or a queue item (an SMTP message's remote recipients) in ONE such savepoint: they are
 *   committed together or not at all.
 * - Durability without blocking the event loop: SQLite runs with synchronous=NORMAL, so a WAL
 *   commit writes its frames but does not fsync them (SQLite still syncs the WAL before each
 *   checkpoint and the database after it). Every method that wrote resolves only after
 *   `Core.durable()`, an fsync of the -wal file on libuv's thread pool; commits made while one
 *   fsync runs share the next one. So 250/OK still means "on disk", and while the disk flushes,
 *   the event loop keeps reading the next messages — which then share the next commit.
 * - Full-text rows: a delivery's commit records the blob's number in fts_todo; a worker thread
 *   that owns fts.db (fts.ts, fts-worker.ts) builds the rows from the stored messages when
 *   deliveries pause, when the backlog passes a bound, or before a search (Core.maybeIndex), and a
 *   number leaves fts_todo only once its row is on disk there. searchText has the worker index
 *   everything waiting first, so a search always sees every committed message.
 * - `batch(fn)` opens BEGIN IMMEDIATE and holds it while fn's promise runs. The `tx` store given
 *   to fn runs its methods directly inside that transaction (each in a savepoint). Calls on the
 *   outer store (and group commits) made meanwhile wait until the batch commits or rolls back.
 *   Calls on the outer store made from inside fn's async context (AsyncLocalStorage) join the
 *   batch too, so a service that kept the outer store cannot deadlock against its own batch.
 */
import type Database from 'better-sqlite3';
import { openDatabase } from './connection.js';
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync } from 'node:fs';
import { open as openFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Clock } from '../../lib/clock.js';
import { bi, MailError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import type { ParseLimits } from '../../mail/parse.js';
import type { Envelope, MimePart } from '../../mail/types.js';
import type {
  Account,
  AccountPatch,
  BackupOptions,
  BackupResult,
  AccountState,
  AppPassword,
  AuditEntry,
  AuditRecord,
  CopyResult,
  Domain,
  FlagChange,
  FlagOp,
  Mailbox,
  MailboxChanges,
  MailboxStatus,
  DetailOptions,
  MessageDetail,
  MessageIndex,
  MessageMeta,
  NewAccount,
  NewQueueItem,
  NewUnit,
  UnitPatch,
  PendingNotice,
  QuarantineItem,
  QueueItem,
  RecipientDsn,
  RecentRange,
  RenderedImap,
  OperationsSummary,
  SendLogEntry,
  SendLogQuery,
  SendLogRecord,
  SignInEntry,
  SignInRecord,
  SpecialUse,
  Store,
  StoredCopy,
  StoreEvent,
  StoreMessageInput,
  StoreMessagesInput,
  StoredMessages,
  Unit,
} from '../port.js';
import { takeBackup, leaseState, LEASE_PREFIX } from './backup.js';
import { BlobFiles, ORPHAN_GRACE_MS, sha256Async } from './blobs.js';
import { MIGRATIONS } from './migrations.js';
import { FtsIndex } from './fts.js';
import { formatFlags, normalizeFlag, parseFlags } from './text.js';

export interface SqliteStoreOptions {
  dir: string;
  log: Logger;
  clock: Clock;
  inlineBlobMaxBytes: number;
  groupCommitWindowMs: number;
  /** The limits delivery parses with (config limits): the index worker parses each stored message with them too. */
  parseLimits?: ParseLimits;
}

/** Consecutive index-worker failures after which re-indexing stops until the next start. */
const FTS_MAX_FAILURES = 3;

/**
 * When the index worker is asked to index what waits in fts_todo (Core.maybeIndex): once no write
 * happened for FTS_IDLE_MS, or, during a long burst, once indexing what waits would take
 * FTS_CATCHUP_MAX_MS at the worker's measured speed, or FTS_BACKLOG_MAX messages wait, or the
 * oldest waited FTS_LAG_MAX_MS. The bounds keep the first search after a burst from waiting
 * more than a few seconds for the catch-up.
 */
const FTS_IDLE_MS = 200;
const FTS_CATCHUP_MAX_MS = 3000;
const FTS_BACKLOG_MAX = 5000;
const FTS_LAG_MAX_MS = 30_000;

/** Background WAL checkpoints run at most this often (Core.scheduleIndex). */
const CHECKPOINT_INTERVAL_MS = 250;

/** WAL size (pages of 4 KiB) at which SQLite checkpoints inline, in the committing call. */
const WAL_AUTOCHECKPOINT_PAGES = 10_000;

/** Remembered lookups (Core.lookupHit) at most; past it the memory is emptied and refilled. */
const LOOKUPS_MAX = 10_000;

/** searchText tests each message of a mailbox up to this size against the index by rowid; above, it intersects. */
const SEARCH_PER_ROW_MAX = 2000;

/** How long a claimed queue item stays invisible to other runners (a crash makes it claimable again after this). */
const QUEUE_CLAIM_MS = 10 * 60 * 1000;

/** The mailboxes every new account gets, all subscribed. */
const DEFAULT_MAILBOXES: ReadonlyArray<[string, SpecialUse | null]> = [
  ['INBOX', null],
  ['Sent', '\\Sent'],
  ['Drafts', '\\Drafts'],
  ['Trash', '\\Trash'],
  ['Junk', '\\Junk'],
  ['Archive', '\\Archive'],
];

// ───────────────────────────── rows ─────────────────────────────

interface AccountRow {
  id: number;
  address: string;
  local_part: string;
  domain: string;
  kind: Account['kind'];
  role: Account['role'];
  state: Account['state'];
  state_reason: string | null;
  state_changed_at: number | null;
  state_ref: string | null;
  full_name: string;
  title: string | null;
  phone: string | null;
  unit_id: number | null;
  quota_bytes: number | null;
  password_hash: string;
  must_change: number;
  password_changed_at: number;
  totp_secret: string | null;
  sms_2fa: number;
  created_at: number;
  last_login_at: number | null;
}

interface UnitRow {
  id: number;
  code: string;
  address: string;
  name: string;
  parent_id: number | null;
  staff: number | null;
  postal_address: string | null;
  created_at: number;
}

interface MailboxRow {
  id: number;
  account_id: number;
  name: string;
  special_use: string | null;
  subscribed: number;
  uidvalidity: number;
  uidnext: number;
  highest_modseq: number;
  created_at: number;
}

interface MessageRow {
  uid: number;
  modseq: number;
  flags: string;
  internal_date: number;
  size: number;
  blob_id: string;
}

interface QueueRow {
  id: number;
  sender: string;
  recipients: string;
  blob_id: string;
  size: number;
  created_at: number;
  next_attempt_at: number;
  attempts: number;
  last_error: string | null;
  delay_notice_sent: number;
  account: string | null;
  message_id: string | null;
  dsn_ret: string | null;
  dsn_envid: string | null;
  dsn_recipients: string;
  notice_pending: string;
}

interface QuarantineRow {
  id: number;
  at: number;
  sender: string;
  recipients: string;
  blob_id: string;
  size: number;
  reason: string;
  direction: QuarantineItem['direction'];
}

interface SendLogRow {
  id: number;
  at: number;
  direction: SendLogEntry['direction'];
  sender: string;
  recipient: string;
  client_ip: string | null;
  account: string | null;
  message_id: string | null;
  size: number | null;
  outcome: SendLogEntry['outcome'];
  code: number | null;
  text: string | null;
  findings: string;
}

const d = (ms: number): Date => new Date(ms);
const dn = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));

function toAccount(r: AccountRow): Account {
  return {
    id: r.id,
    address: r.address,
    localPart: r.local_part,
    domain: r.domain,
    kind: r.kind,
    role: r.role,
    state: r.state,
    stateReason: r.state_reason,
    stateChangedAt: dn(r.state_changed_at),
    stateRef: r.state_ref,
    fullName: r.full_name,
    title: r.title,
    phone: r.phone,
    unitId: r.unit_id,
    quotaBytes: r.quota_bytes,
    passwordHash: r.password_hash,
    mustChangePassword: r.must_change !== 0,
    passwordChangedAt: d(r.password_changed_at),
    totpSecret: r.totp_secret,
    smsTwoFactor: r.sms_2fa === 1,
    createdAt: d(r.created_at),
    lastLoginAt: dn(r.last_login_at),
  };
}

function toUnit(r: UnitRow): Unit {
  return { id: r.id, code: r.code, address: r.address, name: r.name, parentId: r.parent_id, staff: r.staff, postalAddress: r.postal_address, createdAt: d(r.created_at) };
}

function toMailbox(r: MailboxRow): Mailbox {
  return {
    id: r.id,
    accountId: r.account_id,
    name: r.name,
    specialUse: r.special_use as SpecialUse | null,
    subscribed: r.subscribed !== 0,
    uidValidity: r.uidvalidity,
    uidNext: r.uidnext,
    highestModseq: r.highest_modseq,
    createdAt: d(r.created_at),
  };
}

function toMeta(r: MessageRow): MessageMeta {
  return { uid: r.uid, modseq: r.modseq, flags: parseFlags(r.flags), internalDate: d(r.internal_date), size: r.size, blobId: r.blob_id };
}

/** uid, modseq, flags, internal_date, size, blob_id, envelope, structure, imap_envelope, imap_body, imap_bodystructure, data (unasked columns NULL). */
type DetailRow = [number, number, string, number, number, string, string | null, string | null, string | null, string | null, string | null, Buffer | null];

/**
 * A detail row; envelope and structure JSON are parsed on first use (FETCH ENVELOPE uses the
 * rendered string), and read then with `load` when the row was read without them.
 */
class Detail implements MessageDetail {
  uid: number;
  modseq: number;
  size: number;
  blobId: string;
  imap?: Partial<RenderedImap>;
  bytes?: Buffer;
  private envJson: string | null;
  private structJson: string | null;
  private env: Envelope | null = null;
  private struct: MimePart | null = null;
  // FETCH takes flags and dates from the session's view: made into objects only when read.
  private flagsText: string;
  private flagsList: string[] | null = null;
  private dateMs: number;
  private date: Date | null = null;

  constructor(
    r: DetailRow,
    private readonly load: (blobId: string) => { envelope: string; structure: string },
  ) {
    this.uid = r[0];
    this.modseq = r[1];
    this.flagsText = r[2];
    this.dateMs = r[3];
    this.size = r[4];
    this.blobId = r[5];
    this.envJson = r[6];
    this.structJson = r[7];
    if (r[8] !== null || r[9] !== null || r[10] !== null) {
      const imap: Partial<RenderedImap> = {};
      if (r[8] !== null) imap.envelope = r[8];
      if (r[9] !== null) imap.body = r[9];
      if (r[10] !== null) imap.bodyStructure = r[10];
      this.imap = imap;
    }
    if (r[11] !== null) this.bytes = r[11];
  }

  private json(): { envelope: string; structure: string } {
    if (this.envJson === null || this.structJson === null) ({ envelope: this.envJson, structure: this.structJson } = this.load(this.blobId));
    return { envelope: this.envJson, structure: this.structJson };
  }

  get flags(): string[] {
    return (this.flagsList ??= parseFlags(this.flagsText));
  }

  set flags(v: string[]) {
    this.flagsList = v;
  }

  get internalDate(): Date {
    return (this.date ??= new Date(this.dateMs));
  }

  set internalDate(v: Date) {
    this.date = v;
  }

  get envelope(): Envelope {
    return (this.env ??= JSON.parse(this.json().envelope) as Envelope);
  }

  get structure(): MimePart {
    return (this.struct ??= JSON.parse(this.json().structure) as MimePart);
  }
}

/**
 * null for a blob without cached envelope and structure. Rendered strings are only ever written
 * together with them, so a row that has one needs no further check (its JSON may not have been read).
 */
function toDetail(r: DetailRow, load: (blobId: string) => { envelope: string; structure: string }): MessageDetail | null {
  if (r[8] === null && r[9] === null && r[10] === null && (r[6] === null || r[7] === null)) return null;
  return new Detail(r, load);
}

function toQueueItem(r: QueueRow): QueueItem {
  return {
    id: r.id,
    sender: r.sender,
    recipients: JSON.parse(r.recipients) as string[],
    blobId: r.blob_id,
    size: r.size,
    createdAt: d(r.created_at),
    nextAttemptAt: d(r.next_attempt_at),
    attempts: r.attempts,
    lastError: r.last_error,
    delayNoticeSent: r.delay_notice_sent !== 0,
    account: r.account,
    messageId: r.message_id,
    dsn: { ret: r.dsn_ret === 'FULL' || r.dsn_ret === 'HDRS' ? r.dsn_ret : null, envid: r.dsn_envid },
    recipientDsn: JSON.parse(r.dsn_recipients) as Record<string, RecipientDsn>,
    noticePending: JSON.parse(r.notice_pending) as Record<string, PendingNotice>,
  };
}

function toQuarantine(r: QuarantineRow): QuarantineItem {
  return {
    id: r.id,
    at: d(r.at),
    sender: r.sender,
    recipients: JSON.parse(r.recipients) as string[],
    blobId: r.blob_id,
    size: r.size,
    reason: r.reason,
    direction: r.direction,
  };
}

interface SignInRow {
  id: number;
  account_id: number;
  at: number;
  first_at: number;
  count: number;
  protocol: SignInEntry['protocol'];
  ip: string;
  network: string;
  ok: number;
  method: SignInEntry['method'];
  app_password_id: number | null;
  reason: string | null;
  via: string | null;
  opened: string | null;
}

function toSignIn(r: SignInRow): SignInRecord {
  return {
    id: r.id,
    accountId: r.account_id,
    at: d(r.at),
    firstAt: d(r.first_at),
    count: r.count,
    protocol: r.protocol,
    ip: r.ip,
    network: r.network,
    ok: r.ok === 1,
    method: r.method,
    appPasswordId: r.app_password_id,
    reason: r.reason,
    via: r.via,
    opened: r.opened,
  };
}

/** Rows a page of scanSendLog reads at once. */
const SCAN_PAGE_ROWS = 2000;

function toSendLog(r: SendLogRow): SendLogRecord {
  return {
    id: r.id,
    at: d(r.at),
    direction: r.direction,
    sender: r.sender,
    recipient: r.recipient,
    clientIp: r.client_ip,
    account: r.account,
    messageId: r.message_id,
    size: r.size,
    outcome: r.outcome,
    code: r.code,
    text: r.text,
    findings: JSON.parse(r.findings) as string[],
  };
}

// ───────────────────────────── errors ─────────────────────────────

/** allOrNothing: a uid missing (expunged meanwhile) throws NOT_FOUND, which rolls the copy back. */
function allCopied(uids: readonly number[], mapping: ReadonlyArray<[number, number]>): void {
  if (mapping.length < new Set(uids).size) throw new MailError('NOT_FOUND', bi('Một số thư đã bị xóa hẳn', 'Some of the messages have been expunged'), { expunged: true });
}

function notFound(what: string, whatEn: string, detail?: unknown): MailError {
  return new MailError('NOT_FOUND', bi(`Không tìm thấy ${what}`, `${whatEn} not found`), detail);
}

function exists(what: string, whatEn: string, detail?: unknown): MailError {
  return new MailError('ALREADY_EXISTS', bi(`${what} đã tồn tại`, `${whatEn} already exists`), detail);
}

function overQuota(detail?: unknown): MailError {
  return new MailError('OVER_QUOTA', bi('Hộp thư đã vượt hạn mức dung lượng', 'Mailbox is over its storage quota'), detail);
}

function invalid(vi: string, en: string, detail?: unknown): MailError {
  return new MailError('INVALID_INPUT', bi(vi, en), detail);
}

function isUniqueViolation(e: unknown): boolean {
  return e instanceof Error && 'code' in e && typeof e.code === 'string' && e.code.startsWith('SQLITE_CONSTRAINT_') && (e.code === 'SQLITE_CONSTRAINT_UNIQUE' || e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY');
}

/** Mailbox names: "/" separator, INBOX case-insensitive (also as a prefix). */
export function normalizeMailboxName(name: string): string {
  let n = name.normalize('NFC');
  if (/^inbox$/i.test(n)) return 'INBOX';
  if (/^inbox\//i.test(n)) n = 'INBOX' + n.slice(5);
  return n;
}

function checkMailboxName(name: string): void {
  if (name === '' || name.startsWith('/') || name.endsWith('/') || name.includes('//') || /[\r\n\0]/.test(name) || name.length > 512) {
    throw invalid(`Tên thư mục không hợp lệ: "${name}"`, `Invalid mailbox name: "${name}"`);
  }
}

function splitAddress(address: string): { address: string; localPart: string; domain: string } {
  const a = address.trim().toLowerCase();
  const at = a.lastIndexOf('@');
  if (at <= 0 || at === a.length - 1) throw invalid(`Địa chỉ không hợp lệ: "${address}"`, `Invalid address: "${address}"`);
  return { address: a, localPart: a.slice(0, at), domain: a.slice(at + 1) };
}

// ───────────────────────────── the shared core ─────────────────────────────

interface PendingWrite {
  /** One delivery (storeMessage) or one all-or-nothing set (storeMessages): one savepoint. */
  work: () => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

interface PreparedBlob {
  hash: string;
  inline: boolean;
  release: () => void;
}

type Stmt = Database.Statement<unknown[], unknown>;

class Core {
  readonly blobs: BlobFiles;
  readonly listeners = new Set<(e: StoreEvent) => void>();
  /** Set while a batch() holds the transaction open. */
  batch: { done: Promise<void>; token: object } | null = null;
  /** Backups running (close() stops them and waits). */
  readonly backups = new Set<Promise<unknown>>();
  /** Marks the async context of a running batch's callback (see SqliteStore.joinsBatch). */
  readonly batchContext = new AsyncLocalStorage<object>();
  /** Events of the transaction being run (emitted after the outermost commit). */
  events: StoreEvent[] | null = null;
  /** Blob hashes being written or waiting in a group commit: the collector leaves them alone. */
  private readonly pinned = new Map<string, number>();
  /** Deliveries whose blob hash is being computed (prepareBlob). */
  private readonly hashing = new Set<Promise<string>>();

  /** Resolves once the deliveries hashing now have pinned their hash (prepareBlob pins before this resolves). */
  async hashesInFlight(): Promise<void> {
    await Promise.allSettled([...this.hashing]);
  }
  private readonly writing = new Map<string, Promise<void>>();
  private pending: PendingWrite[] = [];
  private flushScheduled = false;
  private flushChain: Promise<void> = Promise.resolve();
  private readonly runner: Database.Transaction<(f: () => unknown) => unknown>;
  private readonly reader: Database.Transaction<(f: () => unknown) => unknown>;
  private readonly totalChangesStmt: Stmt;
  private readonly dataVersionStmt: Stmt;
  closed = false;
  /** The WAL file, kept open for fsync (see durable()). */
  private readonly walPath: string;
  private walHandle: FileHandle | null = null;
  /** When the WAL handle was last checked to still name the -wal file (fsyncWal). */
  private walCheckedAt = 0;
  private syncRunning = false;
  /** A group commit held back until the running WAL fsync is done (see scheduleFlush). */
  private flushAfterSync: (() => void) | null = null;
  /** Callers waiting for an fsync that starts after their commit. */
  private syncWaiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];

  constructor(
    readonly db: Database.Database,
    readonly opts: SqliteStoreOptions,
  ) {
    this.blobs = new BlobFiles(opts.dir);
    this.runner = db.transaction((f: () => unknown) => f());
    this.reader = db.transaction((f: () => unknown) => f());
    this.totalChangesStmt = db.prepare('SELECT total_changes() AS n');
    this.dataVersionStmt = db.prepare('PRAGMA data_version').pluck();
    this.walPath = path.join(opts.dir, 'buudien.db-wal');
    this.fts = new FtsIndex(
      opts.dir,
      path.join(opts.dir, 'buudien.db'),
      this.blobs.root,
      opts.log,
      (rows) => {
        this.ftsFailures = 0;
        this.ftsAcked.push(...rows);
        this.scheduleIndex();
      },
      () => {
        if (++this.ftsFailures === FTS_MAX_FAILURES + 1) {
          opts.log.error('full-text indexing keeps failing: stopped until the next start (searches may miss the newest messages; they stay listed in fts_todo)');
          return;
        }
        // What the failed request did not commit is still in fts_todo: ask again once idle.
        this.ftsWaiting(0, 0);
      },
      opts.parseLimits,
    );
  }

  // ── lookups delivery repeats for every message (resolveAddress, mailboxId) ──

  /**
   * Their last answers. Emptied by every write of this process other than a group commit of
   * deliveries (which change no account, alias or mailbox name), by a batch's end, and as soon as
   * another process committed anything (PRAGMA data_version): an answer from here is one a
   * read would have given.
   */
  private readonly lookups = new Map<string, unknown>();
  /** data_version the remembered answers were read at. */
  private lookupsVersion = -1;
  /** Set while a group commit of deliveries (or an fts_todo clean-up) runs: its writes keep the lookups. */
  private keepLookups = false;

  /**
   * data_version as read in this turn of the event loop, or null: read once per turn (each read
   * is a statement; a delivery makes several lookups). An answer given from here is then one a
   * read at the start of the turn would have given: another process's commit is seen from the
   * next turn on, as if it had come a moment later.
   */
  private turnVersion: number | null = null;

  private dataVersion(): number {
    if (this.turnVersion === null) {
      this.turnVersion = this.dataVersionStmt.get() as number;
      setImmediate(() => (this.turnVersion = null));
    }
    return this.turnVersion;
  }

  /** The remembered answer, or undefined (then read it, and remember() it inside that read). */
  lookupHit(key: string): unknown {
    if (this.batch || this.db.inTransaction || this.lookups.size === 0) return undefined;
    if (this.dataVersion() !== this.lookupsVersion) {
      this.lookups.clear();
      return undefined;
    }
    return this.lookups.get(key);
  }

  /** Remember an answer; call inside the read transaction that produced it (its own data_version, not the turn's). */
  remember(key: string, value: unknown): void {
    if (this.batch) return;
    const version = this.dataVersionStmt.get() as number;
    if (version !== this.lookupsVersion || this.lookups.size >= LOOKUPS_MAX) {
      this.lookups.clear();
      this.lookupsVersion = version;
    }
    this.lookups.set(key, value);
  }

  forgetLookups(): void {
    this.lookups.clear();
  }

  /** Rows changed on this connection so far (tells whether a transaction wrote). */
  totalChanges(): number {
    return (this.totalChangesStmt.get() as { n: number }).n;
  }

  /** Resolves once everything committed before the call is on disk (one fsync shared by all waiting). */
  durable(): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise<void>((resolve, reject) => {
      this.syncWaiters.push({ resolve, reject });
      if (!this.syncRunning) void this.runSyncs();
    });
  }

  private async runSyncs(): Promise<void> {
    this.syncRunning = true;
    try {
      while (this.syncWaiters.length > 0) {
        const waiters = this.syncWaiters;
        this.syncWaiters = [];
        try {
          await this.fsyncWal();
          for (const w of waiters) w.resolve();
        } catch (err) {
          if (!this.failed) {
            this.opts.log.fatal({ err, wal: this.walPath }, 'store: fsync of the write-ahead log failed; every write is refused until the server is restarted (check the disk)');
            this.failed = new MailError(
              'TEMPORARY',
              bi('Không ghi được xuống đĩa; máy chủ cần được khởi động lại, vui lòng thử lại sau', 'Could not write to disk; the server needs a restart, try again later'),
              err,
            );
          }
          for (const w of waiters) w.reject(this.failed);
        }
        // After every fsync, not only the last: other writers keeping this loop busy must not
        // hold deliveries back.
        this.releaseHeldFlush();
      }
    } finally {
      this.syncRunning = false;
      this.releaseHeldFlush();
    }
  }

  private releaseHeldFlush(): void {
    const flush = this.flushAfterSync;
    this.flushAfterSync = null;
    flush?.();
  }

  private async fsyncWal(): Promise<void> {
    // While this connection is open in WAL mode the -wal file stays (a TRUNCATE checkpoint empties
    // it in place; only the last connection to close may delete it). Should it still have been
    // unlinked (nlink 0 on our handle), whatever replaced it is opened and flushed; a missing one
    // means the log was checkpointed into the database file, which SQLite syncs itself.
    for (let attempt = 0; attempt < 2; attempt++) {
      if (!this.walHandle) {
        try {
          this.walHandle = await openFile(this.walPath, 'r');
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
          throw e;
        }
      }
      // The check costs a thread-pool round trip of its own: at most once a second.
      const now = Date.now();
      if (now - this.walCheckedAt < 1000 || (await this.walHandle.stat()).nlink > 0) {
        if (now - this.walCheckedAt >= 1000) this.walCheckedAt = now;
        await this.walHandle.datasync();
        return;
      }
      await this.walHandle.close().catch(() => undefined);
      this.walHandle = null;
    }
  }

  async closeWal(): Promise<void> {
    await this.walHandle?.close().catch(() => undefined);
    this.walHandle = null;
  }

  /** The statement for this SQL (one per text: connection.ts openDatabase keeps them). */
  q(sql: string): Stmt {
    return this.db.prepare(sql);
  }

  get<T>(sql: string, ...params: unknown[]): T | undefined {
    return this.q(sql).get(...params) as T | undefined;
  }

  all<T>(sql: string, ...params: unknown[]): T[] {
    return this.q(sql).all(...params) as T[];
  }

  run(sql: string, ...params: unknown[]): Database.RunResult {
    return this.q(sql).run(...params);
  }

  now(): number {
    return this.opts.clock.now().getTime();
  }

  /** Set by close(): new writes are refused, writes already started finish. */
  closing = false;

  checkOpen(): void {
    if (this.closed) throw new MailError('TEMPORARY', bi('Kho thư đã đóng', 'The mail store is closed'));
  }

  /**
   * Set by the first failed fsync of the write-ahead log, for the life of the process. After a
   * failed fsync Linux marks the pages whose write-back failed clean, so the next fsync succeeds
   * without them; and SQLite chains the log's frames by checksum, so a lost frame makes recovery
   * drop every later one. A commit answered as durable after that could be lost to a power cut:
   * every write is refused instead (451 / NO, the sender retries), /healthz answers 503, and a
   * restart (recovery from what is really on disk) is the way back — as PostgreSQL does.
   */
  failed: MailError | null = null;

  /** For the start of a write: refused once the log could not be made durable (see `failed`). */
  checkWritable(): void {
    if (this.failed) throw this.failed;
  }

  /** For the start of a write that may outlive close(): refuse it once close() began. */
  checkAccepting(): void {
    if (this.closing || this.closed) throw new MailError('TEMPORARY', bi('Kho thư đang đóng', 'The mail store is closing'));
  }

  /** Writes started (blob being written or waiting for the group commit) or a batch still open. */
  busy(): boolean {
    return this.hashing.size > 0 || this.pinned.size > 0 || this.pending.length > 0 || this.batch !== null;
  }

  async idle(): Promise<void> {
    while (this.batch) await this.batch.done;
    this.checkOpen();
  }

  /** Run read-only work in one DEFERRED transaction (a snapshot, no write lock), or inside the open one. */
  readTx<T>(work: () => T): T {
    return (this.db.inTransaction ? work() : this.reader.deferred(work)) as T;
  }

  /** Run synchronously in one transaction (a savepoint when nested); emit its events after the outermost commit. */
  transact<T>(work: () => T): T {
    const outer = this.events;
    const mine: StoreEvent[] = [];
    this.events = mine;
    const changesBefore = outer ? 0 : this.totalChanges();
    const ftsMark = this.ftsOut.length;
    let result: T;
    if (!this.db.inTransaction) this.checkWritable();
    try {
      result = (this.db.inTransaction ? this.runner(work) : this.runner.immediate(work)) as T;
    } catch (e) {
      this.ftsOut.length = ftsMark; // rolled back: its index rows never existed
      throw e;
    } finally {
      this.events = outer;
    }
    if (outer) outer.push(...mine);
    else {
      if (!this.db.inTransaction) this.postFts();
      // Only a transaction that wrote gives the background indexer or checkpoint anything to do:
      // reads (every IMAP FETCH/SELECT) must not wake them.
      if (this.totalChanges() !== changesBefore) {
        this.walDirty = true;
        this.lastWriteAt = Date.now();
        if (!this.keepLookups) this.forgetLookups();
        this.scheduleIndex();
      }
      this.emit(mine);
    }
    return result;
  }

  event(e: StoreEvent): void {
    if (this.events) this.events.push(e);
    else this.emit([e]);
  }

  emit(events: StoreEvent[]): void {
    for (const e of events) {
      for (const l of this.listeners) {
        try {
          l(e);
        } catch (err) {
          this.opts.log.error({ err }, 'store event listener threw');
        }
      }
    }
  }

  /** Send-log rows, in the current transaction. */
  logSendSync(entries: readonly SendLogEntry[]): void {
    for (const e of entries) {
      this.run(
        `INSERT INTO send_log (at, direction, sender, recipient, client_ip, account, message_id, size, outcome, code, text, findings)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        e.at.getTime(),
        e.direction,
        e.sender.toLowerCase(),
        e.recipient.toLowerCase(),
        e.clientIp,
        e.account,
        e.messageId,
        e.size,
        e.outcome,
        e.code,
        e.text,
        JSON.stringify(e.findings),
      );
    }
  }

  audit(entry: AuditEntry): void {
    this.run(
      'INSERT INTO audit_log (at, actor, action, target, ref, details) VALUES (?, ?, ?, ?, ?, ?)',
      this.now(),
      entry.actor,
      entry.action,
      entry.target,
      entry.ref ?? null,
      entry.details === undefined ? null : JSON.stringify(entry.details),
    );
  }

  // ── blobs ──

  isPinned(hash: string): boolean {
    return this.pinned.has(hash);
  }

  /** Hash the bytes, pin the hash, and for large blobs make the file durable. Call release() after the commit. */
  async prepareBlob(raw: Buffer): Promise<PreparedBlob> {
    // While the hash is computed off the event loop the delivery is busy() (close() waits) and
    // the collector waits for it too (hashesInFlight): it then finds the hash pinned.
    const hashing = sha256Async(raw);
    this.hashing.add(hashing);
    let hash: string;
    try {
      hash = await hashing;
    } finally {
      this.hashing.delete(hashing);
    }
    this.pinned.set(hash, (this.pinned.get(hash) ?? 0) + 1);
    const release = (): void => {
      const n = (this.pinned.get(hash) ?? 1) - 1;
      if (n <= 0) this.pinned.delete(hash);
      else this.pinned.set(hash, n);
    };
    const inline = raw.length <= this.opts.inlineBlobMaxBytes;
    try {
      if (!inline) {
        const w = this.writing.get(hash);
        if (w) await w;
        else if (!this.blobs.exists(hash)) {
          const p = this.blobs.write(hash, raw).finally(() => this.writing.delete(hash));
          this.writing.set(hash, p);
          await p;
        }
      }
    } catch (e) {
      release();
      throw e;
    }
    return { hash, inline, release };
  }

  /** Insert the blob row (listing it for the full-text index) if new. Must run inside a transaction. */
  ensureBlobRow(hash: string, raw: Buffer, inline: boolean, meta?: { envelope: Envelope; structure: MimePart; imap?: RenderedImap | undefined }): void {
    const row = this.get<{ n: number; has_meta: number; data_null: number; has_imap: number }>(
      'SELECT n, envelope IS NOT NULL AS has_meta, data IS NULL AS data_null, imap_envelope IS NOT NULL AS has_imap FROM blobs WHERE id = ?',
      hash,
    );
    // Another process's collector may have removed an unreferenced file after prepareBlob saw it;
    // it unlinks inside its write transaction, so under ours "row or not, is the file there" is stable.
    if (!inline && !this.blobs.exists(hash)) {
      this.opts.log.warn({ blob: hash }, 'blob file vanished before its commit; writing it again');
      this.blobs.writeSync(hash, raw);
    }
    if (row) {
      if (meta && row.has_meta === 0) {
        this.run('UPDATE blobs SET envelope = ?, structure = ? WHERE n = ?', JSON.stringify(meta.envelope), JSON.stringify(meta.structure), row.n);
        this.insertFts(row.n, raw.length);
      }
      if (meta?.imap && row.has_imap === 0) {
        this.run('UPDATE blobs SET imap_envelope = ?, imap_body = ?, imap_bodystructure = ? WHERE n = ?', meta.imap.envelope, meta.imap.body, meta.imap.bodyStructure, row.n);
      }
      return;
    }
    const info = this.run(
      'INSERT INTO blobs (id, size, data, envelope, structure, imap_envelope, imap_body, imap_bodystructure, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      hash,
      raw.length,
      inline ? raw : null,
      meta ? JSON.stringify(meta.envelope) : null,
      meta ? JSON.stringify(meta.structure) : null,
      meta?.imap?.envelope ?? null,
      meta?.imap?.body ?? null,
      meta?.imap?.bodyStructure ?? null,
      this.now(),
    );
    if (meta) this.insertFts(Number(info.lastInsertRowid), raw.length);
  }

  /** List the blob for the index worker (same commit); counted as waiting once committed (postFts). */
  private insertFts(n: number, bytes: number): void {
    this.run('INSERT OR IGNORE INTO fts_todo (n) VALUES (?)', n);
    this.ftsOut.push(bytes);
  }

  // ── full-text index (fts.ts) ──

  readonly fts: FtsIndex;
  /** Sizes of the messages the open transaction listed in fts_todo: counted after its commit, dropped on rollback. */
  private ftsOut: number[] = [];
  /** Blob numbers the indexer has committed: removed from fts_todo by the next maintenance turn. */
  private ftsAcked: Array<[number, string]> = [];
  /** Messages committed to fts_todo since the worker was last asked to index, their bytes, and when the first of them came. */
  private ftsBacklog = 0;
  private ftsBacklogBytes = 0;
  private ftsBacklogSince: number | null = null;
  /** When a transaction last wrote (Date.now()): indexing waits for a pause in writes. */
  private lastWriteAt = 0;
  /** Worker failures since its last success: past FTS_MAX_FAILURES nothing is indexed until the next start (no busy loop on a broken fts.db). */
  private ftsFailures = 0;
  private indexTimer: NodeJS.Timeout | null = null;

  /** After the outermost commit: count what it listed, and index now if a bound is passed. */
  postFts(): void {
    if (this.ftsOut.length === 0) return;
    let bytes = 0;
    for (const b of this.ftsOut) bytes += b;
    this.ftsWaiting(this.ftsOut.length, bytes);
    this.ftsOut = [];
  }

  /** Count messages waiting for the index (at least one, so that a request follows) and decide. */
  ftsWaiting(messages: number, bytes: number): void {
    if (!this.indexing()) return;
    this.ftsBacklog += Math.max(1, messages);
    this.ftsBacklogBytes += bytes;
    this.ftsBacklogSince ??= Date.now();
    this.maybeIndex();
    this.scheduleIndex();
  }

  /** Forget index rows of a transaction rolled back outside transact() (batch). */
  dropFts(mark: number): void {
    this.ftsOut.length = Math.min(this.ftsOut.length, mark);
  }

  get ftsMark(): number {
    return this.ftsOut.length;
  }

  /**
   * Ask the worker to index what waits in fts_todo once writes have paused for FTS_IDLE_MS, or at
   * once when the backlog passed one of its bounds. Under a burst the CPU goes to taking mail in;
   * the index catches up right after (searches wait for it: ftsSynced).
   */
  private maybeIndex(): void {
    if (this.ftsBacklog === 0 || !this.indexing()) return;
    const now = Date.now();
    const quiet = now - this.lastWriteAt >= FTS_IDLE_MS && !this.busy() && !this.flushScheduled;
    const overdue =
      this.ftsBacklog >= FTS_BACKLOG_MAX || this.ftsBacklogBytes / this.fts.bytesPerMs >= FTS_CATCHUP_MAX_MS || now - (this.ftsBacklogSince ?? now) >= FTS_LAG_MAX_MS;
    if (!quiet && !overdue) return;
    this.ftsBacklog = 0;
    this.ftsBacklogBytes = 0;
    this.ftsBacklogSince = null;
    this.fts.index();
  }

  /** Resolves when every message committed so far is in the index (a search sees them all). */
  async ftsSynced(): Promise<void> {
    if (!this.indexing()) return;
    this.ftsBacklog = 0;
    this.ftsBacklogBytes = 0;
    this.ftsBacklogSince = null;
    await this.fts.sync();
  }

  /** Commits since the last checkpoint. */
  walDirty = false;
  /** When the last background checkpoint was started (Date.now()). */
  private lastCheckpoint = 0;

  /**
   * Background maintenance. The WAL is checkpointed (PASSIVE) at most every
   * CHECKPOINT_INTERVAL_MS by the index worker on its own connection (off the event loop, so also
   * during a long burst); fts_todo is cleared of acknowledged rows while no delivery waits (group
   * commits clear it during bursts); the index worker is asked to index (maybeIndex). Deliveries
   * never wait for any of it; SQLite's inline checkpoint at WAL_AUTOCHECKPOINT_PAGES is only a cap.
   */
  scheduleIndex(): void {
    const backlog = this.ftsBacklog > 0 && this.indexing();
    if (this.indexTimer || this.closed || (this.ftsAcked.length === 0 && !this.walDirty && !backlog)) return;
    const now = Date.now();
    let wait = this.ftsAcked.length > 0 ? 2 : Infinity;
    if (this.walDirty) wait = Math.min(wait, this.lastCheckpoint + CHECKPOINT_INTERVAL_MS - now);
    if (backlog) wait = Math.min(wait, this.lastWriteAt + FTS_IDLE_MS - now);
    // Idle means no delivery at any stage: none writing its blob file, none waiting to commit.
    // While deliveries run, look again now and then (group commits clear fts_todo meanwhile).
    const idle = (): boolean => !this.busy() && !this.flushScheduled;
    if (!idle()) wait = Math.max(wait, FTS_IDLE_MS / 4);
    this.indexTimer = setTimeout(() => {
      this.indexTimer = null;
      if (this.closed) return;
      this.maybeIndex();
      if (this.walDirty && Date.now() - this.lastCheckpoint >= CHECKPOINT_INTERVAL_MS && !this.closing) {
        // Off the event loop on the worker's connection; inline (between deliveries) once the
        // worker has been given up on, so a broken index never leaves the WAL to grow.
        if (this.indexing()) {
          this.walDirty = false;
          this.lastCheckpoint = Date.now();
          this.fts.checkpoint();
        } else if (idle()) {
          this.walDirty = false;
          this.lastCheckpoint = Date.now();
          try {
            this.db.pragma('wal_checkpoint(PASSIVE)');
          } catch (err) {
            this.opts.log.error({ err }, 'store maintenance (checkpoint) failed');
          }
        }
      }
      if (idle() && this.ftsAcked.length > 0) {
        // Only fts_todo changes: the remembered lookups stay (as in a group commit).
        this.keepLookups = true;
        try {
          this.transact(() => this.clearAcked(5000));
        } catch (err) {
          this.opts.log.error({ err }, 'store maintenance (index bookkeeping) failed');
          return;
        } finally {
          this.keepLookups = false;
        }
      }
      this.scheduleIndex();
    }, Math.max(2, wait));
    this.indexTimer.unref();
  }

  /** The index worker is in use: not closing, and not given up on after FTS_MAX_FAILURES failures. */
  private indexing(): boolean {
    return !this.closing && !this.closed && this.ftsFailures <= FTS_MAX_FAILURES;
  }

  /**
   * Remove acknowledged numbers from fts_todo (up to `max`), in the current transaction. Not
   * followed by durable(), and not retried if the transaction rolls back: a removal lost either
   * way only means that row is indexed once more at the next start.
   */
  clearAcked(max = Infinity): void {
    if (this.ftsAcked.length === 0) return;
    const rows = this.ftsAcked.splice(0, max);
    // A number is removed only while it still names the blob that was indexed (or, for one the
    // worker found gone, no blob): a collected blob's number may have been given to a new
    // message meanwhile, and that message's listing must stay.
    this.run(
      `DELETE FROM fts_todo WHERE n IN (
         SELECT a.value ->> 0 FROM json_each(?) a LEFT JOIN blobs b ON b.n = a.value ->> 0
          WHERE (a.value ->> 1 = '' AND b.n IS NULL) OR b.id = a.value ->> 1)`,
      JSON.stringify(rows),
    );
  }

  stopIndexer(): void {
    if (this.indexTimer) clearTimeout(this.indexTimer);
    this.indexTimer = null;
  }

  // ── group commit ──

  enqueueWrite<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ work, resolve: (v) => resolve(v as T), reject });
      this.scheduleFlush();
    });
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    const run = (): void => {
      this.flushScheduled = false;
      void this.flush();
    };
    const go = (): void => {
      // While a WAL fsync runs, deliveries keep gathering and commit together once it is done
      // (runSyncs releases them): they could not be durable before the next fsync anyway, and
      // one commit writes each shared page (mailbox, indexes, send log) once, not once per delivery.
      if (this.syncRunning) this.flushAfterSync = run;
      else run();
    };
    if (this.opts.groupCommitWindowMs > 0) setTimeout(go, this.opts.groupCommitWindowMs);
    else setImmediate(go);
  }

  /** Commit everything pending in one transaction; resolves when done (used by close()). */
  flush(): Promise<void> {
    this.flushChain = this.flushChain.then(() => this.flushOnce());
    return this.flushChain;
  }

  private async flushOnce(): Promise<void> {
    while (this.batch) await this.batch.done;
    const items = this.pending;
    this.pending = [];
    if (items.length === 0) return;
    const results: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    this.keepLookups = true;
    try {
      this.transact(() => {
        for (const it of items) {
          try {
            results.push({ ok: true, value: this.transact(it.work) });
          } catch (error) {
            results.push({ ok: false, error });
          }
        }
        // Under sustained load the idle-time maintenance never runs: group commits clear fts_todo too.
        this.clearAcked(5000);
      });
    } catch (e) {
      this.opts.log.error({ err: e, items: items.length }, 'group commit failed');
      for (const it of items) it.reject(e);
      return;
    } finally {
      this.keepLookups = false;
    }
    this.scheduleIndex();
    const settle = (syncError: unknown): void => {
      items.forEach((it, i) => {
        const r = results[i];
        if (!r) it.reject(new MailError('INTERNAL', bi('Lỗi nội bộ', 'Internal error')));
        else if (!r.ok) it.reject(r.error);
        else if (syncError) it.reject(syncError);
        else it.resolve(r.value);
      });
    };
    // Not awaited: the next group may commit while this one's fsync runs (it then shares the next fsync).
    if (results.some((r) => r.ok)) this.durable().then(() => settle(null), settle);
    else settle(null);
  }

}

// ───────────────────────────── the store ─────────────────────────────

class SqliteStore implements Store {
  constructor(
    private readonly c: Core,
    /** True for the store handed to batch(fn): its calls join the open transaction. */
    private readonly inBatch: boolean,
  ) {}

  /**
   * True when this call belongs to the open batch: made on the tx store, or on the outer store
   * from inside the batch callback's async context (a service holding the outer store). Such
   * calls join the batch's transaction instead of waiting for it to end (which would deadlock).
   */
  private joinsBatch(): boolean {
    const b = this.c.batch;
    return this.inBatch || (b !== null && this.c.batchContext.getStore() === b.token);
  }

  /**
   * A read-only method's work: no write lock (a DEFERRED transaction gives its statements one
   * snapshot without blocking writers, here or in another process), no commit bookkeeping.
   * Inside a batch it joins the batch's transaction.
   */
  private async read<T>(work: () => T): Promise<T> {
    if (this.joinsBatch()) {
      this.c.checkOpen();
      return work();
    }
    await this.c.idle();
    return this.c.readTx(work);
  }

  private async tx<T>(work: () => T): Promise<T> {
    if (this.joinsBatch()) {
      this.c.checkOpen();
      return this.c.transact(work); // the batch's COMMIT waits for durability
    }
    await this.c.idle();
    const before = this.c.totalChanges();
    const result = this.c.transact(work);
    if (this.c.totalChanges() !== before) await this.c.durable();
    return result;
  }

  async ping(): Promise<void> {
    this.c.checkOpen();
    this.c.checkWritable();
    this.c.get('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.joinsBatch()) throw invalid('Không thể đóng kho trong một lô', 'Cannot close the store inside a batch');
    if (this.c.closed) return;
    this.c.closing = true;
    // A running backup sees `closing`, stops at its next step and releases its lease.
    await Promise.allSettled([...this.c.backups]);
    while (this.c.busy()) {
      await this.c.flush();
      while (this.c.batch) await this.c.batch.done;
      if (this.c.busy()) await new Promise<void>((r) => setImmediate(r));
    }
    await this.c.flush();
    await this.c.fts.close();
    try {
      this.c.transact(() => this.c.clearAcked());
    } catch (e) {
      this.c.opts.log.warn({ err: e }, 'clearing fts_todo at close failed (those rows are indexed again at the next start)');
    }
    this.c.closed = true;
    this.c.stopIndexer();
    try {
      this.c.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch (e) {
      this.c.opts.log.warn({ err: e }, 'wal checkpoint at close failed');
    }
    await this.c.closeWal();
    this.c.db.close();
  }

  // ───── domains ─────

  async addDomain(name: string, audit: AuditEntry): Promise<Domain> {
    const n = name.trim().toLowerCase();
    return this.tx(() => {
      if (this.c.get('SELECT 1 FROM domains WHERE name = ?', n)) throw exists(`Tên miền ${n}`, `Domain ${n}`);
      const at = this.c.now();
      this.c.run('INSERT INTO domains (name, created_at) VALUES (?, ?)', n, at);
      this.c.audit(audit);
      return { name: n, createdAt: d(at) };
    });
  }

  async listDomains(): Promise<Domain[]> {
    return this.read(() => this.c.all<{ name: string; created_at: number }>('SELECT name, created_at FROM domains ORDER BY name').map((r) => ({ name: r.name, createdAt: d(r.created_at) })));
  }

  async removeDomain(name: string, audit: AuditEntry): Promise<void> {
    const n = name.trim().toLowerCase();
    return this.tx(() => {
      if (this.c.get('SELECT 1 FROM accounts WHERE domain = ? LIMIT 1', n)) {
        throw new MailError('IN_USE', bi(`Tên miền ${n} vẫn còn tài khoản`, `Domain ${n} still has accounts`));
      }
      if (this.c.run('DELETE FROM domains WHERE name = ?', n).changes === 0) throw notFound(`tên miền ${n}`, `Domain ${n}`);
      this.c.audit(audit);
    });
  }

  // ───── units ─────

  async addUnit(unit: NewUnit, audit: AuditEntry): Promise<Unit> {
    return this.tx(() => {
      if (unit.parentId !== null && !this.c.get('SELECT 1 FROM units WHERE id = ?', unit.parentId)) {
        throw notFound(`đơn vị cấp trên #${unit.parentId}`, `Parent unit #${unit.parentId}`);
      }
      const address = unit.address.trim().toLowerCase();
      const code = unit.code.trim().toLowerCase();
      try {
        const at = this.c.now();
        const postalAddress = unit.postalAddress ?? null;
        const info = this.c.run(
          'INSERT INTO units (code, address, name, parent_id, staff, postal_address, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
          code,
          address,
          unit.name,
          unit.parentId,
          unit.staff,
          postalAddress,
          at,
        );
        this.c.audit(audit);
        return { id: Number(info.lastInsertRowid), code, address, name: unit.name, parentId: unit.parentId, staff: unit.staff, postalAddress, createdAt: d(at) };
      } catch (e) {
        if (isUniqueViolation(e)) throw exists(`Đơn vị ${code}`, `Unit ${code}`, e);
        throw e;
      }
    });
  }

  async updateUnit(id: number, patch: UnitPatch, audit: AuditEntry): Promise<Unit> {
    const cols: Record<keyof UnitPatch, string> = { name: 'name', staff: 'staff', postalAddress: 'postal_address' };
    return this.tx(() => {
      const sets: string[] = [];
      const params: unknown[] = [];
      for (const [k, col] of Object.entries(cols) as Array<[keyof UnitPatch, string]>) {
        if (patch[k] === undefined) continue;
        sets.push(`${col} = ?`);
        params.push(patch[k]);
      }
      if (sets.length > 0 && this.c.run(`UPDATE units SET ${sets.join(', ')} WHERE id = ?`, ...params, id).changes === 0) {
        throw notFound(`đơn vị #${id}`, `Unit #${id}`);
      }
      const r = this.c.get<UnitRow>('SELECT * FROM units WHERE id = ?', id);
      if (!r) throw notFound(`đơn vị #${id}`, `Unit #${id}`);
      this.c.audit(audit);
      return toUnit(r);
    });
  }

  async getUnit(id: number): Promise<Unit | null> {
    return this.read(() => {
      const r = this.c.get<UnitRow>('SELECT * FROM units WHERE id = ?', id);
      return r ? toUnit(r) : null;
    });
  }

  async getUnitByCode(codeOrAddress: string): Promise<Unit | null> {
    const k = codeOrAddress.trim().toLowerCase();
    return this.read(() => {
      const r = this.c.get<UnitRow>('SELECT * FROM units WHERE address = ?', k) ?? this.c.get<UnitRow>('SELECT * FROM units WHERE code = ? ORDER BY id LIMIT 1', k);
      return r ? toUnit(r) : null;
    });
  }

  async listUnits(): Promise<Unit[]> {
    return this.read(() => this.c.all<UnitRow>('SELECT * FROM units ORDER BY id').map(toUnit));
  }

  // ───── accounts ─────

  private addressTakenSync(address: string): boolean {
    return !!(this.c.get('SELECT 1 FROM accounts WHERE address = ?', address) ?? this.c.get('SELECT 1 FROM aliases WHERE address = ?', address));
  }

  private nextUidValidity(): number {
    const last = Number(this.c.get<{ value: string }>("SELECT value FROM meta WHERE key = 'uidvalidity'")?.value ?? 0);
    const v = Math.max(Math.floor(this.c.now() / 1000), last + 1);
    this.c.run("INSERT INTO meta (key, value) VALUES ('uidvalidity', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", String(v));
    return v;
  }

  /**
   * A new id for a mailbox or an app password: above every id ever given out (migration 10), so
   * an id a session still holds never comes to mean another row.
   */
  private nextId(table: 'mailboxes' | 'app_passwords'): number {
    const key = `${table}.last_id`;
    const mark = Number(this.c.get<{ value: string }>('SELECT value FROM meta WHERE key = ?', key)?.value ?? 0);
    const max = this.c.get<{ m: number }>(`SELECT COALESCE(MAX(id), 0) AS m FROM ${table}`)?.m ?? 0;
    const id = Math.max(mark, max) + 1;
    this.c.run('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value', key, String(id));
    return id;
  }

  private createMailboxSync(accountId: number, name: string, specialUse: SpecialUse | null, subscribed: boolean): Mailbox {
    const n = normalizeMailboxName(name);
    checkMailboxName(n);
    if (this.c.get('SELECT 1 FROM mailboxes WHERE account_id = ? AND name = ?', accountId, n)) throw exists(`Thư mục "${n}"`, `Mailbox "${n}"`);
    const uidValidity = this.nextUidValidity();
    const at = this.c.now();
    const id = this.nextId('mailboxes');
    this.c.run(
      'INSERT INTO mailboxes (id, account_id, name, special_use, subscribed, uidvalidity, uidnext, highest_modseq, created_at) VALUES (?, ?, ?, ?, ?, ?, 1, 1, ?)',
      id,
      accountId,
      n,
      specialUse,
      subscribed ? 1 : 0,
      uidValidity,
      at,
    );
    return { id, accountId, name: n, specialUse, subscribed, uidValidity, uidNext: 1, highestModseq: 1, createdAt: d(at) };
  }

  private accountSync(id: number): Account {
    const r = this.c.get<AccountRow>('SELECT * FROM accounts WHERE id = ?', id);
    if (!r) throw notFound(`tài khoản #${id}`, `Account #${id}`);
    return toAccount(r);
  }

  async createAccount(input: NewAccount, audit: AuditEntry): Promise<Account> {
    const { address, localPart, domain } = splitAddress(input.address);
    return this.tx(() => {
      if (this.addressTakenSync(address)) throw exists(`Địa chỉ ${address}`, `Address ${address}`);
      const at = this.c.now();
      const info = this.c.run(
        `INSERT INTO accounts (address, local_part, domain, kind, role, state, full_name, title, phone, unit_id, quota_bytes,
           password_hash, must_change, password_changed_at, created_at)
         VALUES (?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        address,
        localPart,
        domain,
        input.kind,
        input.role ?? 'none',
        input.fullName,
        input.title ?? null,
        input.phone ?? null,
        input.unitId,
        input.quotaBytes ?? null,
        input.passwordHash,
        input.mustChangePassword ? 1 : 0,
        at,
        at,
      );
      const id = Number(info.lastInsertRowid);
      for (const [name, use] of DEFAULT_MAILBOXES) this.createMailboxSync(id, name, use, true);
      this.c.audit(audit);
      this.c.event({ kind: 'mailboxes', accountId: id });
      return this.accountSync(id);
    });
  }

  async batch<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    if (this.joinsBatch()) return fn(this);
    await this.c.idle();
    let release!: () => void;
    const token = {};
    this.c.batch = { done: new Promise<void>((r) => (release = r)), token };
    const events: StoreEvent[] = [];
    this.c.events = events;
    const txStore = new SqliteStore(this.c, true);
    const ftsMark = this.c.ftsMark;
    try {
      this.c.checkWritable();
      this.c.db.exec('BEGIN IMMEDIATE');
      let result: T;
      try {
        result = await this.c.batchContext.run(token, () => fn(txStore));
      } catch (e) {
        if (this.c.db.inTransaction) this.c.db.exec('ROLLBACK');
        this.c.dropFts(ftsMark);
        throw e;
      }
      this.c.db.exec('COMMIT');
      this.c.forgetLookups();
      this.c.postFts();
      this.c.events = null;
      this.c.emit(events);
      await this.c.durable();
      return result;
    } finally {
      this.c.events = null;
      this.c.batch = null;
      release();
      this.c.scheduleIndex();
    }
  }

  async getAccount(id: number): Promise<Account | null> {
    return this.read(() => {
      const r = this.c.get<AccountRow>('SELECT * FROM accounts WHERE id = ?', id);
      return r ? toAccount(r) : null;
    });
  }

  async getAccountByAddress(address: string): Promise<Account | null> {
    const a = address.trim().toLowerCase();
    return this.read(() => {
      const r = this.c.get<AccountRow>('SELECT * FROM accounts WHERE address = ?', a);
      return r ? toAccount(r) : null;
    });
  }

  async findAccountsByLocalPart(localPart: string): Promise<Account[]> {
    const l = localPart.trim().toLowerCase();
    return this.read(() => this.c.all<AccountRow>('SELECT * FROM accounts WHERE local_part = ? ORDER BY id', l).map(toAccount));
  }

  async listAccounts(filter: { unitId?: number; state?: AccountState; domain?: string } = {}): Promise<Account[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.unitId !== undefined) {
      where.push('unit_id = ?');
      params.push(filter.unitId);
    }
    if (filter.state !== undefined) {
      where.push('state = ?');
      params.push(filter.state);
    }
    if (filter.domain !== undefined) {
      where.push('domain = ?');
      params.push(filter.domain.toLowerCase());
    }
    const sql = `SELECT * FROM accounts${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY id`;
    return this.read(() => this.c.all<AccountRow>(sql, ...params).map(toAccount));
  }

  async updateAccount(id: number, patch: AccountPatch, audit: AuditEntry | null): Promise<Account> {
    const cols: Record<keyof AccountPatch, string> = {
      state: 'state',
      stateReason: 'state_reason',
      stateChangedAt: 'state_changed_at',
      stateRef: 'state_ref',
      fullName: 'full_name',
      title: 'title',
      phone: 'phone',
      unitId: 'unit_id',
      quotaBytes: 'quota_bytes',
      passwordHash: 'password_hash',
      mustChangePassword: 'must_change',
      passwordChangedAt: 'password_changed_at',
      totpSecret: 'totp_secret',
      smsTwoFactor: 'sms_2fa',
      lastLoginAt: 'last_login_at',
      role: 'role',
    };
    const sets: string[] = [];
    const params: unknown[] = [];
    for (const [k, v] of Object.entries(patch) as Array<[keyof AccountPatch, unknown]>) {
      if (v === undefined) continue;
      const col = cols[k];
      if (!col) continue;
      sets.push(`${col} = ?`);
      params.push(v instanceof Date ? v.getTime() : typeof v === 'boolean' ? (v ? 1 : 0) : v);
    }
    return this.tx(() => {
      const before = this.accountSync(id);
      if (sets.length > 0) this.c.db.prepare(`UPDATE accounts SET ${sets.join(', ')} WHERE id = ?`).run(...params, id);
      if (audit) this.c.audit(audit);
      return sets.length > 0 ? this.accountSync(id) : before;
    });
  }

  async addressTaken(address: string): Promise<boolean> {
    const a = address.trim().toLowerCase();
    return this.tx(() => this.addressTakenSync(a));
  }

  async purgeAccount(id: number, audit: AuditEntry): Promise<void> {
    return this.tx(() => {
      this.accountSync(id);
      const boxes = this.c.all<{ id: number }>('SELECT id FROM mailboxes WHERE account_id = ?', id);
      for (const b of boxes) {
        this.c.run('DELETE FROM messages WHERE mailbox_id = ?', b.id);
        this.c.run('DELETE FROM expunged WHERE mailbox_id = ?', b.id);
      }
      this.c.run('DELETE FROM mailboxes WHERE account_id = ?', id);
      // Removed completely (NB Đ7.1): with the mail go the secrets and personal details kept for
      // signing in (app passwords, second factor, phone) and its delegations. The row stays: the
      // address is never given out again, and the audit names it.
      this.c.run('DELETE FROM app_passwords WHERE account_id = ?', id);
      this.c.run('DELETE FROM delegations WHERE account_id = ? OR unit_account_id = ?', id, id);
      this.c.run('UPDATE accounts SET used_bytes = 0, totp_secret = NULL, sms_2fa = 0, phone = NULL WHERE id = ?', id);
      this.c.audit(audit);
      this.c.event({ kind: 'mailboxes', accountId: id });
    });
  }

  // ───── aliases and delegation ─────

  async addAlias(alias: string, accountId: number, audit: AuditEntry): Promise<void> {
    const { address } = splitAddress(alias);
    return this.tx(() => {
      this.accountSync(accountId);
      if (this.addressTakenSync(address)) throw exists(`Địa chỉ ${address}`, `Address ${address}`);
      this.c.run('INSERT INTO aliases (address, account_id, created_at) VALUES (?, ?, ?)', address, accountId, this.c.now());
      this.c.audit(audit);
    });
  }

  async removeAlias(alias: string, audit: AuditEntry): Promise<void> {
    const a = alias.trim().toLowerCase();
    return this.tx(() => {
      if (this.c.run('DELETE FROM aliases WHERE address = ?', a).changes === 0) throw notFound(`bí danh ${a}`, `Alias ${a}`);
      this.c.audit(audit);
    });
  }

  async listAliases(accountId: number): Promise<string[]> {
    return this.read(() => this.c.all<{ address: string }>('SELECT address FROM aliases WHERE account_id = ? ORDER BY address', accountId).map((r) => r.address));
  }

  /**
   * A read delivery repeats for every message, answered from Core's lookups while nothing could
   * have changed it (found answers only: a missing account or mailbox is read again each time).
   */
  private async lookup<T extends object | number>(key: string, load: () => T | null): Promise<T | null> {
    if (!this.joinsBatch()) {
      this.c.checkOpen();
      const hit = this.c.lookupHit(key) as T | undefined;
      if (hit !== undefined) return hit;
    }
    return this.read(() => {
      const v = load();
      if (v !== null && !this.joinsBatch()) this.c.remember(key, v);
      return v;
    });
  }

  async resolveAddress(address: string): Promise<Account | null> {
    const a = address.trim().toLowerCase();
    const account = await this.lookup(`address:${a}`, () => {
      const r =
        this.c.get<AccountRow>('SELECT * FROM accounts WHERE address = ?', a) ??
        this.c.get<AccountRow>('SELECT accounts.* FROM aliases JOIN accounts ON accounts.id = aliases.account_id WHERE aliases.address = ?', a);
      return r ? toAccount(r) : null;
    });
    return account && { ...account }; // a copy: the remembered one must not be changed by a caller
  }

  async addDelegation(unitAccountId: number, accountId: number, audit: AuditEntry): Promise<void> {
    return this.tx(() => {
      const unit = this.accountSync(unitAccountId);
      this.accountSync(accountId);
      if (unit.kind !== 'unit') throw invalid(`${unit.address} không phải hộp thư đơn vị`, `${unit.address} is not a unit mailbox`);
      if (this.c.get('SELECT 1 FROM delegations WHERE unit_account_id = ? AND account_id = ?', unitAccountId, accountId)) {
        throw exists('Quyền ủy quyền', 'Delegation');
      }
      this.c.run('INSERT INTO delegations (unit_account_id, account_id, created_at) VALUES (?, ?, ?)', unitAccountId, accountId, this.c.now());
      this.c.audit(audit);
    });
  }

  async removeDelegation(unitAccountId: number, accountId: number, audit: AuditEntry): Promise<void> {
    return this.tx(() => {
      if (this.c.run('DELETE FROM delegations WHERE unit_account_id = ? AND account_id = ?', unitAccountId, accountId).changes === 0) {
        throw notFound('quyền ủy quyền', 'Delegation');
      }
      this.c.audit(audit);
    });
  }

  async listDelegatedTo(accountId: number): Promise<Account[]> {
    return this.read(() =>
      this.c
        .all<AccountRow>('SELECT accounts.* FROM delegations JOIN accounts ON accounts.id = delegations.unit_account_id WHERE delegations.account_id = ? ORDER BY accounts.id', accountId)
        .map(toAccount),
    );
  }

  // ───── app passwords ─────

  async addAppPassword(accountId: number, label: string, hash: string, hint: string | null = null): Promise<AppPassword> {
    return this.tx(() => {
      this.accountSync(accountId);
      const at = this.c.now();
      const id = this.nextId('app_passwords');
      this.c.run('INSERT INTO app_passwords (id, account_id, label, hash, hint, created_at) VALUES (?, ?, ?, ?, ?, ?)', id, accountId, label, hash, hint, at);
      return { id, accountId, label, hash, hint, createdAt: d(at), lastUsedAt: null };
    });
  }

  async listAppPasswords(accountId: number): Promise<AppPassword[]> {
    return this.read(() =>
      this.c
        .all<{ id: number; account_id: number; label: string; hash: string; hint: string | null; created_at: number; last_used_at: number | null }>(
          'SELECT * FROM app_passwords WHERE account_id = ? ORDER BY id',
          accountId,
        )
        .map((r) => ({ id: r.id, accountId: r.account_id, label: r.label, hash: r.hash, hint: r.hint, createdAt: d(r.created_at), lastUsedAt: dn(r.last_used_at) })),
    );
  }

  async removeAppPassword(accountId: number, id: number): Promise<void> {
    return this.tx(() => {
      if (this.c.run('DELETE FROM app_passwords WHERE id = ? AND account_id = ?', id, accountId).changes === 0) {
        throw notFound(`mật khẩu ứng dụng #${id}`, `App password #${id}`);
      }
    });
  }

  async touchAppPassword(id: number, at: Date): Promise<void> {
    return this.tx(() => {
      this.c.run('UPDATE app_passwords SET last_used_at = ? WHERE id = ?', at.getTime(), id);
    });
  }

  // ───── audit ─────

  async audit(entry: AuditEntry): Promise<void> {
    return this.tx(() => this.c.audit(entry));
  }

  async listAudit(filter: { actor?: string; target?: string; action?: string; since?: Date; limit?: number } = {}): Promise<AuditRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.action !== undefined) {
      where.push('action = ?');
      params.push(filter.action);
    }
    if (filter.actor !== undefined) {
      where.push('actor = ?');
      params.push(filter.actor);
    }
    if (filter.target !== undefined) {
      where.push('target = ?');
      params.push(filter.target);
    }
    if (filter.since !== undefined) {
      where.push('at >= ?');
      params.push(filter.since.getTime());
    }
    params.push(filter.limit ?? 1000);
    const sql = `SELECT * FROM audit_log${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY at DESC, id DESC LIMIT ?`;
    return this.read(() =>
      this.c
        .all<{ id: number; at: number; actor: string; action: string; target: string; ref: string | null; details: string | null }>(sql, ...params)
        .map((r) => {
          const rec: AuditRecord = { id: r.id, at: d(r.at), actor: r.actor, action: r.action, target: r.target, ref: r.ref };
          if (r.details !== null) rec.details = JSON.parse(r.details) as Record<string, unknown>;
          return rec;
        }),
    );
  }

  // ───── mailboxes ─────

  private mailboxSync(id: number): MailboxRow {
    const r = this.c.get<MailboxRow>('SELECT * FROM mailboxes WHERE id = ?', id);
    if (!r) throw notFound(`thư mục #${id}`, `Mailbox #${id}`);
    return r;
  }

  private mailboxByName(accountId: number, name: string): MailboxRow {
    const n = normalizeMailboxName(name);
    const r = this.c.get<MailboxRow>('SELECT * FROM mailboxes WHERE account_id = ? AND name = ?', accountId, n);
    if (!r) throw notFound(`thư mục "${n}"`, `Mailbox "${n}"`);
    return r;
  }

  async listMailboxes(accountId: number): Promise<Mailbox[]> {
    return this.read(() => this.c.all<MailboxRow>('SELECT * FROM mailboxes WHERE account_id = ? ORDER BY name', accountId).map(toMailbox));
  }

  async getMailbox(accountId: number, name: string): Promise<Mailbox | null> {
    const n = normalizeMailboxName(name);
    return this.read(() => {
      const r = this.c.get<MailboxRow>('SELECT * FROM mailboxes WHERE account_id = ? AND name = ?', accountId, n);
      return r ? toMailbox(r) : null;
    });
  }

  async mailboxId(accountId: number, name: string): Promise<number | null> {
    const n = normalizeMailboxName(name);
    return this.lookup(`mailbox:${accountId}:${n}`, () => this.c.get<{ id: number }>('SELECT id FROM mailboxes WHERE account_id = ? AND name = ?', accountId, n)?.id ?? null);
  }

  async getMailboxById(id: number): Promise<Mailbox | null> {
    return this.read(() => {
      const r = this.c.get<MailboxRow>('SELECT * FROM mailboxes WHERE id = ?', id);
      return r ? toMailbox(r) : null;
    });
  }

  async createMailbox(accountId: number, name: string, opts: { specialUse?: SpecialUse | null; subscribed?: boolean } = {}): Promise<Mailbox> {
    return this.tx(() => {
      // A deleted account gets no new mailbox: a session still open when its mail was purged
      // (until its next sign-in check) must not store mail again.
      const account = this.accountSync(accountId);
      if (account.state === 'deleted') throw new MailError('NOT_FOUND', bi(`Tài khoản ${account.address} đã bị xóa`, `The account ${account.address} is deleted`));
      const mb = this.createMailboxSync(accountId, name, opts.specialUse ?? null, opts.subscribed ?? false);
      this.c.event({ kind: 'mailboxes', accountId });
      return mb;
    });
  }

  async renameMailbox(accountId: number, from: string, to: string): Promise<void> {
    const src = normalizeMailboxName(from);
    const dst = normalizeMailboxName(to);
    checkMailboxName(dst);
    return this.tx(() => {
      const source = this.mailboxByName(accountId, src);
      if (src === dst) throw exists(`Thư mục "${dst}"`, `Mailbox "${dst}"`);
      if (dst === 'INBOX') throw invalid('Không thể đổi tên thành INBOX', 'Cannot rename to INBOX');
      if (this.c.get('SELECT 1 FROM mailboxes WHERE account_id = ? AND name = ?', accountId, dst)) throw exists(`Thư mục "${dst}"`, `Mailbox "${dst}"`);
      if (src === 'INBOX') {
        // RFC 3501 §6.3.5: renaming INBOX moves its messages to the new mailbox; INBOX stays, empty; its children stay.
        const target = this.createMailboxSync(accountId, dst, null, source.subscribed !== 0);
        const uids = this.c.all<{ uid: number }>('SELECT uid FROM messages WHERE mailbox_id = ? ORDER BY uid', source.id).map((r) => r.uid);
        if (uids.length > 0) {
          this.copySync(source.id, uids, target.id, null);
          this.expungeSync(source.id, uids, undefined);
        }
        this.c.event({ kind: 'mailboxes', accountId });
        return;
      }
      if (dst.startsWith(src + '/')) throw invalid('Không thể chuyển thư mục vào chính nó', 'Cannot move a mailbox into itself');
      const moving = this.c.all<{ id: number; name: string }>(
        'SELECT id, name FROM mailboxes WHERE account_id = ? AND (name = ? OR substr(name, 1, ?) = ?)',
        accountId,
        src,
        src.length + 1,
        src + '/',
      );
      for (const m of moving) {
        const newName = dst + m.name.slice(src.length);
        if (this.c.get('SELECT 1 FROM mailboxes WHERE account_id = ? AND name = ?', accountId, newName)) throw exists(`Thư mục "${newName}"`, `Mailbox "${newName}"`);
      }
      // Two passes so a child's new name never collides with a not-yet-renamed sibling.
      for (const m of moving) this.c.run('UPDATE mailboxes SET name = ? WHERE id = ?', `\u0000tmp${m.id}`, m.id);
      for (const m of moving) this.c.run('UPDATE mailboxes SET name = ? WHERE id = ?', dst + m.name.slice(src.length), m.id);
      this.c.event({ kind: 'mailboxes', accountId });
    });
  }

  async deleteMailbox(accountId: number, name: string): Promise<void> {
    const n = normalizeMailboxName(name);
    return this.tx(() => {
      if (n === 'INBOX') throw new MailError('PERMISSION_DENIED', bi('Không thể xóa INBOX', 'INBOX cannot be deleted'));
      const mb = this.mailboxByName(accountId, n);
      this.c.run('DELETE FROM messages WHERE mailbox_id = ?', mb.id);
      this.c.run('DELETE FROM mailboxes WHERE id = ?', mb.id);
      this.c.event({ kind: 'mailboxes', accountId });
    });
  }

  async setSubscribed(accountId: number, name: string, subscribed: boolean): Promise<void> {
    return this.tx(() => {
      const mb = this.mailboxByName(accountId, name);
      this.c.run('UPDATE mailboxes SET subscribed = ? WHERE id = ?', subscribed ? 1 : 0, mb.id);
      this.c.event({ kind: 'mailboxes', accountId });
    });
  }

  /** O(1): counters kept by triggers on messages (migrations 3 and 5). */
  async mailboxStatus(mailboxId: number): Promise<MailboxStatus> {
    return this.read(() => {
      const mb = this.c.get<MailboxRow & { msg_count: number; msg_bytes: number; unseen_count: number; recent_count: number }>(
        'SELECT * FROM mailboxes WHERE id = ?',
        mailboxId,
      );
      if (!mb) throw notFound(`thư mục #${mailboxId}`, `Mailbox #${mailboxId}`);
      return {
        messages: mb.msg_count,
        unseen: mb.unseen_count,
        recent: mb.recent_count,
        size: mb.msg_bytes,
        uidNext: mb.uidnext,
        uidValidity: mb.uidvalidity,
        highestModseq: mb.highest_modseq,
      };
    });
  }

  async claimRecent(mailboxId: number, opts: { peek?: boolean } = {}): Promise<RecentRange> {
    const work = (): RecentRange => {
      const mb = this.c.get<{ recent_uid: number; uidnext: number }>('SELECT recent_uid, uidnext FROM mailboxes WHERE id = ?', mailboxId);
      if (!mb) throw notFound(`thư mục #${mailboxId}`, `Mailbox #${mailboxId}`);
      const range = { first: mb.recent_uid + 1, last: mb.uidnext - 1 };
      // Every message has a UID below UIDNEXT, so none is left above the new mark.
      if (!opts.peek && range.last >= range.first) this.c.run('UPDATE mailboxes SET recent_uid = ?, recent_count = 0 WHERE id = ?', range.last, mailboxId);
      return range;
    };
    if (this.joinsBatch()) {
      this.c.checkOpen();
      return this.c.transact(work);
    }
    await this.c.idle();
    // The cheap path on purpose: committed (so atomic against every other session and process,
    // BEGIN IMMEDIATE), but not followed by Core.durable(). With synchronous=NORMAL the commit
    // is in the WAL, in the OS cache: it survives a crash of the process, and the next write
    // that awaits durable() fsyncs it along (the WAL is written in order). Only a power cut
    // before then loses it, and the loss is harmless: the mark falls back and those messages
    // show as \Recent once more. SELECT does not wait for a disk flush.
    return this.c.transact(work);
  }

  // ───── messages ─────

  private usedBytes(accountId: number): number {
    return this.c.get<{ used_bytes: number }>('SELECT used_bytes FROM accounts WHERE id = ?', accountId)?.used_bytes ?? 0;
  }

  /** One delivery: blob row if new, then one message row per target. Runs inside a (savepoint) transaction. */
  private deliverSync(input: StoreMessageInput, blob: PreparedBlob, flagsByTarget: string[]): StoredCopy[] {
    this.c.ensureBlobRow(blob.hash, input.raw, blob.inline, { envelope: input.envelope, structure: input.structure, imap: input.imap });
    const size = input.raw.length;
    const copies: StoredCopy[] = [];
    input.targets.forEach((t, i) => {
      const mb = this.mailboxSync(t.mailboxId);
      const used = this.usedBytes(mb.account_id);
      if (t.quotaBytes !== null && used + size > t.quotaBytes) {
        throw overQuota({ mailboxId: t.mailboxId, accountId: mb.account_id, size, quotaBytes: t.quotaBytes });
      }
      const uid = mb.uidnext;
      const modseq = mb.highest_modseq + 1;
      this.c.run(
        'INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, size, blob_id) VALUES (?, ?, ?, ?, ?, ?, ?)',
        mb.id,
        uid,
        modseq,
        flagsByTarget[i] ?? '',
        input.internalDate.getTime(),
        size,
        blob.hash,
      );
      this.c.run('UPDATE mailboxes SET uidnext = ?, highest_modseq = ? WHERE id = ?', uid + 1, modseq, mb.id);
      copies.push({ mailboxId: mb.id, uid, uidValidity: mb.uidvalidity, modseq, usedBytes: used + size });
      this.c.event({ kind: 'added', accountId: mb.account_id, mailboxId: mb.id, uids: [uid], modseq });
    });
    if (input.sendLog) this.c.logSendSync(input.sendLog);
    return copies;
  }

  async storeMessage(input: StoreMessageInput): Promise<StoredCopy[]> {
    this.c.checkAccepting();
    if (input.targets.length === 0) throw invalid('Thư không có hộp thư đích', 'No target mailbox for the message');
    const flags = input.targets.map((t) => formatFlags(t.flags ?? []));
    const blob = await this.c.prepareBlob(input.raw);
    try {
      if (this.joinsBatch()) {
        this.c.checkOpen();
        return this.c.transact(() => this.deliverSync(input, blob, flags));
      }
      return await this.c.enqueueWrite(() => this.deliverSync(input, blob, flags));
    } finally {
      blob.release();
    }
  }

  async storeMessages(input: StoreMessagesInput): Promise<StoredMessages> {
    this.c.checkAccepting();
    const { messages, enqueue: item } = input;
    if (messages.length === 0 && !item) throw invalid('Không có thư để lưu', 'Nothing to store');
    if (messages.some((m) => m.targets.length === 0)) throw invalid('Thư không có hộp thư đích', 'No target mailbox for the message');
    if (item && item.recipients.length === 0) throw invalid('Thư không có người nhận', 'No recipients');
    const flags = messages.map((m) => m.targets.map((t) => formatFlags(t.flags ?? [])));
    // Every blob durable (large ones fsynced) before the one commit that references them all.
    const prepared = await Promise.allSettled([...messages.map((m) => this.c.prepareBlob(m.raw)), ...(item ? [this.c.prepareBlob(item.raw)] : [])]);
    const blobs = prepared.flatMap((p) => (p.status === 'fulfilled' ? [p.value] : []));
    try {
      const failed = prepared.find((p): p is PromiseRejectedResult => p.status === 'rejected');
      if (failed) throw failed.reason;
      const work = (): StoredMessages => ({
        copies: messages.map((m, i) => this.deliverSync(m, blobs[i] as PreparedBlob, flags[i] ?? [])),
        queued: item ? this.enqueueSync(item, blobs[messages.length] as PreparedBlob) : null,
      });
      if (this.joinsBatch()) {
        this.c.checkOpen();
        return this.c.transact(work);
      }
      // One savepoint in the group commit: a failure of any part rolls back every part.
      return await this.c.enqueueWrite(work);
    } finally {
      for (const b of blobs) b.release();
    }
  }

  async listMessages(mailboxId: number): Promise<MessageMeta[]> {
    return this.read(() => {
      const rows = this.c
        .q('SELECT uid, modseq, flags, internal_date, size, blob_id FROM messages WHERE mailbox_id = ? ORDER BY uid')
        .raw(true)
        .all(mailboxId) as Array<[number, number, string, number, number, string]>;
      const out: MessageMeta[] = new Array<MessageMeta>(rows.length);
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i] as [number, number, string, number, number, string];
        out[i] = { uid: r[0], modseq: r[1], flags: parseFlags(r[2]), internalDate: new Date(r[3]), size: r[4], blobId: r[5] };
      }
      return out;
    });
  }

  async listMessageIndex(mailboxId: number): Promise<MessageIndex> {
    return this.read(() => {
      const rows = this.c
        .q('SELECT uid, modseq, flags, size FROM messages WHERE mailbox_id = ? ORDER BY uid')
        .raw(true)
        .all(mailboxId) as Array<[number, number, string, number]>;
      const n = rows.length;
      const out: MessageIndex = { uids: new Array<number>(n), modseqs: new Array<number>(n), flags: new Array<string>(n), sizes: new Array<number>(n) };
      for (let i = 0; i < n; i++) {
        const r = rows[i] as [number, number, string, number];
        out.uids[i] = r[0];
        out.modseqs[i] = r[1];
        out.flags[i] = r[2];
        out.sizes[i] = r[3];
      }
      return out;
    });
  }

  async getMessageDetails(mailboxId: number, uids: number[], opts: DetailOptions = {}): Promise<MessageDetail[]> {
    const sorted = [...new Set(uids)].sort((a, b) => a - b);
    if (sorted.length === 0) return [];
    const lo = sorted[0] as number;
    const hi = sorted[sorted.length - 1] as number;
    // One range query when the UIDs are dense (FETCH 1:N); one lookup each when sparse.
    const dense = hi - lo + 1 <= sorted.length * 4;
    // Only the columns asked for: a blob row is large (inline bytes, JSON), each column read costs.
    const want = new Set(opts.rendered ?? ['envelope', 'body', 'bodyStructure']);
    const rendered = (k: 'envelope' | 'body' | 'bodyStructure', col: string): string => (want.has(k) ? `b.${col}` : 'NULL');
    const probe = want.has('envelope') ? 'b.imap_envelope' : want.has('bodyStructure') ? 'b.imap_bodystructure' : 'b.imap_body';
    const json = opts.parsed === false && want.size > 0 ? (c: string): string => `CASE WHEN ${probe} IS NULL THEN b.${c} END` : (c: string): string => `b.${c}`;
    const cols = `m.uid, m.modseq, m.flags, m.internal_date, m.size, m.blob_id, ${json('envelope')}, ${json('structure')}, ${rendered('envelope', 'imap_envelope')}, ${rendered('body', 'imap_body')}, ${rendered('bodyStructure', 'imap_bodystructure')}, ${opts.bytes ? 'b.data' : 'NULL'}`;
    const load = (blobId: string): { envelope: string; structure: string } =>
      this.c.q('SELECT envelope, structure FROM blobs WHERE id = ?').get(blobId) as { envelope: string; structure: string };
    return this.read(() => {
      const out: MessageDetail[] = [];
      if (dense) {
        const want = hi - lo + 1 === sorted.length ? null : new Set(sorted);
        const rows = this.c
          .q(`SELECT ${cols} FROM messages m JOIN blobs b ON b.id = m.blob_id WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ? ORDER BY m.uid`)
          .raw(true)
          .all(mailboxId, lo, hi) as DetailRow[];
        for (const r of rows) {
          if (want && !want.has(r[0])) continue;
          const dt = toDetail(r, load);
          if (dt) out.push(dt);
        }
        return out;
      }
      const st = this.c.q(`SELECT ${cols} FROM messages m JOIN blobs b ON b.id = m.blob_id WHERE m.mailbox_id = ? AND m.uid = ?`).raw(true);
      for (const uid of sorted) {
        const r = st.get(mailboxId, uid) as DetailRow | undefined;
        const dt = r ? toDetail(r, load) : null;
        if (dt) out.push(dt);
      }
      return out;
    });
  }

  async readBlob(blobId: string, range?: { start: number; end: number }): Promise<Buffer> {
    const row = await this.read(() => this.c.get<{ data: Buffer | null; size: number }>('SELECT data, size FROM blobs WHERE id = ?', blobId));
    if (!row) throw notFound(`dữ liệu thư ${blobId}`, `Blob ${blobId}`);
    if (row.data !== null) {
      if (!range) return row.data;
      const start = Math.max(0, Math.min(range.start, row.data.length));
      const end = Math.max(start, Math.min(range.end, row.data.length));
      return row.data.subarray(start, end);
    }
    return this.c.blobs.read(blobId, range);
  }

  streamBlob(blobId: string, range?: { start: number; end: number }): Readable {
    this.c.checkOpen();
    const row = this.c.get<{ inline: number }>('SELECT data IS NOT NULL AS inline FROM blobs WHERE id = ?', blobId);
    if (!row) {
      const r = new Readable({ read() {} });
      process.nextTick(() => r.destroy(notFound(`dữ liệu thư ${blobId}`, `Blob ${blobId}`)));
      return r;
    }
    if (row.inline) {
      const data = this.c.get<{ data: Buffer }>('SELECT data FROM blobs WHERE id = ?', blobId)?.data ?? Buffer.alloc(0);
      const start = range ? Math.max(0, Math.min(range.start, data.length)) : 0;
      const end = range ? Math.max(start, Math.min(range.end, data.length)) : data.length;
      return Readable.from([data.subarray(start, end)], { objectMode: false });
    }
    return this.c.blobs.stream(blobId, range);
  }

  private applyFlags(current: string[], op: FlagOp, flags: string[]): string {
    switch (op) {
      case 'set':
        return formatFlags(flags);
      case 'add':
        return formatFlags([...current, ...flags]);
      case 'remove': {
        const drop = new Set(flags.map((f) => normalizeFlag(f).toLowerCase()));
        return formatFlags(current.filter((f) => !drop.has(f.toLowerCase())));
      }
    }
  }

  async setFlags(
    mailboxId: number,
    uids: number[],
    op: FlagOp,
    flags: string[],
    opts: { unchangedSince?: number; origin?: unknown } = {},
  ): Promise<{ changes: FlagChange[]; failed: number[] }> {
    const sorted = [...new Set(uids)].sort((a, b) => a - b);
    return this.tx(() => {
      const mb = this.mailboxSync(mailboxId);
      let modseq = mb.highest_modseq;
      const changes: FlagChange[] = [];
      const failed: number[] = [];
      for (const uid of sorted) {
        const r = this.c.get<{ modseq: number; flags: string }>('SELECT modseq, flags FROM messages WHERE mailbox_id = ? AND uid = ?', mailboxId, uid);
        if (!r) continue;
        if (opts.unchangedSince !== undefined && r.modseq > opts.unchangedSince) {
          failed.push(uid);
          continue;
        }
        const next = this.applyFlags(parseFlags(r.flags), op, flags);
        if (next === r.flags) continue;
        modseq++;
        this.c.run('UPDATE messages SET flags = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?', next, modseq, mailboxId, uid);
        changes.push({ uid, flags: parseFlags(next), modseq });
      }
      if (changes.length > 0) {
        this.c.run('UPDATE mailboxes SET highest_modseq = ? WHERE id = ?', modseq, mailboxId);
        const e: StoreEvent = { kind: 'flags', accountId: mb.account_id, mailboxId, changes, modseq };
        if (opts.origin !== undefined) e.origin = opts.origin;
        this.c.event(e);
      }
      return { changes, failed };
    });
  }

  private expungeSync(mailboxId: number, uids: number[] | undefined, origin: unknown, onlyDeleted = false): number[] {
    const mb = this.mailboxSync(mailboxId);
    let targets: number[];
    if (uids === undefined) {
      targets = this.c
        .all<{ uid: number }>("SELECT uid FROM messages WHERE mailbox_id = ? AND instr(' ' || flags || ' ', ' \\Deleted ') > 0 ORDER BY uid", mailboxId)
        .map((r) => r.uid);
    } else {
      const sql = onlyDeleted
        ? "SELECT 1 FROM messages WHERE mailbox_id = ? AND uid = ? AND instr(' ' || flags || ' ', ' \\Deleted ') > 0"
        : 'SELECT 1 FROM messages WHERE mailbox_id = ? AND uid = ?';
      targets = [...new Set(uids)].sort((a, b) => a - b).filter((uid) => !!this.c.get(sql, mailboxId, uid));
    }
    if (targets.length === 0) return [];
    const modseq = mb.highest_modseq + 1;
    for (const uid of targets) {
      this.c.run('DELETE FROM messages WHERE mailbox_id = ? AND uid = ?', mailboxId, uid);
      this.c.run('INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?)', mailboxId, uid, modseq);
    }
    this.c.run('UPDATE mailboxes SET highest_modseq = ? WHERE id = ?', modseq, mailboxId);
    const e: StoreEvent = { kind: 'expunged', accountId: mb.account_id, mailboxId, uids: targets, modseq };
    if (origin !== undefined) e.origin = origin;
    this.c.event(e);
    return targets;
  }

  async expunge(mailboxId: number, uids?: number[], opts: { origin?: unknown; onlyDeleted?: boolean } = {}): Promise<number[]> {
    return this.tx(() => this.expungeSync(mailboxId, uids, opts.origin, opts.onlyDeleted ?? false));
  }

  private copySync(fromMailboxId: number, uids: number[], toMailboxId: number, quotaBytes: number | null): CopyResult & { moved: number[] } {
    this.mailboxSync(fromMailboxId);
    const target = this.mailboxSync(toMailboxId);
    const rows: MessageRow[] = [];
    for (const uid of [...new Set(uids)].sort((a, b) => a - b)) {
      const r = this.c.get<MessageRow>('SELECT uid, modseq, flags, internal_date, size, blob_id FROM messages WHERE mailbox_id = ? AND uid = ?', fromMailboxId, uid);
      if (r) rows.push(r);
    }
    const total = rows.reduce((s, r) => s + r.size, 0);
    if (quotaBytes !== null && rows.length > 0 && this.usedBytes(target.account_id) + total > quotaBytes) {
      throw overQuota({ mailboxId: toMailboxId, size: total, quotaBytes });
    }
    let uid = target.uidnext;
    let modseq = target.highest_modseq;
    const mapping: Array<[number, number]> = [];
    for (const r of rows) {
      modseq++;
      this.c.run(
        'INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, size, blob_id) VALUES (?, ?, ?, ?, ?, ?, ?)',
        toMailboxId,
        uid,
        modseq,
        r.flags,
        r.internal_date,
        r.size,
        r.blob_id,
      );
      mapping.push([r.uid, uid]);
      uid++;
    }
    if (rows.length > 0) {
      this.c.run('UPDATE mailboxes SET uidnext = ?, highest_modseq = ? WHERE id = ?', uid, modseq, toMailboxId);
      this.c.event({ kind: 'added', accountId: target.account_id, mailboxId: toMailboxId, uids: mapping.map((m) => m[1]), modseq });
    }
    return { uidValidity: target.uidvalidity, mapping, moved: rows.map((r) => r.uid) };
  }

  async copyMessages(fromMailboxId: number, uids: number[], toMailboxId: number, quotaBytes: number | null, opts: { allOrNothing?: boolean } = {}): Promise<CopyResult> {
    return this.tx(() => {
      const r = this.copySync(fromMailboxId, uids, toMailboxId, quotaBytes);
      if (opts.allOrNothing) allCopied(uids, r.mapping);
      return { uidValidity: r.uidValidity, mapping: r.mapping };
    });
  }

  async moveMessages(fromMailboxId: number, uids: number[], toMailboxId: number, quotaBytes: number | null, opts: { origin?: unknown; allOrNothing?: boolean } = {}): Promise<CopyResult> {
    return this.tx(() => {
      const from = this.mailboxSync(fromMailboxId);
      const to = this.mailboxSync(toMailboxId);
      // Within one account a move does not change usage: no quota check then.
      const quota = from.account_id === to.account_id ? null : quotaBytes;
      const r = this.copySync(fromMailboxId, uids, toMailboxId, quota);
      if (opts.allOrNothing) allCopied(uids, r.mapping);
      if (r.moved.length > 0) this.expungeSync(fromMailboxId, r.moved, opts.origin);
      return { uidValidity: r.uidValidity, mapping: r.mapping };
    });
  }

  async changesSince(mailboxId: number, modseq: number): Promise<MailboxChanges> {
    return this.read(() => {
      const mb = this.mailboxSync(mailboxId);
      const changed = this.c
        .all<MessageRow>('SELECT uid, modseq, flags, internal_date, size, blob_id FROM messages WHERE mailbox_id = ? AND modseq > ? ORDER BY uid', mailboxId, modseq)
        .map(toMeta);
      const expunged = this.c.all<{ uid: number }>('SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid', mailboxId, modseq).map((r) => r.uid);
      return { highestModseq: mb.highest_modseq, changed, expunged };
    });
  }

  /**
   * Full-text search over FTS5 with the trigram tokenizer (fts.ts): a term matches any SUBSTRING
   * of the field (IMAP SEARCH semantics); terms come folded like the indexed text. Terms of 3+
   * characters use the trigram index (MATCH); shorter ones fall back to instr() over the indexed
   * text. Runs on the index's read-only connection, after every committed row reached the index.
   */
  async searchText(mailboxId: number, terms: string[], field: 'text' | 'body' | 'subject' | 'from' | 'to' | 'cc' | 'bcc'): Promise<number[]> {
    const folded = terms.map((t) => t.trim()).filter((t) => t.length > 0);
    if (folded.length === 0) {
      return this.read(() => this.c.all<{ uid: number }>('SELECT uid FROM messages WHERE mailbox_id = ? ORDER BY uid', mailboxId).map((r) => r.uid));
    }
    const cols = field === 'text' ? ['subject', 'from', 'to', 'cc', 'bcc', 'body'] : [field];
    const match: string[] = [];
    const scans: string[] = [];
    const scanParams: string[] = [];
    for (const t of folded) {
      if ([...t].length >= 3) {
        const phrase = `"${t.replace(/"/g, '""')}"`;
        match.push(field === 'text' ? phrase : `"${field}" : ${phrase}`);
      } else {
        scans.push('(' + cols.map((c) => `instr(f."${c}", ?) > 0`).join(' OR ') + ')');
        for (let i = 0; i < cols.length; i++) scanParams.push(t);
      }
    }
    this.c.checkOpen();
    await this.c.ftsSynced();
    this.c.checkOpen();
    const db = this.c.fts.search();
    const mb = db.prepare('SELECT msg_count FROM store.mailboxes WHERE id = ?').get(mailboxId) as { msg_count: number } | undefined;
    if (!mb) throw notFound(`thư mục #${mailboxId}`, `Mailbox #${mailboxId}`);
    // Short terms are checked on this mailbox's rows only (FTS row fetched by rowid), never by scanning the index.
    const scanJoin = scans.length > 0 ? 'JOIN msg_fts f ON f.rowid = b.n' : '';
    const scanWhere = scans.map((x) => 'AND ' + x).join(' ');
    const expr = match.join(' AND ');
    if (match.length === 0 || mb.msg_count <= SEARCH_PER_ROW_MAX) {
      // Small mailbox (or no indexed term): test each of its messages against the index by rowid —
      // cost follows the mailbox size, not how common the term is across the whole server.
      const sql = `SELECT m.uid FROM store.messages m JOIN store.blobs b ON b.id = m.blob_id ${scanJoin}
                    WHERE m.mailbox_id = ?
                    ${match.length > 0 ? 'AND EXISTS (SELECT 1 FROM msg_fts WHERE msg_fts MATCH ? AND rowid = b.n)' : ''}
                    ${scanWhere}
                    ORDER BY m.uid`;
      const params: unknown[] = [mailboxId];
      if (match.length > 0) params.push(expr);
      params.push(...scanParams);
      return db.prepare(sql).pluck(true).all(...params) as number[];
    }
    // Large mailbox: the index gives the matching blobs (CROSS JOIN keeps that order), then each
    // hit's copies in this mailbox by messages_blob — cost follows the hits, never the mailbox
    // size. (msg_fts is server-wide: a blob's copies in other mailboxes are skipped here.)
    return db
      .prepare(
        `SELECT m.uid FROM msg_fts f CROSS JOIN store.blobs b CROSS JOIN store.messages m
          WHERE msg_fts MATCH ? AND b.n = f.rowid AND m.blob_id = b.id AND m.mailbox_id = ? ${scanWhere}
          ORDER BY m.uid`,
      )
      .pluck(true)
      .all(expr, mailboxId, ...scanParams) as number[];
  }

  async usage(accountId: number): Promise<number> {
    return this.read(() => this.usedBytes(accountId));
  }

  onEvent(listener: (e: StoreEvent) => void): () => void {
    this.c.listeners.add(listener);
    return () => {
      this.c.listeners.delete(listener);
    };
  }

  // ───── send log ─────

  async logSend(entries: SendLogEntry[]): Promise<void> {
    if (entries.length === 0) return;
    return this.tx(() => this.c.logSendSync(entries));
  }

  /** Exact address match (index), or "@domain" for every address of a domain. Newest first. */
  async searchSendLog(q: SendLogQuery): Promise<SendLogRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const addr = (col: string, v: string): void => {
      const a = v.trim().toLowerCase();
      if (a.startsWith('@')) {
        where.push(`${col} LIKE ? ESCAPE '\\'`);
        params.push('%' + a.replace(/[\\%_]/g, (m) => '\\' + m));
      } else {
        where.push(`${col} = ?`);
        params.push(a);
      }
    };
    if (q.sender !== undefined) addr('sender', q.sender);
    if (q.recipient !== undefined) addr('recipient', q.recipient);
    if (q.clientIp !== undefined) {
      where.push('client_ip = ?');
      params.push(q.clientIp);
    }
    if (q.since !== undefined) {
      where.push('at >= ?');
      params.push(q.since.getTime());
    }
    if (q.until !== undefined) {
      where.push('at < ?');
      params.push(q.until.getTime());
    }
    params.push(q.limit ?? 1000);
    const sql = `SELECT * FROM send_log${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY at DESC, id DESC LIMIT ?`;
    return this.read(() => this.c.all<SendLogRow>(sql, ...params).map(toSendLog));
  }

  async submissionTimes(account: string, since: Date): Promise<number[]> {
    // As the policy counts them: messages accepted (delivered or queued to someone); refusals,
    // deferrals (a 451 at RCPT or DATA) and quarantined ones are not. Submission gives every
    // accepted message a Message-ID.
    const sql = `SELECT MIN(at) AS at FROM send_log
      WHERE at >= ? AND direction = 'submission' AND account = ? AND outcome IN ('delivered', 'queued') AND message_id IS NOT NULL
      GROUP BY message_id ORDER BY 1`;
    return this.read(() => this.c.all<{ at: number }>(sql, since.getTime(), account.toLowerCase()).map((r) => r.at));
  }

  async pruneSendLog(before: Date): Promise<number> {
    return this.tx(() => this.c.run('DELETE FROM send_log WHERE at < ?', before.getTime()).changes);
  }

  // ───── sign-in history ─────

  async recordSignIn(e: SignInEntry): Promise<void> {
    const at = e.at.getTime();
    const day = Math.floor(at / 86_400_000);
    const ip = e.ip.slice(0, 64);
    const reason = e.reason === null ? null : e.reason.slice(0, 200);
    const via = e.via?.slice(0, 320) ?? null;
    const opened = e.opened?.slice(0, 320) ?? null;
    return this.tx(() => {
      // One row per kind of sign-in per day (migration 8): a repeat counts.
      const same = this.c.run(
        `UPDATE signin_log SET count = count + 1, at = max(at, ?), first_at = min(first_at, ?)
          WHERE account_id = ? AND day = ? AND ok = ? AND protocol = ? AND ip = ? AND method IS ? AND app_password_id IS ? AND reason IS ? AND via IS ? AND opened IS ?`,
        at,
        at,
        e.accountId,
        day,
        e.ok ? 1 : 0,
        e.protocol,
        ip,
        e.method,
        e.appPasswordId,
        reason,
        via,
        opened,
      );
      if (same.changes > 0) return;
      this.c.run(
        'INSERT INTO signin_log (account_id, day, first_at, at, protocol, ip, network, ok, method, app_password_id, reason, via, opened) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        e.accountId,
        day,
        at,
        at,
        e.protocol,
        ip,
        e.network.slice(0, 64),
        e.ok ? 1 : 0,
        e.method,
        e.appPasswordId,
        reason,
        via,
        opened,
      );
    });
  }

  async listSignIns(accountId: number, opts: { since?: Date; ok?: boolean; limit?: number } = {}): Promise<SignInRecord[]> {
    const where = ['account_id = ?'];
    const params: unknown[] = [accountId];
    if (opts.since !== undefined) {
      where.push('at >= ?');
      params.push(opts.since.getTime());
    }
    if (opts.ok !== undefined) {
      where.push('ok = ?');
      params.push(opts.ok ? 1 : 0);
    }
    params.push(Math.max(1, Math.min(opts.limit ?? 50, 1000)));
    const sql = `SELECT * FROM signin_log WHERE ${where.join(' AND ')} ORDER BY at DESC, id DESC LIMIT ?`;
    return this.read(() => this.c.all<SignInRow>(sql, ...params).map(toSignIn));
  }

  async signedInFrom(accountId: number, network: string, since: Date): Promise<boolean> {
    // A delegate's sign-in to a unit mailbox (via) is the delegate's network, not the mailbox's own.
    const sql = 'SELECT 1 AS one FROM signin_log WHERE account_id = ? AND network = ? AND ok = 1 AND at >= ? AND via IS NULL LIMIT 1';
    return this.read(() => this.c.get<{ one: number }>(sql, accountId, network.slice(0, 64), since.getTime()) !== undefined);
  }

  async accountsSignedIn(from: Date, to: Date): Promise<Set<number>> {
    // A row holds a day's alike sign-ins from first_at to at: it counts when that span meets [from, to).
    const sql = 'SELECT DISTINCT account_id FROM signin_log WHERE ok = 1 AND via IS NULL AND at >= ? AND first_at < ?';
    return this.read(() => new Set(this.c.all<{ account_id: number }>(sql, from.getTime(), to.getTime()).map((r) => r.account_id)));
  }

  async scanSendLog(from: Date, to: Date, visit: (row: SendLogRecord) => void): Promise<number> {
    // Keyset pages in index order (at, then rowid): each page its own short read, other work runs
    // between pages, so a quarter of millions of rows neither stalls the event loop nor holds a
    // snapshot (and the WAL) for the whole scan. Rows only get added and pruned meanwhile.
    const sql = 'SELECT * FROM send_log WHERE at >= ? AND at < ? AND (at > ? OR id > ?) ORDER BY at, id LIMIT ?';
    let at = from.getTime();
    let id = -1;
    let seen = 0;
    for (;;) {
      const page = await this.read(() => this.c.all<SendLogRow>(sql, at, to.getTime(), at, id, SCAN_PAGE_ROWS));
      for (const r of page) {
        let findings: string[] = [];
        if (r.findings !== '[]') {
          try {
            const parsed: unknown = JSON.parse(r.findings);
            if (Array.isArray(parsed)) findings = parsed.filter((f): f is string => typeof f === 'string');
          } catch {
            // A row written by hand or damaged: its findings are left out, the row still counts.
          }
        }
        r.findings = '[]';
        const record = toSendLog(r);
        record.findings = findings;
        visit(record);
      }
      seen += page.length;
      const last = page[page.length - 1];
      if (!last || page.length < SCAN_PAGE_ROWS) return seen;
      at = last.at;
      id = last.id;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  async operationsSummary(from: Date, to: Date): Promise<OperationsSummary> {
    const f = from.getTime();
    const t = to.getTime();
    return this.read(() => {
      // A record holds a day's alike sign-ins (a UTC day: the quarter's Vietnam midnight falls in
      // one): it counts in every period its span [first_at, at] meets, as accountsSignedIn does.
      // A delegate's sign-in to a unit mailbox is counted once, on the delegate's own record.
      const signIns = this.c
        .all<{ protocol: SignInEntry['protocol']; ok: number; count: number; accounts: number }>(
          `SELECT protocol, ok, SUM(count) AS count, COUNT(DISTINCT account_id) AS accounts FROM signin_log
            WHERE via IS NULL AND at >= ? AND first_at < ? GROUP BY protocol, ok ORDER BY protocol, ok DESC`,
          f,
          t,
        )
        .map((r) => ({ protocol: r.protocol, ok: r.ok === 1, count: r.count, accounts: r.accounts }));
      const one = (sql: string, ...params: unknown[]): number | null => this.c.get<{ n: number | null }>(sql, ...params)?.n ?? null;
      const signedInAccounts = one('SELECT COUNT(DISTINCT account_id) AS n FROM signin_log WHERE ok = 1 AND via IS NULL AND at >= ? AND first_at < ?', f, t) ?? 0;
      const audit = this.c.all<{ action: string; count: number; automatic: number }>(
        `SELECT action, COUNT(*) AS count, SUM(actor LIKE 'system:%') AS automatic FROM audit_log WHERE at >= ? AND at < ? GROUP BY action ORDER BY action`,
        f,
        t,
      );
      const lastBackup = one(`SELECT MAX(at) AS n FROM audit_log WHERE action = 'backup.create'`);
      const oldest = one('SELECT MIN(at) AS n FROM send_log');
      const usage = new Map(this.c.all<{ id: number; used_bytes: number }>('SELECT id, used_bytes FROM accounts').map((r) => [r.id, r.used_bytes]));
      return {
        signIns,
        signedInAccounts,
        audit,
        lastBackupAt: lastBackup === null ? null : new Date(lastBackup),
        oldestSendLogAt: oldest === null ? null : new Date(oldest),
        usage,
      };
    });
  }

  async pruneSignIns(before: Date): Promise<number> {
    return this.tx(() => this.c.run('DELETE FROM signin_log WHERE at < ?', before.getTime()).changes);
  }

  // ───── queue ─────

  async enqueue(item: NewQueueItem): Promise<QueueItem> {
    this.c.checkAccepting();
    if (item.recipients.length === 0) throw invalid('Thư không có người nhận', 'No recipients');
    const blob = await this.c.prepareBlob(item.raw);
    try {
      return await this.tx(() => this.enqueueSync(item, blob));
    } finally {
      blob.release();
    }
  }

  /** The queue row (and its blob row if new). Runs inside a (savepoint) transaction. */
  private enqueueSync(item: NewQueueItem, blob: PreparedBlob): QueueItem {
    this.c.ensureBlobRow(blob.hash, item.raw, blob.inline);
    const at = item.now.getTime();
    const recipientDsn: Record<string, RecipientDsn> = {};
    for (const r of item.recipients) {
      const d = item.recipientDsn?.[r];
      if (d) recipientDsn[r] = { notify: d.notify, orcpt: d.orcpt };
    }
    const info = this.c.run(
      `INSERT INTO queue (sender, recipients, blob_id, size, created_at, next_attempt_at, account, message_id, dsn_ret, dsn_envid, dsn_recipients)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      item.sender,
      JSON.stringify(item.recipients),
      blob.hash,
      item.raw.length,
      at,
      at,
      item.account,
      item.messageId,
      item.dsn?.ret ?? null,
      item.dsn?.envid ?? null,
      JSON.stringify(recipientDsn),
    );
    return toQueueItem(this.c.get<QueueRow>('SELECT * FROM queue WHERE id = ?', info.lastInsertRowid) as QueueRow);
  }

  async claimDue(now: Date, limit: number): Promise<QueueItem[]> {
    const t = now.getTime();
    return this.tx(() => {
      const rows = this.c.all<QueueRow>(
        'SELECT * FROM queue WHERE next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?) ORDER BY next_attempt_at, id LIMIT ?',
        t,
        t,
        limit,
      );
      for (const r of rows) this.c.run('UPDATE queue SET claimed_until = ? WHERE id = ?', t + QUEUE_CLAIM_MS, r.id);
      return rows.map(toQueueItem);
    });
  }

  async releaseQueueClaims(): Promise<number> {
    return this.tx(() => this.c.run('UPDATE queue SET claimed_until = NULL WHERE claimed_until IS NOT NULL').changes);
  }

  async finishAttempt(
    id: number,
    result: { remaining: string[]; nextAttemptAt: Date | null; error: string | null; delayNoticeSent?: boolean; noticePending?: Readonly<Record<string, PendingNotice>> },
  ): Promise<void> {
    return this.tx(() => {
      const r = this.c.get<QueueRow>('SELECT * FROM queue WHERE id = ?', id);
      if (!r) throw notFound(`mục hàng đợi #${id}`, `Queue item #${id}`);
      if (result.remaining.length === 0 || result.nextAttemptAt === null) {
        this.c.run('DELETE FROM queue WHERE id = ?', id);
        return;
      }
      // Only the remaining recipients keep a pending notice.
      const given = result.noticePending ?? (JSON.parse(r.notice_pending) as Record<string, PendingNotice>);
      const noticePending: Record<string, PendingNotice> = {};
      for (const x of result.remaining) {
        const n = given[x];
        if (n) noticePending[x] = n;
      }
      this.c.run(
        `UPDATE queue SET recipients = ?, next_attempt_at = ?, claimed_until = NULL, attempts = attempts + 1, last_error = ?,
                delay_notice_sent = ?, notice_pending = ? WHERE id = ?`,
        JSON.stringify(result.remaining),
        result.nextAttemptAt.getTime(),
        result.error,
        (result.delayNoticeSent ?? r.delay_notice_sent !== 0) ? 1 : 0,
        JSON.stringify(noticePending),
        id,
      );
    });
  }

  async noticesSent(id: number, result: { recipients: string[]; delayNoticeSent?: boolean }): Promise<void> {
    return this.tx(() => {
      const r = this.c.get<QueueRow>('SELECT * FROM queue WHERE id = ?', id);
      if (!r) return;
      // Only a recipient whose notice alone was pending leaves: never one still to be delivered.
      const pending = JSON.parse(r.notice_pending) as Record<string, PendingNotice>;
      const sent = new Set(result.recipients.filter((x) => Object.hasOwn(pending, x)));
      for (const x of sent) delete pending[x];
      const recipients = (JSON.parse(r.recipients) as string[]).filter((x) => !sent.has(x));
      if (recipients.length === 0) {
        this.c.run('DELETE FROM queue WHERE id = ?', id);
        return;
      }
      this.c.run(
        'UPDATE queue SET recipients = ?, notice_pending = ?, delay_notice_sent = ? WHERE id = ?',
        JSON.stringify(recipients),
        JSON.stringify(pending),
        (result.delayNoticeSent ?? r.delay_notice_sent !== 0) ? 1 : 0,
        id,
      );
    });
  }

  async listQueue(): Promise<QueueItem[]> {
    return this.read(() => this.c.all<QueueRow>('SELECT * FROM queue ORDER BY next_attempt_at, id').map(toQueueItem));
  }

  async queueDepth(): Promise<number> {
    // Kept by triggers (migration 16): /metrics reads it at each scrape, a count(*) scanned the queue.
    return this.read(() => this.c.get<{ n: number }>("SELECT n FROM totals WHERE name = 'queue.items'")?.n ?? 0);
  }

  // ───── quarantine ─────

  async quarantine(item: Omit<QuarantineItem, 'id' | 'blobId' | 'size'> & { raw: Buffer }): Promise<QuarantineItem> {
    this.c.checkAccepting();
    const blob = await this.c.prepareBlob(item.raw);
    try {
      return await this.tx(() => {
        this.c.ensureBlobRow(blob.hash, item.raw, blob.inline);
        const info = this.c.run(
          'INSERT INTO quarantine (at, sender, recipients, blob_id, size, reason, direction) VALUES (?, ?, ?, ?, ?, ?, ?)',
          item.at.getTime(),
          item.sender,
          JSON.stringify(item.recipients),
          blob.hash,
          item.raw.length,
          item.reason,
          item.direction,
        );
        return toQuarantine(this.c.get<QuarantineRow>('SELECT * FROM quarantine WHERE id = ?', info.lastInsertRowid) as QuarantineRow);
      });
    } finally {
      blob.release();
    }
  }

  async listQuarantine(): Promise<QuarantineItem[]> {
    return this.read(() => this.c.all<QuarantineRow>('SELECT * FROM quarantine ORDER BY at DESC, id DESC').map(toQuarantine));
  }

  async getQuarantine(id: number): Promise<QuarantineItem | null> {
    return this.read(() => {
      const r = this.c.get<QuarantineRow>('SELECT * FROM quarantine WHERE id = ?', id);
      return r ? toQuarantine(r) : null;
    });
  }

  async removeQuarantine(id: number): Promise<void> {
    return this.tx(() => {
      if (this.c.run('DELETE FROM quarantine WHERE id = ?', id).changes === 0) throw notFound(`mục cách ly #${id}`, `Quarantine item #${id}`);
    });
  }

  // ───── settings ─────

  async getSetting(key: string): Promise<string | null> {
    return this.read(() => this.c.get<{ value: string }>('SELECT value FROM settings WHERE key = ?', key)?.value ?? null);
  }

  async setSetting(key: string, value: string | null): Promise<void> {
    return this.tx(() => {
      if (value === null) this.c.run('DELETE FROM settings WHERE key = ?', key);
      else this.c.run('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value', key, value);
    });
  }

  // ───── blobs ─────

  /**
   * Deletes blob rows (and their full-text rows) that no message, queue item or quarantine item
   * references, then their files; also sweeps blob files that have no row at all (a crash between
   * the file write and the commit, or a rolled-back batch). Hashes in flight are left alone.
   */
  async collectGarbage(): Promise<{ blobs: number; bytes: number; deferred?: true }> {
    if (this.joinsBatch()) throw invalid('Không thể dọn rác trong một lô', 'Cannot collect garbage inside a batch');
    await this.c.hashesInFlight();
    await this.c.idle();
    const removed = this.c.transact(() => {
      if (this.backupLeaseHeld()) return null;
      const rows = this.c
        .all<{ n: number; id: string; size: number; file: number }>(
          `SELECT n, id, size, data IS NULL AS file FROM blobs b
            WHERE NOT EXISTS (SELECT 1 FROM messages WHERE blob_id = b.id)
              AND NOT EXISTS (SELECT 1 FROM queue WHERE blob_id = b.id)
              AND NOT EXISTS (SELECT 1 FROM quarantine WHERE blob_id = b.id)`,
        )
        .filter((r) => !this.c.isPinned(r.id));
      for (const r of rows) {
        this.c.run('DELETE FROM fts_todo WHERE n = ?', r.n);
        this.c.run('DELETE FROM blobs WHERE n = ?', r.n);
        // Unlinked inside the write transaction: a writer in another process that references this
        // hash takes the write lock after us and finds the file missing (ensureBlobRow rewrites it).
        if (r.file) this.c.blobs.removeSync(r.id);
      }
      return rows;
    });
    if (removed === null) {
      this.c.opts.log.info('blob collection deferred: a backup is copying blobs');
      return { blobs: 0, bytes: 0, deferred: true };
    }
    if (removed.length > 0) {
      // The worker removes a row only while no blob has its number (a number given to a new
      // message meanwhile keeps that message's row). A row left behind matches nothing anyway:
      // searches join the index with blobs.
      this.c.fts.remove(removed.map((r) => r.n));
      await this.c.durable();
    }
    let bytes = 0;
    let count = 0;
    for (const r of removed) {
      bytes += r.size;
      count++;
    }
    // Orphan files (no row): a crash between the file write and the commit, or a rolled-back
    // batch. Only old ones: another process may have written one and not committed yet.
    for (const f of this.c.blobs.listSync()) {
      if (this.c.isPinned(f)) continue;
      const age = this.c.blobs.ageMs(f);
      if (age === null || age < ORPHAN_GRACE_MS) continue;
      const size = await this.c.blobs.size(f);
      const swept = this.c.transact(() => {
        if (this.c.isPinned(f) || this.backupLeaseHeld() || this.c.get('SELECT 1 FROM blobs WHERE id = ?', f)) return false;
        this.c.blobs.removeSync(f);
        return true;
      });
      if (swept) {
        bytes += size ?? 0;
        count++;
      }
    }
    return { blobs: count, bytes };
  }

  async storageBytes(): Promise<number> {
    // Kept by triggers (migration 16): summing blobs.size at each scrape held the event loop for seconds.
    return this.read(() => this.c.get<{ n: number }>("SELECT n FROM totals WHERE name = 'blobs.bytes'")?.n ?? 0);
  }

  /**
   * Inside a write transaction: does a backup (of any process) hold a lease on the blob files?
   * Expired leases (their backup died) are removed. See backup.ts for why this closes the race.
   * Leases expire by the wall clock, not the store's clock: they are about real processes.
   */
  private backupLeaseHeld(): boolean {
    const rows = this.c.all<{ key: string; value: string }>('SELECT key, value FROM settings WHERE substr(key, 1, ?) = ?', LEASE_PREFIX.length, LEASE_PREFIX);
    const { held, expired } = leaseState(rows, Date.now());
    for (const key of expired) this.c.run('DELETE FROM settings WHERE key = ?', key);
    return held;
  }

  // ───── backups (backup.ts) ─────

  async backup(destDir: string, opts: BackupOptions): Promise<BackupResult> {
    if (this.joinsBatch()) throw invalid('Không thể sao lưu trong một lô', 'Cannot back up inside a batch');
    this.c.checkAccepting();
    const c = this.c;
    const run = takeBackup(
      {
        dir: c.opts.dir,
        db: c.db,
        log: c.opts.log,
        blobPath: (hash) => c.blobs.pathOf(hash),
        setSetting: (key, value) => this.setSetting(key, value),
        closing: () => c.closing || c.closed,
      },
      destDir,
      opts,
    );
    c.backups.add(run);
    try {
      return await run;
    } finally {
      c.backups.delete(run);
    }
  }
}

/**
 * Why the database file could not be opened, said for the administrator: the path and what to do
 * (SQLite alone says "unable to open database file" or "file is not a database").
 */
function unopenable(file: string, e: unknown): unknown {
  const code = (e as { code?: string }).code ?? '';
  if (code === 'SQLITE_CANTOPEN' || code === 'SQLITE_READONLY' || code === 'SQLITE_PERM') {
    return new MailError(
      'CONFIG',
      bi(
        `Không mở được cơ sở dữ liệu ${file} để đọc và ghi: kiểm tra storage.dir có tồn tại, người dùng chạy máy chủ có quyền ghi, và ổ đĩa không ở chế độ chỉ đọc`,
        `Cannot open the database ${file} for reading and writing: check that storage.dir exists, that the server's user may write to it, and that the disk is not read-only`,
      ),
      e,
    );
  }
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
    return new MailError(
      'CONFIG',
      bi(
        `Tệp ${file} không phải cơ sở dữ liệu hợp lệ (hỏng hoặc bị ghi đè); hãy khôi phục bản sao lưu gần nhất (buudien backup restore)`,
        `${file} is not a valid database (damaged or overwritten); restore the latest backup (buudien backup restore)`,
      ),
      e,
    );
  }
  return e;
}

function migrate(db: Database.Database, log: Logger): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  const current = (db.prepare('SELECT max(version) AS v FROM schema_version').get() as { v: number | null }).v ?? 0;
  const known = MIGRATIONS.reduce((v, m) => Math.max(v, m.version), 0);
  if (current > known) {
    // A newer server wrote this database (then a rollback): this one would write to tables it
    // does not know. Restore refuses such a backup too (backup.ts).
    throw new MailError(
      'INVALID_INPUT',
      bi(
        `Cơ sở dữ liệu do phiên bản máy chủ mới hơn tạo (lược đồ ${current}, phiên bản này biết đến ${known}); hãy cập nhật máy chủ, hoặc khôi phục bản sao lưu của phiên bản này`,
        `The database was written by a newer server (schema ${current}; this one knows up to ${known}); upgrade the server, or restore a backup made by this version`,
      ),
    );
  }
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
    }).immediate();
    log.info({ version: m.version, name: m.name }, 'store migration applied');
  }
}

/** Open (creating if needed) the embedded store under `dir`: dir/buudien.db and dir/blobs/. */
export async function openSqliteStore(opts: SqliteStoreOptions): Promise<Store> {
  mkdirSync(opts.dir, { recursive: true });
  const file = path.join(opts.dir, 'buudien.db');
  let db: Database.Database;
  try {
    db = openDatabase(file);
    db.pragma('journal_mode = WAL');
  } catch (e) {
    throw unopenable(file, e);
  }
  try {
    // NORMAL: commits do not fsync on the event loop; every write awaits Core.durable() instead.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    // 64 MiB page cache: the send log's four indexes take random inserts; mailbox listings stay in memory.
    db.pragma('cache_size = -65536');
    // Each delivery of a group commit runs in a savepoint: its journal of the pages it changes
    // stays in memory (by default it spills to a temporary file past 64 KiB: a file created,
    // written page by page and unlinked for every group commit). Temporary sort tables stay in
    // memory too; the store's queries sort on indexes or small sets, and it never VACUUMs.
    db.pragma('temp_store = MEMORY');
    // Checkpoints run in the background when idle (Core.scheduleIndex); this is only the inline cap.
    db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
    migrate(db, opts.log);
  } catch (e) {
    db.close();
    throw e;
  }
  let core: Core;
  try {
    core = new Core(db, opts);
  } catch (e) {
    db.close();
    throw e;
  }
  // A missing fts.db (restored from a backup, deleted to rebuild it) means every message needs its row.
  if (core.fts.created) db.exec('INSERT OR IGNORE INTO fts_todo (n) SELECT n FROM blobs WHERE envelope IS NOT NULL');
  // Rows a crash left unindexed (or all of them, after the upgrade to fts.db): indexed in the background now.
  if (db.prepare('SELECT 1 FROM fts_todo LIMIT 1').get()) core.fts.index();
  core.scheduleIndex();
  return new SqliteStore(core, false);
}
