/**
 * Token reader over one assembled command: the text of its lines (CRLF and literal markers
 * removed) with a 0x00 byte standing where each literal was (NUL is refused in command text,
 * so the placeholder is unambiguous), plus the literal payloads in order.
 */

import { bi } from '../../lib/errors.js';
import { isValidUtf8 } from '../../mail/charset.js';
import type { SeqNumber, SeqRange, SequenceSet } from './types.js';

export interface Literal {
  readonly data: Buffer;
  /** literal8 (`~{n}`): may hold NUL, allowed only where the grammar says literal8. */
  readonly binary: boolean;
}

/** A refusal of one command; `response` NO is for e.g. [BADCHARSET], BAD for syntax. */
export class ParseFailure extends Error {
  constructor(
    readonly text: string,
    readonly response: 'BAD' | 'NO' = 'BAD',
  ) {
    super(text);
  }
}

/** Syntax error with a bilingual message (Vietnamese first). */
/**
 * Bytes of an atom or quoted string as text. 8-bit bytes must be UTF-8 (RFC 6855 §3: BAD for
 * anything else), never replaced by U+FFFD and so silently turned into another name or search.
 */
function utf8(b: Buffer): string {
  if (!isValidUtf8(b)) throw syntax('chuỗi không phải UTF-8 hợp lệ', 'string is not valid UTF-8');
  return b.toString('utf8');
}

export function syntax(vi: string, en: string): ParseFailure {
  return new ParseFailure(bi(`Lỗi cú pháp: ${vi}`, `Syntax error: ${en}`));
}

export const LITERAL_MARK = 0x00;
const SP = 0x20;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const RPAREN = 0x29;

/** atom-specials of RFC 3501/9051: ( ) { SP CTL % * " \ ] — bytes ≥ 0x80 are accepted (UTF-8). */
const ATOM_CHAR = new Uint8Array(256);
for (let b = 0x21; b < 256; b++) ATOM_CHAR[b] = 1;
for (const ch of '(){%*"\\]') ATOM_CHAR[ch.charCodeAt(0)] = 0;
ATOM_CHAR[0x7f] = 0;
/** ASTRING-CHAR = ATOM-CHAR / "]". */
const ASTRING_CHAR = ATOM_CHAR.slice();
ASTRING_CHAR[0x5d] = 1;
/** list-char = ATOM-CHAR / list-wildcards / resp-specials. */
const LIST_CHAR = ASTRING_CHAR.slice();
LIST_CHAR[0x25] = 1;
LIST_CHAR[0x2a] = 1;
/**
 * LOGIN's userid, read leniently: ASTRING-CHAR and "*". A delegate's sign-in name is
 * "UNIT*CLERK" (R-ACC-6); RFC 3501 wants it quoted ("*" is a list wildcard), and a mail program
 * that sends it as an atom gets signed in rather than a puzzling BAD.
 */
const USERID_CHAR = ASTRING_CHAR.slice();
USERID_CHAR[0x2a] = 1;
/** Tag: ASTRING-CHAR except "+". */
export const TAG_CHAR = ASTRING_CHAR.slice();
TAG_CHAR[0x2b] = 0;

const MAX_NUMBER = 0xffffffff;

export interface ReaderLimits {
  readonly maxNestingDepth: number;
  readonly maxItems: number;
}

export class Reader {
  pos = 0;
  private lit = 0;
  private depth = 0;
  private items = 0;

  constructor(
    readonly buf: Buffer,
    private readonly literals: readonly Literal[],
    private readonly limits: ReaderLimits,
  ) {}

  // ── position ──
  peek(): number {
    return this.pos < this.buf.length ? (this.buf[this.pos] as number) : -1;
  }
  atEnd(): boolean {
    return this.pos >= this.buf.length;
  }
  end(): void {
    if (!this.atEnd()) throw syntax('thừa dữ liệu cuối lệnh', 'unexpected data at end of command');
  }
  sp(): void {
    if (this.peek() !== SP) throw syntax('thiếu dấu cách', 'expected a space');
    this.pos++;
  }
  /** Consume a space if there is one. */
  trySp(): boolean {
    if (this.peek() === SP) {
      this.pos++;
      return true;
    }
    return false;
  }
  expect(ch: string): void {
    if (this.peek() !== ch.charCodeAt(0)) throw syntax(`thiếu "${ch}"`, `expected "${ch}"`);
    this.pos++;
  }
  tryChar(ch: string): boolean {
    if (this.peek() === ch.charCodeAt(0)) {
      this.pos++;
      return true;
    }
    return false;
  }

  // ── limits ──
  item(): void {
    if (++this.items > this.limits.maxItems) {
      throw new ParseFailure(bi('Lệnh có quá nhiều phần tử', 'Too many items in command'));
    }
  }
  enter(): void {
    if (++this.depth > this.limits.maxNestingDepth) {
      throw new ParseFailure(bi('Lệnh lồng ngoặc quá sâu', 'Command nested too deeply'));
    }
  }
  leave(): void {
    this.depth--;
  }
  /** "(" with depth accounting. */
  open(): void {
    this.expect('(');
    this.enter();
  }
  close(): void {
    this.expect(')');
    this.leave();
  }
  /** Parse "(" elem *(SP elem) ")" (or "()" when allowEmpty). */
  list<T>(elem: () => T, allowEmpty = false): T[] {
    this.open();
    const out: T[] = [];
    if (this.peek() === RPAREN) {
      if (!allowEmpty) throw syntax('danh sách rỗng', 'empty list');
    } else {
      for (;;) {
        this.item();
        out.push(elem());
        if (this.peek() !== SP) break;
        this.pos++;
      }
    }
    this.close();
    return out;
  }

  // ── tokens ──
  private run(table: Uint8Array): string {
    const start = this.pos;
    while (this.pos < this.buf.length && table[this.buf[this.pos] as number] === 1) this.pos++;
    return utf8(this.buf.subarray(start, this.pos));
  }
  atom(): string {
    const s = this.run(ATOM_CHAR);
    if (s === '') throw syntax('thiếu từ khóa', 'expected an atom');
    return s;
  }
  /** An atom, upper-cased (command names, keywords). */
  keyword(): string {
    return this.atom().toUpperCase();
  }
  /** The next atom upper-cased, without consuming it ('' if none). */
  peekWord(): string {
    const save = this.pos;
    const s = this.run(ATOM_CHAR);
    this.pos = save;
    return s.toUpperCase();
  }
  /** Bytes of an atom-like token up to one of the stop bytes (for fetch attributes: stops at "[" too). */
  word(stop: string): string {
    const start = this.pos;
    for (;;) {
      const b = this.peek();
      if (b < 0 || ATOM_CHAR[b] !== 1 || stop.includes(String.fromCharCode(b))) break;
      this.pos++;
    }
    if (start === this.pos) throw syntax('thiếu từ khóa', 'expected an atom');
    return this.buf.toString('latin1', start, this.pos).toUpperCase();
  }
  isLiteral(): boolean {
    return this.peek() === LITERAL_MARK;
  }
  literal(allowBinary: boolean): Literal {
    if (!this.isLiteral()) throw syntax('cần literal', 'expected a literal');
    const l = this.literals[this.lit];
    if (l === undefined) throw syntax('literal không khớp', 'literal mismatch');
    if (l.binary && !allowBinary) throw syntax('literal8 không được phép ở đây', 'literal8 not allowed here');
    this.lit++;
    this.pos++;
    return l;
  }
  quoted(): string {
    this.expect('"');
    const parts: Buffer[] = [];
    let start = this.pos;
    for (;;) {
      const b = this.peek();
      if (b < 0) throw syntax('chuỗi trong ngoặc kép chưa đóng', 'unterminated quoted string');
      if (b === DQUOTE) {
        parts.push(this.buf.subarray(start, this.pos));
        this.pos++;
        break;
      }
      if (b === BACKSLASH) {
        const n = this.buf[this.pos + 1];
        if (n !== DQUOTE && n !== BACKSLASH) throw syntax('ký tự thoát không hợp lệ', 'invalid escape in quoted string');
        parts.push(this.buf.subarray(start, this.pos));
        this.pos++;
        start = this.pos;
        this.pos++;
        continue;
      }
      if (b === LITERAL_MARK || b === 0x0d || b === 0x0a) throw syntax('ký tự không hợp lệ trong chuỗi', 'invalid character in quoted string');
      this.pos++;
    }
    return utf8(Buffer.concat(parts));
  }
  /** string = quoted / literal (decoded as UTF-8; NUL already refused). */
  string(): string {
    if (this.peek() === DQUOTE) return this.quoted();
    if (this.isLiteral()) return this.literal(false).data.toString('utf8');
    throw syntax('cần chuỗi', 'expected a string');
  }
  /** astring: a string, or an atom of `chars` (ASTRING-CHAR). */
  astring(chars: Uint8Array = ASTRING_CHAR): string {
    const b = this.peek();
    if (b === DQUOTE || b === LITERAL_MARK) return this.string();
    const s = this.run(chars);
    if (s === '') throw syntax('cần chuỗi', 'expected a string');
    return s;
  }
  /** LOGIN's userid: an astring, whose atom form may also hold "*" (USERID_CHAR). */
  userid(): string {
    return this.astring(USERID_CHAR);
  }
  nstring(): string | null {
    if (this.peekNil()) {
      this.pos += 3;
      return null;
    }
    return this.string();
  }
  peekNil(): boolean {
    const b = this.buf;
    const p = this.pos;
    if (p + 3 > b.length) return false;
    const w = b.toString('latin1', p, p + 3).toUpperCase();
    if (w !== 'NIL') return false;
    const after = p + 3 < b.length ? (b[p + 3] as number) : -1;
    return after < 0 || after === SP || after === RPAREN;
  }
  /** list-mailbox = 1*list-char / string. */
  listMailbox(): string {
    const b = this.peek();
    if (b === DQUOTE || b === LITERAL_MARK) return this.string();
    const s = this.run(LIST_CHAR);
    if (s === '') throw syntax('cần mẫu hộp thư', 'expected a mailbox pattern');
    return s;
  }
  /** number: 32-bit unsigned. */
  number(max = MAX_NUMBER): number {
    const start = this.pos;
    while (this.pos < this.buf.length && this.pos - start <= 16) {
      const b = this.buf[this.pos] as number;
      if (b < 0x30 || b > 0x39) break;
      this.pos++;
    }
    if (start === this.pos) throw syntax('cần số', 'expected a number');
    const digits = this.buf.toString('latin1', start, this.pos);
    const n = Number(digits);
    if (this.pos - start > 16 || !Number.isSafeInteger(n) || n > max) throw syntax('số quá lớn', 'number too large');
    return n;
  }
  nzNumber(max = MAX_NUMBER): number {
    const n = this.number(max);
    if (n === 0) throw syntax('số phải lớn hơn 0', 'number must be non-zero');
    return n;
  }
  /** mod-sequence-value: 1..2^63-1, bounded here by Number.MAX_SAFE_INTEGER. */
  modseq(allowZero: boolean): number {
    return allowZero ? this.number(Number.MAX_SAFE_INTEGER) : this.nzNumber(Number.MAX_SAFE_INTEGER);
  }
  /** sequence-set / "$". */
  sequenceSet(): SequenceSet {
    if (this.tryChar('$')) return { kind: 'saved' };
    const ranges: SeqRange[] = [];
    for (;;) {
      this.item();
      const from = this.seqNumber();
      let to = from;
      if (this.tryChar(':')) to = this.seqNumber();
      ranges.push({ from, to });
      if (!this.tryChar(',')) break;
    }
    return { kind: 'ranges', ranges };
  }
  private seqNumber(): SeqNumber {
    if (this.tryChar('*')) return '*';
    return this.nzNumber();
  }
  /** True if the next token looks like a sequence set. */
  peekSequenceSet(): boolean {
    const b = this.peek();
    return (b >= 0x30 && b <= 0x39) || b === 0x2a || b === 0x24;
  }
}
