/** SELECT / EXAMINE, with CONDSTORE and QRESYNC (RFC 7162 §3.2.5). */
import { bi } from '../../lib/errors.js';
import { no } from '../errors.js';
import { findMailbox } from '../mailbox-lookup.js';
import { flagList, seqSet } from '../format.js';
import type { CommandOf } from '../protocol/types.js';
import type { Session } from '../session.js';
import { ok, type Outcome } from '../state.js';
import { listLine } from './list.js';
import { AUTH, type CommandSpec } from './spec.js';
import { uidInSet } from './sets.js';

export const SYSTEM_FLAGS = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'];
const KEYWORDS = ['$Forwarded', '$Junk', '$NotJunk', '$MDNSent', '$Phishing'];

async function select(s: Session, cmd: CommandOf<'SELECT' | 'EXAMINE'>): Promise<Outcome> {
  const readOnly = cmd.type === 'EXAMINE';
  const wasSelected = s.selected !== null;
  s.unselect();
  if (wasSelected && s.enabled.has('QRESYNC')) await s.untagged(`OK [CLOSED] ${bi('Đã đóng hộp thư trước', 'Previous mailbox closed')}`);
  if (cmd.qresync && !s.enabled.has('QRESYNC')) {
    return { kind: 'no', bad: true, text: bi('Cần ENABLE QRESYNC trước', 'ENABLE QRESYNC first') };
  }
  const store = s.deps.store;
  const mb = await findMailbox(store, s.acct().id, cmd.mailbox.name);
  if (!mb) throw no('NONEXISTENT', 'Không có hộp thư này', 'No such mailbox');
  if (cmd.condstore) s.condstore = true;
  const { view, status } = await s.select(mb, readOnly);
  const lines: string[] = [
    `* FLAGS (${[...SYSTEM_FLAGS, ...KEYWORDS].join(' ')})\r\n`,
    `* OK [PERMANENTFLAGS (${readOnly ? '' : [...SYSTEM_FLAGS, ...KEYWORDS, '\\*'].join(' ')})] ${bi('Cờ', 'Flags')}\r\n`,
    `* ${view.exists} EXISTS\r\n`,
  ];
  // IMAP4rev2 makes LIST a REQUIRED untagged response of SELECT/EXAMINE, with accurate attributes
  // (RFC 9051 §6.3.2, §6.3.3): the same ones LIST gives this mailbox.
  if (s.enabled.has('IMAP4REV2')) lines.push(await listLine(s, mb));
  // SELECT has just claimed the messages no session was told of; EXAMINE counts them without claiming.
  if (!s.enabled.has('IMAP4REV2')) lines.push(`* ${view.recentCount()} RECENT\r\n`);
  for (let seq = 1; seq <= view.exists; seq++) {
    if (!view.flagsAt(seq).includes('\\Seen')) {
      if (!s.enabled.has('IMAP4REV2')) lines.push(`* OK [UNSEEN ${seq}] ${bi('Thư chưa đọc đầu tiên', 'First unseen')}\r\n`);
      break;
    }
  }
  lines.push(`* OK [UIDVALIDITY ${mb.uidValidity}] UIDs\r\n`);
  lines.push(`* OK [UIDNEXT ${Math.max(status.uidNext, view.maxUid + 1)}] ${bi('UID tiếp theo', 'Predicted next UID')}\r\n`);
  lines.push(`* OK [HIGHESTMODSEQ ${view.highestModseq}] ${bi('Mức thay đổi cao nhất', 'Highest')}\r\n`);
  await s.writeMany(lines);

  const q = cmd.qresync;
  if (q && q.uidValidity === mb.uidValidity && q.modseq < view.highestModseq) {
    const ch = await store.changesSince(mb.id, q.modseq);
    const knownUids = q.knownUids;
    // Only UIDs the listing above left out: one expunged after it was read is still counted in
    // EXISTS, and is told by the plain VANISHED of the next sync, once (RFC 7162 §3.2.5.1).
    const vanished = ch.expunged.filter((u) => view.seqOf(u) === 0 && (!knownUids || uidInSet(s, u, knownUids)));
    if (vanished.length > 0) await s.untagged(`VANISHED (EARLIER) ${seqSet(vanished)}`);
    const out: string[] = [];
    for (const m of ch.changed) {
      const seq = view.seqOf(m.uid);
      if (seq === 0) continue;
      out.push(`* ${seq} FETCH (UID ${m.uid} FLAGS ${flagList(view.shownFlagsAt(seq))} MODSEQ (${view.modseqAt(seq)}))\r\n`);
    }
    await s.writeMany(out);
  }
  return ok(readOnly ? bi('Đã mở để xem', 'EXAMINE completed') : bi('Đã chọn hộp thư', 'SELECT completed'), readOnly ? 'READ-ONLY' : 'READ-WRITE');
}

export const selectCommand: CommandSpec<'SELECT'> = { states: AUTH, run: select };
export const examineCommand: CommandSpec<'EXAMINE'> = { states: AUTH, run: select };
