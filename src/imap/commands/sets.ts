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
    // RFC 9051 §9 (seq-number): a sequence number above the number of messages is answered with
    // a tagged BAD, "This includes "*" if the selected mailbox is empty" (the count the client
    // was told: messages not yet announced by EXISTS do not count). UIDs are not: `UID FETCH 1:*`
    // of an empty mailbox is legal and names no message. SEARCH resolves its sequence-set key
    // leniently instead (search-eval.ts), as a criterion.
    for (const r of set.ranges) {
      if (r.from === '*' || r.to === '*') {
        if (view.exists === 0) throw bad('Hộp thư trống: "*" không chỉ thư nào', 'The mailbox is empty: "*" names no message');
        continue;
      }
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
