/**
 * A part's body decoded as the policy scan reads it: like mail/decode.ts, and also
 * - Content-Transfer-Encoding x-uuencode (x-uue, uuencode): the uuencoded file's bytes;
 * - base64 decoded per 4-character group, a group ended by "=" padding closing early and
 *   decoding restarting after it, so padding in mid-stream cannot shift the rest of the bytes
 *   into something else (the bytes after it decode as they were encoded). A client that
 *   restarts there may also save what follows as the file: `Base64Reading` tells the scan
 *   there was such padding and where in the decoded bytes each restart begins.
 * At most `maxBytes` bytes come out.
 */
import { decodeBody } from '../mail/decode.js';
import type { MimePart } from '../mail/types.js';
import { uuencodedFiles } from './mime.js';

const B64 = new Int16Array(256).fill(-1);
for (let i = 0; i < 64; i++) B64['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.charCodeAt(i)] = i;

const UU_ENCODINGS = new Set(['x-uuencode', 'x-uue', 'uuencode', 'x-uu']);

/** Restart points recorded per part at most; past them the part cannot be checked (bounded work and memory). */
export const MAX_BASE64_RESTARTS = 100_000;

/** What a base64 decode found out about "=" padding, for the scan (see the file comment). */
export interface Base64Reading {
  /** Set when base64 data follows "=" padding: decoding restarted after it (never in ordinary mail). */
  midPadding: boolean;
  /** When given, filled with the decoded offsets where decoding restarted (within the bytes decoded). */
  restarts?: number[];
  /** Set when there were more than MAX_BASE64_RESTARTS restarts (only the first are in `restarts`). */
  restartsCapped?: boolean;
}

/** Does base64 data follow "=" padding in `src` (a client may restart decoding there)? */
export function hasDataAfterPadding(src: Buffer): boolean {
  const pad = src.indexOf(0x3d);
  return pad >= 0 && !onlyPaddingFrom(src, pad);
}

/** base64, each group of 4 decoded alone; "=" ends the group it is in; bytes outside the alphabet skipped. */
export function decodeBase64Groups(src: Buffer, maxBytes = Number.MAX_SAFE_INTEGER, reading?: Base64Reading): Buffer {
  // Padding only at the very end (the usual case): Node's own decoder gives the same bytes (it
  // skips what is not in the alphabet too), in native code rather than this loop.
  const pad = src.indexOf(0x3d);
  if (pad < 0 || onlyPaddingFrom(src, pad)) {
    // Only as much text as maxBytes needs (line breaks included, twice over), not a whole 14 MB
    // part for a 64 KiB sniff; the whole text when that falls short.
    const enough = Math.ceil(maxBytes / 3) * 8 + 8;
    if (enough < src.length) {
      const head = Buffer.from(src.subarray(0, enough).toString('latin1'), 'base64');
      if (head.length >= maxBytes) return head.subarray(0, maxBytes);
    }
    const whole = Buffer.from(src.toString('latin1'), 'base64');
    return whole.length > maxBytes ? whole.subarray(0, maxBytes) : whole;
  }
  if (reading) reading.midPadding = true;
  const restarts = reading?.restarts;
  const out = Buffer.allocUnsafe(Math.min(Math.floor((src.length * 3) / 4) + 3, maxBytes + 3));
  let o = 0;
  let acc = 0;
  let n = 0;
  let padded = false;
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
      padded = true;
      continue;
    }
    const v = B64[c] as number;
    if (v < 0) continue;
    if (padded) {
      padded = false;
      if (restarts && reading) {
        if (restarts.length < MAX_BASE64_RESTARTS) restarts.push(o);
        else reading.restartsCapped = true;
      }
    }
    acc = (acc << 6) | v;
    if (++n === 4) flush();
  }
  if (n > 0 && o < maxBytes) flush();
  return out.subarray(0, Math.min(o, maxBytes));
}

/** Nothing but "=" and bytes outside the alphabet from `i` on. */
function onlyPaddingFrom(src: Buffer, i: number): boolean {
  for (let k = i; k < src.length; k++) if ((B64[src[k] as number] as number) >= 0) return false;
  return true;
}

/** The decoded body of `part` for content checks (see the file comment); `reading` tells about base64 padding. */
export function decodePart(raw: Buffer, part: MimePart, maxBytes = Number.MAX_SAFE_INTEGER, reading?: Base64Reading): Buffer {
  const enc = part.encoding.trim().toLowerCase();
  const start = Math.max(0, Math.min(part.bodyStart, raw.length));
  const body = raw.subarray(start, Math.max(start, Math.min(part.end, raw.length)));
  if (enc === 'base64') return decodeBase64Groups(body, maxBytes, reading);
  if (UU_ENCODINGS.has(enc)) {
    const file = uuencodedFiles(body, maxBytes, 1).files[0];
    if (file) return file.head;
  }
  return decodeBody(raw, part, maxBytes);
}

/** Bytes that carry base64 text (the alphabet and "="). */
function isBase64Char(c: number): boolean {
  return (B64[c] as number) >= 0 || c === 0x3d;
}

/**
 * About the last `n` bytes of `part`'s decoded body, without decoding the rest: enough to look
 * for a structure that sits at the end of a file (a zip's end record). base64 text ends on a
 * group boundary, so its last 4·⌈n/3⌉ alphabet characters decode alone; other encodings are the
 * body's tail (quoted-printable decoded from a line start).
 */
export function decodePartTail(raw: Buffer, part: MimePart, n: number): Buffer {
  const enc = part.encoding.trim().toLowerCase();
  const start = Math.max(0, Math.min(part.bodyStart, raw.length));
  const end = Math.max(start, Math.min(part.end, raw.length));
  if (enc === 'base64') {
    const want = 4 * Math.ceil((n + 2) / 3);
    let i = end;
    let got = 0;
    while (i > start && got < want) if (isBase64Char(raw[--i] as number)) got++;
    return decodeBase64Groups(raw.subarray(i, end));
  }
  if (enc === 'quoted-printable') {
    let i = Math.max(start, end - 3 * n - 2);
    while (i > start && raw[i - 1] !== 0x0a) i--;
    return decodeBody(raw, { ...part, bodyStart: i }, Number.MAX_SAFE_INTEGER);
  }
  if (UU_ENCODINGS.has(enc)) return decodePart(raw, part);
  return raw.subarray(Math.max(start, end - n), end);
}
