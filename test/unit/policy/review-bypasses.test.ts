/** Bypasses found in a review of the policy scan: each case was delivered before its fix. */
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { configFrom } from '../../../src/config/load.js';
import { systemClock } from '../../../src/lib/clock.js';
import { silentLogger } from '../../../src/lib/log.js';
import { inspectFile, type InspectLimits } from '../../../src/policy/archive/inspect.js';
import { decodeBase64Groups } from '../../../src/policy/decode.js';
import { createPipeline } from '../../../src/policy/pipeline.js';
import { sniffExecutable } from '../../../src/policy/sniff.js';
import type { PolicyContext } from '../../../src/policy/types.js';
import type { Store } from '../../../src/store/port.js';
import { peBytes, policyMessage, rar4, rar5, sevenZip, zip } from './fixtures.js';

const ctx: PolicyContext = { direction: 'inbound', clientIp: '192.0.2.1', account: null, sender: 'a@example.org', recipients: ['longnv@example.gov.vn'] };
const pipeline = createPipeline({ config: configFrom({ domains: ['example.gov.vn'] }), log: silentLogger(), store: {} as Store, clock: systemClock });
const pe = peBytes(2048);
const txt = 'Content-Type: text/plain\r\n\r\nhi\r\n';
const b64 = (b: Buffer): string => b.toString('base64').replace(/.{76}/g, '$&\r\n');

function msg(parts: string[]): Buffer {
  const head = ['From: a@example.org', 'To: longnv@example.gov.vn', 'Subject: t', 'Date: Sun, 22 Nov 2026 10:00:00 +0700', 'Message-ID: <x@example.org>', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="BB"'].join('\r\n');
  return Buffer.from(`${head}\r\n\r\n` + parts.map((p) => `--BB\r\n${p}`).join('') + '--BB--\r\n', 'latin1');
}
function att(headers: string, body: Buffer): string {
  return `${headers}\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64(body)}\r\n`;
}
async function check(raw: Buffer): Promise<{ action: string; findings: string }> {
  const r = await pipeline.checkMessage(ctx, policyMessage(raw));
  return { action: r.action, findings: r.findings.join(' | ') };
}
const innerWithExe = msg([txt, att('Content-Type: application/octet-stream; name="evil.exe"', pe)]);

describe('attached messages the parser does not open', () => {
  it('a base64 message/rfc822 holding evil.exe is refused', async () => {
    const r = await check(msg([txt, att('Content-Type: message/rfc822\r\nContent-Disposition: attachment; filename="fwd.eml"', innerWithExe)]));
    expect(r.action).toBe('reject');
    expect(r.findings).toContain('file="fwd.eml/evil.exe"');
  });

  it('an .eml sent as application/octet-stream, and one unnamed but starting with header lines, are opened', async () => {
    const named = await check(msg([txt, att('Content-Type: application/octet-stream; name="fwd.eml"', innerWithExe)]));
    expect(named.findings).toContain('file="fwd.eml/evil.exe"');
    const sniffed = await check(msg([txt, att('Content-Type: application/octet-stream', innerWithExe)]));
    expect(sniffed.action).toBe('reject');
    expect(sniffed.findings).toContain('evil.exe');
  });

  it('an .eml inside a zip is opened', async () => {
    const r = await check(msg([txt, att('Content-Type: application/zip; name="a.zip"', zip([{ name: 'fwd.eml', data: innerWithExe, deflate: true }]))]));
    expect(r.action).toBe('reject');
    expect(r.findings).toContain('file="a.zip/fwd.eml/evil.exe"');
  });

  it('messages nested past the depth limit cannot be checked; a clean one passes', async () => {
    let m = msg([txt]);
    for (let i = 0; i < 4; i++) m = msg([txt, att('Content-Type: message/rfc822', m)]);
    expect((await check(m)).action).toBe('accept');
    const shallow = createPipeline({ config: configFrom({ domains: ['example.gov.vn'], limits: { maxMimeDepth: 3 } }), log: silentLogger(), store: {} as Store, clock: systemClock });
    const r = await shallow.checkMessage(ctx, policyMessage(m));
    expect(r.action).toBe('reject');
    expect(r.findings.join()).toContain('unscannable; structure=depth');
  });
});

/** A ustar archive; `type` 'L' members carry a GNU long name for the next one. */
function tar(members: Array<{ name: string; data: Buffer | string; type?: string }>): Buffer {
  const blocks: Buffer[] = [];
  for (const m of members) {
    const data = Buffer.from(m.data);
    const h = Buffer.alloc(512);
    h.write(m.name.slice(0, 99), 0, 'utf8');
    h.write('0000644\0', 100);
    h.write(data.length.toString(8).padStart(11, '0') + '\0', 124);
    h.write(m.type ?? '0', 156);
    h.write('ustar\x0000', 257, 'latin1');
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
    blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  return Buffer.concat([...blocks, Buffer.alloc(1024)]);
}
const EXT = new Set(['exe', 'dll', 'js']);
const LIMITS: InspectLimits = { maxDepth: 3, maxEntries: 10_000, maxExpandedBytes: 200 * 1024 * 1024, maxRatio: 200, timeMs: 10_000 };

describe('tar, gzip, bzip2, xz', () => {
  it('a tar.gz holding evil.exe, a tar holding a PE under another name, and a GNU long name are refused', async () => {
    const tgz = gzipSync(tar([{ name: 'evil.exe', data: pe }]));
    expect((await check(msg([txt, att('Content-Type: application/gzip; name="docs.tar.gz"', tgz)]))).findings).toContain('file="docs.tar.gz/docs.tar/evil.exe"');
    // Sniffed whatever the names say: a .dat gzip holding a tar holding a PE called notes.txt.
    const r = await check(msg([txt, att('Content-Type: application/octet-stream; name="x.dat"', gzipSync(tar([{ name: 'notes.txt', data: pe }])))]));
    expect(r.action).toBe('reject');
    expect(r.findings).toContain('by=pe');
    const long = await inspectFile(tar([{ name: '././@LongLink', type: 'L', data: `${'d/'.repeat(60)}evil.exe\0` }, { name: 'd/d/d', data: 'x' }]), 'a.tar', EXT, LIMITS);
    expect(long.executables.map((x) => x.why)).toContain('name');
  });

  it('a zip inside a tar and a gzip of an exe are opened', async () => {
    const inner = zip([{ name: 'evil.exe', data: pe, deflate: true }]);
    const r = await inspectFile(tar([{ name: 'inner.zip', data: inner }]), 'a.tar', EXT, LIMITS);
    expect(r.executables.map((x) => x.path)).toContain('a.tar/inner.zip/evil.exe');
    const g = await check(msg([txt, att('Content-Type: application/gzip; name="setup.exe.gz"', gzipSync(pe))]));
    expect(g.findings).toContain('file="setup.exe.gz/setup.exe"');
  });

  it('bzip2 and xz cannot be checked, by content or by name alone; a gzip bomb or a corrupt gzip cannot be checked', async () => {
    for (const [name, bytes] of [
      ['a.bz2', Buffer.from('BZh91AY&SY')],
      ['a.xz', Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0, 0])],
      ['x.dat', Buffer.from('BZh91AY&SY')],
      ['a.tbz2', Buffer.from('hello')],
      ['a.txz', Buffer.from('hello')],
      ['a.tgz', Buffer.from('hello')],
    ] as const) {
      const r = await check(msg([txt, att(`Content-Type: application/octet-stream; name="${name}"`, bytes)]));
      expect(r.action, name).toBe('reject');
      expect(r.findings, name).toContain('unscannable');
    }
    const bomb = gzipSync(Buffer.alloc(8 * 1024 * 1024));
    const r = await inspectFile(bomb, 'a.gz', EXT, { ...LIMITS, maxExpandedBytes: 1024 * 1024 });
    expect(r.unscannable).toMatch(/expands past/);
    const ratio = await inspectFile(bomb, 'a.gz', EXT, { ...LIMITS, maxRatio: 10 });
    expect(ratio.unscannable).toMatch(/expands past/);
  });

  it('a clean tar.gz passes', async () => {
    const r = await check(msg([txt, att('Content-Type: application/gzip; name="docs.tar.gz"', gzipSync(tar([{ name: 'a.txt', data: 'hello' }, { name: 'b.pdf', data: '%PDF-1.4' }])))]));
    expect(r.action).toBe('accept');
  });
});

describe('archives inside RAR and 7z', () => {
  const inner = zip([{ name: 'evil.exe', data: pe, deflate: true }]);

  it('a zip stored in a RAR4 or RAR5 is opened', async () => {
    for (const rar of [rar4({ names: ['inner.zip'], data: inner }), rar5({ names: ['inner.zip'], data: inner })]) {
      const r = await inspectFile(rar, 'a.rar', EXT, LIMITS);
      expect(r.executables.map((x) => x.path)).toContain('a.rar/inner.zip/evil.exe');
    }
  });

  it('an encrypted zip stored in a RAR is reported as encrypted', async () => {
    const enc = zip([{ name: 'x.txt', data: 'hello', encrypt: 'zipcrypto' }]);
    const r = await inspectFile(rar4({ names: ['inner.zip'], data: enc }), 'a.rar', EXT, LIMITS);
    expect(r.encrypted.map((x) => x.path)).toContain('a.rar/inner.zip');
    expect(r.unscannable).toBeNull();
  });

  it('a compressed archive or message in a RAR, and one in a 7z, cannot be checked; other compressed members can be listed', async () => {
    const packed = (name: string): Buffer => {
      const b = rar4({ names: [name], data: inner });
      const at = b.indexOf(Buffer.from(name)) - 7; // METHOD byte of the file header
      b[at] = 0x33;
      return b;
    };
    expect((await inspectFile(packed('inner.zip'), 'a.rar', EXT, LIMITS)).unscannable).toMatch(/inner\.zip: compressed archive/);
    expect((await inspectFile(packed('fwd.eml'), 'a.rar', EXT, LIMITS)).unscannable).toMatch(/fwd\.eml: compressed message/);
    expect((await inspectFile(packed('report.doc'), 'a.rar', EXT, LIMITS)).unscannable).toBeNull();
    expect((await inspectFile(sevenZip({ names: ['inner.tar.gz'] }), 'a.7z', EXT, LIMITS)).unscannable).toMatch(/compressed archive/);
    expect((await inspectFile(sevenZip({ names: ['report.doc'] }), 'a.7z', EXT, LIMITS)).unscannable).toBeNull();
  });
});

describe('attachment size', () => {
  it('an attached message over the limit is refused (552), one under it is not', async () => {
    const small = createPipeline({ config: configFrom({ domains: ['example.gov.vn'], limits: { maxAttachmentBytes: 1024 * 1024 } }), log: silentLogger(), store: {} as Store, clock: systemClock });
    const body = 'a'.repeat(76).concat('\r\n').repeat(Math.ceil((1.1 * 1024 * 1024) / 78));
    const big = msg([txt, `Content-Type: message/rfc822\r\nContent-Disposition: attachment; filename="big.eml"\r\n\r\nSubject: x\r\n\r\n${body}\r\n`]);
    const r = await small.checkMessage(ctx, policyMessage(big));
    expect(r.action).toBe('reject');
    expect(r.reply?.code).toBe(552);
    // Measured by its own parts: the text body inside it is the file over the limit.
    expect(r.findings.join()).toMatch(/attachment-too-large; file="part 2\/2\.1"/);
    const ok = msg([txt, `Content-Type: message/rfc822\r\n\r\nSubject: x\r\n\r\n${body.slice(0, 512 * 1024)}\r\n`]);
    expect((await small.checkMessage(ctx, policyMessage(ok))).action).toBe('accept');
    // A forwarded message whose own attachment is under the limit passes, though its base64
    // makes the attached message as a whole larger than the limit.
    const pdf = Buffer.alloc(900 * 1024, 0x41);
    const inner = msg([txt, att('Content-Type: application/pdf; name="bao-cao.pdf"', pdf)]).toString('latin1');
    const forward = msg([txt, `Content-Type: message/rfc822\r\nContent-Disposition: attachment; filename="fwd.eml"\r\n\r\n${inner}`]);
    expect(forward.length).toBeGreaterThan(1024 * 1024);
    expect((await small.checkMessage(ctx, policyMessage(forward))).action).toBe('accept');
  });
});

describe('content sniffing and decoding', () => {
  it('MZ at offset 0 is an executable on its own (DOS program, PE header past the bytes sniffed)', async () => {
    const dos = Buffer.alloc(512);
    dos.write('MZ');
    expect(sniffExecutable(dos)).toBe('pe');
    const r = await check(msg([txt, att('Content-Type: application/octet-stream; name="x.dat"', dos)]));
    expect(r.findings).toContain('by=pe');
  });

  it('Content-Transfer-Encoding x-uuencode is decoded', async () => {
    let uu = 'begin 644 x.dat\r\n';
    for (let i = 0; i < pe.length; i += 45) {
      const ch = pe.subarray(i, i + 45);
      let l = String.fromCharCode(32 + ch.length);
      for (let j = 0; j < ch.length; j += 3) {
        const [a, b, c] = [ch[j] ?? 0, ch[j + 1] ?? 0, ch[j + 2] ?? 0];
        for (const v of [a >> 2, ((a & 3) << 4) | (b >> 4), ((b & 15) << 2) | (c >> 6), c & 63]) l += String.fromCharCode(v === 0 ? 96 : 32 + v);
      }
      uu += l + '\r\n';
    }
    uu += '`\r\nend\r\n';
    const r = await check(msg([txt, `Content-Type: application/octet-stream; name="x.dat"\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n${uu}`]));
    expect(r.action).toBe('reject');
    expect(r.findings).toContain('by=pe');
  });

  it('base64 padding in mid-stream does not shift what follows', async () => {
    const z = zip([{ name: 'evil.exe', data: pe, deflate: true }]);
    expect(decodeBase64Groups(Buffer.from('QQ==' + z.toString('base64')))).toEqual(Buffer.concat([Buffer.from('A'), z]));
    expect(decodeBase64Groups(Buffer.from('QUJD\r\nRA==\r\n'))).toEqual(Buffer.from('ABCD'));
    const r = await check(msg([txt, `Content-Type: application/octet-stream; name="a.zip"\r\nContent-Transfer-Encoding: base64\r\n\r\nQQ==${b64(z)}\r\n`]));
    expect(r.findings).toContain('evil.exe');
  });
});

describe('files with a zip appended', () => {
  it('a PDF with a zip holding evil.exe appended is opened; a plain PDF is not an archive', async () => {
    const inner = zip([{ name: 'evil.exe', data: pe, deflate: true }]);
    const poly = Buffer.concat([Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n'), inner]);
    const r = await check(msg([txt, att('Content-Type: application/pdf; name="doc.pdf"', poly)]));
    expect(r.action).toBe('reject');
    expect(r.findings).toContain('file="doc.pdf/evil.exe"');
    const big = Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(100 * 1024, 0x20), inner]);
    expect((await check(msg([txt, att('Content-Type: application/pdf; name="doc.pdf"', big)]))).findings).toContain('evil.exe');
    expect((await check(msg([txt, att('Content-Type: application/pdf; name="doc.pdf"', Buffer.from('%PDF-1.4\nPK\x05\x06 no\n%%EOF\n'))]))).action).toBe('accept');
  });
});

describe('names saved differently by different programs', () => {
  it('a zip member "run.bat\\0.txt" (saved as run.bat) and a MIME name "invoice.pdf:.js" (saved as invoice.pdf_.js) are refused', async () => {
    const nul = await check(msg([txt, att('Content-Type: application/zip; name="docs.zip"', zip([{ name: 'run.bat\u0000.txt', data: '@echo off\r\n' }]))]));
    expect(nul.action).toBe('reject');
    const colon = await check(msg([txt, att('Content-Type: application/octet-stream; name="invoice.pdf:.js"', Buffer.from('WScript.Echo(1)'))]));
    expect(colon.action).toBe('reject');
    const member = await check(msg([txt, att('Content-Type: application/zip; name="docs.zip"', zip([{ name: 'invoice.pdf:.vbs', data: 'MsgBox 1' }]))]));
    expect(member.action).toBe('reject');
  });
});

describe('the default list of executable extensions', () => {
  it('covers disk images, OneNote and Windows shortcuts; extensions with a hyphen can be configured', async () => {
    for (const name of ['invoice.iso', 'scan.img', 'notes.one', 'open.settingcontent-ms']) {
      const r = await check(msg([txt, att(`Content-Type: application/octet-stream; name="${name}"`, Buffer.from('harmless bytes'))]));
      expect(r.action, name).toBe('reject');
    }
    expect(configFrom({ policy: { executableExtensions: ['appref-ms'] } }).policy.executableExtensions).toEqual(['appref-ms']);
  });
});

describe('decoding only what a check needs', () => {
  it('decodeBase64Groups with a byte limit reads a prefix; decodePartTail gives the end of a base64 or quoted-printable body', async () => {
    const { decodePartTail } = await import('../../../src/policy/decode.js');
    const data = Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 251));
    const text = b64(data);
    expect(decodeBase64Groups(Buffer.from(text), 1000)).toEqual(data.subarray(0, 1000));
    const raw = Buffer.from(`Content-Transfer-Encoding: base64\r\n\r\n${text}\r\n`);
    const part = { encoding: 'base64', bodyStart: raw.indexOf('\r\n\r\n') + 4, end: raw.length } as Parameters<typeof decodePartTail>[1];
    const tail = decodePartTail(raw, part, 70_000);
    expect(tail.length).toBeGreaterThanOrEqual(70_000);
    expect(tail.equals(data.subarray(data.length - tail.length))).toBe(true);
    const qpRaw = Buffer.from(`\r\n\r\n${'abc=3D'.repeat(50)}=\r\nend`);
    const qp = decodePartTail(qpRaw, { ...part, encoding: 'quoted-printable', bodyStart: 4, end: qpRaw.length }, 10);
    expect(qp.toString().endsWith('abc=end')).toBe(true);
  });
});

describe('text that happens to begin with "MZ"', () => {
  it('is not a DOS header (no NUL in its first 64 bytes): a note starting "MZ-2024" passes', async () => {
    const note = Buffer.from('MZ-2024 mã số hồ sơ: báo cáo tổng hợp quý IV gửi các phòng ban liên quan.\r\n', 'utf8');
    expect(sniffExecutable(note)).toBeNull();
    expect((await check(msg([txt, att('Content-Type: text/plain; name="ghichu.txt"', note)]))).action).toBe('accept');
  });
});
