/**
 * R-POL-8 over SMTP (nodemailer): Vietnamese in the official mail system is Unicode (TCVN
 * 6909:2001). Mail our users submit in a legacy character set (windows-1258 …) or typed with a
 * TCVN3 / VNI font is delivered with the finding in `X-Buudien-Policy` and the send log by
 * default, refused with `reject` (550 5.7.1, Vietnamese first, nothing stored). Unicode mail,
 * foreign languages, attached files, forwarded messages and inbound mail are left alone.
 */
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import type { Account } from '../../src/store/port.js';
import { addUser, headersOf, mailboxMessages, send } from './policy-helpers.js';

const asTcvn3 = (s: string): string => iconv.encode(s, 'tcvn').toString('latin1');
const b64word = (s: string, charset = 'UTF-8', bytes: Buffer = Buffer.from(s)) => `=?${charset}?B?${bytes.toString('base64')}?=`;
const MEANT = 'Báo cáo tình hình thực hiện nhiệm vụ quý IV năm 2026 của Sở Nội vụ';

/** A plain message; `body` in `charset` (its bytes made by iconv), extra parts appended as a multipart/mixed. */
function mail(opts: { subject?: string; from?: string; body?: string; charset?: string; parts?: string[] } = {}): Buffer {
  const charset = opts.charset ?? 'utf-8';
  const body = opts.body ?? 'Kính gửi anh chị, gửi báo cáo tháng 11.';
  const text = (iconv.encodingExists(charset) ? iconv.encode(body, charset) : Buffer.from(body, 'latin1')).toString('base64');
  const head = [`From: ${opts.from ?? 'lanht@example.gov.vn'}`, 'To: longnv@example.gov.vn', `Subject: ${opts.subject ?? b64word('Báo cáo tháng 11')}`, 'Date: Mon, 23 Nov 2026 10:00:00 +0700', `Message-ID: <${Math.random().toString(36).slice(2)}@example.gov.vn>`, 'MIME-Version: 1.0'];
  const textPart = `Content-Type: text/plain; charset=${charset}\r\nContent-Transfer-Encoding: base64\r\n\r\n${text}\r\n`;
  if (!opts.parts) return Buffer.from(`${head.join('\r\n')}\r\n${textPart}`);
  const parts = [textPart, ...opts.parts].map((p) => `--b1\r\n${p}`).join('') + '--b1--\r\n';
  return Buffer.from(`${head.join('\r\n')}\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n${parts}`);
}

const policyHeaders = (raw: string) => headersOf(raw).filter((h) => h.startsWith('X-Buudien-Policy: unicode'));

describe('R-POL-8 Vietnamese in Unicode (default: flag)', () => {
  let app: TestApp;
  let longnv: Account;
  beforeAll(async () => {
    app = await startApp();
    await addUser(app.store, 'lanht@example.gov.vn');
    longnv = await addUser(app.store, 'longnv@example.gov.vn');
  });
  afterAll(async () => app?.stop());

  const submit = (raw: Buffer) => send(app, raw, { submission: 'lanht', from: 'lanht@example.gov.vn', to: ['longnv@example.gov.vn'] });
  const last = async () => (await mailboxMessages(app.store, longnv.id)).at(-1) ?? '';

  it('delivers Unicode Vietnamese, and a French letter, with no finding', async () => {
    expect((await submit(mail({ body: MEANT }))).code).toBe(250);
    expect(policyHeaders(await last())).toEqual([]);
    expect((await submit(mail({ subject: b64word('Réunion à l’hôtel'), body: "Réunion à l'hôtel élégant près de la forêt, déjà très agréable, où était-il ?", charset: 'iso-8859-1' }))).code).toBe(250);
    expect(policyHeaders(await last())).toEqual([]);
  });

  it('flags a subject and a text typed with a TCVN3 font: header on the delivered copy, finding in the send log', async () => {
    const r = await submit(mail({ subject: b64word(asTcvn3('Báo cáo quý IV')), body: asTcvn3(MEANT), charset: 'iso-8859-1' }));
    expect(r.code).toBe(250);
    expect(policyHeaders(await last())).toEqual([
      'X-Buudien-Policy: unicode; in="Subject"; problem=legacy-font; encoding=TCVN3; example="B¸o" is "Báo"',
      'X-Buudien-Policy: unicode; in="body"; problem=legacy-font; encoding=TCVN3; example="B¸o" is "Báo"',
    ]);
    const log = await app.store.searchSendLog({ sender: 'lanht@example.gov.vn' });
    expect(log[0]?.findings).toContain('unicode: flag unicode; in="Subject"; problem=legacy-font; encoding=TCVN3; example="B¸o" is "Báo"');
  });

  it('flags a VNI sender name, and text in windows-1258 or VISCII', async () => {
    expect((await submit(mail({ from: `${b64word('Nguyeãn Thò Lan Höông')} <lanht@example.gov.vn>` }))).code).toBe(250);
    expect(policyHeaders(await last())).toEqual(['X-Buudien-Policy: unicode; in="From"; problem=legacy-font; encoding=VNI; example="Nguyeãn" is "Nguyễn"']);
    expect((await submit(mail({ body: MEANT, charset: 'windows-1258' }))).code).toBe(250);
    expect(policyHeaders(await last())).toEqual(['X-Buudien-Policy: unicode; in="body"; problem=legacy-charset; charset="windows-1258"']);
    expect((await submit(mail({ subject: b64word('', 'VISCII', iconv.encode('Báo cáo quý IV năm 2026', 'viscii')) }))).code).toBe(250);
    expect(policyHeaders(await last())).toEqual(['X-Buudien-Policy: unicode; in="Subject"; problem=legacy-charset; charset="VISCII"']);
    // The label alone, on English text with curly quotes and dashes (Outlook in a Vietnamese
    // locale writes it), changes nothing; nor does it on a word next to a UTF-8 one.
    const english = 'We don’t have the Q4 figures – I’ll send them tomorrow.';
    expect((await submit(mail({ subject: b64word('', 'windows-1258', iconv.encode('Figures – Q4', 'windows-1258')), body: english, charset: 'windows-1258' }))).code).toBe(250);
    expect(policyHeaders(await last())).toEqual([]);
    expect((await submit(mail({ subject: `${b64word('Re:', 'windows-1258')} ${b64word('Báo cáo năm 2026')}` }))).code).toBe(250);
    expect(policyHeaders(await last())).toEqual([]);
    // VIQR writes Vietnamese in ASCII: its label is enough.
    expect((await submit(mail({ body: 'Ba\'o ca\'o ti`nh hi`nh Vie^.t Nam', charset: 'VIQR' }))).code).toBe(250);
    expect(policyHeaders(await last())).toEqual(['X-Buudien-Policy: unicode; in="body"; problem=legacy-charset; charset="VIQR"']);
  });

  it('leaves attached files and forwarded messages alone: they are other writing', async () => {
    const legacy = Buffer.from(asTcvn3(MEANT), 'latin1').toString('base64');
    const file = `Content-Type: text/plain; charset=iso-8859-1; name="cu.txt"\r\nContent-Disposition: attachment; filename="cu.txt"\r\nContent-Transfer-Encoding: base64\r\n\r\n${legacy}\r\n`;
    const forwarded = `Content-Type: message/rfc822\r\n\r\nFrom: a@example.org\r\nSubject: old\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: base64\r\n\r\n${legacy}\r\n`;
    expect((await submit(mail({ parts: [file, forwarded] }))).code).toBe(250);
    expect(policyHeaders(await last())).toEqual([]);
  });

  it('does not judge inbound mail', async () => {
    const r = await send(app, mail({ from: 'x@example.org', body: asTcvn3(MEANT), charset: 'iso-8859-1' }), { from: 'x@example.org', to: ['longnv@example.gov.vn'] });
    expect(r.code).toBe(250);
    expect(policyHeaders(await last())).toEqual([]);
  });
});

describe('R-POL-8 with action reject', () => {
  let app: TestApp;
  let longnv: Account;
  beforeAll(async () => {
    app = await startApp({ policy: { rules: [{ name: 'unicode', action: 'reject' }] } });
    await addUser(app.store, 'lanht@example.gov.vn');
    longnv = await addUser(app.store, 'longnv@example.gov.vn');
  });
  afterAll(async () => app?.stop());

  it('refuses legacy text saying what to change, Vietnamese first; stores nothing; Unicode mail still goes', async () => {
    const submit = (raw: Buffer) => send(app, raw, { submission: 'lanht', from: 'lanht@example.gov.vn', to: ['longnv@example.gov.vn'] });
    const font = await submit(mail({ body: asTcvn3(MEANT), charset: 'iso-8859-1' }));
    expect(font.code).toBe(550);
    expect(font.response).toBe(
      '550 5.7.1 Thư bị từ chối: nội dung thư được gõ bằng phông TCVN3 ("B¸o" là "Báo"), không phải chữ Việt Unicode (TCVN 6909:2001); hãy chuyển bộ gõ sang bảng mã Unicode, gõ lại rồi gửi lại (quy tắc unicode) / Message refused: the message text is typed in a TCVN3 font ("B¸o" is "Báo"), not Vietnamese Unicode (TCVN 6909:2001); set the keyboard to Unicode, retype and resend (rule unicode)',
    );
    const charset = await submit(mail({ body: MEANT, charset: 'windows-1258' }));
    expect(charset.code).toBe(550);
    expect(charset.response).toContain('nội dung thư dùng bảng mã windows-1258, không phải chữ Việt Unicode (TCVN 6909:2001)');
    expect(await mailboxMessages(app.store, longnv.id)).toEqual([]);
    expect((await submit(mail({ body: MEANT }))).code).toBe(250);
    expect(await mailboxMessages(app.store, longnv.id)).toHaveLength(1);
  });
});
