/**
 * What a message needs from the next hop, and its 7-bit form for a hop without 8BITMIME.
 *
 *   inspect     8-bit bytes in a header section at any MIME level (RFC 6532 internationalised
 *               headers: need SMTPUTF8, RFC 6531 §3.2) and 8-bit bytes in bodies (need 8BITMIME)
 *   to7bit      RFC 6152 §3: an 8-bit message goes to a server without 8BITMIME only converted.
 *               Each leaf whose body has 8-bit bytes is re-encoded (text/* and message/* as
 *               quoted-printable, anything else base64) and its Content-Transfer-Encoding
 *               rewritten; multipart and message/rfc822 containers keep their structure and
 *               are labelled 7bit. Bytes outside any part (preamble, epilogue) that are 8-bit
 *               become "?" (RFC 2046 §5.1.1: they carry no content). Parts already 7-bit are
 *               copied unchanged. Messages with 8-bit headers are not converted (they need
 *               SMTPUTF8, not a body conversion), nor ones the parser did not read to the end.
 *   long lines  RFC 5321 §4.5.3.1.6 and RFC 5322 §2.1.1: no line over 998 octets goes out, to
 *               any hop (receivers refuse or break them). A leaf with such a line in its body
 *               is re-encoded the same way (its decoded content kept); a header line is folded
 *               at white space (RFC 5322 §2.2.3); a line between parts (preamble, epilogue) is
 *               cut. `shortenLines` does only that, and fails for a header line it cannot fold;
 *               `to7bit` does it as well as the 8-bit conversion.
 */
import { isValidUtf8 } from '../mail/charset.js';
import { decodeTransfer } from '../mail/decode.js';
import { parseMessage } from '../mail/parse.js';
import type { MimePart } from '../mail/types.js';

export interface EightBitInfo {
  /** Some header section (top level or a MIME part's) has bytes over 0x7f. */
  headers: boolean;
  /** Some body, preamble or epilogue has bytes over 0x7f. */
  body: boolean;
  /** Some line is longer than 998 octets (without its line break). */
  longLines: boolean;
}

/** RFC 5322 §2.1.1: a line is at most 998 characters, its CRLF excluded. */
export const MAX_LINE_OCTETS = 998;

/** Some line in [start, end) is longer than MAX_LINE_OCTETS (a bare LF ends a line too). */
export function hasLongLine(b: Buffer, start = 0, end = b.length): boolean {
  let lineStart = start;
  for (;;) {
    const lf = b.indexOf(0x0a, lineStart);
    const stop = lf === -1 || lf >= end ? end : lf;
    const len = stop - lineStart - (stop > lineStart && b[stop - 1] === 0x0d ? 1 : 0);
    if (len > MAX_LINE_OCTETS) return true;
    if (stop === end) return false;
    lineStart = stop + 1;
  }
}

export type Downgrade = { ok: true; raw: Buffer } | { ok: false; reason: string };

function has8bitIn(b: Buffer, start = 0, end = b.length): boolean {
  for (let i = start; i < end; i++) if ((b[i] ?? 0) > 0x7f) return true;
  return false;
}

function count8bit(b: Buffer, start = 0, end = b.length): number {
  let n = 0;
  for (let i = start; i < end; i++) if ((b[i] ?? 0) > 0x7f) n++;
  return n;
}

/** Header sections of every part, in order, as [start, end) ranges. */
function headerRanges(p: MimePart, out: Array<[number, number]>): void {
  out.push([p.headerStart, p.bodyStart]);
  for (const c of p.children) headerRanges(c, out);
  if (p.message) headerRanges(p.message.part, out);
}

/** Where the message has 8-bit bytes. A message without any is answered without parsing. */
export function inspect8bit(raw: Buffer): EightBitInfo {
  const longLines = hasLongLine(raw);
  if (!has8bitIn(raw)) return { headers: false, body: false, longLines };
  const ranges: Array<[number, number]> = [];
  headerRanges(parseMessage(raw).structure, ranges);
  // Header sections do not overlap, so 8-bit bytes beyond theirs are in bodies (or between parts).
  const inHeaders = ranges.reduce((n, [s, e]) => n + count8bit(raw, s, e), 0);
  return { headers: inHeaders > 0, body: count8bit(raw) > inHeaders, longLines };
}

const HEX = '0123456789ABCDEF';

/** Quoted-printable (RFC 2045 §6.7) of text: line breaks stay hard breaks, lines at most 76 characters. */
export function encodeQuotedPrintable(body: Buffer): string {
  const out: string[] = [];
  let start = 0;
  const lines: Buffer[] = [];
  for (let i = 0; i < body.length; i++) {
    if (body[i] === 0x0a) {
      const e = i > start && body[i - 1] === 0x0d ? i - 1 : i;
      lines.push(body.subarray(start, e));
      start = i + 1;
    }
  }
  lines.push(body.subarray(start));
  for (const line of lines) {
    let cur = '';
    for (let i = 0; i < line.length; i++) {
      const b = line[i] ?? 0;
      const last = i === line.length - 1;
      let t: string;
      if ((b >= 33 && b <= 126 && b !== 61) || ((b === 0x20 || b === 0x09) && !last)) t = String.fromCharCode(b);
      else t = `=${HEX[b >> 4] ?? '0'}${HEX[b & 15] ?? '0'}`;
      if (cur.length + t.length > 75) {
        out.push(`${cur}=`);
        cur = '';
      }
      cur += t;
    }
    out.push(cur);
  }
  return out.join('\r\n');
}

function base64Lines(b: Buffer): string {
  return (b.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
}

/**
 * A header block (ASCII, from the part's first byte up to its body) with the fields `drop`
 * names removed and `add` appended, ending in the blank line.
 */
function rewriteHeader(block: string, drop: ReadonlySet<string>, add: readonly string[]): string {
  const lines = block.split(/\r?\n/);
  const kept: string[] = [];
  let dropping = false;
  for (const line of lines) {
    if (line === '') break; // the blank line that ends the header section
    if (/^[ \t]/.test(line)) {
      if (!dropping) kept.push(line);
      continue;
    }
    const colon = line.indexOf(':');
    dropping = colon > 0 && drop.has(line.slice(0, colon).trim().toLowerCase());
    if (!dropping) kept.push(line);
  }
  return [...kept, ...add, '', ''].join('\r\n');
}

/** Each line of `text` (a bare LF ends a line too) with its line break, the break apart. */
function linesOf(text: string): Array<[string, string]> {
  return (text.match(/[^\n]*\n|[^\n]+$/g) ?? []).map((l) => {
    const brk = l.endsWith('\r\n') ? '\r\n' : l.endsWith('\n') ? '\n' : '';
    return [l.slice(0, l.length - brk.length), brk];
  });
}

/**
 * A header section (latin1) with every line over 998 octets folded (RFC 5322 §2.2.3): CRLF goes
 * in before the last space or tab that leaves at most 998 octets, again for the rest. A line
 * with no such white space is left as it is.
 */
export function foldHeaderLines(block: string): string {
  return linesOf(block)
    .map(([line, brk]) => {
      const parts: string[] = [];
      let rest = line;
      while (rest.length > MAX_LINE_OCTETS) {
        let at = -1;
        for (let i = MAX_LINE_OCTETS; i > 0; i--) {
          if (rest[i] === ' ' || rest[i] === '\t') {
            at = i;
            break;
          }
        }
        if (at <= 0) break;
        parts.push(rest.slice(0, at));
        rest = rest.slice(at); // the white space opens the continuation line
      }
      parts.push(rest);
      return parts.join('\r\n') + brk;
    })
    .join('');
}

/** Text between MIME parts (latin1; RFC 2046 §5.1.1: no content) with every line cut to 998 octets. */
function cutLongLines(text: string): string {
  return linesOf(text)
    .map(([line, brk]) => (line.match(new RegExp(`[^]{1,${MAX_LINE_OCTETS}}`, 'g')) ?? ['']).join('\r\n') + brk)
    .join('');
}

const IDENTITY = new Set(['7bit', '8bit', 'binary']);
const CTE = new Set(['content-transfer-encoding']);

class Unconvertible extends Error {}

/**
 * The message with every 8-bit body re-encoded as 7-bit, and every body with a line over 998
 * octets re-encoded; { ok: false } when that cannot be done (8-bit headers, an unknown transfer
 * encoding over 8-bit bytes or long lines, a tree not parsed in full).
 */
export function to7bit(raw: Buffer): Downgrade {
  return conform(raw, true);
}

/** The message with every body that has a line over 998 octets re-encoded; 8-bit bytes elsewhere stay. */
export function shortenLines(raw: Buffer): Downgrade {
  return conform(raw, false);
}

function conform(raw: Buffer, sevenBit: boolean): Downgrade {
  if (!(sevenBit && has8bitIn(raw)) && !hasLongLine(raw)) return { ok: true, raw };
  const parsed = parseMessage(raw);
  if (parsed.incomplete) return { ok: false, reason: `MIME structure not read in full (${parsed.incomplete.detail})` };
  const ranges: Array<[number, number]> = [];
  headerRanges(parsed.structure, ranges);
  if (sevenBit && ranges.some(([s, e]) => has8bitIn(raw, s, e))) return { ok: false, reason: 'non-ASCII header fields' };

  const chunks: Buffer[] = [];
  /**
   * Bytes copied as they are: a header section (a line over 998 octets folded at white space),
   * what lies between parts (preamble, epilogue: carries no content, a long line is cut), or a
   * body that needs nothing. In a 7-bit conversion 8-bit bytes outside bodies become "?".
   */
  const gap = (s: number, e: number, kind: 'header' | 'between' | 'body'): void => {
    if (e <= s) return;
    let b = raw.subarray(s, e);
    if (kind !== 'body' && hasLongLine(b)) b = Buffer.from(kind === 'header' ? foldHeaderLines(b.toString('latin1')) : cutLongLines(b.toString('latin1')), 'latin1');
    if (sevenBit) {
      b = Buffer.from(b);
      for (let i = 0; i < b.length; i++) if ((b[i] ?? 0) > 0x7f) b[i] = 0x3f;
    }
    chunks.push(b);
  };
  const header = (p: MimePart, add: string[]): void => {
    chunks.push(Buffer.from(foldHeaderLines(rewriteHeader(raw.toString('latin1', p.headerStart, p.bodyStart), CTE, add)), 'latin1'));
  };
  const hasField = (p: MimePart, name: string): boolean =>
    new RegExp(`(^|\\n)${name}[ \\t]*:`, 'i').test(raw.toString('latin1', p.headerStart, p.bodyStart));

  const emit = (p: MimePart, messageTop: boolean): void => {
    const eightBit = sevenBit && has8bitIn(raw, p.bodyStart, p.end);
    const declared = p.encoding.toLowerCase();
    if (p.children.length > 0 || p.message) {
      // A container: its transfer encoding must be an identity one; 7bit once its content is.
      if (eightBit && declared !== '7bit') header(p, ['Content-Transfer-Encoding: 7bit']);
      else gap(p.headerStart, p.bodyStart, 'header');
      if (p.message) {
        emit(p.message.part, true);
        return;
      }
      let pos = p.bodyStart;
      for (const c of p.children) {
        gap(pos, c.headerStart, 'between');
        emit(c, false);
        pos = c.end;
      }
      gap(pos, p.end, 'between');
      return;
    }
    const longLine = hasLongLine(raw, p.bodyStart, p.end);
    if (!eightBit && !longLine) {
      // Nothing to convert; in a 7-bit conversion an "8bit"/"binary" label over 7-bit data becomes 7bit.
      if (sevenBit && (declared === '8bit' || declared === 'binary')) header(p, ['Content-Transfer-Encoding: 7bit']);
      else gap(p.headerStart, p.bodyStart, 'header');
      gap(p.bodyStart, p.end, 'body');
      return;
    }
    const body = raw.subarray(p.bodyStart, p.end);
    let data: Buffer;
    if (IDENTITY.has(declared)) data = body;
    else if (declared === 'quoted-printable' || declared === 'base64') data = decodeTransfer(body, declared);
    else throw new Unconvertible(`${eightBit ? '8-bit data' : 'a line over 998 octets'} under Content-Transfer-Encoding ${declared}`);
    const textual = p.type === 'text' || p.type === 'message';
    const add: string[] = [];
    if (messageTop && !hasField(p, 'mime-version')) add.push('MIME-Version: 1.0');
    if (!hasField(p, 'content-type') && p.type === 'text' && has8bitIn(data)) {
      // RFC 2045 §5.2: no Content-Type means US-ASCII, which 8-bit text is not.
      add.push(`Content-Type: text/plain; charset=${isValidUtf8(data) ? 'utf-8' : 'unknown-8bit'}`);
    }
    add.push(`Content-Transfer-Encoding: ${textual ? 'quoted-printable' : 'base64'}`);
    header(p, add);
    if (textual) chunks.push(Buffer.from(encodeQuotedPrintable(data), 'latin1'));
    else {
      chunks.push(Buffer.from(base64Lines(data), 'latin1'));
      if (body[body.length - 1] === 0x0a) chunks.push(Buffer.from('\r\n'));
    }
  };

  try {
    emit(parsed.structure, true);
  } catch (e) {
    if (e instanceof Unconvertible) return { ok: false, reason: e.message };
    throw e;
  }
  const out = Buffer.concat(chunks);
  if (sevenBit && has8bitIn(out)) return { ok: false, reason: '8-bit data left after conversion' };
  // A header line with no white space to fold at is left as it is: the 7-bit form still goes
  // (as before), the as-is form is reported so the queue logs it and sends the message unchanged.
  if (!sevenBit && hasLongLine(out)) return { ok: false, reason: 'a header line over 998 octets with no white space to fold it at' };
  return { ok: true, raw: out };
}
