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
