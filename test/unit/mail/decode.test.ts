import { describe, expect, it } from 'vitest';
import { decodeBase64, decodeBody, decodedSize, decodeQuotedPrintable } from '../../../src/mail/decode.js';
import { parseMessage } from '../../../src/mail/parse.js';

describe('decodeBase64', () => {
  const table: Array<[string, string, string]> = [
    ['plain', 'SGVsbG8=', 'Hello'],
    ['line breaks', 'SGVs\r\nbG8=\r\n', 'Hello'],
    ['spaces and garbage', ' SG*Vs bG!8 ', 'Hello'],
    ['missing padding', 'SGVsbG8', 'Hello'],
    ['empty', '', ''],
    ['Vietnamese UTF-8', Buffer.from('Xin chào Việt Nam', 'utf8').toString('base64').replace(/(.{8})/g, '$1\n'), 'Xin chào Việt Nam'],
  ];
  it.each(table)('%s', (_n, input, want) => {
    expect(decodeBase64(Buffer.from(input, 'latin1')).toString('utf8')).toBe(want);
  });
});

describe('decodeQuotedPrintable', () => {
  const table: Array<[string, string, string]> = [
    ['hex escapes', 'caf=C3=A9', 'café'],
    ['lower-case hex', 'caf=c3=a9', 'café'],
    ['soft break CRLF', 'abc=\r\ndef', 'abcdef'],
    ['soft break LF', 'abc=\ndef', 'abcdef'],
    ['soft break with trailing space', 'abc= \r\ndef', 'abcdef'],
    ['hard breaks kept', 'a\r\nb\nc', 'a\r\nb\nc'],
    ['trailing whitespace dropped', 'a  \r\nb\t\n', 'a\r\nb\n'],
    ['inner whitespace kept', 'a  b', 'a  b'],
    ['bad escape kept', 'a=ZZb=', 'a=ZZb'],
    ['= at end', 'abc=', 'abc'],
  ];
  it.each(table)('%s', (_n, input, want) => {
    expect(decodeQuotedPrintable(Buffer.from(input, 'latin1')).toString('utf8')).toBe(want);
  });
});

describe('decodeBody / decodedSize', () => {
  const msg = (cte: string, body: string): Buffer =>
    Buffer.from(`Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: ${cte}\r\n\r\n${body}`, 'latin1');
  it.each([
    ['base64', 'AAEC\r\n/w==\r\n', Buffer.from([0, 1, 2, 255])],
    ['quoted-printable', '=00=01=\r\n=02=FF', Buffer.from([0, 1, 2, 255])],
    ['7bit', 'abc\r\n', Buffer.from('abc\r\n')],
    ['8bit', 'caf\xe9', Buffer.from([0x63, 0x61, 0x66, 0xe9])],
    ['binary', '\x00\x01', Buffer.from([0, 1])],
    ['x-unknown', 'as is', Buffer.from('as is')],
    ['BASE64', 'AAEC', Buffer.from([0, 1, 2])],
    ['Quoted-Printable', 'a=3Db', Buffer.from('a=b')],
    ['base64 (with a comment)', 'AAEC', Buffer.from([0, 1, 2])],
    ['"base64";', 'AAEC', Buffer.from([0, 1, 2])],
  ])('%s', (cte, body, want) => {
    const raw = msg(cte, body);
    const p = parseMessage(raw);
    expect(decodeBody(raw, p.structure)).toEqual(want);
    expect(decodedSize(raw, p.structure)).toBe(want.length);
  });
});

describe('decodeBody with maxBytes (a decoded prefix)', () => {
  const payload = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 256));
  const qp = [...payload].map((b) => `=${b.toString(16).toUpperCase().padStart(2, '0')}`).join('').replace(/(.{72})/g, '$1=\r\n');
  it.each([
    ['base64', payload.toString('base64').replace(/(.{76})/g, '$1\r\n')],
    ['quoted-printable', qp],
    ['binary', payload.toString('latin1')],
  ])('%s', (cte, body) => {
    const raw = Buffer.from(`Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: ${cte}\r\n\r\n${body}`, 'latin1');
    const part = parseMessage(raw).structure;
    expect(decodeBody(raw, part)).toEqual(payload);
    for (const n of [0, 1, 2, 3, 4, 100, 2999, 3000, 5000]) expect(decodeBody(raw, part, n)).toEqual(payload.subarray(0, n));
  });
});
