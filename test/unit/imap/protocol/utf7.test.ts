// Modified UTF-7 (RFC 3501 §5.1.3): round trips, the RFC's example, and strict refusals.
import { describe, expect, it } from 'vitest';
import { decodeMailboxUtf7, encodeMailboxUtf7 } from '../../../../src/imap/protocol/utf7.js';

const pairs: Array<[string, string]> = [
  ['INBOX', 'INBOX'],
  ['', ''],
  ['&', '&-'],
  ['Tom & Jerry', 'Tom &- Jerry'],
  ['~peter/mail/台北/日本語', '~peter/mail/&U,BTFw-/&ZeVnLIqe-'], // RFC 3501 §5.1.3 example
  // Vietnamese (cross-checked with Python's base64 of UTF-16BE)
  ['Thư đến', 'Th&AbA- &AREevw-n'],
  ['Đà Nẵng', '&ARAA4A- N&HrU-ng'],
  ['Hộp thư đã gửi', 'H&Htk-p th&AbA- &AREA4w- g&Hu0-i'],
  ['emoji 😀', 'emoji &2D3eAA-'],
  ['tab\there', 'tab&AAk-here'],
];

describe('modified UTF-7', () => {
  it.each(pairs)('%s ⇄ %s', (plain, encoded) => {
    expect(encodeMailboxUtf7(plain)).toBe(encoded);
    expect(decodeMailboxUtf7(encoded)).toBe(plain);
  });

  it('round-trips random Unicode names', () => {
    let seed = 7;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const alphabet = ['a', 'Z', '&', '-', ' ', '/', 'ư', 'ơ', 'Đ', 'ễ', '台', '😀', '\u0001', '+', ','];
    for (let i = 0; i < 2000; i++) {
      const name = Array.from({ length: rnd(12) }, () => alphabet[rnd(alphabet.length)]).join('');
      expect(decodeMailboxUtf7(encodeMailboxUtf7(name))).toBe(name);
    }
  });

  const malformed: Array<[string, string]> = [
    ['&', 'unterminated shift'],
    ['&AGE', 'unterminated shift'],
    ['&AGE-', 'encodes printable ASCII "a"'],
    ['&U,BTFw-&ZeVnLIqe-', 'two adjacent shifts'],
    ['&Jjo!-', 'bad base64 character'],
    ['&Jj-', 'too few bits for one UTF-16 unit'],
    ['&AOEA-', 'leftover bits beyond padding'],
    ['&AOF-', 'non-zero padding bits'],
    ['&2D0-', 'lone high surrogate'],
    ['&3gA-', 'lone low surrogate'],
    ['Th\u01b0', 'raw 8-bit character'],
    ['a\u0000b', 'control character'],
    ['&AOE/-', '"/" instead of ","'],
  ];
  it.each(malformed)('refuses %s (%s)', (encoded) => {
    expect(decodeMailboxUtf7(encoded)).toBeNull();
  });
});
