import { describe, expect, it } from 'vitest';
import { inspectFile, type InspectLimits } from '../../../src/policy/archive/inspect.js';
import { decodeRar4UnicodeName, readRar4, readRar5 } from '../../../src/policy/archive/rar.js';
import { read7z } from '../../../src/policy/archive/sevenzip.js';
import { readZipDirectory } from '../../../src/policy/archive/zip.js';
import { sniffArchive, sniffExecutable } from '../../../src/policy/sniff.js';
import { rar4RawName, rar4UnicodeField, rawZip, unicodePathExtra } from './archive-fixtures.js';
import { elfBytes, machOBytes, overlappingBomb, peBytes, rar4, rar5, recursiveBomb, sevenZip, zip } from './fixtures.js';

const EXT = new Set(['exe', 'dll', 'scr', 'js']);
const LIMITS: InspectLimits = { maxDepth: 3, maxEntries: 10_000, maxExpandedBytes: 200 * 1024 * 1024, maxRatio: 200, timeMs: 10_000 };

describe('sniffing', () => {
  it.each([
    ['PE', peBytes(), 'pe'],
    ['ELF', elfBytes(), 'elf'],
    ['Mach-O', machOBytes(), 'mach-o'],
    ['Mach-O fat', machOBytes(true), 'mach-o-fat'],
  ])('%s is an executable', (_n, bytes, kind) => {
    expect(sniffExecutable(bytes)).toBe(kind);
  });

  it('MZ without a PE header, a Java class and text are not', () => {
    const mz = Buffer.alloc(256);
    mz.write('MZ');
    expect(sniffExecutable(mz)).toBeNull();
    const cls = Buffer.from([0xca, 0xfe, 0xba, 0xbe, 0x00, 0x00, 0x00, 0x34]);
    expect(sniffExecutable(cls)).toBeNull();
    expect(sniffExecutable(Buffer.from('%PDF-1.7 hello'))).toBeNull();
  });

  it('recognises archive formats', () => {
    expect(sniffArchive(zip([{ name: 'a.txt', data: 'x' }]))).toBe('zip');
    expect(sniffArchive(rar4({ names: ['a'] }))).toBe('rar4');
    expect(sniffArchive(rar5({ names: ['a'] }))).toBe('rar5');
    expect(sniffArchive(sevenZip({}))).toBe('7z');
  });
});

describe('zip central directory', () => {
  it('lists names, sizes and encryption', () => {
    const z = zip([
      { name: 'văn bản.pdf', data: 'pdf', deflate: true },
      { name: 'secret.doc', data: 'doc', encrypt: 'zipcrypto' },
      { name: 'aes.doc', data: 'doc', encrypt: 'aes', deflate: true },
    ]);
    const d = readZipDirectory(z, 100);
    expect(d.entries.map((e) => [e.name, e.encrypted, e.aes])).toEqual([
      ['văn bản.pdf', false, false],
      ['secret.doc', true, false],
      ['aes.doc', true, true],
    ]);
  });

  it('refuses too many entries and overlapping entries', () => {
    const z = zip(Array.from({ length: 20 }, (_, i) => ({ name: `f${i}.txt`, data: 'x' })));
    expect(() => readZipDirectory(z, 10)).toThrow(/entries/);
    expect(() => readZipDirectory(overlappingBomb(), 100)).toThrow(/overlapping/);
  });
});

describe('RAR and 7z headers', () => {
  it('RAR4: file flag 0x0004, main flag 0x0080, names', () => {
    expect(readRar4(rar4({ names: ['a.txt', 'b.exe'] }), 100)).toMatchObject({ names: ['a.txt', 'b.exe'], encrypted: false, headersEncrypted: false });
    expect(readRar4(rar4({ names: ['a.txt'], encryptFiles: true }), 100).encrypted).toBe(true);
    expect(readRar4(rar4({ names: ['a.txt'], encryptHeaders: true }), 100)).toMatchObject({ encrypted: true, headersEncrypted: true });
  });

  it('RAR4: Unicode names (LHD_UNICODE) are decoded, all four operations', () => {
    // "setup.txt" NUL, high byte 0x1e, flags 11 01 00 10 (copy, high+byte, byte, two bytes), then flags 00 00.
    const field = Buffer.concat([Buffer.from('setup.txt\0', 'latin1'), Buffer.from([0x1e, 0xd2, 0x03, 0xc7, 0x2e, 0x65, 0x00, 0x00, 0x78, 0x65])]);
    expect(decodeRar4UnicodeName(field, 9)).toBe('setupệ.exe');
    // Copy with a correction byte: 'ABC' + 0x20 → 'abc' (high byte 0).
    expect(decodeRar4UnicodeName(Buffer.from([0x41, 0x42, 0x43, 0x00, 0x00, 0xc0, 0x81, 0x20]), 3)).toBe('abc');
    // Running out of bytes mid-operation is not guessed at.
    expect(() => decodeRar4UnicodeName(Buffer.from([0x61, 0x00, 0x00, 0x80, 0x41]), 1)).toThrow(/undecodable/);
    expect(readRar4(rar4RawName(field, 0x0200), 100).names).toEqual(['setup.txt', 'setupệ.exe']);
  });

  it('RAR5: encryption header (type 4), file encryption record (type 1), names', () => {
    expect(readRar5(rar5({ names: ['a.txt', 'b.exe'] }), 100)).toMatchObject({ names: ['a.txt', 'b.exe'], encrypted: false, headersEncrypted: false });
    expect(readRar5(rar5({ names: ['a.txt'], encryptFiles: true }), 100)).toMatchObject({ encrypted: true, headersEncrypted: false });
    expect(readRar5(rar5({ names: ['a.txt'], encryptHeaders: true }), 100)).toMatchObject({ encrypted: true, headersEncrypted: true });
  });

  it('7z: 7zAES coder in a plain header and in an encoded header', () => {
    expect(read7z(sevenZip({})).encrypted).toBe(false);
    expect(read7z(sevenZip({ encrypt: true })).encrypted).toBe(true);
    expect(read7z(sevenZip({ encrypt: true, encodedHeader: true })).encrypted).toBe(true);
    expect(read7z(sevenZip({ names: ['a.doc', 'b.pdf'] }))).toEqual({ encrypted: false, headerPacked: false, names: ['a.doc', 'b.pdf'] });
  });

  it('7z: an LZMA-packed header (7-Zip default, also `-p` without -mhe) is unpacked and read', () => {
    expect(read7z(sevenZip({ packedHeader: true, names: ['văn bản.doc'] }))).toEqual({ encrypted: false, headerPacked: false, names: ['văn bản.doc'] });
    expect(read7z(sevenZip({ packedHeader: true, encrypt: true }))).toMatchObject({ encrypted: true, headerPacked: false });
    expect(read7z(sevenZip({ packedHeader: true, names: ['setup.exe'] })).names).toEqual(['setup.exe']);
  });
});

describe('inspectFile', () => {
  it('finds executables by name and by content inside zips, zip-in-zip and encrypted zips', async () => {
    const inner = zip([{ name: 'setup.exe', data: peBytes(), deflate: true }]);
    const r = await inspectFile(
      zip([
        { name: 'readme.txt', data: 'hello', deflate: true },
        { name: 'photo.jpg', data: peBytes(4096), deflate: true },
        { name: 'nested.zip', data: inner, deflate: true },
        { name: 'locked.scr', data: 'x', encrypt: 'zipcrypto' },
      ]),
      'ho-so.zip',
      EXT,
      LIMITS,
    );
    expect(r.unscannable).toBeNull();
    expect(r.executables.map((x) => [x.path, x.why])).toEqual([
      ['ho-so.zip/photo.jpg', 'pe'],
      ['ho-so.zip/nested.zip/setup.exe', 'name'],
      ['ho-so.zip/nested.zip/setup.exe', 'pe'],
      ['ho-so.zip/locked.scr', 'name'],
    ]);
    expect(r.encrypted).toEqual([{ path: 'ho-so.zip', format: 'zip' }]);
  });

  it('finds executable names in RAR4 and RAR5 listings', async () => {
    for (const a of [rar4({ names: ['ok.txt', 'bad.exe'] }), rar5({ names: ['ok.txt', 'bad.exe'] })]) {
      const r = await inspectFile(a, 'x.rar', EXT, LIMITS);
      expect(r.executables.map((x) => x.path)).toEqual(['x.rar/bad.exe']);
    }
  });

  it('finds executable names in 7z headers, packed or not', async () => {
    for (const a of [sevenZip({ names: ['ok.txt', 'bad.exe'] }), sevenZip({ packedHeader: true, names: ['ok.txt', 'bad.exe'] })]) {
      const r = await inspectFile(a, 'x.7z', EXT, LIMITS);
      expect(r.executables.map((x) => x.path)).toEqual(['x.7z/bad.exe']);
    }
  });

  it('RAR4: the Unicode name WinRAR saves under is checked, not only the ASCII one', async () => {
    const r = await inspectFile(rar4RawName(rar4UnicodeField('setup.txt', 'setup.exe'), 0x0200), 'x.rar', EXT, LIMITS);
    expect(r.unscannable).toBeNull();
    expect(r.executables.map((x) => x.path)).toEqual(['x.rar/setup.exe']);
    expect(r.members).toEqual(['x.rar/setup.txt', 'x.rar/setup.exe']);
    // And the other way round: an ASCII .exe name behind a harmless Unicode one.
    const r2 = await inspectFile(rar4RawName(rar4UnicodeField('setup.exe', 'setup.txt'), 0x0200), 'x.rar', EXT, LIMITS);
    expect(r2.executables.map((x) => x.path)).toEqual(['x.rar/setup.exe']);
    // An encoded part that runs out mid-operation cannot be checked.
    const bad = Buffer.concat([Buffer.from('a.txt\0', 'latin1'), Buffer.from([0x00, 0x80, 0x41])]);
    expect((await inspectFile(rar4RawName(bad, 0x0200), 'x.rar', EXT, LIMITS)).unscannable).toMatch(/undecodable Unicode name/);
  });

  it('sniffs stored RAR4/RAR5 members (a PE under a harmless name)', async () => {
    for (const a of [rar4({ names: ['photo.jpg'], data: peBytes() }), rar5({ names: ['photo.jpg'], data: peBytes() })]) {
      const r = await inspectFile(a, 'x.rar', EXT, LIMITS);
      expect(r.executables).toEqual([{ path: 'x.rar/photo.jpg', name: 'photo.jpg', why: 'pe' }]);
    }
  });

  it('a clean zip is clean', async () => {
    const r = await inspectFile(zip([{ name: 'a.pdf', data: '%PDF-1.4', deflate: true }]), 'a.zip', EXT, LIMITS);
    expect(r).toMatchObject({ executables: [], encrypted: [], unscannable: null });
  });

  it('zip bombs are unscannable, never expanded: overlapping entries, recursive, ratio, declared size, depth', async () => {
    expect((await inspectFile(overlappingBomb(), 'bomb.zip', EXT, LIMITS)).unscannable).toMatch(/overlapping/);
    expect((await inspectFile(recursiveBomb(5, 4), '42.zip', EXT, LIMITS)).unscannable).toMatch(/nested deeper|ratio|limit/);
    const zeros = zip([{ name: 'zeros.bin', data: Buffer.alloc(8 * 1024 * 1024), deflate: true }]);
    expect((await inspectFile(zeros, 'z.zip', EXT, LIMITS)).unscannable).toMatch(/ratio/);
    const lying = zip([{ name: 'inner.zip', data: zip([{ name: 'a.txt', data: Buffer.alloc(300_000, 0x41) }]), deflate: true, declaredSize: 10 }]);
    expect((await inspectFile(lying, 'l.zip', EXT, { ...LIMITS, maxRatio: 100_000 })).unscannable).toMatch(/declared size/);
    let nest = zip([{ name: 'a.txt', data: 'x' }]);
    for (let i = 0; i < 4; i++) nest = zip([{ name: `n${i}.zip`, data: nest }]);
    expect((await inspectFile(nest, 'deep.zip', EXT, LIMITS)).unscannable).toMatch(/nested deeper than 3/);
    const big = zip([{ name: 'big.bin', data: Buffer.alloc(3 * 1024 * 1024, 1), deflate: true }]);
    expect((await inspectFile(big, 'b.zip', EXT, { ...LIMITS, maxExpandedBytes: 1024 * 1024, maxRatio: 100_000 })).unscannable).toMatch(/limit/);
  });

  const hello = Buffer.from('hello');
  const exePaths = async (a: Buffer): Promise<string[]> => {
    const r = await inspectFile(a, 'a.zip', EXT, LIMITS);
    expect(r.unscannable).toBeNull();
    return r.executables.map((x) => x.path);
  };

  it('zip: both the central name and the Unicode Path extra (0x7075) name are checked, whatever its CRC says', async () => {
    expect(await exePaths(rawZip([{ name: 'setup.exe', data: hello, extra: unicodePathExtra('setup.txt') }]))).toEqual(['a.zip/setup.exe']);
    expect(await exePaths(rawZip([{ name: 'setup.txt', data: hello, extra: unicodePathExtra('setup.exe') }]))).toEqual(['a.zip/setup.exe']);
    // Only in the local header's extra.
    expect(await exePaths(rawZip([{ name: 'setup.txt', data: hello, localExtra: unicodePathExtra('setup.exe') }]))).toEqual(['a.zip/setup.exe']);
  });

  it('zip: the local header name is checked too (bsdtar saves under it)', async () => {
    expect(await exePaths(rawZip([{ name: 'a.txt', localName: 'a.exe', data: hello }]))).toEqual(['a.zip/a.exe']);
    expect(readZipDirectory(rawZip([{ name: 'a.txt', localName: 'a.exe', data: hello }]), 10).entries[0]?.names).toEqual(['a.txt', 'a.exe']);
  });

  it('zip: an EOCD entry count that disagrees with the central directory cannot be checked', async () => {
    const members = [
      { name: 'readme.txt', data: hello },
      { name: 'setup.exe', data: hello },
    ];
    expect((await inspectFile(rawZip(members, 1), 'a.zip', EXT, LIMITS)).unscannable).toMatch(/counts 1 entries, the central directory holds 2/);
    expect((await inspectFile(rawZip(members, 3), 'a.zip', EXT, LIMITS)).unscannable).toMatch(/counts 3 entries/);
    expect(await exePaths(rawZip(members))).toEqual(['a.zip/setup.exe']);
  });

  it('zip: a local header outside every listed member (seen by streaming readers) cannot be checked', async () => {
    const hidden = rawZip([{ name: 'setup.exe', data: hello }]);
    const shown = rawZip([{ name: 'a.txt', data: hello }]);
    // The hidden member's local entry first, then a zip whose directory does not list it.
    const lfhLen = 30 + 'setup.exe'.length + hello.length;
    const z = Buffer.concat([hidden.subarray(0, lfhLen), shown]);
    expect((await inspectFile(z, 'a.zip', EXT, LIMITS)).unscannable).toMatch(/not listed/);
  });

  it('zip: a declared size that lies is caught (impossible compressed size, or more bytes than declared)', async () => {
    const zeros = Buffer.alloc(8 * 1024 * 1024);
    // 8 MiB of zeros deflate to ~8 KiB: impossible for 1,000 declared bytes.
    const lying = rawZip([{ name: 'small.txt', data: zeros, deflate: true, declaredSize: 1000 }]);
    expect((await inspectFile(lying, 'l.zip', EXT, LIMITS)).unscannable).toMatch(/impossible for its declared size 1000/);
    // A plausible compressed size, but the (prefix) inflation yields more than the 4,000 declared bytes.
    const over = rawZip([{ name: 'small.txt', data: Buffer.alloc(100_000), deflate: true, declaredSize: 4000 }]);
    expect((await inspectFile(over, 'l.zip', EXT, LIMITS)).unscannable).toMatch(/expands past its declared size/);
    // Stored data is exactly its declared size.
    const stored = rawZip([{ name: 'small.txt', data: Buffer.alloc(5000), declaredSize: 100 }]);
    expect((await inspectFile(stored, 's.zip', EXT, LIMITS)).unscannable).toMatch(/stored with 5000 bytes but declares 100/);
    // Honest members are fine.
    expect((await inspectFile(rawZip([{ name: 'a.bin', data: zeros.subarray(0, 100_000), deflate: true }]), 'ok.zip', EXT, LIMITS)).unscannable).toBeNull();
  });

  it('a file named .zip that is not one cannot be checked', async () => {
    expect((await inspectFile(Buffer.from('not a zip at all'), 'fake.zip', EXT, LIMITS)).unscannable).toMatch(/zip/);
  });
});

describe('inspection worker (archive/pool.ts)', () => {
  it('gives the same reports as in-process inspection, for several archives at once', async () => {
    const { inspectArchive, workerProblem } = await import('../../../src/policy/archive/pool.js');
    const inputs: Array<[Buffer, string]> = [
      [zip([{ name: 'n.zip', data: zip([{ name: 'x.exe', data: peBytes(), deflate: true }]) }]), 'a.zip'],
      [overlappingBomb(), 'bomb.zip'],
      [zip([{ name: 'a.doc', data: 'x', encrypt: 'aes' }]), 'enc.zip'],
      [rar5({ names: ['run.scr'] }), 'r.rar'],
    ];
    const inWorker = await Promise.all(inputs.map(([b, n]) => inspectArchive(b, n, EXT, LIMITS)));
    expect(workerProblem()).toBeNull();
    for (let i = 0; i < inputs.length; i++) {
      const [b, n] = inputs[i] as [Buffer, string];
      expect(inWorker[i]).toEqual(await inspectFile(b, n, EXT, LIMITS));
    }
    expect(inWorker[0]?.executables.map((x) => x.why)).toEqual(['name', 'pe']);
    expect(inWorker[1]?.unscannable).toMatch(/overlapping/);
  });
});
