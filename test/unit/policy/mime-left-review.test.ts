/**
 * Defects found by a hostile review of the two-way header, NUL and base64 restart checks
 * (commit 6909432), at the level of the helpers; over SMTP in test/protocol/policy-left-review.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { parseMessage } from '../../../src/mail/parse.js';
import { decodeBase64Groups, type Base64Reading } from '../../../src/policy/decode.js';
import { ambiguousHeader, boundarySectionsGap, contentTypeKey, leafParts, MAX_UU_RESTARTS, restartedUuFiles } from '../../../src/policy/mime.js';
import { restartedFile, zipHeaderNames } from '../../../src/policy/scan.js';
import { peBytes, sevenZip, zip } from './fixtures.js';

function rootAmbiguity(header: string, body = 'body\r\n'): string | null {
  const raw = Buffer.from(`${header}\r\n\r\n${body}`, 'latin1');
  return ambiguousHeader(raw, parseMessage(raw).structure);
}

describe('repeated Content-Type fields are compared as parsed values', () => {
  it.each([
    ['charset case and quoting (PHP mail() on agency portals)', 'Content-Type: text/plain; charset=UTF-8\r\nContent-type: text/plain; charset="utf-8"'],
    ['a trailing semicolon', 'Content-Type: text/html; charset=utf-8;\r\nContent-Type: text/html; charset=utf-8'],
    ['type and parameter names in another case, parameters in another order', 'Content-Type: Text/HTML; Charset=utf-8; format=flowed\r\nContent-Type: text/html; format="flowed"; charset=UTF-8'],
    ['the same boundary quoted and not', 'Content-Type: multipart/mixed; boundary=abc\r\nContent-Type: multipart/mixed; boundary="abc"'],
  ])('%s: one meaning, not ambiguous', (_l, header) => {
    expect(rootAmbiguity(header)).toBeNull();
  });

  it.each([
    ['boundaries "a b" and "a  b" (whitespace inside the quotes)', 'Content-Type: multipart/mixed; boundary="a b"\r\nContent-Type: multipart/mixed; boundary="a  b"'],
    ['boundaries "a b" and "a<TAB>b"', 'Content-Type: multipart/mixed; boundary="a b"\r\nContent-Type: multipart/mixed; boundary="a\tb"'],
    ['boundaries differing in case', 'Content-Type: multipart/mixed; boundary="Ab"\r\nContent-Type: multipart/mixed; boundary="ab"'],
    ['another type', 'Content-Type: text/plain; charset=utf-8\r\nContent-Type: text/html; charset=utf-8'],
  ])('%s: ambiguous', (_l, header) => {
    expect(rootAmbiguity(header)).not.toBeNull();
  });

  it('the key keeps a boundary byte for byte and lower-cases the charset', () => {
    expect(contentTypeKey('multipart/mixed; boundary="a  b"')).not.toBe(contentTypeKey('multipart/mixed; boundary="a b"'));
    expect(contentTypeKey('text/plain; charset=UTF-8')).toBe(contentTypeKey(' TEXT/plain ;CHARSET="utf-8";'));
  });
});

describe('RFC 2231 boundary sections with a gap, or without section 0', () => {
  it.each([
    ['a gap', `Content-Type: multipart/mixed; boundary*0="a"; boundary*2="b"`],
    ['no section 0', `Content-Type: multipart/mixed; boundary*1="a"; boundary*2="b"`],
    ['one section, not 0', `Content-Type: multipart/mixed; boundary*1="a"`],
  ])('%s: ambiguous', (_l, header) => {
    expect(rootAmbiguity(header)).not.toBeNull();
  });

  it('sections 0, 1, 2 in any order are one boundary', () => {
    expect(boundarySectionsGap(`multipart/mixed; boundary*1="b"; boundary*0="a"; boundary*2*=c`)).toBe(false);
    expect(rootAmbiguity(`Content-Type: multipart/mixed; boundary*1="b"; boundary*0="a"`)).toBeNull();
  });
});

describe('a header block ended by a line without a colon', () => {
  it('MIME fields after the line, before the blank line: ambiguous', () => {
    expect(rootAmbiguity('Content-Type: multipart/mixed; boundary="a"\r\nX-Broken-Line\r\nContent-Type: multipart/mixed; boundary="b"')).toMatch(/Content-Type/);
    expect(rootAmbiguity('Subject: x\r\nbroken\r\ncontent-transfer-encoding: base64')).not.toBeNull();
  });

  it('other lines after it, or field-like lines only after the blank line: not ambiguous', () => {
    // Ordinary bodies: the header ends with the blank line; "Content-Type:" in the body does not count.
    expect(rootAmbiguity('Content-Type: text/plain', 'Content-Type: text/html is what we sent.\r\n')).toBeNull();
    // A malformed header whose broken line is followed by plain text, then a blank line, then a field-like line.
    expect(rootAmbiguity('Subject: x\r\nbroken line\r\nDear sir: hello\r\n\r\nContent-Type: text/html')).toBeNull();
  });
});

describe('NUL in text parts', () => {
  const nul = (headers: string, body: Buffer | string): boolean => {
    const raw = Buffer.concat([Buffer.from(`${headers}\r\n\r\n`, 'latin1'), Buffer.isBuffer(body) ? body : Buffer.from(body, 'latin1')]);
    return leafParts(parseMessage(raw), raw)[0]?.nul ?? false;
  };

  it('UTF-16 / UTF-32 / UCS-2 text declared 8bit (scanner firmware) is not flagged', () => {
    const text = 'Văn bản quét từ máy in\r\n';
    expect(nul('Content-Type: text/plain; charset=UTF-16LE\r\nContent-Transfer-Encoding: 8bit', Buffer.from(text, 'utf16le'))).toBe(false);
    expect(nul('Content-Type: text/plain; charset="utf-16"\r\nContent-Transfer-Encoding: binary', Buffer.from(`\ufeff${text}`, 'utf16le'))).toBe(false);
    expect(nul('Content-Type: text/plain; charset=ucs-2', Buffer.from('abc', 'utf16le'))).toBe(false);
    expect(nul('Content-Type: text/plain; charset=utf-32le', Buffer.from([0x61, 0, 0, 0, 0x62, 0, 0, 0]))).toBe(false);
  });

  it('NULs that only end the text (with line breaks around them) are not flagged', () => {
    expect(nul('Content-Type: text/plain; charset=us-ascii', 'Scan completed. 3 pages.\r\n\u0000\r\n')).toBe(false);
    expect(nul('Content-Type: text/plain', 'Notice\u0000\u0000')).toBe(false);
  });

  it('a NUL before text is still flagged, also under Content-Transfer-Encoding: binary', () => {
    expect(nul('Content-Type: text/plain', 'a\u0000b\r\n')).toBe(true);
    expect(nul('Content-Type: text/plain\r\nContent-Transfer-Encoding: binary', 'a\u0000b\r\n')).toBe(true);
    expect(nul('Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: binary', 'Notice\u0000\r\nsetup.exe\r\n')).toBe(true);
  });
});

describe('uuencoded files at base64 restart points', () => {
  const reading = (text: string): { bytes: Buffer; restarts: number[] } => {
    const r: Base64Reading = { midPadding: false, restarts: [] };
    const bytes = decodeBase64Groups(Buffer.from(text, 'latin1'), Number.MAX_SAFE_INTEGER, r);
    return { bytes, restarts: r.restarts ?? [] };
  };

  it('60,000 restart points each decoding to "begin" cost linear time (was ~25 s)', () => {
    const { bytes, restarts } = reading('YmVnaW4='.repeat(60_000));
    expect(restarts.length).toBe(59_999);
    const t = Date.now();
    const r = restartedUuFiles(bytes, restarts, 1000);
    expect(Date.now() - t).toBeLessThan(1000);
    expect(r).toEqual({ files: [], capped: false });
  });

  it('60,000 restart points each "begin 644 a" (a match at every point): capped after MAX_UU_RESTARTS tries, fast', () => {
    const piece = Buffer.from('begin 644 a').toString('base64'); // "YmVnaW4gNjQ0IGE=": ends in padding
    const { bytes, restarts } = reading(piece.repeat(60_000));
    const t = Date.now();
    const r = restartedUuFiles(bytes, restarts, 1000);
    expect(Date.now() - t).toBeLessThan(1000);
    expect(r.capped).toBe(true);
    expect(r.files.length).toBeLessThanOrEqual(MAX_UU_RESTARTS);
  });

  it('a file after a restart point is still found, with its name and head', () => {
    const uu = 'begin 644 setup.exe\r\n#35H`\r\n`\r\nend\r\n';
    const { bytes, restarts } = reading(`QQ==${Buffer.from(uu).toString('base64')}`);
    const r = restartedUuFiles(bytes, restarts, 1000);
    expect(r.capped).toBe(false);
    expect(r.files.map((f) => [f.name, f.head.toString('latin1')])).toEqual([['setup.exe', 'MZ\0']]);
  });

  it('a past deadline stops the tries: the part cannot be checked', () => {
    const uu = Buffer.from('begin 644 a.txt\r\n#86)C\r\n`\r\nend\r\n').toString('base64');
    const { bytes, restarts } = reading(`QQ==${uu}`);
    expect(restartedUuFiles(bytes, restarts, 1000, Date.now() - 1).capped).toBe(true);
  });
});

describe('what counts at a restart point', () => {
  it('a real PE, ELF, or a non-zip archive counts', () => {
    expect(restartedFile(peBytes())).toBe(true);
    expect(restartedFile(sevenZip({}))).toBe(true);
  });

  it('a bare "MZ" and NUL, or a zip signature (a chunk boundary of a harmless file), does not', () => {
    const mz = Buffer.alloc(4096, 0x41);
    mz.write('MZ\x90\x00', 0, 'latin1');
    expect(restartedFile(mz)).toBe(false);
    // e_lfanew pointing past the piece, or at something other than "PE\0\0".
    const far = peBytes();
    far.writeUInt32LE(0x10000, 0x3c);
    expect(restartedFile(far)).toBe(false);
    const notPe = peBytes();
    notPe.write('XX', 0x80, 'latin1');
    expect(restartedFile(notPe)).toBe(false);
    const z = zip([{ name: 'a.txt', data: Buffer.from('hello') }]);
    expect(restartedFile(z)).toBe(false);
    expect(restartedFile(Buffer.from('PK\x07\x08xxxxxxxxxxxx', 'latin1'))).toBe(false);
  });

  it('zip header names are read from local and central headers', () => {
    const z = zip([{ name: 'a.txt', data: Buffer.from('hello') }, { name: 'setup.exe', data: peBytes() }]);
    expect(zipHeaderNames(z, 100)).toEqual(expect.arrayContaining(['a.txt', 'setup.exe']));
  });
});
