/**
 * Content-Transfer-Encoding decoding of a part's body: base64 (tolerant of whitespace and
 * garbage), quoted-printable, and the identity encodings (7bit, 8bit, binary, unknown).
 */
import type { MimePart } from './types.js';

const B64 = new Int16Array(256).fill(-1);
for (let i = 0; i < 64; i++) B64['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.charCodeAt(i)] = i;

/**
 * Decode base64, skipping every byte outside the alphabet (line breaks, spaces, '=', garbage).
 * Stops once `maxBytes` bytes are out.
 */
export function decodeBase64(src: Buffer, maxBytes = Number.MAX_SAFE_INTEGER): Buffer {
  const out = Buffer.allocUnsafe(Math.min(Math.floor((src.length * 3) / 4) + 3, maxBytes + 3));
  let o = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < src.length && o < maxBytes; i++) {
    const v = B64[src[i]!]!;
    if (v < 0) continue;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out.subarray(0, Math.min(o, maxBytes));
}

function hex(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/**
 * Decode quoted-printable (RFC 2045 §6.7): `=XX` → byte, `=` at end of line (after optional
 * trailing whitespace) is a soft break, trailing whitespace on a line is dropped, and a `=`
 * not followed by two hex digits is kept as is. Line endings (CRLF or LF) are kept.
 * Stops once `maxBytes` bytes are out.
 */
export function decodeQuotedPrintable(src: Buffer, maxBytes = Number.MAX_SAFE_INTEGER): Buffer {
  const out = Buffer.allocUnsafe(src.length);
  let o = 0;
  const n = src.length;
  let i = 0;
  while (i < n && o < maxBytes) {
    const c = src[i]!;
    if (c === 0x3d) {
      const h1 = i + 1 < n ? hex(src[i + 1]!) : -1;
      const h2 = i + 2 < n ? hex(src[i + 2]!) : -1;
      if (h1 >= 0 && h2 >= 0) {
        out[o++] = h1 * 16 + h2;
        i += 3;
        continue;
      }
      // soft line break: "=" [WSP…] (CRLF | LF | end)
      let j = i + 1;
      while (j < n && (src[j] === 0x20 || src[j] === 0x09)) j++;
      if (j >= n) {
        i = n;
        continue;
      }
      if (src[j] === 0x0a) {
        i = j + 1;
        continue;
      }
      if (src[j] === 0x0d && src[j + 1] === 0x0a) {
        i = j + 2;
        continue;
      }
      out[o++] = c;
      i++;
      continue;
    }
    if (c === 0x20 || c === 0x09) {
      // drop whitespace that ends a line
      let j = i;
      while (j < n && (src[j] === 0x20 || src[j] === 0x09)) j++;
      if (j >= n || src[j] === 0x0a || (src[j] === 0x0d && src[j + 1] === 0x0a)) {
        i = j;
        continue;
      }
      while (i < j) out[o++] = src[i++]!;
      continue;
    }
    out[o++] = c;
    i++;
  }
  return out.subarray(0, Math.min(o, maxBytes));
}

/**
 * Decode a body given its Content-Transfer-Encoding (any case); unknown encodings pass through.
 * At most `maxBytes` bytes come out (a prefix, for sniffing).
 */
export function decodeTransfer(body: Buffer, encoding: string, maxBytes = Number.MAX_SAFE_INTEGER): Buffer {
  switch (encoding.trim().toLowerCase()) {
    case 'base64':
      return decodeBase64(body, maxBytes);
    case 'quoted-printable':
      return decodeQuotedPrintable(body, maxBytes);
    default:
      return body.length > maxBytes ? body.subarray(0, maxBytes) : body;
  }
}

/**
 * The decoded body of `part`, a slice of `raw` (the whole message) decoded per its encoding;
 * with `maxBytes`, only that many decoded bytes (the work stops there too).
 */
export function decodeBody(raw: Buffer, part: MimePart, maxBytes = Number.MAX_SAFE_INTEGER): Buffer {
  const start = Math.max(0, Math.min(part.bodyStart, raw.length));
  const end = Math.max(start, Math.min(part.end, raw.length));
  return decodeTransfer(raw.subarray(start, end), part.encoding, maxBytes);
}

/** Size in bytes of the decoded body (BINARY.SIZE, attachment size limits). */
export function decodedSize(raw: Buffer, part: MimePart): number {
  const start = Math.max(0, Math.min(part.bodyStart, raw.length));
  const end = Math.max(start, Math.min(part.end, raw.length));
  const enc = part.encoding.trim().toLowerCase();
  if (enc === 'base64') {
    let n = 0;
    for (let i = start; i < end; i++) if (B64[raw[i]!]! >= 0) n++;
    return Math.floor((n * 6) / 8);
  }
  if (enc === 'quoted-printable') return decodeQuotedPrintable(raw.subarray(start, end)).length;
  return end - start;
}
