/**
 * SEARCH evaluation over the selected view: one bitmap per key (index = sequence number).
 * Flags, \Recent, sizes, sequence/UID sets and MODSEQ come from the view; SUBJECT/FROM/TO/CC/BCC/BODY/
 * TEXT from the store's full-text index (Vietnamese diacritics folded: "nguyen" finds
 * "Nguyễn"); dates and other headers from the details cached at delivery.
 */
import { foldVietnamese } from '../mail/fold.js';
import { parseDate } from '../mail/parse.js';
import type { MessageDetail } from '../store/port.js';
import { resolveSet } from './commands/sets.js';
import type { SearchKey } from './protocol/types.js';
import type { Session } from './session.js';

const INDEXED = new Set(['subject', 'from', 'to', 'cc', 'bcc']);

export class SearchContext {
  private details: Map<number, MessageDetail> | null = null;
  /** Header fields outside the index that the criteria name (lower case), gathered before evaluating. */
  private readonly headerFields = new Set<string>();
  /** Per UID: those fields' unfolded values, lower case; each header read at most once per command. */
  private headers: Map<number, Map<string, string[]>> | null = null;
  /** The key used a MODSEQ criterion (the reply then carries the highest MODSEQ). */
  usedModseq = false;

  constructor(private readonly s: Session) {}

  private get view() {
    return this.s.sel().view;
  }

  /** Cached envelopes, structure and dates of every message in the view (loaded once, in batches). */
  async allDetails(): Promise<Map<number, MessageDetail>> {
    if (this.details) return this.details;
    const uids = this.view.allUids().slice();
    const map = new Map<number, MessageDetail>();
    for (let i = 0; i < uids.length; i += 1000) {
      const list = await this.s.deps.store.getMessageDetails(this.s.sel().mailbox.id, uids.slice(i, i + 1000));
      for (const d of list) map.set(d.uid, d);
    }
    this.details = map;
    return map;
  }

  /** Evaluate the criteria: one bitmap, index = sequence number. */
  async eval(key: SearchKey): Promise<Uint8Array> {
    const before = this.headerFields.size;
    collectHeaderFields(key, this.headerFields);
    if (this.headerFields.size !== before) this.headers = null; // a field not read yet: read headers again, once
    return this.evalKey(key);
  }

  private async evalKey(key: SearchKey): Promise<Uint8Array> {
    const view = this.view;
    const n = view.exists;
    const out = new Uint8Array(n + 1);
    switch (key.op) {
      case 'all':
        out.fill(1, 1);
        return out;
      case 'and': {
        out.fill(1, 1);
        // A key repeated in one AND changes nothing: evaluated once.
        for (const k of uniqueKeys(key.keys)) {
          const r = await this.evalKey(k);
          for (let i = 1; i <= n; i++) out[i] = (out[i] as number) & (r[i] as number);
        }
        return out;
      }
      case 'or': {
        const a = await this.evalKey(key.left);
        const b = await this.evalKey(key.right);
        for (let i = 1; i <= n; i++) out[i] = (a[i] as number) | (b[i] as number);
        return out;
      }
      case 'not': {
        const a = await this.evalKey(key.key);
        for (let i = 1; i <= n; i++) out[i] = a[i] ? 0 : 1;
        return out;
      }
      case 'flag':
        for (let i = 1; i <= n; i++) out[i] = view.flagsAt(i).includes(key.flag) === key.set ? 1 : 0;
        return out;
      case 'recent':
        // \Recent is the session's, not a stored flag: the UID ranges it claimed (SELECT, new
        // mail) or, with EXAMINE, saw above the mailbox's mark. NEW = RECENT UNSEEN, OLD = NOT
        // RECENT (the parser rewrites them). IMAP4rev2 sessions hold none.
        for (const q of view.recentSeqs()) out[q] = 1;
        return out;
      case 'size':
        for (let i = 1; i <= n; i++) {
          const size = view.sizeAt(i);
          out[i] = (key.cmp === 'larger' ? size > key.bytes : size < key.bytes) ? 1 : 0;
        }
        return out;
      case 'seq':
        for (const q of resolveSetLenient(this.s, key.set, false)) out[q] = 1;
        return out;
      case 'uid':
        for (const q of resolveSetLenient(this.s, key.set, true)) out[q] = 1;
        return out;
      case 'modseq':
        this.usedModseq = true;
        this.s.condstore = true;
        for (let i = 1; i <= n; i++) out[i] = view.modseqAt(i) >= key.modseq ? 1 : 0;
        return out;
      case 'text':
        return this.indexed(key.where, key.value);
      case 'header': {
        if (isIndexed(key.field, key.value)) return this.indexed(key.field as 'subject', key.value);
        return this.header(key.field, key.value);
      }
      case 'date': {
        const details = await this.allDetails();
        const day = Date.UTC(key.date.year, key.date.month - 1, key.date.day);
        for (let i = 1; i <= n; i++) {
          const d = details.get(view.uidAt(i) as number);
          if (!d) continue;
          const when = key.field === 'internal' ? utcDay(d.internalDate) : sentDay(d.envelope.date);
          if (when === null) continue;
          out[i] = (key.cmp === 'before' ? when < day : key.cmp === 'on' ? when === day : when >= day) ? 1 : 0;
        }
        return out;
      }
      case 'within': {
        const details = await this.allDetails();
        const now = this.s.deps.clock.now().getTime();
        for (let i = 1; i <= n; i++) {
          const d = details.get(view.uidAt(i) as number);
          if (!d) continue;
          const age = (now - d.internalDate.getTime()) / 1000;
          out[i] = (key.cmp === 'older' ? age >= key.seconds : age <= key.seconds) ? 1 : 0;
        }
        return out;
      }
    }
  }

  private async indexed(field: 'body' | 'text' | 'subject' | 'from' | 'to' | 'cc' | 'bcc', value: string): Promise<Uint8Array> {
    const view = this.view;
    const out = new Uint8Array(view.exists + 1);
    if (value.trim() === '') {
      out.fill(1, 1);
      return out;
    }
    const uids = await this.s.deps.store.searchText(this.s.sel().mailbox.id, [foldVietnamese(value)], field);
    for (const uid of uids) {
      const q = view.seqOf(uid);
      if (q) out[q] = 1;
    }
    return out;
  }

  /** A header that the index does not cover: substring match on its raw (unfolded) value. */
  private async header(field: string, value: string): Promise<Uint8Array> {
    const view = this.view;
    const out = new Uint8Array(view.exists + 1);
    const headers = await this.allHeaders();
    const needle = value.toLowerCase();
    const name = field.toLowerCase();
    for (let i = 1; i <= view.exists; i++) {
      const values = headers.get(view.uidAt(i) as number)?.get(name);
      out[i] = values?.some((v) => v.includes(needle)) ? 1 : 0;
    }
    return out;
  }

  /**
   * Every message's values of the fields in headerFields, read once per command (as allDetails):
   * a SEARCH with thousands of HEADER keys reads each header once, not once per key, and keeps only
   * the fields asked for.
   */
  private async allHeaders(): Promise<Map<number, Map<string, string[]>>> {
    if (this.headers) return this.headers;
    const details = await this.allDetails();
    const map = new Map<number, Map<string, string[]>>();
    for (const uid of this.view.allUids()) {
      const d = details.get(uid);
      if (!d) continue;
      const head = (await this.s.deps.store.readBlob(d.blobId, { start: d.structure.headerStart, end: d.structure.bodyStart })).toString('utf8');
      const fields = new Map<string, string[]>();
      for (const name of this.headerFields) fields.set(name, headerValues(head, name).map((v) => v.toLowerCase()));
      map.set(uid, fields);
    }
    this.headers = map;
    return map;
  }
}

/** The header fields (lower case) that HEADER keys read from the message rather than the index. */
function collectHeaderFields(key: SearchKey, into: Set<string>): void {
  switch (key.op) {
    case 'and':
      for (const k of key.keys) collectHeaderFields(k, into);
      return;
    case 'or':
      collectHeaderFields(key.left, into);
      collectHeaderFields(key.right, into);
      return;
    case 'not':
      collectHeaderFields(key.key, into);
      return;
    case 'header':
      if (!isIndexed(key.field, key.value)) into.add(key.field.toLowerCase());
      return;
    default:
      return;
  }
}

function isIndexed(field: string, value: string): boolean {
  return INDEXED.has(field) && value !== '';
}

function uniqueKeys(keys: readonly SearchKey[]): SearchKey[] {
  const seen = new Set<string>();
  return keys.filter((k) => {
    const id = JSON.stringify(k);
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

function utcDay(when: Date): number {
  return Date.UTC(when.getUTCFullYear(), when.getUTCMonth(), when.getUTCDate());
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** The calendar day a Date: header names, in its own zone (SENTON etc. disregard time and zone, RFC 9051 §6.4.4). */
export function sentDay(header: string | null): number | null {
  if (!header) return null;
  const m = /(\d{1,2})\s+([A-Za-z]{3})[a-z]*\s+(\d{2,4})/.exec(header);
  const month = m ? MONTHS.indexOf((m[2] ?? '').toLowerCase()) : -1;
  if (m && month >= 0) {
    let year = Number(m[3]);
    if (year < 100) year += year < 50 ? 2000 : 1900;
    return Date.UTC(year, month, Number(m[1]));
  }
  const d = parseDate(header);
  return d ? utcDay(d) : null;
}

/** Unfolded values of one header field (name lower case). */
export function headerValues(head: string, name: string): string[] {
  const out: string[] = [];
  const unfolded = head.replace(/\r?\n[ \t]/g, ' ');
  for (const line of unfolded.split(/\r?\n/)) {
    const c = line.indexOf(':');
    if (c <= 0) continue;
    if (line.slice(0, c).trim().toLowerCase() === name) out.push(line.slice(c + 1).trim());
  }
  return out;
}

function resolveSetLenient(s: Session, set: Parameters<typeof resolveSet>[1], byUid: boolean): number[] {
  try {
    return resolveSet(s, set, byUid);
  } catch {
    const view = s.sel().view;
    if (set.kind !== 'ranges') return [];
    return view.resolve(set.ranges.map((r) => ({ start: r.from === '*' ? null : r.from, end: r.to === '*' ? null : r.to })), byUid);
  }
}
