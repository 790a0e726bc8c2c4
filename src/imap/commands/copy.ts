/**
 * COPY and MOVE (RFC 6851), with COPYUID (UIDPLUS) and quota (NO [OVERQUOTA] from the store).
 *
 * A COPY or MOVE naming a message another session (or process) expunged, not yet announced to
 * this client, copies nothing and answers NO [EXPUNGEISSUED], after the pending EXPUNGEs (RFC 2180
 * §4.4.1: "Pending EXPUNGE response(s) MUST be returned to the COPY command"; session.ts lets
 * COPY carry them; Dovecot's cmd-copy.c answers the same way). One expunged between that check
 * and the copy's transaction is answered alike: the store copies all or nothing. With CONDSTORE, a MOVE that moved anything gives the mailbox's
 * HIGHESTMODSEQ in its tagged OK (RFC 6851 §4.4).
 */
import { bi, isMailError } from '../../lib/errors.js';
import { no } from '../errors.js';
import { findMailbox } from '../mailbox-lookup.js';
import { orderedSet } from '../format.js';
import type { CommandOf } from '../protocol/types.js';
import type { Session } from '../session.js';
import { ok, type Outcome } from '../state.js';
import { announceOwnExpunge, highestModseqCode } from './expunge.js';
import { quotaBytes, warnAboutQuota } from './quota.js';
import { SELECTED, type CommandSpec } from './spec.js';
import { resolveSet } from './sets.js';

async function copyOrMove(s: Session, cmd: CommandOf<'COPY' | 'MOVE'>): Promise<Outcome> {
  const { view, mailbox } = s.sel();
  const move = cmd.type === 'MOVE';
  if (move && view.readOnly) return { kind: 'no', code: 'READ-ONLY', text: bi('Hộp thư đang mở chỉ để xem', 'Mailbox is read-only') };
  const store = s.deps.store;
  const account = s.acct();
  const dest = await findMailbox(store, account.id, cmd.mailbox.name);
  if (!dest) throw no('TRYCREATE', 'Hộp thư đích không tồn tại', 'Destination mailbox does not exist');
  const seqs = resolveSet(s, cmd.set, cmd.uid);
  const uids = seqs.map((q) => view.uidAt(q) as number);
  if (uids.length === 0) return ok(bi('Không có thư nào', 'No messages'));
  const gone: Outcome = { kind: 'no', code: 'EXPUNGEISSUED', text: bi('Một số thư đã bị xóa hẳn; không thư nào được chép', 'Some of the requested messages no longer exist; nothing was copied') };
  await s.syncSelected();
  if (uids.some((u) => view.isExpungePending(u))) return gone;
  const quota = await quotaBytes(s, account);
  let r: Awaited<ReturnType<typeof store.copyMessages>>;
  try {
    r = move
      ? await store.moveMessages(mailbox.id, uids, dest.id, quota, { origin: s.id, allOrNothing: true })
      : await store.copyMessages(mailbox.id, uids, dest.id, quota, { allOrNothing: true });
  } catch (e) {
    // Expunged by another session between the check above and the copy: nothing was copied.
    if (!isMailError(e, 'NOT_FOUND') || !(await s.deps.store.getMailboxById(dest.id))) throw e;
    await s.syncSelected(true);
    return gone;
  }
  if (dest.id === mailbox.id) view.dirty = true;
  const code = r.mapping.length > 0 ? `COPYUID ${r.uidValidity} ${orderedSet(r.mapping.map((m) => m[0]))} ${orderedSet(r.mapping.map((m) => m[1]))}` : undefined;
  if (!move) {
    warnAboutQuota(s, account);
    return ok(bi('Đã sao chép', 'COPY completed'), code);
  }
  if (code) await s.untagged(`OK [${code}] ${bi('Đã chuyển', 'Moved')}`);
  await announceOwnExpunge(s, r.mapping.map((m) => m[0]));
  const modseq = await highestModseqCode(s, r.mapping.length > 0);
  return ok(bi('Đã chuyển thư', 'MOVE completed'), modseq);
}

export const copyCommand: CommandSpec<'COPY'> = { states: SELECTED, run: copyOrMove };
export const moveCommand: CommandSpec<'MOVE'> = { states: SELECTED, caps: () => ['MOVE'], run: copyOrMove };
