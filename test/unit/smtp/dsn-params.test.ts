/** RFC 3461 parameters (smtp/dsn-params.ts), the raw values wire.ts hands over, and the DSN they shape (smtp/dsn.ts). */
import { describe, expect, it } from 'vitest';
import { buildDsn, finalRecipient } from '../../../src/smtp/dsn.js';
import { decodeXtext, isXtext, mailDsn, parseEnvid, parseNotify, parseOrcpt, parseRet, rcptDsn, wantsNotice } from '../../../src/smtp/dsn-params.js';
import { rawEsmtpParams, translate } from '../../../src/smtp/wire.js';

const bad = (enhanced = '5.5.4') => ({ ok: false, reply: expect.objectContaining({ code: 501, enhanced }) as unknown });

describe('xtext', () => {
  it.each([
    ['', true],
    ['abc-123_!~', true],
    ['a+2Bb', true],
    ['a+2bb', false], // hexchar digits are upper case
    ['a+2', false],
    ['a=b', false],
    ['a b', false],
    ['ĐĐ', false],
  ])('%j is xtext: %s', (s, yes) => {
    expect(isXtext(s)).toBe(yes);
  });

  it('decodes hexchars only', () => {
    expect(decodeXtext('a+2Bb+3Dc')).toBe('a+b=c');
  });
});

describe('parameters', () => {
  it('RET: FULL or HDRS in any case', () => {
    expect(parseRet(undefined)).toEqual({ ok: true, value: null });
    expect(parseRet('hdrs')).toEqual({ ok: true, value: 'HDRS' });
    expect(parseRet('Full')).toEqual({ ok: true, value: 'FULL' });
    expect(parseRet('BODY')).toMatchObject(bad());
    expect(parseRet(true)).toMatchObject(bad());
  });

  it('ENVID: xtext up to 100 characters, decoded, printable US-ASCII, case kept', () => {
    expect(parseEnvid('QD99+2B2025')).toEqual({ ok: true, value: 'QD99+2025' });
    expect(parseEnvid('a+20b')).toEqual({ ok: true, value: 'a b' });
    expect(parseEnvid('x'.repeat(100))).toMatchObject({ ok: true });
    for (const v of ['x'.repeat(101), 'a=b', 'a+zz', '', 'a+0Db', 'a+C3+90', true] as const) expect(parseEnvid(v), String(v)).toMatchObject(bad());
  });

  it('NOTIFY: NEVER alone, or any of SUCCESS, FAILURE, DELAY (case-insensitive, repeats folded)', () => {
    expect(parseNotify(undefined)).toEqual({ ok: true, value: null });
    expect(parseNotify('never')).toEqual({ ok: true, value: ['NEVER'] });
    expect(parseNotify('Success,DELAY,success')).toEqual({ ok: true, value: ['SUCCESS', 'DELAY'] });
    expect(parseNotify('NEVER,SUCCESS')).toEqual({ ok: false, reply: expect.objectContaining({ code: 501, enhanced: '5.5.4', text: expect.stringMatching(/^NOTIFY=NEVER không được kết hợp/) as unknown }) });
    for (const v of ['BOGUS', 'SUCCESS,', '', ',', true] as const) expect(parseNotify(v), String(v)).toMatchObject(bad());
  });

  it('ORCPT: addr-type;xtext up to 500 characters, decoded; utf-8 addresses kept as \\x{HEX}', () => {
    expect(parseOrcpt('rfc822;Lan+2Btag@Example.gov.vn')).toEqual({ ok: true, value: 'rfc822;Lan+tag@Example.gov.vn' });
    expect(parseOrcpt('utf-8;người@example.gov.vn')).toEqual({ ok: true, value: 'utf-8;ng\\x{1B0}\\x{1EDD}i@example.gov.vn' });
    expect(parseOrcpt(`rfc822;${'a'.repeat(490)}@x.vn`)).toMatchObject(bad());
    for (const v of ['lan@example.gov.vn', ';lan@x.vn', 'rfc822;', 'rfc 822;a@x.vn', 'rfc822;a=b@x.vn', 'rfc822;a+0D+0A@x.vn', 'rfc822;người@x.vn', true] as const) {
      expect(parseOrcpt(v), String(v)).toMatchObject(bad());
    }
  });

  it('reads the raw values when wire.ts captured them, else smtp-server decoded args', () => {
    expect(mailDsn({ RET: 'hdrs', ENVID: 'a+2Bb' }, { RET: 'hdrs', ENVID: 'a+b' })).toEqual({ ok: true, value: { ret: 'HDRS', envid: 'a+b' } });
    expect(mailDsn(undefined, { ENVID: 'plain' })).toEqual({ ok: true, value: { ret: null, envid: 'plain' } });
    expect(mailDsn({}, false)).toEqual({ ok: true, value: { ret: null, envid: null } });
    expect(rcptDsn({ SIZE: '1' }, false)).toEqual({ ok: true, value: null });
    expect(rcptDsn({ NOTIFY: 'failure', ORCPT: 'rfc822;a@x.vn' }, false)).toEqual({ ok: true, value: { notify: ['FAILURE'], orcpt: 'rfc822;a@x.vn' } });
  });

  it('which notices a recipient gets', () => {
    const n = (notify: Array<'NEVER' | 'SUCCESS' | 'FAILURE' | 'DELAY'> | null) => ({ notify, orcpt: null });
    expect([wantsNotice(undefined, 'SUCCESS'), wantsNotice(undefined, 'FAILURE'), wantsNotice(undefined, 'DELAY')]).toEqual([false, true, true]);
    expect([wantsNotice(n(['NEVER']), 'SUCCESS'), wantsNotice(n(['NEVER']), 'FAILURE'), wantsNotice(n(['NEVER']), 'DELAY')]).toEqual([false, false, false]);
    expect([wantsNotice(n(['SUCCESS']), 'SUCCESS'), wantsNotice(n(['SUCCESS']), 'FAILURE'), wantsNotice(n(['SUCCESS']), 'DELAY')]).toEqual([true, false, false]);
    expect(wantsNotice({ notify: null, orcpt: 'rfc822;a@x.vn' }, 'FAILURE')).toBe(true);
  });
});

describe('wire.ts', () => {
  it('captures the parameters as sent, after the path', () => {
    expect(rawEsmtpParams('MAIL FROM:<a@x.vn> RET=hdrs ENVID=a+2Bb=c BODY=8BITMIME SMTPUTF8')).toEqual({ RET: 'hdrs', ENVID: 'a+2Bb=c', BODY: '8BITMIME', SMTPUTF8: true });
    expect(rawEsmtpParams('RCPT TO:<postmaster>  notify=NEVER   orcpt=rfc822;postmaster')).toEqual({ NOTIFY: 'NEVER', ORCPT: 'rfc822;postmaster' });
    expect(rawEsmtpParams('RCPT TO:<a@x.vn>')).toEqual({});
  });

  it("gives smtp-server's DSN refusals bilingual texts, Vietnamese first", () => {
    for (const t of [
      'Error: NOTIFY parameter must be NEVER, SUCCESS, FAILURE, or DELAY',
      'Error: NOTIFY=NEVER cannot be combined with other values',
      'Error: Bad ORCPT parameter syntax',
      'Invalid RET parameter value. Must be FULL or HDRS',
      'Error: duplicate ENVID parameter',
      'Error: ORCPT parameter requires a value',
    ]) {
      expect(translate(t), t).toMatch(/^[^/]*[^\x00-\x7f][^/]* \/ [\x20-\x7e]+$/);
    }
    expect(translate('Error: duplicate ENVID parameter')).toBe('Tham số ENVID bị lặp lại / Duplicate ENVID parameter');
  });
});

describe('buildDsn', () => {
  const original = Buffer.from('From: <a@x.vn>\r\nTo: <b@y.vn>\r\nSubject: Tiêu đề\r\n\r\nBODY-MARKER\r\n');
  const base = { hostname: 'mail.example.gov.vn', to: 'a@x.vn', original, arrivalDate: new Date(0), now: new Date(1000) };
  const failed = { recipient: 'b@y.vn', action: 'failed' as const, status: '5.1.1', diagnostic: 'smtp; 550 5.1.1 Hộp thư không tồn tại / No such mailbox', remoteMta: null };

  it('RET=FULL returns the whole message (8bit declared when it has 8-bit bytes); over the cap, headers and a note', () => {
    const full = buildDsn({ ...base, recipients: [failed], ret: 'FULL', returnFullMaxBytes: 1000 }).toString();
    expect(full).toMatch(/Content-Type: message\/rfc822\r\nContent-Description: Undelivered message\r\nContent-Transfer-Encoding: 8bit\r\n\r\nFrom: <a@x\.vn>[\s\S]*BODY-MARKER/);
    const capped = buildDsn({ ...base, recipients: [failed], ret: 'FULL', returnFullMaxBytes: 10 }).toString();
    expect(capped).toContain('Content-Type: text/rfc822-headers');
    expect(capped).not.toContain('BODY-MARKER');
    const human = Buffer.from(/Content-Description: Notification\r\n\r\n([\s\S]*?)\r\n--/.exec(capped)?.[1] ?? '', 'base64').toString();
    expect(human).toContain('only its headers are attached');
  });

  it('keeps the machine-readable part US-ASCII: the English half of a bilingual diagnostic', () => {
    const raw = buildDsn({ ...base, recipients: [failed] }).toString();
    expect(raw).toContain('Diagnostic-Code: smtp; 550 5.1.1 No such mailbox\r\n');
  });

  it('a success-only report says so, returns headers only even with RET=FULL, and reports ENVID/ORCPT', () => {
    const raw = buildDsn({ ...base, ret: 'FULL', envid: 'env-1', recipients: [{ recipient: 'b@y.vn', action: 'delivered', status: '2.0.0', diagnostic: null, remoteMta: null, originalRecipient: 'rfc822;B@y.vn' }] }).toString();
    expect(raw).toMatch(/^Subject: =\?utf-8\?/m);
    expect(raw).toContain('Content-Description: Message headers');
    expect(raw).not.toContain('BODY-MARKER');
    expect(raw).toContain('Original-Envelope-Id: env-1\r\nReporting-MTA: dns; mail.example.gov.vn\r\n');
    expect(raw).toContain('Original-Recipient: rfc822;B@y.vn\r\nFinal-Recipient: rfc822; b@y.vn\r\nAction: delivered\r\nStatus: 2.0.0\r\n');
  });

  it('writes a recipient with non-ASCII characters as an RFC 6533 utf-8 address in xtext form, keeping the part ASCII', () => {
    expect(finalRecipient('b@y.vn')).toBe('rfc822; b@y.vn');
    expect(finalRecipient('"a b"+x=y@y.vn')).toBe('rfc822; "a b"+x=y@y.vn');
    expect(finalRecipient('người+a=b\\c@bưuđiện.vn')).toBe('utf-8; ng\\x{1B0}\\x{1EDD}i\\x{2B}a\\x{3D}b\\x{5C}c@b\\x{1B0}u\\x{111}i\\x{1EC7}n.vn');
    expect(finalRecipient('😀@y.vn')).toBe('utf-8; \\x{1F600}@y.vn');
    const raw = buildDsn({ ...base, recipients: [{ ...failed, recipient: 'người@y.vn' }] });
    const status = /Content-Type: message\/delivery-status\r\n[^]*?\r\n\r\n([^]*?)\r\n--/.exec(raw.toString('latin1'))?.[1] ?? '';
    expect(status).toContain('Final-Recipient: utf-8; ng\\x{1B0}\\x{1EDD}i@y.vn\r\n');
    expect(/^[\x09\x0a\x0d\x20-\x7e]*$/.test(status)).toBe(true);
  });
});
