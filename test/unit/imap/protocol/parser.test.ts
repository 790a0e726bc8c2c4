// Framing, literals, limits and the pause/resume flow of the incremental parser.
import { describe, expect, it } from 'vitest';
import type { ParseEvent } from '../../../../src/imap/protocol/types.js';
import { feed, parser } from './helpers.js';

const kinds = (evs: ParseEvent[]): string[] => evs.map((e) => (e.kind === 'command' ? `command:${e.tag}:${e.command.type}` : e.kind === 'error' ? `error:${e.tag}:${e.response}${e.fatal ? ':fatal' : ''}` : e.kind));

describe('literals', () => {
  it('asks for a synchronising literal with "+" and waits for its bytes', () => {
    const p = parser();
    expect(p.push(Buffer.from('a1 LOGIN {3}\r\n'))).toEqual([{ kind: 'continue', text: expect.stringContaining('Ready') }]);
    expect(p.push(Buffer.from('b'))).toEqual([]);
    expect(p.push(Buffer.from('ob {6}\r\n'))).toEqual([{ kind: 'continue', text: expect.any(String) }]);
    const evs = p.push(Buffer.from('sec\r\nt\r\n'));
    expect(evs).toEqual([{ kind: 'command', tag: 'a1', command: { type: 'LOGIN', username: 'bob', password: 'sec\r\nt' } }]);
  });

  it('takes a non-synchronising literal (LITERAL+) without "+"', () => {
    const evs = feed('A001 LOGIN {11+}\r\nFRED FOOBAR {7+}\r\nfat man\r\n');
    expect(evs).toEqual([{ kind: 'command', tag: 'A001', command: { type: 'LOGIN', username: 'FRED FOOBAR', password: 'fat man' } }]);
  });

  it('accepts an empty literal', () => {
    const evs = feed('a LOGIN {0}\r\n {0+}\r\n\r\n');
    expect(evs.filter((e) => e.kind === 'command')).toEqual([{ kind: 'command', tag: 'a', command: { type: 'LOGIN', username: '', password: '' } }]);
  });

  it('refuses an APPEND literal over the limit with NO [TOOBIG] before any "+"', () => {
    const evs = feed('a APPEND INBOX {2000}\r\nb NOOP\r\n', { maxLiteralBytes: 1000 });
    expect(kinds(evs)).toEqual(['error:a:NO', 'command:b:NOOP']);
    expect((evs[0] as { text: string }).text).toMatch(/^\[TOOBIG\]/);
  });

  it('refuses another command\'s literal over the limit with BAD', () => {
    const evs = feed('a LOGIN {2000}\r\nb NOOP\r\n', { maxLiteralBytes: 1000 });
    expect(kinds(evs)).toEqual(['error:a:BAD', 'command:b:NOOP']);
  });

  it('swallows a refused non-synchronising literal exactly and stays in sync', () => {
    const payload = 'x'.repeat(1500) + '\r\nc EVIL\r\n' + 'y'.repeat(500 - 10);
    expect(payload.length).toBe(2000);
    const evs = feed([`a APPEND INBOX {2000+}\r\n`, payload.slice(0, 700), payload.slice(700), '\r\nb NOOP\r\n'], { maxLiteralBytes: 1000 });
    expect(kinds(evs)).toEqual(['error:a:BAD', 'command:b:NOOP']);
    expect((evs[0] as { text: string }).text).toMatch(/TOOBIG/);
  });

  it('enforces the LITERAL- limit on non-synchronising literals only', () => {
    const big = 'z'.repeat(5000);
    expect(kinds(feed(`a LOGIN {5000+}\r\n${big} x\r\n`, { maxNonSyncLiteralBytes: 4096 }))).toEqual(['error:a:BAD']);
    expect(kinds(feed([`a LOGIN {5000}\r\n`, `${big} x\r\n`], { maxNonSyncLiteralBytes: 4096 }))).toEqual(['continue', 'command:a:LOGIN']);
  });

  it('closes the connection on a refused non-synchronising literal too large to swallow', () => {
    const p = parser({ maxLiteralBytes: 1000, maxSwallowBytes: 5000 });
    const evs = p.push(Buffer.from('a APPEND INBOX {99999999999999999999+}\r\n'));
    expect(kinds(evs)).toEqual(['error:a:BAD', 'error:null:BAD:fatal']);
    expect(p.closed).toBe(true);
    expect(p.push(Buffer.from('b NOOP\r\n'))).toEqual([]);
  });

  it('never sends "+" before sign-in and limits non-synchronising literals then', () => {
    let authed = false;
    const over = { authenticated: () => authed, maxPreAuthLiteralBytes: 100 };
    expect(kinds(feed('a LOGIN {5}\r\nb NOOP\r\n', over))).toEqual(['error:a:BAD', 'command:b:NOOP']);
    // A refused non-synchronising literal before sign-in is not swallowed: the connection closes.
    expect(kinds(feed('a LOGIN {200+}\r\n' + 'x'.repeat(200) + ' y\r\nb NOOP\r\n', over))).toEqual(['error:a:BAD', 'error:null:BAD:fatal']);
    expect(kinds(feed('a FOO {50+}\r\n' + 'x'.repeat(50) + '\r\nb NOOP\r\n', over))).toEqual(['error:a:BAD', 'command:b:NOOP']);
    // LOGIN with a UTF-8 password as a LITERAL+ literal works before sign-in.
    expect(feed('a LOGIN an {12+}\r\nM\u1eadt kh\u1ea9u\r\n', over)).toEqual([{ kind: 'command', tag: 'a', command: { type: 'LOGIN', username: 'an', password: 'M\u1eadt kh\u1ea9u' } }]);
    expect(kinds(feed('a LOGIN {50}\r\n', { ...over, syncLiteralsBeforeAuth: true }))).toEqual(['continue']);
    expect(kinds(feed('a LOGIN {200}\r\n', { ...over, syncLiteralsBeforeAuth: true }))).toEqual(['error:a:BAD']);
    // An APPEND before sign-in is refused for that, not as too big: BAD, no [TOOBIG].
    const early = feed('a APPEND INBOX {10}\r\nb NOOP\r\n', over);
    expect(kinds(early)).toEqual(['error:a:BAD', 'command:b:NOOP']);
    expect((early[0] as { text: string }).text).not.toMatch(/TOOBIG/);
    authed = true;
    expect(kinds(feed('a LOGIN {200}\r\n', over))).toEqual(['continue']);
  });

  it('limits the sum of literals in one command (MULTIAPPEND)', () => {
    const m = 'm'.repeat(600);
    const evs = feed(`a APPEND INBOX {600+}\r\n${m} {600+}\r\n${m}\r\nb NOOP\r\n`, { maxLiteralBytes: 1000, maxCommandLiteralBytes: 1000 });
    expect(kinds(evs)).toEqual(['error:a:BAD', 'command:b:NOOP']);
  });

  it('refuses NUL in a literal string but takes it in a literal8 APPEND', () => {
    expect(kinds(feed('a LOGIN {3+}\r\na\0b x\r\nb NOOP\r\n'))).toEqual(['error:a:BAD', 'command:b:NOOP']);
    const evs = feed('a APPEND INBOX ~{3+}\r\na\0b\r\n');
    expect(evs).toEqual([
      { kind: 'command', tag: 'a', command: { type: 'APPEND', mailbox: { raw: 'INBOX', name: 'INBOX' }, messages: [{ flags: [], internalDate: null, data: Buffer.from('a\0b'), form: 'binary' }] } },
    ]);
  });
});

describe('APPEND', () => {
  it('parses flags, date-time and the message bytes exactly', () => {
    const msg = 'From: a@b\r\nSubject: x\r\n\r\nbody\r\n';
    const evs = feed([`A003 APPEND saved-messages (\\Seen) "16-Nov-2026 21:52:25 +0700" {${msg.length}}\r\n`, msg, '\r\n']);
    const c = evs.find((e) => e.kind === 'command');
    expect(c).toEqual({
      kind: 'command',
      tag: 'A003',
      command: {
        type: 'APPEND',
        mailbox: { raw: 'saved-messages', name: 'saved-messages' },
        messages: [{ flags: ['\\Seen'], internalDate: { date: new Date('2026-11-16T14:52:25Z'), offsetMinutes: 420 }, data: Buffer.from(msg), form: 'literal' }],
      },
    });
  });

  it('parses MULTIAPPEND', () => {
    const evs = feed('a APPEND INBOX {1+}\r\nx (\\Draft) {2+}\r\nyz " 1-Jan-2020 00:00:00 -0130" {1+}\r\nw\r\n');
    const c = evs[0];
    expect(c?.kind === 'command' && c.command.type === 'APPEND' ? c.command.messages : null).toEqual([
      { flags: [], internalDate: null, data: Buffer.from('x'), form: 'literal' },
      { flags: ['\\Draft'], internalDate: null, data: Buffer.from('yz'), form: 'literal' },
      { flags: [], internalDate: { date: new Date('2020-01-01T01:30:00Z'), offsetMinutes: -90 }, data: Buffer.from('w'), form: 'literal' },
    ]);
  });

  it('parses the UTF8 (~{n}) form only after UTF8=ACCEPT (Thunderbird)', () => {
    const line = 'a APPEND Sent (\\Seen) UTF8 (~{4+}\r\nh\u00e9y)\r\n';
    const on = feed(Buffer.from(line), { utf8Enabled: () => true });
    expect(on[0]).toEqual({
      kind: 'command',
      tag: 'a',
      command: { type: 'APPEND', mailbox: { raw: 'Sent', name: 'Sent' }, messages: [{ flags: ['\\Seen'], internalDate: null, data: Buffer.from('h\u00e9y'), form: 'utf8' }] },
    });
    expect(kinds(feed(Buffer.from(line)))).toEqual(['error:a:BAD']);
  });
});

describe('limits', () => {
  it('refuses an overlong line with BAD, discards it without buffering and continues', () => {
    const p = parser({ maxLineBytes: 1024 });
    const evs: ParseEvent[] = [];
    evs.push(...p.push(Buffer.from('a1 LOGIN ')));
    for (let i = 0; i < 100; i++) {
      evs.push(...p.push(Buffer.alloc(1000, 0x61)));
      expect(p.bufferedBytes).toBeLessThanOrEqual(1024 + 64);
    }
    evs.push(...p.push(Buffer.from(' x\r\na2 NOOP\r\n')));
    expect(kinds(evs)).toEqual(['error:a1:BAD', 'command:a2:NOOP']);
    expect((evs[0] as { text: string }).text).toMatch(/too long/);
  });

  it('swallows the non-synchronising literal that ends an overlong line', () => {
    const evs = feed(['a1 LOGIN ' + 'a'.repeat(3000) + ' {5+}\r\n', 'xx\r\nx', ' y\r\na2 NOOP\r\n'], { maxLineBytes: 1024 });
    expect(kinds(evs)).toEqual(['error:a1:BAD', 'command:a2:NOOP']);
  });

  it('bounds the text of one command across its literals', () => {
    const part = 'a'.repeat(600);
    const evs = feed(`a1 ID ("${part}" {1+}\r\nx "${part}" NIL)\r\na2 NOOP\r\n`, { maxLineBytes: 1024 });
    expect(kinds(evs)).toEqual(['error:a1:BAD', 'command:a2:NOOP']);
  });

  it('bounds nesting depth', () => {
    const deep = 'a SEARCH ' + '('.repeat(20) + 'ALL' + ')'.repeat(20);
    expect(kinds(feed(deep + '\r\n', { maxNestingDepth: 16 }))).toEqual(['error:a:BAD']);
    const nots = 'a SEARCH ' + 'NOT '.repeat(20) + 'ALL';
    expect(kinds(feed(nots + '\r\n', { maxNestingDepth: 16 }))).toEqual(['error:a:BAD']);
    const ok = 'a SEARCH ' + '('.repeat(5) + 'ALL' + ')'.repeat(5);
    expect(kinds(feed(ok + '\r\n', { maxNestingDepth: 16 }))).toEqual(['command:a:SEARCH']);
  });

  it('bounds the number of items', () => {
    const many = 'a FETCH ' + Array.from({ length: 200 }, (_, i) => i + 1).join(',') + ' FLAGS';
    expect(kinds(feed(many + '\r\n', { maxItems: 100 }))).toEqual(['error:a:BAD']);
    expect(kinds(feed(many + '\r\n', { maxItems: 300 }))).toEqual(['command:a:FETCH']);
  });

  it('refuses NUL in a command line (CVE-2019-11500)', () => {
    expect(kinds(feed('a LOGIN "bo\0b" x\r\nb NOOP\r\n'))).toEqual(['error:a:BAD', 'command:b:NOOP']);
  });
});

describe('flow control', () => {
  it('pauses after each command until resume()', () => {
    const p = parser();
    const first = p.push(Buffer.from('a NOOP\r\nb NOOP\r\nc NOOP\r\n'));
    expect(kinds(first)).toEqual(['command:a:NOOP']);
    expect(p.paused).toBe(true);
    expect(p.push(Buffer.from('d NOOP\r\n'))).toEqual([]);
    expect(kinds(p.resume())).toEqual(['command:b:NOOP']);
    expect(kinds(p.resume())).toEqual(['command:c:NOOP']);
    expect(kinds(p.resume())).toEqual(['command:d:NOOP']);
    expect(p.resume()).toEqual([]);
    expect(p.paused).toBe(false);
  });

  it('delivers IDLE\'s DONE as a line after expectLine(), even when pipelined', () => {
    const p = parser();
    expect(kinds(p.push(Buffer.from('a IDLE\r\nDONE\r\nb NOOP\r\n')))).toEqual(['command:a:IDLE']);
    expect(p.expectLine()).toEqual([{ kind: 'line', text: 'DONE' }]);
    expect(kinds(p.resume())).toEqual(['command:b:NOOP']);
  });

  it('delivers AUTHENTICATE responses as lines', () => {
    const p = parser();
    expect(kinds(p.push(Buffer.from('a AUTHENTICATE PLAIN\r\n')))).toEqual(['command:a:AUTHENTICATE']);
    expect(p.expectLine()).toEqual([]);
    expect(p.push(Buffer.from('AGJvYgBzZWNyZXQ='))).toEqual([]);
    expect(p.push(Buffer.from('\r\n'))).toEqual([{ kind: 'line', text: 'AGJvYgBzZWNyZXQ=' }]);
    expect(p.paused).toBe(true);
  });

  it('closes on an overlong line in line mode', () => {
    const p = parser({ maxLineBytes: 100 });
    p.push(Buffer.from('a AUTHENTICATE PLAIN\r\n'));
    p.expectLine();
    expect(kinds(p.push(Buffer.alloc(200, 0x41)))).toEqual(['error:null:BAD:fatal']);
    expect(p.closed).toBe(true);
  });

  it('hands over bytes pipelined after STARTTLS instead of executing them', () => {
    const p = parser();
    expect(kinds(p.push(Buffer.from('a STARTTLS\r\nb LOGIN bob secret\r\n')))).toEqual(['command:a:STARTTLS']);
    expect(p.takeBuffered().toString()).toBe('b LOGIN bob secret\r\n');
    expect(p.resume()).toEqual([]);
  });

  it('closes when a paused client keeps sending beyond the limits', () => {
    const p = parser({ maxLineBytes: 100, maxLiteralBytes: 100, maxCommandLiteralBytes: 100 });
    p.push(Buffer.from('a NOOP\r\n'));
    expect(p.push(Buffer.alloc(150, 0x41))).toEqual([]);
    expect(kinds(p.push(Buffer.alloc(100, 0x41)))).toEqual(['error:null:BAD:fatal']);
  });

  it('accepts bare LF line endings and ignores empty lines', () => {
    expect(kinds(feed('\r\na NOOP\n\nb NOOP\r\n'))).toEqual(['command:a:NOOP', 'command:b:NOOP']);
  });
});

describe('checkLiteral hook', () => {
  it('lets the session refuse a literal before "+" (e.g. over quota)', () => {
    const seen: unknown[] = [];
    const over = {
      checkLiteral: (info: { tag: string | null; command: string | null; size: number; sync: boolean }) => {
        seen.push(info);
        return info.command === 'APPEND' ? { response: 'NO' as const, text: '[OVERQUOTA] Hết dung lượng / Over quota' } : null;
      },
    };
    expect(kinds(feed('a1 APPEND INBOX {10}\r\nb NOOP\r\n', over))).toEqual(['error:a1:NO', 'command:b:NOOP']);
    expect(seen).toEqual([{ tag: 'a1', command: 'APPEND', size: 10, sync: true }]);
    expect(kinds(feed('a2 UID SEARCH TEXT {3+}\r\nabc\r\n', over))).toEqual(['command:a2:SEARCH']);
    expect(seen[1]).toEqual({ tag: 'a2', command: 'SEARCH', size: 3, sync: false });
  });
});
