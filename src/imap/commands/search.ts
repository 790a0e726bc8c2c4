/** SEARCH / UID SEARCH with ESEARCH (RFC 4731/9051) return options and SEARCHRES ($). */
import { bi } from '../../lib/errors.js';
import { seqSet } from '../format.js';
import type { SearchReturnOption } from '../protocol/types.js';
import { SearchContext } from '../search-eval.js';
import type { Session } from '../session.js';
import { ok } from '../state.js';
import { SELECTED, type CommandSpec } from './spec.js';

/** Write the result as `* SEARCH` or `* ESEARCH`; also saves it for '$' when asked. */
export async function answerSearch(
  s: Session,
  seqs: number[],
  opts: { uid: boolean; returnOptions: readonly SearchReturnOption[] | null; modseq: number | null; word?: 'SEARCH' | 'SORT' },
): Promise<void> {
  const view = s.sel().view;
  const ids = opts.uid ? seqs.map((q) => view.uidAt(q) as number) : seqs;
  const word = opts.word ?? 'SEARCH';
  const ret = opts.returnOptions ?? (s.enabled.has('IMAP4REV2') && word === 'SEARCH' ? ['ALL' as const] : null);
  if (ret === null) {
    await s.untagged(`${word}${ids.length ? ' ' + ids.join(' ') : ''}${opts.modseq !== null && ids.length ? ` (MODSEQ ${opts.modseq})` : ''}`);
    return;
  }
  const r: readonly SearchReturnOption[] = ret.length === 0 ? ['ALL'] : ret;
  if (r.includes('SAVE')) s.savedSearch = seqs.map((q) => view.uidAt(q) as number);
  const parts: string[] = [`(TAG "${s.tag}")`];
  if (opts.uid) parts.push('UID');
  if (ids.length > 0) {
    // SEARCH results are ascending; ESORT's MIN/MAX are the first and last in sort order (RFC 5267).
    if (r.includes('MIN')) parts.push(`MIN ${ids[0] as number}`);
    if (r.includes('MAX')) parts.push(`MAX ${ids[ids.length - 1] as number}`);
    if (r.includes('ALL')) parts.push(`ALL ${word === 'SORT' ? ids.join(',') : seqSet(ids)}`);
  }
  if (r.includes('COUNT')) parts.push(`COUNT ${ids.length}`);
  if (opts.modseq !== null && ids.length > 0) parts.push(`MODSEQ ${opts.modseq}`);
  // SAVE alone returns no ESEARCH response (RFC 5182 §2.4).
  if (r.length === 1 && r[0] === 'SAVE') return;
  await s.untagged(`ESEARCH ${parts.join(' ')}`);
}

export const searchCommand: CommandSpec<'SEARCH'> = {
  states: SELECTED,
  caps: () => ['ESEARCH', 'SEARCHRES', 'WITHIN'],
  async run(s, cmd) {
    const view = s.sel().view;
    const ctx = new SearchContext(s);
    const bits = await ctx.eval(cmd.criteria);
    const seqs: number[] = [];
    let modseq = 0;
    for (let i = 1; i <= view.exists; i++) {
      if (!bits[i]) continue;
      seqs.push(i);
      if (view.modseqAt(i) > modseq) modseq = view.modseqAt(i);
    }
    await answerSearch(s, seqs, { uid: cmd.uid, returnOptions: cmd.returnOptions, modseq: ctx.usedModseq ? modseq : null });
    return ok(bi('Tìm xong', 'SEARCH completed'));
  },
};
