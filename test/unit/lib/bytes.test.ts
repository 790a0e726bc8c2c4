import { describe, expect, it } from 'vitest';
import { formatBytes, parseBytes } from '../../../src/lib/bytes.js';

describe('parseBytes', () => {
  it.each([
    ['20MB', 20 * 1024 ** 2],
    ['20 MB', 20 * 1024 ** 2],
    ['2GB', 2 * 1024 ** 3],
    ['512KiB', 512 * 1024],
    ['1.5 GB', 1.5 * 1024 ** 3],
    ['1048576', 1048576],
    [1048576, 1048576],
  ])('%j → %d', (input, expected) => {
    expect(parseBytes(input)).toBe(expected);
  });

  it.each(['', 'MB', '20XB', '-1', 'twenty', '1e3MB'])('%j is refused', (input) => {
    expect(parseBytes(input)).toBeNull();
  });

  it('refuses negative and fractional numbers', () => {
    expect(parseBytes(-5)).toBeNull();
    expect(parseBytes(1.5)).toBeNull();
  });
});

describe('formatBytes', () => {
  it.each([
    [512, '512 B'],
    [20 * 1024 ** 2, '20 MB'],
    [1.5 * 1024 ** 3, '1.5 GB'],
  ])('%d → %s', (n, s) => {
    expect(formatBytes(n)).toBe(s);
  });
});
