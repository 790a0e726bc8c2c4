import { describe, expect, it } from 'vitest';
import { parseMessage } from '../../../src/mail/parse.js';
import { searchTextOf } from '../../../src/mail/search-text.js';

describe('searchTextOf', () => {
  it('decodes and folds every field', () => {
    const raw = Buffer.from(
      [
        'From: =?utf-8?B?Tmd1eeG7hW4gVsSDbiBMb25n?= <LongNV@nghean.gov.vn>',
        'To: "Đặng Thị Đào" <dao@x.vn>, Phòng Tổ chức: a@x.vn;',
        'Cc: =?windows-1258?Q?Vi=EA=F2t?= <v@x.vn>',
        'Bcc: secret@x.vn',
        'Subject: =?utf-8?Q?Gi=E1=BA=A5y_m=E1=BB=9Di_H=E1=BB=8CP?=',
        'Content-Type: text/plain; charset=utf-8',
        '',
        'Kính gửi ĐỒNG CHÍ Nguye\u0302\u0303n',
      ].join('\r\n'),
      'utf8',
    );
    expect(searchTextOf(parseMessage(raw))).toEqual({
      subject: 'giay moi hop',
      from: 'nguyen van long longnv@nghean.gov.vn',
      to: 'dang thi dao dao@x.vn phong to chuc a@x.vn',
      cc: 'viet v@x.vn',
      bcc: 'secret@x.vn',
      body: 'kinh gui dong chi nguyen',
    });
  });

  it('empty message gives empty strings', () => {
    expect(searchTextOf(parseMessage(Buffer.alloc(0)))).toEqual({ subject: '', from: '', to: '', cc: '', bcc: '', body: '' });
  });
});
