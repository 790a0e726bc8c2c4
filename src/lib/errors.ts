/**
 * The one error type services throw. Each protocol translates `code` once
 * (imap/errors.ts, pop3/errors.ts, smtp/reply.ts); `detail` is for the log only,
 * `message` is the bilingual text a user may see (Vietnamese first).
 */
export type MailErrorCode =
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'INVALID_INPUT'
  | 'PERMISSION_DENIED'
  | 'AUTH_FAILED'
  | 'ACCOUNT_SUSPENDED'
  | 'ACCOUNT_DELETED'
  | 'PASSWORD_EXPIRED'
  | 'PASSWORD_MUST_CHANGE'
  | 'PASSWORD_WEAK'
  | 'OVER_QUOTA'
  | 'TOO_LARGE'
  | 'LIMIT_EXCEEDED'
  | 'IN_USE'
  | 'POLICY_REJECT'
  | 'TEMPORARY'
  | 'CONFIG'
  | 'INTERNAL';

/**
 * The disk (or the user's file-system quota) is full: errno ENOSPC/EDQUOT from a file write, or
 * SQLite's SQLITE_FULL. Temporary for whoever sent the data: it may go through once space is freed.
 */
export function isStorageFull(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL') return true;
  // A store error keeps what the file system said as its detail.
  return e instanceof MailError && e.code === 'TEMPORARY' && e.detail !== e && isStorageFull(e.detail);
}

/** What a sender is told when the disk is full (SMTP 452 4.3.1). */
export const STORAGE_FULL_TEXT = 'Máy chủ tạm hết chỗ lưu trữ, vui lòng thử lại sau / Insufficient system storage, try again later';

export class MailError extends Error {
  override readonly name = 'MailError';
  constructor(
    readonly code: MailErrorCode,
    /** Bilingual, user-facing text ("Vietnamese / English"). */
    message: string,
    /** Internal detail for the log; never sent to a client. */
    readonly detail?: unknown,
  ) {
    super(message);
  }
}

export function isMailError(e: unknown, code?: MailErrorCode): e is MailError {
  return e instanceof MailError && (code === undefined || e.code === code);
}

/** A user-facing bilingual text: Vietnamese first, then English. */
export function bi(vi: string, en: string): string {
  return `${vi} / ${en}`;
}
