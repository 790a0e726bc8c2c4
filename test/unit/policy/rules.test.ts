/** Each rule through the real pipeline, on messages parsed by src/mail's parseMessage. */
import { describe, expect, it } from 'vitest';
import { configFrom } from '../../../src/config/load.js';
import { systemClock } from '../../../src/lib/clock.js';
import { silentLogger } from '../../../src/lib/log.js';
import { createPipeline } from '../../../src/policy/pipeline.js';
import type { PolicyContext } from '../../../src/policy/types.js';
import { parseMessage } from '../../../src/mail/parse.js';
import type { Store } from '../../../src/store/port.js';
import {
  attachedMessagePart,
  elfBytes,
  machOBytes,
  mimeMessage,
  overlappingBomb,
  peBytes,
  policyMessage,
  rar4,
  rar5,
  sevenZip,
  zip,
  type AttachmentSpec,
} from './fixtures.js';

const store = {} as Store;
const inbound: PolicyContext = { direction: 'inbound', clientIp: '192.0.2.1', account: null, sender: 'a@example.org', recipients: ['longnv@example.gov.vn'] };

function pipeline(overrides: Record<string, unknown> = {}) {
  return createPipeline({ config: configFrom({ domains: ['example.gov.vn'], ...overrides }), log: silentLogger(), store, clock: systemClock });
}

async function check(attachments: AttachmentSpec[], overrides: Record<string, unknown> = {}, ctx = inbound) {
  return pipeline(overrides).checkMessage(ctx, policyMessage(mimeMessage({ attachments })));
}

describe('executables (R-POL-1): every evasion is refused with 550 5.7.1 naming the file', () => {
  const cases: Array<[string, AttachmentSpec, string]> = [
    ['plain .exe', { name: 'setup.exe', data: 'x' }, 'setup.exe'],
    ['double extension', { name: 'ho-so.pdf.exe', data: 'x' }, 'ho-so.pdf.exe'],
    ['trailing dots and spaces', { name: 'ho-so.exe. . ', data: 'x' }, 'ho-so.exe'],
    ['upper case', { name: 'SETUP.EXE', data: 'x' }, 'SETUP.EXE'],
    ['RFC 2231 name', { name: 'tài liệu.exe', data: 'x', style: 'rfc2231' }, 'tài liệu.exe'],
    ['RFC 2231 continuations', { name: 'báo cáo quý 3 năm 2026.scr', data: 'x', style: 'rfc2231-cont' }, 'báo cáo quý 3 năm 2026.scr'],
    ['RFC 2047 in quotes', { name: 'công văn.exe', data: 'x', style: 'rfc2047' }, 'công văn.exe'],
    ['Content-Type name only', { name: 'run.bat', data: 'x', style: 'ct-only' }, 'run.bat'],
    ['bidi override', { name: 'invoice\u202Efdp.exe', data: 'x' }, 'fdp.exe'],
    ['lying Content-Type', { name: 'report.pdf', data: 'x', contentType: 'application/x-msdownload' }, 'report.pdf'],
    ['PE content under a harmless name', { name: 'photo.jpg', data: peBytes(), contentType: 'image/jpeg' }, 'photo.jpg'],
    ['PE content without a name', { name: '', data: peBytes(), style: 'none' }, 'part'],
    ['ELF content', { name: 'notes.txt', data: elfBytes() }, 'notes.txt'],
    ['Mach-O content', { name: 'a.dat', data: machOBytes() }, 'a.dat'],
    ['Mach-O fat binary', { name: 'b.dat', data: machOBytes(true) }, 'b.dat'],
    ['.exe inside a zip', { name: 'ho-so.zip', data: zip([{ name: 'setup.exe', data: 'x', deflate: true }]) }, 'ho-so.zip/setup.exe'],
    ['PE inside a zip under a harmless name', { name: 'a.zip', data: zip([{ name: 'cv.doc', data: peBytes(), deflate: true }]) }, 'a.zip/cv.doc'],
    ['zip in zip', { name: 'outer.zip', data: zip([{ name: 'inner.zip', data: zip([{ name: 'x.dll', data: 'x' }]) }]) }, 'outer.zip/inner.zip/x.dll'],
    ['.exe name in an encrypted zip', { name: 'locked.zip', data: zip([{ name: 'payload.exe', data: 'x', encrypt: 'aes' }]) }, 'locked.zip/payload.exe'],
    ['.exe name in a RAR4', { name: 'a.rar', data: rar4({ names: ['payload.exe'] }) }, 'a.rar/payload.exe'],
    ['.exe name in a RAR5', { name: 'a.rar', data: rar5({ names: ['payload.exe'] }) }, 'a.rar/payload.exe'],
  ];
  it.each(cases)('%s', async (_label, att, named) => {
    const r = await check([att]);
    expect(r.action).toBe('reject');
    expect(r.reply?.code).toBe(550);
    expect(r.reply?.enhanced).toBe('5.7.1');
    expect(r.reply?.text).toContain(named);
    expect(r.reply?.text).toMatch(/^Thư bị từ chối.* \/ Message refused/);
    expect(r.findings[0]).toMatch(/^executables: reject executable; file=/);
  });

  it('a uuencoded file in a text body is named by its begin line', async () => {
    const text = 'Gửi anh tệp:\r\nbegin 644 chuong-trinh.exe\r\n#0V%T\r\n`\r\nend\r\n';
    const r = await pipeline().checkMessage(inbound, policyMessage(mimeMessage({ text })));
    expect(r.action).toBe('reject');
    expect(r.reply?.text).toContain('chuong-trinh.exe');
  });

  it('inside an attached message (message/rfc822)', async () => {
    const inner = mimeMessage({ attachments: [{ name: 'virus.exe', data: 'x' }] });
    const r = await pipeline().checkMessage(inbound, policyMessage(mimeMessage({ rawParts: [attachedMessagePart(inner)] })));
    expect(r.action).toBe('reject');
    expect(r.reply?.text).toContain('virus.exe');
  });

  it('a zip bomb cannot be checked → refused, never accepted', async () => {
    const r = await check([{ name: 'bomb.zip', data: overlappingBomb() }]);
    expect(r.action).toBe('reject');
    expect(r.findings[0]).toMatch(/^executables: reject unscannable; file="bomb.zip"/);
  });

  it('clean attachments pass', async () => {
    const r = await check([
      { name: 'báo cáo.pdf', data: '%PDF-1.7\n', style: 'rfc2231' },
      { name: 'data.zip', data: zip([{ name: 'a.xlsx', data: 'PK', deflate: true }]) },
      { name: 'exe-notes.txt', data: 'mentions .exe only' },
    ]);
    expect(r).toMatchObject({ action: 'accept', reply: null, findings: [] });
  });

  it('action flag adds a header instead of refusing', async () => {
    const r = await check([{ name: 'setup.exe', data: 'x' }], { policy: { rules: [{ name: 'executables', action: 'flag' }] } });
    expect(r.action).toBe('accept');
    expect(r.headers).toContain('X-Buudien-Policy: executable; file="setup.exe"; by=name');
  });
});

/** uuencode (classic): 45 bytes a line, the count as its first character, backquote for 0. */
function uuencode(name: string, data: Buffer, mode = '644'): string {
  const ch = (v: number): string => (v === 0 ? '`' : String.fromCharCode(32 + v));
  const lines = [`begin ${mode} ${name}`];
  for (let at = 0; at < data.length; at += 45) {
    const chunk = data.subarray(at, at + 45);
    let line = ch(chunk.length);
    for (let i = 0; i < chunk.length; i += 3) {
      const [a = 0, b = 0, c = 0] = [chunk[i], chunk[i + 1], chunk[i + 2]];
      line += ch(a >> 2) + ch(((a & 3) << 4) | (b >> 4)) + ch(((b & 15) << 2) | (c >> 6)) + ch(c & 63);
    }
    lines.push(line);
  }
  return [...lines, '`', 'end', ''].join('\r\n');
}

/** A message whose single text part holds `text` (no multipart around it). */
function textMessage(text: string): Buffer {
  return Buffer.from(`From: a@example.org\r\nTo: longnv@example.gov.vn\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${text}`, 'utf8');
}

describe('what the scanner cannot read is refused, never passed (fail closed)', () => {
  const exe = 'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="deep.exe"\r\n\r\nx\r\n';

  it('an .exe nested deeper than limits.maxMimeDepth: the message cannot be checked in full', async () => {
    let part = exe;
    for (let i = 0; i < 120; i++) part = `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n${part}--b${i}--\r\n`;
    const r = await pipeline().checkMessage(inbound, policyMessage(Buffer.from(`From: a@example.org\r\nSubject: deep\r\nMIME-Version: 1.0\r\n${part}`)));
    expect(r.action).toBe('reject');
    expect(r.reply).toMatchObject({ code: 550, enhanced: '5.7.1' });
    expect(r.reply?.text).toMatch(/^Thư bị từ chối: không kiểm tra được toàn bộ thư \(các phần MIME lồng nhau sâu hơn 100 tầng\).* \/ Message refused: the message cannot be checked in full/);
    expect(r.findings[0]).toMatch(/^executables: reject unscannable; structure=depth/);
  });

  it('an .exe nested deeper through attached messages (message/rfc822)', async () => {
    let msg = mimeMessage({ attachments: [{ name: 'deep.exe', data: 'x' }] });
    // A subject per level: the fixture's boundary comes from it, and each level needs its own.
    for (let i = 0; i < 110; i++) msg = mimeMessage({ subject: `level ${i}`, rawParts: [attachedMessagePart(msg)] });
    const r = await pipeline().checkMessage(inbound, policyMessage(msg));
    expect(r.action).toBe('reject');
    expect(r.findings[0]).toMatch(/structure=depth/);
  });

  it('an .exe after more than limits.maxMimeParts parts', async () => {
    const many = Array.from({ length: 60 }, () => 'Content-Type: text/plain\r\n\r\nx\r\n');
    const msg = mimeMessage({ rawParts: [...many, exe] });
    const r = await pipeline({ limits: { maxMimeParts: 50 } }).checkMessage(inbound, { raw: msg, parsed: parseMessage(msg, { maxParts: 50 }) });
    expect(r.action).toBe('reject');
    expect(r.reply?.text).toContain('hơn 50 phần MIME');
    expect(r.findings[0]).toMatch(/structure=parts/);
  });

  it('the same message under the limits is refused for the .exe itself (the limit is what changed)', async () => {
    let part = exe;
    for (let i = 0; i < 50; i++) part = `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n${part}--b${i}--\r\n`;
    const r = await pipeline().checkMessage(inbound, policyMessage(Buffer.from(`From: a@example.org\r\nSubject: deep\r\nMIME-Version: 1.0\r\n${part}`)));
    expect(r.findings[0]).toMatch(/^executables: reject executable; file="deep.exe"/);
  });

  it('a file name after more header parameters than are read', async () => {
    const junk = Array.from({ length: 300 }, (_, i) => `x${i}=1`).join('; ');
    const raw = [`Content-Type: application/octet-stream; ${junk}; name="a.exe"`, 'Content-Disposition: attachment', '', 'x', ''].join('\r\n');
    const r = await pipeline().checkMessage(inbound, policyMessage(mimeMessage({ rawParts: [raw] })));
    expect(r.action).toBe('reject');
    expect(r.findings[0]).toMatch(/structure=params/);
    expect(r.reply?.text).toContain('hơn 256 tham số');
  });

  it('a comment before the name parameter does not hide it (RFC 2045 allows comments there)', async () => {
    for (const raw of [
      'Content-Type: application/octet-stream; (comment) name="a.exe"\r\n\r\nx\r\n',
      'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; (c) filename="b.exe"\r\n\r\nx\r\n',
    ]) {
      const r = await pipeline().checkMessage(inbound, policyMessage(mimeMessage({ rawParts: [raw] })));
      expect(r.findings[0]).toMatch(/^executables: reject executable; file="[ab].exe"/);
    }
  });
});

describe('files uuencoded in a text body', () => {
  it('a program is found by its content, whatever its name', async () => {
    const r = await pipeline().checkMessage(inbound, policyMessage(textMessage(`Gửi anh:\r\n${uuencode('x.bin', peBytes())}`)));
    expect(r.action).toBe('reject');
    expect(r.findings[0]).toBe('executables: reject executable; file="x.bin"; by=pe');
  });

  it('a zip is opened: an .exe inside it is refused', async () => {
    const data = zip([{ name: 'setup.exe', data: 'x', deflate: true }]);
    const r = await pipeline().checkMessage(inbound, policyMessage(textMessage(uuencode('ho-so.zip', data))));
    expect(r.findings[0]).toMatch(/^executables: reject executable; file="ho-so.zip\/setup.exe"/);
  });

  it('a harmless file passes, and the text around it is not an attachment', async () => {
    const r = await pipeline().checkMessage(inbound, policyMessage(textMessage(`Báo cáo:\r\n${uuencode('bao-cao.pdf', Buffer.from('%PDF-1.7\n'))}Hết.\r\n`)));
    expect(r).toMatchObject({ action: 'accept', findings: [] });
  });

  it('its size is the decoded size: under the limit passes though the encoding is over it, over the limit is refused', async () => {
    const cfg = { limits: { maxAttachmentBytes: 1024 * 1024, maxMessageBytes: 4 * 1024 * 1024 } };
    const under = uuencode('report.pdf', Buffer.alloc(1000 * 1024, 0x41)); // about 1.4 MB of text
    expect(under.length).toBeGreaterThan(1024 * 1024);
    expect((await pipeline(cfg).checkMessage(inbound, policyMessage(textMessage(under)))).action).toBe('accept');
    const over = await pipeline(cfg).checkMessage(inbound, policyMessage(textMessage(uuencode('video.mp4', Buffer.alloc(1024 * 1024 + 1, 0x41)))));
    expect(over).toMatchObject({ action: 'reject', reply: { code: 552, enhanced: '5.3.4' } });
    expect(over.findings[0]).toBe(`attachment-size: reject attachment-too-large; file="video.mp4"; size=${1024 * 1024 + 1}; limit=${1024 * 1024}`);
  });

  it('a "begin" line that ends the block before it is read as the next file', async () => {
    const r = await pipeline().checkMessage(inbound, policyMessage(textMessage('begin 644 a.txt\r\nbegin 644 evil.exe\r\n#0V%T\r\n`\r\nend\r\n')));
    expect(r.findings[0]).toMatch(/file="evil.exe"/);
  });

  it('more than 1,000 uuencoded files in one part cannot be checked (the work is bounded), whatever their names', async () => {
    const many = Array.from({ length: 1001 }, (_, i) => `begin 644 f${i}.zip\r\n#0V%T\r\n\`\r\nend\r\n`).join('');
    const r = await pipeline().checkMessage(inbound, policyMessage(textMessage(many)));
    expect(r.action).toBe('reject');
    expect(r.findings[0]).toMatch(/^executables: reject unscannable; structure=uuencoded/);
    expect(r.reply?.text).toContain('hơn 1000 tệp mã hóa uuencode');
  });

  it('uuencode -m (begin-base64) and a five-digit mode are read too', async () => {
    const b64 = `begin-base64 644 a.bin\r\n${peBytes().toString('base64').replace(/.{60}/g, '$&\r\n')}\r\n====\r\n`;
    expect((await pipeline().checkMessage(inbound, policyMessage(textMessage(b64)))).findings[0]).toBe('executables: reject executable; file="a.bin"; by=pe');
    const r = await pipeline().checkMessage(inbound, policyMessage(textMessage(uuencode('run.exe', Buffer.from('x'), '00644'))));
    expect(r.findings[0]).toMatch(/file="run.exe"/);
  });
});

describe('encrypted archives (R-POL-2): flagged by default with the subject tag', () => {
  const cases: Array<[string, AttachmentSpec]> = [
    ['zip (ZipCrypto)', { name: 'ho-so.zip', data: zip([{ name: 'a.doc', data: 'x', encrypt: 'zipcrypto' }]) }],
    ['zip (AES)', { name: 'ho-so.zip', data: zip([{ name: 'a.doc', data: 'x', encrypt: 'aes' }]) }],
    ['RAR4 files', { name: 'ho-so.rar', data: rar4({ names: ['a.doc'], encryptFiles: true }) }],
    ['RAR4 headers', { name: 'ho-so.rar', data: rar4({ names: ['a.doc'], encryptHeaders: true }) }],
    ['RAR5 files', { name: 'ho-so.rar', data: rar5({ names: ['a.doc'], encryptFiles: true }) }],
    ['RAR5 headers', { name: 'ho-so.rar', data: rar5({ names: ['a.doc'], encryptHeaders: true }) }],
    ['7z', { name: 'ho-so.7z', data: sevenZip({ encrypt: true }) }],
    ['7z encoded header', { name: 'ho-so.7z', data: sevenZip({ encrypt: true, encodedHeader: true }) }],
    ['7z packed header', { name: 'ho-so.7z', data: sevenZip({ encrypt: true, packedHeader: true }) }],
  ];
  it.each(cases)('%s', async (_l, att) => {
    const r = await check([att]);
    const ext = att.name.split('.').pop() as string;
    expect(r.action).toBe('accept');
    expect(r.headers).toContain(`X-Buudien-Policy: encrypted-archive; file="ho-so.${ext}"`);
    expect(r.subjectTag).toBe('[Tệp nén có mật khẩu / Encrypted archive]');
    expect(r.findings).toEqual([`encrypted-archives: flag encrypted-archive; file="ho-so.${ext}"`]);
  });

  it('nested: an encrypted RAR inside a plain zip is flagged under its path', async () => {
    const r = await check([{ name: 'outer.zip', data: zip([{ name: 'inner.rar', data: rar5({ names: ['a.doc'], encryptFiles: true }), deflate: true }]) }]);
    expect(r.headers).toContain('X-Buudien-Policy: encrypted-archive; file="outer.zip/inner.rar"');
  });

  it('unencrypted archives are not flagged', async () => {
    const r = await check([
      { name: 'a.zip', data: zip([{ name: 'a.doc', data: 'x' }]) },
      { name: 'b.rar', data: rar4({ names: ['a.doc'] }) },
      { name: 'c.rar', data: rar5({ names: ['a.doc'] }) },
      { name: 'd.7z', data: sevenZip({}) },
    ]);
    expect(r).toMatchObject({ action: 'accept', headers: [], subjectTag: null });
  });

  it('reject and quarantine by config', async () => {
    const att = { name: 'x.zip', data: zip([{ name: 'a.doc', data: 'x', encrypt: 'zipcrypto' }]) } as const;
    const rej = await check([att], { policy: { rules: [{ name: 'encrypted-archives', action: 'reject' }] } });
    expect(rej).toMatchObject({ action: 'reject', reply: { code: 550, enhanced: '5.7.1' } });
    expect(rej.reply?.text).toContain('x.zip');
    const q = await check([att], { policy: { rules: [{ name: 'encrypted-archives', action: 'quarantine' }] } });
    expect(q.action).toBe('quarantine');
    expect(q.findings).toEqual(['encrypted-archives: quarantine encrypted-archive; file="x.zip"']);
  });
});

describe('attachment size (R-STORE-2)', () => {
  const cfg = { limits: { maxAttachmentBytes: 1024 * 1024, maxMessageBytes: 4 * 1024 * 1024 } };
  it('over the limit → 552 5.3.4 naming the file and the limit', async () => {
    const r = await check([{ name: 'video.mp4', data: Buffer.alloc(1024 * 1024 + 1, 7) }], cfg);
    expect(r).toMatchObject({ action: 'reject', reply: { code: 552, enhanced: '5.3.4' } });
    expect(r.reply?.text).toContain('"video.mp4"');
    expect(r.reply?.text).toContain('1.0 MB');
  });
  it('exactly at the limit passes (decoded size counts, not base64)', async () => {
    const r = await check([{ name: 'video.mp4', data: Buffer.alloc(1024 * 1024, 7) }], cfg);
    expect(r.action).toBe('accept');
  });
});

describe('auto-forward (R-POL-5)', () => {
  const msgWith = (headers: string[]) => policyMessage(mimeMessage({ headers }));
  it.each([
    ['Auto-Submitted: auto-forwarded', ['Auto-Submitted: auto-forwarded']],
    ['Resent-From', ['Resent-From: <someone@gmail.com>', 'Resent-Date: Sun, 22 Nov 2026 10:00:00 +0700']],
    ['X-Forwarded-To', ['X-Forwarded-To: longnv@example.gov.vn']],
  ])('%s from outside the allowlist is flagged', async (_l, headers) => {
    const r = await pipeline().checkMessage({ ...inbound, sender: 'x@gmail.com' }, msgWith(headers));
    expect(r.action).toBe('accept');
    expect(r.headers.some((h) => h.startsWith('X-Buudien-Policy: auto-forward; from="gmail.com"'))).toBe(true);
  });
  it('from an allowed domain passes; reject by config', async () => {
    const ok = await pipeline().checkMessage({ ...inbound, sender: 'a@hanoi.gov.vn' }, msgWith(['Auto-Submitted: auto-forwarded']));
    expect(ok.headers).toEqual([]);
    const rej = await pipeline({ policy: { rules: [{ name: 'auto-forward', action: 'reject' }] } }).checkMessage({ ...inbound, sender: 'x@gmail.com' }, msgWith(['Auto-Submitted: auto-forwarded']));
    expect(rej).toMatchObject({ action: 'reject', reply: { code: 550, enhanced: '5.7.1' } });
  });
  it('our own forwarding to an outside domain is refused at RCPT', async () => {
    const r = await pipeline({ policy: { rules: [{ name: 'auto-forward', action: 'reject' }] } }).checkRecipient({ ...inbound, direction: 'forward' }, 'me@gmail.com');
    expect(r).toMatchObject({ action: 'reject', reply: { code: 550 } });
  });
});
