/**
 * 7z: is 7zAES (coder id 06 F1 07 01) used? The signature header points at the next header,
 * which is either a plain Header (0x01: its coders are readable) or an EncodedHeader (0x17:
 * the streams info describing how the real header is packed is readable, and lists 7zAES
 * when headers are encrypted). Limit, stated plainly: when the header is only LZMA-packed
 * (7z -p without -mhe) the file coders sit inside the packed header, which we do not unpack;
 * such an archive is reported `headerPacked` so the caller can decide (see encrypted-archives).
 */
import { ArchiveLimitError } from './zip.js';

export interface SevenZipInfo {
  encrypted: boolean;
  /** The real header is compressed with a non-AES coder and was not read. */
  headerPacked: boolean;
}

const SIG = Buffer.from([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c]);
const AES = Buffer.from([0x06, 0xf1, 0x07, 0x01]);

export function read7z(buf: Buffer): SevenZipInfo {
  if (buf.length < 32 || !buf.subarray(0, 6).equals(SIG)) throw new ArchiveLimitError('7z: no signature');
  const nextOffset = Number(buf.readBigUInt64LE(12));
  const nextSize = Number(buf.readBigUInt64LE(20));
  const start = 32 + nextOffset;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(nextSize) || start + nextSize > buf.length || nextSize < 1) {
    throw new ArchiveLimitError('7z: next header out of range');
  }
  const header = buf.subarray(start, start + nextSize);
  const kind = header[0];
  if (kind !== 0x01 && kind !== 0x17) throw new ArchiveLimitError(`7z: unknown header type ${String(kind)}`);
  const encrypted = hasAesCoder(header);
  return { encrypted, headerPacked: kind === 0x17 && !encrypted };
}

/** A coder entry is: flags byte (low nibble = id size), then the id: find 4-byte ids equal to 7zAES. */
function hasAesCoder(h: Buffer): boolean {
  for (let i = h.indexOf(AES); i >= 0; i = h.indexOf(AES, i + 1)) {
    const flag = h[i - 1];
    if (flag !== undefined && (flag & 0x0f) === 4) return true;
  }
  return false;
}
