/**
 * Messages in the store for tests: put raw bytes into a mailbox as delivery would (parsed
 * once, stored once), read a mailbox back, and wait for the server to reach a state
 * (store events or a bounded poll, never a sleep).
 */
import { parseMessage } from '../../src/mail/parse.js';
import type { Store } from '../../src/store/port.js';

/** Put `raw` into the account's mailbox (INBOX by default); returns the UID. */
export async function storeParsed(
  store: Store,
  accountId: number,
  raw: Buffer | string,
  opts: { mailbox?: string; flags?: string[]; internalDate?: Date } = {},
): Promise<number> {
  const bytes = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
  const mailbox = opts.mailbox ?? 'INBOX';
  const mb = await store.getMailbox(accountId, mailbox);
  if (!mb) throw new Error(`no mailbox ${mailbox}`);
  const p = parseMessage(bytes);
  const [copy] = await store.storeMessage({
    raw: bytes,
    envelope: p.envelope,
    structure: p.structure,
    internalDate: opts.internalDate ?? new Date(),
    targets: [{ mailboxId: mb.id, flags: opts.flags ?? [], quotaBytes: null }],
  });
  if (!copy) throw new Error('not stored');
  return copy.uid;
}

/** Every message in a mailbox, raw, oldest first ([] when there is no such mailbox). */
export async function messagesIn(store: Store, accountId: number, mailbox = 'INBOX'): Promise<Buffer[]> {
  const box = await store.getMailbox(accountId, mailbox);
  if (!box) return [];
  const list = await store.listMessages(box.id);
  return Promise.all(list.map((m) => store.readBlob(m.blobId)));
}

/** Resolves with the raw bytes of the next message added to the account's mailbox (default INBOX). */
export async function nextMessage(store: Store, accountId: number, mailbox = 'INBOX'): Promise<Buffer> {
  const box = await store.getMailbox(accountId, mailbox);
  if (!box) throw new Error(`no mailbox ${mailbox}`);
  const before = (await store.listMessages(box.id)).length;
  return new Promise<Buffer>((resolve, reject) => {
    let done = false;
    const check = async (): Promise<void> => {
      const list = await store.listMessages(box.id);
      const m = list[before];
      if (m && !done) {
        done = true;
        off();
        resolve(await store.readBlob(m.blobId));
      }
    };
    const off = store.onEvent((e) => {
      if (e.kind === 'added' && e.mailboxId === box.id) check().catch(reject);
    });
    check().catch(reject);
  });
}

/**
 * Wait for a condition the server reaches asynchronously after a reply the test already saw
 * (e.g. the queue runner writing its send-log row after the sink got the message). Polls;
 * fails after `timeoutMs`. Not a sleep: it returns as soon as the state is reached.
 */
export async function until<T>(fn: () => Promise<T | null | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise<void>((r) => setTimeout(r, 10));
  }
}
