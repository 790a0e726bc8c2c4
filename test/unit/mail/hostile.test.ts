/**
 * Inputs built to make a parser go quadratic or deep. Each must finish (the suite's time-out
 * would catch a blow-up; no timing assertions) and keep the caps.
 */
import { describe, expect, it } from 'vitest';
import { parseAddressList } from '../../../src/mail/addresses.js';
import { decodeWords, parseStructured } from '../../../src/mail/headers.js';
import { renderBodyStructure } from '../../../src/mail/imap-render.js';
import { allParts, parseMessage } from '../../../src/mail/parse.js';
import { searchTextOf } from '../../../src/mail/search-text.js';

const MB = 1024 * 1024;
const fill = (unit: string, bytes = MB): string => unit.repeat(Math.ceil(bytes / unit.length));

const hostile: Array<[string, () => Buffer]> = [
  ['1 MB subject of "=?"', () => Buffer.from(`Subject: ${fill('=?')}\r\n\r\nx`)],
  ['1 MB subject of broken encoded words', () => Buffer.from(`Subject: ${fill('=?utf-8?Q?a ')}\r\n\r\nx`)],
  ['100k Content-Type parameters', () => Buffer.from(`Content-Type: text/plain; ${fill('a*1*=b; ')}\r\n\r\nx`)],
  ['1 MB of one quoted parameter never closed', () => Buffer.from(`Content-Type: text/plain; name="${fill('\\"')}\r\n\r\nx`)],
  ['To: 1 MB of "("', () => Buffer.from(`To: ${fill('(')}\r\n\r\nx`)],
  ['To: 1 MB of "["', () => Buffer.from(`To: ${fill('[')}\r\n\r\nx`)],
  ['To: 1 MB of quotes', () => Buffer.from(`To: ${fill('"')}\r\n\r\nx`)],
  ['To: 1 MB of "<"', () => Buffer.from(`To: ${fill('<')}\r\n\r\nx`)],
  ['To: 1 MB of ":"', () => Buffer.from(`To: ${fill('a:')}\r\n\r\nx`)],
  ['100k header lines', () => Buffer.from(`${fill('X: y\r\n')}\r\nx`)],
  ['one 1 MB continuation-folded header', () => Buffer.from(`Subject: a${fill('\r\n b')}\r\n\r\nx`)],
  ['Date of 1 MB "("', () => Buffer.from(`Date: ${fill('(')}\r\n\r\nx`)],
  [
    '1 MB of look-alike delimiter lines under 100 nested multiparts',
    () => {
      const open = Array.from({ length: 100 }, (_, i) => `Content-Type: multipart/mixed; boundary=b${i}\r\n\r\n--b${i}\r\n`).join('');
      return Buffer.from(`${open}\r\n${fill('--b1x\r\n--b99 y\r\n--\r\n')}`);
    },
  ],
  ['1 MB of real empty parts (cap 10,000)', () => Buffer.from(`Content-Type: multipart/mixed; boundary=b\r\n\r\n${fill('--b\r\n')}--b--`)],
  ['1 MB of nested message/rfc822 headers', () => Buffer.from(fill('Content-Type: message/rfc822\r\n\r\n'))],
  ['1 MB of nested multipart headers, same boundary', () => Buffer.from(fill('Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n'))],
  ['1 MB html of unclosed tags', () => Buffer.from(`Content-Type: text/html\r\n\r\n${fill('<a')}`)],
  ['1 MB html of bare "<"', () => Buffer.from(`Content-Type: text/html\r\n\r\n${fill('< ')}`)],
  ['1 MB quoted-printable of "="', () => Buffer.from(`Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${fill('= ')}`)],
  ['1 MB of bare CR', () => Buffer.from(`Subject: x\r\n\r\n${fill('\r')}`)],
  ['1 MB of NUL', () => Buffer.alloc(MB)],
  ['1 MB of 0xFF', () => Buffer.alloc(MB, 0xff)],
];

describe('hostile messages', () => {
  it.each(hostile)('%s', (_name, build) => {
    const raw = build();
    const p = parseMessage(raw);
    const parts = allParts(p.structure);
    expect(parts.length).toBeLessThanOrEqual(10_000);
    for (const part of parts) expect(part.end).toBeLessThanOrEqual(raw.length);
    expect(Buffer.byteLength(p.bodyText())).toBeLessThanOrEqual(MB);
    expect(renderBodyStructure(p.structure, true).length).toBeGreaterThan(0);
    expect(typeof searchTextOf(p).body).toBe('string');
  });

  it('header helpers on 1 MB inputs', () => {
    expect(typeof decodeWords(fill('=?x?Q?'))).toBe('string');
    expect(parseStructured(fill('x; a*99999*=b')).params.length).toBeLessThanOrEqual(100);
    expect(parseAddressList(fill('a@b,')).addresses.length).toBe(1000);
  });
});
