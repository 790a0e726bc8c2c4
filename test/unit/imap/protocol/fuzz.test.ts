// Fuzz: 100,000 random and mutated command streams (with literals) through long-lived parsers,
// split into random chunks. No exception, no hang (every loop is bounded), the parser's
// buffer never above its limits, every event well formed. Deterministic (seeded): a failure
// prints the seed and the input that caused it.
import { describe, expect, it } from 'vitest';
import { createCommandParser } from '../../../../src/imap/protocol/parser.js';
import type { CommandParser, ParseEvent, ParserLimits } from '../../../../src/imap/protocol/types.js';

const LIMITS: ParserLimits = {
  maxLineBytes: 4096,
  maxLiteralBytes: 2048,
  maxNestingDepth: 8,
  maxItems: 200,
  maxCommandLiteralBytes: 3000,
  maxSwallowBytes: 20_000,
};
/** Bytes the parser may hold: a line, the literals of one command, a literal marker tail. */
const BOUND = LIMITS.maxLineBytes + (LIMITS.maxCommandLiteralBytes ?? 0) + 64;

class Rng {
  constructor(private s: number) {}
  next(): number {
    // mulberry32
    this.s = (this.s + 0x6d2b79f5) | 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)] as T;
  }
}

const SEEDS = [
  'a CAPABILITY',
  'a LOGIN bob "se cret"',
  'a AUTHENTICATE PLAIN AGJvYgBzZWNyZXQ=',
  'a SELECT INBOX (QRESYNC (1 2 1:5 (1:2 3:4)))',
  'a EXAMINE "Th&AbA- m&Hs8-c" (CONDSTORE)',
  'a LIST (SUBSCRIBED) "" ("*" %) RETURN (CHILDREN STATUS (MESSAGES SIZE))',
  'a STATUS INBOX (MESSAGES UNSEEN UIDNEXT HIGHESTMODSEQ)',
  'a UID FETCH 1:*,7 (UID FLAGS BODY.PEEK[1.2.HEADER.FIELDS (From To)]<0.100> BINARY[1] BINARY.SIZE[2] MODSEQ) (CHANGEDSINCE 5 VANISHED)',
  'a FETCH 1:10 (ENVELOPE BODYSTRUCTURE BODY[TEXT] RFC822.SIZE INTERNALDATE)',
  'a UID STORE 1:5 (UNCHANGEDSINCE 9) +FLAGS.SILENT (\\Seen $Label)',
  'a UID SEARCH RETURN (MIN MAX COUNT) CHARSET UTF-8 OR (FROM "x" SINCE 1-Jan-2024) NOT (LARGER 100 UID 1:*) MODSEQ 5',
  'a SORT (REVERSE DATE) UTF-8 ALL',
  'a THREAD REFERENCES UTF-8 SUBJECT {3}\r\nabc',
  'a APPEND INBOX (\\Seen) " 1-Jan-2024 10:00:00 +0700" {12}\r\nSubject: x\r\n',
  'a APPEND INBOX {3+}\r\nabc ~{2+}\r\n\0\0',
  'a APPEND Sent UTF8 (~{3}\r\nxyz)',
  'a ID ("name" "x" "version" NIL)',
  'a ENABLE QRESYNC UTF8=ACCEPT',
  'a UID MOVE 1:3 Trash',
  'a UID EXPUNGE 1:3',
  'a CREATE x (USE (\\Archive))',
  'a IDLE',
  'a GETQUOTAROOT INBOX',
];
const SPECIALS = ['{', '}', '"', '\\', '(', ')', '[', ']', '<', '>', '\0', '\r', '\n', '\r\n', '~', '+', ' ', '*', '%', '&', '-', '$', ':', ',', '.', 'NIL', '9', '0', '\xff', 'é'];
const MARKERS = ['{0}', '{1}', '{5+}', '{100+}', '{2047}', '{2049}', '{2049+}', '{4097+}', '~{3+}', '{99999+}', '{18446744073709551616+}', '{1x}'];

function mutate(rng: Rng, base: string): Buffer {
  let s = base;
  const n = 1 + rng.int(6);
  for (let i = 0; i < n; i++) {
    const pos = rng.int(s.length + 1);
    switch (rng.int(8)) {
      case 0: // delete a span
        s = s.slice(0, pos) + s.slice(pos + rng.int(8));
        break;
      case 1: // insert a special
        s = s.slice(0, pos) + rng.pick(SPECIALS) + s.slice(pos);
        break;
      case 2: // insert a literal marker + CRLF + some bytes
        s = s.slice(0, pos) + rng.pick(MARKERS) + '\r\n' + 'x'.repeat(rng.int(40)) + s.slice(pos);
        break;
      case 3: // duplicate a span
        s = s.slice(0, pos) + s.slice(pos, pos + rng.int(20)).repeat(1 + rng.int(4)) + s.slice(pos);
        break;
      case 4: // deep nesting
        s = s.slice(0, pos) + '('.repeat(rng.int(30)) + s.slice(pos);
        break;
      case 5: // random byte
        s = s.slice(0, pos) + String.fromCharCode(rng.int(256)) + s.slice(pos);
        break;
      case 6: // truncate
        s = s.slice(0, pos);
        break;
      default: // long run
        s = s.slice(0, pos) + 'A'.repeat(rng.int(6000)) + s.slice(pos);
    }
  }
  return Buffer.from(s + '\r\n', 'latin1');
}

function randomBytes(rng: Rng): Buffer {
  const len = rng.int(200);
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = rng.next() < 0.5 ? rng.int(256) : 'a1 ({}"\\\r\n0+~*'.charCodeAt(rng.int(16));
  return b;
}

function checkEvent(e: ParseEvent): void {
  switch (e.kind) {
    case 'command':
      if (typeof e.tag !== 'string' || e.tag.length === 0 || typeof e.command.type !== 'string') throw new Error('bad command event');
      break;
    case 'continue':
    case 'line':
      if (typeof e.text !== 'string') throw new Error('bad event');
      break;
    case 'error':
      if (!e.text.includes(' / ') || (e.response !== 'BAD' && e.response !== 'NO')) throw new Error(`bad error event ${e.text}`);
      break;
  }
}

/** Drive one parser like a session: resume after commands, answer IDLE/AUTHENTICATE with line mode. */
function drive(p: CommandParser, evs: ParseEvent[], stats: Record<string, number>, chunkLen: number): void {
  let batch = evs;
  for (let guard = 0; guard < 100_000; guard++) {
    let lineMode = false;
    for (const e of batch) {
      checkEvent(e);
      stats[e.kind] = (stats[e.kind] ?? 0) + 1;
      if (e.kind === 'command' && (e.command.type === 'IDLE' || (e.command.type === 'AUTHENTICATE' && e.command.initialResponse === null))) lineMode = true;
    }
    // While paused the rest of the pushed chunk waits unparsed; once settled only the limits remain.
    const bound = p.paused ? BOUND + chunkLen : BOUND;
    if (p.bufferedBytes > bound) throw new Error(`buffer ${p.bufferedBytes} over bound ${bound}`);
    if (!p.paused || p.closed) return;
    batch = lineMode ? p.expectLine() : p.resume();
  }
  throw new Error('parser did not settle (hang)');
}

describe('IMAP parser fuzz', () => {
  it('survives 100,000 random and mutated command streams with bounded buffers', () => {
    const seed = Number(process.env.IMAP_FUZZ_SEED ?? 20261122);
    const rng = new Rng(seed);
    const stats: Record<string, number> = {};
    let p = createCommandParser(LIMITS);
    let maxBuffered = 0;
    let authed = false;
    let utf8 = false;
    const limits: ParserLimits = { ...LIMITS, authenticated: () => authed, utf8Enabled: () => utf8 };
    for (let i = 0; i < 100_000; i++) {
      if (i % 100 === 0 || p.closed) {
        p = createCommandParser(limits);
        authed = rng.next() < 0.7;
        utf8 = rng.next() < 0.3;
      }
      const r = rng.next();
      const input = r < 0.1 ? Buffer.from(rng.pick(SEEDS) + '\r\n', 'latin1') : r < 0.85 ? mutate(rng, rng.pick(SEEDS)) : randomBytes(rng);
      try {
        let pos = 0;
        while (pos < input.length) {
          const n = rng.next() < 0.3 ? 1 + rng.int(4) : 1 + rng.int(input.length);
          const chunk = input.subarray(pos, pos + n);
          drive(p, p.push(chunk), stats, chunk.length);
          maxBuffered = Math.max(maxBuffered, p.bufferedBytes);
          pos += n;
        }
      } catch (e) {
        throw new Error(`fuzz case ${i} (seed ${seed}) failed on ${JSON.stringify(input.toString('latin1').slice(0, 500))}: ${(e as Error).stack}`);
      }
    }
    // The harness must really exercise the parser: commands, refusals, literals and closes all happen.
    expect(stats.command ?? 0).toBeGreaterThan(5_000);
    expect(stats.error ?? 0).toBeGreaterThan(20_000);
    expect(stats.continue ?? 0).toBeGreaterThan(1_000);
    expect(maxBuffered).toBeLessThanOrEqual(BOUND);
  });

  it('parses every unmutated seed as a command, whole and split at every byte', () => {
    for (const s of SEEDS) {
      const bytes = Buffer.from(s + '\r\n', 'latin1');
      for (let cut = 0; cut <= bytes.length; cut++) {
        // With UTF8=ACCEPT on (the UTF8 APPEND seeds need it), except for a SEARCH naming a charset: that is BAD then (RFC 6855 §3).
        const utf8 = !/ SEARCH .*CHARSET /.test(s);
        const p = createCommandParser({ ...LIMITS, utf8Enabled: () => utf8 });
        const evs = [...p.push(bytes.subarray(0, cut)), ...p.push(bytes.subarray(cut))].filter((e) => e.kind !== 'continue');
        expect(evs.map((e) => e.kind), s).toEqual(['command']);
      }
    }
  });
});
