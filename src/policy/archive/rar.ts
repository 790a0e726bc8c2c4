/**
 * RAR 1.5–4 and RAR 5 block headers, read for two facts only: is anything encrypted, and
 * which member names are visible. Walks at most `maxEntries` headers; malformed → ArchiveLimitError.
 */
import { ArchiveLimitError } from './zip.js';

export interface ArchiveListing {
  /** Member names readable without the password. */
  names: string[];
  /** Header or file encryption present. */
  encrypted: boolean;
  /** Headers are encrypted: names cannot be read (and so cannot be checked). */
  headersEncrypted: boolean;
  /** Members stored uncompressed and unencrypted: their first bytes, for content sniffing, and all their bytes (as far as the file holds them). */
  stored: Array<{ name: string; head: Buffer; data: Buffer }>;
  /** Names of members compressed and not encrypted: their content is not decoded here. */
  packed: string[];
}

const HEAD_BYTES = 64 * 1024;

const RAR4_SIG = Buffer.from([0x52, 0x61, 0x72, 0x21, 0x1a, 0x07, 0x00]);
const RAR5_SIG = Buffer.from([0x52, 0x61, 0x72, 0x21, 0x1a, 0x07, 0x01, 0x00]);

export function readRar4(buf: Buffer, maxEntries: number): ArchiveListing {
  const start = buf.indexOf(RAR4_SIG);
  if (start < 0) throw new ArchiveLimitError('rar4: no signature');
  const out: ArchiveListing = { names: [], encrypted: false, headersEncrypted: false, stored: [], packed: [] };
  let p = start + RAR4_SIG.length;
  for (let n = 0; p + 7 <= buf.length; n++) {
    if (n > maxEntries) throw new ArchiveLimitError('rar4: too many headers');
    const type = buf[p + 2] as number;
    const flags = buf.readUInt16LE(p + 3);
    const size = buf.readUInt16LE(p + 5);
    if (size < 7) throw new ArchiveLimitError('rar4: bad header size');
    let add = 0;
    if (type === 0x73) {
      // MAIN_HEAD: 0x0080 = block headers encrypted (MHD_PASSWORD).
      if (flags & 0x0080) {
        out.encrypted = true;
        out.headersEncrypted = true;
        return out;
      }
    } else if (type === 0x74) {
      if (p + 32 > buf.length) throw new ArchiveLimitError('rar4: truncated file header');
      add = buf.readUInt32LE(p + 7);
      if (flags & 0x0004) out.encrypted = true;
      const nameSize = buf.readUInt16LE(p + 26);
      let q = p + 32;
      if (flags & 0x0100) {
        add += buf.readUInt32LE(q) * 0x100000000;
        q += 8;
      }
      if (q + nameSize > buf.length) throw new ArchiveLimitError('rar4: truncated file name');
      const raw = buf.subarray(q, q + nameSize);
      // Unicode names (flag 0x0200): "ascii\0encoded" (WinRAR and unrar show and save the decoded
      // one, other tools the ASCII one: both are checked), or UTF-8 alone when there is no NUL.
      const zero = raw.indexOf(0);
      let name: string;
      const own: string[] = [];
      if (!(flags & 0x0200)) name = (zero >= 0 ? raw.subarray(0, zero) : raw).toString('latin1');
      else if (zero < 0) name = raw.toString('utf8');
      else {
        const ascii = raw.subarray(0, zero).toString('latin1');
        const wide = decodeRar4UnicodeName(raw, zero);
        if (ascii !== wide && ascii !== '') own.push(ascii);
        name = wide || ascii;
      }
      own.push(name);
      out.names.push(...own);
      // METHOD 0x30 = stored: the member's bytes follow the header as they are.
      if (buf[p + 25] === 0x30 && !(flags & 0x0004)) {
        const data = buf.subarray(p + size, Math.min(p + size + add, buf.length));
        out.stored.push({ name, head: data.subarray(0, HEAD_BYTES), data });
      } else if (!(flags & 0x0004)) out.packed.push(...own);
    } else if (type === 0x7b) {
      break; // ENDARC
    } else if (flags & 0x8000) {
      if (p + 11 > buf.length) throw new ArchiveLimitError('rar4: truncated header');
      add = buf.readUInt32LE(p + 7);
    }
    p += size + add;
  }
  return out;
}

/** Longest decoded Unicode name accepted (RAR's own limit is 2048 characters). */
const MAX_NAME_CHARS = 4096;

/**
 * The RAR 2.9/3.x Unicode name encoding (FILE_HEAD with LHD_UNICODE): `field` is the whole name
 * field, the ASCII name ending at `zero`. After the NUL: a high byte, then flag bytes whose bit
 * pairs (high first) choose, for each step, one of four operations: 0 = one byte (high byte 0);
 * 1 = one byte with the high byte; 2 = two bytes (low, high); 3 = a run copied from the ASCII
 * name at the same positions (length byte + 2; with bit 7 set, a correction byte is added to each
 * low byte and the high byte used). The name ends at the first NUL character. Anything that runs
 * past the field is not guessed at: ArchiveLimitError (cannot be checked).
 */
export function decodeRar4UnicodeName(field: Buffer, zero: number): string {
  const bad = (why: string): never => {
    throw new ArchiveLimitError(`rar4: undecodable Unicode name (${why})`);
  };
  let p = zero + 1;
  const next = (): number => (p < field.length ? (field[p++] as number) : bad('truncated'));
  const out: number[] = [];
  if (p >= field.length) return '';
  const high = next() << 8;
  let flags = 0;
  let bits = 0;
  while (p < field.length) {
    if (bits === 0) {
      flags = next();
      bits = 8;
    }
    const op = flags >> 6;
    if (op === 0) out.push(next());
    else if (op === 1) out.push(next() | high);
    else if (op === 2) out.push(next() | (next() << 8));
    else {
      const len = next();
      const correction = len & 0x80 ? next() : null;
      for (let n = (len & 0x7f) + 2; n > 0; n--) {
        const at = out.length;
        if (at >= field.length) bad('copy past the name');
        const c = field[at] as number;
        out.push(correction === null ? c : ((c + correction) & 0xff) | high);
      }
    }
    if (out.length > MAX_NAME_CHARS) bad('too long');
    flags = (flags << 2) & 0xff;
    bits -= 2;
  }
  const end = out.indexOf(0);
  return String.fromCharCode(...(end >= 0 ? out.slice(0, end) : out));
}

function vint(buf: Buffer, p: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (p + i >= buf.length) throw new ArchiveLimitError('rar5: truncated vint');
    const b = buf[p + i] as number;
    v += (b & 0x7f) * mul;
    mul *= 128;
    if ((b & 0x80) === 0) return [v, p + i + 1];
  }
  throw new ArchiveLimitError('rar5: bad vint');
}

export function readRar5(buf: Buffer, maxEntries: number): ArchiveListing {
  const start = buf.indexOf(RAR5_SIG);
  if (start < 0) throw new ArchiveLimitError('rar5: no signature');
  const out: ArchiveListing = { names: [], encrypted: false, headersEncrypted: false, stored: [], packed: [] };
  let p = start + RAR5_SIG.length;
  for (let n = 0; p + 4 < buf.length; n++) {
    if (n > maxEntries) throw new ArchiveLimitError('rar5: too many headers');
    const [hsize, hstart] = vint(buf, p + 4);
    const hend = hstart + hsize;
    if (hsize < 2 || hend > buf.length) throw new ArchiveLimitError('rar5: bad header size');
    const [type, q0] = vint(buf, hstart);
    const [hflags, q1] = vint(buf, q0);
    let q = q1;
    let extraSize = 0;
    let dataSize = 0;
    if (hflags & 1) [extraSize, q] = vint(buf, q);
    if (hflags & 2) [dataSize, q] = vint(buf, q);
    if (type === 4) {
      // Archive encryption header: everything after it, names included, is encrypted.
      out.encrypted = true;
      out.headersEncrypted = true;
      return out;
    }
    if (type === 2 || type === 3) {
      let fileFlags: number;
      [fileFlags, q] = vint(buf, q);
      [, q] = vint(buf, q); // unpacked size
      [, q] = vint(buf, q); // attributes
      if (fileFlags & 2) q += 4; // mtime
      if (fileFlags & 4) q += 4; // crc32
      let compression: number;
      [compression, q] = vint(buf, q);
      [, q] = vint(buf, q); // host OS
      let nameLen: number;
      [nameLen, q] = vint(buf, q);
      if (q + nameLen > hend) throw new ArchiveLimitError('rar5: bad name length');
      const name = buf.subarray(q, q + nameLen).toString('utf8');
      if (type === 2) out.names.push(name);
      // Extra area at the end of the header: records (size, type, data); type 1 = file encryption.
      let fileEncrypted = false;
      let e = hend - extraSize;
      while (extraSize > 0 && e < hend) {
        const [rsize, r1] = vint(buf, e);
        const [rtype] = vint(buf, r1);
        if (rtype === 1 && type === 2) fileEncrypted = true;
        if (rsize === 0) break;
        e = r1 + rsize;
      }
      if (fileEncrypted) out.encrypted = true;
      // Method bits 7–9 = 0: stored; the data area holds the member's bytes.
      if (type === 2 && !fileEncrypted && ((compression >> 7) & 7) === 0) {
        const data = buf.subarray(hend, Math.min(hend + dataSize, buf.length));
        out.stored.push({ name, head: data.subarray(0, HEAD_BYTES), data });
      } else if (type === 2 && !fileEncrypted) out.packed.push(name);
    }
    if (type === 5) break; // end of archive
    p = hend + dataSize;
  }
  return out;
}
