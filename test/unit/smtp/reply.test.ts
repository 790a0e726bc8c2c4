import { describe, expect, it } from 'vitest';
import { MailError } from '../../../src/lib/errors.js';
import { formatReply, hookError, replies, replyForError } from '../../../src/smtp/reply.js';

describe('smtp/reply: MailError → SMTP reply', () => {
  it.each([
    ['OVER_QUOTA', 452, '4.2.2'],
    ['TEMPORARY', 451, '4.3.0'],
    ['INTERNAL', 451, '4.3.0'],
    ['NOT_FOUND', 550, '5.1.1'],
    ['POLICY_REJECT', 550, '5.7.1'],
    ['TOO_LARGE', 552, '5.3.4'],
    ['AUTH_FAILED', 535, '5.7.8'],
  ] as const)('%s → %i %s', (code, reply, enhanced) => {
    const r = replyForError(new MailError(code, 'x'));
    expect([r.code, r.enhanced]).toEqual([reply, enhanced]);
    expect(r.text).toContain(' / ');
  });

  it('keeps a MailError own bilingual text, and treats anything else as temporary', () => {
    expect(replyForError(new MailError('POLICY_REJECT', 'Tệp "a.exe" bị cấm / File "a.exe" is not allowed')).text).toBe('Tệp "a.exe" bị cấm / File "a.exe" is not allowed');
    expect(replyForError(new Error('boom')).code).toBe(451);
  });

  it('every fixed reply is bilingual, Vietnamese first, with an enhanced code of its class', () => {
    for (const make of Object.values(replies)) {
      const r = (make as (n: number) => ReturnType<typeof replies.relayDenied>)(1);
      expect(r.text).toMatch(/^[^/]+ \/ [^/]+/);
      expect(r.enhanced[0]).toBe(String(r.code)[0]);
    }
    expect(formatReply(replies.relayDenied())).toMatch(/^554 5\.7\.1 /);
    expect(hookError(replies.unknownUser())).toMatchObject({ responseCode: 550, message: expect.stringMatching(/^5\.1\.1 /) as unknown });
  });
});

describe('a full disk', () => {
  it('is 452 4.3.1 (RFC 3463 "mail system full"), bilingual; a store error wrapping ENOSPC too; other errors stay 451 4.3.0', () => {
    const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    for (const e of [enospc, Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }), new MailError('TEMPORARY', 'x / y', enospc)]) {
      expect(replyForError(e)).toMatchObject({ code: 452, enhanced: '4.3.1', text: 'Máy chủ tạm hết chỗ lưu trữ, vui lòng thử lại sau / Insufficient system storage, try again later' });
    }
    expect(replyForError(Object.assign(new Error('EIO'), { code: 'EIO' }))).toMatchObject({ code: 451, enhanced: '4.3.0' });
  });
});
