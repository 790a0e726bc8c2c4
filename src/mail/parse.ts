/**
 * parseMessage: the one MIME parser. Records byte offsets of every part in the original
 * buffer (so BODY[section] is a slice), handles CRLF and bare LF, RFC 2046 multipart
 * (preamble, epilogue, missing close delimiter, nesting), message/rfc822 and message/global
 * with the enclosed envelope, the multipart/digest default, RFC 2045 defaults, and caps on
 * depth, part count, header bytes, addresses and body text. It never throws: problems become
 * `warnings`.
 *
 * Part paths follow IMAP numbering: children of a multipart at P are P.1, P.2 …; the top part
 * has path "" (IMAP calls a non-multipart top part "1"); the enclosed top part of a
 * message/rfc822 at P has path P when it is a multipart (its children are P.1 …) and P.1
 * otherwise (P is "1" for a message/rfc822 top part). `findPart` resolves an IMAP section
 * number to a part.
 */
import { DEFAULT_MAX_ADDRESSES, displayAddresses, parseAddressList } from './addresses.js';
import { decodeCharset } from './charset.js';
import { decodeBody } from './decode.js';
import {
  decodeWords,
  getHeader,
  getParam,
  parseContentType,
  parseDisposition,
  parseHeaderBlock,
  type HeaderField,
} from './headers.js';
import { htmlToText } from './html.js';
import type { Envelope, EnvelopeAddress, MimePart, ParsedMessage } from './types.js';
import { trimEndWhere } from '../lib/regex.js';

export interface ParseLimits {
  /** MIME nesting depth (multipart and message/rfc822 levels); default 100. */
  maxDepth?: number;
  /** Parts in the whole tree; default 10,000. */
  maxParts?: number;
  /** Header bytes kept per header block; default 1 MiB. */
  maxHeaderBytes?: number;
  /** Addresses kept per address header; default 1,000. */
  maxAddresses?: number;
  /** UTF-8 bytes of bodyText; default 1 MiB. */
  maxBodyTextBytes?: number;
}

interface Ctx {
  raw: Buffer;
  maxDepth: number;
  maxParts: number;
  maxHeaderBytes: number;
  maxAddresses: number;
  parts: number;
  warnings: string[];
  warned: Set<string>;
  /** The first limit that stopped the tree being parsed to its end (ParsedMessage.incomplete). */
  incomplete: ParsedMessage['incomplete'];
  /** Lazily built: line-feed counts per block, for O(1)-ish line counts at any depth. */
  lines: LineIndex | null;
  /** Lazily built: offsets of lines that look like delimiters, by boundary (see buildDelimiterIndex). */
  delims: Map<string, number[]> | null;
}

const BLOCK = 64 * 1024;

/** Prefix sums of LF counts per 64 KiB block, so counting lines of nested bodies is not O(depth × size). */
interface LineIndex {
  prefix: Uint32Array; // prefix[k] = LFs in blocks [0, k)
}

function countLF(raw: Buffer, start: number, end: number): number {
  let n = 0;
  let i = raw.indexOf(0x0a, start);
  while (i >= 0 && i < end) {
    n++;
    i = raw.indexOf(0x0a, i + 1);
  }
  return n;
}

function buildLineIndex(raw: Buffer): LineIndex {
  const blocks = Math.ceil(raw.length / BLOCK);
  const prefix = new Uint32Array(blocks + 1);
  for (let k = 0; k < blocks; k++) prefix[k + 1] = prefix[k]! + countLF(raw, k * BLOCK, Math.min(raw.length, (k + 1) * BLOCK));
  return { prefix };
}

function linesIn(ctx: Ctx, start: number, end: number): number {
  const raw = ctx.raw;
  if (end - start <= 2 * BLOCK) return countLines(raw, start, end);
  ctx.lines ??= buildLineIndex(raw);
  const firstFull = Math.ceil(start / BLOCK);
  const lastFull = Math.floor(end / BLOCK); // blocks [firstFull, lastFull) lie inside
  let n = countLF(raw, start, firstFull * BLOCK) + (ctx.lines.prefix[lastFull]! - ctx.lines.prefix[firstFull]!) + countLF(raw, lastFull * BLOCK, end);
  if (end > start && raw[end - 1] !== 0x0a) n++;
  return n;
}

/** RFC 2046 caps boundaries at 70 characters; we accept up to this many. */
const MAX_BOUNDARY = 200;

/**
 * One pass over the message: every line "--<token>[--]<LWSP>" is filed under its token (and,
 * for a close delimiter, under the token without "--"), in offset order. Each multipart then
 * visits only the lines that can be its own delimiters, so nesting depth and hostile "--"
 * lines cannot make parsing O(depth × size).
 */
function buildDelimiterIndex(raw: Buffer): Map<string, number[]> {
  const map = new Map<string, number[]>();
  const add = (key: string, pos: number): void => {
    const list = map.get(key);
    if (list) {
      if (list[list.length - 1] !== pos) list.push(pos);
    } else map.set(key, [pos]);
  };
  const visit = (pos: number): void => {
    let nl = raw.indexOf(0x0a, pos);
    if (nl < 0) nl = raw.length;
    let e = nl;
    while (e > pos + 2 && (raw[e - 1] === 0x0d || raw[e - 1] === 0x20 || raw[e - 1] === 0x09)) e--;
    if (e - pos - 2 > MAX_BOUNDARY + 2 || e - pos - 2 <= 0) return;
    const token = raw.toString('latin1', pos + 2, e);
    add(token, pos);
    if (token.endsWith('--') && token.length > 2) add(token.slice(0, -2), pos);
  };
  if (raw[0] === 0x2d && raw[1] === 0x2d) visit(0);
  const needle = Buffer.from('\n--', 'latin1');
  for (let i = raw.indexOf(needle); i >= 0; i = raw.indexOf(needle, i + 1)) visit(i + 1);
  return map;
}

/** First index in the sorted array with a value >= x. */
function lowerBound(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Record a warning once; after 100, only limit warnings (`always`) are still recorded. */
function warn(ctx: Ctx, w: string, always = false): void {
  if (ctx.warnings.length >= 100 && !always) return;
  if (ctx.warned.has(w)) return;
  ctx.warned.add(w);
  ctx.warnings.push(w);
}

function lastByteOf(raw: Buffer, start: number, end: number): number | undefined {
  return end > start ? raw[end - 1] : undefined;
}

/** Lines in [start, end): LF count, plus one for a last line without LF. */
export function countLines(raw: Buffer, start: number, end: number): number {
  let n = 0;
  let i = raw.indexOf(0x0a, start);
  while (i >= 0 && i < end) {
    n++;
    i = raw.indexOf(0x0a, i + 1);
  }
  if (end > start && lastByteOf(raw, start, end) !== 0x0a) n++;
  return n;
}

function childPath(parent: string, n: number): string {
  return parent ? `${parent}.${n}` : String(n);
}

/** Build the IMAP ENVELOPE from a header block (raw values; Sender/Reply-To default to From). */
export function envelopeOf(fields: readonly HeaderField[], maxAddresses = DEFAULT_MAX_ADDRESSES, warnings: string[] = []): Envelope {
  const list = (name: string): EnvelopeAddress[] | null => {
    const v = getHeader(fields, name);
    if (v === null) return null;
    const r = parseAddressList(v, maxAddresses);
    if (r.truncated) warnings.push(`${name}: more than ${maxAddresses} addresses, rest ignored`);
    return r.addresses.length > 0 ? r.addresses : null;
  };
  const from = list('from');
  const sender = list('sender') ?? from;
  const replyTo = list('reply-to') ?? from;
  return {
    date: getHeader(fields, 'date'),
    subject: getHeader(fields, 'subject'),
    from,
    sender,
    replyTo,
    to: list('to'),
    cc: list('cc'),
    bcc: list('bcc'),
    inReplyTo: getHeader(fields, 'in-reply-to'),
    messageId: getHeader(fields, 'message-id'),
  };
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
/** RFC 5322 §4.3 obsolete zones; military letters count as -0000 (unknown), i.e. UTC. */
const ZONES: Record<string, number> = { ut: 0, gmt: 0, z: 0, utc: 0, est: -300, edt: -240, cst: -360, cdt: -300, mst: -420, mdt: -360, pst: -480, pdt: -420 };
const DATE_RE = /^(?:[a-z]{3,9},?\s*)?(\d{1,2})[\s-]+([a-z]{3})[a-z]*[\s-]+(\d{2,4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?\s*([+-]\d{4}|[a-z]{1,5})?/i;

/**
 * Parse a Date header (RFC 5322 date-time, with obsolete forms: no weekday, two-digit years,
 * named zones, comments). Null when absent or malformed: no guessing from free text.
 */
export function parseDate(v: string | null): Date | null {
  if (v === null) return null;
  // Real dates are short; the cap also keeps the comment-stripping below linear.
  const s = v.slice(0, 256).replace(/\([^()]*\)/g, ' ').replace(/\s+/g, ' ').trim();
  const m = DATE_RE.exec(s);
  if (!m) return null;
  const day = Number(m[1]);
  const month = MONTHS.indexOf(m[2]!.toLowerCase());
  let year = Number(m[3]);
  if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900;
  else if (m[3]!.length === 3) year += 1900;
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  if (month < 0 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
  let offset = 0; // minutes east of UTC
  const z = m[7];
  if (z !== undefined) {
    if (/^[+-]\d{4}$/.test(z)) {
      const mins = Number(z.slice(1, 3)) * 60 + Number(z.slice(3, 5));
      offset = z[0] === '-' ? -mins : mins;
    } else offset = ZONES[z.toLowerCase()] ?? 0;
  }
  if (new Date(Date.UTC(year, month, day)).getUTCMonth() !== month) return null; // 31 Feb
  const d = new Date(Date.UTC(year, month, day, hour, minute, Math.min(second, 59)) - offset * 60_000);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** Renumber a subtree whose paths start with `from` so they start with `to`. */
function repath(p: MimePart, from: string, to: string): void {
  walk(p, (q) => {
    if (q.path === from) q.path = to;
    else if (from === '') q.path = `${to}.${q.path}`;
    else if (q.path.startsWith(`${from}.`)) q.path = to + q.path.slice(from.length);
    return true;
  });
}

function leaf(ctx: Ctx, p: MimePart, reason: string, always = false): void {
  warn(ctx, reason, always);
  p.type = 'application';
  p.subtype = 'octet-stream';
  p.params = [];
  p.lines = null;
  p.children = [];
  p.message = null;
}

function parsePart(ctx: Ctx, start: number, end: number, path: string, depth: number, defaultType: 'text/plain' | 'message/rfc822'): MimePart {
  return parsePartWithFields(ctx, start, end, path, depth, defaultType).part;
}

/** Parse one part (and its subtree); also returns its header fields (for an enclosed message's envelope). */
function parsePartWithFields(
  ctx: Ctx,
  start: number,
  end: number,
  path: string,
  depth: number,
  defaultType: 'text/plain' | 'message/rfc822',
): { part: MimePart; fields: HeaderField[] } {
  const raw = ctx.raw;
  ctx.parts++;
  const hb = parseHeaderBlock(raw, start, end, ctx.maxHeaderBytes);
  for (const w of hb.warnings) warn(ctx, w);
  const fields = hb.fields;
  const ct = parseContentType(getHeader(hb.fields, 'content-type'), defaultType);
  for (const w of ct.warnings) warn(ctx, w);
  const disp = parseDisposition(getHeader(hb.fields, 'content-disposition'));
  if (disp) for (const w of disp.warnings) warn(ctx, w);
  const lang = getHeader(hb.fields, 'content-language');
  // The mechanism is one token; drop comments and junk ("base64 (by X)", "Base64;"). A value
  // that is not a token counts as 7bit, as Dovecot shows it.
  let encoding = (getHeader(hb.fields, 'content-transfer-encoding') ?? '').trim().split(/[\s;(]/)[0]!.replace(/^"|"$/g, '').toLowerCase() || '7bit';
  if (!/^[a-z0-9!#$%&'*+\-.^_`|~]+$/.test(encoding)) {
    warn(ctx, 'content-transfer-encoding: not a token, 7bit assumed');
    encoding = '7bit';
  }
  const fname = (disp ? getParam(disp.params, 'filename') : null) ?? getParam(ct.params, 'name');
  const part: MimePart = {
    path,
    headerStart: start,
    bodyStart: hb.bodyStart,
    end,
    type: ct.type,
    subtype: ct.subtype,
    params: ct.params,
    contentId: getHeader(hb.fields, 'content-id'),
    description: getHeader(hb.fields, 'content-description'),
    encoding,
    size: end - hb.bodyStart,
    lines: null,
    md5: getHeader(hb.fields, 'content-md5'),
    disposition: disp ? { type: disp.type, params: disp.params } : null,
    language: lang === null ? null : lang.split(',').map((l) => l.trim()).filter((l) => l.length > 0),
    location: getHeader(hb.fields, 'content-location'),
    filename: fname === null ? null : decodeWords(fname).trim() || null,
    children: [],
    message: null,
  };
  if (part.language && part.language.length === 0) part.language = null;

  if (part.type === 'multipart') {
    const boundary = getParam(part.params, 'boundary');
    if (!boundary) {
      leaf(ctx, part, 'multipart without boundary: kept as one part');
      return { part, fields };
    }
    if (depth >= ctx.maxDepth) {
      leaf(ctx, part, `MIME nesting deeper than ${ctx.maxDepth}: not descended`, true);
      ctx.incomplete ??= { limit: 'depth', detail: `MIME nesting deeper than ${ctx.maxDepth}` };
      return { part, fields };
    }
    parseMultipart(ctx, part, boundary, depth);
  } else if (part.type === 'message' && (part.subtype === 'rfc822' || part.subtype === 'global')) {
    part.lines = linesIn(ctx, part.bodyStart, part.end);
    if (encoding !== '7bit' && encoding !== '8bit' && encoding !== 'binary') {
      // RFC 2046 §5.2.1 forbids it; we do not decode to parse. The renderer shows such a part as a leaf.
      warn(ctx, `encoded message/${part.subtype} not descended`);
    } else if (depth >= ctx.maxDepth) {
      warn(ctx, `MIME nesting deeper than ${ctx.maxDepth}: not descended`, true);
      ctx.incomplete ??= { limit: 'depth', detail: `MIME nesting deeper than ${ctx.maxDepth}` };
    } else if (ctx.parts >= ctx.maxParts) {
      warn(ctx, `more than ${ctx.maxParts} MIME parts: rest not descended`, true);
      ctx.incomplete ??= { limit: 'parts', detail: `more than ${ctx.maxParts} MIME parts` };
    } else {
      // A top-level message/rfc822 is IMAP part "1": its enclosed parts are numbered 1.x.
      const base = path || '1';
      const { part: inner, fields: innerHeaders } = parsePartWithFields(ctx, part.bodyStart, part.end, base, depth + 1, 'text/plain');
      if (inner.type !== 'multipart') repath(inner, base, childPath(base, 1));
      const ws: string[] = [];
      part.message = { envelope: envelopeOf(innerHeaders, ctx.maxAddresses, ws), part: inner };
      for (const w of ws) warn(ctx, w, true);
    }
  } else if (part.type === 'text') {
    part.lines = linesIn(ctx, part.bodyStart, part.end);
  }
  return { part, fields };
}

/** Is there a delimiter line for `dash` ("--boundary") at `pos` (already known to start a line)? */
function delimiterAt(raw: Buffer, pos: number, end: number, dash: Buffer): { close: boolean; next: number } | null {
  if (pos + dash.length > end) return null;
  if (raw.compare(dash, 0, dash.length, pos, pos + dash.length) !== 0) return null;
  let i = pos + dash.length;
  let close = false;
  if (i + 1 < end && raw[i] === 0x2d && raw[i + 1] === 0x2d) {
    close = true;
    i += 2;
  }
  // transport padding: LWSP up to the line end
  while (i < end && (raw[i] === 0x20 || raw[i] === 0x09)) i++;
  if (i >= end) return { close, next: end };
  if (raw[i] === 0x0a) return { close, next: i + 1 };
  if (raw[i] === 0x0d && raw[i + 1] === 0x0a && i + 1 < end) return { close, next: i + 2 };
  if (close) {
    // "--b--junk": tolerate, treat as close, skip to the line end
    const nl = raw.indexOf(0x0a, i);
    return { close, next: nl < 0 || nl >= end ? end : nl + 1 };
  }
  return null; // "--bXYZ" is a different (longer) boundary
}

function parseMultipart(ctx: Ctx, part: MimePart, boundary: string, depth: number): void {
  const raw = ctx.raw;
  const dash = Buffer.from(`--${boundary}`, 'utf8');
  const end = part.end;
  const childDefault = part.subtype === 'digest' ? 'message/rfc822' : 'text/plain';
  let partStart = -1; // start of the current child's header, -1 in the preamble
  let pos = part.bodyStart;
  let n = 0;
  let closed = false;
  let capped = false;
  const addChild = (cStart: number, cEnd: number): void => {
    if (capped) return;
    if (ctx.parts >= ctx.maxParts) {
      capped = true;
      warn(ctx, `more than ${ctx.maxParts} MIME parts: rest not parsed`, true);
      ctx.incomplete ??= { limit: 'parts', detail: `more than ${ctx.maxParts} MIME parts` };
      return;
    }
    n++;
    part.children.push(parsePart(ctx, cStart, Math.max(cStart, cEnd), childPath(part.path, n), depth + 1, childDefault));
  };
  // Candidates: lines filed under this boundary by the one-pass index.
  ctx.delims ??= buildDelimiterIndex(raw);
  const key = trimEndWhere(dash.toString('latin1', 2), (c) => c === ' ' || c === '\t');
  const cands = (key.length <= MAX_BOUNDARY && ctx.delims.get(key)) || [];
  let ci = lowerBound(cands, pos);
  while (pos < end) {
    const hit = ci < cands.length ? cands[ci++]! : -1;
    if (hit < 0 || hit >= end) break;
    if (hit < pos) continue;
    const d = delimiterAt(raw, hit, end, dash);
    if (!d) continue;
    if (partStart >= 0) {
      // the line break before the delimiter belongs to the delimiter
      let cEnd = hit;
      if (cEnd > partStart && raw[cEnd - 1] === 0x0a) cEnd--;
      if (cEnd > partStart && raw[cEnd - 1] === 0x0d) cEnd--;
      addChild(partStart, cEnd);
    }
    if (d.close) {
      closed = true;
      break;
    }
    partStart = d.next;
    pos = d.next;
  }
  if (!closed) {
    if (partStart >= 0) {
      warn(ctx, 'multipart: missing close delimiter');
      addChild(partStart, end);
    }
  }
  if (part.children.length === 0) {
    // No delimiter at all: BODYSTRUCTURE cannot show a multipart without parts, so the body is
    // shown for what a reader sees, a text part (its bytes unchanged).
    warn(ctx, 'multipart without parts: shown as text/plain');
    part.type = 'text';
    part.subtype = 'plain';
    part.params = [{ name: 'charset', value: 'us-ascii' }];
    part.lines = linesIn(ctx, part.bodyStart, part.end);
  }
}

function walk(p: MimePart, f: (p: MimePart) => boolean): boolean {
  if (!f(p)) return false;
  for (const c of p.children) if (!walk(c, f)) return false;
  if (p.message && !walk(p.message.part, f)) return false;
  return true;
}

/** Every part of the tree, depth first (enclosed messages included). */
export function allParts(root: MimePart): MimePart[] {
  const out: MimePart[] = [];
  walk(root, (p) => {
    out.push(p);
    return true;
  });
  return out;
}

const IDENTITY_ENCODINGS = new Set(['', '7bit', '8bit', 'binary']);

/** bodyTextOf on the first call, kept for later ones; a failure gives no text (the parse already succeeded). */
function lazyBodyText(raw: Buffer, root: MimePart, maxBytes: number): () => string {
  let text: string | undefined;
  return () => {
    if (text === undefined) {
      try {
        text = bodyTextOf(raw, root, maxBytes);
      } catch {
        text = '';
      }
    }
    return text;
  };
}

function bodyTextOf(raw: Buffer, root: MimePart, maxBytes: number): string {
  const chunks: string[] = [];
  let bytes = 0;
  walk(root, (p) => {
    if (bytes >= maxBytes) return false;
    if (p.type !== 'text' || (p.subtype !== 'plain' && p.subtype !== 'html')) return true;
    // Decode only as much as can reach the cap: an identity encoding (7bit, 8bit, binary) gives
    // at least one byte of text per byte; QP needs at most 3 raw bytes per byte, base64 4 per 3
    // (so 4× is enough for plain text); HTML loses its tags, and gets 6× (a trade-off: very
    // tag-heavy HTML may index less than the cap).
    const identity = IDENTITY_ENCODINGS.has(p.encoding.toLowerCase());
    const room = (maxBytes - bytes) * (p.subtype === 'html' ? 6 : identity ? 1 : 4) + 16;
    const cut = p.end - p.bodyStart > room;
    const body = decodeBody(raw, cut ? { ...p, end: p.bodyStart + room } : p);
    let text = decodeCharset(body, getParam(p.params, 'charset') ?? 'us-ascii');
    if (p.subtype === 'html') text = htmlToText(text);
    text = text.replace(/\r\n?/g, '\n').trim();
    if (cut) text = text.replace(/\uFFFD$/, ''); // a character split by the cut
    if (!text) return true;
    const b = Buffer.byteLength(text, 'utf8');
    if (bytes + b > maxBytes) {
      const cut = Buffer.from(text, 'utf8').subarray(0, maxBytes - bytes).toString('utf8').replace(/\uFFFD$/, '');
      chunks.push(cut);
      bytes = maxBytes;
      return false;
    }
    chunks.push(text);
    bytes += b + 1;
    return true;
  });
  return chunks.join('\n');
}

function emptyEnvelope(): Envelope {
  return { date: null, subject: null, from: null, sender: null, replyTo: null, to: null, cc: null, bcc: null, inReplyTo: null, messageId: null };
}

function fallback(raw: Buffer, warnings: string[], why: string): ParsedMessage {
  return {
    size: raw.length,
    envelope: emptyEnvelope(),
    structure: {
      path: '', headerStart: 0, bodyStart: 0, end: raw.length, type: 'text', subtype: 'plain',
      params: [{ name: 'charset', value: 'us-ascii' }], contentId: null, description: null, encoding: '7bit',
      size: raw.length, lines: countLines(raw, 0, raw.length), md5: null, disposition: null, language: null,
      location: null, filename: null, children: [], message: null,
    },
    subject: '', from: '', to: [], cc: [], messageId: null, date: null, bodyText: () => '', warnings, incomplete: { limit: 'parse', detail: why },
  };
}

/** Parse a whole message. Never throws; see the file comment for what is recorded. */
export function parseMessage(raw: Buffer, limits: ParseLimits = {}): ParsedMessage {
  const ctx: Ctx = {
    raw,
    maxDepth: limits.maxDepth ?? 100,
    maxParts: limits.maxParts ?? 10_000,
    maxHeaderBytes: limits.maxHeaderBytes ?? 1024 * 1024,
    maxAddresses: limits.maxAddresses ?? DEFAULT_MAX_ADDRESSES,
    parts: 0,
    warnings: [],
    warned: new Set(),
    incomplete: null,
    lines: null,
    delims: null,
  };
  try {
    const { part: top, fields: headers } = parsePartWithFields(ctx, 0, raw.length, '', 0, 'text/plain');
    const ws: string[] = [];
    const envelope = envelopeOf(headers, ctx.maxAddresses, ws);
    for (const w of ws) warn(ctx, w, true);
    const subject = envelope.subject === null ? '' : decodeWords(envelope.subject).trim();
    return {
      size: raw.length,
      envelope,
      structure: top,
      subject,
      from: displayAddresses(envelope.from).join(', '),
      to: displayAddresses(envelope.to),
      cc: displayAddresses(envelope.cc),
      messageId: envelope.messageId === null ? null : envelope.messageId.trim() || null,
      date: parseDate(envelope.date),
      bodyText: lazyBodyText(raw, top, limits.maxBodyTextBytes ?? 1024 * 1024),
      warnings: ctx.warnings,
      incomplete: ctx.incomplete,
    };
  } catch (e) {
    const why = `parse failed: ${e instanceof Error ? e.message : String(e)}`;
    return fallback(raw, [...ctx.warnings, why], why);
  }
}

/**
 * The part an IMAP section number ("1", "2.1.3") names, or null. Follows RFC 3501 §6.4.5:
 * a non-multipart top part is "1"; a message/rfc822 part's enclosed parts continue its number.
 */
export function findPart(root: MimePart, section: string): MimePart | null {
  if (section === '') return root;
  const nums = section.split('.');
  let cur: MimePart = root;
  for (let i = 0; i < nums.length; i++) {
    const s = nums[i]!;
    if (!/^[1-9]\d{0,5}$/.test(s)) return null;
    const n = Number(s);
    if (i === 0 && cur.type !== 'multipart') {
      if (n !== 1) return null;
      continue; // "1" is the top part itself
    }
    if (cur.type === 'multipart') {
      const c = cur.children[n - 1];
      if (!c) return null;
      cur = c;
    } else if (cur.message) {
      const inner: MimePart = cur.message.part;
      if (inner.type === 'multipart') {
        const c = inner.children[n - 1];
        if (!c) return null;
        cur = c;
      } else if (n === 1) cur = inner;
      else return null;
    } else return null;
  }
  return cur;
}
