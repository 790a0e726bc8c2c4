/**
 * Header fields: the header block of a message or MIME part (unfolding, byte caps),
 * RFC 2047 encoded words, RFC 2231 parameters, Content-Type / Content-Disposition,
 * and the safe way to write a header value (encodeHeaderValue).
 */
import { decodeCharset, isValidUtf8 } from './charset.js';
import type { MimeParam } from './types.js';

/** One header field: name lower-cased, value unfolded (CRLF removed, WSP kept) and trimmed, not decoded. */
export interface HeaderField {
  name: string;
  value: string;
}

export interface HeaderBlock {
  fields: HeaderField[];
  /** Offset of the first body byte (after the blank line), or `end` when there is no body. */
  bodyStart: number;
  warnings: string[];
}

/** Bytes of a header value as a string: UTF-8 when valid (RFC 6532), else windows-1252 guess. */
function headerBytesToString(b: Buffer): string {
  for (let i = 0; i < b.length; i++) {
    if (b[i]! >= 0x80) return isValidUtf8(b) ? b.toString('utf8').normalize('NFC') : decodeCharset(b, 'x-unknown');
  }
  return b.toString('latin1');
}

function isFieldNameByte(c: number): boolean {
  return c >= 33 && c <= 126 && c !== 58;
}

/** Length of a valid "name:" prefix (index of the colon), or -1. Allows obsolete WSP before the colon. */
function fieldColon(raw: Buffer, from: number, to: number): number {
  let i = from;
  while (i < to && isFieldNameByte(raw[i]!)) i++;
  if (i === from) return -1;
  let j = i;
  while (j < to && (raw[j] === 0x20 || raw[j] === 0x09)) j++;
  return j < to && raw[j] === 58 ? j : -1;
}

/**
 * Parse the header block starting at `start` (at most up to `end`). Lines end in LF or CRLF.
 * A line that is neither a field nor a continuation ends the header (the body starts there).
 * Fields beyond `maxHeaderBytes` are not kept, but the blank line is still found.
 */
export function parseHeaderBlock(raw: Buffer, start: number, end: number, maxHeaderBytes = 1024 * 1024): HeaderBlock {
  const fields: HeaderField[] = [];
  const warnings: string[] = [];
  let pos = start;
  let cur: { name: string; chunks: Buffer[] } | null = null;
  let kept = 0;
  let capped = false;
  const flush = (f: { name: string; chunks: Buffer[] } | null): null => {
    if (f) {
      const bytes = f.chunks.length === 1 ? f.chunks[0]! : Buffer.concat(f.chunks);
      fields.push({ name: f.name, value: headerBytesToString(bytes).trim() });
    }
    return null;
  };
  while (pos < end) {
    let nl = raw.indexOf(0x0a, pos);
    if (nl < 0 || nl >= end) nl = end;
    let lineEnd = nl;
    if (lineEnd > pos && raw[lineEnd - 1] === 0x0d) lineEnd--;
    const next = Math.min(nl + 1, end);
    if (lineEnd === pos) {
      cur = flush(cur);
      return { fields, bodyStart: next, warnings };
    }
    const first = raw[pos]!;
    if (first === 0x20 || first === 0x09) {
      if (cur && !capped) {
        kept += lineEnd - pos;
        if (kept > maxHeaderBytes) capped = true;
        else cur.chunks.push(raw.subarray(pos, lineEnd));
      } else if (!cur && fields.length === 0 && !capped) {
        warnings.push('header: continuation line without a field');
      }
    } else {
      const colon = fieldColon(raw, pos, lineEnd);
      if (colon < 0) {
        cur = flush(cur);
        warnings.push('header: line without a field name ends the header');
        return { fields, bodyStart: pos, warnings };
      }
      cur = flush(cur);
      kept += lineEnd - pos;
      if (kept > maxHeaderBytes) {
        if (!capped) warnings.push(`header: more than ${maxHeaderBytes} bytes, rest ignored`);
        capped = true;
      }
      if (!capped) {
        let nameEnd = colon;
        while (nameEnd > pos && (raw[nameEnd - 1] === 0x20 || raw[nameEnd - 1] === 0x09)) nameEnd--;
        cur = { name: raw.toString('latin1', pos, nameEnd).toLowerCase(), chunks: [raw.subarray(colon + 1, lineEnd)] };
      }
    }
    pos = next;
  }
  cur = flush(cur);
  return { fields, bodyStart: end, warnings };
}

/** First value of a header field (name case-insensitive), or null. */
export function getHeader(fields: readonly HeaderField[], name: string): string | null {
  const n = name.toLowerCase();
  for (const f of fields) if (f.name === n) return f.value;
  return null;
}

/** All values of a header field, in order. */
export function getHeaders(fields: readonly HeaderField[], name: string): string[] {
  const n = name.toLowerCase();
  return fields.filter((f) => f.name === n).map((f) => f.value);
}

// ── RFC 2047 ──────────────────────────────────────────────────────────────────

const ENCODED_WORD = /=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g;

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** The bytes of an RFC 2047 "Q" encoded word's text: `_` is a space, `=XX` a byte. */
export function decodeQWord(text: string): Buffer {
  const src = Buffer.from(text, 'latin1');
  const out = Buffer.alloc(src.length);
  let o = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === 0x5f) out[o++] = 0x20;
    else if (c === 0x3d && i + 2 < src.length && hexVal(src[i + 1]!) >= 0 && hexVal(src[i + 2]!) >= 0) {
      out[o++] = hexVal(src[i + 1]!) * 16 + hexVal(src[i + 2]!);
      i += 2;
    } else out[o++] = c;
  }
  return out.subarray(0, o);
}

function decodeBWord(text: string): Buffer {
  return Buffer.from(text.replace(/[^A-Za-z0-9+/]/g, ''), 'base64');
}

/** Remove characters that must never reach a header we write or a log line: CR, LF, NUL. */
function dropControls(s: string): string {
  return s.replace(/[\r\n\0]+/g, ' ');
}

/**
 * Decode RFC 2047 encoded words in a header value (B and Q, any charset). Whitespace between
 * adjacent encoded words is dropped; adjacent words in the same charset are joined as bytes
 * first, so a multi-byte character split across two words decodes correctly.
 * CR, LF and NUL in the result become spaces. Output NFC.
 */
export function decodeWords(value: string): string {
  if (!value.includes('=?')) return dropControls(value).normalize('NFC');
  let out = '';
  let last = 0;
  let pending: { charset: string; chunks: Buffer[] } | null = null;
  ENCODED_WORD.lastIndex = 0;
  for (let m = ENCODED_WORD.exec(value); m; m = ENCODED_WORD.exec(value)) {
    const between = value.slice(last, m.index);
    const charset = (m[1] ?? '').toLowerCase();
    const bytes = (m[2] ?? 'b').toLowerCase() === 'b' ? decodeBWord(m[3] ?? '') : decodeQWord(m[3] ?? '');
    if (pending && /^[ \t\r\n]*$/.test(between) && pending.charset === charset) {
      pending.chunks.push(bytes);
    } else {
      if (pending) out += decodeCharset(Buffer.concat(pending.chunks), pending.charset);
      // whitespace between two encoded words is dropped
      if (!(pending && /^[ \t\r\n]*$/.test(between))) out += between;
      pending = { charset, chunks: [bytes] };
    }
    last = m.index + m[0].length;
  }
  if (pending) out += decodeCharset(Buffer.concat(pending.chunks), pending.charset);
  out += value.slice(last);
  return dropControls(out).normalize('NFC');
}

/**
 * A header value safe to write after "Name: ": CR/LF/NUL become spaces; printable ASCII is
 * returned as is (unless it contains "=?"); anything else becomes RFC 2047 "B" encoded words
 * of UTF-8 (each at most 75 characters, never splitting a character), folded with CRLF + space
 * between words.
 */
export function encodeHeaderValue(text: string): string {
  const clean = text.normalize('NFC').replace(/[\r\n\0]+/g, ' ');
  // ASCII goes as is, unless it holds "=?" that a reader would take for an encoded word.
  if (/^[\x20-\x7e\t]*$/.test(clean) && !clean.includes('=?')) return clean;
  const words: string[] = [];
  const maxBytes = 45; // base64(45) = 60 chars + "=?utf-8?B??=" (12) = 72 ≤ 75
  let chunk = '';
  let chunkBytes = 0;
  for (const ch of clean) {
    const b = Buffer.byteLength(ch, 'utf8');
    if (chunkBytes + b > maxBytes && chunk) {
      words.push(`=?utf-8?B?${Buffer.from(chunk, 'utf8').toString('base64')}?=`);
      chunk = '';
      chunkBytes = 0;
    }
    chunk += ch;
    chunkBytes += b;
  }
  if (chunk) words.push(`=?utf-8?B?${Buffer.from(chunk, 'utf8').toString('base64')}?=`);
  return words.join('\r\n ');
}

/**
 * A display name for an address header (`<name> <local@domain>`): atoms as they are, other
 * printable ASCII as a quoted string, anything else as RFC 2047 words. Never CR/LF.
 */
export function encodeDisplayName(name: string): string {
  const clean = name.normalize('NFC').replace(/[\r\n\0]+/g, ' ').trim();
  if (/^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ ]*$/.test(clean) && !clean.includes('=?')) return clean;
  if (/^[\x20-\x7e]*$/.test(clean) && !clean.includes('=?')) return `"${clean.replace(/["\\]/g, '\\$&')}"`;
  return encodeHeaderValue(clean);
}

/**
 * One parameter written safely, e.g. for `X-Buudien-Policy: …; file="ho-so.zip"`:
 * `name="value"` (quoted, escaped) for ASCII values, `name*=utf-8''%XX…` (RFC 2231) otherwise.
 */
export function headerParam(name: string, value: string): string {
  const clean = value.normalize('NFC').replace(/[\r\n\0]+/g, ' ');
  if (/^[\x20-\x7e]*$/.test(clean)) return `${name}="${clean.replace(/["\\]/g, '\\$&')}"`;
  return `${name}*=utf-8''${percentEncode(clean)}`;
}

/** RFC 2231 / 5987 attr-char percent-encoding of the UTF-8 bytes of `s`. */
export function percentEncode(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9!#$&+\-.^_`|~]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

// ── Content-Type, Content-Disposition, RFC 2231 ─────────────────────────────────

/** Continuations kept per parameter (RFC 2231 name*0 … name*N): a cap against CVE-2026-27859-style floods. */
export const MAX_PARAM_CONTINUATIONS = 100;
/** Parameters kept per header. */
export const MAX_PARAMS = 100;

export interface StructuredValue {
  /** The value before the first ';', trimmed (e.g. "text/plain", "attachment"). */
  value: string;
  params: MimeParam[];
  warnings: string[];
}

interface RawParam {
  name: string;
  value: string;
}

/** Split `value; a=b; c="d;e"` into the leading value and raw (unjoined) parameters. */
function splitParams(header: string): { value: string; raw: RawParam[]; truncated: boolean } {
  let i = 0;
  const n = header.length;
  const readUntilSemicolon = (): string => {
    let s = '';
    while (i < n && header[i] !== ';') {
      if (header[i] === '"') {
        // quoted section inside an unexpected place: keep it whole
        const startQ = i++;
        while (i < n && header[i] !== '"') i += header[i] === '\\' ? 2 : 1;
        i = Math.min(i + 1, n);
        s += header.slice(startQ, i);
      } else s += header[i++];
    }
    return s;
  };
  const value = readUntilSemicolon().trim();
  const raw: RawParam[] = [];
  let truncated = false;
  while (i < n) {
    i++; // ';'
    while (i < n && /[\s]/.test(header[i]!)) i++;
    let name = '';
    while (i < n && header[i] !== '=' && header[i] !== ';') name += header[i++];
    name = name.trim().toLowerCase();
    if (i >= n || header[i] === ';') continue; // attribute without value: ignore
    i++; // '='
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
    let val: string;
    if (header[i] === '"') {
      i++;
      val = '';
      while (i < n && header[i] !== '"') {
        if (header[i] === '\\' && i + 1 < n) {
          val += header[i + 1];
          i += 2;
        } else val += header[i++];
      }
      i++; // closing quote
      while (i < n && header[i] !== ';') i++; // junk after a quoted string
    } else {
      val = '';
      while (i < n && header[i] !== ';') val += header[i++];
      val = val.trim();
    }
    if (!name) continue;
    if (raw.length >= MAX_PARAMS * 4) {
      truncated = true;
      break;
    }
    raw.push({ name, value: val });
  }
  return { value, raw, truncated };
}

function percentDecode(s: string): Buffer {
  const src = Buffer.from(s, 'utf8');
  const out = Buffer.alloc(src.length);
  let o = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === 0x25 && i + 2 < src.length && hexVal(src[i + 1]!) >= 0 && hexVal(src[i + 2]!) >= 0) {
      out[o++] = hexVal(src[i + 1]!) * 16 + hexVal(src[i + 2]!);
      i += 2;
    } else out[o++] = c;
  }
  return out.subarray(0, o);
}

/**
 * Parse a structured header value with parameters (Content-Type, Content-Disposition).
 * RFC 2231: `name*=charset'lang'%XX`, continuations `name*0`, `name*1*` … joined in index
 * order (at most MAX_PARAM_CONTINUATIONS each) and decoded with the charset of segment 0.
 * Parameter names are lower-cased; the first occurrence of a name wins.
 */
export function parseStructured(header: string): StructuredValue {
  const warnings: string[] = [];
  const { value, raw, truncated } = splitParams(header);
  if (truncated) warnings.push(`header: more than ${MAX_PARAMS * 4} parameters, rest ignored`);
  interface Group {
    simple: string | null;
    extended: string | null;
    segments: Map<number, { value: string; ext: boolean }>;
  }
  const order: string[] = [];
  const groups = new Map<string, Group>();
  let overflow = false;
  for (const p of raw) {
    const m = /^([^*]+)\*(?:(\d{1,6})(\*)?)?$/.exec(p.name);
    const base = m ? m[1]! : p.name;
    let g = groups.get(base);
    if (!g) {
      if (groups.size >= MAX_PARAMS) {
        overflow = true;
        continue;
      }
      g = { simple: null, extended: null, segments: new Map() };
      groups.set(base, g);
      order.push(base);
    }
    if (!m) {
      if (g.simple === null) g.simple = p.value;
    } else if (m[2] === undefined) {
      if (g.extended === null) g.extended = p.value;
    } else {
      const idx = Number(m[2]);
      if (idx >= MAX_PARAM_CONTINUATIONS) {
        overflow = true;
        continue;
      }
      if (!g.segments.has(idx)) g.segments.set(idx, { value: p.value, ext: m[3] === '*' });
    }
  }
  if (overflow) warnings.push(`header: parameter limit reached (${MAX_PARAMS} names, ${MAX_PARAM_CONTINUATIONS} continuations)`);
  const params: MimeParam[] = [];
  for (const name of order) {
    const g = groups.get(name)!;
    let decoded: string | null = null;
    if (g.extended !== null) {
      decoded = decodeExtended(g.extended);
    } else if (g.segments.size > 0) {
      let charset = '';
      const chunks: Buffer[] = [];
      // Segments count from 0 without gaps; a gap ends the value (RFC 2231 §3).
      for (let idx = 0; g.segments.has(idx); idx++) {
        const seg = g.segments.get(idx)!;
        if (seg.ext) {
          let v = seg.value;
          if (idx === 0) {
            const q1 = v.indexOf("'");
            const q2 = q1 >= 0 ? v.indexOf("'", q1 + 1) : -1;
            if (q2 >= 0) {
              charset = v.slice(0, q1);
              v = v.slice(q2 + 1);
            }
          }
          chunks.push(percentDecode(v));
        } else chunks.push(Buffer.from(seg.value, 'utf8'));
      }
      if (chunks.length > 0) decoded = decodeCharset(Buffer.concat(chunks), charset || 'utf-8');
    }
    if (decoded === null) decoded = g.simple ?? '';
    params.push({ name, value: decoded.replace(/[\r\n\0]+/g, ' ') });
  }
  return { value, params, warnings };
}

/** Decode an RFC 2231 extended value `charset'lang'%XX…` (tolerating a missing charset part). */
function decodeExtended(v: string): string {
  const q1 = v.indexOf("'");
  const q2 = q1 >= 0 ? v.indexOf("'", q1 + 1) : -1;
  if (q2 < 0) return decodeCharset(percentDecode(v), 'utf-8');
  return decodeCharset(percentDecode(v.slice(q2 + 1)), v.slice(0, q1) || 'utf-8');
}

/** Value of a parameter by name, or null. */
export function getParam(params: readonly MimeParam[], name: string): string | null {
  const n = name.toLowerCase();
  for (const p of params) if (p.name === n) return p.value;
  return null;
}

export interface ContentType {
  type: string;
  subtype: string;
  params: MimeParam[];
  /** False when the header was absent or malformed (the defaults were used). */
  valid: boolean;
  warnings: string[];
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Parse a Content-Type value. Absent or malformed → the default (`text/plain; charset=us-ascii`,
 * or `message/rfc822` inside multipart/digest) per RFC 2045 §5.2 / RFC 2046 §5.1.5.
 */
export function parseContentType(value: string | null, defaultType: 'text/plain' | 'message/rfc822' = 'text/plain'): ContentType {
  const dflt = (warnings: string[]): ContentType =>
    defaultType === 'text/plain'
      ? { type: 'text', subtype: 'plain', params: [{ name: 'charset', value: 'us-ascii' }], valid: false, warnings }
      : { type: 'message', subtype: 'rfc822', params: [], valid: false, warnings };
  if (value === null) return dflt([]);
  const s = parseStructured(value);
  const slash = s.value.indexOf('/');
  const type = slash >= 0 ? s.value.slice(0, slash).trim().toLowerCase() : '';
  const subtype = slash >= 0 ? s.value.slice(slash + 1).trim().toLowerCase() : '';
  if (!TOKEN.test(type) || !TOKEN.test(subtype)) {
    // RFC 2045 §5.2: a syntactically invalid Content-Type means text/plain; charset=us-ascii.
    return dflt([...s.warnings, `content-type: malformed "${value.slice(0, 80)}"`]);
  }
  return { type, subtype, params: s.params, valid: true, warnings: s.warnings };
}

/** Parse a Content-Disposition value; null when absent or empty. Type lower-cased. */
export function parseDisposition(value: string | null): { type: string; params: MimeParam[]; warnings: string[] } | null {
  if (value === null) return null;
  const s = parseStructured(value);
  const type = s.value.trim().toLowerCase();
  if (!type || !TOKEN.test(type)) return null;
  return { type, params: s.params, warnings: s.warnings };
}

/**
 * RFC 822 comments ("(…)", nested, with quoted-pairs) outside quoted strings, removed, each
 * leaving a space (RFC 5322 §3.2.2 CFWS): RFC 2045 allows them between parameters, and clients
 * read `; (x) name="a.exe"` as name a.exe. An unclosed comment runs to the end.
 */
export function stripComments(value: string): string {
  if (!value.includes('(')) return value;
  let out = '';
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i] as string;
    if (ch === '\\') {
      if (depth === 0) out += value.slice(i, i + 2);
      i++;
    } else if (quoted) {
      out += ch;
      if (ch === '"') quoted = false;
    } else if (ch === '(') {
      depth++;
    } else if (ch === ')' && depth > 0) {
      if (--depth === 0) out += ' ';
    } else if (depth === 0) {
      out += ch;
      if (ch === '"') quoted = true;
    }
  }
  return out;
}
