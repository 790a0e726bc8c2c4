/** Header edits without re-parsing: offsets must equal those of a fresh parse of the edited bytes. */
import { describe, expect, it } from 'vitest';
import { prependHeaders, removeHeaders, replaceSubject, stripRawHeaders } from '../../../src/delivery/index.js';
import { parseMessage } from '../../../src/mail/parse.js';

const raw = Buffer.from(
  [
    'From: <a@example.gov.vn>',
    'X-Buudien-Policy: clean',
    'Subject: Báo cáo',
    '  tháng 11',
    'X-BUUDIEN-Scan: ok',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b"',
    '',
    '--b',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Nội dung',
    '--b',
    'Content-Type: application/octet-stream; name="a.bin"',
    '',
    'xyz',
    '--b--',
    '',
  ].join('\r\n'),
);

function structureOf(b: Buffer): unknown {
  return parseMessage(b).structure;
}

describe('header edits keep the parsed offsets right', () => {
  it('prependHeaders', () => {
    const r = prependHeaders(raw, parseMessage(raw), ['Received: from x\r\n by y; Sun, 22 Nov 2026 10:00:00 +0000', 'Authentication-Results: mx; spf=none']);
    expect(r.raw.toString().startsWith('Received: from x\r\n by y;')).toBe(true);
    expect(r.parsed.structure).toEqual(structureOf(r.raw));
    expect(r.parsed.size).toBe(r.raw.length);
  });

  it('removeHeaders and stripRawHeaders drop X-Buudien-* (any case, with continuations)', () => {
    const r = removeHeaders(raw, parseMessage(raw), (n) => n.startsWith('x-buudien-'));
    expect(r.removed).toBe(2);
    expect(r.raw.toString()).not.toMatch(/x-buudien/i);
    expect(r.parsed.structure).toEqual(structureOf(r.raw));
    expect(stripRawHeaders(raw, (n) => n.startsWith('x-buudien-')).equals(r.raw)).toBe(true);
  });

  it('replaceSubject replaces a folded Subject', () => {
    const r = replaceSubject(raw, parseMessage(raw), '=?utf-8?B?W1Rd?= x', '[T] x');
    expect(r.raw.toString()).toContain('Subject: =?utf-8?B?W1Rd?= x\r\nX-BUUDIEN-Scan');
    expect(r.parsed.subject).toBe('[T] x');
    expect(r.parsed.structure).toEqual(structureOf(r.raw));
  });

  it('refuses header lines that would inject another header', () => {
    expect(() => prependHeaders(raw, parseMessage(raw), ['X-A: a\r\nX-B: b'])).toThrow();
    expect(() => prependHeaders(raw, parseMessage(raw), ['not a header'])).toThrow();
  });
});
