/**
 * Modified UTF-7 for mailbox names (RFC 3501 §5.1.3, RFC 9051 §5.1.3).
 *
 * Printable US-ASCII (0x20–0x7e) stands for itself except "&", written "&-". Anything else is
 * UTF-16, base64-encoded with "," instead of "/", without padding, between "&" and "-".
 * decodeMailboxUtf7 is strict: it refuses what a correct encoder never produces (raw 8-bit or
 * control characters, an unterminated shift, bad base64, non-zero or excess padding bits,
 * an encoded printable ASCII character, a broken surrogate pair, an empty shift other than "&-",
 * two adjacent shifts), so one name has exactly one spelling.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,';
const VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) VALUE[ALPHABET.charCodeAt(i)] = i;

/** Encode a Unicode mailbox name to modified UTF-7. */
export function encodeMailboxUtf7(name: string): string {
  let out = '';
  let i = 0;
  while (i < name.length) {
    const c = name.charCodeAt(i);
    if (c >= 0x20 && c <= 0x7e) {
      out += c === 0x26 ? '&-' : name[i];
      i++;
      continue;
    }
    // Collect a run of non-printable-ASCII UTF-16 units.
    let j = i;
    while (j < name.length) {
      const d = name.charCodeAt(j);
      if (d >= 0x20 && d <= 0x7e) break;
      j++;
    }
    out += '&' + base64Units(name.slice(i, j)) + '-';
    i = j;
  }
  return out;
}

function base64Units(s: string): string {
  let out = '';
  let bits = 0;
  let acc = 0;
  for (let k = 0; k < s.length; k++) {
    acc = (acc << 16) | s.charCodeAt(k);
    bits += 16;
    while (bits >= 6) {
      bits -= 6;
      out += ALPHABET[(acc >> bits) & 0x3f];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(acc << (6 - bits)) & 0x3f];
  return out;
}

/** Decode a modified UTF-7 name; null when malformed. */
export function decodeMailboxUtf7(encoded: string): string | null {
  let out = '';
  let i = 0;
  let lastShiftEnd = -1;
  while (i < encoded.length) {
    const c = encoded.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return null;
    if (c !== 0x26) {
      out += encoded[i];
      i++;
      continue;
    }
    const end = encoded.indexOf('-', i + 1);
    if (end < 0) return null;
    if (end === i + 1) {
      out += '&';
      i = end + 1;
      continue;
    }
    if (lastShiftEnd === i) return null; // "&AGE-&AGE-": two adjacent shifts are one shift
    const decoded = decodeShift(encoded, i + 1, end);
    if (decoded === null) return null;
    out += decoded;
    i = end + 1;
    lastShiftEnd = i;
  }
  return out;
}

function decodeShift(s: string, start: number, end: number): string | null {
  let acc = 0;
  let bits = 0;
  let out = '';
  let highSurrogate = -1;
  for (let k = start; k < end; k++) {
    const code = s.charCodeAt(k);
    const v = code < 128 ? (VALUE[code] ?? -1) : -1;
    if (v < 0) return null;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 16) {
      bits -= 16;
      const unit = (acc >> bits) & 0xffff;
      acc &= (1 << bits) - 1;
      if (highSurrogate >= 0) {
        if (unit < 0xdc00 || unit > 0xdfff) return null;
        out += String.fromCharCode(highSurrogate, unit);
        highSurrogate = -1;
      } else if (unit >= 0xd800 && unit <= 0xdbff) {
        highSurrogate = unit;
      } else if (unit >= 0xdc00 && unit <= 0xdfff) {
        return null;
      } else if (unit >= 0x20 && unit <= 0x7e) {
        return null; // printable ASCII must represent itself
      } else {
        out += String.fromCharCode(unit);
      }
    }
  }
  // Leftover: fewer than 6 bits, all zero; no dangling surrogate; something decoded.
  if (bits >= 6 || acc !== 0 || highSurrogate >= 0 || out.length === 0) return null;
  return out;
}
