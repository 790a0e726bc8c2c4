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
