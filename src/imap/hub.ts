/**
 * Who has which mailbox selected in this process, and telling them when it changes:
 * store.onEvent for changes made in this process, a poll of each watched mailbox's
 * HIGHESTMODSEQ for changes made by other processes (only while some session is in IDLE;
 * other sessions pull changes at their next command).
 */
import type { Logger } from '../lib/log.js';
import type { MailboxChanges, Store } from '../store/port.js';

export interface Watcher {
  /** The mailbox changed (the watcher pulls the details itself). */
  changed(): void;
  /** true while the watcher's session is in IDLE (polled for other processes' changes). */
  idling(): boolean;
}

export class MailboxHub {
  private readonly watchers = new Map<number, Set<Watcher>>();
  private readonly known = new Map<number, number>();
  private unsubscribe: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  private readonly inflight = new Map<string, Promise<MailboxChanges>>();

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    private readonly pollMs: number,
  ) {}

  start(): void {
    this.unsubscribe = this.store.onEvent((e) => {
      if (e.kind === 'mailboxes') return;
      const prev = this.known.get(e.mailboxId) ?? 0;
      if (e.modseq > prev && this.watchers.has(e.mailboxId)) this.known.set(e.mailboxId, e.modseq);
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
   */
  changes(mailboxId: number, since: number): Promise<MailboxChanges> {
    const key = `${mailboxId}:${since}`;
    let p = this.inflight.get(key);
    if (!p) {
      p = this.store.changesSince(mailboxId, since);
      this.inflight.set(key, p);
      const done = (): void => {
        this.inflight.delete(key);
      };
      p.then(done, done);
    }
    return p;
  }

  watch(mailboxId: number, modseq: number, w: Watcher): () => void {
    let set = this.watchers.get(mailboxId);
    if (!set) {
      set = new Set();
      this.watchers.set(mailboxId, set);
      this.known.set(mailboxId, modseq);
    }
    set.add(w);
    return () => {
      const s = this.watchers.get(mailboxId);
      if (!s) return;
      s.delete(w);
      if (s.size === 0) {
        this.watchers.delete(mailboxId);
        this.known.delete(mailboxId);
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

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      for (const [id, set] of this.watchers) {
        let anyIdle = false;
        for (const w of set) if (w.idling()) anyIdle = true;
        if (!anyIdle) continue;
        const mb = await this.store.getMailboxById(id);
        if (!mb) continue;
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
