/** EXPUNGE and UID EXPUNGE (UIDPLUS). */
import { bi } from '../../lib/errors.js';
import { seqSet } from '../format.js';
import type { Session } from '../session.js';
import { ok } from '../state.js';
import { SELECTED, type CommandSpec } from './spec.js';
import { resolveSet } from './sets.js';

/** Tell the client about expunges this session made (EXPUNGE, or VANISHED with QRESYNC). */
export async function announceOwnExpunge(s: Session, uids: readonly number[]): Promise<void> {
  const view = s.sel().view;
  if (s.enabled.has('QRESYNC')) {
    const known = uids.filter((u) => view.seqOf(u) !== 0);
    view.applyOwnExpunge(known);
    if (known.length > 0) await s.untagged(`VANISHED ${seqSet(known)}`);
    return;
  }
  const seqs = view.applyOwnExpunge(uids);
  await s.writeMany(seqs.map((q) => `* ${q} EXPUNGE\r\n`));
}

/**
 * `HIGHESTMODSEQ n` for the tagged OK of EXPUNGE, UID EXPUNGE (RFC 7162 §3.2.7, §3.2.9) and a MOVE
 * that moved something (RFC 6851 §4.4), when the client uses CONDSTORE: the view is brought up to
 * date and every change announced first (these commands may carry EXPUNGEs), so every change up
 * to n has been told. undefined when not wanted.
 */
export async function highestModseqCode(s: Session, wanted = true): Promise<string | undefined> {
  if (!wanted || !s.condstore) return undefined;
  await s.notify(null, true);
  const view = s.selected?.view;
  if (!view || view.heldBackModseq() !== null) return undefined;
  return `HIGHESTMODSEQ ${view.highestModseq}`;
}

export const expungeCommand: CommandSpec<'EXPUNGE'> = {
  states: SELECTED,
  caps: () => ['UIDPLUS'],
  async run(s, cmd) {
    const { view, mailbox } = s.sel();
    if (view.readOnly) return { kind: 'no', code: 'READ-ONLY', text: bi('Hộp thư đang mở chỉ để xem', 'Mailbox is read-only') };
    let uids: number[] | undefined;
    if (cmd.uid && cmd.uidSet) {
      uids = resolveSet(s, cmd.uidSet, true).map((q) => view.uidAt(q) as number);
      if (uids.length === 0) return ok(bi('Xong', 'EXPUNGE completed'));
    }
    // Changes other sessions made first, so our \Deleted view is current.
    await s.notify(null, true);
    // RFC 4315 §2.1: only messages in the set that have \Deleted now, as the store sees it inside
    // its transaction (another session may have just taken the flag off).
    const gone = await s.deps.store.expunge(mailbox.id, uids, { origin: s.id, onlyDeleted: true });
    await announceOwnExpunge(s, gone);
    return ok(bi('Đã xóa hẳn', 'EXPUNGE completed'), await highestModseqCode(s));
  },
};
