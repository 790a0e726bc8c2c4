/**
 * Addresses: the RFC 5322 address-list parser behind ENVELOPE (raw display names, groups,
 * a cap on the count), decoded display strings, and the SMTP envelope address check used
 * for relay and routing decisions (parseEnvelopeAddress).
 */
import { domainToASCII } from 'node:url';
import { decodeWords } from './headers.js';
import type { EnvelopeAddress } from './types.js';

/** Addresses kept per header when the caller gives no limit (config limits.maxAddressesPerHeader). */
export const DEFAULT_MAX_ADDRESSES = 1000;

type Tok =
  | { k: 'atom'; v: string }
  | { k: 'quoted'; v: string; raw: string }
  | { k: 'comment'; v: string }
  | { k: 'literal'; v: string }
  | { k: 'special'; v: string }
  | { k: 'ws' };

const WS_RUN = /[ \t\r\n]+/y;
const ATOM_RUN = /[^ \t\r\n"(\[<>,:;@.]+/y;

/** Lazy tokenizer: the caller can stop early (address cap) without tokenizing the rest. */
function* tokenize(s: string): Generator<Tok> {
  let i = 0;
  const n = s.length;
  while (i < n) {
    const c = s[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      WS_RUN.lastIndex = i;
      WS_RUN.test(s);
      i = WS_RUN.lastIndex;
      yield { k: 'ws' };
    } else if (c === '"') {
      const start = i++;
      let v = '';
      let seg = i;
      while (i < n && s[i] !== '"') {
        if (s[i] === '\\' && i + 1 < n) {
          v += s.slice(seg, i) + s[i + 1];
          i += 2;
          seg = i;
        } else i++;
      }
      v += s.slice(seg, Math.min(i, n));
      i = Math.min(i + 1, n);
      yield { k: 'quoted', v, raw: s.slice(start, i) };
    } else if (c === '(') {
      let depth = 0;
      let v = '';
      while (i < n) {
        const d = s[i]!;
        if (d === '\\' && i + 1 < n) {
          v += s[i + 1];
          i += 2;
          continue;
        }
        if (d === '(') {
          if (depth > 0) v += d;
          depth++;
        } else if (d === ')') {
          depth--;
          if (depth === 0) {
            i++;
            break;
          }
          v += d;
        } else v += d;
        i++;
      }
      yield { k: 'comment', v };
    } else if (c === '[') {
      const close = s.indexOf(']', i);
      const stop = close < 0 ? n : close + 1;
      yield { k: 'literal', v: s.slice(i, stop) };
      i = stop;
    } else if ('<>,:;@.'.includes(c)) {
      i++;
      yield { k: 'special', v: c };
    } else {
      ATOM_RUN.lastIndex = i;
      if (ATOM_RUN.test(s)) {
        const v = s.slice(i, ATOM_RUN.lastIndex);
        i = ATOM_RUN.lastIndex;
        yield { k: 'atom', v };
      } else {
        i++;
        yield { k: 'atom', v: c }; // a lone ')' or ']'
      }
    }
  }
}

/** Phrase text of tokens: atoms and quoted strings joined with single spaces, dots kept. */
function phraseOf(toks: Tok[]): string {
  let out = '';
  let space = false;
  for (const t of toks) {
    if (t.k === 'ws' || t.k === 'comment') {
      space = out.length > 0;
      continue;
    }
    const v = t.k === 'quoted' ? t.v : t.k === 'special' ? t.v : t.k === 'atom' || t.k === 'literal' ? t.v : '';
    if (space) out += ' ';
    out += v;
    space = false;
  }
  return out.trim();
}

/** Text of a local part or domain: whitespace and comments dropped; quoted strings keep their quotes. */
function specOf(toks: Tok[]): string {
  let out = '';
  for (const t of toks) {
    if (t.k === 'ws' || t.k === 'comment') continue;
    out += t.k === 'quoted' ? t.raw : t.v;
  }
  return out;
}

function addrSpec(toks: Tok[], name: string | null, adl: string | null): EnvelopeAddress | null {
  let at = -1;
  for (let i = toks.length - 1; i >= 0; i--) {
    const t = toks[i]!;
    if (t.k === 'special' && t.v === '@') {
      at = i;
      break;
    }
  }
  const local = specOf(at >= 0 ? toks.slice(0, at) : toks);
  const host = at >= 0 ? specOf(toks.slice(at + 1)) : '';
  if (!local && !host && name === null) return null;
  return { name, adl, mailbox: local || 'MISSING_MAILBOX', host: host || 'MISSING_DOMAIN' };
}

/**
 * One address (a mailbox): `name <route:local@domain>` or `local@domain (comment)`. With a
 * `strict` record (submission), what this lenient reading drops or hides is noted there: tokens
 * after the `>`, and the text of every comment (see AddressAnomalies).
 */
function mailboxOf(toks: Tok[], strict: AddressAnomalies | null = null): EnvelopeAddress | null {
  if (strict) for (const t of toks) if (t.k === 'comment') strict.comments.push(t.v);
  const lt = toks.findIndex((t) => t.k === 'special' && t.v === '<');
  if (lt >= 0) {
    let gt = toks.findIndex((t, i) => i > lt && t.k === 'special' && t.v === '>');
    if (gt < 0) gt = toks.length;
    // RFC 5322 §3.4: name-addr = [display-name] angle-addr, and angle-addr ends at ">" with
    // only CFWS after it. Anything else there is ignored here but read by other parsers as
    // another address or part of the name (`<own@x> other@y`).
    if (strict && toks.some((t, i) => i > gt && t.k !== 'ws' && t.k !== 'comment')) strict.afterAngle = true;
    const name = phraseOf(toks.slice(0, lt)) || null;
    let inner = toks.slice(lt + 1, gt);
    let adl: string | null = null;
    const colon = inner.findIndex((t) => t.k === 'special' && t.v === ':');
    if (colon >= 0 && inner.some((t, i) => i < colon && t.k === 'special' && t.v === '@')) {
      adl = specOf(inner.slice(0, colon));
      inner = inner.slice(colon + 1);
    }
    if (inner.every((t) => t.k === 'ws' || t.k === 'comment')) {
      return name === null ? null : { name, adl, mailbox: 'MISSING_MAILBOX', host: 'MISSING_DOMAIN' };
    }
    return addrSpec(inner, name, adl);
  }
  const comments = toks.filter((t): t is { k: 'comment'; v: string } => t.k === 'comment');
  const name = comments.length > 0 ? comments.map((c) => c.v).join(' ').trim() || null : null;
  if (toks.every((t) => t.k === 'ws' || t.k === 'comment')) return null;
  return addrSpec(toks, name, null);
}

export interface AddressList {
  addresses: EnvelopeAddress[];
  /** True when the cap was reached and the rest ignored. */
  truncated: boolean;
}

/**
 * Where parseAddressList's lenient reading (right for ENVELOPE and the MX: take what can be
 * read) may differ from another parser's (Python's email, mailparser, a mail client's display).
 * Submission refuses a From or Sender showing any of these (smtp/server.ts).
 */
export interface AddressAnomalies {
  /** A mailbox had tokens other than white space and comments after its `>` (RFC 5322 §3.4). */
  afterAngle: boolean;
  /**
   * A list element held something (a comment, `<>`, a stray `@`) from which no mailbox was read:
   * dropped here, shown elsewhere as an address or a name. Elements of white space alone (the
   * obsolete empty elements of RFC 5322 §4.4, a trailing comma) are not counted.
   */
  emptyElement: boolean;
  /**
   * The text of every comment, wherever it stood: before the `<` (dropped from the display name
   * here), inside the angle brackets (dropped from the address), after the `>`, or next to a
   * bare address (the name here). Other parsers show some of them as the name.
   */
  comments: string[];
}

/**
 * Parse an RFC 5322 address-list (From, To, Cc, …) into ENVELOPE addresses. Groups appear as
 * a start marker (mailbox = group name, host = null) and an end marker (all null). Display
 * names are raw (RFC 2047 words kept, quotes removed). At most `max` entries are kept.
 */
export function parseAddressList(value: string, max = DEFAULT_MAX_ADDRESSES): AddressList {
  return readAddressList(value, max, null);
}

/**
 * parseAddressList, also reporting what its lenient reading dropped or hid (AddressAnomalies):
 * for the submission check of From and Sender, where the server must read the same author as
 * every other parser. The addresses are exactly parseAddressList's.
 */
export function parseAddressListStrict(value: string, max = DEFAULT_MAX_ADDRESSES): AddressList & { anomalies: AddressAnomalies } {
  const anomalies: AddressAnomalies = { afterAngle: false, emptyElement: false, comments: [] };
  return { ...readAddressList(value, max, anomalies), anomalies };
}

function readAddressList(value: string, max: number, strict: AddressAnomalies | null): AddressList {
  // No list of `max` real addresses needs more than ~512 characters each: cut the rest unread.
  const room = Math.max(64 * 1024, max * 512);
  const cut = value.length > room;
  let truncated = cut;
  const toks = tokenize(cut ? value.slice(0, room) : value);
  const out: EnvelopeAddress[] = [];
  let cur: Tok[] = [];
  let curHasAddr = false; // cur holds '@' or '<' (so a ':' is not a group name's end)
  let inAngle = false;
  let inGroup = false;
  const push = (a: EnvelopeAddress): boolean => {
    if (out.length >= max) {
      truncated = true;
      return false;
    }
    out.push(a);
    return true;
  };
  const flush = (): boolean => {
    const a = mailboxOf(cur, strict);
    if (strict && !a && cur.some((t) => t.k !== 'ws')) strict.emptyElement = true;
    cur = [];
    curHasAddr = false;
    return a ? push(a) : true;
  };
  for (const t of toks) {
    if (t.k === 'special') {
      if (t.v === '@') curHasAddr = true;
      if (t.v === '<') {
        inAngle = true;
        curHasAddr = true;
      } else if (t.v === '>') inAngle = false;
      else if (!inAngle && t.v === ',') {
        if (!flush()) break;
        continue;
      } else if (!inAngle && t.v === ':' && !inGroup && !curHasAddr) {
        inGroup = true;
        const name = phraseOf(cur);
        cur = [];
        if (!push({ name: null, adl: null, mailbox: name, host: null })) break;
        continue;
      } else if (!inAngle && t.v === ';' && inGroup) {
        if (!flush()) break;
        if (!push({ name: null, adl: null, mailbox: null, host: null })) break;
        inGroup = false;
        continue;
      }
    }
    cur.push(t);
  }
  // The last address: kept unless the value was cut inside it. Past the cap push() refuses it
  // and marks the list truncated (it was dropped unmarked: `max` own addresses, then another).
  if (!cut) flush();
  // An open group is closed, even past the cap, so group markers always pair up.
  if (inGroup) out.push({ name: null, adl: null, mailbox: null, host: null });
  return { addresses: out, truncated };
}

/** `local@domain` of an ENVELOPE address (group markers give ""). */
export function addressOf(a: EnvelopeAddress): string {
  if (a.host === null || a.mailbox === null) return '';
  return `${a.mailbox}@${a.host}`;
}

/** Human-readable form: `Decoded Name <local@domain>` or `local@domain`; "" for group markers. */
export function formatAddress(a: EnvelopeAddress): string {
  const addr = addressOf(a);
  if (!addr) return '';
  const name = a.name ? decodeWords(a.name).trim() : '';
  return name ? `${name} <${addr}>` : addr;
}

/** Display strings for every real address in a list (group markers skipped). */
export function displayAddresses(list: readonly EnvelopeAddress[] | null): string[] {
  if (!list) return [];
  return list.map(formatAddress).filter((s) => s.length > 0);
}

// ── SMTP envelope addresses ──────────────────────────────────────────────────

/** Domain of a clean envelope address (after the last "@"), lower case, for routing. */
export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

/** Dots that IDNA maps to "." and so could smuggle a different domain past a check. */
export const FULLWIDTH_DOTS = /[\uff0e\u3002\uff61]/;
const LOCAL_ATOM = /^(?:[A-Za-z0-9!#$&'*+\-/=?^_`{|}~]|[^\x00-\x7f])+$/;
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Check an SMTP envelope address (MAIL FROM / RCPT TO path, with or without <>) for relay and
 * routing decisions. Returns null — refuse — for anything that could route somewhere other than
 * it appears: %-hack, bang paths, more than one @, source routes, quoted local parts holding @, %
 * or !, IP literals, trailing or doubled dots, full-width dots, empty parts, control characters.
 * The domain is lower-cased and IDN domains become punycode; UTF-8 local parts (SMTPUTF8) pass.
 * A quoted local part that is a plain dot-atom is returned unquoted.
 */
export function parseEnvelopeAddress(s: string): { local: string; domain: string } | null {
  let a = s.trim();
  if (a.startsWith('<') && a.endsWith('>')) a = a.slice(1, -1);
  if (!a || a.length > 320 || /[\x00-\x20\x7f<>()\[\]\\,;:\s]/.test(a.replace(/^"(?:[^"\\]|\\.)*"/, ''))) return null;
  if (FULLWIDTH_DOTS.test(a) || a.includes('!') || a.includes('%')) return null;
  if (a.startsWith('@')) return null; // source route
  let local: string;
  let rest: string;
  if (a.startsWith('"')) {
    const m = /^"((?:[^"\\\r\n]|\\[\x20-\x7e])*)"@(.*)$/.exec(a);
    if (!m) return null;
    const inner = m[1]!.replace(/\\(.)/g, '$1');
    if (/[@%!\x00-\x1f\x7f]/.test(inner.normalize('NFKC')) || FULLWIDTH_DOTS.test(inner) || inner === '') return null;
    local = isDotAtom(inner) ? inner : `"${m[1]!}"`;
    rest = m[2]!;
  } else {
    const at = a.indexOf('@');
    if (at <= 0 || a.indexOf('@', at + 1) >= 0) return null;
    local = a.slice(0, at);
    rest = a.slice(at + 1);
    // Also in compatibility form: a full-width "＠" or "％" must not become "@" or "%" further on.
    if (!isDotAtom(local) || !isDotAtom(local.normalize('NFKC')) || /[%!]/.test(local.normalize('NFKC'))) return null;
  }
  if (Buffer.byteLength(local, 'utf8') > 64) return null;
  const domain = checkDomain(rest);
  if (!domain) return null;
  return { local: local.normalize('NFC'), domain };
}

function isDotAtom(s: string): boolean {
  return s.split('.').every((p) => p.length > 0 && LOCAL_ATOM.test(p));
}

/** A routable domain name, lower-case ASCII (punycode for IDN), or null. */
function checkDomain(d: string): string | null {
  if (!d || d.startsWith('[') || d.endsWith('.') || d.startsWith('.') || d.includes('..')) return null;
  if (FULLWIDTH_DOTS.test(d) || /[@%!"\\\s]/.test(d)) return null;
  let ascii = d.toLowerCase();
  if (/[^\x00-\x7f]/.test(d)) {
    ascii = domainToASCII(d.normalize('NFC'));
    if (!ascii) return null;
  }
  if (ascii.length > 253) return null;
  const labels = ascii.split('.');
  if (!labels.every((l) => LABEL.test(l))) return null;
  if (/^\d+$/.test(labels[labels.length - 1]!)) return null; // 127.0.0.1 without brackets: an IP
  return ascii;
}
