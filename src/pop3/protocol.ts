/**
 * POP3 wire protocol, pure (no sockets): command parsing (RFC 1939, 2449, 2595, 5034) into a
 * typed union, reply formatting, and the message encoder used by RETR and TOP (dot-stuffing,
 * bare LF → CRLF, line limit for TOP, a final CRLF before the terminating ".").
 */

export type Pop3Command =
  | { name: 'USER'; user: string }
  | { name: 'PASS'; password: string }
  | { name: 'AUTH'; mechanism: string | null; initial: string | null }
  | { name: 'STLS' }
  | { name: 'CAPA' }
  | { name: 'QUIT' }
  | { name: 'STAT' }
  | { name: 'LIST'; msg: number | null }
  | { name: 'RETR'; msg: number }
  | { name: 'DELE'; msg: number }
  | { name: 'NOOP' }
  | { name: 'RSET' }
  | { name: 'TOP'; msg: number; lines: number }
  | { name: 'UIDL'; msg: number | null };

export type ParseResult = { ok: true; command: Pop3Command } | { ok: false; unknown: boolean; error: string };

/** Message numbers and line counts: decimal, bounded (no 1e400, no "-1", no "0x10"). */
function num(s: string | undefined, min: number): number | null {
  if (s === undefined || !/^\d{1,9}$/.test(s)) return null;
  const n = Number(s);
  return n >= min ? n : null;
}

const bad = (error: string): ParseResult => ({ ok: false, unknown: false, error });

export function parseCommand(line: string): ParseResult {
  if (line.includes('\0')) return bad('NUL');
  const sp = line.indexOf(' ');
  const word = sp === -1 ? line : line.slice(0, sp);
  // ASCII letters only before upper-casing: 'ſTAT' (U+017F) upper-cases to STAT.
  if (!/^[A-Za-z]{3,4}$/.test(word)) return { ok: false, unknown: true, error: 'unknown command' };
  const keyword = word.toUpperCase();
  const rest = sp === -1 ? '' : line.slice(sp + 1);
  // Arguments are separated by single spaces (RFC 1939 §3); extra spaces, and a trailing one
  // (some clients send "RETR 1 "), are read as one separator, the same for every command.
  const args = rest.split(' ').filter((a) => a.length > 0);
  const noArgs = (command: Pop3Command): ParseResult => (args.length === 0 ? { ok: true, command } : bad('arguments'));
  switch (keyword) {
    case 'USER':
      return rest.trim().length ? { ok: true, command: { name: 'USER', user: rest.trim() } } : bad('user name');
    case 'PASS':
      // The password is the rest of the line: it may contain spaces (RFC 1939 §7 allows it in practice).
      return rest.length ? { ok: true, command: { name: 'PASS', password: rest } } : bad('password');
    case 'AUTH': {
      if (args.length === 0) return { ok: true, command: { name: 'AUTH', mechanism: null, initial: null } };
      if (args.length > 2 || !/^[A-Za-z0-9_-]{1,20}$/.test(args[0] ?? '')) return bad('mechanism');
      return { ok: true, command: { name: 'AUTH', mechanism: (args[0] as string).toUpperCase(), initial: args[1] ?? null } };
    }
    case 'STLS':
    case 'CAPA':
    case 'QUIT':
    case 'STAT':
    case 'NOOP':
    case 'RSET':
      return noArgs({ name: keyword });
    case 'LIST':
    case 'UIDL': {
      if (args.length === 0) return { ok: true, command: { name: keyword, msg: null } };
      const msg = args.length === 1 ? num(args[0], 1) : null;
      return msg === null ? bad('message number') : { ok: true, command: { name: keyword, msg } };
    }
    case 'RETR':
    case 'DELE': {
      const msg = args.length === 1 ? num(args[0], 1) : null;
      return msg === null ? bad('message number') : { ok: true, command: { name: keyword, msg } };
    }
    case 'TOP': {
      const msg = args.length === 2 ? num(args[0], 1) : null;
      const lines = args.length === 2 ? num(args[1], 0) : null;
      return msg === null || lines === null ? bad('message number and line count') : { ok: true, command: { name: 'TOP', msg, lines } };
    }
    default:
      return { ok: false, unknown: true, error: 'unknown command' };
  }
}

/**
 * Turns message bytes into the POP3 multi-line body: lines starting with "." get another ".",
 * bare LF becomes CRLF, and (for TOP) output stops after the header, the blank line and
 * `bodyLines` lines of the body. `end()` adds a CRLF if the message did not end with one, and
 * the terminating ".\r\n". Works chunk by chunk: memory is one chunk.
 */
export class MessageEncoder {
  private atLineStart = true;
  private prevCR = false;
  /** Bytes in the current line so far (to spot the blank line that ends the header). */
  private lineLen = 0;
  private inBody = false;
  private bodyLinesDone = 0;
  /** TOP's limit was reached: the caller may stop reading. */
  done = false;

  constructor(private readonly bodyLines: number | null = null) {
    if (bodyLines !== null && bodyLines < 0) throw new Error('bodyLines < 0');
  }

  push(chunk: Buffer): Buffer {
    if (this.done || chunk.length === 0) return EMPTY;
    // Most lines need no change: the output is cut only where a "." is added or a bare LF
    // gets its CR, so a message with neither comes back as the chunk itself, uncopied.
    const out: Buffer[] = [];
    let from = 0; // start of the pending slice to copy
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.atLineStart) {
        this.atLineStart = false;
        if (chunk[i] === 0x2e) {
          if (i > from) out.push(chunk.subarray(from, i));
          out.push(DOT); // the extra "."; the original follows in the next slice
          from = i;
        }
      }
      const lf = chunk.indexOf(0x0a, i);
      if (lf === -1) {
        this.lineLen += n - i;
        this.prevCR = chunk[n - 1] === 0x0d;
        i = n;
        break;
      }
      const crBefore = lf > i ? chunk[lf - 1] === 0x0d : this.prevCR;
      const contentLen = this.lineLen + (lf - i) - (crBefore ? 1 : 0);
      if (!crBefore) {
        out.push(chunk.subarray(from, lf), CRLF);
        from = lf + 1;
      }
      i = lf + 1;
      this.atLineStart = true;
      this.prevCR = false;
      this.lineLen = 0;
      if (this.bodyLines !== null) {
        if (!this.inBody) {
          if (contentLen === 0) {
            this.inBody = true;
            if (this.bodyLines === 0) this.done = true;
          }
        } else if (++this.bodyLinesDone >= this.bodyLines) {
          this.done = true;
        }
        if (this.done) {
          if (i > from) out.push(chunk.subarray(from, i));
          return Buffer.concat(out);
        }
      }
    }
    if (from < n) out.push(chunk.subarray(from, n));
    return out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out);
  }

  /** The tail: a CRLF if the last line was unterminated, then ".\r\n". */
  end(): Buffer {
    if (this.atLineStart || this.done) return TERMINATOR;
    return this.prevCR ? Buffer.from('\n.\r\n') : Buffer.from('\r\n.\r\n');
  }
}

const DOT = Buffer.from('.');
const EMPTY = Buffer.alloc(0);
const CRLF = Buffer.from('\r\n');
const TERMINATOR = Buffer.from('.\r\n');

/** A multi-line reply: "+OK first\r\n" + lines (dot-stuffed) + ".\r\n". */
export function multiline(first: string, lines: string[]): string {
  const body = lines.map((l) => (l.startsWith('.') ? `.${l}` : l)).join('\r\n');
  return `+OK ${first}\r\n${body}${lines.length ? '\r\n' : ''}.\r\n`;
}
