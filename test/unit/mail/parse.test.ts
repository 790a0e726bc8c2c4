import { describe, expect, it } from 'vitest';
import { allParts, countLines, findPart, parseDate, parseMessage } from '../../../src/mail/parse.js';
import type { MimePart } from '../../../src/mail/types.js';

const crlf = (lines: string[]): Buffer => Buffer.from(lines.join('\r\n'), 'utf8');
const lf = (lines: string[]): Buffer => Buffer.from(lines.join('\n'), 'utf8');
const body = (raw: Buffer, p: MimePart): string => raw.subarray(p.bodyStart, p.end).toString('utf8');
const header = (raw: Buffer, p: MimePart): string => raw.subarray(p.headerStart, p.bodyStart).toString('utf8');

const simple = [
  'From: =?utf-8?B?Tmd1eeG7hW4gVsSDbiBMb25n?= <longnv@nghean.gov.vn>',
  'To: "Trần Thị B" <b@nghean.gov.vn>, c@nghean.gov.vn',
  'Cc: Lanh dao: d@x.vn;',
  'Subject: =?utf-8?Q?Gi=E1=BA=A5y_m=E1=BB=9Di_h=E1=BB=8Dp?=',
  'Date: Mon, 17 Nov 2025 08:30:00 +0700 (ICT)',
  'Message-ID: <abc@nghean.gov.vn>',
  'In-Reply-To: <prev@x.vn>',
  '',
  'Kính gửi các đồng chí,',
  'Mời họp lúc 8h.',
  '',
];

describe('parseMessage: a simple text message', () => {
  for (const [name, build] of [['CRLF', crlf], ['bare LF', lf]] as const) {
    it(`envelope, decoded fields, offsets (${name})`, () => {
      const raw = build(simple);
      const p = parseMessage(raw);
      const eol = name === 'CRLF' ? '\r\n' : '\n';
      expect(p.size).toBe(raw.length);
      expect(p.structure).toMatchObject({
        path: '', type: 'text', subtype: 'plain', encoding: '7bit', headerStart: 0,
        params: [{ name: 'charset', value: 'us-ascii' }], lines: 2,
      });
      expect(body(raw, p.structure)).toBe(`Kính gửi các đồng chí,${eol}Mời họp lúc 8h.${eol}`);
      expect(p.structure.size).toBe(Buffer.byteLength(body(raw, p.structure)));
      expect(header(raw, p.structure).endsWith(`${eol}${eol}`)).toBe(true);
      expect(p.subject).toBe('Giấy mời họp');
      expect(p.from).toBe('Nguyễn Văn Long <longnv@nghean.gov.vn>');
      expect(p.to).toEqual(['Trần Thị B <b@nghean.gov.vn>', 'c@nghean.gov.vn']);
      expect(p.cc).toEqual(['d@x.vn']);
      expect(p.messageId).toBe('<abc@nghean.gov.vn>');
      expect(p.date?.toISOString()).toBe('2025-11-17T01:30:00.000Z');
      expect(p.envelope.subject).toBe('=?utf-8?Q?Gi=E1=BA=A5y_m=E1=BB=9Di_h=E1=BB=8Dp?=');
      expect(p.envelope.sender).toEqual(p.envelope.from);
      expect(p.envelope.replyTo).toEqual(p.envelope.from);
      expect(p.envelope.inReplyTo).toBe('<prev@x.vn>');
      expect(p.envelope.bcc).toBeNull();
      expect(p.bodyText()).toBe('Kính gửi các đồng chí,\nMời họp lúc 8h.');
      expect(p.warnings).toEqual([]);
    });
  }

  it('windows-1258 body and subject decode to composed Unicode', () => {
    const raw = Buffer.concat([
      Buffer.from('Subject: =?windows-1258?Q?Th=F4ng_b=E1o?=\r\nContent-Type: text/plain; charset=windows-1258\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'),
      Buffer.from([0x56, 0x69, 0xea, 0xf2, 0x74, 0x20, 0x4e, 0x61, 0x6d]),
    ]);
    const p = parseMessage(raw);
    expect(p.subject).toBe('Thông báo');
    expect(p.bodyText()).toBe('Việt Nam');
  });

  it('NFD input (raw UTF-8 header and body) comes out NFC', () => {
    const nfd = 'Nguyễn Văn Đông'.normalize('NFD');
    const p = parseMessage(Buffer.from(`Subject: ${nfd}\r\nFrom: ${nfd} <d@x.vn>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${nfd}`, 'utf8'));
    expect(p.subject).toBe('Nguyễn Văn Đông'.normalize('NFC'));
    expect(p.from).toBe(`${'Nguyễn Văn Đông'.normalize('NFC')} <d@x.vn>`);
    expect(p.bodyText()).toBe('Nguyễn Văn Đông'.normalize('NFC'));
  });

  it('empty buffer', () => {
    const p = parseMessage(Buffer.alloc(0));
    expect(p.structure).toMatchObject({ type: 'text', subtype: 'plain', headerStart: 0, bodyStart: 0, end: 0, size: 0, lines: 0 });
    expect(p.subject).toBe('');
    expect(p.date).toBeNull();
  });

  it('headers only, no blank line', () => {
    const raw = Buffer.from('Subject: x\r\nFrom: a@b');
    const p = parseMessage(raw);
    expect(p.structure.bodyStart).toBe(raw.length);
    expect(p.subject).toBe('x');
  });
});

describe('parseMessage: multipart', () => {
  const mixed = crlf([
    'From: a@x.vn',
    'Subject: ho so',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="==outer"',
    '',
    'This is the preamble.',
    '--==outer',
    'Content-Type: multipart/alternative; boundary=inner',
    '',
    '--inner',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'Xin ch=C3=A0o',
    '--inner',
    'Content-Type: text/html; charset=utf-8',
    '',
    '<p>Xin <b>chào</b> &amp; hẹn gặp</p><script>evil()</script>',
    '--inner--',
    '',
    '--==outer',
    'Content-Type: application/pdf; name="=?utf-8?Q?H=E1=BB=93_s=C6=A1.pdf?="',
    "Content-Disposition: attachment; filename*0*=utf-8''Quy%E1%BA%BFt%20;",
    ' filename*1*=%C4%91%E1%BB%8Bnh.pdf',
    'Content-Transfer-Encoding: base64',
    'Content-ID: <pdf1@x>',
    'Content-Description: Quyet dinh',
    'Content-Language: vi, en',
    'Content-Location: http://x.vn/a.pdf',
    'Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==',
    '',
    'JVBERi0xLjQK',
    '--==outer',
    'Content-Type: message/rfc822',
    '',
    'From: Old <old@y.vn>',
    'Subject: forwarded',
    'Content-Type: multipart/mixed; boundary=fw',
    '',
    '--fw',
    '',
    'inner text',
    '--fw',
    'Content-Type: image/png',
    '',
    'PNG',
    '--fw--',
    '--==outer--',
    'epilogue',
  ]);

  it('builds the tree with IMAP paths and byte offsets', () => {
    const p = parseMessage(mixed);
    expect(p.warnings).toEqual([]);
    const s = p.structure;
    expect([s.type, s.subtype, s.children.length]).toEqual(['multipart', 'mixed', 3]);
    const [alt, pdf, fwd] = s.children as [MimePart, MimePart, MimePart];
    expect(alt.path).toBe('1');
    expect(alt.children.map((c) => [c.path, c.subtype])).toEqual([['1.1', 'plain'], ['1.2', 'html']]);
    expect(body(mixed, alt.children[0]!)).toBe('Xin ch=C3=A0o');
    expect(body(mixed, alt.children[1]!)).toBe('<p>Xin <b>chào</b> &amp; hẹn gặp</p><script>evil()</script>');
    expect(alt.children[0]!.lines).toBe(1);
    // the CRLF before "--inner--" belongs to the delimiter; the blank line after it is the epilogue of inner
    expect(body(mixed, alt)).toBe(mixed.toString('utf8').split('Content-Type: multipart/alternative; boundary=inner\r\n\r\n')[1]!.split('\r\n--==outer')[0]);

    expect(pdf.path).toBe('2');
    expect(body(mixed, pdf)).toBe('JVBERi0xLjQK');
    expect(header(mixed, pdf).startsWith('Content-Type: application/pdf')).toBe(true);
    expect(pdf).toMatchObject({
      type: 'application', subtype: 'pdf', encoding: 'base64', size: 12, lines: null,
      contentId: '<pdf1@x>', description: 'Quyet dinh', language: ['vi', 'en'], location: 'http://x.vn/a.pdf',
      md5: 'Q2hlY2sgSW50ZWdyaXR5IQ==', filename: 'Quyết định.pdf',
      disposition: { type: 'attachment', params: [{ name: 'filename', value: 'Quyết định.pdf' }] },
    });

    expect(fwd).toMatchObject({ path: '3', type: 'message', subtype: 'rfc822' });
    expect(fwd.message?.envelope.subject).toBe('forwarded');
    expect(fwd.message?.envelope.from).toEqual([{ name: 'Old', adl: null, mailbox: 'old', host: 'y.vn' }]);
    const inner = fwd.message!.part;
    expect(inner.type).toBe('multipart');
    expect(inner.children.map((c) => c.path)).toEqual(['3.1', '3.2']);
    expect(body(mixed, inner.children[0]!)).toBe('inner text');
    expect(inner.children[0]!.params).toEqual([{ name: 'charset', value: 'us-ascii' }]);
    expect(body(mixed, inner.children[1]!)).toBe('PNG');
    expect(fwd.lines).toBe(countLines(mixed, fwd.bodyStart, fwd.end));
    expect(body(mixed, fwd).startsWith('From: Old')).toBe(true);
    expect(body(mixed, fwd).endsWith('--fw--')).toBe(true);

    expect(findPart(s, '1.2')).toBe(alt.children[1]);
    expect(findPart(s, '2')).toBe(pdf);
    expect(findPart(s, '3')).toBe(fwd);
    expect(findPart(s, '3.2')).toBe(inner.children[1]);
    expect(findPart(s, '4')).toBeNull();
    expect(findPart(s, '0')).toBeNull();
    expect(findPart(s, 'x')).toBeNull();
    expect(allParts(s).length).toBe(9);
  });

  it('collects body text from plain and html (tags, scripts stripped), forwarded parts too', () => {
    const p = parseMessage(mixed);
    expect(p.bodyText()).toBe('Xin chào\nXin chào & hẹn gặp\ninner text');
  });

  it('caps body text', () => {
    const p = parseMessage(mixed, { maxBodyTextBytes: 5 });
    expect(p.bodyText()).toBe('Xin c');
  });

  it('same offsets logic with bare LF', () => {
    const raw = lf(['Content-Type: multipart/mixed; boundary=b', '', '--b', '', 'one', '--b', 'Content-Type: text/html', '', '<i>two</i>', '--b--', '']);
    const p = parseMessage(raw);
    expect(p.structure.children.map((c) => body(raw, c))).toEqual(['one', '<i>two</i>']);
    expect(p.structure.children[0]!.headerStart).toBe(p.structure.children[0]!.bodyStart - 1);
  });

  it('missing close delimiter: the last part runs to the end, with a warning', () => {
    const raw = crlf(['Content-Type: multipart/mixed; boundary=b', '', '--b', '', 'one', '--b', '', 'two', 'still two']);
    const p = parseMessage(raw);
    expect(p.structure.children.map((c) => body(raw, c))).toEqual(['one', 'two\r\nstill two']);
    expect(p.warnings.some((w) => w.includes('close delimiter'))).toBe(true);
  });

  it('boundary look-alikes are not delimiters (mid-line, longer boundary, transport padding ok)', () => {
    const raw = crlf(['Content-Type: multipart/mixed; boundary=b', '', '--b  ', '', 'x --b y', '--bb', '--b--', '']);
    const p = parseMessage(raw);
    expect(p.structure.children.length).toBe(1);
    expect(body(raw, p.structure.children[0]!)).toBe('x --b y\r\n--bb');
  });

  it('multipart without any delimiter is shown as text/plain, with a warning', () => {
    const raw = crlf(['Content-Type: multipart/mixed; boundary=zz', '', 'no parts here']);
    const p = parseMessage(raw);
    expect(p.structure).toMatchObject({ type: 'text', subtype: 'plain', children: [], lines: 1 });
    expect(body(raw, p.structure)).toBe('no parts here');
    expect(p.warnings.length).toBeGreaterThan(0);
  });

  it('multipart without boundary becomes a leaf', () => {
    const p = parseMessage(crlf(['Content-Type: multipart/mixed', '', 'x']));
    expect(p.structure).toMatchObject({ type: 'application', subtype: 'octet-stream', children: [] });
  });

  it('multipart/digest parts default to message/rfc822', () => {
    const raw = crlf(['Content-Type: multipart/digest; boundary=d', '', '--d', '', 'Subject: one', '', 'body one', '--d', 'Content-Type: text/plain', '', 'plain', '--d--']);
    const p = parseMessage(raw);
    const [a, b] = p.structure.children as [MimePart, MimePart];
    expect([a.type, a.subtype]).toEqual(['message', 'rfc822']);
    expect(a.message?.envelope.subject).toBe('one');
    expect(a.message?.part.path).toBe('1.1');
    expect(body(raw, a.message!.part)).toBe('body one');
    expect([b.type, b.subtype]).toEqual(['text', 'plain']);
  });

  it('message/rfc822 at the top of a non-multipart enclosure and nested twice gets IMAP numbering', () => {
    const raw = crlf(['Content-Type: multipart/mixed; boundary=o', '', '--o', 'Content-Type: message/rfc822', '', 'Content-Type: message/rfc822', '', 'Subject: deepest', '', 'deep', '--o--']);
    const p = parseMessage(raw);
    const m1 = p.structure.children[0]!;
    const m2 = m1.message!.part;
    expect(m2.path).toBe('1.1');
    expect(m2.message!.part.path).toBe('1.1.1');
    expect(findPart(p.structure, '1.1.1')).toBe(m2.message!.part);
    expect(body(raw, m2.message!.part)).toBe('deep');
  });

  it('a top-level message/rfc822 is part 1; its enclosed parts are 1.x', () => {
    const single = crlf(['Content-Type: message/rfc822', '', 'Subject: in', '', 'body']);
    const p1 = parseMessage(single);
    expect(p1.structure.message?.part.path).toBe('1.1');
    expect(findPart(p1.structure, '1')).toBe(p1.structure);
    expect(findPart(p1.structure, '1.1')).toBe(p1.structure.message?.part);
    const multi = crlf(['Content-Type: message/rfc822', '', 'Content-Type: multipart/mixed; boundary=x', '', '--x', '', 'a', '--x', '', 'b', '--x--']);
    const p2 = parseMessage(multi);
    expect(p2.structure.message?.part.children.map((c) => c.path)).toEqual(['1.1', '1.2']);
    expect(body(multi, findPart(p2.structure, '1.2')!)).toBe('b');
  });

  it('an encoded message/rfc822 is not descended', () => {
    const raw = crlf(['Content-Type: message/rfc822', 'Content-Transfer-Encoding: base64', '', 'U3ViamVjdDogeA0KDQp4']);
    const p = parseMessage(raw);
    expect(p.structure.message).toBeNull();
    expect(p.warnings.length).toBe(1);
  });

  it('RFC 2045 defaults: malformed Content-Type is text/plain us-ascii; CTE defaults to 7bit', () => {
    const p = parseMessage(crlf(['Content-Type: ;;;', '', 'x']));
    expect(p.structure).toMatchObject({ type: 'text', subtype: 'plain', encoding: '7bit', params: [{ name: 'charset', value: 'us-ascii' }] });
  });
});

describe('parseMessage: limits', () => {
  it(`stops at the depth cap with a warning instead of throwing`, () => {
    const depth = 300;
    const open = Array.from({ length: depth }, (_, i) => `Content-Type: multipart/mixed; boundary=b${i}\r\n\r\n--b${i}\r\n`).join('');
    const raw = Buffer.from(`${open}\r\nleaf\r\n`);
    const p = parseMessage(raw, { maxDepth: 100 });
    let d = 0;
    let cur: MimePart = p.structure;
    while (cur.children.length > 0) {
      cur = cur.children[0]!;
      d++;
    }
    expect(d).toBe(100);
    expect(cur.type).toBe('application');
    expect(p.warnings.some((w) => w.includes('deeper than 100'))).toBe(true);
  });

  it('stops at the part cap', () => {
    const parts = Array.from({ length: 50 }, (_, i) => `--b\r\n\r\npart ${i}\r\n`).join('');
    const raw = Buffer.from(`Content-Type: multipart/mixed; boundary=b\r\n\r\n${parts}--b--\r\n`);
    const p = parseMessage(raw, { maxParts: 10 });
    expect(allParts(p.structure).length).toBe(10);
    expect(p.warnings.some((w) => w.includes('more than 10 MIME parts'))).toBe(true);
  });

  it('caps addresses per header', () => {
    const to = Array.from({ length: 3000 }, (_, i) => `u${i}@x.vn`).join(', ');
    const p = parseMessage(Buffer.from(`To: ${to}\r\n\r\n`), { maxAddresses: 1000 });
    expect(p.envelope.to?.length).toBe(1000);
    expect(p.warnings.some((w) => w.startsWith('to:'))).toBe(true);
  });

  it('deeply nested message/rfc822 stops at the cap', () => {
    const raw = Buffer.from(`${'Content-Type: message/rfc822\r\n\r\n'.repeat(500)}end`);
    const p = parseMessage(raw, { maxDepth: 100 });
    let d = 0;
    let cur: MimePart = p.structure;
    while (cur.message) {
      cur = cur.message.part;
      d++;
    }
    expect(d).toBe(100);
  });
});

describe('parseDate / countLines', () => {
  it.each([
    ['Tue, 1 Jul 2003 10:52:37 +0200', '2003-07-01T08:52:37.000Z'],
    ['1 Jul 2003 10:52:37 GMT', '2003-07-01T10:52:37.000Z'],
    ['Mon, 17 Nov 2025 08:30:00 +0700 (ICT)', '2025-11-17T01:30:00.000Z'],
    ['17 Nov 25 08:30 EST', '2025-11-17T13:30:00.000Z'],
    ['Fri, 21 Nov 97 09:55:06 -0600', '1997-11-21T15:55:06.000Z'],
    ['Thu, 13 Feb 1969 23:32:54 -0330', '1969-02-14T03:02:54.000Z'],
    ['Mon,17 Nov 2025 08:30:00 +0000', '2025-11-17T08:30:00.000Z'],
    ['17-Nov-2025 08:30:00 +0700', '2025-11-17T01:30:00.000Z'],
  ])('%s', (v, iso) => {
    expect(parseDate(v)?.toISOString()).toBe(iso);
  });
  it('malformed or absent dates are null', () => {
    expect(parseDate('not a date')).toBeNull();
    expect(parseDate('1')).toBeNull();
    expect(parseDate('31 Feb 2025 10:00:00 +0000')).toBeNull();
    expect(parseDate('17 Foo 2025 10:00:00 +0000')).toBeNull();
    expect(parseDate('17 Nov 2025 25:00:00 +0000')).toBeNull();
    expect(parseDate('('.repeat(1_000_000))).toBeNull(); // linear, not quadratic
    expect(parseDate(null)).toBeNull();
    expect(parseDate('')).toBeNull();
  });
  it('counts lines', () => {
    const b = Buffer.from('a\r\nb\r\n');
    expect(countLines(b, 0, b.length)).toBe(2);
    expect(countLines(b, 0, 4)).toBe(2); // "a\r\nb"
    expect(countLines(b, 0, 0)).toBe(0);
  });
});
