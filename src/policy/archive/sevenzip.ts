/**
 * 7z: is 7zAES (coder id 06 F1 07 01) used, and which member names are visible? The signature
 * header points at the next header, which is either a plain Header (0x01) or an EncodedHeader
 * (0x17): a StreamsInfo saying how the real header is packed. If that coder is 7zAES the
 * headers are encrypted (7z -mhe); if it is LZMA (7-Zip's default, also with `-p` alone) the
 * header is unpacked here (the `lzma` package, bounded by MAX_HEADER_BYTES) and read: 7zAES
 * among the file coders means encrypted files. Any other packing → `headerPacked` (not read).
 */
import { decompress } from 'lzma';
import { ArchiveLimitError } from './zip.js';

export interface SevenZipInfo {
  encrypted: boolean;
  /** The real header is packed with a coder we do not unpack, so it was not read. */
  headerPacked: boolean;
  /** Member names read from the header (empty when it could not be read). */
  names: string[];
}

const SIG = Buffer.from([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c]);
const AES = Buffer.from([0x06, 0xf1, 0x07, 0x01]);
const LZMA = Buffer.from([0x03, 0x01, 0x01]);
const MAX_HEADER_BYTES = 16 * 1024 * 1024;

class Reader {
  constructor(
    readonly b: Buffer,
    public p = 0,
  ) {}
  byte(): number {
    if (this.p >= this.b.length) throw new ArchiveLimitError('7z: truncated header');
    return this.b[this.p++] as number;
  }
  /** 7z's variable-length NUMBER. */
  number(): number {
    const first = this.byte();
    let mask = 0x80;
    let value = 0;
    for (let i = 0; i < 8; i++) {
      if ((first & mask) === 0) return value + (first & (mask - 1)) * 2 ** (8 * i);
      value += this.byte() * 2 ** (8 * i);
      mask >>= 1;
    }
    return value;
  }
  bytes(n: number): Buffer {
    if (n < 0 || this.p + n > this.b.length) throw new ArchiveLimitError('7z: truncated header');
    const out = this.b.subarray(this.p, this.p + n);
    this.p += n;
    return out;
  }
}

interface Coder {
  id: Buffer;
  props: Buffer;
}

interface StreamsInfo {
  packPos: number;
  packSizes: number[];
  folders: Array<{ coders: Coder[]; unpackSizes: number[] }>;
}

function skipDigests(r: Reader, n: number): void {
  const all = r.byte();
  let defined = n;
  if (!all) {
    const bits = r.bytes(Math.ceil(n / 8));
    defined = 0;
    for (let i = 0; i < n; i++) if (((bits[i >> 3] as number) >> (7 - (i & 7))) & 1) defined++;
  }
  r.bytes(4 * defined);
}

function readStreamsInfo(r: Reader): StreamsInfo {
  const info: StreamsInfo = { packPos: 0, packSizes: [], folders: [] };
  let id = r.byte();
  if (id === 0x06) {
    info.packPos = r.number();
    const n = r.number();
    if (n > 1000) throw new ArchiveLimitError('7z: too many pack streams');
    id = r.byte();
    if (id === 0x09) {
      for (let i = 0; i < n; i++) info.packSizes.push(r.number());
      id = r.byte();
    }
    if (id === 0x0a) {
      skipDigests(r, n);
      id = r.byte();
    }
    if (id !== 0x00) throw new ArchiveLimitError('7z: bad PackInfo');
    id = r.byte();
  }
  if (id === 0x07) {
    if (r.byte() !== 0x0b) throw new ArchiveLimitError('7z: bad UnpackInfo');
    const nf = r.number();
    if (nf > 10000) throw new ArchiveLimitError('7z: too many folders');
    if (r.byte() !== 0) throw new ArchiveLimitError('7z: external folders');
    const outs: number[] = [];
    for (let f = 0; f < nf; f++) {
      const nc = r.number();
      if (nc < 1 || nc > 32) throw new ArchiveLimitError('7z: bad coder count');
      const coders: Coder[] = [];
      let totalIn = 0;
      let totalOut = 0;
      for (let c = 0; c < nc; c++) {
        const flag = r.byte();
        if (flag & 0x80) throw new ArchiveLimitError('7z: alternative coders');
        const cid = r.bytes(flag & 0x0f);
        let nIn = 1;
        let nOut = 1;
        if (flag & 0x10) {
          nIn = r.number();
          nOut = r.number();
        }
        const props = flag & 0x20 ? r.bytes(r.number()) : Buffer.alloc(0);
        coders.push({ id: cid, props });
        totalIn += nIn;
        totalOut += nOut;
      }
      for (let i = 0; i < totalOut - 1; i++) {
        r.number();
        r.number();
      }
      const packed = totalIn - (totalOut - 1);
      if (packed > 1) for (let i = 0; i < packed; i++) r.number();
      info.folders.push({ coders, unpackSizes: [] });
      outs.push(totalOut);
    }
    if (r.byte() !== 0x0c) throw new ArchiveLimitError('7z: no unpack sizes');
    info.folders.forEach((f, i) => {
      for (let k = 0; k < (outs[i] as number); k++) f.unpackSizes.push(r.number());
    });
    id = r.byte();
    if (id === 0x0a) {
      skipDigests(r, nf);
      id = r.byte();
    }
    if (id !== 0x00) throw new ArchiveLimitError('7z: bad UnpackInfo end');
  }
  return info;
}

function unpackLzma(coder: Coder, packed: Buffer, size: number): Buffer {
  if (coder.props.length !== 5) throw new ArchiveLimitError('7z: bad LZMA properties');
  if (size > MAX_HEADER_BYTES) throw new ArchiveLimitError('7z: header too large');
  const head = Buffer.alloc(13);
  coder.props.copy(head, 0);
  head.writeBigUInt64LE(BigInt(size), 5);
  let out: string | number[];
  try {
    out = decompress(Buffer.concat([head, packed]));
  } catch (e) {
    throw new ArchiveLimitError(`7z: header does not unpack (${e instanceof Error ? e.message : String(e)})`);
  }
  const bytes = typeof out === 'string' ? Buffer.from(out, 'utf8') : Buffer.from(out.map((x) => x & 0xff));
  if (bytes.length !== size) throw new ArchiveLimitError('7z: header unpacks to the wrong size');
  return bytes;
}

export function read7z(buf: Buffer): SevenZipInfo {
  if (buf.length < 32 || !buf.subarray(0, 6).equals(SIG)) throw new ArchiveLimitError('7z: no signature');
  const nextOffset = Number(buf.readBigUInt64LE(12));
  const nextSize = Number(buf.readBigUInt64LE(20));
  const start = 32 + nextOffset;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(nextSize) || start + nextSize > buf.length || nextSize < 1) {
    throw new ArchiveLimitError('7z: next header out of range');
  }
  let header = buf.subarray(start, start + nextSize);
  // An encoded header may itself be encoded: unwrap a few levels at most.
  for (let level = 0; level < 4 && header[0] === 0x17; level++) {
    const r = new Reader(header, 1);
    const info = readStreamsInfo(r);
    const folder = info.folders[0];
    if (!folder) throw new ArchiveLimitError('7z: encoded header without a folder');
    if (info.folders.some((f) => f.coders.some((c) => c.id.equals(AES)))) return { encrypted: true, headerPacked: false, names: [] };
    const only = folder.coders.length === 1 ? folder.coders[0] : undefined;
    if (!only || !only.id.equals(LZMA)) return { encrypted: hasAesCoder(header), headerPacked: true, names: [] };
    const packStart = 32 + info.packPos;
    const packSize = info.packSizes[0] ?? 0;
    if (packStart + packSize > buf.length) throw new ArchiveLimitError('7z: packed header out of range');
    header = unpackLzma(only, buf.subarray(packStart, packStart + packSize), folder.unpackSizes[0] ?? 0);
  }
  if (header[0] !== 0x01) throw new ArchiveLimitError(`7z: unknown header type ${String(header[0])}`);
  return { encrypted: hasAesCoder(header), headerPacked: false, names: namesOf(header) };
}

/** A coder entry is a flags byte (low nibble = id size) then the id: find 4-byte ids equal to 7zAES. */
function hasAesCoder(h: Buffer): boolean {
  for (let i = h.indexOf(AES); i >= 0; i = h.indexOf(AES, i + 1)) {
    const flag = h[i - 1];
    if (flag !== undefined && (flag & 0x0f) === 4) return true;
  }
  return false;
}

/**
 * The kName property (0x11) of FilesInfo: size, external flag 0, then UTF-16LE names each ended
 * by a NUL. Found by shape (a full FilesInfo walk needs every substream count), checked strictly.
 */
function namesOf(h: Buffer): string[] {
  for (let i = h.indexOf(0x11); i >= 0; i = h.indexOf(0x11, i + 1)) {
    try {
      const r = new Reader(h, i + 1);
      const size = r.number();
      if (size < 3 || r.byte() !== 0) continue;
      const data = r.bytes(size - 1);
      if (data.length % 2 !== 0 || data.readUInt16LE(data.length - 2) !== 0) continue;
      const names = data.subarray(0, data.length - 2).toString('utf16le').split('\0');
      if (names.every((n) => n.length > 0 && !/[\u0000-\u001f]/.test(n))) return names;
    } catch {
      /* not this one */
    }
  }
  return [];
}
