/**
 * Finding a mailbox by the name a client sent. Besides exact names, the names other servers
 * and Outlook use for the special folders ("Sent Items", "Deleted Items", "Junk E-mail",
 * "Archives", CLIENT-NOTES) reach our special-use folders, so a client configured for another
 * server saves its sent mail in our Sent instead of a stray folder.
 */
import type { Mailbox, SpecialUse, Store } from '../store/port.js';

const ALIASES: ReadonlyMap<string, SpecialUse> = new Map([
  ['sent items', '\\Sent'],
  ['sent messages', '\\Sent'],
  ['sent mail', '\\Sent'],
  ['deleted items', '\\Trash'],
  ['deleted messages', '\\Trash'],
  ['junk e-mail', '\\Junk'],
  ['junk email', '\\Junk'],
  ['spam', '\\Junk'],
  ['archives', '\\Archive'],
]);

export async function findMailbox(store: Store, accountId: number, name: string): Promise<Mailbox | null> {
  const mb = await store.getMailbox(accountId, name);
  if (mb) return mb;
  const use = ALIASES.get(name.toLowerCase());
  if (!use) return null;
  return (await store.listMailboxes(accountId)).find((m) => m.specialUse === use) ?? null;
}
