import { describe, expect, it } from 'vitest';
import { Maildrop } from '../../../src/pop3/maildrop.js';
import { MessageEncoder, multiline, parseCommand } from '../../../src/pop3/protocol.js';

function encode(input: string | Buffer[], lines: number | null = null, chunkSize = 0): string {
  const enc = new MessageEncoder(lines);
  const bufs = typeof input === 'string' ? [Buffer.from(input)] : input;
  const chunks: Buffer[] = [];
  for (const b of bufs) {
    if (chunkSize > 0) for (let i = 0; i < b.length; i += chunkSize) chunks.push(b.subarray(i, i + chunkSize));
    else chunks.push(b);
  }
  const out: Buffer[] = [];
  for (const c of chunks) {
    out.push(enc.push(c));
    if (enc.done) break;
  }
  out.push(enc.end());
  return Buffer.concat(out).toString();
}

describe('MessageEncoder (RETR/TOP body)', () => {
  it.each([1, 2, 3, 0])('dot-stuffs, turns bare LF into CRLF and terminates (chunks of %i)', (size) => {
    const msg = 'Subject: x\n\n.one\r\n..two\nthree.\r\n.\r\nlast';
    expect(encode(msg, null, size)).toBe('Subject: x\r\n\r\n..one\r\n...two\r\nthree.\r\n..\r\nlast\r\n.\r\n');
  });
  it('a message ending with CRLF gets just the terminator; an empty one too', () => {
    expect(encode('a\r\n')).toBe('a\r\n.\r\n');
    expect(encode('')).toBe('.\r\n');
    expect(encode('a\r')).toBe('a\r\n.\r\n');
  });
  it('CR and LF split across chunks stay one line end', () => {
    expect(encode([Buffer.from('a\r'), Buffer.from('\n.b\r\n')])).toBe('a\r\n..b\r\n.\r\n');
  });
  it.each([1, 5, 0])('TOP: header, blank line and n body lines (chunks of %i)', (size) => {
    const msg = 'A: 1\r\nB: 2\r\n\r\nl1\r\n.l2\r\nl3\r\n';
    expect(encode(msg, 0, size)).toBe('A: 1\r\nB: 2\r\n\r\n.\r\n');
    expect(encode(msg, 2, size)).toBe('A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\n.\r\n');
    expect(encode(msg, 99, size)).toBe('A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\nl3\r\n.\r\n');
  });
  it('matches a plain reference on random input cut into random chunks', () => {
    // Reference: CRLF line ends, a "." added to each line starting with one, then the tail.
    const reference = (m: string): string => {
      const crlf = m.replace(/\r?\n/g, '\r\n');
      const stuffed = crlf.replace(/(^|\r\n)\./g, '$1..');
      const tail = stuffed === '' || stuffed.endsWith('\r\n') ? '' : stuffed.endsWith('\r') ? '\n' : '\r\n';
      return `${stuffed}${tail}.\r\n`;
    };
    let seed = 7;
    const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let k = 0; k < 500; k++) {
      const msg = Array.from({ length: rnd(40) }, () => 'a.\r\n'[rnd(4)]).join('');
      const size = rnd(6);
      expect(encode(msg, null, size), JSON.stringify({ msg, size })).toBe(reference(msg));
    }
  });
  it('TOP on a message without a body', () => {
    expect(encode('A: 1\r\n', 3)).toBe('A: 1\r\n.\r\n');
  });
});

describe('parseCommand', () => {
  it.each([
    ['user longnv', { name: 'USER', user: 'longnv' }],
    ['PASS mat khau co dau cach', { name: 'PASS', password: 'mat khau co dau cach' }],
    ['AUTH', { name: 'AUTH', mechanism: null, initial: null }],
    ['AUTH plain', { name: 'AUTH', mechanism: 'PLAIN', initial: null }],
    ['AUTH PLAIN AGxvbmcAcHc=', { name: 'AUTH', mechanism: 'PLAIN', initial: 'AGxvbmcAcHc=' }],
    ['stls', { name: 'STLS' }],
    ['LIST', { name: 'LIST', msg: null }],
    ['LIST 3', { name: 'LIST', msg: 3 }],
    ['UIDL 1', { name: 'UIDL', msg: 1 }],
    ['RETR 12', { name: 'RETR', msg: 12 }],
    ['TOP 1 0', { name: 'TOP', msg: 1, lines: 0 }],
    ['DELE 2', { name: 'DELE', msg: 2 }],
    // A trailing space, or two between arguments, is one separator for every command.
    ['RETR 1 ', { name: 'RETR', msg: 1 }],
    ['LIST 1 ', { name: 'LIST', msg: 1 }],
    ['TOP  1  2', { name: 'TOP', msg: 1, lines: 2 }],
    ['STAT ', { name: 'STAT' }],
  ])('%s', (line, command) => {
    expect(parseCommand(line)).toEqual({ ok: true, command });
  });
  it.each(['RETR', 'RETR 0', 'RETR -1', 'RETR 1e3', 'RETR 99999999999', 'TOP 1', 'TOP 1 x', 'LIST 1 2', 'STAT 1', 'USER', 'PASS', 'NOOP\0', 'AUTH PLAIN a b'])(
    'malformed: %s',
    (line) => {
      const r = parseCommand(line);
      expect(r.ok).toBe(false);
      expect(!r.ok && r.unknown).toBe(false);
    },
  );
  it('unknown', () => {
    expect(parseCommand('APOP x y')).toEqual({ ok: false, unknown: true, error: 'unknown command' });
  });
  it.each(['\u017fTAT', 'RETR\u0130 1', 'ST\u0100T', 'STA', 'RETRR 1', ''])('a keyword of other than 3–4 ASCII letters is unknown: %j', (line) => {
    // U+017F upper-cases to S, so 'ſTAT' ran as STAT.
    expect(parseCommand(line)).toEqual({ ok: false, unknown: true, error: 'unknown command' });
  });
  it('multiline dot-stuffs listing lines', () => {
    expect(multiline('x', ['.a', 'b'])).toBe('+OK x\r\n..a\r\nb\r\n.\r\n');
    expect(multiline('x', [])).toBe('+OK x\r\n.\r\n');
  });
});

describe('Maildrop', () => {
  const drop = () =>
    new Maildrop({ id: 1, uidValidity: 1700000000, name: 'INBOX' }, [
      { uid: 5, size: 100, blobId: 'a' },
      { uid: 9, size: 50, blobId: 'b' },
    ]);
  it('stat, dele, rset, uidl', () => {
    const d = drop();
    expect(d.stat()).toEqual({ count: 2, size: 150 });
    expect(d.dele(1)).toBe(true);
    expect(d.dele(1)).toBe(false);
    expect(d.dele(3)).toBe(false);
    expect(d.get(1)).toBeNull();
    expect(d.stat()).toEqual({ count: 1, size: 50 });
    expect(d.deletedUids()).toEqual([5]);
    d.rset();
    expect(d.live()).toEqual([1, 2]);
    expect(d.uidl(d.get(2) as never)).toBe('1700000000.9');
  });
  it('seen = retrieved and not deleted', () => {
    const d = drop();
    d.retrieved.add(1);
    d.retrieved.add(2);
    d.dele(2);
    expect(d.seenUids()).toEqual([5]);
  });
});
