/**
 * Who has which mailbox selected in this process, and telling them when it changes:
 * store.onEvent for changes made in this process, a poll of each watched mailbox's
 * HIGHESTMODSEQ for changes made by other processes (only while some session is in IDLE;
 * other sessions look at it before answering each command: Session.syncSelected). New mail is told to every watcher; which
 * session it is \Recent to is settled by the store (claimRecent: the first to claim it).
 *
 * It also keeps the listing SELECT needs (UIDs, flags, MODSEQs, sizes) of recently selected
 * mailboxes, shared by their sessions and brought up to date with store.changesSince by MODSEQ
 * (so changes made by other processes are picked up too); a SELECT then costs a status read and
 * a copy instead of reading every row.
 *
 * It also tells watchers when their mailbox is deleted (store event 'mailboxes' for its owner,
 * then a look-up by id; or, from other processes, the IDLE poll finding no such id), so their
 * sessions can end (RFC 2180 §3.3; session.ts).
 */
import type { Logger } from '../lib/log.js';
import type { MailboxChanges, MailboxStatus, Store } from '../store/port.js';
import { internFlagString, internFlags, type ViewColumns } from './view.js';

/** Listings kept (most recently selected first) up to this many messages in all, about 30 bytes each; selected mailboxes' are always kept. */
const SNAPSHOT_KEEP_MESSAGES = 300_000;

/** A mailbox's listing as of `modseq`. */
interface Snapshot extends ViewColumns {
  uidValidity: number;
  modseq: number;
}

export interface Watcher {
  /** The mailbox changed (the watcher pulls the details itself). */
  changed(): void;
  /** true while the watcher's session is in IDLE (polled for other processes' changes). */
  idling(): boolean;
  /** The mailbox was deleted (ids are never reused, so it will not come back). */
  gone?(): void;
}

export class MailboxHub {
  private readonly watchers = new Map<number, Set<Watcher>>();
  private readonly known = new Map<number, number>();
  /** Owner account of each watched mailbox (a 'mailboxes' event names the account). */
  private readonly owners = new Map<number, number>();
  private unsubscribe: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  private readonly inflight = new Map<string, Promise<MailboxChanges>>();
  /** Listings by mailbox id, least recently used first. */
  private readonly snapshots = new Map<number, Snapshot>();
  private readonly loading = new Map<number, Promise<Snapshot>>();

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    private readonly pollMs: number,
  ) {}

  start(): void {
    this.unsubscribe = this.store.onEvent((e) => {
      if (e.kind === 'mailboxes') {
        void this.checkGone(e.accountId);
        return;
      }
      const prev = this.known.get(e.mailboxId) ?? 0;
      if (e.modseq > prev && this.watchers.has(e.mailboxId)) this.known.set(e.mailboxId, e.modseq);
      // A query of this mailbox already under way may have read before this commit: the sessions
      // told of it below must not be handed that query's answer (they would clear their "dirty"
      // and miss the change), so later asks start their own.
      const prefix = `${e.mailboxId}:`;
      for (const key of this.inflight.keys()) if (key.startsWith(prefix)) this.inflight.delete(key);
      this.notify(e.mailboxId);
    });
    if (this.pollMs > 0) {
      this.timer = setInterval(() => void this.poll(), this.pollMs);
      this.timer.unref();
    }
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /**
   * store.changesSince, shared between concurrent identical asks: when a change reaches many
   * sessions of one mailbox (a unit mailbox, Thunderbird's five connections) they pull it once.
   * Not across a change event of the mailbox (start()): an ask after it reads again.
   */
  changes(mailboxId: number, since: number): Promise<MailboxChanges> {
    const key = `${mailboxId}:${since}`;
    let p = this.inflight.get(key);
    if (!p) {
      const q = this.store.changesSince(mailboxId, since);
      p = q;
      this.inflight.set(key, q);
      const done = (): void => {
        if (this.inflight.get(key) === q) this.inflight.delete(key);
      };
      q.then(done, done);
    }
    return p;
  }

  /**
   * The mailbox's listing, at least as new as `status` (read just before). The arrays are
   * shared: callers copy before changing them.
   */
  async listing(mailboxId: number, status: MailboxStatus): Promise<ViewColumns & { modseq: number }> {
    for (;;) {
      const busy = this.loading.get(mailboxId);
      if (!busy) break;
      await busy.catch(() => undefined);
    }
    const cached = this.snapshots.get(mailboxId);
    // Current: same MODSEQ and count as the status, or newer than it (another session refreshed it since).
    const fresh = cached && cached.uidValidity === status.uidValidity && (cached.modseq > status.highestModseq || (cached.modseq === status.highestModseq && cached.uids.length === status.messages));
    if (cached && fresh) {
      this.touch(mailboxId, cached);
      return cached;
    }
    const p = this.refresh(mailboxId, status, cached && cached.uidValidity === status.uidValidity ? cached : null);
    this.loading.set(mailboxId, p);
    try {
      const snap = await p;
      this.touch(mailboxId, snap);
      return snap;
    } finally {
      this.loading.delete(mailboxId);
    }
  }

  private touch(mailboxId: number, snap: Snapshot): void {
    this.snapshots.delete(mailboxId);
    this.snapshots.set(mailboxId, snap);
    let total = 0;
    for (const s of this.snapshots.values()) total += s.uids.length;
    for (const [id, s] of this.snapshots) {
      if (total <= SNAPSHOT_KEEP_MESSAGES) break;
      if (id === mailboxId || this.watchers.has(id)) continue;
      this.snapshots.delete(id);
      total -= s.uids.length;
    }
  }

  private async refresh(mailboxId: number, status: MailboxStatus, cached: Snapshot | null): Promise<Snapshot> {
    if (cached && cached.modseq < status.highestModseq) {
      const ch = await this.changes(mailboxId, cached.modseq);
      const next = applyChanges(cached, ch);
      // Trust the incremental result only when it provably matches the mailbox (same MODSEQ, same count).
      if (next && (ch.highestModseq !== status.highestModseq || next.uids.length === status.messages)) return next;
    }
    const idx = await this.store.listMessageIndex(mailboxId);
    let modseq = status.highestModseq;
    for (const m of idx.modseqs) if (m > modseq) modseq = m;
    return {
      uidValidity: status.uidValidity,
      modseq,
      uids: idx.uids,
      modseqs: idx.modseqs,
      flags: idx.flags.map(internFlagString),
      sizes: idx.sizes,
    };
  }

  /** Watch a mailbox; `ownerId` (its account) lets a deletion reach `w.gone`. */
  watch(mailboxId: number, modseq: number, w: Watcher, ownerId?: number): () => void {
    let set = this.watchers.get(mailboxId);
    if (!set) {
      set = new Set();
      this.watchers.set(mailboxId, set);
      this.known.set(mailboxId, modseq);
    }
    if (ownerId !== undefined) this.owners.set(mailboxId, ownerId);
    set.add(w);
    return () => {
      const s = this.watchers.get(mailboxId);
      if (!s) return;
      s.delete(w);
      if (s.size === 0) {
        this.watchers.delete(mailboxId);
        this.known.delete(mailboxId);
        this.owners.delete(mailboxId);
      }
    };
  }

  private notify(mailboxId: number): void {
    const set = this.watchers.get(mailboxId);
    if (!set) return;
    for (const w of set) {
      try {
        w.changed();
      } catch (err) {
        this.log.error({ err }, 'imap watcher failed');
      }
    }
  }

  /**
   * The account's mailboxes changed (created, renamed, deleted, subscribed; or the account was
   * purged): tell the watchers of those of its mailboxes that no longer exist. A rename keeps the
   * id, so only a deletion is found here.
   */
  private async checkGone(accountId: number): Promise<void> {
    const ids: number[] = [];
    for (const [id, owner] of this.owners) if (owner === accountId && this.watchers.has(id)) ids.push(id);
    for (const id of ids) {
      try {
        if (!(await this.store.getMailboxById(id))) this.notifyGone(id);
      } catch (err) {
        this.log.warn({ err, mailbox: id }, 'imap: checking a watched mailbox failed');
      }
    }
  }

  private notifyGone(mailboxId: number): void {
    this.snapshots.delete(mailboxId);
    const set = this.watchers.get(mailboxId);
    if (!set) return;
    for (const w of [...set]) {
      try {
        w.gone?.();
      } catch (err) {
        this.log.error({ err }, 'imap watcher failed');
      }
    }
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      for (const [id, set] of this.watchers) {
        let anyIdle = false;
        for (const w of set) if (w.idling()) anyIdle = true;
        if (!anyIdle) continue;
        const mb = await this.store.getMailboxById(id);
        if (!mb) {
          // Deleted by another process (ids are never reused).
          this.notifyGone(id);
          continue;
        }
        const prev = this.known.get(id) ?? 0;
        if (mb.highestModseq > prev) {
          this.known.set(id, mb.highestModseq);
          this.notify(id);
        }
      }
    } catch (err) {
      this.log.warn({ err }, 'imap mailbox poll failed');
    } finally {
      this.polling = false;
    }
  }
}

/**
 * The common case after a delivery: only new messages, above the highest UID. concat copies each
 * column once, straight into an array of the final length (slice and then push copies twice over:
 * a few milliseconds on a 100,000-message listing).
 */
function onlyAppended(snap: Snapshot, ch: MailboxChanges): Snapshot | null {
  if (ch.expunged.length > 0) return null;
  const max = snap.uids[snap.uids.length - 1] ?? 0;
  const added = [...ch.changed].sort((a, b) => a.uid - b.uid);
  if (added.length === 0 || (added[0]?.uid ?? 0) <= max) return null;
  for (let i = 1; i < added.length; i++) if ((added[i]?.uid ?? 0) <= (added[i - 1]?.uid ?? 0)) return null;
  return {
    uidValidity: snap.uidValidity,
    modseq: Math.max(snap.modseq, ch.highestModseq),
    uids: snap.uids.concat(added.map((m) => m.uid)),
    modseqs: snap.modseqs.concat(added.map((m) => m.modseq)),
    flags: snap.flags.concat(added.map((m) => internFlags(m.flags))),
    sizes: snap.sizes.concat(added.map((m) => m.size)),
  };
}

/**
 * The listing after `ch`, in new arrays (the old ones may still be read by a caller); null when
 * the changes cannot be applied (a UID below the highest appeared).
 */
function applyChanges(snap: Snapshot, ch: MailboxChanges): Snapshot | null {
  const appended = onlyAppended(snap, ch);
  if (appended) return appended;
  let { uids, modseqs, flags, sizes } = snap;
  let copied = false;
  if (ch.expunged.length > 0) {
    const gone = new Set(ch.expunged);
    const keep: number[] = [];
    for (let i = 0; i < uids.length; i++) if (!gone.has(uids[i] as number)) keep.push(i);
    if (keep.length !== uids.length) {
      uids = keep.map((i) => uids[i] as number);
      modseqs = keep.map((i) => modseqs[i] as number);
      flags = keep.map((i) => flags[i] as readonly string[]);
      sizes = keep.map((i) => sizes[i] as number);
      copied = true;
    }
  }
  if (!copied) {
    uids = uids.slice();
    modseqs = modseqs.slice();
    flags = flags.slice();
    sizes = sizes.slice();
  }
  const gone = new Set(ch.expunged);
  const added = ch.changed.filter((m) => !gone.has(m.uid)).sort((a, b) => a.uid - b.uid);
  let max = uids[uids.length - 1] ?? 0;
  for (const m of added) {
    // binary search: flag change of a message the listing holds
    let lo = 0;
    let hi = uids.length - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = uids[mid] as number;
      if (v === m.uid) {
        at = mid;
        break;
      }
      if (v < m.uid) lo = mid + 1;
      else hi = mid - 1;
    }
    if (at >= 0) {
      modseqs[at] = m.modseq;
      flags[at] = internFlags(m.flags);
      continue;
    }
    if (m.uid <= max) return null;
    uids.push(m.uid);
    modseqs.push(m.modseq);
    flags.push(internFlags(m.flags));
    sizes.push(m.size);
    max = m.uid;
  }
  return { uidValidity: snap.uidValidity, modseq: Math.max(snap.modseq, ch.highestModseq), uids, modseqs, flags, sizes };
}
