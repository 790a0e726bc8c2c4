/** 8-bit detection and the 7-bit conversion for next hops without 8BITMIME (RFC 6152 §3). */
import { describe, expect, it } from 'vitest';
import { decodeBody } from '../../../src/mail/decode.js';
import { allParts, parseMessage } from '../../../src/mail/parse.js';
import { encodeQuotedPrintable, foldHeaderLines, hasLongLine, inspect8bit, shortenLines, to7bit } from '../../../src/smtp/downgrade.js';

const crlf = (lines: string[]): Buffer => Buffer.from(lines.join('\r\n'), 'utf8');

function converted(raw: Buffer): Buffer {
  const d = to7bit(raw);
  if (!d.ok) throw new Error(d.reason);
  for (const b of d.raw) expect(b).toBeLessThan(0x80);
  return d.raw;
}

/** Decoded bodies of the leaves, in order. */
function leaves(raw: Buffer): Array<{ type: string; body: Buffer }> {
  const p = parseMessage(raw);
  return allParts(p.structure)
    .filter((x) => x.children.length === 0 && !x.message)
    .map((x) => ({ type: `${x.type}/${x.subtype}`, body: decodeBody(raw, x) }));
}

const multipart = crlf([
  'From: longnv@example.gov.vn',
  'To: a@plain.test',
  'Subject: ascii only',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="b1"',
  'Content-Transfer-Encoding: 8bit',
  '',
  'preamble with é',
  '--b1',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: 8bit',
  '',
  'Nội dung tiếng Việt',
  'dòng hai  ',
  '--b1',
  'Content-Type: application/octet-stream; name="a.bin"',
  'Content-Transfer-Encoding: binary',
  '',
  '\u00ff\u00fe raw',
  '--b1',
  'Content-Type: text/plain; charset=us-ascii',
  'Content-Transfer-Encoding: base64',
  '',
  'aGVsbG8=',
  '--b1',
  'Content-Type: message/rfc822',
  'Content-Transfer-Encoding: 8bit',
  '',
  'Subject: inner',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: 8bit',
  '',
  'Thư lồng bên trong',
  '--b1--',
  '',
]);

describe('inspect8bit', () => {
  it('tells 8-bit headers (any MIME level) from 8-bit bodies', () => {
    expect(inspect8bit(crlf(['Subject: x', '', 'ascii', '']))).toEqual({ headers: false, body: false, longLines: false });
    expect(inspect8bit(crlf(['Subject: x', '', 'Nội dung', '']))).toEqual({ headers: false, body: true, longLines: false });
    expect(inspect8bit(crlf(['Subject: Tiêu đề', '', 'ascii', '']))).toEqual({ headers: true, body: false, longLines: false });
    const partHeader = crlf(['Subject: x', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary=b', '', '--b', 'Content-Type: text/plain; name="tệp.txt"', '', 'x', '--b--', '']);
    expect(inspect8bit(partHeader)).toEqual({ headers: true, body: false, longLines: false });
    expect(inspect8bit(multipart)).toEqual({ headers: false, body: true, longLines: false });
    expect(inspect8bit(crlf(['Subject: x', '', 'a'.repeat(999), '']))).toEqual({ headers: false, body: false, longLines: true });
  });
});

describe('to7bit', () => {
  it('re-encodes a single 8bit text body as quoted-printable and rewrites its Content-Transfer-Encoding', () => {
    const raw = crlf(['From: longnv@example.gov.vn', 'Subject: r02', 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '', 'Nội dung tiếng Việt', '']);
    const out = converted(raw);
    const s = out.toString('latin1');
    expect(s).toMatch(/^From: longnv@example\.gov\.vn\r\nSubject: r02\r\nMIME-Version: 1\.0\r\nContent-Type: text\/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n/);
    expect(s).not.toMatch(/8bit/i);
    expect(leaves(out)[0]?.body.toString('utf8')).toBe('Nội dung tiếng Việt\r\n');
  });

  it('keeps the multipart structure: each 8-bit leaf re-encoded, 7-bit parts byte for byte, containers labelled 7bit', () => {
    const out = converted(multipart);
    const s = out.toString('latin1');
    expect(s.match(/^--b1(--)?\r?$/gm)).toHaveLength(5);
    expect(s).toContain('preamble with ?');
    expect(s).toContain('Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--b1');
    expect(s).toMatch(/Content-Type: multipart\/mixed; boundary="b1"\r\nContent-Transfer-Encoding: 7bit\r\n/);
    expect(s).toMatch(/Content-Type: message\/rfc822\r\nContent-Transfer-Encoding: 7bit\r\n/);
    expect(s).toMatch(/name="a\.bin"\r\nContent-Transfer-Encoding: base64\r\n/);
    const before = leaves(multipart);
    const after = leaves(out);
    expect(after.map((l) => l.type)).toEqual(before.map((l) => l.type));
    for (let i = 0; i < before.length; i++) expect(after[i]?.body.equals(before[i]?.body ?? Buffer.alloc(0))).toBe(true);
  });

  it('gives a non-MIME 8-bit message MIME-Version and a charset', () => {
    const out = converted(crlf(['Subject: plain', '', 'Xin chào', '']));
    expect(out.toString('latin1')).toMatch(/^Subject: plain\r\nMIME-Version: 1\.0\r\nContent-Type: text\/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nXin ch=C3=A0o\r\n$/);
  });

  it('refuses what it cannot convert: 8-bit headers, 8-bit data under an unknown encoding', () => {
    expect(to7bit(crlf(['Subject: Tiêu đề', '', 'Nội dung', '']))).toMatchObject({ ok: false });
    expect(to7bit(crlf(['Subject: x', 'MIME-Version: 1.0', 'Content-Transfer-Encoding: x-uuencode', '', 'Nội dung', '']))).toMatchObject({ ok: false });
  });

  it('leaves a 7-bit message as it is', () => {
    const raw = crlf(['Subject: x', '', 'ascii', '']);
    const d = to7bit(raw);
    expect(d.ok && d.raw === raw).toBe(true);
  });
});

describe('lines over 998 octets (RFC 5322 §2.1.1)', () => {
  it('hasLongLine counts octets without the line break, CRLF or bare LF', () => {
    expect(hasLongLine(Buffer.from(`${'a'.repeat(998)}\r\nb`))).toBe(false);
    expect(hasLongLine(Buffer.from(`${'a'.repeat(998)}`))).toBe(false);
    expect(hasLongLine(Buffer.from(`x\n${'a'.repeat(999)}\n`))).toBe(true);
    expect(hasLongLine(Buffer.from(`x\r\n${'a'.repeat(999)}`))).toBe(true);
    // Only within [start, end).
    const b = Buffer.from(`${'a'.repeat(1500)}\r\nshort\r\n`);
    expect(hasLongLine(b, 1502)).toBe(false);
  });

  const longText = `${'Báo cáo tổng hợp '.repeat(150)}hết.`;
  const mixed = crlf([
    'From: longnv@example.gov.vn',
    'Subject: long',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b"',
    '',
    '--b',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    longText,
    '--b',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    'Dòng ngắn, giữ nguyên',
    '--b',
    'Content-Type: application/octet-stream; name="a.bin"',
    'Content-Transfer-Encoding: 7bit',
    '',
    'z'.repeat(1200),
    '--b--',
    '',
  ]);

  it('shortenLines re-encodes only the leaves with a long line, content kept; other 8-bit bytes stay', () => {
    const d = shortenLines(mixed);
    if (!d.ok) throw new Error(d.reason);
    expect(hasLongLine(d.raw)).toBe(false);
    const s = d.raw.toString('utf8');
    expect(s).toContain('Content-Transfer-Encoding: 8bit\r\n\r\nDòng ngắn, giữ nguyên\r\n--b');
    expect(s).toMatch(/charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nB=C3=A1o/);
    expect(s).toMatch(/name="a\.bin"\r\nContent-Transfer-Encoding: base64\r\n/);
    const before = leaves(mixed);
    const after = leaves(d.raw);
    expect(after.map((l) => l.body.toString('utf8'))).toEqual(before.map((l) => l.body.toString('utf8')));
    expect(after[0]?.body.toString('utf8')).toBe(longText);
  });

  it('folds a long header line at white space (unfolding gives it back), cuts a long preamble line; a header line with nowhere to fold fails shortenLines only', () => {
    const subject = `Subject: ${'Báo cáo tổng hợp '.repeat(90)}`.trimEnd();
    const preamble = 'p'.repeat(2100);
    const raw = crlf(['From: longnv@example.gov.vn', subject, 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b"', '', preamble, '--b', 'Content-Type: text/plain', '', 'ngắn', '--b--', '']);
    const d = shortenLines(raw);
    if (!d.ok) throw new Error(d.reason);
    expect(hasLongLine(d.raw)).toBe(false);
    const out = d.raw.toString('utf8');
    // RFC 5322 §2.2.3: unfolding removes the CRLF before the white space.
    expect(out.replace(/\r\n(?=[ \t])/g, '')).toContain(subject);
    expect(out).toContain(`${'p'.repeat(998)}\r\n${'p'.repeat(998)}\r\n${'p'.repeat(104)}\r\n--b`);
    expect(leaves(d.raw)[0]?.body.toString('utf8')).toBe('ngắn');
    const token = crlf(['Subject: x', `X-Token: ${'t'.repeat(1200)}`, '', 'body', '']);
    expect(shortenLines(token)).toMatchObject({ ok: false });
    expect(to7bit(token).ok).toBe(true);
    expect(foldHeaderLines('A: b\r\n')).toBe('A: b\r\n');
  });

  it('to7bit shortens long lines of a 7-bit message too; a message without any is returned as it is', () => {
    const raw = crlf(['Subject: x', '', 'y'.repeat(2000), '']);
    const out = converted(raw);
    expect(hasLongLine(out)).toBe(false);
    expect(leaves(out)[0]?.body.toString()).toBe(`${'y'.repeat(2000)}\r\n`);
    const short = crlf(['Subject: x', '', 'Nội dung', '']);
    const d = shortenLines(short);
    expect(d.ok && d.raw === short).toBe(true);
  });
});

describe('encodeQuotedPrintable', () => {
  it('keeps lines within 76 characters with soft breaks, and encodes trailing white space and "="', () => {
    const long = Buffer.from(`${'ư'.repeat(60)} a=b \r\nnext`, 'utf8');
    const qp = encodeQuotedPrintable(long);
    for (const line of qp.split('\r\n')) expect(line.length).toBeLessThanOrEqual(76);
    expect(qp).toContain('a=3Db=20\r\nnext');
    const back = parseMessage(Buffer.from(`Content-Transfer-Encoding: quoted-printable\r\n\r\n${qp}`, 'latin1'));
    expect(decodeBody(Buffer.from(`Content-Transfer-Encoding: quoted-printable\r\n\r\n${qp}`, 'latin1'), back.structure).equals(long)).toBe(true);
  });
});
