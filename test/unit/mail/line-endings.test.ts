import { describe, expect, it } from 'vitest';
import { toCrlf } from '../../../src/mail/line-endings.js';

describe('toCrlf: bare LF and bare CR become CRLF', () => {
  it.each([
    ['a\nb\n', 'a\r\nb\r\n'],
    ['a\rb', 'a\r\nb'],
    ['a\r', 'a\r\n'],
    ['\n', '\r\n'],
    ['a\r\nb\nc\r\r\nd', 'a\r\nb\r\nc\r\n\r\nd'],
    ['\r\r\n\n', '\r\n\r\n\r\n'],
  ])('%j → %j', (input, output) => {
    expect(toCrlf(Buffer.from(input)).toString()).toBe(output);
  });

  it('returns the very same buffer when every line already ends in CRLF', () => {
    const b = Buffer.from('Subject: x\r\n\r\nbody\r\n');
    expect(toCrlf(b)).toBe(b);
  });
});
