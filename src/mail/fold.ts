/**
 * Vietnamese diacritic folding (DESIGN.md "Vietnamese text"): the one function search,
 * naming and the store use to compare text without tone marks.
 */

const NON_ASCII = /[^\x00-\x7f]/;
const COMBINING = /[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]/g;

/** NFD, drop combining marks, đ/Đ → d, lower-case, NFC: the definition (and the path for any text). */
function foldSlow(s: string): string {
  return s
    .normalize('NFD')
    .replace(COMBINING, '')
    .replace(/[đĐ]/g, 'd')
    .toLowerCase()
    .normalize('NFC');
}

/**
 * foldSlow of each character of ASCII and of the blocks Vietnamese text is written in (Latin-1
 * Supplement, Latin Extended-A and -B, the combining diacritics, Latin Extended Additional,
 * General Punctuation), by code unit: the one code unit it folds to, EMPTY when it folds to
 * nothing (a combining mark), OTHER outside these blocks or when it folds to more than one unit.
 * In these blocks a character folds the same alone as in a string (the marks that could join a
 * neighbour are the ones dropped), so such a text folds unit by unit, without normalising.
 */
const FAST_LIMIT = 0x2070;
const EMPTY = -1;
const OTHER = -2;
let table: Int32Array | null = null;

function fastTable(): Int32Array {
  if (table) return table;
  const t = new Int32Array(FAST_LIMIT).fill(OTHER);
  for (let c = 0; c < 0x80; c++) t[c] = String.fromCharCode(c).toLowerCase().charCodeAt(0);
  for (const [from, to] of [
    [0x80, 0x24f],
    [0x300, 0x36f],
    [0x1e00, 0x1eff],
    [0x2000, 0x206f],
  ] as const) {
    for (let c = from; c <= to; c++) {
      const f = foldSlow(String.fromCharCode(c));
      t[c] = f.length === 0 ? EMPTY : f.length === 1 ? f.charCodeAt(0) : OTHER;
    }
  }
  table = t;
  return t;
}

/** NFD, drop combining marks, đ/Đ → d, lower-case. "Nguyễn Văn Đông" → "nguyen van dong". */
export function foldVietnamese(s: string): string {
  // Plain ASCII (most mail bodies and every address) has nothing to fold but case.
  if (!NON_ASCII.test(s)) return s.toLowerCase();
  const t = fastTable();
  const out = new Uint16Array(s.length);
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const f = c < FAST_LIMIT ? (t[c] as number) : OTHER;
    if (f >= 0) out[n++] = f;
    else if (f === OTHER) return foldSlow(s); // another script, an emoji, a surrogate: the definition
  }
  return Buffer.from(out.buffer, 0, n * 2).toString('utf16le');
}

/** Folded words: foldVietnamese, then split on anything that is not a letter or digit. */
export function asciiWords(s: string): string[] {
  return foldVietnamese(s)
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 0);
}
