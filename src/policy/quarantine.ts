/**
 * The quarantine (messages held by a rule whose action is `quarantine`): list, release, delete.
 * The SMTP layer stores held messages with store.quarantine. Releasing re-delivers the held
 * bytes, with one `X-Buudien-Policy: released; quarantine=<id>` header added, through a
 * `deliver` function the caller passes (the CLI passes delivery/'s deliver, so released mail
 * takes the normal path: quotas, send log, outbound queue). The item is removed only when no
 * recipient failed temporarily; otherwise it stays for another try.
 */
import { bi, MailError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { parseMessage } from '../mail/parse.js';
import type { ParsedMessage } from '../mail/types.js';
import type { QuarantineItem, SendDirection, Store } from '../store/port.js';

export interface ReleaseInput {
  raw: Buffer;
  parsed: ParsedMessage;
  sender: string;
  recipients: string[];
  direction: SendDirection;
}

/** What the deliverer reports per recipient (delivery/'s RecipientResult fits). */
export interface ReleaseRecipientResult {
  recipient: string;
  outcome: string;
  code: number;
  text: string;
}

export type ReleaseDeliver = (input: ReleaseInput) => Promise<{ results: ReleaseRecipientResult[] }>;

export interface ReleaseResult {
  item: QuarantineItem;
  results: ReleaseRecipientResult[];
  /** The item was removed from the quarantine (every recipient delivered, queued or refused for good). */
  removed: boolean;
}

async function itemOr404(store: Store, id: number): Promise<QuarantineItem> {
  const item = await store.getQuarantine(id);
  if (!item) throw new MailError('NOT_FOUND', bi(`Không có thư cách ly số ${id}`, `No quarantined message ${id}`));
  return item;
}

export async function releaseQuarantined(deps: { store: Store; log: Logger }, id: number, actor: string, deliver: ReleaseDeliver): Promise<ReleaseResult> {
  const { store, log } = deps;
  const item = await itemOr404(store, id);
  const held = await store.readBlob(item.blobId);
  const raw = Buffer.concat([Buffer.from(`X-Buudien-Policy: released; quarantine=${item.id}\r\n`, 'latin1'), held]);
  const { results } = await deliver({ raw, parsed: parseMessage(raw), sender: item.sender, recipients: item.recipients, direction: item.direction });
  const temporary = results.some((r) => r.code >= 400 && r.code < 500);
  if (!temporary) await store.removeQuarantine(item.id);
  await store.audit({ actor, action: 'quarantine.release', target: String(item.id), details: { reason: item.reason, recipients: item.recipients, results: results.map((r) => `${r.recipient} ${r.code}`) } });
  log.info({ quarantineId: item.id, actor, results: results.map((r) => `${r.recipient} ${r.code}`) }, 'quarantined message released');
  return { item, results, removed: !temporary };
}

export async function deleteQuarantined(deps: { store: Store }, id: number, actor: string): Promise<QuarantineItem> {
  const item = await itemOr404(deps.store, id);
  await deps.store.removeQuarantine(id);
  await deps.store.audit({ actor, action: 'quarantine.delete', target: String(id), details: { reason: item.reason, sender: item.sender, recipients: item.recipients } });
  return item;
}
