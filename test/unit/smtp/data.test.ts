import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { hasBareLineEnding, headerLimits, LineEndingScanner, readData } from '../../../src/smtp/data.js';

describe('bare CR / LF detection (SMTP smuggling, RFC 5321 §2.3.8)', () => {
  it.each([
    ['a\r\nb\r\n', false],
    ['', false],
    ['a\nb\r\n', true],
    ['a\rb\r\n', true],
    ['a\r\n.\n', true],
    ['a\r\n\n.\r\n', true],
    ['a\r\r\n', true],
    ['a\r', true],
    ['\n', true],
  ])('%j → %s', (s, bare) => {
    expect(hasBareLineEnding(Buffer.from(s))).toBe(bare);
  });

  it('handles CRLF split across chunks, and a bare LF at a chunk start', () => {
    const ok = new LineEndingScanner();
    ok.push(Buffer.from('abc\r'));
    ok.push(Buffer.from('\ndef\r\n'));
    expect(ok.finish()).toBe(false);
    const bad = new LineEndingScanner();
    bad.push(Buffer.from('abc\r\n'));
    bad.push(Buffer.from('\n.\r\n'));
    expect(bad.finish()).toBe(true);
    const cr = new LineEndingScanner();
    cr.push(Buffer.from('abc\r'));
    cr.push(Buffer.from('.\r\n'));
    expect(cr.finish()).toBe(true);
  });

  it('readData keeps bytes up to the limit and reports sizeExceeded past it', async () => {
    const s = new PassThrough();
    const p = readData(s, 10);
    s.write(Buffer.from('12345\r\n'));
    s.end(Buffer.from('6789\r\n'));
    const r = await p;
    expect(r).toMatchObject({ size: 13, sizeExceeded: true });
    expect(r.raw.length).toBe(0);
    const s2 = new PassThrough();
    const p2 = readData(s2, 100);
    s2.end(Buffer.from('hi\r\n'));
    expect((await p2).raw.toString()).toBe('hi\r\n');
  });
});

describe('headerLimits', () => {
  it('flags a header section over the limit and a header line over the limit', () => {
    const ok = Buffer.from('Subject: a\r\nFrom: b\r\n\r\nbody line that is long enough to pass\r\n');
    expect(headerLimits(ok, 100, 20)).toBeNull();
    expect(headerLimits(Buffer.from(`Subject: ${'x'.repeat(50)}\r\n\r\nb\r\n`), 1000, 20)).toBe('line-too-long');
    expect(headerLimits(Buffer.from(`A: 1\r\n`.repeat(40) + '\r\nb\r\n'), 100, 20)).toBe('header-too-large');
  });
});
