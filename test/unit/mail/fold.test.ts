import { describe, expect, it } from 'vitest';
import { asciiWords, foldVietnamese } from '../../../src/mail/fold.js';

describe('foldVietnamese', () => {
  const table: Array<[string, string]> = [
    ['Nguyễn Văn Long', 'nguyen van long'],
    ['Đặng Thị Đào', 'dang thi dao'],
    ['đường ĐÊ', 'duong de'],
    ['Sở Kế hoạch và Đầu tư', 'so ke hoach va dau tu'],
    ['Nguye\u0302\u0303n', 'nguyen'], // NFD input (combining circumflex + tilde)
    ['TIẾNG VIỆT', 'tieng viet'],
    ['Ủy ban nhân dân', 'uy ban nhan dan'],
    ['abc-123', 'abc-123'],
    ['', ''],
  ];
  it.each(table)('%s → %s', (input, want) => {
    expect(foldVietnamese(input)).toBe(want);
  });

  it('folds any mix of Latin letters, Vietnamese letters, combining marks, punctuation and other scripts as the definition does', () => {
    // The definition (DESIGN.md): NFD, drop combining marks, đ → d, lower-case, NFC.
    const COMBINING = /[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]/g;
    const definition = (x: string): string => x.normalize('NFD').replace(COMBINING, '').replace(/[đĐ]/g, 'd').toLowerCase().normalize('NFC');
    const pool: number[] = [];
    for (const [from, to] of [
      [0x20, 0x7e],
      [0x80, 0x24f],
      [0x300, 0x36f],
      [0x1e00, 0x1eff],
      [0x2000, 0x206f],
    ] as const) {
      for (let c = from; c <= to; c++) pool.push(c);
    }
    // Every character alone, then each after a letter (a combining mark joins it).
    for (const c of pool) {
      const ch = String.fromCharCode(c);
      expect(foldVietnamese(ch), c.toString(16)).toBe(definition(ch));
      expect(foldVietnamese(`A${ch}b`), c.toString(16)).toBe(definition(`A${ch}b`));
    }
    // Random texts, some with characters of other scripts (Greek, CJK, an emoji) mixed in.
    let x = 12345;
    const next = (n: number): number => {
      x = (x * 1103515245 + 12345) >>> 0;
      return x % n;
    };
    const others = ['Σ', 'ς', '中', '\u{1F600}', '\u20dd', '\ufe20'];
    for (let round = 0; round < 2000; round++) {
      let text = '';
      const len = 1 + next(40);
      for (let i = 0; i < len; i++) text += round % 4 === 0 && next(10) === 0 ? (others[next(others.length)] ?? '') : String.fromCharCode(pool[next(pool.length)] ?? 0x61);
      expect(foldVietnamese(text), JSON.stringify(text)).toBe(definition(text));
    }
  });

  it('gives the same result for NFC and NFD input', () => {
    const s = 'Phường Bến Thủy, thành phố Vinh';
    expect(foldVietnamese(s.normalize('NFD'))).toBe(foldVietnamese(s.normalize('NFC')));
  });
});

describe('asciiWords', () => {
  it('splits folded text on non-alphanumerics', () => {
    expect(asciiWords('Sở Kế hoạch & Đầu tư, 2025!')).toEqual(['so', 'ke', 'hoach', 'dau', 'tu', '2025']);
    expect(asciiWords('  ')).toEqual([]);
  });
});
