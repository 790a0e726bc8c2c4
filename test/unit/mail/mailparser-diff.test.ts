/**
 * Differential check against an independent parser (mailparser, already a dependency): for
 * messages shaped the way real clients write Vietnamese mail, both must agree on the decoded
 * subject, the sender, and every attachment's file name.
 */
import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import { allParts, parseMessage } from '../../../src/mail/parse.js';

const crlf = (lines: string[]): Buffer => Buffer.from(lines.join('\r\n'), 'utf8');
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

const fixtures: Array<[string, Buffer]> = [
  [
    'Outlook: RFC 2047 in a quoted file name, windows-1258 subject',
    crlf([
      'From: =?windows-1258?Q?Nguy=EA=DEn_V=E3n_Long?= <longnv@nghean.gov.vn>',
      'Subject: =?windows-1258?Q?B=E1o_c=E1o_th=E1ng_11?=',
      'Content-Type: multipart/mixed; boundary="_004_"',
      '',
      '--_004_',
      'Content-Type: text/plain; charset="windows-1258"',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'K=EDnh g=FD=D2i',
      '--_004_',
      `Content-Type: application/pdf; name="=?utf-8?B?${b64('Báo cáo tháng 11.pdf')}?="`,
      `Content-Disposition: attachment; filename="=?utf-8?B?${b64('Báo cáo tháng 11.pdf')}?="`,
      'Content-Transfer-Encoding: base64',
      '',
      'JVBERi0xLjQK',
      '--_004_--',
      '',
    ]),
  ],
  [
    'Thunderbird: RFC 2231 continuations with charset',
    crlf([
      'From: "Trần Thị B" <b@x.vn>',
      `Subject: =?UTF-8?B?${b64('Giấy mời họp ')}?=`,
      ` =?UTF-8?B?${b64('giao ban tuần')}?=`,
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="------------tb"',
      '',
      'This is a multi-part message in MIME format.',
      '--------------tb',
      'Content-Type: text/plain; charset=UTF-8; format=flowed',
      'Content-Transfer-Encoding: 8bit',
      '',
      'Kính gửi các đồng chí',
      '--------------tb',
      'Content-Type: application/vnd.openxmlformats-officedocument.wordprocessingml.document;',
      " name*0*=UTF-8''%47%69%E1%BA%A5%79%20%6D%E1%BB%9D%69%20%68%E1%BB%8D%70%20;",
      ' name*1*=%67%69%61%6F%20%62%61%6E%2E%64%6F%63%78',
      'Content-Disposition: attachment;',
      " filename*0*=UTF-8''%47%69%E1%BA%A5%79%20%6D%E1%BB%9D%69%20%68%E1%BB%8D%70%20;",
      ' filename*1*=%67%69%61%6F%20%62%61%6E%2E%64%6F%63%78',
      'Content-Transfer-Encoding: base64',
      '',
      'UEsDBBQ=',
      '',
      '--------------tb--',
      '',
    ]),
  ],
  [
    'Gmail: alternative + attachment, Q-encoded name with underscores',
    crlf([
      'From: Le Van C <c@gmail.com>',
      'Subject: =?UTF-8?Q?H=E1=BB=93_s=C6=A1_d=E1=BB=B1_th=E1=BA=A7u?=',
      'Content-Type: multipart/mixed; boundary="000000000000abc"',
      '',
      '--000000000000abc',
      'Content-Type: multipart/alternative; boundary="000000000000def"',
      '',
      '--000000000000def',
      'Content-Type: text/plain; charset="UTF-8"',
      'Content-Transfer-Encoding: base64',
      '',
      b64('Gửi anh hồ sơ'),
      '--000000000000def',
      'Content-Type: text/html; charset="UTF-8"',
      '',
      '<div dir="ltr">Gửi anh hồ sơ</div>',
      '--000000000000def--',
      '--000000000000abc',
      'Content-Type: application/zip; name="=?UTF-8?Q?h=E1=BB=93_s=C6=A1_n=C4=83m_2025=2Ezip?="',
      'Content-Disposition: attachment; filename="=?UTF-8?Q?h=E1=BB=93_s=C6=A1_n=C4=83m_2025=2Ezip?="',
      'Content-Transfer-Encoding: base64',
      'X-Attachment-Id: f_1',
      '',
      'UEsDBAoAAAAAAA==',
      '--000000000000abc--',
    ]),
  ],
  [
    'VISCII subject, LF line endings, Content-Type name only',
    Buffer.from(
      [
        'From: x@y.vn',
        'Subject: =?VISCII?Q?Th=F4ng_b=E1o_ti=AAng_Vi=AEt?=',
        'Content-Type: multipart/mixed; boundary=zz',
        '',
        '--zz',
        'Content-Type: text/plain; charset=us-ascii',
        '',
        'x',
        '--zz',
        'Content-Type: application/octet-stream; name="so-lieu.xlsx"',
        'Content-Transfer-Encoding: base64',
        '',
        'AAAA',
        '--zz--',
        '',
      ].join('\n'),
      'latin1',
    ),
  ],
];

describe('agreement with mailparser', () => {
  it.each(fixtures)('%s', async (_name, raw) => {
    const ours = parseMessage(raw);
    const theirs = await simpleParser(raw);
    expect(ours.warnings).toEqual([]);
    expect(ours.subject).toBe((theirs.subject ?? '').normalize('NFC'));
    const from = theirs.from?.value[0];
    expect(ours.from).toBe(from?.name ? `${from.name.normalize('NFC')} <${from.address}>` : from?.address);
    const ourNames = allParts(ours.structure)
      .map((p) => p.filename)
      .filter((f): f is string => f !== null)
      .sort();
    const theirNames = theirs.attachments
      .map((a) => a.filename)
      .filter((f): f is string => typeof f === 'string')
      .map((f) => f.normalize('NFC'))
      .sort();
    expect(ourNames).toEqual(theirNames);
    expect(ourNames.length).toBeGreaterThan(0);
  });
});

describe('fixture sanity', () => {
  it('the windows-1258 fixture decodes to the intended Vietnamese', () => {
    const p = parseMessage(fixtures[0]![1]);
    expect(p.subject).toBe('Báo cáo tháng 11');
    expect(p.from).toBe('Nguyễn Văn Long <longnv@nghean.gov.vn>');
    expect(p.bodyText()).toBe('Kính gửi');
  });
});
