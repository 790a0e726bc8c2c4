import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { hasBareLineEnding } from '../../../src/mail/line-endings.js';
import { headerLimits, LineEndingScanner, MemoryBudget, prepareSpoolDir, readData } from '../../../src/smtp/data.js';

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
    // The streaming scanner (one chunk here) and the whole-buffer check agree.
    const scanner = new LineEndingScanner();
    scanner.push(Buffer.from(s));
    expect(scanner.finish()).toBe(bare);
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
    expect(r).toMatchObject({ size: 13, length: 0, sizeExceeded: true, file: null });
    expect((await r.bytes()).length).toBe(0);
    const s2 = new PassThrough();
    const p2 = readData(s2, 100);
    s2.end(Buffer.from('hi\r\n'));
    expect((await (await p2).bytes()).toString()).toBe('hi\r\n');
  });

  it('readData spools past the in-memory share: byte-exact, scanned, removed by discard', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'buudien-spool-'));
    try {
      const small = new PassThrough();
      const ps = readData(small, 1 << 20, { dir, memoryBytes: 100 });
      small.end(Buffer.from('short\r\n'));
      const rs = await ps;
      expect(rs.file).toBeNull();
      expect(readdirSync(dir)).toEqual([]);

      const chunks = Array.from({ length: 200 }, (_, i) => Buffer.from(`dòng ${i} ${'z'.repeat(i)}\r\n`));
      const s = new PassThrough();
      const p = readData(s, 1 << 20, { dir, memoryBytes: 100 });
      for (const c of chunks) s.write(c);
      s.end();
      const r = await p;
      const all = Buffer.concat(chunks);
      expect(r).toMatchObject({ size: all.length, length: all.length, sizeExceeded: false, bareLineEnding: false });
      expect(r.file).not.toBeNull();
      expect(readdirSync(dir)).toHaveLength(1);
      expect((await r.bytes()).equals(all)).toBe(true);
      await r.discard();
      await r.discard();
      expect(readdirSync(dir)).toEqual([]);

      // A bare LF far past the in-memory share is still found.
      const b = new PassThrough();
      const pb = readData(b, 1 << 20, { dir, memoryBytes: 100 });
      for (const c of chunks) b.write(c);
      b.end(Buffer.from('bare\n'));
      const rb = await pb;
      expect(rb.bareLineEnding).toBe(true);
      await rb.discard();

      // Past the limit nothing is kept, on disk either.
      const o = new PassThrough();
      const po = readData(o, 1000, { dir, memoryBytes: 100 });
      for (const c of chunks) o.write(c);
      o.end();
      expect(await po).toMatchObject({ sizeExceeded: true, length: 0, file: null });
      expect(readdirSync(dir)).toEqual([]);

      // A stream destroyed mid-message (the client went away): rejected, file removed.
      const d = new PassThrough();
      const pd = readData(d, 1 << 20, { dir, memoryBytes: 100 });
      for (const c of chunks) d.write(c);
      await new Promise((res) => setTimeout(res, 20));
      d.destroy(new Error('gone'));
      await expect(pd).rejects.toThrow('gone');
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a shared memory budget keeps big messages in memory while it has room, then spools; every byte goes back', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'buudien-spool-'));
    try {
      const budget = new MemoryBudget(3000);
      const body = (tag: string) => Array.from({ length: 40 }, (_, i) => Buffer.from(`${tag} dòng ${i} ${'x'.repeat(40)}\r\n`));
      const receive = async (chunks: Buffer[]) => {
        const s = new PassThrough();
        const p = readData(s, 1 << 20, { dir, memoryBytes: 100, budget });
        for (const c of chunks) s.write(c);
        s.end();
        return { r: await p, all: Buffer.concat(chunks) };
      };
      // The first message (~2.2 KB) fits in the budget: no file.
      const a = await receive(body('a'));
      expect(a.r.file).toBeNull();
      expect(budget.inUse).toBe(a.all.length - 100);
      // The second does not fit any more: spooled, and what it borrowed on the way is returned.
      const b = await receive(body('b'));
      expect(b.r.file).not.toBeNull();
      expect(budget.inUse).toBe(a.all.length - 100);
      expect((await a.r.bytes()).equals(a.all)).toBe(true);
      expect((await b.r.bytes()).equals(b.all)).toBe(true);
      await a.r.discard();
      await b.r.discard();
      expect(budget.inUse).toBe(0);
      expect(readdirSync(dir)).toEqual([]);
      // Once returned, the room is there again; a refused (too big) or broken message returns its share too.
      const c = await receive(body('c'));
      expect(c.r.file).toBeNull();
      await c.r.discard();
      const o = new PassThrough();
      const po = readData(o, 1500, { dir, memoryBytes: 100, budget });
      for (const x of body('o')) o.write(x);
      o.end();
      expect(await po).toMatchObject({ sizeExceeded: true, file: null });
      expect(budget.inUse).toBe(0);
      const d = new PassThrough();
      const pd = readData(d, 1 << 20, { dir, memoryBytes: 100, budget });
      for (const x of body('d').slice(0, 20)) d.write(x);
      await new Promise((res) => setTimeout(res, 10));
      expect(budget.inUse).toBeGreaterThan(0);
      d.destroy(new Error('gone'));
      await expect(pd).rejects.toThrow('gone');
      expect(budget.inUse).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('prepareSpoolDir creates the directory 0700 and removes files of processes that are gone', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'buudien-spool-'));
    try {
      const dir = path.join(root, 'tmp');
      expect(await prepareSpoolDir(dir)).toBe(0);
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      const dead = spawnSync(process.execPath, ['-e', '']).pid;
      writeFileSync(path.join(dir, `smtp-${dead}-aa`), 'x');
      writeFileSync(path.join(dir, `smtp-${process.pid}-bb`), 'live');
      writeFileSync(path.join(dir, 'other'), 'not ours');
      expect(await prepareSpoolDir(dir)).toBe(1);
      expect(readdirSync(dir).sort()).toEqual(['other', `smtp-${process.pid}-bb`]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
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
