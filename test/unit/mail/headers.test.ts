import { describe, expect, it } from 'vitest';
import {
  decodeWords,
  encodeDisplayName,
  encodeHeaderValue,
  headerParam,
  MAX_PARAM_CONTINUATIONS,
  parseContentType,
  parseDisposition,
  parseHeaderBlock,
  parseStructured,
} from '../../../src/mail/headers.js';

describe('parseHeaderBlock', () => {
  it('unfolds, lower-cases names and finds the body (CRLF)', () => {
    const raw = Buffer.from('Subject: a\r\n  b\r\nX-Y : z\r\n\r\nbody');
    const h = parseHeaderBlock(raw, 0, raw.length);
    expect(h.fields).toEqual([
      { name: 'subject', value: 'a  b' },
      { name: 'x-y', value: 'z' },
    ]);
    expect(raw.subarray(h.bodyStart).toString()).toBe('body');
  });

  it('handles bare LF line endings', () => {
    const raw = Buffer.from('A: 1\nB: 2\n\tcont\n\nbody\n');
    const h = parseHeaderBlock(raw, 0, raw.length);
    expect(h.fields).toEqual([
      { name: 'a', value: '1' },
      { name: 'b', value: '2\tcont' },
    ]);
    expect(raw.subarray(h.bodyStart).toString()).toBe('body\n');
  });

  it('headers with no body and no blank line end at the buffer end', () => {
    const raw = Buffer.from('A: 1\r\nB: 2');
    const h = parseHeaderBlock(raw, 0, raw.length);
    expect(h.fields.length).toBe(2);
    expect(h.bodyStart).toBe(raw.length);
  });

  it('a line that is not a field ends the header', () => {
    const raw = Buffer.from('A: 1\r\nthis is body text\r\n');
    const h = parseHeaderBlock(raw, 0, raw.length);
    expect(h.fields).toEqual([{ name: 'a', value: '1' }]);
    expect(raw.subarray(h.bodyStart).toString()).toBe('this is body text\r\n');
    expect(h.warnings.length).toBe(1);
  });

  it('decodes raw UTF-8 header bytes (RFC 6532)', () => {
    const raw = Buffer.from('Subject: Báo cáo tháng\r\n\r\n', 'utf8');
    expect(parseHeaderBlock(raw, 0, raw.length).fields[0]!.value).toBe('Báo cáo tháng');
  });

  it('guesses raw 8-bit windows-1258 header bytes (no label) as Vietnamese', () => {
    const raw = Buffer.concat([Buffer.from('Subject: Th'), Buffer.from([0xf4]), Buffer.from('ng b'), Buffer.from([0xe1]), Buffer.from('o ti'), Buffer.from([0xea, 0xec]), Buffer.from('ng Vi'), Buffer.from([0xea, 0xf2]), Buffer.from('t\r\n\r\n')]);
    expect(parseHeaderBlock(raw, 0, raw.length).fields[0]!.value).toBe('Thông báo tiếng Việt');
  });

  it('keeps at most maxHeaderBytes of fields but still finds the body', () => {
    const lines = Array.from({ length: 1000 }, (_, i) => `X-${i}: ${'v'.repeat(50)}`).join('\r\n');
    const raw = Buffer.from(`${lines}\r\n\r\nthe body`);
    const h = parseHeaderBlock(raw, 0, raw.length, 4096);
    expect(h.fields.length).toBeLessThan(100);
    expect(h.warnings.some((w) => w.includes('4096'))).toBe(true);
    expect(raw.subarray(h.bodyStart).toString()).toBe('the body');
  });
});

describe('decodeWords (RFC 2047)', () => {
  const table: Array<[string, string, string]> = [
    ['plain', 'Hello world', 'Hello world'],
    ['B utf-8', '=?UTF-8?B?VGnhur9uZyBWaeG7h3Q=?=', 'Tiếng Việt'],
    ['Q utf-8 with underscore', '=?utf-8?Q?B=C3=A1o_c=C3=A1o?=', 'Báo cáo'],
    ['Q windows-1258 (combining marks composed)', '=?windows-1258?Q?Vi=EA=F2t_Nam?=', 'Việt Nam'],
    ['B windows-1258', `=?windows-1258?B?${Buffer.from([0x54, 0x69, 0xea, 0xec, 0x6e, 0x67]).toString('base64')}?=`, 'Tiếng'],
    ['VISCII', '=?viscii?Q?Vi=AEt?=', 'Việt'],
    ['adjacent words: whitespace dropped', '=?utf-8?Q?a?= =?utf-8?Q?b?=', 'ab'],
    ['adjacent words across folding', '=?utf-8?Q?a?=\r\n =?utf-8?Q?b?=', 'ab'],
    ['text between words kept', '=?utf-8?Q?a?= x =?utf-8?Q?b?=', 'a x b'],
    // "ệ" is E1 BB 87: split between two B words, must join as bytes first
    ['multi-byte character split across words', `=?utf-8?B?${Buffer.from([0x56, 0x69, 0xe1]).toString('base64')}?= =?utf-8?B?${Buffer.from([0xbb, 0x87, 0x74]).toString('base64')}?=`, 'Việt'],
    ['different charsets adjacent', '=?iso-8859-1?Q?caf=E9?= =?utf-8?Q?_H=C3=A0?=', 'café Hà'],
    ['language suffix (RFC 2231 §5)', '=?utf-8*vi?Q?Hu=E1=BA=BF?=', 'Huế'],
    ['mixed with plain prefix', 'Re: =?utf-8?Q?Gi=E1=BA=A5y_m=E1=BB=9Di?=', 'Re: Giấy mời'],
    ['CRLF inside an encoded word becomes a space', '=?utf-8?Q?a=0D=0ABcc:_x@evil?=', 'a Bcc: x@evil'],
    ['broken word left alone', '=?utf-8?X?abc?=', '=?utf-8?X?abc?='],
    ['unknown charset falls back', '=?x-foo?Q?caf=C3=A9?=', 'café'],
  ];
  it.each(table)('%s', (_n, input, want) => {
    expect(decodeWords(input)).toBe(want);
  });
});

describe('encodeHeaderValue', () => {
  it('leaves printable ASCII alone', () => {
    expect(encodeHeaderValue('Hello world')).toBe('Hello world');
  });
  it('never lets CR or LF through', () => {
    const v = encodeHeaderValue('a\r\nBcc: victim@example.com');
    expect(v).not.toMatch(/[\r\n]/);
    const w = encodeHeaderValue('Tiêu đề\r\nBcc: x@y');
    // folding CRLF is always followed by a space, never a new field
    expect(w.split('\r\n').slice(1).every((l) => l.startsWith(' '))).toBe(true);
    expect(decodeWords(w)).toBe('Tiêu đề Bcc: x@y');
  });
  it('round-trips long Vietnamese text through RFC 2047 words of at most 75 characters', () => {
    const text = 'Thông báo về việc triển khai Hệ thống thư điện tử công vụ của tỉnh Nghệ An năm 2025 — đợt một';
    const enc = encodeHeaderValue(text);
    for (const word of enc.split('\r\n ')) expect(word.length).toBeLessThanOrEqual(75);
    expect(decodeWords(enc)).toBe(text);
  });
  it('encodes ASCII that looks like an encoded word, so it reads back literally', () => {
    const enc = encodeHeaderValue('=?utf-8?Q?x?=');
    expect(enc).not.toBe('=?utf-8?Q?x?=');
    expect(decodeWords(enc)).toBe('=?utf-8?Q?x?=');
  });
  it.each([
    ['Long Nguyen', 'Long Nguyen'],
    ['Nguyen, Long', '"Nguyen, Long"'],
    ['a "b" <c>', '"a \\"b\\" <c>"'],
    ['Nguyễn Văn Long', '=?utf-8?B?Tmd1eeG7hW4gVsSDbiBMb25n?='],
    ['x\r\nBcc: y', '"x Bcc: y"'],
  ])('encodeDisplayName(%j)', (name, want) => {
    expect(encodeDisplayName(name)).toBe(want);
  });
  it('writes parameters safely', () => {
    expect(headerParam('file', 'ho-so.zip')).toBe('file="ho-so.zip"');
    expect(headerParam('file', 'a"b\\c')).toBe('file="a\\"b\\\\c"');
    expect(headerParam('file', 'hồ sơ.zip')).toBe("file*=utf-8''h%E1%BB%93%20s%C6%A1.zip");
    expect(headerParam('file', 'a\r\nb')).toBe('file="a b"');
  });
});

describe('parseStructured / RFC 2231', () => {
  const table: Array<[string, string, Array<[string, string]>]> = [
    ['simple', 'text/plain; charset=utf-8; format=flowed', [['charset', 'utf-8'], ['format', 'flowed']]],
    ['quoted with escapes and semicolons', 'x; a="b;c\\"d"', [['a', 'b;c"d']]],
    ['names lower-cased', 'x; CHARSET=UTF-8', [['charset', 'UTF-8']]],
    ['extended value', "x; filename*=utf-8''H%E1%BB%93%20s%C6%A1.pdf", [['filename', 'Hồ sơ.pdf']]],
    ['extended with language', "x; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A", [['title', 'This is ***fun***']]],
    [
      'continuations, mixed encoded and plain, out of order',
      "x; name*1=\" plan\"; name*0*=windows-1258''K%EA%CC; name*2*=%20n%E3m",
      [['name', 'Kề plan năm']],
    ],
    ['extended beats simple', "x; filename=\"fallback.txt\"; filename*=utf-8''%C4%90%C6%A1n.txt", [['filename', 'Đơn.txt']]],
    ['gap ends the value', 'x; n*0=a; n*2=c', [['n', 'a']]],
    ['missing segment 0 falls back to simple', 'x; n=plain; n*1=b', [['n', 'plain']]],
    ['unquoted value with spaces (broken clients)', 'x; name=my file.pdf', [['name', 'my file.pdf']]],
    ['attribute without value ignored', 'x; foo; a=b', [['a', 'b']]],
    ['RFC 2047 inside quotes is kept in params (decoded only for file names)', 'x; name="=?utf-8?Q?a?="', [['name', '=?utf-8?Q?a?=']]],
  ];
  it.each(table)('%s', (_n, input, want) => {
    expect(parseStructured(input).params.map((p) => [p.name, p.value])).toEqual(want);
  });

  it(`caps continuations at ${MAX_PARAM_CONTINUATIONS} (CVE-2026-27859)`, () => {
    const parts = Array.from({ length: 5000 }, (_, i) => `name*${i}=a`).join('; ');
    const s = parseStructured(`attachment; ${parts}`);
    expect(s.params[0]!.value).toBe('a'.repeat(MAX_PARAM_CONTINUATIONS));
    expect(s.warnings.length).toBeGreaterThan(0);
  });
});

describe('parseContentType / parseDisposition', () => {
  it('parses type, subtype and params', () => {
    const ct = parseContentType('Multipart/Mixed; boundary="=_abc"');
    expect([ct.type, ct.subtype, ct.valid]).toEqual(['multipart', 'mixed', true]);
    expect(ct.params).toEqual([{ name: 'boundary', value: '=_abc' }]);
  });
  it('defaults per RFC 2045 when absent or malformed', () => {
    expect(parseContentType(null)).toMatchObject({ type: 'text', subtype: 'plain', params: [{ name: 'charset', value: 'us-ascii' }] });
    expect(parseContentType('garbage')).toMatchObject({ type: 'text', subtype: 'plain', valid: false });
    expect(parseContentType('text/')).toMatchObject({ type: 'text', subtype: 'plain', valid: false });
    expect(parseContentType(null, 'message/rfc822')).toMatchObject({ type: 'message', subtype: 'rfc822', params: [] });
  });
  it('parses dispositions', () => {
    expect(parseDisposition('Attachment; filename="a.pdf"')).toMatchObject({ type: 'attachment', params: [{ name: 'filename', value: 'a.pdf' }] });
    expect(parseDisposition(null)).toBeNull();
    expect(parseDisposition('')).toBeNull();
  });
});
