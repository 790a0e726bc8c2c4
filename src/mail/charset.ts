/**
 * Charset decoding for message bodies and headers. Everything leaves here as NFC UTF-16
 * strings; legacy Vietnamese charsets (windows-1258, VISCII, TCVN) included. Never throws.
 */
import { isAscii } from 'node:buffer';
import iconv from 'iconv-lite';

/** Labels mail software uses that iconv-lite does not know by that name. */
const ALIASES: Record<string, string> = {
  'utf8': 'utf-8',
  'unicode-1-1-utf-8': 'utf-8',
  // labels that mean "we do not know": guess from the bytes
  'x-unknown': '',
  'unknown-8bit': '',
  'unknown': '',
  'ascii': 'us-ascii',
  'ansi_x3.4-1968': 'us-ascii',
  'x-user-defined': '',
  'cp-1258': 'windows-1258',
  'x-cp1258': 'windows-1258',
  'x-viet-viscii': 'viscii',
  'vn-viscii': 'viscii',
  'csviscii': 'viscii',
  'x-viet-tcvn5712': 'tcvn',
  'tcvn5712-1': 'tcvn',
  'tcvn-5712': 'tcvn',
  'tcvn3': 'tcvn',
  'ks_c_5601-1987': 'cp949',
  'x-gbk': 'gbk',
  'x-mac-roman': 'macintosh',
};

/** Normalise a charset label: lower case, trimmed, quotes and RFC 2231 language suffix removed. */
export function normaliseCharset(charset: string): string {
  let c = charset.trim().replace(/^["']|["']$/g, '').toLowerCase();
  const star = c.indexOf('*'); // RFC 2231 §5: charset*language in encoded words
  if (star >= 0) c = c.slice(0, star);
  return ALIASES[c] ?? c;
}

/** True when the bytes are valid UTF-8. */
export function isValidUtf8(bytes: Buffer): boolean {
  let i = 0;
  const n = bytes.length;
  while (i < n) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else return false;
    if (i + need > n - 1) return false;
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return false;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += need + 1;
  }
  return true;
}


const TONE_1258 = new Set([0xcc, 0xec, 0xde, 0xd2, 0xf2]); // combining grave, acute, tilde, hook, dot below
const VOWEL_1258 = new Set([...'aeiouyAEIOUY'].map((c) => c.charCodeAt(0)).concat([0xe2, 0xea, 0xf4, 0xe3, 0xf5, 0xfd, 0xc2, 0xca, 0xd4, 0xc3, 0xd5, 0xdd]));

/**
 * Unlabelled 8-bit text that is Vietnamese in windows-1258 shows tone-mark bytes right after
 * vowels again and again; windows-1252 text almost never does (those bytes are Ì ì Þ Ò ò).
 */
export function looksLikeWindows1258(bytes: Buffer): boolean {
  let signals = 0;
  let high = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b < 0x80) continue;
    high++;
    if (TONE_1258.has(b) && i > 0 && VOWEL_1258.has(bytes[i - 1]!)) signals++;
  }
  return signals >= 2 && signals * 4 >= high;
}

/** Guess for 8-bit bytes with no usable label: UTF-8 if valid, windows-1258 if it looks Vietnamese, else windows-1252. */
function guess(bytes: Buffer): string {
  if (isValidUtf8(bytes)) return bytes.toString('utf8');
  return iconv.decode(bytes, looksLikeWindows1258(bytes) ? 'windows-1258' : 'windows-1252');
}

/**
 * Decode bytes in `charset` to an NFC string. UTF-8 decodes with U+FFFD for invalid bytes;
 * unknown labels (and 8-bit bytes labelled us-ascii) fall back to UTF-8 when the bytes are
 * valid UTF-8, else windows-1258 when they look like Vietnamese, else windows-1252.
 */
export function decodeCharset(bytes: Buffer, charset: string): string {
  try {
    const cs = normaliseCharset(charset || 'us-ascii');
    let out: string;
    if (isAscii(bytes)) {
      return bytes.toString('latin1'); // ASCII is already NFC
    } else if (cs === 'utf-8') {
      out = bytes.toString('utf8'); // invalid sequences become U+FFFD
    } else if (cs === 'us-ascii' || cs === '' || !iconv.encodingExists(cs)) {
      // us-ascii with 8-bit bytes is a lie; so is an unknown label: guess.
      out = guess(bytes);
    } else {
      out = iconv.decode(bytes, cs);
    }
    return out.normalize('NFC');
  } catch {
    return bytes.toString('latin1');
  }
}
