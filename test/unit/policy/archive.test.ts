import { crc32 } from 'node:zlib';
import { deflateSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { inspectFile, type InspectLimits } from '../../../src/policy/archive/inspect.js';
import { decodeRar4UnicodeName, readRar4, readRar5 } from '../../../src/policy/archive/rar.js';
import { read7z } from '../../../src/policy/archive/sevenzip.js';
import { readZipDirectory } from '../../../src/policy/archive/zip.js';
import { sniffArchive, sniffExecutable } from '../../../src/policy/sniff.js';
import {
  le,
  rar4RawName,
  rar4UnicodeField,
  rawZip,
  SEVEN_Z_LZMA2_AES,
  SEVEN_Z_LZMA2_EXE,
  sevenZipHeader,
  sevenZipPacked,
  sevenZipRaw,
  unicodePathExtra,
} from './archive-fixtures.js';
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

  it('MZ alone is an executable (a DOS program, or a PE whose header lies past the bytes sniffed); a Java class and text are not', () => {
    const mz = Buffer.alloc(256);
    mz.write('MZ');
    expect(sniffExecutable(mz)).toBe('pe');
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

describe('zip: local header sizes', () => {
  it('a member whose central size covers a local header its local size does not (hidden from the central directory) cannot be checked', async () => {
    const text = Buffer.from('hello world\n'.repeat(10));
    const packed = Buffer.from(deflateSync(text));
    const evil = Buffer.concat([Buffer.from('MZ'), Buffer.alloc(200, 0x41)]);
    const lfh = (name: string, method: number, csize: number, usize: number, crc: number): Buffer =>
      Buffer.concat([le([4, 0x04034b50], [2, 20], [2, 0], [2, method], [4, 0], [4, crc], [4, csize], [4, usize], [2, name.length], [2, 0]), Buffer.from(name)]);
    const hidden = Buffer.concat([lfh('evil.exe', 0, evil.length, evil.length, crc32(evil)), evil]);
    // a.txt's local header carries its true compressed size; the central directory claims the hidden member as a.txt's data.
    const body = Buffer.concat([lfh('a.txt', 8, packed.length, text.length, crc32(text)), packed, hidden]);
    const claimed = packed.length + hidden.length;
    const cd = Buffer.concat([le([4, 0x02014b50], [2, 20], [2, 20], [2, 0], [2, 8], [4, 0], [4, crc32(text)], [4, claimed], [4, claimed], [2, 5], [2, 0], [2, 0], [2, 0], [2, 0], [4, 0], [4, 0]), Buffer.from('a.txt')]);
    const archive = Buffer.concat([body, cd, le([4, 0x06054b50], [2, 0], [2, 0], [2, 1], [2, 1], [4, cd.length], [4, body.length], [2, 0])]);
    expect(() => readZipDirectory(archive, 100)).toThrow(/local header of a.txt disagrees/);
    const r = await inspectFile(archive, 'x.zip', new Set(['exe']), { maxDepth: 4, maxEntries: 100, maxExpandedBytes: 1e7, maxRatio: 100, timeMs: 5000 });
    expect(r.unscannable).toMatch(/disagrees with the central directory/);
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

  it('7z: substream CRC counts the header cannot hold are refused at once, not allocated (a 164-byte archive once took 784 MB)', () => {
    // Header > MainStreamsInfo > UnpackInfo with 20 one-coder folders > SubStreamsInfo with a
    // million substreams each > CRC "all defined" and no CRC bytes at all.
    const n = 20;
    const h = [0x01, 0x04, 0x07, 0x0b, n, 0x00, ...Array.from({ length: n }, () => [0x01, 0x00]).flat(), 0x0c, ...Array.from({ length: n }, () => 0x01)];
    h.push(0x00, 0x08, 0x0d, ...Array.from({ length: n }, () => [0xcf, 0x40, 0x42]).flat(), 0x0a, 0x01);
    const header = Buffer.from(h);
    const start = Buffer.alloc(20);
    start.writeBigUInt64LE(0n, 0);
    start.writeBigUInt64LE(BigInt(header.length), 8);
    const archive = Buffer.concat([Buffer.from([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c, 0, 4]), Buffer.alloc(4), start, header]);
    const before = process.memoryUsage().heapUsed;
    expect(() => read7z(archive)).toThrow(/truncated header/);
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(64 * 1024 * 1024);
  });

  it('7z: 7zAES coder in a plain header and in an encoded header', () => {
    expect(read7z(sevenZip({})).encrypted).toBe(false);
    expect(read7z(sevenZip({ encrypt: true })).encrypted).toBe(true);
    expect(read7z(sevenZip({ encrypt: true, encodedHeader: true })).encrypted).toBe(true);
    expect(read7z(sevenZip({ names: ['a.doc', 'b.pdf'] }))).toEqual({ encrypted: false, headersEncrypted: false, names: ['a.doc', 'b.pdf'] });
  });

  it('7z: a header packed with LZMA2 (liblzma) or Copy is unpacked and read', () => {
    expect(read7z(SEVEN_Z_LZMA2_EXE)).toEqual({ encrypted: false, headersEncrypted: false, names: ['setup.exe'] });
    expect(read7z(SEVEN_Z_LZMA2_AES)).toEqual({ encrypted: true, headersEncrypted: false, names: ['doc.pdf'] });
    const data = Buffer.from('hello world');
    const plain = sevenZipHeader('setup.exe', data.length);
    expect(read7z(sevenZipPacked(data, plain, plain, Buffer.from([0x01, 0x01, 0x00]))).names).toEqual(['setup.exe']);
    // Copy holding a header whose file folder is 7zAES.
    const aes = sevenZipHeader('doc.pdf', data.length, { fileCoder: Buffer.from([0x24, 0x06, 0xf1, 0x07, 0x01, 0x02, 0x00, 0x00]) });
    expect(read7z(sevenZipPacked(data, aes, aes, Buffer.from([0x01, 0x01, 0x00])))).toEqual({ encrypted: true, headersEncrypted: false, names: ['doc.pdf'] });
  });

  it('7z: a packed header that cannot be unpacked with certainty cannot be checked', () => {
    const data = Buffer.from('hello world');
    const plain = sevenZipHeader('setup.exe', data.length);
    // PPMd (03 04 01), and a BCJ + LZMA chain.
    expect(() => read7z(sevenZipPacked(data, plain, plain, Buffer.from([0x01, 0x23, 0x03, 0x04, 0x01, 0x05, 6, 0, 0, 1, 0])))).toThrow(/cannot be unpacked/);
    const chain = Buffer.from([0x02, 0x04, 0x03, 0x03, 0x01, 0x03, 0x23, 0x03, 0x01, 0x01, 0x05, 0x5d, 0, 0, 1, 0, 0x01, 0x00]);
    expect(() => read7z(sevenZipPacked(data, plain, plain, chain, [plain.length]))).toThrow(/cannot be unpacked/);
    // LZMA2 whose chunk continues a dictionary (control 0xC0 instead of 0xE0): not guessed at.
    const cont = Buffer.from(SEVEN_Z_LZMA2_EXE);
    cont[cont.indexOf(0xe0, 0x40)] = 0xc0;
    expect(() => read7z(cont)).toThrow(/continues the previous dictionary/);
    // A Copy header whose size disagrees with its declared unpack size.
    expect(() => read7z(sevenZipPacked(data, Buffer.concat([plain, Buffer.from([0])]), plain, Buffer.from([0x01, 0x01, 0x00])))).toThrow(/size/);
  });

  it('7z: names come from the structurally parsed kName, never from a name-shaped decoy', () => {
    const data = Buffer.from('hello world');
    const decoyNames = Buffer.from('readme.txt\0', 'utf16le');
    const decoy = Buffer.concat([Buffer.from([0x11, 1 + decoyNames.length, 0x00]), decoyNames]);
    // kDummy (0x19) holding a kName-shaped block ahead of the real kName.
    const dummy = Buffer.concat([Buffer.from([0x19, decoy.length]), decoy]);
    expect(read7z(sevenZipRaw(data, sevenZipHeader('setup.exe', data.length, { before: dummy }))).names).toEqual(['setup.exe']);
    // The same inside ArchiveProperties (type 0x20), which 7-Zip skips.
    const props = Buffer.concat([Buffer.from([0x20, decoy.length]), decoy]);
    expect(read7z(sevenZipRaw(data, sevenZipHeader('setup.exe', data.length, { archiveProps: props }))).names).toEqual(['setup.exe']);
    // Only the decoy, no kName: files without names cannot be checked.
    expect(() => read7z(sevenZipRaw(data, sevenZipHeader('x', data.length, { before: dummy, withName: false })))).toThrow(/without names/);
    // A header that does not parse (a property size running past the end).
    expect(() => read7z(sevenZipRaw(data, sevenZipHeader('setup.exe', data.length, { before: Buffer.from([0x19, 0x7f]) })))).toThrow(/7z/);
  });

  it('7z: an LZMA-packed header (7-Zip default, also `-p` without -mhe) is unpacked and read', () => {
    expect(read7z(sevenZip({ packedHeader: true, names: ['văn bản.doc'] }))).toEqual({ encrypted: false, headersEncrypted: false, names: ['văn bản.doc'] });
    expect(read7z(sevenZip({ packedHeader: true, encrypt: true }))).toMatchObject({ encrypted: true, headersEncrypted: false });
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

  it('7z: executables behind LZMA2/Copy-packed headers or decoy name lists are found; unreadable headers are not clean', async () => {
    const data = Buffer.from('hello world');
    const plain = sevenZipHeader('setup.exe', data.length);
    const decoyNames = Buffer.from('readme.txt\0', 'utf16le');
    const dummy = Buffer.concat([Buffer.from([0x19, decoyNames.length + 3, 0x11, 1 + decoyNames.length, 0x00]), decoyNames]);
    for (const a of [SEVEN_Z_LZMA2_EXE, sevenZipPacked(data, plain, plain, Buffer.from([0x01, 0x01, 0x00])), sevenZipRaw(data, sevenZipHeader('setup.exe', data.length, { before: dummy }))]) {
      const r = await inspectFile(a, 'x.7z', EXT, LIMITS);
      expect(r).toMatchObject({ unscannable: null, executables: [{ path: 'x.7z/setup.exe', why: 'name' }] });
    }
    const aes = await inspectFile(SEVEN_Z_LZMA2_AES, 'x.7z', EXT, LIMITS);
    expect(aes).toMatchObject({ unscannable: null, encrypted: [{ path: 'x.7z', format: '7z' }] });
    // 7zAES on the header itself: encrypted, names unreadable (reported like RAR's encrypted headers).
    expect(await inspectFile(sevenZip({ encrypt: true, encodedHeader: true }), 'x.7z', EXT, LIMITS)).toMatchObject({ unscannable: null, encrypted: [{ path: 'x.7z', format: '7z-headers' }] });
    const ppmd = sevenZipPacked(data, plain, plain, Buffer.from([0x01, 0x23, 0x03, 0x04, 0x01, 0x05, 6, 0, 0, 1, 0]));
    expect((await inspectFile(ppmd, 'x.7z', EXT, LIMITS)).unscannable).toMatch(/cannot be unpacked/);
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

describe('inspection process (archive/pool.ts)', () => {
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

  it('runs in a child process: when it dies, the server lives on and the next archive gets a fresh one', async () => {
    const { inspectArchive, inspectionPid } = await import('../../../src/policy/archive/pool.js');
    const exe = zip([{ name: 'x.exe', data: 'x' }]);
    expect((await inspectArchive(exe, 'a.zip', EXT, LIMITS)).executables).toHaveLength(1);
    const first = inspectionPid();
    expect(first).not.toBeNull();
    expect(first).not.toBe(process.pid);
    // What an out-of-memory abort does to it (a worker thread's would have taken this process too).
    process.kill(first as number, 'SIGKILL');
    await new Promise<void>((r) => {
      const t = setInterval(() => {
        if (inspectionPid() !== first) {
          clearInterval(t);
          r();
        }
      }, 10);
    });
    expect((await inspectArchive(exe, 'b.zip', EXT, LIMITS)).executables).toHaveLength(1);
    expect(inspectionPid()).not.toBe(first);
  });
});
