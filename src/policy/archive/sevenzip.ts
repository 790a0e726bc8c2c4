/**
 * 7z: is 7zAES (coder id 06 F1 07 01) used, and which member names are visible? The signature
 * header points at the next header, which is either a plain Header (0x01) or an EncodedHeader
 * (0x17): a StreamsInfo saying how the real header is packed. If a coder there is 7zAES the
 * headers are encrypted (7z -mhe: names unreadable, reported as such). Otherwise the packed
 * header is unpacked when its one coder is Copy, LZMA (7-Zip's default, also with `-p` alone;
 * the `lzma` package) or LZMA2 made of chunks that each reset the dictionary (the same decoder
 * per chunk), bounded by MAX_HEADER_BYTES; any other packing cannot be checked.
 *
 * The header is parsed structurally, property by property (IDs and sizes per 7zFormat.txt), as
 * 7-Zip reads it: names come only from FilesInfo's kName, never from bytes that merely look like
 * a name list (kDummy, archive properties). Anything that does not parse is ArchiveLimitError
 * ("cannot be checked"), never an empty, clean listing.
 */
import { decompress } from 'lzma';
import { ArchiveLimitError } from './zip.js';

export interface SevenZipInfo {
  /** 7zAES used for files or for the header. */
  encrypted: boolean;
  /** The header itself is encrypted: member names cannot be read. */
  headersEncrypted: boolean;
  /** Member names from the header (empty only when there are none or the header is encrypted). */
  names: string[];
}

const SIG = Buffer.from([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c]);
const AES = Buffer.from([0x06, 0xf1, 0x07, 0x01]);
const LZMA = Buffer.from([0x03, 0x01, 0x01]);
const LZMA2 = Buffer.from([0x21]);
const MAX_HEADER_BYTES = 16 * 1024 * 1024;

/** Property IDs (7zFormat.txt). */
const K = {
  end: 0x00,
  header: 0x01,
  archiveProperties: 0x02,
  additionalStreamsInfo: 0x03,
  mainStreamsInfo: 0x04,
  filesInfo: 0x05,
  packInfo: 0x06,
  unpackInfo: 0x07,
  subStreamsInfo: 0x08,
  size: 0x09,
  crc: 0x0a,
  folder: 0x0b,
  codersUnpackSize: 0x0c,
  numUnpackStream: 0x0d,
  name: 0x11,
  encodedHeader: 0x17,
} as const;

const bad = (why: string): never => {
  throw new ArchiveLimitError(`7z: ${why}`);
};

class Reader {
  constructor(
    readonly b: Buffer,
    public p = 0,
  ) {}
  byte(): number {
    if (this.p >= this.b.length) bad('truncated header');
    return this.b[this.p++] as number;
  }
  /** 7z's variable-length NUMBER. */
  number(): number {
    const first = this.byte();
    let mask = 0x80;
    let value = 0;
    for (let i = 0; i < 8; i++) {
      if ((first & mask) === 0) {
        value += (first & (mask - 1)) * 2 ** (8 * i);
        break;
      }
      value += this.byte() * 2 ** (8 * i);
      mask >>= 1;
    }
    if (!Number.isSafeInteger(value)) bad('number out of range');
    return value;
  }
  /** A count of things, bounded. */
  count(max: number, what: string): number {
    const n = this.number();
    if (n > max) bad(`too many ${what}`);
    return n;
  }
  bytes(n: number): Buffer {
    if (n < 0 || this.p + n > this.b.length) bad('truncated header');
    const out = this.b.subarray(this.p, this.p + n);
    this.p += n;
    return out;
  }
  expect(id: number, what: string): void {
    if (this.byte() !== id) bad(`bad ${what}`);
  }
}

interface Coder {
  id: Buffer;
  props: Buffer;
}

interface Folder {
  coders: Coder[];
  unpackSizes: number[];
  crcDefined: boolean;
}

interface StreamsInfo {
  packPos: number;
  packSizes: number[];
  folders: Folder[];
}

/** Digests: all-defined byte or a bit vector, then a CRC-32 per defined item. Returns which are defined. */
function readDigests(r: Reader, n: number): boolean[] {
  const all = r.byte();
  // n comes from the archive (substream counts multiply): a defined digest takes 4 bytes and the
  // bit vector n/8, so a count the header cannot hold is refused before anything is allocated for it.
  const left = r.b.length - r.p;
  if (all ? 4 * n > left : Math.ceil(n / 8) > left) bad('truncated header');
  const bits = all ? null : r.bytes(Math.ceil(n / 8));
  const defined = Array.from({ length: n }, (_, i) => bits === null || ((((bits[i >> 3] as number) >> (7 - (i & 7))) & 1) === 1));
  r.bytes(4 * defined.filter(Boolean).length);
  return defined;
}

function readFolder(r: Reader): { folder: Folder; outs: number } {
  const nc = r.number();
  if (nc < 1 || nc > 32) bad('bad coder count');
  const coders: Coder[] = [];
  let totalIn = 0;
  let totalOut = 0;
  for (let c = 0; c < nc; c++) {
    const flag = r.byte();
    if (flag & 0xc0) bad('reserved coder flags');
    const id = r.bytes(flag & 0x0f);
    const nIn = flag & 0x10 ? r.count(32, 'coder streams') : 1;
    const nOut = flag & 0x10 ? r.count(32, 'coder streams') : 1;
    const props = flag & 0x20 ? r.bytes(r.number()) : Buffer.alloc(0);
    coders.push({ id, props });
    totalIn += nIn;
    totalOut += nOut;
  }
  if (totalOut < 1) bad('folder without output');
  for (let i = 0; i < totalOut - 1; i++) {
    r.number(); // bind pair: in index
    r.number(); // out index
  }
  const packed = totalIn - (totalOut - 1);
  if (packed < 1) bad('bad bind pairs');
  if (packed > 1) for (let i = 0; i < packed; i++) r.number();
  return { folder: { coders, unpackSizes: [], crcDefined: false }, outs: totalOut };
}

function readStreamsInfo(r: Reader): StreamsInfo {
  const info: StreamsInfo = { packPos: 0, packSizes: [], folders: [] };
  let id = r.byte();
  if (id === K.packInfo) {
    info.packPos = r.number();
    const n = r.count(1000, 'pack streams');
    for (id = r.byte(); id !== K.end; id = r.byte()) {
      if (id === K.size) for (let i = 0; i < n; i++) info.packSizes.push(r.number());
      else if (id === K.crc) readDigests(r, n);
      else bad('bad PackInfo');
    }
    if (info.packSizes.length !== n) bad('PackInfo without sizes');
    id = r.byte();
  }
  if (id === K.unpackInfo) {
    r.expect(K.folder, 'UnpackInfo');
    const nf = r.count(10000, 'folders');
    if (r.byte() !== 0) bad('external folders');
    const outs: number[] = [];
    for (let f = 0; f < nf; f++) {
      const { folder, outs: o } = readFolder(r);
      info.folders.push(folder);
      outs.push(o);
    }
    r.expect(K.codersUnpackSize, 'UnpackInfo (no unpack sizes)');
    info.folders.forEach((f, i) => {
      for (let k = 0; k < (outs[i] as number); k++) f.unpackSizes.push(r.number());
    });
    id = r.byte();
    if (id === K.crc) {
      readDigests(r, nf).forEach((d, i) => ((info.folders[i] as Folder).crcDefined = d));
      id = r.byte();
    }
    if (id !== K.end) bad('bad UnpackInfo end');
    id = r.byte();
  }
  if (id === K.subStreamsInfo) {
    readSubStreamsInfo(r, info.folders);
    id = r.byte();
  }
  if (id !== K.end) bad('bad StreamsInfo');
  return info;
}

function readSubStreamsInfo(r: Reader, folders: Folder[]): void {
  const counts = folders.map(() => 1);
  let id = r.byte();
  if (id === K.numUnpackStream) {
    for (let i = 0; i < folders.length; i++) counts[i] = r.count(1_000_000, 'substreams');
    id = r.byte();
  }
  if (id === K.size) {
    for (const n of counts) for (let k = 1; k < n; k++) r.number();
    id = r.byte();
  }
  const unknownCrcs = counts.reduce((s, n, i) => s + (n === 1 && (folders[i] as Folder).crcDefined ? 0 : n), 0);
  for (; id !== K.end; id = r.byte()) {
    if (id === K.crc) readDigests(r, unknownCrcs);
    else bad('bad SubStreamsInfo');
  }
}

/** FilesInfo: the number of files, then properties (ID, size, data) up to kEnd; names from kName only. */
function readFilesInfo(r: Reader, maxEntries: number): string[] {
  const numFiles = r.count(maxEntries, 'files');
  let names: string[] | null = null;
  for (let id = r.number(); id !== K.end; id = r.number()) {
    const data = r.bytes(r.number());
    if (id !== K.name) continue; // kEmptyStream, kEmptyFile, times, attributes, kDummy…: skipped by their size
    if (names) bad('two name lists');
    if (data.length < 1 || data[0] !== 0) bad('names stored outside the header');
    const text = data.subarray(1);
    if (text.length % 2 !== 0) bad('bad name list');
    const all = text.toString('utf16le');
    if (!all.endsWith('\0') && numFiles > 0) bad('bad name list');
    names = numFiles > 0 ? all.slice(0, -1).split('\0') : [];
    if (names.length !== numFiles || (numFiles === 0 && text.length > 0)) bad('name list does not match the number of files');
  }
  if (!names && numFiles > 0) bad('files without names');
  return names ?? [];
}

/** The plain Header (its 0x01 already read): archive properties, streams, files, kEnd. */
function readHeader(r: Reader, maxEntries: number): { folders: Folder[]; names: string[] } {
  const folders: Folder[] = [];
  let names: string[] = [];
  let id = r.byte();
  if (id === K.archiveProperties) {
    for (let t = r.number(); t !== 0; t = r.number()) r.bytes(r.number());
    id = r.byte();
  }
  if (id === K.additionalStreamsInfo) {
    folders.push(...readStreamsInfo(r).folders);
    id = r.byte();
  }
  if (id === K.mainStreamsInfo) {
    folders.push(...readStreamsInfo(r).folders);
    id = r.byte();
  }
  if (id === K.filesInfo) {
    names = readFilesInfo(r, maxEntries);
    id = r.byte();
  }
  if (id !== K.end) bad(`unexpected property ${id} in the header`);
  return { folders, names };
}

const isAes = (c: Coder): boolean => c.id.equals(AES);

/**
 * One LZMA stream through the `lzma` package's .lzma ("alone") decoder. The dictionary given to
 * it is the output size (never more is needed; the archive's value could ask for gigabytes).
 */
function lzmaAlone(propsByte: number, packed: Buffer, size: number): Buffer {
  const head = Buffer.alloc(13);
  head[0] = propsByte;
  head.writeUInt32LE(Math.max(size, 4096), 1);
  head.writeBigUInt64LE(BigInt(size), 5);
  let out: string | number[];
  try {
    out = decompress(Buffer.concat([head, packed]));
  } catch (e) {
    return bad(`header does not unpack (${e instanceof Error ? e.message : String(e)})`);
  }
  // A string is the decoder's reading of the bytes as UTF-8 (it also takes overlong forms and
  // lone surrogates): it maps back to the same bytes only when none of those occur.
  if (typeof out === 'string' && /[\ud800-\udfff]/.test(out)) bad('header does not unpack (ambiguous text output)');
  const bytes = typeof out === 'string' ? Buffer.from(out, 'utf8') : Buffer.from(out.map((x) => x & 0xff));
  if (bytes.length !== size) bad('header unpacks to the wrong size');
  return bytes;
}

/**
 * LZMA2: chunks, each a control byte: 0 = end; 1/2 = stored chunk (with/without dictionary
 * reset), 16-bit size − 1; 0x80–0xFF = LZMA chunk, unpacked size − 1 in 21 bits, packed size − 1
 * in 16, bits 5–6 = what is reset (3 = dictionary, state and new properties byte). Only chunks
 * that reset the dictionary can go through the one-stream decoder; one that continues the
 * previous chunk's dictionary cannot be unpacked here, so the header cannot be checked.
 */
function unpackLzma2(coder: Coder, packed: Buffer, size: number): Buffer {
  if (coder.props.length !== 1 || (coder.props[0] as number) > 40) bad('bad LZMA2 properties');
  const out: Buffer[] = [];
  let total = 0;
  let p = 0;
  const need = (n: number): void => {
    if (p + n > packed.length) bad('truncated LZMA2 header');
  };
  for (;;) {
    need(1);
    const c = packed[p++] as number;
    if (c === 0x00) break;
    if (c === 0x01 || c === 0x02) {
      if (c === 0x02 && total === 0) bad('LZMA2 header without a dictionary reset');
      need(2);
      const n = packed.readUInt16BE(p) + 1;
      p += 2;
      need(n);
      out.push(packed.subarray(p, p + n));
      p += n;
    } else if (c >= 0x80) {
      need(4);
      const unp = (c & 0x1f) * 0x10000 + packed.readUInt16BE(p) + 1;
      const pk = packed.readUInt16BE(p + 2) + 1;
      p += 4;
      if (((c >> 5) & 3) !== 3) bad('LZMA2 header chunk continues the previous dictionary (not unpacked here)');
      need(1 + pk);
      const props = packed[p++] as number;
      out.push(lzmaAlone(props, packed.subarray(p, p + pk), unp));
      p += pk;
    } else bad('bad LZMA2 control byte');
    total += (out[out.length - 1] as Buffer).length;
    if (total > size) bad('header unpacks to the wrong size');
  }
  if (total !== size) bad('header unpacks to the wrong size');
  return Buffer.concat(out);
}

function unpackHeader(coder: Coder, packed: Buffer, size: number): Buffer {
  if (size > MAX_HEADER_BYTES) bad('header too large');
  if (coder.id.length === 0 || coder.id.equals(Buffer.from([0x00]))) {
    if (packed.length !== size) bad('stored header of the wrong size');
    return packed;
  }
  if (coder.id.equals(LZMA)) {
    if (coder.props.length !== 5) bad('bad LZMA properties');
    return lzmaAlone(coder.props[0] as number, packed, size);
  }
  if (coder.id.equals(LZMA2)) return unpackLzma2(coder, packed, size);
  return bad(`header packed with coder ${coder.id.toString('hex')} (cannot be unpacked here)`);
}

export function read7z(buf: Buffer, maxEntries = 100_000): SevenZipInfo {
  if (buf.length < 32 || !buf.subarray(0, 6).equals(SIG)) bad('no signature');
  const nextOffset = Number(buf.readBigUInt64LE(12));
  const nextSize = Number(buf.readBigUInt64LE(20));
  const start = 32 + nextOffset;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(nextSize) || start + nextSize > buf.length || nextSize < 1) bad('next header out of range');
  let header = buf.subarray(start, start + nextSize);
  // An encoded header may itself be encoded: unwrap a few levels at most.
  for (let level = 0; header[0] === K.encodedHeader; level++) {
    if (level >= 4) bad('header encoded too many times');
    const info = readStreamsInfo(new Reader(header, 1));
    if (info.folders.some((f) => f.coders.some(isAes))) return { encrypted: true, headersEncrypted: true, names: [] };
    const folder = info.folders[0];
    const coder = folder?.coders[0];
    if (!folder || !coder || info.folders.length !== 1 || folder.coders.length !== 1 || info.packSizes.length !== 1) {
      bad('encoded header with a coder chain (cannot be unpacked here)');
    }
    const packStart = 32 + info.packPos;
    const packSize = info.packSizes[0] as number;
    if (!Number.isSafeInteger(packStart + packSize) || packStart + packSize > buf.length) bad('packed header out of range');
    header = unpackHeader(coder as Coder, buf.subarray(packStart, packStart + packSize), (folder as Folder).unpackSizes[0] ?? 0);
  }
  const r = new Reader(header);
  r.expect(K.header, 'header type');
  const { folders, names } = readHeader(r, maxEntries);
  return { encrypted: folders.some((f) => f.coders.some(isAes)), headersEncrypted: false, names };
}
