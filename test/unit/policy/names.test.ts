import { describe, expect, it } from 'vitest';
import { stripComments } from '../../../src/mail/headers.js';
import { decodeEncodedWords, parseParams } from '../../../src/policy/mime.js';
import { executableExtension, extensionOf, quoteName, savedNames, windowsName } from '../../../src/policy/names.js';

const EXT = new Set(['exe', 'scr', 'com']);

describe('file names as Windows saves them', () => {
  it.each([
    ['ho-so.pdf.exe', 'exe'],
    ['ho-so.exe.', 'exe'],
    ['ho-so.exe . . ', 'exe'],
    ['HO-SO.EXE', 'exe'],
    ['C:\\Users\\x\\payload.scr', 'scr'],
    ['a.exe:Zone.Identifier', 'exe'],
    ['ｐａｙｌｏａｄ．ｅｘｅ', 'exe'],
    ['invoice\u202Efdp.exe', 'exe'],
    ['zero\u200B.exe\u200B', 'exe'],
    ['report.pdf', null],
    ['exe', null],
    ['notes.exe.txt', null],
    // Saved as "run.exe" by unzip and Python's zipfile (C strings end at the NUL).
    ['run.exe\u0000.txt', 'exe'],
    // Saved as "invoice.pdf_.scr" by archivers and mail programs that replace ":".
    ['invoice.pdf:.scr', 'scr'],
    ['invoice.pdf*.com', 'com'],
  ])('%j → %s', (name, ext) => {
    expect(executableExtension(name, EXT)).toBe(ext);
  });

  it('savedNames lists every name the file may be saved under', () => {
    expect(savedNames('run.bat\u0000.txt')).toEqual(['run.bat.txt', 'run.bat']);
    expect(savedNames('invoice.pdf:.js')).toEqual(['invoice.pdf:.js', 'invoice.pdf', 'invoice.pdf_.js', 'invoice.pdf.js']);
    expect(savedNames('report.pdf')).toEqual(['report.pdf']);
  });

  it('windowsName and extensionOf', () => {
    expect(windowsName('a/b/c.doc.  ')).toBe('c.doc');
    expect(extensionOf('archive.tar.gz')).toBe('gz');
  });

  it('quoteName keeps CR/LF and quotes out of headers and replies', () => {
    expect(quoteName('a"b\r\nX-Evil: 1.exe')).toBe('"a_b__X-Evil: 1.exe"');
  });
});

describe('parameters (RFC 2231) and encoded words (RFC 2047)', () => {
  it('joins continuations and decodes charsets', () => {
    const p = parseParams(`attachment; filename*0*=UTF-8''t%C3%A0i%20li; filename*1*=%E1%BB%87u; filename*2=".exe"`);
    expect(p.get('filename')).toBe('tài liệu.exe');
    expect(parseParams(`x; name*=iso-8859-1'fr'caf%E9.scr`).get('name')).toBe('café.scr');
    expect(parseParams(`x; name*=windows-1258''C%F4ng%20v%E3n.exe`).get('name')).toBe('Công văn.exe');
  });

  it('keeps both a plain and an extended name when they disagree', () => {
    const p = parseParams(`attachment; filename="safe.pdf"; filename*=UTF-8''evil.exe`);
    expect(p.get('filename')).toBe('evil.exe');
    expect(p.get('filename#plain')).toBe('safe.pdf');
  });

  it('decodes RFC 2047 words, also adjacent ones and Q encoding', () => {
    expect(decodeEncodedWords('=?UTF-8?B?Y8O0bmcgdsSDbg==?= =?UTF-8?Q?=2Eexe?=')).toBe('công văn.exe');
    expect(decodeEncodedWords('plain.txt')).toBe('plain.txt');
  });
});

describe('comments in parameter lists (RFC 2045 §5.1, RFC 822 comments)', () => {
  it('are removed outside quoted strings, nested ones and quoted-pairs included', () => {
    expect(stripComments('attachment; (c) filename="a.exe"')).toBe('attachment;   filename="a.exe"');
    expect(stripComments('x; (a (nested \\) one) b) name=z.exe')).toBe('x;   name=z.exe');
    expect(stripComments('x; name="báo cáo (bản 2).pdf"')).toBe('x; name="báo cáo (bản 2).pdf"');
    expect(stripComments('x; name="a\\"(q)"')).toBe('x; name="a\\"(q)"');
    expect(parseParams(stripComments('application/octet-stream; (comment) name="a.exe"')).get('name')).toBe('a.exe');
  });
  it('an unclosed comment swallows the rest (nothing after it is a parameter)', () => {
    expect(stripComments('x; (open name="a.exe"')).toBe('x; ');
  });
});

describe('the parameter cap', () => {
  it('reports when there were more parameters than it read', () => {
    const capped = { hit: false };
    parseParams(`x; ${Array.from({ length: 10 }, (_, i) => `p${i}=1`).join('; ')}`, 5, capped);
    expect(capped.hit).toBe(true);
    const fine = { hit: false };
    parseParams('x; a=1; b=2', 5, fine);
    expect(fine.hit).toBe(false);
  });
});
