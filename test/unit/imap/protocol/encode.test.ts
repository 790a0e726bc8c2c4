// Response encoding: string forms, lists, FETCH responses carrying Buffers, names, sets, dates.
import { describe, expect, it } from 'vitest';
import {
  astr,
  atom,
  compressSet,
  encodeValue,
  fetchItemName,
  fetchResponse,
  flagList,
  formatSequenceSet,
  internalDate,
  literal,
  literalPrefix,
  mailboxName,
  nstr,
  quoted,
  raw,
  str,
  tagged,
  untagged,
  wireLength,
} from '../../../../src/imap/protocol/encode.js';
import { parseDateTime } from '../../../../src/imap/protocol/grammar.js';
import { cmd } from './helpers.js';

describe('strings', () => {
  const table: Array<[string, boolean, string]> = [
    ['abc', false, '"abc"'],
    ['say "hi" \\o/', false, '"say \\"hi\\" \\\\o/"'],
    ['', false, '""'],
    ['line\r\nbreak', false, '{11}\r\nline\r\nbreak'],
    ['Nguyễn', false, '{8}\r\nNguyễn'],
    ['Nguyễn', true, '"Nguyễn"'],
    // NUL is not a CHAR8: a string literal carries it as a space (RFC 9051 §4.3.1; only literal8 keeps it).
    ['nul\0', true, '{4}\r\nnul '],
  ];
  it.each(table)('str(%j, utf8=%s) → %j', (s, utf8, wire) => {
    expect(str(s, utf8)).toBe(wire);
  });

  it('uses an atom for astring only when safe and not NIL', () => {
    expect(astr('INBOX', false)).toBe('INBOX');
    expect(astr('NIL', false)).toBe('"NIL"');
    expect(astr('a b', false)).toBe('"a b"');
    expect(astr('a]b', false)).toBe('"a]b"');
    expect(astr('', false)).toBe('""');
    expect(nstr(null, false)).toBe('NIL');
    expect(quoted('x\ny', true)).toBeNull();
  });

  it('encodes mailbox names as modified UTF-7 unless UTF-8 is on', () => {
    expect(mailboxName('Đà Nẵng', false)).toBe('"&ARAA4A- N&HrU-ng"');
    expect(mailboxName('Đà Nẵng', true)).toBe('"Đà Nẵng"');
    expect(mailboxName('A&B', false)).toBe('"A&-B"');
  });
});

describe('values and responses', () => {
  it('encodes nested lists, NIL, numbers, atoms and raw text', () => {
    expect(encodeValue([null, 5, 'x', atom('\\Seen'), [raw('("a" NIL)')]], { utf8: false })).toEqual(['(NIL 5 "x" \\Seen (("a" NIL)))']);
  });

  it('passes literal Buffers through without copying', () => {
    const body = Buffer.from('From: a\r\n\r\nhello\r\n');
    const chunks = fetchResponse(
      12,
      [
        ['UID', 4827313],
        ['FLAGS', raw(flagList(['\\Seen', '$Label1']))],
        ['BODY[]', literal(body)],
      ],
      { utf8: false },
    );
    expect(chunks).toHaveLength(3);
    expect(chunks[0]).toBe(`* 12 FETCH (UID 4827313 FLAGS (\\Seen $Label1) BODY[] {${body.length}}\r\n`);
    expect(chunks[1]).toBe(body); // the same object
    expect(chunks[2]).toBe(')\r\n');
    expect(wireLength(chunks)).toBe(Buffer.concat(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c))).length);
  });

  it('writes literal8 for binary content', () => {
    expect(encodeValue(literal(Buffer.from([0, 1]), true), { utf8: false })).toEqual(['~{2}\r\n', Buffer.from([0, 1])]);
    expect(encodeValue(literal(Buffer.alloc(0)), { utf8: false })).toEqual(['{0}\r\n']);
  });

  it('writes the prefix of a streamed literal', () => {
    expect(literalPrefix(1234)).toBe('{1234}\r\n');
    expect(literalPrefix(7, true)).toBe('~{7}\r\n');
  });

  it('builds status lines', () => {
    expect(tagged('a1', 'NO', 'Hết dung lượng / Over quota', 'OVERQUOTA')).toBe('a1 NO [OVERQUOTA] Hết dung lượng / Over quota\r\n');
    expect(tagged('a1', 'OK', 'done')).toBe('a1 OK done\r\n');
    expect(untagged('3 EXISTS')).toBe('* 3 EXISTS\r\n');
  });
});

describe('FETCH item names in responses', () => {
  const table: Array<[string, string[]]> = [
    ['a FETCH 1 (BODY.PEEK[HEADER.FIELDS (From "To")]<0.100>)', ['BODY[HEADER.FIELDS (From To)]<0>']],
    ['a FETCH 1 (BODY[] BODY[1.2.MIME] BODY[3.TEXT] BODY[4])', ['BODY[]', 'BODY[1.2.MIME]', 'BODY[3.TEXT]', 'BODY[4]']],
    ['a FETCH 1 (BINARY.PEEK[1]<5.10> BINARY.SIZE[2] BINARY[])', ['BINARY[1]<5>', 'BINARY.SIZE[2]', 'BINARY[]']],
    ['a FETCH 1 (UID RFC822.SIZE BODYSTRUCTURE BODY MODSEQ)', ['UID', 'RFC822.SIZE', 'BODYSTRUCTURE', 'BODY', 'MODSEQ']],
  ];
  it.each(table)('%s', (line, names) => {
    const c = cmd(line);
    expect(c.type === 'FETCH' ? c.items.map(fetchItemName) : null).toEqual(names);
  });
});

describe('sets and dates', () => {
  it('compresses numbers into a set', () => {
    expect(compressSet([5, 1, 2, 3, 8, 7, 3])).toBe('1:3,5,7:8');
    expect(compressSet([])).toBe('');
    expect(compressSet([4294967295])).toBe('4294967295');
  });

  it('formats a parsed set back', () => {
    const c = cmd('a FETCH 1:*,5,$ FLAGS'.replace(',$', ''));
    expect(c.type === 'FETCH' ? formatSequenceSet(c.set) : null).toBe('1:*,5');
    expect(formatSequenceSet({ kind: 'saved' })).toBe('$');
  });

  it('formats INTERNALDATE in the given zone and round-trips through the parser', () => {
    const d = new Date('1996-07-17T09:44:25Z');
    expect(internalDate(d, -420)).toBe('"17-Jul-1996 02:44:25 -0700"');
    expect(internalDate(new Date('2026-01-05T00:00:00Z'), 420)).toBe('" 5-Jan-2026 07:00:00 +0700"');
    const back = parseDateTime(internalDate(d, 330).slice(1, -1));
    expect(back.date.getTime()).toBe(d.getTime());
    expect(back.offsetMinutes).toBe(330);
  });
});

describe('encoder and parser agree', () => {
  it('every string the encoder writes parses back to the same string', () => {
    let seed = 42;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const alphabet = ['a', ' ', '"', '\\', '\r', '\n', '{', '}', '(', ')', '*', '%', ']', 'ư', 'Đ', '😀', 'NIL', '5', '+'];
    for (let i = 0; i < 3000; i++) {
      const s = Array.from({ length: rnd(10) }, () => alphabet[rnd(alphabet.length)]).join('');
      for (const utf8 of [false, true]) {
        for (const enc of [str, astr]) {
          const c = cmd(`a LOGIN ${enc(s, utf8)} x`);
          expect(c).toEqual({ type: 'LOGIN', username: s, password: 'x' });
        }
      }
    }
  });

  it('every mailbox name the encoder writes parses back to the same name', () => {
    const names = ['INBOX', 'Thư đến', 'Đà Nẵng/Sở Nội vụ', 'A&B "q" \\ x', '台北', '😀/*%', ''];
    for (const name of names) {
      for (const utf8 of [false, true]) {
        const c = cmd(`a STATUS ${mailboxName(name, utf8)} (MESSAGES)`, { utf8Enabled: () => utf8 });
        expect(c.type === 'STATUS' ? c.mailbox.name : null).toBe(name);
      }
    }
  });
});
