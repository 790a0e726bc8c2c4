/**
 * The policy pipeline end to end: real messages (built in code) sent with nodemailer to the
 * real server (startApp), checking the SMTP reply or the delivered headers, and the send log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import {
  attachedMessagePart,
  elfBytes,
  machOBytes,
  mimeMessage,
  overlappingBomb,
  peBytes,
  rar4,
  rar5,
  recursiveBomb,
  sevenZip,
  zip,
  type AttachmentSpec,
} from '../unit/policy/fixtures.js';
import { addUser, headersOf, mailboxMessages, send } from './policy-helpers.js';
import { decodeWords } from '../../src/mail/headers.js';
import type { Account } from '../../src/store/port.js';

let app: TestApp;
let user: Account;

beforeAll(async () => {
  app = await startApp();
  user = await addUser(app.store, 'longnv@example.gov.vn');
});
afterAll(async () => {
  await app?.stop();
});

describe('R-POL-1 executables over SMTP: 550 5.7.1 naming the file, whatever the wrapping', () => {
  const cases: Array<[string, AttachmentSpec, string]> = [
    ['plain .exe', { name: 'setup.exe', data: 'x' }, 'setup.exe'],
    ['double extension', { name: 'ho-so.pdf.exe', data: 'x' }, 'ho-so.pdf.exe'],
    ['trailing dots and spaces', { name: 'ho-so.exe. . ', data: 'x' }, 'ho-so.exe'],
    ['RFC 2231 name', { name: 'tài liệu.exe', data: 'x', style: 'rfc2231' }, 'tài liệu.exe'],
    ['RFC 2231 continuations', { name: 'báo cáo quý 3 năm 2026.scr', data: 'x', style: 'rfc2231-cont' }, 'báo cáo quý 3 năm 2026.scr'],
    ['RFC 2047 inside quotes', { name: 'công văn.exe', data: 'x', style: 'rfc2047' }, 'công văn.exe'],
    ['Content-Type name only', { name: 'run.bat', data: 'x', style: 'ct-only' }, 'run.bat'],
    ['lying Content-Type', { name: 'report.pdf', data: 'x', contentType: 'application/x-msdownload' }, 'report.pdf'],
    ['PE content, harmless name', { name: 'photo.jpg', data: peBytes(), contentType: 'image/jpeg' }, 'photo.jpg'],
    ['ELF content', { name: 'notes.txt', data: elfBytes() }, 'notes.txt'],
    ['Mach-O content', { name: 'a.dat', data: machOBytes() }, 'a.dat'],
    ['Mach-O fat binary', { name: 'b.dat', data: machOBytes(true) }, 'b.dat'],
    ['.exe in a zip', { name: 'ho-so.zip', data: zip([{ name: 'setup.exe', data: 'x', deflate: true }]) }, 'ho-so.zip/setup.exe'],
    ['PE in a zip, harmless name', { name: 'a.zip', data: zip([{ name: 'cv.doc', data: peBytes(), deflate: true }]) }, 'a.zip/cv.doc'],
    ['zip in zip', { name: 'outer.zip', data: zip([{ name: 'inner.zip', data: zip([{ name: 'x.dll', data: 'x' }]), deflate: true }]) }, 'outer.zip/inner.zip/x.dll'],
    ['.exe name in an encrypted zip', { name: 'locked.zip', data: zip([{ name: 'payload.exe', data: 'x', encrypt: 'zipcrypto' }]) }, 'locked.zip/payload.exe'],
    ['.exe name in a RAR5', { name: 'a.rar', data: rar5({ names: ['payload.exe'] }) }, 'a.rar/payload.exe'],
    ['.exe name in a RAR4', { name: 'b.rar', data: rar4({ names: ['payload.exe'] }) }, 'b.rar/payload.exe'],
    ['.exe name in a 7z (LZMA-packed header)', { name: 'd.7z', data: sevenZip({ packedHeader: true, names: ['ok.txt', 'payload.exe'] }) }, 'd.7z/payload.exe'],
    ['PE stored in a RAR4, harmless name', { name: 'c.rar', data: rar4({ names: ['photo.jpg'], data: peBytes() }) }, 'c.rar/photo.jpg'],
  ];
  it.each(cases)('%s', async (_l, att, named) => {
    const r = await send(app, mimeMessage({ subject: `exe ${named}`, attachments: [att] }));
    expect(r.ok).toBe(false);
    expect(r.code).toBe(550);
    expect(r.response).toContain('5.7.1');
    expect(r.response).toContain(named);
    expect(r.response).toContain('executables');
  });

  it('a plain name and an RFC 2231 name that disagree (each is checked)', async () => {
    for (const cd of [`filename="safe.pdf"; filename*=UTF-8''evil.exe`, `filename*=UTF-8''safe.pdf; filename="evil.exe"`]) {
      const part = `Content-Type: application/pdf\r\nContent-Disposition: attachment; ${cd}\r\nContent-Transfer-Encoding: base64\r\n\r\neA==\r\n`;
      const r = await send(app, mimeMessage({ rawParts: [part] }));
      expect(r.code).toBe(550);
      expect(r.response).toContain('evil.exe');
    }
  });

  it('inside an attached message', async () => {
    const inner = mimeMessage({ attachments: [{ name: 'virus.exe', data: 'x' }] });
    const r = await send(app, mimeMessage({ rawParts: [attachedMessagePart(inner)] }));
    expect(r.code).toBe(550);
    expect(r.response).toContain('virus.exe');
  });

  it.each([
    ['overlapping-entry bomb', overlappingBomb()],
    ['recursive bomb (42.zip style)', recursiveBomb(5, 4)],
  ])('%s: cannot be checked → refused', async (_l, data) => {
    const r = await send(app, mimeMessage({ attachments: [{ name: 'bomb.zip', data }] }));
    expect(r.code).toBe(550);
    expect(r.response).toContain('bomb.zip');
  });

  it('the refusal reaches the send log with the rule name', async () => {
    await send(app, mimeMessage({ subject: 'log me', attachments: [{ name: 'log-me.exe', data: 'x' }] }), { from: 'logger@example.org' });
    const rows = await app.store.searchSendLog({ sender: 'logger@example.org' });
    expect(rows.length).toBeGreaterThan(0);
    expect(rows[0]?.outcome).toBe('rejected');
    expect(rows[0]?.findings).toContain('executables: reject executable; file="log-me.exe"; by=name');
  });

  it('a clean message with documents is delivered, and pre-labelled X-Buudien-Policy headers are not kept', async () => {
    const r = await send(
      app,
      mimeMessage({
        subject: 'clean',
        headers: ['X-Buudien-Policy: clean'],
        attachments: [
          { name: 'báo cáo.pdf', data: '%PDF-1.7\n', style: 'rfc2231' },
          { name: 'data.zip', data: zip([{ name: 'a.xlsx', data: 'x', deflate: true }]) },
        ],
      }),
    );
    expect(r).toMatchObject({ ok: true, code: 250 });
    const msgs = await mailboxMessages(app.store, user.id);
    const last = msgs.find((m) => m.includes('Subject: clean')) ?? '';
    expect(headersOf(last).filter((h) => /^X-Buudien-Policy:/i.test(h))).toEqual([]);
  });
});

describe('R-POL-2 encrypted archives over SMTP: flagged with header and subject tag', () => {
  const cases: Array<[string, Buffer, string]> = [
    ['zip ZipCrypto', zip([{ name: 'a.doc', data: 'x', encrypt: 'zipcrypto' }]), 'zip'],
    ['zip AES', zip([{ name: 'a.doc', data: 'x', encrypt: 'aes' }]), 'zip'],
    ['RAR4', rar4({ names: ['a.doc'], encryptFiles: true }), 'rar'],
    ['RAR4 encrypted headers', rar4({ names: ['a.doc'], encryptHeaders: true }), 'rar'],
    ['RAR5', rar5({ names: ['a.doc'], encryptFiles: true }), 'rar'],
    ['RAR5 encrypted headers', rar5({ names: ['a.doc'], encryptHeaders: true }), 'rar'],
    ['7z', sevenZip({ encrypt: true }), '7z'],
    ['7z encoded header', sevenZip({ encrypt: true, encodedHeader: true }), '7z'],
    ['7z LZMA-packed header (-p without -mhe)', sevenZip({ encrypt: true, packedHeader: true }), '7z'],
  ];
  it.each(cases)('%s', async (label, data, ext) => {
    const subject = `enc ${label}`;
    const id = `X-Test-Id: ${label.replace(/\s+/g, '-')}`;
    const r = await send(app, mimeMessage({ subject, headers: [id], attachments: [{ name: `hồ sơ.${ext}`, data, style: 'rfc2231' }] }));
    expect(r).toMatchObject({ ok: true, code: 250 });
    const msgs = await mailboxMessages(app.store, user.id);
    const h = headersOf(msgs.find((m) => headersOf(m).includes(id)) ?? '');
    expect(h).toContain(`X-Buudien-Policy: encrypted-archive; file="hồ sơ.${ext}"`);
    const subj = h.find((x) => x.startsWith('Subject:')) ?? '';
    expect(decodeWords(subj)).toBe(`Subject: [Tệp nén có mật khẩu / Encrypted archive] ${subject}`);
  });
});

describe('R-STORE-2 attachment size over SMTP', () => {
  it('a 19.9 MB attachment passes; a 20.1 MB one gets 552 5.3.4 naming the file and the limit', async () => {
    const MiB = 1024 * 1024;
    const ok = await send(app, mimeMessage({ subject: 'big ok', attachments: [{ name: 'scan.pdf', data: Buffer.alloc(Math.floor(19.9 * MiB), 0x25) }] }));
    expect(ok).toMatchObject({ ok: true, code: 250 });
    const over = await send(app, mimeMessage({ subject: 'big over', attachments: [{ name: 'scan-lon.pdf', data: Buffer.alloc(Math.ceil(20.1 * MiB), 0x25) }] }));
    expect(over.code).toBe(552);
    expect(over.response).toContain('5.3.4');
    expect(over.response).toContain('scan-lon.pdf');
    expect(over.response).toContain('20 MB');
  });
});

describe('R-POL-5 auto-forwarding over SMTP', () => {
  it('an automatic forward from outside the allowlist is flagged', async () => {
    const r = await send(app, mimeMessage({ subject: 'fwd', headers: ['Auto-Submitted: auto-forwarded'] }), { from: 'someone@gmail.com' });
    expect(r.ok).toBe(true);
    const msgs = await mailboxMessages(app.store, user.id);
    const m = msgs.find((x) => x.includes('Subject: fwd')) ?? '';
    expect(headersOf(m)).toContain('X-Buudien-Policy: auto-forward; from="gmail.com"; by=auto-submitted');
    // Flags reach the send log too, with the rule's name.
    const rows = await app.store.searchSendLog({ sender: 'someone@gmail.com' });
    expect(rows[0]?.outcome).toBe('delivered');
    expect(rows[0]?.findings).toContain('auto-forward: flag auto-forward; from="gmail.com"; by=auto-submitted');
  });
});
