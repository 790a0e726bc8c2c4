/**
 * Byte layouts of the auditor's crafted archives (zip name and size tricks, RAR 1.5–4 Unicode
 * names, 7z headers packed with LZMA2/Copy or holding decoy name lists), built in code.
 */
import { crc32 } from 'node:zlib';
import { deflateSync } from 'fflate';

// ───────────────────────────── zip ─────────────────────────────

export interface RawZipMember {
  /** Name in the central directory. */
  name: string;
  /** Name in the local header (default: the same). */
  localName?: string;
  data: Buffer;
  deflate?: boolean;
  /** Declared uncompressed size (default: the true one). */
  declaredSize?: number;
  /** Extra fields of the central and local headers. */
  extra?: Buffer;
  localExtra?: Buffer;
}

/** Little-endian fields, [width in bytes, value] each, one after another. */
export function le(...fields: Array<[1 | 2 | 4 | 8, number]>): Buffer {
  return Buffer.concat(
    fields.map(([w, v]) => {
      const b = Buffer.alloc(w);
      if (w === 8) b.writeBigUInt64LE(BigInt(v));
      else b.writeUIntLE(v, 0, w);
      return b;
    }),
  );
}

/** An Info-ZIP Unicode Path extra (0x7075): version 1, a (here deliberately wrong) name CRC, the UTF-8 name. */
export function unicodePathExtra(name: string, nameCrc = 0xdeadbeef): Buffer {
  const n = Buffer.from(name, 'utf8');
  const b = le([2, 0x7075], [2, 5 + n.length], [1, 1], [4, nameCrc]);
  return Buffer.concat([b, n]);
}

/** A zip with full control of both headers; `count` overrides the EOCD entry counts. */
export function rawZip(members: RawZipMember[], count = members.length): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const m of members) {
    const payload = m.deflate ? Buffer.from(deflateSync(m.data)) : m.data;
    const method = m.deflate ? 8 : 0;
    const name = Buffer.from(m.name, 'latin1');
    const lname = Buffer.from(m.localName ?? m.name, 'latin1');
    const extra = m.extra ?? Buffer.alloc(0);
    const lextra = m.localExtra ?? extra;
    const usize = m.declaredSize ?? m.data.length;
    const crc = crc32(m.data);
    // Local header: signature, version, flags, method, time+date, CRC, sizes, name and extra lengths.
    const lh = le([4, 0x04034b50], [2, 20], [2, 0], [2, method], [4, 0], [4, crc], [4, payload.length], [4, usize], [2, lname.length], [2, lextra.length]);
    const local = Buffer.concat([lh, lname, lextra, payload]);
    // Central header: the same plus version made by, comment/disk/attribute fields and the local offset.
    const ch = le([4, 0x02014b50], [2, 20], [2, 20], [2, 0], [2, method], [4, 0], [4, crc], [4, payload.length], [4, usize], [2, name.length], [2, extra.length], [2, 0], [2, 0], [2, 0], [4, 0], [4, offset]);
    centrals.push(Buffer.concat([ch, name, extra]));
    locals.push(local);
    offset += local.length;
  }
  const cd = Buffer.concat(centrals);
  const end = le([4, 0x06054b50], [2, 0], [2, 0], [2, count], [2, count], [4, cd.length], [4, offset], [2, 0]);
  return Buffer.concat([...locals, cd, end]);
}

// ───────────────────────────── RAR 1.5–4 ─────────────────────────────

/** A RAR 1.5–4 block: CRC16 (of what follows it), type, flags, size, fields, then the data area. */
function rar4Head(type: number, flags: number, fields: Buffer, data = Buffer.alloc(0)): Buffer {
  const h = Buffer.concat([le([1, type], [2, flags], [2, 7 + fields.length]), fields]);
  return Buffer.concat([le([2, crc32(h) & 0xffff]), h, data]);
}

/** One stored member whose raw name field and file flags are given (0x0200 = LHD_UNICODE). */
export function rar4RawName(nameField: Buffer, fileFlags: number, data = Buffer.from('hello')): Buffer {
  // PACK_SIZE, UNP_SIZE, HOST_OS, FILE_CRC, FTIME, UNP_VER, METHOD (store), NAME_SIZE, ATTR.
  const fields = le([4, data.length], [4, data.length], [1, 2], [4, crc32(data)], [4, 0], [1, 29], [1, 0x30], [2, nameField.length], [4, 0x20]);
  return Buffer.concat([
    Buffer.from('Rar!\x1a\x07\x00', 'latin1'),
    rar4Head(0x73, 0, Buffer.alloc(6)),
    rar4Head(0x74, 0x8000 | fileFlags, Buffer.concat([fields, nameField]), data),
    rar4Head(0x7b, 0x4000, Buffer.alloc(0)),
  ]);
}

/** The auditor's encoding: ASCII part, NUL, high byte 0, then groups of a flags byte 0 (four "one byte" steps) and 4 bytes. */
export function rar4UnicodeField(ascii: string, shown: string): Buffer {
  const enc: number[] = [0x00];
  const chars = Buffer.from(shown, 'latin1');
  for (let i = 0; i < chars.length; i += 4) enc.push(0x00, ...chars.subarray(i, i + 4));
  return Buffer.concat([Buffer.from(ascii, 'latin1'), Buffer.from([0]), Buffer.from(enc)]);
}

// ───────────────────────────── 7z ─────────────────────────────

/** Signature header (version 0.4, start header CRC, next header offset/size/CRC), the packed body, the next header. */
export function sevenZipRaw(body: Buffer, next: Buffer): Buffer {
  const start = le([8, body.length], [8, next.length], [4, crc32(next)]);
  return Buffer.concat([Buffer.from([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c, 0x00, 0x04]), le([4, crc32(start)]), start, body, next]);
}

/**
 * The auditor's plain Header: one pack stream of `dataLen` bytes, one folder with one coder
 * (`fileCoder`, default Copy), an empty SubStreamsInfo, then FilesInfo for one file: `before`
 * (raw properties, e.g. a kDummy) ahead of its kName. `archiveProps`: raw ArchiveProperties entries.
 */
export function sevenZipHeader(name: string, dataLen: number, opts: { fileCoder?: Buffer; before?: Buffer; archiveProps?: Buffer; withName?: boolean } = {}): Buffer {
  const nm = Buffer.from(`${name}\0`, 'utf16le');
  const kName = opts.withName === false ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x11, 1 + nm.length, 0x00]), nm]);
  return Buffer.concat([
    Buffer.from([0x01]),
    opts.archiveProps ? Buffer.concat([Buffer.from([0x02]), opts.archiveProps, Buffer.from([0x00])]) : Buffer.alloc(0),
    Buffer.from([0x04, 0x06, 0x00, 0x01, 0x09, dataLen, 0x00, 0x07, 0x0b, 0x01, 0x00, 0x01]),
    opts.fileCoder ?? Buffer.from([0x01, 0x00]),
    Buffer.from([0x0c, dataLen, 0x00, 0x08, 0x00, 0x00, 0x05, 0x01]),
    opts.before ?? Buffer.alloc(0),
    kName,
    Buffer.from([0x00, 0x00]),
  ]);
}

/**
 * A whole 7z whose header (`plain`) is packed into `packed`, right after the file `data`, by the
 * folder `coders` (count first; Copy: [1, 0x01, 0x00]). `extraSizes`: unpack sizes of further coder outputs.
 */
export function sevenZipPacked(data: Buffer, plain: Buffer, packed: Buffer, coders: Buffer, extraSizes: number[] = []): Buffer {
  const next = Buffer.concat([
    Buffer.from([0x17, 0x06, data.length, 0x01, 0x09, packed.length, 0x00, 0x07, 0x0b, 0x01, 0x00]),
    coders,
    Buffer.from([0x0c, plain.length, ...extraSizes, 0x00, 0x00]),
  ]);
  return sevenZipRaw(Buffer.concat([data, packed]), next);
}

/**
 * The auditor's exe_lzma2.7z and aes_lzma2.7z (made with Python's lzma, i.e. liblzma): headers
 * packed with LZMA2 (one chunk, control 0xE0), listing setup.exe, and doc.pdf in a 7zAES folder.
 */
export const SEVEN_Z_LZMA2_EXE = Buffer.from(
  '377abcaf271c0004540aaa105f0000000000000014000000000000003276dd9168656c6c6f20776f726c642c20746869' +
    '73206973206e6f74207265616c6c7920612070726f6772616de0002f002e5d0000813307ae0fd096e47c9f3f47673f27' +
    '99d06e2486fb909510b37268c1fecf6f21bd024b6b4ffa94575a7da400000017062901093600070b010001212101080c' +
    '300000',
  'hex',
);
export const SEVEN_Z_LZMA2_AES = Buffer.from(
  '377abcaf271c0004b8e9675c58000000000000001400000000000000c4a2298700000000000000000000000000000000' +
    '00000000000000000000000000000000e0003100305d0000813307ae0fd00eb03c9f3f474196240f44bf5a593b2cc1d4' +
    '4de587c685998c5c434ddca489f2880ec67fcb2597e0000017062001093800070b010001212101080c320000',
  'hex',
);
