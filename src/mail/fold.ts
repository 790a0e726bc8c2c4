/**
 * Vietnamese diacritic folding (DESIGN.md "Vietnamese text"): the one function search,
 * naming and the store use to compare text without tone marks.
 */

const NON_ASCII = /[^\x00-\x7f]/;
const COMBINING = /[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]/g;

/** NFD, drop combining marks, đ/Đ → d, lower-case. "Nguyễn Văn Đông" → "nguyen van dong". */
export function foldVietnamese(s: string): string {
  // Plain ASCII (most mail bodies and every address) has nothing to fold but case.
  if (!NON_ASCII.test(s)) return s.toLowerCase();
  return s
    .normalize('NFD')
    .replace(COMBINING, '')
    .replace(/[đĐ]/g, 'd')
    .toLowerCase()
    .normalize('NFC');
}

/** Folded words: foldVietnamese, then split on anything that is not a letter or digit. */
export function asciiWords(s: string): string[] {
  return foldVietnamese(s)
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 0);
}
