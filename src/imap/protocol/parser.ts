/**
 * The incremental IMAP command parser: bytes in, ParseEvents out (see types.ts for the API
 * contract and the pause/resume flow).
 *
 * Framing: a command is one or more line fragments, each but the last ending in a literal
 * marker `{n}`, `{n+}`, `~{n}` or `~{n+}`, followed by the literal's bytes. Every limit is
 * checked BEFORE bytes are kept: the line length while the line is read, the declared literal
 * size before "+" is sent or a byte of the literal stored. A refused command's remaining bytes
 * are skipped (non-synchronising literals swallowed by counting) so the connection stays in sync.
 * The assembled command goes to grammar.ts, which produces the typed ImapCommand.
 */

import { bi } from '../../lib/errors.js';
import { parseCommandText } from './grammar.js';
import { ParseFailure, TAG_CHAR } from './reader.js';
import type { Literal } from './reader.js';
import type { CommandParser, ParseEvent, ParserLimits } from './types.js';

const LF = 0x0a;
const CR = 0x0d;
/** Longest literal marker we look for at a line end: "~{" + 20 digits + "+}". */
const MARKER_TAIL = 32;

interface Frame {
  text: Buffer[];
  textBytes: number;
  literals: Literal[];
  literalBytes: number;
  tag: string | null;
  command: string | null;
  isAppend: boolean;
  failed: boolean;
}

interface Marker {
  /** Index in the line where the marker (incl. "~") starts. */
  start: number;
  size: number;
  sync: boolean;
  binary: boolean;
}

const READY = bi('Sẵn sàng nhận dữ liệu', 'Ready for literal data');

export function createCommandParser(limits: ParserLimits): CommandParser {
  return new Parser(limits);
}

class Parser implements CommandParser {
  private readonly maxLine: number;
  private readonly maxLiteral: number;
  private readonly maxPreAuthLiteral: number;
  private readonly maxCommandLiteral: number;
  private readonly maxNonSync: number;
  private readonly maxSwallow: number;

  private queue: Buffer[] = [];
  private queueBytes = 0;

  private mode: 'command' | 'rawline' = 'command';
  private phase: 'line' | 'literal' | 'swallow' = 'line';
  private isPaused = false;
  private isClosed = false;

  private lineParts: Buffer[] = [];
  private lineLen = 0;
  /** Overlong line being discarded; `tail` keeps its last bytes to spot a literal marker. */
  private skipping = false;
  private tail: Buffer = Buffer.alloc(0);

  private frame: Frame | null = null;
  private literalRemaining = 0;
  private literalParts: Buffer[] = [];
  private literalHeld = 0;
  private literalBinary = false;
  private swallowRemaining = 0;

  private events: ParseEvent[] = [];

  constructor(private readonly limits: ParserLimits) {
    this.maxLine = limits.maxLineBytes;
    this.maxLiteral = limits.maxLiteralBytes;
    this.maxPreAuthLiteral = limits.maxPreAuthLiteralBytes ?? 8192;
    this.maxCommandLiteral = limits.maxCommandLiteralBytes ?? 2 * limits.maxLiteralBytes;
    this.maxNonSync = limits.maxNonSyncLiteralBytes ?? limits.maxLiteralBytes;
    this.maxSwallow = limits.maxSwallowBytes ?? 2 * this.maxCommandLiteral;
  }

  get paused(): boolean {
    return this.isPaused;
  }
  get closed(): boolean {
    return this.isClosed;
  }
  get bufferedBytes(): number {
    const f = this.frame;
    return this.queueBytes + this.lineLen + this.tail.length + this.literalHeld + (f ? f.textBytes + f.literalBytes : 0);
  }

  push(chunk: Buffer): ParseEvent[] {
    if (this.isClosed || chunk.length === 0) return [];
    this.queue.push(chunk);
    this.queueBytes += chunk.length;
    if (this.isPaused) {
      // The session should stop reading while paused; bound what it did not stop.
      if (this.queueBytes > this.maxLine + this.maxCommandLiteral) {
        this.fatal(null, bi('Gửi quá nhiều dữ liệu khi chưa xử lý xong lệnh trước', 'Too much pipelined input'));
        return this.flush();
      }
      return [];
    }
    return this.run();
  }

  resume(): ParseEvent[] {
    if (this.isClosed) return [];
    this.isPaused = false;
    this.mode = 'command';
    return this.run();
  }

  expectLine(): ParseEvent[] {
    if (this.isClosed) return [];
    this.isPaused = false;
    this.mode = 'rawline';
    return this.run();
  }

  takeBuffered(): Buffer {
    const out = this.queue.length === 1 ? (this.queue[0] as Buffer) : Buffer.concat(this.queue);
    this.queue = [];
    this.queueBytes = 0;
    return out;
  }

  // ── the loop ──

  private flush(): ParseEvent[] {
    const ev = this.events;
    this.events = [];
    return ev;
  }

  private run(): ParseEvent[] {
    while (!this.isPaused && !this.isClosed && this.queue.length > 0) {
      const chunk = this.queue[0] as Buffer;
      let used: number;
      if (this.phase === 'literal') {
        used = Math.min(this.literalRemaining, chunk.length);
        this.literalParts.push(chunk.subarray(0, used));
        this.literalHeld += used;
        this.literalRemaining -= used;
        this.consume(used);
        if (this.literalRemaining === 0) this.finishLiteral();
        continue;
      }
      if (this.phase === 'swallow') {
        used = Math.min(this.swallowRemaining, chunk.length);
        this.swallowRemaining -= used;
        this.consume(used);
        if (this.swallowRemaining === 0) this.phase = 'line';
        continue;
      }
      const lf = chunk.indexOf(LF);
      if (lf < 0) {
        this.consume(chunk.length);
        this.appendLine(chunk);
      } else {
        this.consume(lf + 1);
        this.appendLine(chunk.subarray(0, lf));
        this.lineComplete();
      }
    }
    return this.flush();
  }

  private consume(n: number): void {
    const first = this.queue[0] as Buffer;
    this.queueBytes -= n;
    if (n >= first.length) this.queue.shift();
    else this.queue[0] = first.subarray(n);
  }

  private appendLine(piece: Buffer): void {
    if (piece.length === 0) return;
    if (this.skipping) {
      this.keepTail(piece);
      return;
    }
    const used = this.lineLen + (this.mode === 'command' && this.frame ? this.frame.textBytes : 0);
    if (used + piece.length <= this.maxLine) {
      this.lineParts.push(piece);
      this.lineLen += piece.length;
      return;
    }
    // Overlong: report now, discard the rest of the line (keeping a tail for a literal marker).
    const head = Buffer.concat([...this.lineParts, piece.subarray(0, Math.min(piece.length, 256))]);
    this.lineParts = [];
    this.lineLen = 0;
    this.skipping = true;
    this.tail = Buffer.alloc(0);
    this.keepTail(piece);
    const text = bi('Dòng lệnh quá dài', 'Command line too long');
    if (this.mode === 'rawline') {
      this.fatal(null, text);
      return;
    }
    if (!this.frame) this.frame = newFrame(head);
    this.fail('BAD', text);
  }

  private keepTail(piece: Buffer): void {
    if (piece.length >= MARKER_TAIL) {
      this.tail = Buffer.from(piece.subarray(piece.length - MARKER_TAIL));
    } else {
      const joined = Buffer.concat([this.tail, piece]);
      this.tail = Buffer.from(joined.subarray(Math.max(0, joined.length - MARKER_TAIL)));
    }
  }

  private lineComplete(): void {
    const wasSkipping = this.skipping;
    let line = wasSkipping ? this.tail : this.lineParts.length === 1 ? (this.lineParts[0] as Buffer) : Buffer.concat(this.lineParts);
    this.lineParts = [];
    this.lineLen = 0;
    this.skipping = false;
    this.tail = Buffer.alloc(0);
    if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);

    if (this.mode === 'rawline') {
      if (wasSkipping) return; // fatal already
      this.events.push({ kind: 'line', text: line.toString('utf8') });
      this.mode = 'command';
      this.isPaused = true;
      return;
    }

    if (!this.frame) {
      if (line.length === 0) return; // stray empty line: ignore
      this.frame = newFrame(line);
    }
    const frame = this.frame;
    const marker = findMarker(line);
    if (!frame.failed && !wasSkipping) {
      const textPart = marker ? line.subarray(0, marker.start) : line;
      if (textPart.includes(0)) {
        this.fail('BAD', bi('Lệnh chứa ký tự NUL', 'NUL character in command'));
      } else {
        frame.text.push(textPart);
        frame.textBytes += textPart.length;
      }
    }
    if (!marker) {
      if (frame.failed) this.frame = null;
      else this.complete(frame);
      return;
    }
    if (frame.failed) {
      this.skipLiteral(marker);
      return;
    }
    const authed = this.limits.authenticated ? this.limits.authenticated() : true;
    const max = authed ? this.maxLiteral : Math.min(this.maxLiteral, this.maxPreAuthLiteral);
    let refusal: string | null = null;
    // Only a refusal for size is [TOOBIG] on an APPEND (RFC 7889 §4); the others are plain BAD.
    let forSize = false;
    if (!authed && marker.sync && this.limits.syncLiteralsBeforeAuth !== true) {
      refusal = bi('Chưa đăng nhập: không nhận literal đồng bộ, hãy dùng chuỗi trong ngoặc kép hoặc {n+}', 'Not signed in: synchronising literals are not accepted, use a quoted string or {n+}');
    } else if (marker.size > max || frame.literalBytes + marker.size > this.maxCommandLiteral) {
      refusal = bi('Dữ liệu quá lớn', 'Literal too large');
      forSize = true;
    } else if (!marker.sync && marker.size > this.maxNonSync) {
      refusal = bi('Literal không đồng bộ quá lớn, hãy dùng literal đồng bộ', 'Non-synchronising literal too large, use a synchronising literal');
    } else if (frame.literals.length + 1 > this.limits.maxItems) {
      refusal = bi('Lệnh có quá nhiều literal', 'Too many literals in command');
    }
    if (refusal !== null) {
      if (frame.isAppend && forSize) this.fail(marker.sync ? 'NO' : 'BAD', `[TOOBIG] ${refusal}`);
      else this.fail('BAD', refusal);
      this.skipLiteral(marker);
      return;
    }
    const verdict = this.limits.checkLiteral?.({ tag: frame.tag, command: frame.command, size: marker.size, sync: marker.sync }) ?? null;
    if (verdict !== null) {
      this.fail(verdict.response, verdict.text);
      this.skipLiteral(marker);
      return;
    }
    frame.text.push(PLACEHOLDER);
    frame.textBytes += 1;
    this.phase = 'literal';
    this.literalRemaining = marker.size;
    this.literalBinary = marker.binary;
    this.literalParts = [];
    this.literalHeld = 0;
    if (marker.sync) this.events.push({ kind: 'continue', text: READY });
    if (marker.size === 0) this.finishLiteral();
  }

  /** The command already failed: a synchronising literal will not come (no "+"), a non-synchronising one is swallowed. */
  private skipLiteral(marker: Marker): void {
    if (marker.sync) {
      this.frame = null;
      return;
    }
    // Before sign-in nobody gets us to read megabytes: beyond the pre-auth literal size, close.
    const authed = this.limits.authenticated ? this.limits.authenticated() : true;
    if (marker.size > (authed ? this.maxSwallow : Math.min(this.maxSwallow, this.maxPreAuthLiteral))) {
      // The command was already answered: the fatal notice is untagged.
      this.fatal(null, '[TOOBIG] ' + bi('Literal quá lớn, đóng kết nối', 'Literal too large, closing the connection'));
      return;
    }
    if (marker.size > 0) {
      this.phase = 'swallow';
      this.swallowRemaining = marker.size;
    }
  }

  private finishLiteral(): void {
    const frame = this.frame as Frame;
    const data = this.literalParts.length === 1 ? (this.literalParts[0] as Buffer) : Buffer.concat(this.literalParts, this.literalHeld);
    this.literalParts = [];
    this.literalHeld = 0;
    this.phase = 'line';
    if (!this.literalBinary && data.includes(0)) {
      this.fail('BAD', bi('Literal chứa ký tự NUL (hãy dùng literal8 ~{n})', 'NUL in literal (use literal8 ~{n})'));
      return;
    }
    frame.literals.push({ data, binary: this.literalBinary });
    frame.literalBytes += data.length;
  }

  private complete(frame: Frame): void {
    this.frame = null;
    const text = frame.text.length === 1 ? (frame.text[0] as Buffer) : Buffer.concat(frame.text);
    let p = 0;
    while (p < text.length && TAG_CHAR[text[p] as number] === 1) p++;
    if (p === 0 || text[p] !== 0x20) {
      this.events.push({ kind: 'error', tag: null, response: 'BAD', text: bi('Thiếu thẻ lệnh', 'Missing or invalid tag'), fatal: false });
      return;
    }
    const tag = text.toString('latin1', 0, p);
    try {
      const command = parseCommandText(text, p + 1, frame.literals, {
        maxItems: this.limits.maxItems,
        maxNestingDepth: this.limits.maxNestingDepth,
        utf8: this.limits.utf8Enabled ? this.limits.utf8Enabled() : false,
      });
      this.events.push({ kind: 'command', tag, command });
      this.isPaused = true;
    } catch (e) {
      if (!(e instanceof ParseFailure)) throw e;
      this.events.push({ kind: 'error', tag, response: e.response, text: e.text, fatal: false });
    }
  }

  private fail(response: 'BAD' | 'NO', text: string): void {
    const frame = this.frame as Frame;
    if (frame.failed) return;
    frame.failed = true;
    frame.text = [];
    frame.literals = [];
    frame.textBytes = 0;
    frame.literalBytes = 0;
    this.events.push({ kind: 'error', tag: frame.tag, response, text, fatal: false });
  }

  private fatal(tag: string | null, text: string): void {
    this.isClosed = true;
    this.queue = [];
    this.queueBytes = 0;
    this.lineParts = [];
    this.lineLen = 0;
    this.tail = Buffer.alloc(0);
    this.frame = null;
    this.literalParts = [];
    this.literalHeld = 0;
    this.events.push({ kind: 'error', tag, response: 'BAD', text, fatal: true });
  }
}

const PLACEHOLDER = Buffer.from([0]);

/** Tag and "is this APPEND" from the start of a command, for refusals before it is parsed. */
function newFrame(start: Buffer): Frame {
  let p = 0;
  while (p < start.length && TAG_CHAR[start[p] as number] === 1) p++;
  const tag = p > 0 && start[p] === 0x20 ? start.toString('latin1', 0, p) : null;
  let command: string | null = null;
  if (tag !== null) {
    const words = start.toString('latin1', p + 1, Math.min(start.length, p + 40)).toUpperCase().split(' ');
    command = (words[0] === 'UID' ? words[1] : words[0]) ?? null;
    if (command === '' || (command !== null && !/^[A-Z0-9.-]+$/.test(command))) command = null;
  }
  return { text: [], textBytes: 0, literals: [], literalBytes: 0, tag, command, isAppend: command === 'APPEND', failed: false };
}

/** A literal marker at the end of a line: `{n}`, `{n+}`, `~{n}`, `~{n+}`. */
function findMarker(line: Buffer): Marker | null {
  const len = line.length;
  if (len < 3 || line[len - 1] !== 0x7d) return null;
  let p = len - 2;
  const sync = line[p] !== 0x2b;
  if (!sync) p--;
  const digitsEnd = p + 1;
  while (p >= 0 && (line[p] as number) >= 0x30 && (line[p] as number) <= 0x39) p--;
  const digits = digitsEnd - (p + 1);
  if (digits === 0 || p < 0 || line[p] !== 0x7b) return null;
  let start = p;
  const binary = p > 0 && line[p - 1] === 0x7e;
  if (binary) start--;
  // Sizes beyond 16 digits are absurd: report them as unbounded (refused by every limit).
  const size = digits > 16 ? Number.MAX_SAFE_INTEGER : Number(line.toString('latin1', p + 1, digitsEnd));
  return { start, size: Math.min(size, Number.MAX_SAFE_INTEGER), sync, binary };
}
