/**
 * R-POL-6 over SMTP: a message carrying a secrecy mark ("Mật", "Tối mật", "Tuyệt mật") in its
 * subject or a file name is refused (550 5.7.1, Vietnamese first) whether it comes in over MX or is
 * submitted by a user, and nothing is stored; the send log records the finding. Ordinary mail
 * about "bảo mật" and "mật khẩu" goes through. With the rule set to `flag` the message is delivered
 * with the policy header.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import type { Account } from '../../src/store/port.js';
import { mimeMessage } from '../unit/policy/fixtures.js';
import { addUser, headersOf, mailboxMessages, send } from './policy-helpers.js';

const subject = (s: string) => `=?UTF-8?B?${Buffer.from(s).toString('base64')}?=`;

describe('R-POL-6 classified material (default: reject)', () => {
  let app: TestApp;
  let longnv: Account;
  let lanht: Account;
  beforeAll(async () => {
    app = await startApp();
    longnv = await addUser(app.store, 'longnv@example.gov.vn');
    lanht = await addUser(app.store, 'lanht@example.gov.vn');
  });
  afterAll(async () => app?.stop());

  it('refuses a marked subject over MX and a marked file name on submission; stores nothing; logs the finding', async () => {
    const inbound = await send(app, mimeMessage({ subject: subject('TỐI MẬT - Kế hoạch bảo vệ') }));
    expect(inbound.code).toBe(550);
    expect(inbound.response).toMatch(/^550 5\.7\.1 Thư bị từ chối: tiêu đề mang dấu độ mật "TỐI MẬT"; tài liệu mật không được gửi qua thư điện tử\..* \/ Message refused: the subject bears the secrecy mark "TỐI MẬT"/);
    const submitted = await send(
      app,
      mimeMessage({ from: 'longnv@example.gov.vn', to: 'lanht@example.gov.vn', subject: 'Gui anh tai lieu', attachments: [{ name: 'Tuyet_mat_KH2026.docx', data: 'PK' }] }),
      { submission: 'longnv', from: 'longnv@example.gov.vn', to: ['lanht@example.gov.vn'] },
    );
    expect(submitted.code).toBe(550);
    expect(submitted.response).toContain('tệp "Tuyet_mat_KH2026.docx" mang dấu độ mật "Tuyet_mat"');
    expect(await mailboxMessages(app.store, longnv.id)).toEqual([]);
    expect(await mailboxMessages(app.store, lanht.id)).toEqual([]);
    const log = await app.store.searchSendLog({ recipient: 'lanht@example.gov.vn' });
    expect(log.map((e) => [e.direction, e.outcome, e.code, e.findings])).toEqual([['submission', 'rejected', 550, ['classified: reject classified; mark="Tuyet_mat"; in="Tuyet_mat_KH2026.docx"']]]);
  });

  it('delivers ordinary mail about security and passwords', async () => {
    const r = await send(app, mimeMessage({ subject: subject('CẢNH BÁO BẢO MẬT: đổi mật khẩu trước 30/11'), attachments: [{ name: 'huong-dan-doi-mat-khau.pdf', data: '%PDF-1.4' }] }));
    expect(r.code).toBe(250);
    expect(await mailboxMessages(app.store, longnv.id)).toHaveLength(1);
  });
});

describe('R-POL-6 with action flag', () => {
  it('delivers the message with the policy header naming the mark', async () => {
    const app = await startApp({ policy: { rules: [{ name: 'classified', action: 'flag' }] } });
    try {
      const user = await addUser(app.store, 'longnv@example.gov.vn');
      expect((await send(app, mimeMessage({ subject: subject('[MẬT] Công văn 12/UBND') }))).code).toBe(250);
      const [raw] = await mailboxMessages(app.store, user.id);
      expect(headersOf(raw ?? '')).toContain('X-Buudien-Policy: classified; mark="MẬT"; in="Subject"');
    } finally {
      await app.stop();
    }
  });
});
