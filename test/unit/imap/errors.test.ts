/** MailError codes → IMAP responses (DESIGN.md: translated once, internal detail never sent). */
import { describe, expect, it } from 'vitest';
import { MailError, type MailErrorCode } from '../../../src/lib/errors.js';
import { bad, no, toImapFailure } from '../../../src/imap/errors.js';

describe('toImapFailure', () => {
  it.each([
    ['OVER_QUOTA', 'NO', 'OVERQUOTA'],
    ['NOT_FOUND', 'NO', 'NONEXISTENT'],
    ['ALREADY_EXISTS', 'NO', 'ALREADYEXISTS'],
    ['AUTH_FAILED', 'NO', 'AUTHENTICATIONFAILED'],
    ['ACCOUNT_SUSPENDED', 'NO', 'CONTACTADMIN'],
    ['PASSWORD_EXPIRED', 'NO', 'EXPIRED'],
    ['TOO_LARGE', 'NO', 'TOOBIG'],
    ['INVALID_INPUT', 'NO', 'CANNOT'],
    ['TEMPORARY', 'NO', 'UNAVAILABLE'],
  ] as const)('%s → %s [%s]', (code, status, rc) => {
    const f = toImapFailure(new MailError(code as MailErrorCode, 'Tiếng Việt / English', { secret: 'x' }));
    expect(f).toMatchObject({ status, code: rc, text: 'Tiếng Việt / English', internal: false });
  });

  it('hides internal detail and marks it for the log', () => {
    const f = toImapFailure(new MailError('INTERNAL', 'db path /var/lib/x failed'));
    expect(f.status).toBe('NO');
    expect(f.code).toBe('SERVERBUG');
    expect(f.text).not.toContain('/var/lib');
    expect(f.internal).toBe(true);
    expect(toImapFailure(new TypeError('boom')).text).not.toContain('boom');
  });

  it('passes handler refusals through as they are', () => {
    expect(toImapFailure(no('TRYCREATE', 'Không có', 'Missing'))).toMatchObject({ status: 'NO', code: 'TRYCREATE', text: 'Không có / Missing' });
    expect(toImapFailure(bad('Sai', 'Wrong'))).toMatchObject({ status: 'BAD', code: null, text: 'Sai / Wrong' });
  });
});

describe('a full disk', () => {
  it('is NO [UNAVAILABLE] with a bilingual text (not [SERVERBUG]), and still logged', () => {
    const f = toImapFailure(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }));
    expect(f).toEqual({ status: 'NO', code: 'UNAVAILABLE', text: 'Máy chủ tạm hết chỗ lưu trữ, hãy thử lại sau / The server is out of storage space for now, try again later', internal: true });
  });
});
