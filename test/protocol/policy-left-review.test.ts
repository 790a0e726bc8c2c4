/**
 * A hostile review of the two-way header, NUL and base64 restart checks (commit 6909432), over
 * SMTP against the real app: a text part that froze the event loop, a zip hidden in the reading
 * that skips "=" (as IMAP FETCH BINARY decodes), harmless mail refused (chunk-padded files,
 * repeated Content-Type fields with one meaning, UTF-16 text, a trailing NUL), and headers still
 * read two ways (whitespace inside a quoted boundary, RFC 2231 sections with a gap, a broken line
 * hiding a second Content-Type).
 */
import { gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeTransfer } from '../../src/mail/decode.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { mimeMessage, peBytes, zip } from '../unit/policy/fixtures.js';
import { addUser, b64, mailboxMessages, send, topMessage as top } from './policy-helpers.js';
import { longestStall } from '../helpers/event-loop.js';
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


/** `data` base64-encoded in separately padded chunks of `size` bytes (as some encoders write it). */
function chunked(data: Buffer, size = 4096): string {
  let out = '';
  for (let i = 0; i < data.length; i += size) out += b64(data.subarray(i, i + size));
  return out;
}


/** Under boundary `a` one harmless text part; under boundary `b` setup.exe. */
function twoReadings(a: string, b: string): string {
  return [
    'preamble',
    `--${a}`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    `--${b}`,
    'Content-Type: application/octet-stream; name="setup.exe"',
    'Content-Disposition: attachment; filename="setup.exe"',
    'Content-Transfer-Encoding: base64',
    '',
    b64(peBytes()),
    `--${b}--`,
    `--${a}--`,
    '',
  ].join('\r\n');
}

function attachment(name: string, type: string, body: string): string {
  return `Content-Type: ${type}; name="${name}"\r\nContent-Disposition: attachment; filename="${name}"\r\nContent-Transfer-Encoding: base64\r\n\r\n${body}`;
}

function expectRefusedUncheckable(r: { ok: boolean; code: number | null; response: string }): void {
  expect(r.ok).toBe(false);
  expect(r.code).toBe(550);
  expect(r.response).toContain('5.7.1');
  expect(r.response).toContain('cannot be checked');
  expect(r.response.indexOf('không kiểm tra được')).toBeGreaterThanOrEqual(0);
  expect(r.response.indexOf('không kiểm tra được')).toBeLessThan(r.response.indexOf('cannot be checked'));
}

async function delivered(subject: string): Promise<boolean> {
  return (await mailboxMessages(app.store, user.id)).some((m) => m.includes(`Subject: ${subject}\r\n`));
}

async function expectDelivered(subject: string, r: { ok: boolean; code: number | null; response: string }): Promise<void> {
  expect(r).toMatchObject({ ok: true, code: 250 });
  expect(await delivered(subject)).toBe(true);
}

describe('base64 restart points: bounded work', () => {
  it('a text part of 60,000 × "YmVnaW4=" (492 KB) is answered quickly, the event loop free (was ~25 s frozen)', async () => {
    const body = 'YmVnaW4='.repeat(60_000).replace(/.{1,76}/g, '$&\r\n');
    const raw = top('uu restarts', ['Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: base64'], body);
    const t = Date.now();
    let r: Awaited<ReturnType<typeof send>> | undefined;
    const maxGap = await longestStall(async () => {
      r = await send(app, raw);
    });
    expect(Date.now() - t).toBeLessThan(5000);
    expect(maxGap).toBeLessThan(2000);
    expect(r?.code).toBe(250);
  }, 60_000);

  it('60,000 restart points each beginning "begin 644 a": tried a bounded number of times, then cannot be checked (base64), quickly', async () => {
    const body = Buffer.from('begin 644 a').toString('base64').repeat(60_000).replace(/.{1,76}/g, '$&\r\n');
    const raw = top('uu begin restarts', ['Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: base64'], body);
    const t = Date.now();
    const r = await send(app, raw);
    expect(Date.now() - t).toBeLessThan(5000);
    expectRefusedUncheckable(r);
    expect(r.response).toContain('base64');
    expect(await delivered('uu begin restarts')).toBe(false);
  }, 60_000);

  it('more than 16 archives at restart points: cannot be checked (each would be inspected over the rest of the part)', async () => {
    const gz = gzipSync(Buffer.from('Báo cáo tháng 11\n'.repeat(50)));
    const pieces = [b64('x'), ...Array.from({ length: 17 }, () => b64(gz))].join('');
    const r = await send(app, mimeMessage({ subject: 'many restarts', rawParts: [attachment('baocao.pdf', 'application/pdf', pieces)] }));
    expectRefusedUncheckable(r);
    expect(r.response).toContain('base64');
    // 16 of them are inspected and pass.
    const ok = [b64('x'), ...Array.from({ length: 16 }, () => b64(gz))].join('');
    await expectDelivered('few restarts', await send(app, mimeMessage({ subject: 'few restarts', rawParts: [attachment('baocao.pdf', 'application/pdf', ok)] })));
  });
});

describe('the reading that skips "=" and reads on (IMAP FETCH BINARY, mail/decode.ts) is inspected in full', () => {
  it('a zip holding setup.exe, one "=" after the third base64 character, named photo.jpg: refused', async () => {
    const z = zip([{ name: 'setup.exe', data: peBytes() }]);
    const text = z.toString('base64');
    const tricked = `${text.slice(0, 3)}=${text.slice(3)}`.replace(/.{1,76}/g, '$&\r\n');
    // What this server's own IMAP FETCH BINARY hands a client is the zip itself.
    expect(decodeTransfer(Buffer.from(tricked, 'latin1'), 'base64').equals(z)).toBe(true);
    const r = await send(app, mimeMessage({ subject: 'shifted zip', rawParts: [attachment('photo.jpg', 'image/jpeg', tricked)] }));
    expect(r.code).toBe(550);
    expect(r.response).toContain('5.7.1');
    expect(r.response).toContain('setup.exe');
    expect(await delivered('shifted zip')).toBe(false);
  });

  it('a PE deep in that reading (past its first 4 KB, inside a zip with a harmless first member): refused', async () => {
    const z = zip([{ name: 'readme.txt', data: randomBytes(8000) }, { name: 'tool.dat', data: peBytes(4096) }]);
    const text = z.toString('base64');
    const tricked = `${text.slice(0, 3)}=${text.slice(3)}`.replace(/.{1,76}/g, '$&\r\n');
    const r = await send(app, mimeMessage({ subject: 'shifted deep', rawParts: [attachment('photo.jpg', 'image/jpeg', tricked)] }));
    expect(r.code).toBe(550);
    expect(r.response).toContain('tool.dat');
  });
});

describe('harmless files encoded in separately padded chunks are delivered', () => {
  it('a two-member zip whose second local header falls on a 4096-byte chunk boundary', async () => {
    let z: Buffer = Buffer.alloc(0);
    for (let n = 3900; n < 4200; n++) {
      z = zip([{ name: 'a.txt', data: Buffer.alloc(n, 0x61) }, { name: 'b.txt', data: Buffer.from('hello world '.repeat(50)) }]);
      if (z.indexOf(Buffer.from('PK\x03\x04', 'latin1'), 10) === 4096) break;
    }
    expect(z.indexOf(Buffer.from('PK\x03\x04', 'latin1'), 10)).toBe(4096);
    const r = await send(app, mimeMessage({ subject: 'chunked zip', rawParts: [attachment('baocao.zip', 'application/zip', chunked(z))] }));
    await expectDelivered('chunked zip', r);
  });

  it('a zip of three and of five chunks (the shifted reading realigns and keeps the end record)', async () => {
    for (const [subject, size] of [['chunked zip 3', 10_000], ['chunked zip 5', 18_000]] as const) {
      const z = zip([{ name: 'so-lieu.csv', data: randomBytes(size) }, { name: 'ghi-chu.txt', data: Buffer.from('Ghi chú\n') }]);
      const r = await send(app, mimeMessage({ subject, rawParts: [attachment('so-lieu.zip', 'application/zip', chunked(z))] }));
      await expectDelivered(subject, r);
    }
  });

  it('a scanned PDF whose 4096-byte chunk begins "MZ", 0x90, NUL (not a PE)', async () => {
    const data = randomBytes(16384);
    data.set(Buffer.from('%PDF-1.4\n', 'latin1'), 0);
    data.set(Buffer.from('MZ\x90\x00', 'latin1'), 8192);
    const r = await send(app, mimeMessage({ subject: 'chunked mz', rawParts: [attachment('scan.pdf', 'application/pdf', chunked(data))] }));
    await expectDelivered('chunked mz', r);
  });

  it('still refused: a junk prefix chunk, then a zip holding an .exe (found by its end record in the whole reading)', async () => {
    const z = zip([{ name: 'setup.exe', data: peBytes() }]);
    const r = await send(app, mimeMessage({ subject: 'prefix zip', rawParts: [attachment('baocao.pdf', 'application/pdf', b64('junk') + chunked(z))] }));
    expect(r.code).toBe(550);
    expect(r.response).toContain('setup.exe');
    expect(await delivered('prefix zip')).toBe(false);
  });

  it('still refused: a junk prefix chunk, then a real PE', async () => {
    const r = await send(app, mimeMessage({ subject: 'prefix pe', rawParts: [attachment('scan.pdf', 'application/pdf', b64('%PDF-1.4\r\n') + b64(peBytes()))] }));
    expect(r.code).toBe(550);
    expect(r.response).toContain('Windows program (PE)');
  });
});

describe('repeated header fields compared as parsed values', () => {
  it('Content-Type: text/plain; charset=UTF-8 and Content-type: text/plain; charset="utf-8" (PHP mail()): delivered', async () => {
    const r = await send(app, top('php ct', ['Content-Type: text/plain; charset=UTF-8', 'Content-type: text/plain; charset="utf-8"'], 'Kính gửi Sở Nội vụ\r\n'));
    await expectDelivered('php ct', r);
  });

  it('charset=utf-8; and charset=utf-8: delivered', async () => {
    const r = await send(app, top('semicolon ct', ['Content-Type: text/html; charset=utf-8;', 'Content-Type: text/html; charset=utf-8'], '<p>Thông báo</p>\r\n'));
    await expectDelivered('semicolon ct', r);
  });

  it('boundaries "a b" and "a  b" (a PE under the second): refused', async () => {
    const r = await send(app, top('ws boundary', ['Content-Type: multipart/mixed; boundary="a b"', 'Content-Type: multipart/mixed; boundary="a  b"'], twoReadings('a b', 'a  b')));
    expectRefusedUncheckable(r);
    expect(await delivered('ws boundary')).toBe(false);
  });

  it('boundaries "a b" and "a<TAB>b": refused', async () => {
    const r = await send(app, top('tab boundary', ['Content-Type: multipart/mixed; boundary="a b"', 'Content-Type: multipart/mixed; boundary="a\tb"'], twoReadings('a b', 'a\tb')));
    expectRefusedUncheckable(r);
  });
});

describe('RFC 2231 boundary sections and broken header lines', () => {
  it('boundary*0="a"; boundary*2="b" (a gap): refused', async () => {
    const r = await send(app, top('gap boundary', ['Content-Type: multipart/mixed; boundary*0="a"; boundary*2="b"'], twoReadings('a', 'ab')));
    expectRefusedUncheckable(r);
    expect(await delivered('gap boundary')).toBe(false);
  });

  it('boundary*1 without boundary*0: refused', async () => {
    const r = await send(app, top('no section 0', ['Content-Type: multipart/mixed; boundary*1="b"'], twoReadings('a', 'b')));
    expectRefusedUncheckable(r);
  });

  it('a line without a colon, then a second Content-Type before the blank line: refused', async () => {
    const r = await send(app, top('broken line', ['Content-Type: multipart/mixed; boundary="a"', 'X-Broken-Line', 'Content-Type: multipart/mixed; boundary="b"'], twoReadings('a', 'b')));
    expectRefusedUncheckable(r);
    expect(await delivered('broken line')).toBe(false);
  });

  it('ordinary bodies are not read as headers: "Content-Type:" in a text after the blank line, a part whose text starts without a header', async () => {
    const r1 = await send(app, top('body ct', ['Content-Type: text/plain; charset=utf-8'], 'Content-Type: text/html là kiểu đã gửi.\r\nNote: xem lại.\r\n'));
    await expectDelivered('body ct', r1);
    const body = ['--q', 'Xin chào,', 'Ghi chú: gửi kèm', 'Re: công văn 12', '--q--', ''].join('\r\n');
    const r2 = await send(app, top('headerless part', ['Content-Type: multipart/mixed; boundary="q"'], body));
    await expectDelivered('headerless part', r2);
  });
});

describe('NUL in text parts', () => {
  it('UTF-16LE text/plain declared 8bit (scanner firmware): delivered', async () => {
    const body = Buffer.from('Văn bản quét từ máy in, 3 trang.\r\n', 'utf16le');
    const r = await send(app, top('utf16 8bit', ['Content-Type: text/plain; charset=UTF-16LE', 'Content-Transfer-Encoding: 8bit'], body));
    await expectDelivered('utf16 8bit', r);
  });

  it('an ASCII notice ending in a NUL: delivered', async () => {
    const r = await send(app, top('trailing nul', ['Content-Type: text/plain; charset=us-ascii'], 'Scan completed. 3 pages.\r\n\u0000\r\n'));
    await expectDelivered('trailing nul', r);
  });

  it('a NUL inside text declared Content-Transfer-Encoding: binary: refused', async () => {
    const r = await send(app, top('binary nul', ['Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: binary'], 'Thông báo\u0000setup.exe\r\n'));
    expectRefusedUncheckable(r);
    expect(r.response).toContain('NUL');
  });
});

describe('an attached message saved from an mbox file (a "From " separator line first)', () => {
  const eml = (inner: string): string =>
    [
      'From nguoigui@example.org Mon Nov 23 10:00:00 2026',
      'From: Nguoi Gui <nguoigui@example.org>',
      'To: longnv@example.gov.vn',
      'Subject: thu cu',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="in"',
      '',
      '--in',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Noi dung thu cu.',
      '--in',
      inner,
      '--in--',
      '',
    ].join('\r\n');

  it('is opened from the line after it: a clean one is delivered', async () => {
    const inner = 'Content-Type: application/pdf; name="cv.pdf"\r\nContent-Disposition: attachment; filename="cv.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n' + b64('%PDF-1.7 van ban');
    const r = await send(app, mimeMessage({ subject: 'mbox eml clean', rawParts: [attachment('thu-cu.eml', 'message/rfc822', b64(eml(inner)))] }));
    await expectDelivered('mbox eml clean', r);
  });

  it('and the program inside it is found and refused as an executable', async () => {
    const inner = 'Content-Type: application/octet-stream; name="setup.exe"\r\nContent-Disposition: attachment; filename="setup.exe"\r\nContent-Transfer-Encoding: base64\r\n\r\n' + b64(peBytes());
    const r = await send(app, mimeMessage({ subject: 'mbox eml exe', rawParts: [attachment('thu-cu.eml', 'application/octet-stream', b64(eml(inner)))] }));
    expect(r.ok).toBe(false);
    expect(r.code).toBe(550);
    expect(r.response).toContain('setup.exe');
    expect(r.response).not.toContain('cannot be checked');
  });
});

describe('an mbox-saved .eml attached the standard way (message/rfc822, 7bit or 8bit: RFC 2046 §5.2.1)', () => {
  const FROM_LINE = 'From nguoigui@example.org Mon Nov 23 10:00:00 2026';
  const eml = (inner: string | null): string =>
    [
      FROM_LINE,
      'From: Nguoi Gui <nguoigui@example.org>',
      'To: longnv@example.gov.vn',
      'Subject: thu cu',
      'Date: Mon, 23 Nov 2026 09:00:00 +0700',
      'MIME-Version: 1.0',
      ...(inner === null
        ? ['Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '', 'Nội dung thư cũ.', '']
        : ['Content-Type: multipart/mixed; boundary="in"', '', '--in', 'Content-Type: text/plain; charset=utf-8', '', 'Noi dung thu cu.', '--in', inner, '--in--', '']),
    ].join('\r\n');
  const rfc822 = (body: string, cte?: string): string =>
    `Content-Type: message/rfc822; name="thu-cu.eml"\r\nContent-Disposition: attachment; filename="thu-cu.eml"\r\n${cte ? `Content-Transfer-Encoding: ${cte}\r\n` : ''}\r\n${body}\r\n`;

  it('a clean one, 7bit (no Content-Transfer-Encoding, as Thunderbird and Outlook attach it) and 8bit: delivered', async () => {
    await expectDelivered('mbox 7bit clean', await send(app, mimeMessage({ subject: 'mbox 7bit clean', rawParts: [rfc822(eml(null))] })));
    await expectDelivered('mbox 8bit clean', await send(app, mimeMessage({ subject: 'mbox 8bit clean', rawParts: [rfc822(eml(null), '8bit')] })));
    const pdf = 'Content-Type: application/pdf; name="cv.pdf"\r\nContent-Disposition: attachment; filename="cv.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n' + b64('%PDF-1.7 van ban');
    await expectDelivered('mbox 7bit pdf', await send(app, mimeMessage({ subject: 'mbox 7bit pdf', rawParts: [rfc822(eml(pdf), '7bit')] })));
  });

  it('the program inside one is found and refused as an executable, not as "cannot be checked"', async () => {
    const exe = 'Content-Type: application/octet-stream; name="setup.exe"\r\nContent-Disposition: attachment; filename="setup.exe"\r\nContent-Transfer-Encoding: base64\r\n\r\n' + b64(peBytes());
    for (const [subject, cte] of [['mbox 7bit exe', undefined], ['mbox 8bit exe', '8bit']] as const) {
      const r = await send(app, mimeMessage({ subject, rawParts: [rfc822(eml(exe), cte)] }));
      expect(r.ok).toBe(false);
      expect(r.code).toBe(550);
      expect(r.response).toContain('5.7.1');
      expect(r.response).toContain('setup.exe');
      expect(r.response).toContain('executable');
      expect(r.response).not.toContain('cannot be checked');
      expect(await delivered(subject)).toBe(false);
    }
    // A PE with a harmless name is found by its bytes too.
    const pe = 'Content-Type: application/pdf; name="cv.pdf"\r\nContent-Disposition: attachment; filename="cv.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n' + b64(peBytes());
    const r = await send(app, mimeMessage({ subject: 'mbox 7bit pe', rawParts: [rfc822(eml(pe))] }));
    expect(r.code).toBe(550);
    expect(r.response).toContain('Windows program (PE)');
  });

  it('a header cut short by a line without a colon gets its own refusal text, not the differing-fields one', async () => {
    const r = await send(app, top('broken line text', ['Content-Type: multipart/mixed; boundary="a"', 'X-Broken-Line', 'Content-Type: multipart/mixed; boundary="b"'], twoReadings('a', 'b')));
    expectRefusedUncheckable(r);
    expect(r.response).not.toContain('differing');
    expect(r.response).toContain('cut short by a line that is not a header field');
    const vi = r.response.indexOf('bị cắt ngang bởi một dòng không phải trường tiêu đề');
    expect(vi).toBeGreaterThanOrEqual(0);
    expect(vi).toBeLessThan(r.response.indexOf('cut short by a line'));
  });
});

describe('repeated fields that differ only in what does not change the reading', () => {
  it('Content-Transfer-Encoding 7bit then 8bit, 8bit then binary: delivered', async () => {
    await expectDelivered('cte 7 8', await send(app, top('cte 7 8', ['Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 7bit', 'Content-Transfer-Encoding: 8bit'], 'Kính gửi Sở Nội vụ\r\n')));
    await expectDelivered('cte 8 bin', await send(app, top('cte 8 bin', ['Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8BIT', 'Content-Transfer-Encoding: binary'], 'Kính gửi Sở Nội vụ\r\n')));
  });

  it('still refused: Content-Transfer-Encoding base64 then 7bit', async () => {
    const r = await send(app, top('cte b64 7', ['Content-Type: application/pdf; name="a.pdf"', 'Content-Transfer-Encoding: base64', 'Content-Transfer-Encoding: 7bit'], b64('%PDF-1.7')));
    expectRefusedUncheckable(r);
    expect(r.response).toContain('differing');
  });

  it('Content-Type repeated with another charset, or with format=flowed; delsp=yes added (list software): delivered', async () => {
    await expectDelivered('ct charset', await send(app, top('ct charset', ['Content-Type: text/plain; charset=utf-8', 'Content-Type: text/plain; charset=windows-1258'], 'Kinh gui\r\n')));
    await expectDelivered('ct flowed', await send(app, top('ct flowed', ['Content-Type: text/plain; charset=utf-8; format=flowed; delsp=yes', 'Content-Type: text/plain; charset="utf-8"'], 'Kinh gui\r\n')));
  });

  it('still refused: a wide charset (UTF-16) on one and not the other, another type, another boundary', async () => {
    expectRefusedUncheckable(await send(app, top('ct wide', ['Content-Type: text/plain; charset=utf-8', 'Content-Type: text/plain; charset=UTF-16LE'], 'Kinh gui\r\n')));
    expectRefusedUncheckable(await send(app, top('ct type', ['Content-Type: text/plain; charset=utf-8', 'Content-Type: application/octet-stream; charset=utf-8'], 'Kinh gui\r\n')));
    expectRefusedUncheckable(await send(app, top('ct boundary', ['Content-Type: multipart/mixed; boundary="a"; charset=utf-8', 'Content-Type: multipart/mixed; boundary="b"'], twoReadings('a', 'b'))));
  });

  it('a name in either Content-Type still counts: setup.exe in the second, a charset the only other difference', async () => {
    const r = await send(app, top('ct name', ['Content-Type: application/pdf; charset=utf-8; name="a.pdf"', 'Content-Type: application/pdf; name="setup.exe"', 'Content-Transfer-Encoding: base64'], b64('%PDF-1.7')));
    expect(r.code).toBe(550);
    expect(r.response).toContain('setup.exe');
  });
});
