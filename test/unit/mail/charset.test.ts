import { describe, expect, it } from 'vitest';
import { decodeCharset, isValidUtf8, normaliseCharset } from '../../../src/mail/charset.js';

const b = (...bytes: Array<number | string>): Buffer =>
  Buffer.concat(bytes.map((x) => (typeof x === 'string' ? Buffer.from(x, 'latin1') : Buffer.from([x]))));

describe('decodeCharset', () => {
  const table: Array<[string, Buffer, string, string]> = [
    ['utf-8', Buffer.from('Tiếng Việt', 'utf8'), 'utf-8', 'Tiếng Việt'],
    ['UTF8 label', Buffer.from('Hà Nội', 'utf8'), 'UTF8', 'Hà Nội'],
    ['us-ascii', b('plain'), 'us-ascii', 'plain'],
    ['iso-8859-1', b('caf', 0xe9), 'iso-8859-1', 'café'],
    ['iso-8859-15 euro', b(0xa4), 'ISO-8859-15', '€'],
    ['windows-1252', b(0x93, 'hi', 0x94), 'windows-1252', '“hi”'],
    // windows-1258: base letter + combining tone mark bytes must come out composed (NFC)
    ['windows-1258 Việt (ê + dot below 0xF2)', b('Vi', 0xea, 0xf2, 't'), 'windows-1258', 'Việt'],
    ['windows-1258 Tiếng (ê + acute 0xEC)', b('Ti', 0xea, 0xec, 'ng'), 'windows-1258', 'Tiếng'],
    ['windows-1258 Hà Nội', b('Ha', 0xcc, ' N', 0xf4, 0xf2, 'i'), 'cp1258', 'Hà Nội'],
    ['windows-1258 đ Đ ơ ư ă', b(0xf0, 0xd0, 0xf5, 0xfd, 0xe3), 'windows-1258', 'đĐơưă'],
    ['windows-1258 hook above 0xD2 and tilde 0xDE', b('Ho', 0xd2, ' Nguy', 0xea, 0xde, 'n'), 'windows-1258', 'Hỏ Nguyễn'],
    ['VISCII', b('Ti', 0xaa, 'ng Vi', 0xae, 't ', 0xf0, 0xa9, 'p'), 'VISCII', 'Tiếng Việt đẹp'],
    ['VISCII alias', b('Vi', 0xae, 't'), 'x-viet-viscii', 'Việt'],
    ['unknown label, UTF-8 bytes', Buffer.from('Đà Nẵng', 'utf8'), 'x-no-such-charset', 'Đà Nẵng'],
    ['unknown label, 8-bit bytes → windows-1252', b('caf', 0xe9), 'bogus', 'café'],
    ['us-ascii label with UTF-8 bytes', Buffer.from('Huế', 'utf8'), 'us-ascii', 'Huế'],
    ['empty label', Buffer.from('Cần Thơ', 'utf8'), '', 'Cần Thơ'],
    ['quoted label', Buffer.from('Vinh', 'utf8'), '"utf-8"', 'Vinh'],
    ['utf-8 with NFD input comes out NFC', Buffer.from('Vie\u0323\u0302t', 'utf8'), 'utf-8', 'Việt'],
    ['utf-16le', Buffer.from('Việt', 'utf16le'), 'utf-16le', 'Việt'],
    ['unlabelled windows-1258 is recognised', b('Ti', 0xea, 0xec, 'ng Vi', 0xea, 0xf2, 't c', 0xf3, ' d', 0xe2, 0xcc, 'u'), 'unknown-8bit', 'Tiếng Việt có dầu'],
    ['unlabelled Portuguese stays windows-1252', b('n', 0xe3, 'o s', 0xe3, 'o p', 0xe3, 'es'), 'x-unknown', 'não são pães'],
    ['unlabelled Italian stays windows-1252', b('pu', 0xf2, ' per', 0xf2, ' cos', 0xec), '', 'può però così'],
  ];
  it.each(table)('%s', (_name, bytes, charset, want) => {
    const got = decodeCharset(bytes, charset);
    expect(got).toBe(want.normalize('NFC'));
    expect(got).toBe(got.normalize('NFC'));
  });

  it('never throws, even on garbage labels and bytes', () => {
    const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3]);
    for (const cs of ['', '*', 'utf-8*vi', "utf-8'vi'", 'x'.repeat(500), '\u0000', 'utf-7', 'iso-2022-jp']) {
      expect(typeof decodeCharset(bytes, cs)).toBe('string');
    }
  });
});

describe('normaliseCharset / isValidUtf8', () => {
  it('normalises labels', () => {
    expect(normaliseCharset(' UTF-8 ')).toBe('utf-8');
    expect(normaliseCharset('utf-8*vi')).toBe('utf-8');
    expect(normaliseCharset('X-VIET-VISCII')).toBe('viscii');
  });
  it('checks UTF-8', () => {
    expect(isValidUtf8(Buffer.from('Việt Nam', 'utf8'))).toBe(true);
    expect(isValidUtf8(Buffer.from([0xc3]))).toBe(false);
    expect(isValidUtf8(Buffer.from([0xc0, 0x80]))).toBe(false); // overlong
    expect(isValidUtf8(Buffer.from([0xed, 0xa0, 0x80]))).toBe(false); // surrogate
    expect(isValidUtf8(Buffer.from([0xe9]))).toBe(false);
  });
});
