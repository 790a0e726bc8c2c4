/**
 * STORE / UID STORE, with .SILENT and CONDSTORE's UNCHANGEDSINCE (RFC 7162 §3.1.3).
 *
 * The FETCH responses carry each message's current flags (RFC 9051 §6.4.6), also when another
 * session or process had already changed them (the store then changes nothing: the view is
 * brought up to date after the write and the change is told once, here). Messages expunged
 * elsewhere and not yet announced (no EXPUNGE may be sent during STORE, RFC 9051 §7.5.1) get no
 * FETCH response. When every message named is such (nothing could be stored), the answer is
 * NO [EXPUNGEISSUED] (RFC 2180 §4.2.2, RFC 5530). A mixture stores the others, answers them,
 * and completes OK (RFC 2180 §4.2.1/§4.2.3 leave it open; Dovecot's cmd-store.c answers
 * "OK Store completed." too): the EXPUNGE follows at the client's next NOOP or UID command (for
 * UID STORE, with this very answer).
 */
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
      // What others changed or expunged up to now (after the write: nothing it did not see).
      await s.syncSelected();
      const lines: string[] = [];
      const failedSet = new Set(r.failed);
      let gone = 0;
      for (const q of seqs) {
        const uid = view.uidAt(q) as number;
        if (failedSet.has(uid)) continue;
        if (!changed.has(uid) && view.isExpungePending(uid)) {
          gone++;
          continue;
        }
        // Not silent: the current flags of every message named. Silent + CONDSTORE: still MODSEQ of changed ones (RFC 7162 §3.1.3).
        if (cmd.silent && !(s.condstore && changed.has(uid))) continue;
        // Flags another session set meanwhile go into this response (not silent) instead of a second FETCH.
        if (!cmd.silent) view.takePendingFlags(uid);
        const parts: string[] = [];
        if (cmd.uid) parts.push(`UID ${uid}`);
        if (!cmd.silent) parts.push(`FLAGS ${flagList(view.shownFlagsAt(q))}`);
        if (s.condstore) parts.push(`MODSEQ (${view.modseqAt(q)})`);
        lines.push(`* ${q} FETCH (${parts.join(' ')})\r\n`);
      }
      await s.writeMany(lines);
      if (gone > 0 && gone === seqs.length) {
        return { kind: 'no', code: 'EXPUNGEISSUED', text: bi('Thư đã bị xóa hẳn', 'Messages have been expunged') };
      }
    }
    if (failed.length > 0) {
      const list = cmd.uid ? failed : failed.map((u) => view.seqOf(u)).filter((q) => q > 0);
      return ok(bi('Một số thư đã thay đổi', 'Some messages were modified'), `MODIFIED ${seqSet(list)}`);
    }
    return ok(bi('Xong', 'STORE completed'));
  },
};
