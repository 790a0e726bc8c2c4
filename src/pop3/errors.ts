/**
 * The one translation of outcomes into POP3 replies (RFC 2449 response codes, RFC 3206 AUTH/SYS).
 * Internal detail never reaches the client: it goes to the log.
 */
import type { SignInFailureKind } from '../auth/service.js';
import { bi, isMailError } from '../lib/errors.js';

export type RespCode = 'AUTH' | 'SYS/TEMP' | 'SYS/PERM' | 'IN-USE' | 'LOGIN-DELAY';

export function err(text: string, code?: RespCode): string {
  return code ? `-ERR [${code}] ${text}\r\n` : `-ERR ${text}\r\n`;
}

export function ok(text: string): string {
  return `+OK ${text}\r\n`;
}

/** RFC 3206: credentials → AUTH; account state → SYS/PERM; transient → SYS/TEMP. */
export function signInCode(kind: SignInFailureKind): RespCode {
  switch (kind) {
    case 'bad-credentials':
    case 'not-delegated':
    case 'plaintext-refused':
      return 'AUTH';
    case 'suspended':
    case 'deleted':
    case 'expired':
    case 'must-change':
      return 'SYS/PERM';
    case 'throttled':
      return 'SYS/TEMP';
  }
}

export const TEMPORARY_FAILURE = bi('Lỗi tạm thời của máy chủ, hãy thử lại sau', 'Temporary server error, try again later');

/** An exception from the store or elsewhere → a reply. Never the exception's own text unless it is a MailError (bilingual by contract). */
export function errorReply(e: unknown): string {
  if (isMailError(e)) {
    switch (e.code) {
      case 'IN_USE':
        return err(e.message, 'IN-USE');
      case 'AUTH_FAILED':
        return err(e.message, 'AUTH');
      case 'ACCOUNT_SUSPENDED':
      case 'ACCOUNT_DELETED':
      case 'PASSWORD_EXPIRED':
      case 'PASSWORD_MUST_CHANGE':
      case 'PERMISSION_DENIED':
        return err(e.message, 'SYS/PERM');
      case 'NOT_FOUND':
      case 'INVALID_INPUT':
        return err(e.message);
      default:
        return err(TEMPORARY_FAILURE, 'SYS/TEMP');
    }
  }
  return err(TEMPORARY_FAILURE, 'SYS/TEMP');
}
