import { describe, expect, it } from 'vitest';
import { imapString, renderBodyStructure, renderEnvelope } from '../../../src/mail/imap-render.js';
import { parseMessage } from '../../../src/mail/parse.js';

const msg = (lines: string[]): Buffer => Buffer.from(lines.join('\r\n'), 'utf8');

describe('imapString', () => {
  it.each([
    [null, 'NIL'],
    ['', '""'],
    ['plain text', '"plain text"'],
    ['say "hi" \\ bye', '"say \\"hi\\" \\\\ bye"'],
    ['Việt', '{6}\r\nViệt'],
    ['a\r\nb', '{4}\r\na\r\nb'],
    ['nul\0x', '"nul x"'],
  ])('%j', (input, want) => {
    expect(imapString(input)).toBe(want);
  });
});

describe('renderEnvelope', () => {
  it('plain message: Sender and Reply-To default to From', () => {
    const p = parseMessage(msg(['From: Long <longnv@x.vn>', 'To: b@x.vn', 'Subject: Hello', 'Date: Mon, 17 Nov 2025 08:30:00 +0700', 'Message-ID: <1@x.vn>', '', 'x']));
    expect(renderEnvelope(p.envelope)).toBe(
      '("Mon, 17 Nov 2025 08:30:00 +0700" "Hello" (("Long" NIL "longnv" "x.vn")) (("Long" NIL "longnv" "x.vn")) (("Long" NIL "longnv" "x.vn")) ((NIL NIL "b" "x.vn")) NIL NIL NIL "<1@x.vn>")',
    );
  });

  it('groups, raw encoded words, 8-bit subject as a literal, empty message', () => {
    const p = parseMessage(msg(['Subject: Báo cáo', 'From: =?utf-8?Q?Tr=E1=BA=A7n?= <t@x.vn>', 'Reply-To: r@x.vn', 'Cc: G: a@x;', 'In-Reply-To: <0@x>', '', '']));
    expect(renderEnvelope(p.envelope)).toBe(
      '(NIL {9}\r\nBáo cáo (("=?utf-8?Q?Tr=E1=BA=A7n?=" NIL "t" "x.vn")) (("=?utf-8?Q?Tr=E1=BA=A7n?=" NIL "t" "x.vn")) ((NIL NIL "r" "x.vn")) NIL ((NIL NIL "G" NIL)(NIL NIL "a" "x")(NIL NIL NIL NIL)) NIL "<0@x>" NIL)',
    );
    expect(renderEnvelope(parseMessage(Buffer.alloc(0)).envelope)).toBe('(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)');
  });
});

describe('renderBodyStructure', () => {
  it('a plain text message', () => {
    const p = parseMessage(msg(['From: a@x.vn', 'Subject: s', '', 'line1', 'line2', '']));
    expect(renderBodyStructure(p.structure, false)).toBe('("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 14 2)');
    expect(renderBodyStructure(p.structure, true)).toBe('("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 14 2 NIL NIL NIL NIL)');
  });

  it('multipart/alternative', () => {
    const p = parseMessage(msg([
      'Content-Type: multipart/alternative; boundary=alt',
      '',
      '--alt',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Xin chao',
      '--alt',
      'Content-Type: text/html; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      '<p>Xin ch=C3=A0o</p>',
      '--alt--',
      '',
    ]));
    expect(renderBodyStructure(p.structure, true)).toBe(
      '(("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 8 1 NIL NIL NIL NIL)("text" "html" ("charset" "utf-8") NIL NIL "quoted-printable" 20 1 NIL NIL NIL NIL) "alternative" ("boundary" "alt") NIL NIL NIL)',
    );
    expect(renderBodyStructure(p.structure, false)).toBe(
      '(("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 8 1)("text" "html" ("charset" "utf-8") NIL NIL "quoted-printable" 20 1) "alternative")',
    );
  });

  it('multipart/mixed with an attachment (RFC 2231 file name, language)', () => {
    const p = parseMessage(msg([
      'Content-Type: multipart/mixed; boundary="mix"',
      '',
      '--mix',
      'Content-Type: text/plain',
      '',
      'See attached',
      '--mix',
      'Content-Type: application/pdf; name="report.pdf"',
      "Content-Disposition: attachment; filename*=utf-8''B%C3%A1o%20c%C3%A1o.pdf",
      'Content-Transfer-Encoding: base64',
      'Content-Language: vi',
      '',
      'JVBERi0xLjQK',
      '--mix--',
    ]));
    expect(p.structure.children[1]!.filename).toBe('Báo cáo.pdf');
    expect(renderBodyStructure(p.structure, true)).toBe(
      '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 12 1 NIL NIL NIL NIL)("application" "pdf" ("name" "report.pdf") NIL NIL "base64" 12 NIL ("attachment" ("filename*" "utf-8\'\'B%C3%A1o%20c%C3%A1o.pdf")) "vi" NIL) "mixed" ("boundary" "mix") NIL NIL NIL)',
    );
    expect(renderBodyStructure(p.structure, false)).toBe(
      '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 12 1)("application" "pdf" ("name" "report.pdf") NIL NIL "base64" 12) "mixed")',
    );
  });

  it('a forwarded message/rfc822', () => {
    const p = parseMessage(msg([
      'Content-Type: multipart/mixed; boundary=f',
      '',
      '--f',
      'Content-Type: text/plain; charset=us-ascii',
      '',
      'FYI',
      '--f',
      'Content-Type: message/rfc822',
      '',
      'From: Old <old@y.vn>',
      'Subject: Re: =?utf-8?Q?h=E1=BB=8Dp?=',
      'Date: Sun, 16 Nov 2025 10:00:00 +0700',
      '',
      'inner',
      '--f--',
    ]));
    const env = '("Sun, 16 Nov 2025 10:00:00 +0700" "Re: =?utf-8?Q?h=E1=BB=8Dp?=" (("Old" NIL "old" "y.vn")) (("Old" NIL "old" "y.vn")) (("Old" NIL "old" "y.vn")) NIL NIL NIL NIL NIL)';
    expect(renderBodyStructure(p.structure, true)).toBe(
      `(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 1 NIL NIL NIL NIL)("message" "rfc822" NIL NIL NIL "7bit" 106 ${env} ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 1 NIL NIL NIL NIL) 5 NIL NIL NIL NIL) "mixed" ("boundary" "f") NIL NIL NIL)`,
    );
    expect(renderBodyStructure(p.structure, false)).toBe(
      `(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 1)("message" "rfc822" NIL NIL NIL "7bit" 106 ${env} ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 1) 5) "mixed")`,
    );
  });

  it('nested multiparts (mixed > alternative > related)', () => {
    const p = parseMessage(msg([
      'Content-Type: multipart/mixed; boundary=o',
      '',
      '--o',
      'Content-Type: multipart/alternative; boundary=a',
      '',
      '--a',
      'Content-Type: text/plain; charset=utf-8',
      '',
      't',
      '--a',
      'Content-Type: multipart/related; boundary=r; type="text/html"',
      '',
      '--r',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<img src="cid:i">',
      '--r',
      'Content-Type: image/png',
      'Content-ID: <i>',
      'Content-Transfer-Encoding: base64',
      '',
      'iVBORw==',
      '--r--',
      '--a--',
      '--o',
      'Content-Type: text/csv; charset=utf-8; name="so lieu.csv"',
      'Content-Disposition: inline',
      '',
      'a,b',
      '--o--',
    ]));
    expect(renderBodyStructure(p.structure, true)).toBe(
      '((("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 1 1 NIL NIL NIL NIL)(("text" "html" ("charset" "utf-8") NIL NIL "7bit" 17 1 NIL NIL NIL NIL)("image" "png" NIL "<i>" NIL "base64" 8 NIL NIL NIL NIL) "related" ("boundary" "r" "type" "text/html") NIL NIL NIL) "alternative" ("boundary" "a") NIL NIL NIL)("text" "csv" ("charset" "utf-8" "name" "so lieu.csv") NIL NIL "7bit" 3 1 NIL ("inline" NIL) NIL NIL) "mixed" ("boundary" "o") NIL NIL NIL)',
    );
  });

  it('folded boundary parameter, escaped quote in a parameter, invalid encoding shown as 7bit, prologue and epilogue ignored', () => {
    const p = parseMessage(msg([
      'Content-Type: multipart/related; boundary="ranh',
      ' gioi"; type="text/html"',
      '',
      'Lời mở đầu',
      '--ranh gioi',
      'Content-Type: text/x-ghi-chu; charset=us-ascii; tieude="noi \\"nhanh\\""',
      'Content-Transfer-Encoding: ?khong-hop-le',
      'Content-Disposition: inline; kieu=a',
      '',
      'ba dong',
      'hai',
      'mot',
      '',
      '--ranh gioi--',
      'Lời kết',
    ]));
    expect(renderBodyStructure(p.structure, true)).toBe(
      '(("text" "x-ghi-chu" ("charset" "us-ascii" "tieude" "noi \\"nhanh\\"") NIL NIL "7bit" 19 3 NIL ("inline" ("kieu" "a")) NIL NIL) "related" ("boundary" "ranh gioi" "type" "text/html") NIL NIL NIL)',
    );
    expect(p.warnings).toEqual(['content-transfer-encoding: not a token, 7bit assumed']);
  });

  it('non-ASCII parameter values go out as RFC 2231, several languages as a list', () => {
    const p = parseMessage(msg(['Content-Type: text/plain; charset=utf-8; name="Hồ sơ.txt"', 'Content-Language: vi, en', 'Content-Location: a.txt', 'Content-MD5: abc=', '', 'x']));
    expect(renderBodyStructure(p.structure, true)).toBe(
      '("text" "plain" ("charset" "utf-8" "name*" "utf-8\'\'H%E1%BB%93%20s%C6%A1.txt") NIL NIL "7bit" 1 1 "abc=" NIL ("vi" "en") "a.txt")',
    );
  });

  it('an encoded (not descended) message/rfc822 goes out as application/octet-stream', () => {
    const p = parseMessage(msg(['Content-Type: message/rfc822', 'Content-Transfer-Encoding: base64', '', 'AAAA']));
    expect(renderBodyStructure(p.structure, false)).toBe('("application" "octet-stream" NIL NIL NIL "base64" 4)');
  });
});
