/** SORT (RFC 5256, ESORT return options, DISPLAYFROM/DISPLAYTO from RFC 5957) and THREAD (ORDEREDSUBJECT, REFERENCES). */
import { bi } from '../../lib/errors.js';
import { matchesOf } from '../../lib/regex.js';
import { decodeWords } from '../../mail/headers.js';
import { parseDate } from '../../mail/parse.js';
import type { EnvelopeAddress } from '../../mail/types.js';
import type { MessageDetail } from '../../store/port.js';
import { headerValues, SearchContext } from '../search-eval.js';
import type { Session } from '../session.js';
import { ok } from '../state.js';
import { SELECTED, type CommandSpec } from './spec.js';
import { answerSearch } from './search.js';

/** RFC 5256 §2.1 base subject: decoded, "Re:"/"Fwd:"/"[tag]" prefixes and "(fwd)" trailers removed, case folded. */
export function baseSubject(raw: string | null): string {
  // The first 4,096 characters: each pass below copies the subject, and a subject of "Re: " × 20,000 took 0.7 s (review).
  let s = decodeWords(raw ?? '').slice(0, 4096).replace(/\s+/g, ' ').trim();
  for (;;) {
    const before = s;
    s = s.replace(/\s*\(fwd\)$/i, '').trim();
    s = s.replace(/^((\[[^\]]*\]\s*)*(re|fwd?)\s*(\[[^\]]*\])?\s*:\s*)/i, '').trim();
    s = s.replace(/^\[[^\]]*\]\s*(?=\S)/, (m) => (s.slice(m.length).length > 0 ? '' : m)).trim();
    const fwd = /^\[fwd:\s*(.*)\]$/i.exec(s);
    if (fwd) s = (fwd[1] ?? '').trim();
    if (s === before) break;
  }
  return s.toLowerCase();
}

function firstMailbox(list: readonly EnvelopeAddress[] | null): string {
  const a = list?.find((x) => x.host !== null);
  return (a?.mailbox ?? '').toLowerCase();
}

function display(list: readonly EnvelopeAddress[] | null): string {
  const a = list?.find((x) => x.host !== null);
  if (!a) return '';
  return (a.name ? decodeWords(a.name) : `${a.mailbox ?? ''}@${a.host ?? ''}`).toLowerCase();
}

function sentDate(d: MessageDetail): number {
  return (parseDate(d.envelope.date) ?? d.internalDate).getTime();
}

async function matching(s: Session, criteria: Parameters<SearchContext['eval']>[0]): Promise<{ seqs: number[]; details: Map<number, MessageDetail> }> {
  const ctx = new SearchContext(s);
  const bits = await ctx.eval(criteria);
  const details = await ctx.allDetails();
  const view = s.sel().view;
  const seqs: number[] = [];
  for (let i = 1; i <= view.exists; i++) if (bits[i] && details.has(view.uidAt(i) as number)) seqs.push(i);
  return { seqs, details };
}

export const sortCommand: CommandSpec<'SORT'> = {
  states: SELECTED,
  caps: () => ['SORT', 'SORT=DISPLAY', 'ESORT'],
  async run(s, cmd) {
    const view = s.sel().view;
    const { seqs, details } = await matching(s, cmd.criteria);
    const d = (q: number): MessageDetail => details.get(view.uidAt(q) as number) as MessageDetail;
    const keyOf = (q: number, key: (typeof cmd.sort)[number]['key']): string | number => {
      const m = d(q);
      switch (key) {
        case 'ARRIVAL':
          return m.internalDate.getTime();
        case 'DATE':
          return sentDate(m);
        case 'SIZE':
          return m.size;
        case 'SUBJECT':
          return baseSubject(m.envelope.subject);
        case 'FROM':
          return firstMailbox(m.envelope.from);
        case 'TO':
          return firstMailbox(m.envelope.to);
        case 'CC':
          return firstMailbox(m.envelope.cc);
        case 'DISPLAYFROM':
          return display(m.envelope.from);
        case 'DISPLAYTO':
          return display(m.envelope.to);
      }
    };
    seqs.sort((a, b) => {
      for (const c of cmd.sort) {
        const x = keyOf(a, c.key);
        const y = keyOf(b, c.key);
        const r = x < y ? -1 : x > y ? 1 : 0;
        if (r !== 0) return c.reverse ? -r : r;
      }
      return a - b;
    });
    await answerSearch(s, seqs, { uid: cmd.uid, returnOptions: cmd.returnOptions, modseq: null, word: 'SORT' });
    return ok(bi('Sắp xếp xong', 'SORT completed'));
  },
};

interface Node {
  id: string;
  msg: number | null;
  date: number;
  parent: Node | null;
  children: Node[];
}

function render(n: Node, id: (q: number) => number): string {
  // A node without a message (pruned placeholder) contributes its children directly.
  const kids = [...n.children].sort((a, b) => a.date - b.date);
  const head = n.msg === null ? '' : String(id(n.msg));
  if (kids.length === 0) return head;
  if (kids.length === 1 && head) return `${head} ${render(kids[0] as Node, id)}`;
  const sub = kids.map((k) => `(${render(k, id)})`).join('');
  return head ? `${head} ${sub}` : sub;
}

/** A message id in angle brackets (References, In-Reply-To). */
const MESSAGE_ID = /<([^<>\s]+)>/g;

function refsOf(v: string): string[] {
  return [...matchesOf(MESSAGE_ID, v)].map((m) => m[1] as string);
}

export const threadCommand: CommandSpec<'THREAD'> = {
  states: SELECTED,
  caps: () => ['THREAD=ORDEREDSUBJECT', 'THREAD=REFERENCES'],
  async run(s, cmd) {
    const view = s.sel().view;
    const { seqs, details } = await matching(s, cmd.criteria);
    const d = (q: number): MessageDetail => details.get(view.uidAt(q) as number) as MessageDetail;
    const id = (q: number): number => (cmd.uid ? (view.uidAt(q) as number) : q);
    const roots: Node[] = [];
    if (cmd.algorithm === 'ORDEREDSUBJECT') {
      const groups = new Map<string, Node>();
      const sorted = [...seqs].sort((a, b) => sentDate(d(a)) - sentDate(d(b)) || a - b);
      for (const q of sorted) {
        const subj = baseSubject(d(q).envelope.subject);
        const node: Node = { id: String(q), msg: q, date: sentDate(d(q)), parent: null, children: [] };
        const root = groups.get(subj);
        if (root) {
          node.parent = root;
          root.children.push(node);
        } else {
          groups.set(subj, node);
          roots.push(node);
        }
      }
      // ORDEREDSUBJECT: every later message is a direct child of the first (RFC 5256 §3).
      const out = roots
        .sort((a, b) => a.date - b.date)
        .map((r) => (r.children.length === 0 ? `(${id(r.msg as number)})` : `(${id(r.msg as number)} ${r.children.map((c) => `(${id(c.msg as number)})`).join('')})`));
      await s.untagged(`THREAD ${out.join('')}`.trimEnd());
      return ok(bi('Xong', 'THREAD completed'));
    }
    // REFERENCES (RFC 5256 §3): link by References / In-Reply-To, prune empty containers, gather by subject.
    const table = new Map<string, Node>();
    const get = (key: string): Node => {
      let n = table.get(key);
      if (!n) {
        n = { id: key, msg: null, date: 0, parent: null, children: [] };
        table.set(key, n);
      }
      return n;
    };
    const isAncestor = (a: Node, b: Node): boolean => {
      for (let p: Node | null = b; p; p = p.parent) if (p === a) return true;
      return false;
    };
    const link = (child: Node, parent: Node): void => {
      if (child.parent || child === parent || isAncestor(child, parent)) return;
      child.parent = parent;
      parent.children.push(child);
    };
    for (const q of seqs) {
      const m = d(q);
      const mid = m.envelope.messageId ? (refsOf(m.envelope.messageId)[0] ?? `#${q}`) : `#${q}`;
      let node = get(mid);
      if (node.msg !== null) node = get(`#${q}`);
      node.msg = q;
      node.date = sentDate(m);
      const head = await s.deps.store.readBlob(m.blobId, { start: m.structure.headerStart, end: m.structure.bodyStart });
      let refs = refsOf(headerValues(head.toString('utf8'), 'references').join(' '));
      if (refs.length === 0 && m.envelope.inReplyTo) refs = refsOf(m.envelope.inReplyTo).slice(0, 1);
      let prev: Node | null = null;
      for (const r of refs) {
        const n = get(r);
        if (prev) link(n, prev);
        prev = n;
      }
      if (prev && prev !== node) {
        if (node.parent) {
          node.parent.children = node.parent.children.filter((c) => c !== node);
          node.parent = null;
        }
        link(node, prev);
      }
    }
    // Step 2 (prune): below the root, an empty container goes away and its children take its
    // place (none: it simply goes). At the root an empty container with one child gives way to
    // that child; with several it stays, as the dummy parent of its children.
    const prune = (n: Node): void => {
      const kids: Node[] = [];
      for (const c of n.children) {
        prune(c);
        if (c.msg !== null) kids.push(c);
        else
          for (const g of c.children) {
            g.parent = n;
            kids.push(g);
          }
      }
      n.children = kids;
    };
    const dateOf = (n: Node): number => (n.msg !== null ? n.date : Math.min(...n.children.map(dateOf), Number.MAX_SAFE_INTEGER));
    for (const n of table.values()) if (n.parent === null) prune(n);
    for (const n of table.values()) {
      if (n.parent !== null || (n.msg === null && n.children.length === 0)) continue;
      if (n.msg === null && n.children.length === 1) {
        const only = n.children[0] as Node;
        only.parent = null;
        roots.push(only);
      } else roots.push(n);
    }
    // Step 4: an empty container sorts by its earliest child.
    for (const r of roots) if (r.msg === null) r.date = dateOf(r);
    const tops = roots.sort((a, b) => a.date - b.date);
    // RFC 5256 §3 step 5: threads whose roots share a base subject are gathered together.
    const subjectOf = (n: Node): string => {
      const m = n.msg !== null ? n : n.children.find((c) => c.msg !== null);
      return m && m.msg !== null ? baseSubject(d(m.msg).envelope.subject) : '';
    };
    // The tag's own trailing spaces, not two \s* around an optional tag: those split a long run of spaces every way (quadratic; review).
    const isReply = (n: Node): boolean => n.msg !== null && /^\s*(?:re|fwd?)\s*(?:\[[^\]]*\]\s*)?:/i.test(decodeWords(d(n.msg).envelope.subject ?? ''));
    const gathered: Node[] = [];
    const bySubject = new Map<string, Node>();
    for (const t of tops) {
      const subj = subjectOf(t);
      const prev = subj ? bySubject.get(subj) : undefined;
      if (!prev) {
        if (subj) bySubject.set(subj, t);
        gathered.push(t);
        continue;
      }
      if (prev.msg === null || (isReply(t) && !isReply(prev))) {
        t.parent = prev;
        prev.children.push(t);
        continue;
      }
      const dummy: Node = { id: `subject:${subj}`, msg: null, date: Math.min(prev.date, t.date), parent: null, children: [prev, t] };
      prev.parent = dummy;
      t.parent = dummy;
      gathered[gathered.indexOf(prev)] = dummy;
      bySubject.set(subj, dummy);
    }
    await s.untagged(`THREAD ${gathered.map((t) => `(${render(t, id)})`).join('')}`.trimEnd());
    return ok(bi('Xong', 'THREAD completed'));
  },
};
