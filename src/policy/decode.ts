/**
 * A part's body decoded as the policy scan reads it: like mail/decode.ts, and also
 * - Content-Transfer-Encoding x-uuencode (x-uue, uuencode): the uuencoded file's bytes;
 * - base64 decoded per 4-character group, a group ended by "=" padding closing early and
 *   decoding restarting after it, so padding in mid-stream cannot shift the rest of the bytes
 *   into something else (the bytes after it decode as they were encoded).
 * At most `maxBytes` bytes come out.
 */
import { decodeBody } from '../mail/decode.js';
import type { MimePart } from '../mail/types.js';
import { uuencodedFiles } from './mime.js';

const B64 = new Int16Array(256).fill(-1);
for (let i = 0; i < 64; i++) B64['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.charCodeAt(i)] = i;

const UU_ENCODINGS = new Set(['x-uuencode', 'x-uue', 'uuencode', 'x-uu']);

/** base64, each group of 4 decoded alone; "=" ends the group it is in; bytes outside the alphabet skipped. */
export function decodeBase64Groups(src: Buffer, maxBytes = Number.MAX_SAFE_INTEGER): Buffer {
  const out = Buffer.allocUnsafe(Math.min(Math.floor((src.length * 3) / 4) + 3, maxBytes + 3));
  let o = 0;
  let acc = 0;
  let n = 0;
  const flush = (): void => {
    // n characters carry n-1 bytes (2 → 1, 3 → 2, 4 → 3); a lone character carries none.
    const bits = acc << (6 * (4 - n));
    for (let k = 0; k < n - 1; k++) out[o++] = (bits >> (16 - 8 * k)) & 0xff;
    acc = 0;
    n = 0;
  };
  for (let i = 0; i < src.length && o < maxBytes; i++) {
    const c = src[i] as number;
    if (c === 0x3d) {
      flush();
      continue;
    }
    const v = B64[c] as number;
    if (v < 0) continue;
    acc = (acc << 6) | v;
    if (++n === 4) flush();
  }
  if (n > 0 && o < maxBytes) flush();
  return out.subarray(0, Math.min(o, maxBytes));
}

/** The decoded body of `part` for content checks (see the file comment). */
export function decodePart(raw: Buffer, part: MimePart, maxBytes = Number.MAX_SAFE_INTEGER): Buffer {
  const enc = part.encoding.trim().toLowerCase();
  const start = Math.max(0, Math.min(part.bodyStart, raw.length));
  const body = raw.subarray(start, Math.max(start, Math.min(part.end, raw.length)));
  if (enc === 'base64') return decodeBase64Groups(body, maxBytes);
  if (UU_ENCODINGS.has(enc)) {
    const file = uuencodedFiles(body, maxBytes, 1).files[0];
    if (file) return file.head;
  }
  return decodeBody(raw, part, maxBytes);
}
