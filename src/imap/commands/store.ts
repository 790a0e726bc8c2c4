/** STORE / UID STORE, with .SILENT and CONDSTORE's UNCHANGEDSINCE (RFC 7162 §3.1.3). */
import { bi } from '../../lib/errors.js';
import { flagList, seqSet } from '../format.js';
import { ok } from '../state.js';
import { SELECTED, type CommandSpec } from './spec.js';
import { resolveSet } from './sets.js';

export const storeCommand: CommandSpec<'STORE'> = {
  states: SELECTED,
  async run(s, cmd) {
    const { view, mailbox } = s.sel();
    if (view.readOnly) return { kind: 'no', code: 'READ-ONLY', text: bi('Hộp thư đang mở chỉ để xem', 'Mailbox is read-only') };
    if (cmd.unchangedSince !== null) s.condstore = true;
    const seqs = resolveSet(s, cmd.set, cmd.uid);
    const flags = cmd.flags.filter((f) => f !== '\\Recent');
    const uids = seqs.map((q) => view.uidAt(q) as number);
    const failed: number[] = [];
    if (uids.length > 0) {
      const r = await s.deps.store.setFlags(mailbox.id, uids, cmd.operation, flags, {
        ...(cmd.unchangedSince !== null ? { unchangedSince: cmd.unchangedSince } : {}),
        origin: s.id,
      });
      failed.push(...r.failed);
      const changed = new Set<number>();
      for (const c of r.changes) {
        view.applyOwnFlags(c.uid, c.flags, c.modseq);
        changed.add(c.uid);
      }
      const lines: string[] = [];
      const failedSet = new Set(r.failed);
      for (const q of seqs) {
        const uid = view.uidAt(q) as number;
        if (failedSet.has(uid)) continue;
        // Not silent: the new flags of every message named. Silent + CONDSTORE: still MODSEQ of changed ones (RFC 7162 §3.1.3).
        if (cmd.silent && !(s.condstore && changed.has(uid))) continue;
        const parts: string[] = [];
        if (cmd.uid) parts.push(`UID ${uid}`);
        if (!cmd.silent) parts.push(`FLAGS ${flagList(view.shownFlagsAt(q))}`);
        if (s.condstore) parts.push(`MODSEQ (${view.modseqAt(q)})`);
        lines.push(`* ${q} FETCH (${parts.join(' ')})\r\n`);
      }
      await s.writeMany(lines);
    }
    if (failed.length > 0) {
      const list = cmd.uid ? failed : failed.map((u) => view.seqOf(u)).filter((q) => q > 0);
      return ok(bi('Một số thư đã thay đổi', 'Some messages were modified'), `MODIFIED ${seqSet(list)}`);
    }
    return ok(bi('Xong', 'STORE completed'));
  },
};
