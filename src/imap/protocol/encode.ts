/**
 * Response encoding helpers: strings as atom / quoted / literal, NIL, lists, flags, sets,
 * dates, mailbox names, FETCH item names and whole `* n FETCH (...)` responses.
 *
 * Output is a list of wire chunks (`string | Buffer`): adjacent text is joined into one string,
 * literal payloads given as Buffers are passed through as the same Buffer objects (no copy), so
 * a message body read from the store goes to the socket as it is.
 */

import type { FetchItem, Section, SequenceSet } from './types.js';
import { encodeMailboxUtf7 } from './utf7.js';

export type WireChunk = string | Buffer;

/** A value in a response. Plain strings are IMAP strings (quoted or literal, chosen here). */
export type ImapValue =
  | null
  | number
  | string
  | ImapAtom
  | ImapLiteral
  | ImapRaw
  | readonly ImapValue[];

export interface ImapAtom {
  readonly kind: 'atom';
  readonly text: string;
}
export interface ImapLiteral {
  readonly kind: 'literal';
  readonly data: Buffer | string;
  /** literal8 `~{n}` (BINARY fetch of content that contains NUL). */
  readonly binary: boolean;
}
/** Already-encoded response text (e.g. an ENVELOPE rendered by mail/imap-render.ts), written as is. */
export interface ImapRaw {
  readonly kind: 'raw';
  readonly text: string;
}

export interface EncodeOptions {
  /** UTF8=ACCEPT enabled or IMAP4rev2: UTF-8 may appear in quoted strings and mailbox names. */
  readonly utf8: boolean;
}

export const atom = (text: string): ImapAtom => ({ kind: 'atom', text });
export const literal = (data: Buffer | string, binary = false): ImapLiteral => ({ kind: 'literal', data, binary });
export const raw = (text: string): ImapRaw => ({ kind: 'raw', text });

/** Chunk builder: joins text, keeps Buffers as they are. */
export class Wire {
  private readonly chunks: WireChunk[] = [];
  private text = '';
  write(s: string): this {
    this.text += s;
    return this;
  }
  buffer(b: Buffer): this {
    if (this.text) this.chunks.push(this.text);
    this.text = '';
    this.chunks.push(b);
    return this;
  }
  done(): WireChunk[] {
    if (this.text) this.chunks.push(this.text);
    this.text = '';
    return this.chunks;
  }
}

// ── strings ──

const ATOM_SAFE = /^[!#$&'+-[^-z|~]+$/; // ATOM-CHAR without "]" handling subtleties: no ( ) { SP CTL % * " \ ]
/** The quoted form of s, or null when s needs a literal (CR, LF, NUL; 8-bit unless utf8). */
export function quoted(s: string, utf8: boolean): string | null {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c === 0x0a || c === 0x0d) return null;
    if (c > 0x7e && !utf8) return null;
  }
  return '"' + s.replace(/[\\"]/g, '\\$&') + '"';
}

/** An IMAP string: quoted when possible, else a literal (a NUL in it goes out as a space). */
export function str(s: string, utf8: boolean): string {
  const q = quoted(s, utf8);
  if (q !== null) return q;
  const v = s.includes('\0') ? s.replace(/\0/g, ' ') : s;
  return `{${Buffer.byteLength(v)}}\r\n${v}`;
}

/**
 * The bytes of a plain `{n}` literal: NUL is not a CHAR8 (RFC 9051 §4.3.1, §9 `literal`), only a
 * literal8 (BINARY[], RFC 3516) may carry it. Each NUL becomes 0x80, as Dovecot does: the size
 * is kept, so literal lengths, RFC822.SIZE and partial offsets stay right. Returns `b` itself
 * (no copy) when it holds no NUL; otherwise a copy (`b` may be a shared or cached buffer).
 */
export function nulFree(b: Buffer): Buffer {
  let i = b.indexOf(0);
  if (i < 0) return b;
  const c = Buffer.from(b);
  while (i >= 0) {
    c[i] = 0x80;
    i = c.indexOf(0, i + 1);
  }
  return c;
}

/** nstring: NIL for null. */
export function nstr(s: string | null, utf8: boolean): string {
  return s === null ? 'NIL' : str(s, utf8);
}

/** astring: a bare atom when safe (and not "NIL"), else a string. */
export function astr(s: string, utf8: boolean): string {
  if (s !== '' && ATOM_SAFE.test(s) && s.toUpperCase() !== 'NIL') return s;
  return str(s, utf8);
}

/** A mailbox name for LIST/STATUS/…: modified UTF-7 unless utf8, always quoted or literal. */
export function mailboxName(name: string, utf8: boolean): string {
  return str(utf8 ? name : encodeMailboxUtf7(name), utf8);
}

// ── values ──

/** Append the encoding of v to the wire. */
export function writeValue(w: Wire, v: ImapValue, opts: EncodeOptions): void {
  if (v === null) {
    w.write('NIL');
  } else if (typeof v === 'number') {
    w.write(String(v));
  } else if (typeof v === 'string') {
    w.write(str(v, opts.utf8));
  } else if (Array.isArray(v)) {
    w.write('(');
    for (let i = 0; i < v.length; i++) {
      if (i > 0) w.write(' ');
      writeValue(w, v[i] as ImapValue, opts);
    }
    w.write(')');
  } else {
    const o = v as ImapAtom | ImapLiteral | ImapRaw;
    if (o.kind === 'atom' || o.kind === 'raw') {
      w.write(o.text);
    } else {
      // Only literal8 keeps NUL; a string literal's NULs go out as spaces, a Buffer's as 0x80.
      const data = typeof o.data === 'string' ? (o.binary || !o.data.includes('\0') ? o.data : o.data.replace(/\0/g, ' ')) : o.binary ? o.data : nulFree(o.data);
      const len = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
      w.write(`${o.binary ? '~' : ''}{${len}}\r\n`);
      if (typeof data === 'string') w.write(data);
      else if (data.length > 0) w.buffer(data);
    }
  }
}

export function encodeValue(v: ImapValue, opts: EncodeOptions): WireChunk[] {
  const w = new Wire();
  writeValue(w, v, opts);
  return w.done();
}

// ── responses ──

/** `tag OK|NO|BAD [code] text\r\n`. */
export function tagged(tag: string, status: 'OK' | 'NO' | 'BAD', text: string, code?: string): string {
  return `${tag} ${status} ${code ? `[${code}] ` : ''}${text}\r\n`;
}

/** `* text\r\n`. */
export function untagged(text: string): string {
  return `* ${text}\r\n`;
}

/** `+ text\r\n`. */
export function continuation(text: string): string {
  return `+ ${text}\r\n`;
}

/**
 * `* seq FETCH (NAME value NAME value)\r\n`. Item values are ImapValues (use raw() for
 * pre-rendered ENVELOPE/BODYSTRUCTURE, literal() for bodies: Buffers are not copied).
 */
export function fetchResponse(seq: number, items: ReadonlyArray<readonly [string, ImapValue]>, opts: EncodeOptions): WireChunk[] {
  const w = new Wire();
  w.write(`* ${seq} FETCH (`);
  for (let i = 0; i < items.length; i++) {
    const [name, value] = items[i] as readonly [string, ImapValue];
    if (i > 0) w.write(' ');
    w.write(name).write(' ');
    writeValue(w, value, opts);
  }
  w.write(')\r\n');
  return w.done();
}

/** `(\Seen $Label)`. */
export function flagList(flags: readonly string[]): string {
  return `(${flags.join(' ')})`;
}

/** Section text as in a response: `1.2.HEADER.FIELDS (FROM TO)` (field names as requested). */
export function sectionText(section: Section, utf8 = false): string {
  const part = section.part.join('.');
  const t = section.text;
  let spec: string;
  switch (t.kind) {
    case 'all':
      spec = '';
      break;
    case 'header':
      spec = 'HEADER';
      break;
    case 'text':
      spec = 'TEXT';
      break;
    case 'mime':
      spec = 'MIME';
      break;
    case 'header.fields':
      spec = `HEADER.FIELDS${t.not ? '.NOT' : ''} (${t.fields.map((f) => astr(f, utf8)).join(' ')})`;
      break;
  }
  return part && spec ? `${part}.${spec}` : part || spec;
}

/**
 * The name of a FETCH item in the response (RFC 9051 §7.5.2): `.PEEK` dropped, a partial shows
 * only its origin (`BODY[]<0>`), RFC822.* and the rest as requested.
 */
export function fetchItemName(item: FetchItem): string {
  switch (item.kind) {
    case 'BODY[]':
      return `BODY[${sectionText(item.section)}]${item.partial ? `<${item.partial.offset}>` : ''}`;
    case 'BINARY[]':
      return `BINARY[${item.part.join('.')}]${item.partial ? `<${item.partial.offset}>` : ''}`;
    case 'BINARY.SIZE':
      return `BINARY.SIZE[${item.part.join('.')}]`;
    default:
      return item.kind;
  }
}

/**
 * Compress numbers into a sequence set string: [1,2,3,5,7,8] → "1:3,5,7:8".
 * Sorts a copy; duplicates are dropped. Empty input gives ''.
 */
export function compressSet(numbers: Iterable<number>): string {
  const sorted = Uint32Array.from(numbers).sort();
  const parts: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    const start = sorted[i] as number;
    let end = start;
    while (i + 1 < sorted.length && (sorted[i + 1] as number) <= end + 1) {
      i++;
      end = sorted[i] as number;
    }
    parts.push(start === end ? String(start) : `${start}:${end}`);
    i++;
  }
  return parts.join(',');
}

/** A parsed sequence set back to text ("1:*,5", "$"). */
export function formatSequenceSet(set: SequenceSet): string {
  if (set.kind === 'saved') return '$';
  return set.ranges.map((r) => (r.from === r.to ? String(r.from) : `${r.from}:${r.to}`)).join(',');
}

const MONTH_NAMES = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad2 = (n: number): string => String(n).padStart(2, '0');

/** INTERNALDATE: `"17-Jul-1996 02:44:25 -0700"` in the given zone (minutes east of UTC). */
export function internalDate(date: Date, offsetMinutes = 0): string {
  const t = new Date(date.getTime() + offsetMinutes * 60_000);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  const day = String(t.getUTCDate()).padStart(2, ' ');
  return (
    `"${day}-${MONTH_NAMES[t.getUTCMonth()]}-${t.getUTCFullYear()} ` +
    `${pad2(t.getUTCHours())}:${pad2(t.getUTCMinutes())}:${pad2(t.getUTCSeconds())} ` +
    `${sign}${pad2(Math.floor(abs / 60))}${pad2(abs % 60)}"`
  );
}

/**
 * The prefix of a literal whose payload is streamed afterwards (a large body from
 * store.streamBlob): write `literalPrefix(size)`, then exactly `size` bytes.
 */
export function literalPrefix(size: number, binary = false): string {
  return `${binary ? '~' : ''}{${size}}\r\n`;
}

/** Total bytes of a chunk list (for metrics / backpressure accounting). */
export function wireLength(chunks: readonly WireChunk[]): number {
  let n = 0;
  for (const c of chunks) n += typeof c === 'string' ? Buffer.byteLength(c) : c.length;
  return n;
}
