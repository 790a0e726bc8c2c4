/**
 * The usage report's CSV (src/lib/csv.ts): RFC 4180 quoting and CRLF, a UTF-8 BOM for
 * Excel, and formula injection neutralised (= + - @ tab CR at the start of a text cell).
 */
import { describe, expect, it } from 'vitest';
import { csvCell, csvDocument, neutraliseFormula } from '../../../src/lib/csv.js';

describe('usage report CSV', () => {
  it.each([
    ['plain', 'plain'],
    ['Nguyễn Văn A', 'Nguyễn Văn A'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['two\nlines', '"two\nlines"'],
    ['cr\rhere', '"cr\rhere"'],
    ['=1+1', "'=1+1"],
    ['+84 912', "'+84 912"],
    ['-2', "'-2"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['\t=cmd', "'\t=cmd"],
    ['=HYPERLINK("http://x","y")', `"'=HYPERLINK(""http://x"",""y"")"`],
    ['a=b', 'a=b'],
    ['', ''],
  ])('text %j → %j', (input, out) => {
    expect(csvCell(input)).toBe(out);
  });

  it('writes numbers as they are and null as empty', () => {
    expect(csvCell(-5)).toBe('-5');
    expect(csvCell(12.5)).toBe('12.5');
    expect(csvCell(null)).toBe('');
    expect(csvCell(Number.NaN)).toBe('');
    expect(neutraliseFormula('x')).toBe('x');
  });

  it('a document starts with the BOM and ends every row with CRLF', () => {
    const doc = csvDocument([
      ['Địa chỉ / Address', 'n'],
      ['a@example.gov.vn', 3],
    ]);
    expect(doc.charCodeAt(0)).toBe(0xfeff);
    expect(doc).toBe('\uFEFFĐịa chỉ / Address,n\r\na@example.gov.vn,3\r\n');
    expect(Buffer.from(doc, 'utf8').subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
  });
});
