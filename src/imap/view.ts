/**
 * The per-session view of the selected mailbox: sequence numbers ↔ UIDs, flags and MODSEQ as
 * this session last told its client, and the changes other sessions (or processes) made that
 * are still to be announced. Changes are pulled with store.changesSince and diffed against the
 * view, so in-process events, other processes and this session's own writes all go one way.
 * EXPUNGE is announced only when the session says it may (RFC 9051 §7.5.1).
 */
import { isMailError } from '../lib/errors.js';
import type { MessageMeta, Store } from '../store/port.js';

export type ChangeSource = Pick<Store, 'changesSince'>;

const flagPool = new Map<string, readonly string[]>();

/** Shares identical flag lists between messages (100k messages usually have a handful of sets). */
export function internFlags(flags: readonly string[]): readonly string[] {
  const key = flags.join(' ');
  let v = flagPool.get(key);
  if (!v) {
    v = Object.freeze([...flags]);
    if (flagPool.size < 10000) flagPool.set(key, v);
  }
  return v;
}

/** Flags as the store keeps them (space-separated), interned. */
export function internFlagString(s: string): readonly string[] {
  const v = flagPool.get(s);
  if (v) return v;
  return internFlags(s === '' ? [] : s.split(' '));
}

const recentLists = new WeakMap<readonly string[], readonly string[]>();

/** The same flags with \Recent added (one frozen list per interned list, so flagList caches its text). */
export function withRecent(flags: readonly string[]): readonly string[] {
  let v = recentLists.get(flags);
  if (!v) {
    v = Object.freeze([...flags, '\\Recent']);
    if (Object.isFrozen(flags)) recentLists.set(flags, v);
  }
  return v;
}

/** A mailbox listing as parallel arrays, index i for the i-th lowest UID. */
export interface ViewColumns {
  uids: number[];
  modseqs: number[];
  flags: Array<readonly string[]>;
  sizes: number[];
}

export interface ViewOptions {
  mailboxId: number;
  readOnly: boolean;
  /** MODSEQ the listing was taken at (or before). */
  modseq: number;
  /** The listing: message objects, or columns (copied, never changed). */
  messages: readonly MessageMeta[] | ViewColumns;
}

export interface PendingFlag {
  uid: number;
  flags: readonly string[];
  modseq: number;
}

export interface FlushResult {
  /** Sequence numbers expunged, in the order to announce (each relative to the view after the previous). */
  expunged: number[];
  /** UIDs expunged (for VANISHED). */
  vanished: number[];
  /** New EXISTS count, or null when unchanged. */
  exists: number | null;
  /** Flag changes to announce: sequence number, uid, flags, modseq. */
  flags: Array<{ seq: number; uid: number; flags: readonly string[]; modseq: number }>;
}

export class MailboxView {
  readonly mailboxId: number;
  readonly readOnly: boolean;
  /** Index i holds sequence number i + 1. */
  private uids: number[] = [];
  private flagList: Array<readonly string[]> = [];
  private modseqs: number[] = [];
  private sizes: number[] = [];
  /** Highest MODSEQ the view has pulled changes up to. */
  syncedModseq: number;
  /** Set by the hub when the mailbox changed; cleared by sync(). */
  dirty = false;
  /**
   * The mailbox no longer exists (deleted by another session, an admin, an account purge, or in
   * another process: the store no longer knows its id). Never cleared: ids are not reused, so the
   * session must leave it (session.ts ends the session with BYE).
   */
  gone = false;
  private pendingExpunged = new Set<number>();
  /**
   * A MODSEQ below that of every expunge held back in pendingExpunged (the view's syncedModseq
   * before the sync that found it: the store reports expunges with a higher MODSEQ only); null
   * when none is held back. QRESYNC (RFC 7162 §3.2) needs it: see heldBackModseq().
   */
  private expungeFloor: number | null = null;
  private pendingAdded: MessageMeta[] = [];
  private pendingFlags = new Map<number, PendingFlag>();
  private syncing: Promise<void> = Promise.resolve();
  /** The arrays are still the listing's (copy before the first change). */
  private shared = false;
  /**
   * UIDs that are \Recent to this session (RFC 3501 §2.3.2): the ranges it claimed (or, read-only,
   * peeked at), as [first, last] pairs, ascending, overlapping and adjacent ones merged. Usually
   * one or two pairs, whatever the size of the mailbox.
   */
  private recent: Array<[number, number]> = [];

  private own(): void {
    if (!this.shared) return;
    this.uids = this.uids.slice();
    this.flagList = this.flagList.slice();
    this.modseqs = this.modseqs.slice();
    this.sizes = this.sizes.slice();
    this.shared = false;
  }

  constructor(opts: ViewOptions) {
    this.mailboxId = opts.mailboxId;
    this.readOnly = opts.readOnly;
    this.syncedModseq = opts.modseq;
    if (!Array.isArray(opts.messages)) {
      // Shared with the hub's listing (which never changes arrays it handed out) until this view changes.
      const c = opts.messages as ViewColumns;
      this.uids = c.uids;
      this.flagList = c.flags;
      this.modseqs = c.modseqs;
      this.sizes = c.sizes;
      this.shared = true;
      for (const m of this.modseqs) if (m > this.syncedModseq) this.syncedModseq = m;
      return;
    }
    const list = opts.messages as readonly MessageMeta[];
    const n = list.length;
    this.uids = new Array<number>(n);
    this.flagList = new Array<readonly string[]>(n);
    this.modseqs = new Array<number>(n);
    this.sizes = new Array<number>(n);
    let i = 0;
    for (const m of list) {
      this.uids[i] = m.uid;
      this.flagList[i] = internFlags(m.flags);
      this.modseqs[i] = m.modseq;
      this.sizes[i] = m.size;
      if (m.modseq > this.syncedModseq) this.syncedModseq = m.modseq;
      i++;
    }
  }

  get exists(): number {
    return this.uids.length;
  }

  get highestModseq(): number {
    return this.syncedModseq;
  }

  get maxUid(): number {
    const last = this.pendingAdded[this.pendingAdded.length - 1];
    if (last) return last.uid;
    return this.uids[this.uids.length - 1] ?? 0;
  }

  uidAt(seq: number): number | undefined {
    return this.uids[seq - 1];
  }

  /** Sequence number of a UID, or 0 when the view does not hold it. */
  seqOf(uid: number): number {
    let lo = 0;
    let hi = this.uids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.uids[mid] as number;
      if (v === uid) return mid + 1;
      if (v < uid) lo = mid + 1;
      else hi = mid - 1;
    }
    return 0;
  }

  flagsAt(seq: number): readonly string[] {
    return this.flagList[seq - 1] ?? [];
  }

  modseqAt(seq: number): number {
    return this.modseqs[seq - 1] ?? 0;
  }

  sizeAt(seq: number): number {
    return this.sizes[seq - 1] ?? 0;
  }

  allUids(): readonly number[] {
    return this.uids;
  }

  /** Index of the first UID ≥ uid. */
  private lowerBound(uid: number): number {
    let lo = 0;
    let hi = this.uids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.uids[mid] as number) < uid) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Resolve a sequence set (ranges; `null` stands for '*') to sequence numbers in ascending
   * order without duplicates. With `byUid`, ranges are UIDs and only existing ones count.
   */
  resolve(ranges: ReadonlyArray<{ start: number | null; end: number | null }>, byUid: boolean): number[] {
    const n = this.uids.length;
    const out: number[] = [];
    if (n === 0) return out;
    if (!byUid) {
      const marks = new Uint8Array(n + 1);
      for (const r of ranges) {
        let a = r.start === null ? n : r.start;
        let b = r.end === null ? n : r.end;
        if (a > b) [a, b] = [b, a];
        if (a < 1) a = 1;
        if (b > n) b = n;
        for (let s = a; s <= b; s++) marks[s] = 1;
      }
      for (let s = 1; s <= n; s++) if (marks[s]) out.push(s);
      return out;
    }
    const maxUid = this.uids[n - 1] as number;
    const idx: Array<[number, number]> = [];
    for (const r of ranges) {
      let a = r.start === null ? maxUid : r.start;
      let b = r.end === null ? maxUid : r.end;
      if (a > b) [a, b] = [b, a];
      const i = this.lowerBound(a);
      const j = this.lowerBound(b + 1);
      if (j > i) idx.push([i, j]);
    }
    if (idx.length === 1) {
      const [i, j] = idx[0] as [number, number];
      for (let k = i; k < j; k++) out.push(k + 1);
      return out;
    }
    idx.sort((x, y) => x[0] - y[0]);
    let last = -1;
    for (const [i, j] of idx) {
      for (let k = Math.max(i, last + 1); k < j; k++) {
        out.push(k + 1);
        last = k;
      }
    }
    return out;
  }

  // ───── \Recent ─────

  /** UIDs first..last became \Recent to this session (a claim's range; empty when first > last). */
  addRecent(first: number, last: number): void {
    if (first > last) return;
    const all = [...this.recent, [first, last] as [number, number]].sort((a, b) => a[0] - b[0]);
    const merged: Array<[number, number]> = [];
    for (const r of all) {
      const prev = merged[merged.length - 1];
      if (prev && r[0] <= prev[1] + 1) prev[1] = Math.max(prev[1], r[1]);
      else merged.push([r[0], r[1]]);
    }
    this.recent = merged;
  }

  /** No message is \Recent to this session any more (ENABLE IMAP4rev2). */
  clearRecent(): void {
    this.recent = [];
  }

  isRecent(uid: number): boolean {
    for (const [a, b] of this.recent) {
      if (uid < a) return false;
      if (uid <= b) return true;
    }
    return false;
  }

  /** How many messages of the view are \Recent to this session (the RECENT response). */
  recentCount(): number {
    let n = 0;
    for (const [a, b] of this.recent) n += this.lowerBound(b + 1) - this.lowerBound(a);
    return n;
  }

  /** Sequence numbers of the \Recent messages (SEARCH RECENT), ascending. */
  recentSeqs(): number[] {
    const out: number[] = [];
    for (const [a, b] of this.recent) {
      const j = this.lowerBound(b + 1);
      for (let i = this.lowerBound(a); i < j; i++) out.push(i + 1);
    }
    return out;
  }

  /** Flags to show the client for `uid`: these, with \Recent when the message is recent to this session. */
  shownFlags(uid: number, flags: readonly string[]): readonly string[] {
    return this.recent.length > 0 && this.isRecent(uid) ? withRecent(flags) : flags;
  }

  /** FETCH FLAGS of a sequence number: the stored flags plus \Recent (flagsAt has the stored ones only). */
  shownFlagsAt(seq: number): readonly string[] {
    const flags = this.flagsAt(seq);
    return this.recent.length > 0 ? this.shownFlags(this.uids[seq - 1] as number, flags) : flags;
  }

  /** This session changed flags itself (its STORE answer already tells the client). */
  applyOwnFlags(uid: number, flags: readonly string[], modseq: number): number {
    const seq = this.seqOf(uid);
    if (seq === 0) return 0;
    this.own();
    this.flagList[seq - 1] = internFlags(flags);
    this.modseqs[seq - 1] = modseq;
    const p = this.pendingFlags.get(uid);
    if (p && p.modseq <= modseq) this.pendingFlags.delete(uid);
    return seq;
  }

  /** This session expunged these UIDs; returns the sequence numbers to announce, in order. */
  applyOwnExpunge(uids: readonly number[]): number[] {
    const seqs: number[] = [];
    // Highest first: each announced number is still valid when the client applies it.
    const sorted = [...uids].sort((a, b) => b - a);
    for (const uid of sorted) {
      this.pendingExpunged.delete(uid);
      this.pendingFlags.delete(uid);
      const seq = this.seqOf(uid);
      if (seq === 0) continue;
      this.removeAt(seq - 1);
      seqs.push(seq);
    }
    return seqs;
  }

  private removeAt(i: number): void {
    this.own();
    this.uids.splice(i, 1);
    this.flagList.splice(i, 1);
    this.modseqs.splice(i, 1);
    this.sizes.splice(i, 1);
  }

  /**
   * Pull what changed since the last sync (serialised). `source` is the store, or anything with
   * its changesSince (the hub shares one query between sessions).
   */
  sync(source: ChangeSource): Promise<void> {
    this.syncing = this.syncing.then(() => this.doSync(source)).catch(() => undefined);
    return this.syncing;
  }

  private async doSync(source: ChangeSource): Promise<void> {
    this.dirty = false;
    const before = this.syncedModseq;
    if (this.pendingExpunged.size === 0) this.expungeFloor = null;
    let ch: Awaited<ReturnType<ChangeSource['changesSince']>>;
    try {
      ch = await source.changesSince(this.mailboxId, this.syncedModseq);
    } catch (e) {
      if (isMailError(e, 'NOT_FOUND')) this.gone = true;
      throw e;
    }
    for (const uid of ch.expunged) {
      const pi = this.pendingAdded.findIndex((m) => m.uid === uid);
      if (pi >= 0) {
        this.pendingAdded.splice(pi, 1);
        continue;
      }
      if (this.seqOf(uid) !== 0) {
        this.pendingExpunged.add(uid);
        if (this.expungeFloor === null || before < this.expungeFloor) this.expungeFloor = before;
      }
    }
    const changed = [...ch.changed].sort((a, b) => a.uid - b.uid);
    const expunged = new Set(ch.expunged);
    for (const m of changed) {
      if (expunged.has(m.uid)) continue;
      const seq = this.seqOf(m.uid);
      if (seq !== 0) {
        if (m.modseq > (this.modseqs[seq - 1] as number)) {
          const p = this.pendingFlags.get(m.uid);
          if (!p || p.modseq < m.modseq) this.pendingFlags.set(m.uid, { uid: m.uid, flags: internFlags(m.flags), modseq: m.modseq });
        }
        continue;
      }
      const pa = this.pendingAdded.find((x) => x.uid === m.uid);
      if (pa) {
        pa.flags = [...m.flags];
        pa.modseq = m.modseq;
      } else if (m.uid > this.maxUid) {
        this.pendingAdded.push({ ...m });
      }
    }
    if (ch.highestModseq > this.syncedModseq) this.syncedModseq = ch.highestModseq;
  }

  /**
   * While an expunge is held back (announcing it is not allowed during FETCH, STORE, SEARCH), a
   * MODSEQ lower than its MODSEQ, for the `* OK [HIGHESTMODSEQ n]` RFC 7162 §3.2 requires then
   * (so a client that saves the MODSEQs of the FETCH responses it got never skips the expunge
   * when it resynchronises); null when no expunge is held back.
   */
  heldBackModseq(): number | null {
    if (this.pendingExpunged.size === 0) this.expungeFloor = null;
    return this.expungeFloor;
  }

  /** Was this UID expunged (another session or process), not yet announced to the client? */
  isExpungePending(uid: number): boolean {
    return this.pendingExpunged.has(uid);
  }

  /**
   * Apply a flag change made elsewhere to `uid` now, as the caller's own FETCH response tells it
   * (STORE answers with the message's current flags, RFC 9051 §6.4.6), so it is not announced a
   * second time. Returns whether there was one.
   */
  takePendingFlags(uid: number): boolean {
    const p = this.pendingFlags.get(uid);
    if (!p) return false;
    const seq = this.seqOf(uid);
    this.pendingFlags.delete(uid);
    if (seq === 0) return false;
    this.own();
    this.flagList[seq - 1] = p.flags;
    this.modseqs[seq - 1] = p.modseq;
    return true;
  }

  hasPending(): boolean {
    return this.pendingExpunged.size > 0 || this.pendingAdded.length > 0 || this.pendingFlags.size > 0;
  }

  /** Apply pending changes and say what to announce. Expunges stay pending unless allowed. */
  flush(allowExpunge: boolean): FlushResult {
    const res: FlushResult = { expunged: [], vanished: [], exists: null, flags: [] };
    if (allowExpunge && this.pendingExpunged.size > 0) {
      const uids = [...this.pendingExpunged];
      this.pendingExpunged.clear();
      res.vanished = uids.filter((u) => this.seqOf(u) !== 0).sort((a, b) => a - b);
      res.expunged = this.applyOwnExpunge(uids);
    }
    if (this.pendingAdded.length > 0) {
      this.own();
      for (const m of this.pendingAdded) {
        this.uids.push(m.uid);
        this.flagList.push(internFlags(m.flags));
        this.modseqs.push(m.modseq);
        this.sizes.push(m.size);
      }
      this.pendingAdded = [];
      res.exists = this.uids.length;
    }
    if (this.pendingFlags.size > 0) {
      const list = [...this.pendingFlags.values()].sort((a, b) => a.uid - b.uid);
      this.pendingFlags.clear();
      for (const p of list) {
        const seq = this.seqOf(p.uid);
        if (seq === 0) continue;
        this.own();
        this.flagList[seq - 1] = p.flags;
        this.modseqs[seq - 1] = p.modseq;
        res.flags.push({ seq, uid: p.uid, flags: p.flags, modseq: p.modseq });
      }
    }
    return res;
  }
}
