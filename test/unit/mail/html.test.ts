import { describe, expect, it } from 'vitest';
import { decodeEntities, htmlToText } from '../../../src/mail/html.js';
import { searchTextOfRaw } from '../../../src/mail/search-text.js';

describe('htmlToText', () => {
  it.each([
    ['tags and entities', '<p>Xin <b>chào</b> &amp; h&#7865;n g&#x1EB7;p</p>', 'Xin chào & hẹn gặp'],
    ['script, style, head, title dropped', '<html><head><title>T</title><style>p{}</style></head><body>A<SCRIPT>x()</script >B</body></html>', 'A B'],
    ['block tags break lines', '<div>một</div><div>hai</div>ba<br>bốn', 'một\nhai\nba\nbốn'],
    ['comments dropped, unterminated too', 'a<!-- x -->b<!-- never closed', 'a b'],
    ['bare < is text', 'a < b and c<3', 'a < b and c<3'],
    ['unterminated tag ends the text', 'a <b class="x', 'a'],
    ['unclosed script ends the text', 'a<script>evil', 'a'],
    ['doctype and processing instructions', '<!DOCTYPE html><?xml x?>a', 'a'],
    ['nbsp collapses', 'a&nbsp;&nbsp; b', 'a b'],
  ])('%s', (_n, html, want) => {
    expect(htmlToText(html)).toBe(want);
  });

  it('stays linear on hostile input (no catastrophic backtracking)', () => {
    // Each of these took tens of seconds with a regex-based stripper.
    for (const s of ['<script'.repeat(100_000), '<a'.repeat(200_000), '< '.repeat(200_000), '</'.repeat(200_000), `<script>${'</scrip'.repeat(100_000)}`]) {
      expect(typeof htmlToText(s)).toBe('string');
    }
  });

  it('decodes entities, leaves unknown ones', () => {
    expect(decodeEntities('&lt;&#65;&#x42;&unknown;&#0;')).toBe('<AB&unknown; ');
  });

  it("decodes HTML 4's Latin-1 names, case by case, as Word and Outlook write Vietnamese letters", () => {
    expect(decodeEntities('Th&ocirc;ng b&aacute;o h&ograve;a &Ecirc;m &agrave; &Agrave;&yuml;&iexcl;')).toBe('Thông báo hòa Êm à Ày¡'.replace('y', 'ÿ'));
    expect(decodeEntities('&frac12; &sup2; &times; &euro; &AMP; &COPY; &Times; &OCIRC;')).toBe('½ ² × € & © &Times; &OCIRC;');
  });

  it('indexes an HTML body written with entities as the text it shows', () => {
    const raw = Buffer.from('Subject: x\r\nContent-Type: text/html; charset=windows-1252\r\n\r\n<p>Th&ocirc;ng b&aacute;o v&#7873; vi&#7879;c h&ograve;a gi&atilde;i</p>\r\n');
    expect(searchTextOfRaw(raw).body).toBe('thong bao ve viec hoa giai');
  });
});
