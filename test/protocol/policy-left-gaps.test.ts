/**
 * Gaps left in the policy scan, over SMTP against the real app: a part header that the parser and
 * a mail client can read differently (two Content-Type / Content-Transfer-Encoding fields, two
 * boundary parameters), base64 that restarts after "=" padding in front of an executable, and
 * NUL bytes in text parts. Each is refused as "cannot be checked" (or as the executable it is),
 * while ordinary mail with the same features written correctly is still delivered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import { mimeMessage, peBytes } from '../unit/policy/fixtures.js';
import { addUser, b64, mailboxMessages, send, topMessage as top } from './policy-helpers.js';
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



/** A body that is one harmless text part under boundary "a", and under boundary "b" an executable. */
function twoReadings(): string {
  return [
    'preamble',
    '--a',
    'Content-Type: text/plain; charset=utf-8',
    '',
    '--b',
    'Content-Type: application/octet-stream; name="setup.exe"',
    'Content-Disposition: attachment; filename="setup.exe"',
    'Content-Transfer-Encoding: base64',
    '',
    b64(peBytes()),
    '--b--',
    '--a--',
    '',
  ].join('\r\n');
}

function expectRefusedUncheckable(r: { ok: boolean; code: number | null; response: string }): void {
  expect(r.ok).toBe(false);
  expect(r.code).toBe(550);
  expect(r.response).toContain('5.7.1');
  expect(r.response).toContain('cannot be checked');
  expect(r.response).toContain('không kiểm tra được');
  // Vietnamese first.
  expect(r.response.indexOf('không kiểm tra được')).toBeLessThan(r.response.indexOf('cannot be checked'));
}

async function delivered(subject: string): Promise<boolean> {
  return (await mailboxMessages(app.store, user.id)).some((m) => m.includes(`Subject: ${subject}`));
}

describe('a part header read two ways (RFC 2045 allows one Content-Type, one Content-Transfer-Encoding, one boundary)', () => {
  it('two Content-Transfer-Encoding fields (7bit first, base64 second) over a PE named photo.jpg: refused', async () => {
    const part = `Content-Type: image/jpeg; name="photo.jpg"\r\nContent-Transfer-Encoding: 7bit\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64(peBytes())}`;
    const r = await send(app, mimeMessage({ subject: 'dup cte', rawParts: [part] }));
    expectRefusedUncheckable(r);
    expect(r.response).toContain('Content-Transfer-Encoding');
    expect(await delivered('dup cte')).toBe(false);
  });

  it('two top-level Content-Type fields with different boundaries: refused', async () => {
    const r = await send(app, top('dup ct', ['Content-Type: multipart/mixed; boundary="a"', 'Content-Type: multipart/mixed; boundary="b"'], twoReadings()));
    expectRefusedUncheckable(r);
    expect(r.response).toContain('Content-Type');
  });

  it('two Content-Type fields in a nested part, the second one folded and in another case: refused', async () => {
    const part = `Content-Type: text/plain; charset=utf-8\r\ncontent-type: application/x-msdownload;\r\n\tname="run.dat"\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64('hello')}`;
    const r = await send(app, mimeMessage({ subject: 'dup ct nested', rawParts: [part] }));
    expect(r.code).toBe(550);
    expect(r.response).toContain('5.7.1');
  });

  it('one Content-Type with two boundary parameters: refused', async () => {
    const r = await send(app, top('two boundaries', ['Content-Type: multipart/mixed; boundary="a"; BOUNDARY="b"'], twoReadings()));
    expectRefusedUncheckable(r);
    expect(r.response).toContain('boundary');
  });

  it('a plain boundary next to an RFC 2231 one: refused', async () => {
    // The parser prefers the RFC 2231 value (the harmless reading); a client taking the plain one sees setup.exe.
    const r = await send(app, top('2231 boundary', [`Content-Type: multipart/mixed; boundary="b";\r\n boundary*=''a`], twoReadings()));
    expectRefusedUncheckable(r);
  });

  it('ordinary mail is delivered: one field each, folded over lines, field names and parameters in any case, an identical repeat', async () => {
    const body = [
      '--Folded_Boundary',
      'content-type: TEXT/PLAIN;',
      '\tCHARSET="utf-8";',
      '  format=flowed',
      'CONTENT-TRANSFER-ENCODING: Base64',
      '',
      b64('Xin chào, đây là công văn số 12.'),
      '--Folded_Boundary',
      'Content-Type: application/pdf;',
      ' Name="bao-cao.pdf"',
      'Content-Disposition: attachment;',
      ' FILENAME="bao-cao.pdf"',
      'Content-Transfer-Encoding: base64',
      'Content-Transfer-Encoding: BASE64',
      '',
      b64('%PDF-1.7\n%%EOF\n'),
      '--Folded_Boundary--',
      '',
    ].join('\r\n');
    const r = await send(app, top('ordinary folded', ['Content-Type: Multipart/Mixed;', '\tBoundary="Folded_Boundary"'], body));
    expect(r).toMatchObject({ ok: true, code: 250 });
    expect(await delivered('ordinary folded')).toBe(true);
    // A single-part message whose one Content-Type is folded over three lines.
    const single = top('ordinary single', ['Content-Type: text/plain;', ' charset=utf-8;', ' format=flowed', 'Content-Transfer-Encoding: 8bit'], 'Chào anh.\r\n');
    expect(await send(app, single)).toMatchObject({ ok: true, code: 250 });
    expect(await delivered('ordinary single')).toBe(true);
  });
});

describe('base64 that restarts after "=" padding', () => {
  it('"QQ==" then a PE, named photo.jpg: refused as the executable it is', async () => {
    const part = `Content-Type: image/jpeg; name="photo.jpg"\r\nContent-Disposition: attachment; filename="photo.jpg"\r\nContent-Transfer-Encoding: base64\r\n\r\nQQ==\r\n${b64(peBytes())}`;
    const r = await send(app, mimeMessage({ subject: 'pad pe', rawParts: [part] }));
    expect(r.code).toBe(550);
    expect(r.response).toContain('5.7.1');
    expect(r.response).toContain('photo.jpg');
    expect(r.response).toContain('Windows program (PE)');
    expect(await delivered('pad pe')).toBe(false);
  });

  it('a PE after several padded chunks and 100 KB of harmless data: refused', async () => {
    const chunks = [b64('ab'), b64(Buffer.alloc(100_000, 0x41)), b64('c'), b64(peBytes(4096))].join('');
    const part = `Content-Type: application/pdf; name="a.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n${chunks}`;
    const r = await send(app, mimeMessage({ subject: 'pad pe far', rawParts: [part] }));
    expect(r.code).toBe(550);
    expect(r.response).toContain('a.pdf');
  });

  it('a text part "QQ==" then uuencoded setup.exe: refused', async () => {
    const uu = 'begin 644 setup.exe\r\n#35H`\r\n`\r\nend\r\n';
    const part = `Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nQQ==\r\n${b64(uu)}`;
    const r = await send(app, mimeMessage({ subject: 'pad uu', rawParts: [part] }));
    expect(r.code).toBe(550);
    expect(r.response).toContain('setup.exe');
  });

  it('harmless files encoded in separately padded chunks (as some encoders do) are delivered', async () => {
    const chunks = [b64('%PDF-1.7\n'), b64('x'.repeat(1000)), b64('%%EOF\n')].join('');
    const part = `Content-Type: application/pdf; name="chunked.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n${chunks}`;
    const r = await send(app, mimeMessage({ subject: 'pad chunks ok', rawParts: [part] }));
    expect(r).toMatchObject({ ok: true, code: 250 });
    expect(await delivered('pad chunks ok')).toBe(true);
  });
});

describe('NUL bytes in text parts (RFC 2045 §2.7/2.8, RFC 5322 §3.5)', () => {
  it('a raw NUL in an 8bit text/plain body: refused, bilingual', async () => {
    const part = `Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nCông văn\u0000 setup.exe\r\n`;
    const r = await send(app, mimeMessage({ subject: 'nul 8bit', rawParts: [part] }));
    expectRefusedUncheckable(r);
    expect(r.response).toContain('NUL');
    expect(await delivered('nul 8bit')).toBe(false);
  });

  it('a NUL in a single-part message without Content-Transfer-Encoding: refused', async () => {
    const r = await send(app, top('nul single', ['Content-Type: text/html; charset=utf-8'], '<p>a\u0000b</p>\r\n'));
    expectRefusedUncheckable(r);
  });

  it('=00 in a quoted-printable text part: refused', async () => {
    const part = `Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nabc=00def\r\n`;
    const r = await send(app, mimeMessage({ subject: 'nul qp', rawParts: [part] }));
    expectRefusedUncheckable(r);
  });

  it('NUL in base64 text and in a binary (non-text) attachment is delivered', async () => {
    const part1 = `Content-Type: text/plain; charset=utf-16le; name="notes.txt"\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64(Buffer.from('Xin chào', 'utf16le'))}`;
    const part2 = `Content-Type: application/octet-stream; name="data.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64(Buffer.from([1, 0, 2, 0, 3]))}`;
    const r = await send(app, mimeMessage({ subject: 'nul b64 ok', rawParts: [part1, part2] }));
    expect(r).toMatchObject({ ok: true, code: 250 });
    expect(await delivered('nul b64 ok')).toBe(true);
  });
});
