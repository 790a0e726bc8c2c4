/**
 * Is this Vietnamese written in Unicode (TCVN 6909:2001), or in one of the 8-bit encodings that
 * came before it? Two ways text escapes Unicode in mail (R-POL-8):
 *
 * - A legacy character set declared for it (`charset=windows-1258`, VISCII, TCVN 5712, VPS,
 *   VIQR): the words may read correctly, but the bytes are not Unicode. legacyCharsetOf() names it when the text is Vietnamese.
 * - Text typed with a legacy font: the keyboard driver (Vietkey, Unikey set to "TCVN3" or "VNI
 *   Windows") writes 8-bit codes that only the .VnTime or VNI-Times fonts draw as Vietnamese.
 *   The mail program sends them as Latin-1 letters, and every other reader sees "Céng hßa x· héi"
 *   (TCVN3 / ABC) or "Coäng hoøa xaõ hoäi" (VNI) for "Cộng hòa xã hội". legacyFont() recognises it
 *   by words that, read back through the TCVN3 or VNI table, spell Vietnamese syllables they do
 *   not spell as written; French, German or Spanish words rarely do (f, j, w, z, final s, l or r
 *   and consonant clusters are not Vietnamese), and the rules at legacyFont keep those out.
 */
import iconv from 'iconv-lite';
import { matchesOf } from '../lib/regex.js';

/** Character sets for Vietnamese that are not Unicode, by their lower-case names and aliases. */
const LEGACY_CHARSETS = new Map<string, string>([
  ['windows-1258', 'windows-1258'],
  ['cp1258', 'windows-1258'],
  ['x-cp1258', 'windows-1258'],
  ['viscii', 'VISCII'],
  ['csviscii', 'VISCII'],
  ['tcvn', 'TCVN 5712'],
  ['tcvn-5712', 'TCVN 5712'],
  ['tcvn5712-1', 'TCVN 5712'],
  ['tcvn5712-1:1993', 'TCVN 5712'],
  ['x-viet-tcvn', 'TCVN 5712'],
  ['x-viet-tcvn5712', 'TCVN 5712'],
  ['viqr', 'VIQR'],
  ['csviqr', 'VIQR'],
  ['x-viet-viqr', 'VIQR'],
  ['x-viet-vps', 'VPS'],
  ['vps', 'VPS'],
  ['x-viet-vni', 'VNI'],
]);

/** The legacy Vietnamese character set a charset label names ("windows-1258", "VISCII" …), or null. */
export function legacyCharset(label: string): string | null {
  return LEGACY_CHARSETS.get(label.trim().replace(/^"|"$/g, '').toLowerCase()) ?? null;
}

/**
 * Letters only Vietnamese writes (ă â đ ê ô ơ ư ĩ ũ, the tone marks, the composed letters of
 * U+1EA0–U+1EF9): text in a legacy set without them is English with curly quotes, or names
 * ("café"), which read the same in Unicode.
 */
const VIETNAMESE_LETTER = /[ăâđêôơưĩũĂÂĐÊÔƠƯĨŨ\u0300\u0301\u0303\u0309\u0323\u1ea0-\u1ef9]/;

/**
 * The legacy character set `charset` is, when the text decoded from it is Vietnamese: a label on
 * English text (Outlook in a Vietnamese locale labels all mail windows-1258) changes nothing.
 * VIQR writes Vietnamese in ASCII ("Vie^.t"), so any text under its label counts.
 */
export function legacyCharsetOf(charset: string, decoded: string): string | null {
  const legacy = legacyCharset(charset);
  if (legacy === null) return null;
  return legacy === 'VIQR' ? (/[A-Za-z]/.test(decoded) ? legacy : null) : VIETNAMESE_LETTER.test(decoded) ? legacy : null;
}

/** Tone marks (combining): grave, acute, tilde, hook above, dot below. */
const TONE = /[\u0300\u0301\u0303\u0309\u0323]/g;
const INITIAL = '(?:ngh|ng|gh|gi|kh|nh|ph|th|tr|ch|qu|b|c|d|đ|g|h|k|l|m|n|p|r|s|t|v|x)?';
const NUCLEUS = '(?:ươu|ươi|uyê|uya|uyu|iêu|yêu|oai|oay|oao|oeo|uây|uôi|ươ|uô|iê|yê|ia|ua|ưa|ai|ao|au|ay|âu|ây|eo|êu|iu|oa|oă|oe|oi|ôi|ơi|oo|uâ|uê|ui|uy|ưi|ưu|uơ|a|ă|â|e|ê|i|o|ô|ơ|u|ư|y)';
const FINAL = '(?:ng|nh|ch|c|m|n|p|t)?';
const SYLLABLE = new RegExp(`^${INITIAL}${NUCLEUS}${FINAL}$`);
/** In decomposed text, đ or a Vietnamese mark (breve, circumflex, horn, a tone): what makes a syllable more than ASCII. */
const VIETNAMESE_MARK = /[đ\u0300-\u0303\u0306\u0309\u031b\u0323]/;

/**
 * One written Vietnamese syllable (any case, composed or not): an initial consonant, a vowel
 * nucleus, a final consonant, at most one tone mark. Spelling, not the dictionary: "nghĩa",
 * "Việt", "khuyết" are; "hôtel", "près", "Grüße" are not.
 */
export function isVietnameseSyllable(word: string): boolean {
  const d = word.normalize('NFD').toLowerCase();
  const tones = d.match(TONE)?.length ?? 0;
  if (tones > 1) return false;
  return SYLLABLE.test(d.replace(TONE, '').normalize('NFC'));
}

/** TCVN3 (ABC) bytes 0xA1–0xFF as Unicode: iconv-lite's TCVN table, read once. */
let tcvn: string[] | null = null;

function tcvnTable(): string[] {
  if (!tcvn) {
    tcvn = [];
    for (let b = 0xa1; b <= 0xff; b++) tcvn[b] = iconv.decode(Buffer.from([b]), 'tcvn');
  }
  return tcvn;
}

/** A word typed in TCVN3 and shown as Latin-1, read back ("Céng" → "Cộng"). */
function fromTcvn3(word: string): string {
  const t = tcvnTable();
  let out = '';
  for (const ch of word) {
    const c = ch.charCodeAt(0);
    out += c >= 0xa1 && c <= 0xff ? (t[c] ?? ch) : ch;
  }
  return out.normalize('NFC');
}

/**
 * VNI Windows: a vowel is an ASCII letter followed by a code for its marks ("oä" is "ộ"), except
 * ơ, ư, đ and the i's, which have codes of their own. Lower-case codes; upper-case ones are the
 * same letters in upper case (0x20 lower in Latin-1).
 */
const VNI_MARKS: Readonly<Record<string, string>> = {
  ù: '\u0301', ø: '\u0300', û: '\u0309', õ: '\u0303', ï: '\u0323',
  â: '\u0302', á: '\u0302\u0301', à: '\u0302\u0300', å: '\u0302\u0309', ã: '\u0302\u0303', ä: '\u0302\u0323',
  ê: '\u0306', é: '\u0306\u0301', è: '\u0306\u0300', ú: '\u0306\u0309', ü: '\u0306\u0303', ë: '\u0306\u0323',
};
const VNI_LETTERS: Readonly<Record<string, string>> = { ô: 'ơ', ö: 'ư', ñ: 'đ', í: 'í', ì: 'ì', æ: 'ỉ', ó: 'ĩ', ò: 'ị', î: 'ỵ' };

/** What a VNI mark code joins. (Kept track of as the word is read: a `/…$/` test of the word so far rescans it, quadratic in a long word; review.) */
const VNI_VOWELS = new Set(['a', 'e', 'i', 'o', 'u', 'y', 'ơ', 'ư']);

/** A word typed in VNI Windows and shown as Latin-1, read back ("Vieät" → "Việt"). */
function fromVni(word: string): string {
  let out = '';
  let afterVowel = false;
  for (const ch of word) {
    const lower = ch.toLowerCase();
    const upper = ch !== lower;
    const letter = VNI_LETTERS[lower];
    if (letter !== undefined) {
      out += upper ? letter.toUpperCase() : letter;
      afterVowel = VNI_VOWELS.has(letter);
      continue;
    }
    const marks = VNI_MARKS[lower];
    // A mark code after a vowel joins it; anywhere else it stays what it is (and the word will not spell).
    if (marks !== undefined && afterVowel) {
      out += marks;
      afterVowel = false;
    } else {
      out += ch;
      afterVowel = VNI_VOWELS.has(lower);
    }
  }
  return out.normalize('NFC');
}

/** What legacyFont found: the encoding and an example word, as written and as meant. */
export interface LegacyFontText {
  encoding: 'TCVN3' | 'VNI';
  example: { written: string; meant: string };
}

/** Words: runs of ASCII letters and Latin-1's upper half (TCVN3 puts letters on ¸ µ ¶ · ¨ © ª …). */
const WORD = /[A-Za-z\u00a1-\u00ff]+/g;
/**
 * `text` as a TCVN3 or VNI font would show it, when it has Latin-1 letters beyond ASCII (other
 * text reads the same either way): a stamp typed in such a font ("MËt", "Maät") reads "Mật".
 */
export function legacyReadings(text: string): string[] {
  if (!/[\u00a1-\u00ff]/.test(text)) return [];
  const read = (f: (w: string) => string): string => text.replace(WORD, (w) => (/[\u00a1-\u00ff]/.test(w) ? f(w) : w));
  return [read(fromTcvn3), read(fromVni)];
}

/** How much text one call reads, at most: enough to judge, bounded work. */
const MAX_TEXT = 32 * 1024;

type Encoding = 'TCVN3' | 'VNI';
const READERS: ReadonlyArray<readonly [Encoding, (w: string) => string]> = [
  ['TCVN3', fromTcvn3],
  ['VNI', fromVni],
];

/**
 * Marks of a word no European language writes, per encoding: TCVN3 puts letters on Latin-1's
 * signs (¸ µ ¶ · ¹ ¨ © ª « ¬ ® × ÷ …), VNI writes a vowel followed by the code of its marks
 * ("oä", "aø", "eâ"). Words like "på", "så", "daß" read as TCVN3 syllables too (pồ, sồ, dào): they
 * alone never make the verdict.
 */
const STRONG: Readonly<Record<Encoding, RegExp>> = {
  TCVN3: /[\u00a1-\u00bf\u00d7\u00f7]/,
  VNI: /[aeiouyAEIOUY][ùøûõïâáàåãäêéèúüëÙØÛÕÏÂÁÀÅÃÄÊÉÈÚÜË]/,
};

/**
 * Does `text` hold Vietnamese typed with a legacy font (see the file comment)? Judged on words
 * with a letter (ASCII or Latin-1's) and a Latin-1 code beyond ASCII, for each encoding:
 * - a word counts when read through the encoding's table it spells a syllable with Vietnamese
 *   marks that it does not spell as written ("B¸o"); one that spells a syllable either way
 *   ("cã", which is "có"; "Thò", which is VNI's "Thị") counts along once one of the first kind is
 *   found;
 * - at least `minWords` (default 3) must count, more than the words that spell nothing either
 *   way (plain ASCII words of two letters or more included), and one must carry a mark STRONG
 *   names or the plain ASCII words must spell syllables — or one more word must count;
 * - two in three of the text's plain ASCII words (when it has three or more) must spell
 *   syllables, as they do in Vietnamese ("do", "Nam", "anh") and do not in Norwegian or German
 *   ("fredag", "Lunch").
 */
export function legacyFont(text: string, minWords = 3): LegacyFontText | null {
  const found = { TCVN3: { sure: 0, either: 0, strong: false }, VNI: { sure: 0, either: 0, strong: false } };
  const examples: Partial<Record<Encoding, { written: string; meant: string }>> = {};
  let neither = 0;
  let asciiWords = 0;
  let asciiSyllables = 0;
  for (const m of matchesOf(WORD, text.length > MAX_TEXT ? text.slice(0, MAX_TEXT) : text)) {
    const word = m[0];
    if (word.length > 12) continue;
    if (!/[\u00a1-\u00ff]/.test(word)) {
      if (word.length >= 2) {
        asciiWords++;
        if (isVietnameseSyllable(word)) asciiSyllables++;
        else neither++;
      }
      continue;
    }
    if (!/[A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff]/.test(word)) continue; // "·", "©", "×", "½" standing alone: signs, not words
    const asWritten = isVietnameseSyllable(word);
    let spelled = asWritten;
    for (const [encoding, read] of READERS) {
      const meant = read(word);
      if (meant === word || !VIETNAMESE_MARK.test(meant.normalize('NFD').toLowerCase()) || !isVietnameseSyllable(meant)) continue;
      spelled = true;
      const f = found[encoding];
      if (asWritten) {
        f.either++;
        continue;
      }
      f.sure++;
      if (STRONG[encoding].test(word)) f.strong = true;
      examples[encoding] ??= { written: word, meant };
    }
    if (!spelled) neither++;
  }
  if (asciiWords >= 3 && asciiSyllables * 3 < asciiWords * 2) return null;
  // The encoding more words spell in (VNI text also spells a few words read as TCVN3).
  const count = (e: Encoding): number => found[e].sure + found[e].either;
  const encoding: Encoding = count('VNI') > count('TCVN3') ? 'VNI' : 'TCVN3';
  const f = found[encoding];
  const n = count(encoding);
  const example = examples[encoding];
  // Plain ASCII words that are syllables ("Mêi häp giao ban") vouch as a strong mark does.
  const vouched = f.strong || (asciiWords > 0 && asciiSyllables * 3 >= asciiWords * 2);
  return example && n >= minWords + (vouched ? 0 : 1) && n > neither ? { encoding, example } : null;
}
