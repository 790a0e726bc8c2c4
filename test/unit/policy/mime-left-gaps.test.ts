/** Helpers behind the gaps closed in test/protocol/policy-left-gaps.test.ts: header ambiguity and base64 restarts. */
import { describe, expect, it } from 'vitest';
import { parseMessage } from '../../../src/mail/parse.js';
import { decodeBase64Groups, hasDataAfterPadding, type Base64Reading } from '../../../src/policy/decode.js';
import { ambiguousHeader, boundaryParams, leafParts } from '../../../src/policy/mime.js';

function rootAmbiguity(header: string): string | null {
  const raw = Buffer.from(`${header}\r\n\r\nbody\r\n`, 'latin1');
  return ambiguousHeader(raw, parseMessage(raw).structure);
}

describe('ambiguousHeader', () => {
  it.each([
    ['one of each', 'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit', null],
    ['folded value', 'Content-Type: multipart/mixed;\r\n\tboundary="x"', null],
    ['identical repeat, folded differently', 'Content-Type: text/plain; charset=utf-8\r\nContent-Type: text/plain;\r\n charset=utf-8', null],
    ['CTE repeated in another case', 'Content-Transfer-Encoding: base64\r\nContent-Transfer-Encoding: BASE64', null],
    ['RFC 2231 sections of one boundary', `Content-Type: multipart/mixed; boundary*0="ab"; boundary*1="cd"`, null],
    ['other C fields', 'Content-ID: <a@b>\r\nContent-Description: x\r\nCc: a@b', null],
  ])('%s: unambiguous', (_l, header, want) => {
    expect(rootAmbiguity(header)).toBe(want);
  });

  it.each([
    ['two Content-Types', 'Content-Type: text/plain\r\nContent-Type: application/octet-stream'],
    ['two CTEs', 'Content-Transfer-Encoding: 7bit\r\ncontent-transfer-encoding: base64'],
    ['space before the colon', 'Content-Type: text/plain\r\nContent-Type : image/gif'],
    ['two boundaries', 'Content-Type: multipart/mixed; boundary=a; boundary=b'],
    ['plain and extended boundary', `Content-Type: multipart/mixed; boundary=a; boundary*=''b`],
    ['a repeated section', `Content-Type: multipart/mixed; boundary*0=a; boundary*0=b`],
    ['a boundary in a comment', 'Content-Type: multipart/mixed; boundary=a (; boundary=b)'],
  ])('%s: ambiguous', (_l, header) => {
    expect(rootAmbiguity(header)).not.toBeNull();
  });

  it('a quoted value holding "; boundary=" is one boundary', () => {
    expect(boundaryParams('multipart/mixed; boundary="a; boundary=b"')).toBe(1);
  });
});

describe('base64 restarts after padding', () => {
  it('ordinary base64 (padding only at the end) has none and decodes as Node does', () => {
    const src = Buffer.from(Buffer.from('hello world!!').toString('base64') + '\r\n', 'latin1');
    const r: Base64Reading = { midPadding: false, restarts: [] };
    expect(decodeBase64Groups(src, Number.MAX_SAFE_INTEGER, r).toString()).toBe('hello world!!');
    expect(r).toEqual({ midPadding: false, restarts: [] });
    expect(hasDataAfterPadding(src)).toBe(false);
  });

  it('reports where each restarted piece begins in the decoded bytes', () => {
    const src = Buffer.from('QQ==\r\nQkM=\r\nTVo=', 'latin1');
    const r: Base64Reading = { midPadding: false, restarts: [] };
    expect(decodeBase64Groups(src, Number.MAX_SAFE_INTEGER, r).toString('latin1')).toBe('ABCMZ');
    expect(r.midPadding).toBe(true);
    expect(r.restarts).toEqual([1, 3]);
    expect(hasDataAfterPadding(src)).toBe(true);
  });

  it('a text part with NUL is marked unless base64 (binary too: it is read as text all the same)', () => {
    const msg = (cte: string, body: string): boolean => {
      const raw = Buffer.from(`Content-Type: text/plain\r\nContent-Transfer-Encoding: ${cte}\r\n\r\n${body}\r\n`, 'latin1');
      return leafParts(parseMessage(raw), raw)[0]?.nul ?? false;
    };
    expect(msg('8bit', 'a\u0000b')).toBe(true);
    expect(msg('quoted-printable', 'a=00b')).toBe(true);
    expect(msg('binary', 'a\u0000b')).toBe(true);
    expect(msg('base64', Buffer.from('a\u0000b').toString('base64'))).toBe(false);
    expect(msg('8bit', 'plain text')).toBe(false);
  });
});
