/**
 * MailError codes → IMAP responses, translated once here (DESIGN.md "one error type").
 * Internal detail goes to the log, never to the client.
 */
import { bi, isMailError, isStorageFull, type MailErrorCode } from '../lib/errors.js';

export interface ImapFailure {
  status: 'NO' | 'BAD';
  /** Response code without brackets ("OVERQUOTA"), or null. */
  code: string | null;
  text: string;
}

const CODES: Record<MailErrorCode, { status: 'NO' | 'BAD'; code: string | null }> = {
  NOT_FOUND: { status: 'NO', code: 'NONEXISTENT' },
  ALREADY_EXISTS: { status: 'NO', code: 'ALREADYEXISTS' },
  // BAD is for a command the server could not parse or that is invalid in this state (RFC 9051
  // §7.1.3); the parser and handlers answer those themselves. A store refusal of well-formed
  // input (a name it will not take, a rename into itself) is a NO: [CANNOT], "this operation
  // violates some invariant of the server and can never succeed" (§7.1, whose example is a
  // CREATE of a name the server does not support).
  INVALID_INPUT: { status: 'NO', code: 'CANNOT' },
  PERMISSION_DENIED: { status: 'NO', code: 'NOPERM' },
  AUTH_FAILED: { status: 'NO', code: 'AUTHENTICATIONFAILED' },
  ACCOUNT_SUSPENDED: { status: 'NO', code: 'CONTACTADMIN' },
  ACCOUNT_DELETED: { status: 'NO', code: 'AUTHENTICATIONFAILED' },
  PASSWORD_EXPIRED: { status: 'NO', code: 'EXPIRED' },
  PASSWORD_MUST_CHANGE: { status: 'NO', code: 'EXPIRED' },
  PASSWORD_WEAK: { status: 'NO', code: 'CANNOT' },
  OVER_QUOTA: { status: 'NO', code: 'OVERQUOTA' },
  TOO_LARGE: { status: 'NO', code: 'TOOBIG' },
  LIMIT_EXCEEDED: { status: 'NO', code: 'LIMIT' },
  IN_USE: { status: 'NO', code: 'INUSE' },
  POLICY_REJECT: { status: 'NO', code: 'CANNOT' },
  TEMPORARY: { status: 'NO', code: 'UNAVAILABLE' },
  CONFIG: { status: 'NO', code: 'SERVERBUG' },
  INTERNAL: { status: 'NO', code: 'SERVERBUG' },
};

/** Error thrown by command handlers to answer with a specific response (no logging). */
export class ImapError extends Error {
  override readonly name = 'ImapError';
  constructor(
    readonly status: 'NO' | 'BAD',
    readonly code: string | null,
    text: string,
  ) {
    super(text);
  }
}

export function no(code: string | null, vi: string, en: string): ImapError {
  return new ImapError('NO', code, bi(vi, en));
}

export function bad(vi: string, en: string): ImapError {
  return new ImapError('BAD', null, bi(vi, en));
}

/** Translate anything a handler threw. `internal` is true when the error should be logged. */
export function toImapFailure(e: unknown): ImapFailure & { internal: boolean } {
  if (e instanceof ImapError) return { status: e.status, code: e.code, text: e.message, internal: false };
  if (isMailError(e)) {
    const m = CODES[e.code];
    const internal = e.code === 'INTERNAL' || e.code === 'CONFIG';
    return {
      status: m.status,
      code: m.code,
      text: internal ? bi('Lỗi máy chủ', 'Internal server error') : e.message,
      internal,
    };
  }
  // A full disk is temporary (RFC 5530 UNAVAILABLE), not a bug; still logged.
  if (isStorageFull(e)) return { status: 'NO', code: 'UNAVAILABLE', text: bi('Máy chủ tạm hết chỗ lưu trữ, hãy thử lại sau', 'The server is out of storage space for now, try again later'), internal: true };
  return { status: 'NO', code: 'SERVERBUG', text: bi('Lỗi máy chủ', 'Internal server error'), internal: true };
}
