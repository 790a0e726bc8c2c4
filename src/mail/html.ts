/**
 * A small HTML-to-text for search indexing: one linear pass (no regular expression that can
 * backtrack over attacker-controlled HTML), no DOM, scripts and styles dropped, entities decoded.
 */

/**
 * HTML 4's Latin-1 entities, code points 160–255 in order (&nbsp; … &yuml;). Mail written in
 * Word or Outlook HTML spells Vietnamese letters with them ("Th&ocirc;ng b&aacute;o") when its
 * charset is not Unicode; names are case-sensitive (&Agrave; is not &agrave;).
 */
const LATIN1 = (
  'nbsp iexcl cent pound curren yen brvbar sect uml copy ordf laquo not shy reg macr deg plusmn sup2 sup3 acute micro para ' +
  'middot cedil sup1 ordm raquo frac14 frac12 frac34 iquest Agrave Aacute Acirc Atilde Auml Aring AElig Ccedil Egrave Eacute ' +
  'Ecirc Euml Igrave Iacute Icirc Iuml ETH Ntilde Ograve Oacute Ocirc Otilde Ouml times Oslash Ugrave Uacute Ucirc Uuml Yacute ' +
  'THORN szlig agrave aacute acirc atilde auml aring aelig ccedil egrave eacute ecirc euml igrave iacute icirc iuml eth ntilde ' +
  'ograve oacute ocirc otilde ouml divide oslash ugrave uacute ucirc uuml yacute thorn yuml'
).split(' ');

const NAMED: Readonly<Record<string, string>> = {
  ...Object.fromEntries(LATIN1.map((name, i) => [name, String.fromCharCode(160 + i)])),
  nbsp: ' ', amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", ndash: '–', mdash: '—', hellip: '…', ldquo: '“', rdquo: '”',
  lsquo: '‘', rsquo: '’', sbquo: '‚', bdquo: '„', lsaquo: '‹', rsaquo: '›', bull: '•', euro: '€', trade: '™', dagger: '†',
  Dagger: '‡', permil: '‰', OElig: 'Œ', oelig: 'œ', Scaron: 'Š', scaron: 'š', Yuml: 'Ÿ', fnof: 'ƒ', circ: 'ˆ', tilde: '˜',
  ensp: ' ', emsp: ' ', thinsp: ' ', zwnj: '', zwj: '',
};

/** Names HTML also takes in capitals (&AMP;, &COPY;): looked up in lower case when the exact name is not known. */
const ANY_CASE = new Set(['amp', 'lt', 'gt', 'quot', 'copy', 'reg', 'nbsp']);

export function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]{1,6}|#\d{1,7}|[a-z][a-z0-9]{1,7});/gi, (m, e: string) => {
    if (e[0] === '#') {
      const cp = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return cp > 0 && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff) ? String.fromCodePoint(cp) : ' ';
    }
    const exact = Object.hasOwn(NAMED, e) ? NAMED[e] : undefined;
    if (exact !== undefined) return exact;
    const lower = e.toLowerCase();
    return ANY_CASE.has(lower) ? (NAMED[lower] as string) : m;
  });
}

/** Elements whose content is not text. */
const SKIP_CONTENT = new Set(['script', 'style', 'head', 'title', 'template', 'noscript']);
/** Elements that start a new line. */
const BLOCK = new Set(['p', 'div', 'br', 'tr', 'li', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'table', 'blockquote', 'ul', 'ol', 'hr', 'pre']);

function isAsciiLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** Index of "</name" (any case) at or after `from`, or -1. Linear: scans for "</" only. */
function findClose(html: string, name: string, from: number): number {
  let i = html.indexOf('</', from);
  while (i >= 0) {
    if (html.slice(i + 2, i + 2 + name.length).toLowerCase() === name) return i;
    i = html.indexOf('</', i + 2);
  }
  return -1;
}

/** Strip tags, comments and non-text elements; block elements become line breaks. */
export function htmlToText(html: string): string {
  const out: string[] = [];
  const n = html.length;
  let i = 0;
  let seg = 0; // start of the text not yet copied to `out`
  while (i < n) {
    const lt = html.indexOf('<', i);
    if (lt < 0) break;
    const c = html.charCodeAt(lt + 1);
    const comment = html.startsWith('<!--', lt);
    const closing = c === 47; // '/'
    const nameStart = closing ? lt + 2 : lt + 1;
    const isTag = comment || isAsciiLetter(html.charCodeAt(nameStart)) || (!closing && (c === 33 || c === 63)); // <x, </x, <!, <?
    if (!isTag) {
      i = lt + 1; // a bare "<" is text
      continue;
    }
    out.push(html.slice(seg, lt));
    seg = n; // until a tag ends, nothing more is text
    if (comment) {
      const e = html.indexOf('-->', lt + 4);
      i = seg = e < 0 ? n : e + 3;
      out.push(' ');
      continue;
    }
    const gt = html.indexOf('>', nameStart);
    if (gt < 0) break; // an unterminated tag runs to the end, as in browsers
    let j = nameStart;
    while (j < gt && /[A-Za-z0-9]/.test(html[j]!)) j++;
    const name = html.slice(nameStart, j).toLowerCase();
    i = seg = gt + 1;
    if (!closing && SKIP_CONTENT.has(name)) {
      const close = findClose(html, name, i);
      if (close < 0) {
        seg = n; // an unclosed <script> hides the rest
        break;
      }
      const end = html.indexOf('>', close);
      i = seg = end < 0 ? n : end + 1;
      out.push(' ');
      continue;
    }
    out.push(BLOCK.has(name) ? '\n' : ' ');
  }
  if (seg < n) out.push(html.slice(seg));
  return decodeEntities(out.join(''))
    .replace(/[ \t\u00a0]+/g, ' ')
    .replace(/ ?\n[\s]*/g, '\n')
    .trim();
}
