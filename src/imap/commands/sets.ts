/** Sequence sets and UID sets against the selected view ('$' = the saved search result). */
import { bad } from '../errors.js';
import type { SequenceSet } from '../protocol/types.js';
import type { Session } from '../session.js';

/** Sequence numbers (ascending) the set names in the selected view. */
export function resolveSet(s: Session, set: SequenceSet, byUid: boolean): number[] {
  const view = s.sel().view;
  if (set.kind === 'saved') {
    const out: number[] = [];
    for (const uid of s.savedSearch) {
      const seq = view.seqOf(uid);
      if (seq !== 0) out.push(seq);
    }
    return out.sort((a, b) => a - b);
  }
  if (!byUid) {
    // RFC 9051 §9 (seq-number): "The server should respond with a tagged BAD response to a
    // command that uses a message sequence number greater than the number of messages in the
    // selected mailbox. This includes "*" if the selected mailbox is empty." Explicit numbers
    // above EXISTS (the count the client was told) get that BAD. "*" on an empty mailbox does
    // not: it names no message and the command answers OK with nothing. That "should" is not
    // followed on purpose, for interoperability: imapflow (fetchAll('1:*'), fetch({all:true}),
    // messageFlagsAdd('1:*'), messageDelete({all:true}), messageMove('1:*')) and scripts with
    // Python's imaplib (M.fetch('1:*', ...), the "empty Trash" idiom M.store('1:*', '+FLAGS',
    // '\\Deleted')) send `1:*` without looking at EXISTS first and fail or raise on a BAD; and a
    // message that arrives just before the command (not yet announced by EXISTS) would turn a
    // client's correct `1:*` into an error through no fault of its own. UIDs never get the BAD
    // (`UID FETCH 1:*` of an empty mailbox is legal); SEARCH resolves its sequence-set key
    // leniently too (search-eval.ts), as a criterion.
    for (const r of set.ranges) {
      if (r.from === '*' || r.to === '*') continue;
      if (Math.max(r.from, r.to) > view.exists) throw bad('Số thứ tự không tồn tại', 'Invalid message sequence number');
    }
  }
  return view.resolve(
    set.ranges.map((r) => ({ start: r.from === '*' ? null : r.from, end: r.to === '*' ? null : r.to })),
    byUid,
  );
}

/** Is this UID in the set ('*' = the highest UID in the view)? */
export function uidInSet(s: Session, uid: number, set: SequenceSet): boolean {
  if (set.kind === 'saved') return s.savedSearch.includes(uid);
  const max = s.selected?.view.maxUid ?? 0;
  for (const r of set.ranges) {
    let a = r.from === '*' ? max : r.from;
    let b = r.to === '*' ? max : r.to;
    if (a > b) [a, b] = [b, a];
    if (uid >= a && uid <= b) return true;
  }
  return false;
}
