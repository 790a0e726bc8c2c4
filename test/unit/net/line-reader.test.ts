import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { LineReader, type ReadResult } from '../../../src/net/line-reader.js';

const text = (r: ReadResult) => (r.kind === 'line' ? r.line.toString() : r.kind);

describe('LineReader', () => {
  it('splits CRLF and bare LF lines, across chunk boundaries, pipelined', async () => {
    const s = new PassThrough();
    const r = new LineReader(s, { maxLineBytes: 100 });
    s.write('USER a\r\nPA');
    s.write('SS b\r');
    s.write('\nNOOP\nST');
    s.end('AT\r\n');
    const got: string[] = [];
    for (;;) {
      const x = await r.next();
      got.push(text(x));
      if (x.kind === 'end') break;
    }
    expect(got).toEqual(['USER a', 'PASS b', 'NOOP', 'STAT', 'end']);
  });

  it('a partial line at the end of input is not returned as a line', async () => {
    const s = new PassThrough();
    const r = new LineReader(s, { maxLineBytes: 100 });
    s.end('QUIT');
    expect((await r.next()).kind).toBe('end');
  });

  it('too-long: reported as soon as the limit passes, the rest of that line skipped, then normal', async () => {
    const s = new PassThrough();
    const r = new LineReader(s, { maxLineBytes: 10 });
    s.write('x'.repeat(12));
    const first = await r.next();
    expect(first.kind).toBe('too-long');
    s.write('y'.repeat(1000));
    s.write('zz\r\nNOOP\r\n');
    expect(text(await r.next())).toBe('NOOP');
    expect(r.buffered).toBe(0);
  });

  it('limit counts the CRLF: 8 bytes + CRLF fits 10, 9 bytes + CRLF does not', async () => {
    const s = new PassThrough();
    const r = new LineReader(s, { maxLineBytes: 10 });
    s.write('12345678\r\n123456789\r\nok\r\n');
    expect(text(await r.next())).toBe('12345678');
    expect((await r.next()).kind).toBe('too-long');
    expect(text(await r.next())).toBe('ok');
  });

  it('pauses the socket when too much pipelined input waits, resumes when consumed', async () => {
    const s = new PassThrough();
    const r = new LineReader(s, { maxLineBytes: 100, maxBufferedBytes: 50 });
    s.write('A'.repeat(30) + '\r\n' + 'B'.repeat(30) + '\r\n');
    await new Promise((res) => setImmediate(res));
    expect(s.isPaused()).toBe(true);
    expect(r.buffered).toBe(64);
    expect(text(await r.next())).toBe('A'.repeat(30));
    expect(s.isPaused()).toBe(false);
    expect(text(await r.next())).toBe('B'.repeat(30));
  });

  it('readBytes returns exact literals, then lines continue', async () => {
    const s = new PassThrough();
    const r = new LineReader(s, { maxLineBytes: 100, maxBufferedBytes: 16 });
    s.write('APPEND {40}\r\n');
    expect(text(await r.next())).toBe('APPEND {40}');
    const lit = r.readBytes(40);
    s.write('0123456789'.repeat(2));
    s.write('0123456789'.repeat(2) + ')\r\n');
    expect((await lit)?.toString()).toBe('0123456789'.repeat(4));
    expect(text(await r.next())).toBe(')');
    s.end();
    expect(await r.readBytes(5)).toBeNull();
  });

  it('detach discards everything buffered (STARTTLS injection) and leaves the socket paused', async () => {
    const s = new PassThrough();
    const r = new LineReader(s, { maxLineBytes: 100 });
    s.write('STLS\r\nUSER evil\r\nPASS x\r\n');
    expect(text(await r.next())).toBe('STLS');
    expect(r.detach()).toBe('USER evil\r\nPASS x\r\n'.length);
    expect(s.isPaused()).toBe(true);
    expect(s.listenerCount('data')).toBe(0);
  });

  it('one read at a time', async () => {
    const s = new PassThrough();
    const r = new LineReader(s, { maxLineBytes: 100 });
    void r.next();
    expect(() => r.next()).toThrow(/one read at a time/);
    s.end();
  });
});
