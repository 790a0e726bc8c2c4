/**
 * The one storage boundary (DESIGN.md). Every method is async and is one transaction.
 * Protocols, services and the CLI reach storage only through this interface; the embedded
 * implementation lives in store/sqlite/. No SQL anywhere else.
 */
import type { Readable } from 'node:stream';
import type { SearchText } from '../mail/search-text.js';
import type { Envelope, MimePart } from '../mail/types.js';

export type { SearchText };

// ───────────────────────────── organisation ─────────────────────────────

export interface Domain {
  name: string;
  createdAt: Date;
}

export interface Unit {
  id: number;
  /** Short code derived from the name by R-ADDR-1 ("skhdt"), unique among its siblings. */
  code: string;
  /** The unit mailbox's local part: code, or "code.parentAddress" for sub-units (R-ADDR-2). Unique. */
  address: string;
  name: string;
  parentId: number | null;
  staff: number | null;
  /** The unit's postal address, for the directory (R-DIR-1); null when not given. */
  postalAddress: string | null;
  createdAt: Date;
}

export interface NewUnit {
  code: string;
  address: string;
  name: string;
  parentId: number | null;
  staff: number | null;
  postalAddress?: string | null;
}

/** What may change of a unit (its code and address stay: the unit mailbox's address is made of them). */
export interface UnitPatch {
  name?: string;
  staff?: number | null;
  postalAddress?: string | null;
}

// ───────────────────────────── accounts ─────────────────────────────

export type AccountKind = 'personal' | 'unit' | 'admin';
export type AccountState = 'active' | 'suspended' | 'deleted';
/** super: the whole system; unit: R-ACC-7 unit administrator (own unit only); none: a user. */
export type AdminRole = 'none' | 'unit' | 'super';

export interface Account {
  id: number;
  /** Full address, lower case: local@domain. */
  address: string;
  localPart: string;
  domain: string;
  kind: AccountKind;
  role: AdminRole;
  state: AccountState;
  /** Why the state was last changed, when, and the written request's reference number. */
  stateReason: string | null;
  stateChangedAt: Date | null;
  stateRef: string | null;
  fullName: string;
  title: string | null;
  phone: string | null;
  unitId: number | null;
  /** null = the default for the kind (config quota.*Bytes). */
  quotaBytes: number | null;
  passwordHash: string;
  mustChangePassword: boolean;
  passwordChangedAt: Date;
  totpSecret: string | null;
  /** Two-factor sign-in by SMS codes to `phone` (R-AUTH-3); a TOTP secret, when set, is used instead. */
  smsTwoFactor: boolean;
  createdAt: Date;
  lastLoginAt: Date | null;
}

/** The default quota of each account kind (config quota.*Bytes). */
export interface QuotaDefaults {
  personalBytes: number;
  unitBytes: number;
  adminBytes: number;
}

/** The quota an account has: its own, else the default for its kind (R-STORE-1). */
export function effectiveQuotaBytes(account: Account, quota: QuotaDefaults): number {
  if (account.quotaBytes !== null) return account.quotaBytes;
  switch (account.kind) {
    case 'personal':
      return quota.personalBytes;
    case 'unit':
      return quota.unitBytes;
    case 'admin':
      return quota.adminBytes;
  }
}

export interface NewAccount {
  address: string;
  kind: AccountKind;
  role?: AdminRole;
  fullName: string;
  title?: string | null;
  phone?: string | null;
  unitId: number | null;
  quotaBytes?: number | null;
  passwordHash: string;
  mustChangePassword: boolean;
}

export type AccountPatch = Partial<
  Pick<
    Account,
    | 'state'
    | 'stateReason'
    | 'stateChangedAt'
    | 'stateRef'
    | 'fullName'
    | 'title'
    | 'phone'
    | 'unitId'
    | 'quotaBytes'
    | 'passwordHash'
    | 'mustChangePassword'
    | 'passwordChangedAt'
    | 'totpSecret'
    | 'smsTwoFactor'
    | 'lastLoginAt'
    | 'role'
  >
>;

export interface AppPassword {
  id: number;
  accountId: number;
  label: string;
  hash: string;
  /** The secret's first letters in clear (auth/app-passwords.ts); null for one made before hints. */
  hint: string | null;
  createdAt: Date;
  lastUsedAt: Date | null;
}

/** Who did an admin action, what, and on which written request (R-ACC-1). */
export interface AuditEntry {
  actor: string;
  action: string;
  target: string;
  ref?: string | null;
  details?: Record<string, unknown>;
}

export interface AuditRecord extends AuditEntry {
  id: number;
  at: Date;
}

// ───────────────────────────── mailboxes & messages ─────────────────────────────

export type SpecialUse = '\\Sent' | '\\Drafts' | '\\Trash' | '\\Junk' | '\\Archive' | '\\All' | '\\Flagged';

export interface Mailbox {
  id: number;
  accountId: number;
  /** Full name, "/" as hierarchy separator, UTF-8 ("INBOX", "Dự án/2026"). */
  name: string;
  specialUse: SpecialUse | null;
  subscribed: boolean;
  uidValidity: number;
  uidNext: number;
  highestModseq: number;
  createdAt: Date;
}

export interface MailboxStatus {
  messages: number;
  unseen: number;
  /** Messages above the \\Recent mark: not yet claimed by any session (see claimRecent). */
  recent: number;
  /** Sum of message sizes (STATUS=SIZE). */
  size: number;
  uidNext: number;
  uidValidity: number;
  highestModseq: number;
}

/** UIDs first..last inclusive (none when first > last). */
export interface RecentRange {
  first: number;
  last: number;
}

/** The per-mailbox row of one message. Flags are system flags (\\Seen …) and keywords ($Junk …). */
export interface MessageMeta {
  uid: number;
  modseq: number;
  flags: string[];
  internalDate: Date;
  size: number;
  blobId: string;
}

/** FETCH's ENVELOPE, BODY and BODYSTRUCTURE strings, rendered once at delivery (mail/imap-render.ts). */
export interface RenderedImap {
  envelope: string;
  /** BODY (non-extended). */
  body: string;
  bodyStructure: string;
}

/** A mailbox's messages as parallel arrays, index i for the i-th lowest UID. */
export interface MessageIndex {
  uids: number[];
  modseqs: number[];
  /** Flags as stored: space-separated. */
  flags: string[];
  sizes: number[];
}

/** Cached at delivery so FETCH never re-parses. */
export interface MessageDetail extends MessageMeta {
  envelope: Envelope;
  structure: MimePart;
  /**
   * The rendered strings (those asked for with DetailOptions.rendered), when the message was
   * stored with them; older rows: render from envelope/structure.
   */
  imap?: Partial<RenderedImap>;
  /** The whole message, when asked for (getMessageDetails `bytes`) and it is held inline; else read with readBlob. */
  bytes?: Buffer;
}

/** What a getMessageDetails caller needs besides the metadata. */
export interface DetailOptions {
  /** Also return the bytes of messages held inline (small ones), saving one readBlob each. */
  bytes?: boolean;
  /**
   * false: the caller mostly needs the rendered strings (FETCH ENVELOPE / BODYSTRUCTURE), so the
   * envelope and structure are read only for messages without them, and otherwise on first use
   * (one lookup each). Default true.
   */
  parsed?: boolean;
  /** Which rendered strings to return (default all three). */
  rendered?: ReadonlyArray<keyof RenderedImap>;
}

/** What one delivery writes: one blob, one row in each target mailbox. */
export interface DeliveryTarget {
  mailboxId: number;
  flags?: string[];
  /** Refuse with OVER_QUOTA if the account would exceed this many bytes (null = no check). */
  quotaBytes: number | null;
}

export interface StoreMessageInput {
  /** The exact bytes to keep. */
  raw: Buffer;
  envelope: Envelope;
  structure: MimePart;
  internalDate: Date;
  targets: DeliveryTarget[];
  /** FETCH strings rendered from envelope and structure (optional: without them FETCH renders each time). */
  imap?: RenderedImap;
  /**
   * Send-log rows written in the delivery's own transaction: they exist exactly when the
   * delivery does (and cost no commit of their own). A delivery that fails writes none.
   */
  sendLog?: SendLogEntry[];
}

/**
 * Several writes of new mail that must be durable together or not at all (store.storeMessages):
 * the messages of one IMAP MULTIAPPEND (RFC 3502 §3), or the local copies of one SMTP message
 * with the queue item of its other recipients (one reply per message, RFC 5321 §4.1.1.4).
 */
export interface StoreMessagesInput {
  /** Each stored as by storeMessage (each needs a target). */
  messages: StoreMessageInput[];
  /** A queue item written in the same commit, as by enqueue. */
  enqueue?: NewQueueItem;
}

export interface StoredMessages {
  /** The copies of each message, in the order of `messages`. */
  copies: StoredCopy[][];
  /** The queue item, when `enqueue` was given. */
  queued: QueueItem | null;
}

export interface StoredCopy {
  mailboxId: number;
  uid: number;
  uidValidity: number;
  modseq: number;
  /** The owning account's usage in bytes right after this copy was stored. */
  usedBytes: number;
}

export type FlagOp = 'set' | 'add' | 'remove';

export interface FlagChange {
  uid: number;
  flags: string[];
  modseq: number;
}

/** What changed in a mailbox since a MODSEQ (CONDSTORE/QRESYNC, sessions of other processes). */
export interface MailboxChanges {
  highestModseq: number;
  /** Messages added or whose flags changed with modseq > since. */
  changed: MessageMeta[];
  /** UIDs expunged with modseq > since. */
  expunged: number[];
}

/** A change event for sessions in this process (other processes poll changesSince). */
export type StoreEvent =
  | { kind: 'added'; accountId: number; mailboxId: number; uids: number[]; modseq: number }
  | { kind: 'flags'; accountId: number; mailboxId: number; changes: FlagChange[]; modseq: number; origin?: unknown }
  | { kind: 'expunged'; accountId: number; mailboxId: number; uids: number[]; modseq: number; origin?: unknown }
  | { kind: 'mailboxes'; accountId: number };

export interface CopyResult {
  uidValidity: number;
  /** Pairs [source uid, destination uid], in source order. */
  mapping: Array<[number, number]>;
}

// ───────────────────────────── send log, queue ─────────────────────────────

export type SendDirection = 'inbound' | 'submission' | 'outbound' | 'local';
/** quarantined: accepted with 250 but held (policy action quarantine), not delivered. */
export type SendOutcome = 'delivered' | 'queued' | 'deferred' | 'bounced' | 'rejected' | 'quarantined';

/** R-LOG-1: one row per recipient of every transaction, accepted or not. */
export interface SendLogEntry {
  at: Date;
  direction: SendDirection;
  sender: string;
  recipient: string;
  clientIp: string | null;
  account: string | null;
  messageId: string | null;
  size: number | null;
  outcome: SendOutcome;
  code: number | null;
  text: string | null;
  /** Policy findings, e.g. ["executables: reject ho-so.exe"]. */
  findings: string[];
}

export interface SendLogRecord extends SendLogEntry {
  id: number;
}

export interface SendLogQuery {
  sender?: string;
  recipient?: string;
  clientIp?: string;
  since?: Date;
  until?: Date;
  limit?: number;
}

/**
 * One sign-in to an existing account, through any protocol (R-AUTH-5: users see their recent
 * sign-ins; a success from an address not seen before is unusual). Failures for unknown user
 * names are not kept (there is no account to show them to); the log has them.
 */
export interface SignInEntry {
  accountId: number;
  at: Date;
  protocol: 'imap' | 'pop3' | 'smtp' | 'http';
  ip: string;
  /** The client's network (auth decides its size: an IPv4 /24, an IPv6 /48). */
  network: string;
  ok: boolean;
  /** How a success signed in: the account password or an app password. */
  method: 'password' | 'app-password' | null;
  /** The app password used (its label is in app_passwords while it exists). */
  appPasswordId: number | null;
  /** Why a failure failed (bad-credentials, suspended, …); null for a success. */
  reason: string | null;
  /**
   * A delegated sign-in (R-ACC-6), on the unit mailbox's row: the address of the delegate who
   * signed in with its own credentials to open it.
   */
  via?: string | null;
  /**
   * A delegated sign-in, on the delegate's row: the address of the unit mailbox it opened (on a
   * refused one: the mailbox name it asked for, as typed).
   */
  opened?: string | null;
}

/**
 * R-OPS-2's quarterly operations report: the sign-ins and audit of [from, to) counted in the
 * store, with usage now, read in one snapshot (the send log is read with scanSendLog).
 */
export interface OperationsSummary {
  /**
   * Sign-ins per protocol, successful or not, by the accounts themselves (a delegate's to a unit
   * mailbox once, as the delegate's), and how many accounts. A record holds a UTC day's alike
   * sign-ins and counts in each period its span meets.
   */
  signIns: Array<{ protocol: SignInEntry['protocol']; ok: boolean; count: number; accounts: number }>;
  /** Accounts with a successful sign-in of their own (as accountsSignedIn counts them). */
  signedInAccounts: number;
  /** Audit entries per action; `automatic` of them by the server's own jobs (actors named "system:…"). */
  audit: Array<{ action: string; count: number; automatic: number }>;
  /** The last `backup.create` entry ever, and the oldest send-log row kept (null when none). */
  lastBackupAt: Date | null;
  oldestSendLogAt: Date | null;
  /** Each account's bytes in use now (deleted accounts not yet purged too). */
  usage: Map<number, number>;
}

/** Sign-ins alike in all but time on one UTC day: one record, `at` the last of them. */
export interface SignInRecord extends SignInEntry {
  id: number;
  via: string | null;
  opened: string | null;
  /** The first of them. */
  firstAt: Date;
  count: number;
}

/** RFC 3461 NOTIFY keywords (NEVER stands alone). */
export type DsnNotify = 'NEVER' | 'SUCCESS' | 'FAILURE' | 'DELAY';

/** The DSN parameters of one transaction (MAIL FROM RET= and ENVID=, RFC 3461 §4.3–4.4). */
export interface MessageDsn {
  /** null = not given (a failure notice returns the headers only). */
  ret: 'FULL' | 'HDRS' | null;
  /** ENVID, xtext-decoded (printable US-ASCII, case kept); null = not given. */
  envid: string | null;
}

/** The DSN parameters of one recipient (RCPT TO NOTIFY= and ORCPT=, RFC 3461 §4.1–4.2). */
export interface RecipientDsn {
  /** NOTIFY as given, upper case; null = not given (failure and delay notices, no success notice). */
  notify: DsnNotify[] | null;
  /** ORCPT as "addr-type;address", xtext-decoded (printable US-ASCII); null = not given. */
  orcpt: string | null;
}

export interface QueueItem {
  id: number;
  sender: string;
  recipients: string[];
  blobId: string;
  size: number;
  createdAt: Date;
  nextAttemptAt: Date;
  attempts: number;
  lastError: string | null;
  delayNoticeSent: boolean;
  /** Who submitted it (for the DSN and the send log). */
  account: string | null;
  messageId: string | null;
  /** RET and ENVID of the transaction that brought the message (all null when none were given). */
  dsn: MessageDsn;
  /** NOTIFY and ORCPT by recipient, for the recipients that gave either. */
  recipientDsn: Record<string, RecipientDsn>;
  /**
   * Recipients of `recipients` that are done (failed, or delivered with a success notice asked)
   * but whose notice could not be sent yet: never sent to again, only their notice is retried.
   * The others are still to be delivered.
   */
  noticePending: Record<string, PendingNotice>;
}

/** A recipient's line in a notice not yet sent (RFC 3464 §2.3), kept as it was made. */
export interface PendingNotice {
  action: 'failed' | 'delivered' | 'relayed';
  status: string;
  diagnostic: string | null;
  remoteMta: string | null;
  originalRecipient: string | null;
  /** When the recipient was last tried (ms since the epoch; Last-Attempt-Date); absent in entries made before. */
  lastAttemptAt?: number;
}

export interface NewQueueItem {
  sender: string;
  recipients: string[];
  raw: Buffer;
  account: string | null;
  messageId: string | null;
  now: Date;
  dsn?: MessageDsn;
  /** Entries for recipients not in `recipients` are dropped. */
  recipientDsn?: Readonly<Record<string, RecipientDsn>>;
}

// ───────────────────────────── quarantine ─────────────────────────────

export interface QuarantineItem {
  id: number;
  at: Date;
  sender: string;
  recipients: string[];
  blobId: string;
  size: number;
  reason: string;
  direction: SendDirection;
}

// ───────────────────────────── backups (R-OPS-1) ─────────────────────────────

/** The file in a backup folder that says it is complete: written last, atomically. */
export const BACKUP_MANIFEST = 'manifest.json';

/** manifest.json of one backup. A backup folder without it is unfinished and must not be restored. */
export interface BackupManifest {
  format: 'buudien-backup';
  version: 1;
  /** ISO-8601, UTC. */
  createdAt: string;
  /** package.json version of the server that wrote it. */
  serverVersion: string;
  /** The store's schema version inside the snapshot (a server older than this cannot open it). */
  schemaVersion: number;
  /** The database snapshot, a file of the backup folder. */
  db: { file: string; bytes: number; sha256: string };
  /** Message blob files (content-addressed): how many, their bytes, and how many were hard-linked from the previous backup or copied. */
  blobs: { count: number; bytes: number; linked: number; copied: number };
  /** Other files of storage.dir (the self-signed TLS pair …), relative paths. */
  files: Array<{ path: string; bytes: number; sha256: string }>;
}

export interface BackupOptions {
  /** A previous complete backup folder on the same file system: blob files it holds are hard-linked, not copied. */
  linkFrom?: string | null;
  serverVersion: string;
  /** createdAt of the manifest. */
  now: Date;
}

/** What `Store.backup` wrote. */
export interface BackupResult {
  dir: string;
  manifest: BackupManifest;
  /** Bytes this backup newly wrote (database, copied blobs, files); hard-linked blobs cost none. */
  writtenBytes: number;
}

/** `verifyBackup`'s answer: every problem as one bilingual line ("Vietnamese / English"). */
export interface BackupCheck {
  ok: boolean;
  problems: string[];
  manifest: BackupManifest | null;
}

export type RestoreResult =
  | { ok: false; problems: string[] }
  | {
      ok: true;
      storageDir: string;
      manifest: BackupManifest;
      /** Where the previous content of storage.dir was moved (with --force), or null. */
      previous: string | null;
    };

/**
 * What the store implementation offers on its files from outside a running store: checking a
 * backup and restoring one (the store must be closed for that, so these take paths, not a Store).
 */
export interface BackupTools {
  /** Manifest present, database intact, every blob it references present with the right content. */
  verifyBackup(dir: string): Promise<BackupCheck>;
  /**
   * Verify, then put the backup in place of storageDir: built in a temporary folder, then renamed,
   * so a failure leaves storageDir as it was. Refused when a process has the store open, and when
   * storageDir holds anything unless `force` (its content is then kept aside, see `previous`).
   */
  restoreBackup(dir: string, storageDir: string, opts?: { force?: boolean }): Promise<RestoreResult>;
  /** Does a process (a running server, another command) have the store in storageDir open? */
  storeInUse(storageDir: string): Promise<boolean>;
}

// ───────────────────────────── the port ─────────────────────────────

export interface Store {
  /** Cheap check used by /healthz: throws when the store is closed or refuses writes (a failed fsync). */
  ping(): Promise<void>;
  /** Finish in-flight transactions, then close. */
  close(): Promise<void>;

  // domains
  addDomain(name: string, audit: AuditEntry): Promise<Domain>;
  listDomains(): Promise<Domain[]>;
  removeDomain(name: string, audit: AuditEntry): Promise<void>;

  // units
  addUnit(unit: NewUnit, audit: AuditEntry): Promise<Unit>;
  getUnit(id: number): Promise<Unit | null>;
  updateUnit(id: number, patch: UnitPatch, audit: AuditEntry): Promise<Unit>;
  getUnitByCode(codeOrAddress: string): Promise<Unit | null>;
  listUnits(): Promise<Unit[]>;

  // accounts — createAccount also creates the special-use mailboxes, subscribed
  createAccount(input: NewAccount, audit: AuditEntry): Promise<Account>;
  /**
   * Several account changes that succeed or fail together (request forms, R-ACC-1).
   * The callback's store calls join the one transaction.
   */
  batch<T>(fn: (tx: Store) => Promise<T>): Promise<T>;
  getAccount(id: number): Promise<Account | null>;
  getAccountByAddress(address: string): Promise<Account | null>;
  /** Accounts whose local part is this (R-ADDR-6 sign-in with the local part alone). */
  findAccountsByLocalPart(localPart: string): Promise<Account[]>;
  listAccounts(filter?: { unitId?: number; state?: AccountState; domain?: string }): Promise<Account[]>;
  updateAccount(id: number, patch: AccountPatch, audit: AuditEntry | null): Promise<Account>;
  /** Is this address used by an account or an alias? */
  addressTaken(address: string): Promise<boolean>;
  /** Removes the account's mailboxes and messages (blobs are reclaimed by the collector). */
  purgeAccount(id: number, audit: AuditEntry): Promise<void>;

  // aliases and unit-mailbox delegation (R-ACC-6)
  addAlias(alias: string, accountId: number, audit: AuditEntry): Promise<void>;
  removeAlias(alias: string, audit: AuditEntry): Promise<void>;
  listAliases(accountId: number): Promise<string[]>;
  /** An address → the account that receives it (directly or through an alias). */
  resolveAddress(address: string): Promise<Account | null>;
  addDelegation(unitAccountId: number, accountId: number, audit: AuditEntry): Promise<void>;
  removeDelegation(unitAccountId: number, accountId: number, audit: AuditEntry): Promise<void>;
  /** Unit accounts this account may send as / open. */
  listDelegatedTo(accountId: number): Promise<Account[]>;

  // app passwords (mail clients that cannot do TOTP)
  addAppPassword(accountId: number, label: string, hash: string, hint?: string | null): Promise<AppPassword>;
  listAppPasswords(accountId: number): Promise<AppPassword[]>;
  removeAppPassword(accountId: number, id: number): Promise<void>;
  touchAppPassword(id: number, at: Date): Promise<void>;

  // audit
  audit(entry: AuditEntry): Promise<void>;
  listAudit(filter?: { actor?: string; target?: string; action?: string; since?: Date; limit?: number }): Promise<AuditRecord[]>;

  // mailboxes
  listMailboxes(accountId: number): Promise<Mailbox[]>;
  getMailbox(accountId: number, name: string): Promise<Mailbox | null>;
  /**
   * The id of the account's mailbox of that name, or null. Delivery asks it for every message: it
   * is answered from memory until something could have changed it (like resolveAddress).
   */
  mailboxId(accountId: number, name: string): Promise<number | null>;
  getMailboxById(id: number): Promise<Mailbox | null>;
  createMailbox(accountId: number, name: string, opts?: { specialUse?: SpecialUse | null; subscribed?: boolean }): Promise<Mailbox>;
  /** Renames the mailbox and its children ("a" → "b" also moves "a/x" → "b/x"). INBOX rename moves its messages (RFC 3501 §6.3.5). */
  renameMailbox(accountId: number, from: string, to: string): Promise<void>;
  deleteMailbox(accountId: number, name: string): Promise<void>;
  setSubscribed(accountId: number, name: string, subscribed: boolean): Promise<void>;
  mailboxStatus(mailboxId: number): Promise<MailboxStatus>;
  /**
   * \\Recent (RFC 3501 §2.3.2): the UIDs above the mailbox's recent mark, up to UIDNEXT-1, as a
   * range (empty when first > last). The mark moves to the range's end, atomically, so each UID
   * is claimed by one caller only (a session selecting read-write, or learning of new mail).
   * With `peek` (EXAMINE) the mark stays. Unlike other writes, a claim does not wait for the
   * disk: losing it in a power cut only makes those messages recent once more.
   */
  claimRecent(mailboxId: number, opts?: { peek?: boolean }): Promise<RecentRange>;

  // messages
  /** Write the blob once (deduplicated, fsynced), then one row per target, in one group commit. */
  storeMessage(input: StoreMessageInput): Promise<StoredCopy[]>;
  /**
   * Several messages (and optionally a queue item) in ONE transaction, which rides in the same
   * group commit as storeMessage: each blob is written durably first, then everything commits
   * together, or nothing does (any failure, over quota included, rolls the whole set back).
   */
  storeMessages(input: StoreMessagesInput): Promise<StoredMessages>;
  /** Every message of a mailbox in UID order (flags, sizes: what SELECT and UID FETCH 1:* need). */
  listMessages(mailboxId: number): Promise<MessageMeta[]>;
  /** Cached envelope and structure for these UIDs (missing UIDs are skipped), in UID order. */
  getMessageDetails(mailboxId: number, uids: number[], opts?: DetailOptions): Promise<MessageDetail[]>;
  /** SELECT's listing in columns (no per-message objects): UIDs ascending, with MODSEQ, flags and size. */
  listMessageIndex(mailboxId: number): Promise<MessageIndex>;
  /** The message bytes, optionally a byte range [start, end). */
  readBlob(blobId: string, range?: { start: number; end: number }): Promise<Buffer>;
  streamBlob(blobId: string, range?: { start: number; end: number }): Readable;
  /** Flags on UIDs; with unchangedSince, messages modified later are left alone and returned as `failed` (CONDSTORE). */
  setFlags(
    mailboxId: number,
    uids: number[],
    op: FlagOp,
    flags: string[],
    opts?: { unchangedSince?: number; origin?: unknown },
  ): Promise<{ changes: FlagChange[]; failed: number[] }>;
  /** Remove messages (those given, else every \\Deleted one). Returns the expunged UIDs. */
  /**
   * Remove messages: with no UIDs, every one flagged \Deleted; with UIDs, those of them (only
   * those flagged \Deleted when onlyDeleted is set: IMAP's UID EXPUNGE, RFC 4315 §2.1).
   */
  expunge(mailboxId: number, uids?: number[], opts?: { origin?: unknown; onlyDeleted?: boolean }): Promise<number[]>;
  /** allOrNothing: when a uid is gone (expunged meanwhile), nothing is copied and NOT_FOUND is thrown. */
  copyMessages(fromMailboxId: number, uids: number[], toMailboxId: number, quotaBytes: number | null, opts?: { allOrNothing?: boolean }): Promise<CopyResult>;
  /** Copy then expunge from the source, in one transaction (allOrNothing as for copyMessages). */
  moveMessages(fromMailboxId: number, uids: number[], toMailboxId: number, quotaBytes: number | null, opts?: { origin?: unknown; allOrNothing?: boolean }): Promise<CopyResult>;
  changesSince(mailboxId: number, modseq: number): Promise<MailboxChanges>;
  /**
   * UIDs whose indexed fields contain every term as a substring. The store indexes each message's
   * fields from its bytes (mail/search-text.ts: decoded, folded with foldVietnamese); terms must
   * be folded by the caller the same way, so "Nguyễn" is asked as "nguyen". TEXT searches every
   * field, BODY only the body.
   */
  searchText(mailboxId: number, terms: string[], field: 'text' | 'body' | 'subject' | 'from' | 'to' | 'cc' | 'bcc'): Promise<number[]>;
  /** Bytes used by an account: the logical size of every message in each of its mailboxes. */
  usage(accountId: number): Promise<number>;
  /** In-process change events (IMAP sessions). Returns an unsubscribe function. */
  onEvent(listener: (e: StoreEvent) => void): () => void;

  // send log (R-LOG-1)
  logSend(entries: SendLogEntry[]): Promise<void>;
  searchSendLog(q: SendLogQuery): Promise<SendLogRecord[]>;
  pruneSendLog(before: Date): Promise<number>;
  /**
   * When each message the account submitted since `since` was accepted (send-log rows of
   * direction submission, delivered or queued, one time per Message-ID), oldest first:
   * sending limits that a restart does not reset.
   */
  submissionTimes(account: string, since: Date): Promise<number[]>;
  /**
   * Every send-log row of [from, to) in time order, to `visit` (findings that are not a list of
   * strings read as none). Read a page at a time with other work in between: not one snapshot.
   * Returns the rows visited.
   */
  scanSendLog(from: Date, to: Date, visit: (row: SendLogRecord) => void): Promise<number>;

  // sign-in history (R-AUTH-5)
  recordSignIn(entry: SignInEntry): Promise<void>;
  /** Newest (last seen) first; `ok` keeps only successes (true) or failures (false). */
  listSignIns(accountId: number, opts?: { since?: Date; ok?: boolean; limit?: number }): Promise<SignInRecord[]>;
  /** The account signed in successfully from `network` at or after `since`. */
  signedInFrom(accountId: number, network: string, since: Date): Promise<boolean>;
  /** The accounts with a successful sign-in of their own (not a delegate's for them) in [from, to). */
  accountsSignedIn(from: Date, to: Date): Promise<Set<number>>;
  /** R-OPS-2: the sign-ins and audit of [from, to) counted, with usage now (OperationsSummary). */
  operationsSummary(from: Date, to: Date): Promise<OperationsSummary>;
  pruneSignIns(before: Date): Promise<number>;

  // outbound queue (durable)
  enqueue(item: NewQueueItem): Promise<QueueItem>;
  /** Items due at `now`, marked as taken so another runner does not take them. */
  claimDue(now: Date, limit: number): Promise<QueueItem[]>;
  /**
   * Every claim is dropped (each item is due again by its schedule); resolves with how many.
   * Only for the queue runner of `buudien serve` as it starts, holding the storage dir's lock:
   * any claim then was left by a process that died. Never from the CLI (serve may be running).
   */
  releaseQueueClaims(): Promise<number>;
  /**
   * After an attempt: remove delivered recipients; reschedule the rest or drop the item.
   * `noticePending` replaces the item's (entries for recipients not remaining are dropped);
   * without it the entries of the recipients still remaining are kept.
   */
  finishAttempt(
    id: number,
    result: { remaining: string[]; nextAttemptAt: Date | null; error: string | null; delayNoticeSent?: boolean; noticePending?: Readonly<Record<string, PendingNotice>> },
  ): Promise<void>;
  /**
   * After finishAttempt, once the notices went: `recipients` whose notice was pending leave the
   * item (dropped when no recipient is left), and `delayNoticeSent` is set when given. Attempts
   * and schedule are unchanged; a recipient not pending, or an item already gone, is left alone.
   */
  noticesSent(id: number, result: { recipients: string[]; delayNoticeSent?: boolean }): Promise<void>;
  listQueue(): Promise<QueueItem[]>;
  queueDepth(): Promise<number>;

  // quarantine
  quarantine(item: Omit<QuarantineItem, 'id' | 'blobId' | 'size'> & { raw: Buffer }): Promise<QuarantineItem>;
  listQuarantine(): Promise<QuarantineItem[]>;
  getQuarantine(id: number): Promise<QuarantineItem | null>;
  removeQuarantine(id: number): Promise<void>;

  // key/value for small state (quota warning thresholds reached, DKIM keys, jobs' last runs)
  getSetting(key: string): Promise<string | null>;
  setSetting(key: string, value: string | null): Promise<void>;

  // blobs
  /**
   * Remove blobs no message, queue item or quarantine item references. While a backup (in any
   * process) holds its lease, nothing is removed and `deferred` is true.
   */
  collectGarbage(): Promise<{ blobs: number; bytes: number; deferred?: true }>;
  /** Bytes on disk under storage.dir used by blobs (metrics). */
  storageBytes(): Promise<number>;

  // backups (R-OPS-1)
  /**
   * A consistent snapshot of the whole store into `destDir` (created; must not exist), taken while
   * the store keeps serving: the database, every blob file the snapshot references, the other
   * files of storage.dir, and last the manifest. No blob the snapshot references is collected
   * until it is copied.
   */
  backup(destDir: string, opts: BackupOptions): Promise<BackupResult>;
}
