/**
 * Zip reading for inspection only: the central directory parsed by hand (names, sizes, flags,
 * encryption), and bounded inflation (fflate) of one member. Nothing is ever expanded beyond
 * the caller's byte budget: a member that would exceed it stops with ArchiveLimitError.
 */
import { Inflate, inflateSync } from 'fflate';
import iconv from 'iconv-lite';

export class ArchiveLimitError extends Error {
  override readonly name = 'ArchiveLimitError';
}

export interface ZipEntry {
  /** The name shown (the Unicode Path extra's when present, else the central directory's). */
  name: string;
  /**
   * Every name the member can be saved under, distinct: the central directory's, its Unicode
   * Path extra (0x7075, whatever its CRC says: some tools use it anyway), the local header's and
   * the local header's 0x7075. Extractors differ in which they use; all are checked.
   */
  names: string[];
  flags: number;
  method: number;
  compressedSize: number;
  uncompressedSize: number;
  localOffset: number;
  /** PKWARE traditional (flag bit 0) or AES (method 99 / extra 0x9901). */
  encrypted: boolean;
  aes: boolean;
  /** Start and end of the member's bytes in the archive (local header through data). */
  span: [number, number];
}

export interface ZipDirectory {
  entries: ZipEntry[];
}

const EOCD = 0x06054b50;
const CDH = 0x02014b50;
const LFH = 0x04034b50;
const LFH_SIG = Buffer.from([0x50, 0x4b, 0x03, 0x04]);

/**
 * Parse a zip's central directory. Throws ArchiveLimitError (unscannable) on anything malformed
 * or over limits. Records are read until the directory's byte size is used up; an entry count
 * (EOCD or zip64) that disagrees with them is refused rather than trusted either way.
 */
export function readZipDirectory(buf: Buffer, maxEntries: number): ZipDirectory {
  if (buf.length < 22) throw new ArchiveLimitError('zip: too short');
  let eocd = -1;
  const stop = Math.max(0, buf.length - 22 - 0xffff);
  for (let i = buf.length - 22; i >= stop; i--) {
    if (buf.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new ArchiveLimitError('zip: no end of central directory');
  const diskCount = buf.readUInt16LE(eocd + 8);
  let count = buf.readUInt16LE(eocd + 10);
  let cdSize = buf.readUInt32LE(eocd + 12);
  let cdOffset = buf.readUInt32LE(eocd + 16);
  if (count === 0xffff || diskCount === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    // Zip64: locator right before the EOCD, then the zip64 EOCD record.
    const loc = eocd - 20;
    if (loc < 0 || buf.readUInt32LE(loc) !== 0x07064b50) throw new ArchiveLimitError('zip64: no locator');
    const rec = Number(buf.readBigUInt64LE(loc + 8));
    if (!Number.isSafeInteger(rec) || rec + 56 > buf.length || buf.readUInt32LE(rec) !== 0x06064b50) throw new ArchiveLimitError('zip64: bad record');
    const diskCount64 = Number(buf.readBigUInt64LE(rec + 24));
    count = Number(buf.readBigUInt64LE(rec + 32));
    if (diskCount64 !== count) throw new ArchiveLimitError('zip64: entry counts disagree');
    cdSize = Number(buf.readBigUInt64LE(rec + 40));
    cdOffset = Number(buf.readBigUInt64LE(rec + 48));
  } else if (diskCount !== count) throw new ArchiveLimitError('zip: entry counts disagree');
  if (count > maxEntries) throw new ArchiveLimitError(`zip: ${count} entries (limit ${maxEntries})`);
  if (!Number.isSafeInteger(cdSize) || !Number.isSafeInteger(cdOffset)) throw new ArchiveLimitError('zip: central directory out of range');
  // Prefixed archives (self-extractors, junk before PK): shift offsets by the difference.
  const shift = eocd - (cdOffset + cdSize) > 0 && cdOffset + cdSize <= eocd ? eocd - (cdOffset + cdSize) : 0;
  let p = cdOffset + shift;
  const cdStart = p;
  const cdEnd = p + cdSize;
  if (p < 0 || cdEnd > buf.length) throw new ArchiveLimitError('zip: central directory out of range');
  const entries: ZipEntry[] = [];
  while (p < cdEnd) {
    if (entries.length >= maxEntries) throw new ArchiveLimitError(`zip: more than ${maxEntries} entries`);
    if (p + 46 > cdEnd || buf.readUInt32LE(p) !== CDH) throw new ArchiveLimitError('zip: truncated central directory');
    const flags = buf.readUInt16LE(p + 8);
    const method = buf.readUInt16LE(p + 10);
    let csize = buf.readUInt32LE(p + 20);
    let usize = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    let local = buf.readUInt32LE(p + 42);
    if (p + 46 + nameLen + extraLen + commentLen > cdEnd) throw new ArchiveLimitError('zip: truncated entry');
    const name = decodeName(buf.subarray(p + 46, p + 46 + nameLen), flags);
    const extra = buf.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen);
    let aes = method === 99;
    for (let e = 0; e + 4 <= extra.length; ) {
      const id = extra.readUInt16LE(e);
      const size = extra.readUInt16LE(e + 2);
      const data = extra.subarray(e + 4, e + 4 + size);
      if (id === 0x9901) aes = true;
      if (id === 0x0001) {
        let q = 0;
        const next = (): number => {
          if (q + 8 > data.length) throw new ArchiveLimitError('zip64: short extra');
          const v = Number(data.readBigUInt64LE(q));
          q += 8;
          return v;
        };
        if (usize === 0xffffffff) usize = next();
        if (csize === 0xffffffff) csize = next();
        if (local === 0xffffffff) local = next();
      }
      e += 4 + size;
    }
    // Unicode path extra field (0x7075) carries the real name for non-UTF-8 archivers.
    const upath = unicodePath(extra);
    const realName = upath ?? name;
    local += shift;
    if (!Number.isSafeInteger(csize) || !Number.isSafeInteger(usize) || !Number.isSafeInteger(local)) throw new ArchiveLimitError('zip: sizes out of range');
    if (local + 30 > buf.length || buf.readUInt32LE(local) !== LFH) throw new ArchiveLimitError(`zip: bad local header for ${realName}`);
    const lNameLen = buf.readUInt16LE(local + 26);
    const lExtraLen = buf.readUInt16LE(local + 28);
    const dataStart = local + 30 + lNameLen + lExtraLen;
    if (dataStart > buf.length) throw new ArchiveLimitError(`zip: truncated local header for ${realName}`);
    // The local header's own name (and its 0x7075): what streaming extractors (bsdtar) save under.
    const localName = decodeName(buf.subarray(local + 30, local + 30 + lNameLen), buf.readUInt16LE(local + 6));
    const localUpath = unicodePath(buf.subarray(local + 30 + lNameLen, dataStart));
    const names = [...new Set([name, upath, localName, localUpath].filter((n): n is string => n !== null))];
    // Streaming extractors trust the local header's sizes: where it carries them (no data
    // descriptor, flag bit 3; not ZIP64's 0xffffffff), they must be the central directory's, or a
    // member could end early for them and a local header hidden in its span be extracted too.
    const lFlags = buf.readUInt16LE(local + 6);
    const lCsize = buf.readUInt32LE(local + 18);
    const lUsize = buf.readUInt32LE(local + 22);
    if ((lFlags & 0x08) === 0 && lCsize !== 0xffffffff && lUsize !== 0xffffffff) {
      if (lCsize !== csize || lUsize !== usize || buf.readUInt32LE(local + 14) !== buf.readUInt32LE(p + 16)) {
        throw new ArchiveLimitError(`zip: local header of ${realName} disagrees with the central directory (sizes or CRC)`);
      }
    }
    const encrypted = (flags & 1) === 1 || aes;
    checkDeclaredSize(realName, method, encrypted, csize, usize);
    entries.push({
      name: realName,
      names,
      flags,
      method,
      compressedSize: csize,
      uncompressedSize: usize,
      localOffset: local,
      encrypted,
      aes,
      span: [local, dataStart + csize],
    });
    p += 46 + nameLen + extraLen + commentLen;
  }
  if (p !== cdEnd) throw new ArchiveLimitError('zip: central directory size does not match its records');
  if (entries.length !== count) throw new ArchiveLimitError(`zip: end record counts ${count} entries, the central directory holds ${entries.length}`);
  checkOverlap(entries);
  checkHiddenLocals(buf, entries, cdStart);
  return { entries };
}

function decodeName(b: Buffer, flags: number): string {
  return flags & 0x800 ? b.toString('utf8') : decodeCp437(b);
}

/** The name in an Info-ZIP Unicode Path extra (0x7075: version 1, CRC-32 of the plain name, UTF-8 name); null if none. */
function unicodePath(extra: Buffer): string | null {
  const f = findExtra(extra, 0x7075);
  return f && f.length > 5 ? f.subarray(5).toString('utf8') : null;
}

/**
 * Declared sizes are used for the budget and ratio checks, so they must be believable: stored
 * data is exactly its size, and deflate never grows its input by more than a few bytes per
 * 16 KiB block; a compressed size past that means the declared size is a lie (a bomb in disguise).
 * Encryption adds a header (ZipCrypto 12 bytes; AES's method is 99 and not checked here).
 */
function checkDeclaredSize(name: string, method: number, encrypted: boolean, csize: number, usize: number): void {
  const slack = encrypted ? 12 : 0;
  if (method === 0 && (csize < usize || csize > usize + slack)) throw new ArchiveLimitError(`zip: ${name} is stored with ${csize} bytes but declares ${usize}`);
  if (method === 8 && csize > usize + Math.floor(usize / 1000) + 1024 + slack) {
    throw new ArchiveLimitError(`zip: ${name} has ${csize} compressed bytes, impossible for its declared size ${usize}`);
  }
}

/**
 * Streaming readers (bsdtar on a pipe, Java's ZipInputStream) walk local headers from the start
 * and never read the central directory: a local header outside every listed member's span is a
 * member only they see. Gaps between spans may hold data descriptors, never a local header.
 */
function checkHiddenLocals(buf: Buffer, entries: ZipEntry[], cdStart: number): void {
  const spans = entries.map((e) => e.span).sort((a, b) => a[0] - b[0]);
  let from = 0;
  for (const [start, end] of [...spans, [cdStart, cdStart] as [number, number]]) {
    if (start > from && buf.subarray(from, start).includes(LFH_SIG)) throw new ArchiveLimitError('zip: a local header not listed in the central directory');
    from = Math.max(from, end);
  }
}

function findExtra(extra: Buffer, want: number): Buffer | null {
  for (let e = 0; e + 4 <= extra.length; ) {
    const id = extra.readUInt16LE(e);
    const size = extra.readUInt16LE(e + 2);
    if (id === want) return extra.subarray(e + 4, e + 4 + size);
    e += 4 + size;
  }
  return null;
}

function decodeCp437(b: Buffer): string {
  return iconv.decode(b, 'cp437');
}

/** Non-recursive zip bombs reuse one compressed stream for many entries: overlapping spans are refused. */
function checkOverlap(entries: ZipEntry[]): void {
  const spans = entries.map((e) => e.span).sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) {
    const prev = spans[i - 1] as [number, number];
    const cur = spans[i] as [number, number];
    if (cur[0] < prev[1]) throw new ArchiveLimitError('zip: overlapping entries (zip bomb)');
  }
}

/** Members up to this many compressed bytes are inflated in one call; larger ones stream with deadline checks. */
const SMALL_MEMBER = 256 * 1024;

export interface InflateBudget {
  /** Bytes this archive tree may still expand to. */
  remaining: number;
  /** Stop after this time (ms since epoch). */
  deadline: number;
}

/**
 * Expand one member, at most `maxOut` bytes (a prefix is fine for sniffing when `prefixOnly`).
 * Counts against `budget`; throws ArchiveLimitError when a limit is hit.
 */
export function extractEntry(buf: Buffer, e: ZipEntry, budget: InflateBudget, maxRatio: number, prefixOnly: number | null = null): Buffer {
  if (e.encrypted) throw new ArchiveLimitError(`zip: ${e.name} is encrypted`);
  const local = e.localOffset;
  const dataStart = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
  const data = buf.subarray(dataStart, Math.min(buf.length, dataStart + e.compressedSize));
  const cap = prefixOnly ?? e.uncompressedSize;
  if (prefixOnly === null) {
    if (e.uncompressedSize > budget.remaining) throw new ArchiveLimitError(`zip: ${e.name} would expand past the limit`);
    if (e.compressedSize > 0 && e.uncompressedSize / e.compressedSize > maxRatio && e.uncompressedSize > 1024 * 1024) {
      throw new ArchiveLimitError(`zip: ${e.name} compression ratio over ${maxRatio}`);
    }
  }
  if (e.method === 0) {
    const out = data.subarray(0, cap);
    budget.remaining -= out.length;
    return out;
  }
  if (e.method !== 8) throw new ArchiveLimitError(`zip: ${e.name} uses method ${e.method}`);
  if (data.length <= SMALL_MEMBER) {
    // Small members in one call (a streaming inflater per member costs ~0.5 ms to set up).
    // One byte more than allowed is room to notice a member that expands past its declared size.
    const room = prefixOnly ?? e.uncompressedSize + 1;
    let out: Uint8Array;
    try {
      out = inflateSync(data, { out: new Uint8Array(Math.min(room, budget.remaining + 1)) });
    } catch (err) {
      throw new ArchiveLimitError(`zip: ${e.name} does not inflate (${(err as Error).message})`);
    }
    // Prefix or whole: more bytes than declared means the declared size lies.
    if (out.length > e.uncompressedSize) throw new ArchiveLimitError(`zip: ${e.name} expands past its declared size`);
    if (out.length > budget.remaining) throw new ArchiveLimitError('zip: expanded bytes over the limit');
    budget.remaining -= out.length;
    return Buffer.from(out.buffer, out.byteOffset, out.length);
  }
  const chunks: Uint8Array[] = [];
  let got = 0;
  let done = false;
  const inf = new Inflate((chunk) => {
    if (done) return;
    got += chunk.length;
    if (got > e.uncompressedSize) throw new ArchiveLimitError(`zip: ${e.name} expands past its declared size`);
    if (got > budget.remaining) throw new ArchiveLimitError('zip: expanded bytes over the limit');
    chunks.push(chunk);
    if (got >= cap) done = true;
  });
  const STEP = 64 * 1024;
  for (let off = 0; off < data.length && !done; off += STEP) {
    if (Date.now() > budget.deadline) throw new ArchiveLimitError('zip: inspection time limit');
    const last = off + STEP >= data.length;
    try {
      inf.push(data.subarray(off, off + STEP), last);
    } catch (err) {
      if (err instanceof ArchiveLimitError) throw err;
      throw new ArchiveLimitError(`zip: ${e.name} does not inflate (${(err as Error).message})`);
    }
  }
  const out = Buffer.concat(chunks).subarray(0, cap);
  budget.remaining -= out.length;
  return out;
}
