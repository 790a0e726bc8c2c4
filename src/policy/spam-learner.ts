/**
 * Spam learning (R-POL-4 "users mark spam") without touching the IMAP code: a service that
 * listens to store events and teaches rspamd (/learnspam, /learnham) when a user
 * - moves or copies a message into the Junk mailbox, or sets $Junk → spam;
 * - moves a message we had put in Junk (it carries our `X-Buudien-Policy: spam` header) out
 *   of Junk, or sets $NotJunk → ham.
 * Our own deliveries into Junk are not learned (they carry that header already). Each
 * (mailbox, uid) is learned once per process. Failures are logged, never thrown.
 * Without config.policy.rspamd the service does nothing.
 */
import type { Config } from '../config/schema.js';
import type { Logger } from '../lib/log.js';
import type { BoundListener, Service } from '../lib/service.js';
import type { Store, StoreEvent } from '../store/port.js';
import { rspamdFromConfig, type RspamdClient } from './rspamd.js';

const OURS = /^X-Buudien-Policy: spam;/im;

export interface SpamLearnerDeps {
  store: Store;
  config: Readonly<Config>;
  log: Logger;
  /** Override the rspamd client (tests). */
  client?: RspamdClient | null;
}

export interface SpamLearner extends Service {
  /** Resolves when every learning started so far has finished (tests, shutdown). */
  idle(): Promise<void>;
}

export function createSpamLearner(deps: SpamLearnerDeps): SpamLearner {
  const { store, log } = deps;
  const client = deps.client === undefined ? rspamdFromConfig(deps.config) : deps.client;
  const learned = new Set<string>();
  const pending = new Set<Promise<void>>();
  let off: (() => void) | null = null;

  async function headerOf(blobId: string): Promise<{ raw: Buffer; ours: boolean }> {
    const raw = await store.readBlob(blobId);
    const end = raw.indexOf('\r\n\r\n');
    const head = raw.subarray(0, end < 0 ? Math.min(raw.length, 64 * 1024) : end).toString('latin1');
    return { raw, ours: OURS.test(head) };
  }

  async function learn(mailboxId: number, uids: number[], decide: (ours: boolean, flags: string[]) => 'spam' | 'ham' | null): Promise<void> {
    if (!client || uids.length === 0) return;
    const details = await store.getMessageDetails(mailboxId, uids);
    for (const d of details) {
      const key = `${mailboxId}:${d.uid}`;
      if (learned.has(key)) continue;
      const { raw, ours } = await headerOf(d.blobId);
      const kind = decide(ours, d.flags);
      if (!kind) continue;
      learned.add(key);
      await client.learn(kind, raw);
      log.info({ mailboxId, uid: d.uid, kind }, 'spam filter taught');
    }
  }

  async function onEvent(e: StoreEvent): Promise<void> {
    if (e.kind === 'added') {
      const box = await store.getMailboxById(e.mailboxId);
      if (!box) return;
      if (box.specialUse === '\\Junk') await learn(e.mailboxId, e.uids, (ours) => (ours ? null : 'spam'));
      else await learn(e.mailboxId, e.uids, (ours) => (ours ? 'ham' : null));
    } else if (e.kind === 'flags') {
      const junk = e.changes.filter((c) => c.flags.includes('$Junk')).map((c) => c.uid);
      const notJunk = e.changes.filter((c) => c.flags.includes('$NotJunk')).map((c) => c.uid);
      await learn(e.mailboxId, junk, () => 'spam');
      await learn(e.mailboxId, notJunk, () => 'ham');
    }
  }

  return {
    name: 'spam-learner',
    async start(): Promise<BoundListener[]> {
      if (client && !off) {
        off = store.onEvent((e) => {
          const p = onEvent(e).catch((err: unknown) => log.warn({ err }, 'spam learning failed'));
          pending.add(p);
          void p.finally(() => pending.delete(p));
        });
      }
      return [];
    },
    async stop(): Promise<void> {
      off?.();
      off = null;
      await Promise.all([...pending]);
    },
    healthy: () => true,
    async idle() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
  };
}
