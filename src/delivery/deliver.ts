/**
 * Deliver one accepted message: the blob is written once for every local recipient
 * (one storeMessage call, one target per mailbox), remote recipients go to the durable
 * queue, and every recipient gets a send-log row (R-LOG-1). Callers answer 250 only after
 * deliver() resolved: storeMessage and enqueue resolve after the data is durable.
 *
 * One message, one outcome: the local copies and the queue item of the same message commit
 * together (store.storeMessages, one savepoint of the group commit), so a failure of either
 * leaves nothing stored and every recipient not refused fails temporarily (SMTP 451: the client
 * retries the whole message, no copy is duplicated and none is lost). Only a permanent,
 * per-recipient outcome (unknown user) or a full mailbox (its recipient waits in the queue)
 * sets one recipient apart from the others.
 */
import type { Config } from '../config/schema.js';
import type { Clock } from '../lib/clock.js';
import { bi, isMailError, isStorageFull, STORAGE_FULL_TEXT, type MailError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import type { Metrics } from '../lib/metrics.js';
import { domainOf } from '../mail/addresses.js';
import { renderImapStrings } from '../mail/imap-render.js';
import { checkQuotaWarnings } from '../policy/quota-warnings.js';
import type { ParsedMessage } from '../mail/types.js';
import { assertHeaderLine, editHeaders, prependHeaders } from './headers.js';
import {
  effectiveQuotaBytes,
  type Account,
  type DeliveryTarget,
  type MessageDsn,
  type NewQueueItem,
  type QueueItem,
  type RecipientDsn,
  type SendDirection,
  type SendLogEntry,
  type SendOutcome,
  type Store,
  type StoreMessageInput,
} from '../store/port.js';

export interface DeliveryDeps {
  store: Store;
  config: Readonly<Config>;
  log: Logger;
  clock: Clock;
  metrics?: Metrics;
}

export interface DeliverInput {
  /** The exact bytes to keep (all header edits done but `prepend`). */
  raw: Buffer;
  /**
   * Header lines that go on top of `raw` (the receiving server's Received, Authentication-Results,
   * policy headers): added in the same copy that adds Return-Path (headers.ts editHeaders), so a
   * big message is copied once on its way to the store, not once per edit.
   */
  prepend?: readonly string[];
  /** `raw` parsed once; offsets index into `raw`. */
  parsed: ParsedMessage;
  /** Envelope sender, "" for the null sender. */
  sender: string;
  /** Envelope recipients, clean lower-case addresses (smtp/address.ts). */
  recipients: string[];
  direction: SendDirection;
  clientIp: string | null;
  /** Signed-in account address (submission), else null. */
  account: string | null;
  /** Into the Junk mailbox instead of INBOX. */
  junk?: boolean;
  /** Policy findings for the send log. */
  findings?: string[];
  /** Accounts already resolved at RCPT time (saves a lookup). */
  resolved?: ReadonlyMap<string, Account>;
  /**
   * When some local recipients fail temporarily (over quota, store busy) while others were
   * delivered, queue the failed ones for a later local retry instead of reporting a failure
   * (SMTP gives one reply per message). Default true.
   */
  retryPartialFailures?: boolean;
  /**
   * Write send-log rows for recipients not delivered (default true). The queue's local retry
   * sets false and writes one row per attempt itself, with the attempt's outcome.
   */
  logUndelivered?: boolean;
  /**
   * The copy the queue keeps, when it differs from the local one: submitted mail leaves without
   * the policy's marks (X-Buudien-* headers, a subject tag), which are for colleagues' copies.
   * A queue item that also holds local recipients to retry keeps the local copy instead.
   */
  queueCopy?: { raw: Buffer; parsed: ParsedMessage; prepend: readonly string[] };
  /** RET and ENVID of the transaction (RFC 3461), kept with the queued copy. */
  dsn?: MessageDsn;
  /** NOTIFY and ORCPT of the recipients that gave them, kept with the queued copy. */
  recipientDsn?: ReadonlyMap<string, RecipientDsn>;
}

export interface RecipientResult {
  recipient: string;
  outcome: SendOutcome;
  code: number;
  enhanced: string;
  text: string;
}

export interface DeliveryResult {
  results: RecipientResult[];
  /** Queue item holding the remote (and retried local) recipients, if any. */
  queueId: number | null;
}

export interface Delivery {
  deliver(input: DeliverInput): Promise<DeliveryResult>;
  /** Quota of an account: its own, else the config default for its kind (R-STORE-1). */
  quotaFor(account: Account): number;
  /** Is this domain one we serve? */
  isLocalDomain(domain: string): boolean;
  /**
   * The account a local address delivers to: its account or alias, else, for postmaster@ any
   * served domain (RFC 5321 §4.5.1: always accepted), smtp.postmasterAddress's account or by
   * default the first super-administrator. null = nobody (a deleted account is nobody).
   */
  resolveRecipient(address: string): Promise<Account | null>;
  /** Log recipients refused before DATA (unknown user, relay denied, policy) — R-LOG-1 "accepted or not". */
  logRefused(entries: Array<Omit<SendLogEntry, 'at' | 'findings'> & { findings?: string[] }>): Promise<void>;
}

/** How long the default postmaster (the first super-administrator) is remembered. */
const POSTMASTER_CACHE_MS = 60_000;

const OK_DELIVERED = { code: 250, enhanced: '2.0.0', text: bi('Đã chuyển vào hộp thư', 'Delivered to mailbox') };
const OK_QUEUED = { code: 250, enhanced: '2.0.0', text: bi('Đã đưa vào hàng đợi gửi đi', 'Queued for delivery') };

/**
 * Send-log rows written in the same tick share one store.logSend call (one transaction, one
 * fsync) — concurrent deliveries would otherwise pay an fsync each. Callers still await it.
 */
function createLogWriter(store: Store, log: Logger): (entries: SendLogEntry[]) => Promise<void> {
  let pending: Array<{ entries: SendLogEntry[]; done: () => void }> = [];
  const flush = async (): Promise<void> => {
    const batch = pending;
    pending = [];
    try {
      await store.logSend(batch.flatMap((b) => b.entries));
    } catch (e) {
      // The messages are durable already; a send-log failure must not make senders retry (duplicates).
      log.error({ err: e, rows: batch.reduce((n, b) => n + b.entries.length, 0) }, 'send log write failed');
    } finally {
      for (const b of batch) b.done();
    }
  };
  return (entries) =>
    entries.length === 0
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          if (pending.length === 0) setImmediate(() => void flush());
          pending.push({ entries, done: resolve });
        });
}

/**
 * The targets an OVER_QUOTA error of storeMessage(s) is about: the one whose mailbox the store
 * names in the error's detail, else (no name, or one not among them) every target.
 */
function overQuotaTarget<T extends { target: DeliveryTarget }>(e: MailError, active: readonly T[]): T[] {
  const d: unknown = e.detail;
  const mailboxId = typeof d === 'object' && d !== null && 'mailboxId' in d ? d.mailboxId : undefined;
  const named = active.find((t) => t.target.mailboxId === mailboxId);
  return named ? [named] : [...active];
}

export function createDelivery(deps: DeliveryDeps): Delivery {
  const { store, config, log, clock, metrics } = deps;
  const localDomains = new Set(config.domains.map((d) => d.toLowerCase()));
  const writeLog = createLogWriter(store, log);

  const quotaFor = (account: Account): number => effectiveQuotaBytes(account, config.quota);

  const alive = (a: Account | null): Account | null => (a && a.state !== 'deleted' ? a : null);
  // Which account is the default postmaster (a scan of the accounts) is remembered for a while;
  // the account itself is read each time (its quota and state may have changed).
  let defaultPostmaster: { id: number | null; until: number } | null = null;

  /** smtp.postmasterAddress's account, else the first (oldest) active super-administrator. */
  async function postmasterAccount(): Promise<Account | null> {
    const configured = config.smtp.postmasterAddress;
    if (configured) {
      const a = alive(await store.resolveAddress(configured));
      if (a) return a;
      log.warn({ postmasterAddress: configured }, 'smtp.postmasterAddress has no account; postmaster mail goes to the first super-administrator');
    }
    const now = clock.now().getTime();
    if (defaultPostmaster && defaultPostmaster.until > now && defaultPostmaster.id !== null) {
      const a = await store.getAccount(defaultPostmaster.id);
      if (a && a.state === 'active' && a.role === 'super') return a;
    }
    const first = (await store.listAccounts({ state: 'active' })).filter((a) => a.role === 'super').sort((a, b) => a.id - b.id)[0] ?? null;
    defaultPostmaster = { id: first?.id ?? null, until: now + POSTMASTER_CACHE_MS };
    if (!first) log.warn('no active super-administrator to receive postmaster mail');
    return first;
  }

  async function resolveRecipient(address: string): Promise<Account | null> {
    const own = alive(await store.resolveAddress(address));
    if (own) return own;
    const at = address.lastIndexOf('@');
    if (at < 0 || address.slice(0, at).toLowerCase() !== 'postmaster' || !localDomains.has(domainOf(address))) return null;
    return postmasterAccount();
  }

  async function targetMailbox(account: Account, junk: boolean): Promise<number | null> {
    if (junk) {
      const boxes = await store.listMailboxes(account.id);
      const j = boxes.find((b) => b.specialUse === '\\Junk');
      if (j) return j.id;
    }
    return store.mailboxId(account.id, 'INBOX');
  }

  async function deliver(input: DeliverInput): Promise<DeliveryResult> {
    const now = clock.now();
    const prepend = input.prepend ?? [];
    for (const l of prepend) assertHeaderLine(l);
    /** Size of the message as kept: `raw` with the `prepend` lines. */
    const size = input.raw.length + Buffer.byteLength(prepend.map((l) => `${l}\r\n`).join(''), 'utf8');
    const results = new Map<string, RecipientResult>();
    /** Recipients whose send-log row was written with the delivery itself. */
    const logged = new Set<string>();
    const logEntry = (r: RecipientResult): SendLogEntry => ({
      at: now,
      direction: input.direction,
      sender: input.sender,
      recipient: r.recipient,
      clientIp: input.clientIp,
      account: input.account,
      messageId: input.parsed.messageId,
      size,
      outcome: r.outcome,
      code: r.code,
      text: `${r.enhanced} ${r.text}`,
      findings: input.findings ?? [],
    });
    const local: string[] = [];
    const remote: string[] = [];
    for (const r of input.recipients) {
      if (results.has(r) || local.includes(r) || remote.includes(r)) continue;
      (localDomains.has(domainOf(r)) ? local : remote).push(r);
    }

    // Resolve local recipients; several addresses of one account share one copy.
    const byAccount = new Map<number, { account: Account; recipients: string[] }>();
    for (const r of local) {
      const account = input.resolved?.get(r) ?? (await resolveRecipient(r));
      if (!account || account.state === 'deleted') {
        results.set(r, { recipient: r, outcome: 'rejected', code: 550, enhanced: '5.1.1', text: bi('Hộp thư không tồn tại', 'No such mailbox') });
        continue;
      }
      const entry = byAccount.get(account.id);
      if (entry) entry.recipients.push(r);
      else byAccount.set(account.id, { account, recipients: [r] });
    }

    const targets: Array<{ target: DeliveryTarget; recipients: string[] }> = [];
    for (const { account, recipients } of byAccount.values()) {
      const mailboxId = await targetMailbox(account, input.junk === true);
      if (mailboxId === null) {
        for (const r of recipients) results.set(r, { recipient: r, outcome: 'deferred', code: 451, enhanced: '4.3.0', text: bi('Không tìm thấy hộp thư đến', 'Inbox missing') });
        continue;
      }
      targets.push({ target: { mailboxId, quotaBytes: quotaFor(account) }, recipients });
    }

    let queueId: number | null = null;
    // The queue copy: the trace headers on top, no Return-Path (the next hop adds its own).
    // input.queueCopy only when every queued recipient is outside: a colleague retried through
    // the queue (over quota now) gets the marked copy, and so, then, do the outside recipients.
    const queueRaw = (recipients: readonly string[]): Buffer => {
      const outside = input.queueCopy !== undefined && !recipients.some((r) => localDomains.has(domainOf(r)));
      const q = outside && input.queueCopy ? input.queueCopy : { raw: input.raw, parsed: input.parsed, prepend };
      return q.prepend.length > 0 ? prependHeaders(q.raw, q.parsed, q.prepend).raw : q.raw;
    };
    const queueItem = (recipients: string[]): NewQueueItem => ({
      sender: input.sender,
      recipients,
      raw: queueRaw(recipients),
      account: input.account,
      messageId: input.parsed.messageId,
      now,
      ...(input.dsn ? { dsn: input.dsn } : {}),
      ...(input.recipientDsn ? { recipientDsn: Object.fromEntries(input.recipientDsn) } : {}),
    });
    const retryPartial = input.retryPartialFailures ?? true;
    /**
     * What goes to the queue next to `committing` local targets: the remote recipients, and the
     * local ones that failed temporarily (over quota, inbox missing) for a later local retry —
     * the latter only when something else succeeds (else the client is told and retries itself).
     */
    const toQueueWith = (committing: number): string[] => {
      if (committing === 0 && remote.length === 0) return [];
      const retryLocal = retryPartial ? local.filter((r) => results.get(r)?.outcome === 'deferred') : [];
      return [...remote, ...retryLocal];
    };
    const markQueued = (toQueue: readonly string[], item: QueueItem): void => {
      queueId = item.id;
      for (const r of toQueue) {
        const prev = results.get(r);
        results.set(r, {
          recipient: r,
          ...OK_QUEUED,
          outcome: 'queued',
          text: prev ? `${bi('Sẽ thử lại sau', 'Will retry later')} (${prev.code} ${prev.enhanced})` : OK_QUEUED.text,
        });
      }
    };
    /** Nothing of the message was stored: every recipient not refused fails temporarily (the client retries the whole message). */
    const failAll = (recipients: readonly string[], e: unknown, what: 'store' | 'queue'): void => {
      log.error({ err: e }, what === 'store' ? 'local delivery failed' : 'enqueue failed');
      // RFC 3463 X.3.1 "mail system full" (452, RFC 5321 §4.2.2) when the disk is; else 451 4.3.0.
      const full = isStorageFull(e);
      for (const r of recipients) {
        results.set(r, full
          ? { recipient: r, outcome: 'deferred', code: 452, enhanced: '4.3.1', text: STORAGE_FULL_TEXT }
          : what === 'store'
            ? { recipient: r, outcome: 'deferred', code: 451, enhanced: '4.3.0', text: bi('Lỗi tạm thời khi lưu thư', 'Temporary failure storing the message') }
            : { recipient: r, outcome: 'deferred', code: 451, enhanced: '4.3.0', text: bi('Lỗi tạm thời khi xếp hàng thư', 'Temporary failure queueing the message') });
      }
    };

    if (targets.length > 0) {
      // RFC 5321 §4.4: final delivery records the envelope sender in Return-Path (any earlier one is dropped).
      const copy = editHeaders(input.raw, input.parsed, {
        remove: (n) => n === 'return-path',
        prepend: [`Return-Path: <${input.sender.replace(/[<>\s]/g, '')}>`, ...prepend],
      });
      const storeInput = {
        raw: copy.raw,
        envelope: copy.parsed.envelope,
        structure: copy.parsed.structure,
        internalDate: now,
        imap: renderImapStrings(copy.parsed.envelope, copy.parsed.structure),
      };
      const delivered = (r: string): RecipientResult => ({ recipient: r, ...OK_DELIVERED, outcome: 'delivered' });
      // The send-log rows of a successful delivery go into its own commit (no second fsync).
      const withLog = (ts: typeof targets): StoreMessageInput => ({
        ...storeInput,
        targets: ts.map((t) => t.target),
        sendLog: ts.flatMap((t) => t.recipients.map((r) => logEntry(delivered(r)))),
      });
      const overQuota = (t: { recipients: string[] }): void => {
        for (const r of t.recipients) {
          results.set(r, { recipient: r, outcome: 'deferred', code: 452, enhanced: '4.2.2', text: bi('Hộp thư người nhận đã đầy', 'Recipient mailbox is over quota') });
        }
      };
      // The local copies and the queue item (remote recipients, local retries) commit together —
      // one storeMessages, one savepoint of the group commit — or not at all: no 250 with part of
      // the message lost. A target over quota is left out (it waits in the queue, or is answered
      // 452) and the rest is committed again; the blob is deduplicated, so a retry is cheap.
      let active = targets;
      for (;;) {
        const toQueue = toQueueWith(active.length);
        if (active.length === 0) {
          // Every local target is over quota: the remote recipients and the local retries alone.
          if (toQueue.length > 0) {
            try {
              markQueued(toQueue, await store.enqueue(queueItem(toQueue)));
            } catch (e) {
              failAll(remote, e, 'queue');
            }
          }
          break;
        }
        try {
          if (toQueue.length === 0) {
            // The common case (local recipients only): the plain group-committed delivery.
            await store.storeMessage(withLog(active));
          } else {
            const { queued } = await store.storeMessages({ messages: [withLog(active)], enqueue: queueItem(toQueue) });
            if (queued) markQueued(toQueue, queued);
          }
          for (const t of active) {
            for (const r of t.recipients) {
              results.set(r, delivered(r));
              logged.add(r);
            }
          }
          break;
        } catch (e) {
          const full = isMailError(e, 'OVER_QUOTA') ? overQuotaTarget(e, active) : null;
          if (full === null) {
            // Nothing was committed: the whole message fails (local retries keep their own reason).
            failAll([...active.flatMap((t) => t.recipients), ...remote], e, 'store');
            break;
          }
          // Which mailbox is full is in the error; an unnamed one means all of them.
          for (const t of full) overQuota(t);
          active = active.filter((t) => !full.includes(t));
        }
      }
    } else {
      const toQueue = toQueueWith(0);
      if (toQueue.length > 0) {
        try {
          markQueued(toQueue, await store.enqueue(queueItem(toQueue)));
        } catch (e) {
          failAll(remote, e, 'queue');
        }
      }
    }

    // R-STORE-3 (policy/quota-warnings.ts): one warning mail per threshold crossed, after the delivery.
    for (const { account, recipients } of byAccount.values()) {
      if (!recipients.some((r) => results.get(r)?.outcome === 'delivered')) continue;
      await checkQuotaWarnings({ store, config, clock }, account.id).catch((e: unknown) =>
        log.warn({ err: e, account: account.address }, 'quota warning not delivered'),
      );
    }

    const ordered = input.recipients.filter((r, i, a) => a.indexOf(r) === i).map((r) => results.get(r)).filter((r): r is RecipientResult => r !== undefined);
    if (input.logUndelivered ?? true) await writeLog(ordered.filter((r) => !logged.has(r.recipient)).map(logEntry));
    if (ordered.some((r) => r.outcome === 'delivered' || r.outcome === 'queued')) {
      metrics?.messagesIn.inc({ path: input.direction });
    }
    return { results: ordered, queueId };
  }

  async function logRefused(entries: Array<Omit<SendLogEntry, 'at' | 'findings'> & { findings?: string[] }>): Promise<void> {
    if (entries.length === 0) return;
    const at = clock.now();
    await writeLog(entries.map((e) => ({ ...e, at, findings: e.findings ?? [] })));
  }

  return { deliver, quotaFor, isLocalDomain: (d) => localDomains.has(d.toLowerCase()), resolveRecipient, logRefused };
}
