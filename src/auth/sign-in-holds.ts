/**
 * Whether a protocol session's sign-in still holds (IMAP, POP3 and SMTP submission share it).
 * A session signed in keeps what its sign-in rested on; before acting for the user (on a timer
 * for IMAP, before POP3 commands and before each SMTP transaction) it reads the account again and
 * compares. An administrator's reset or suspension, a password change, two-factor turned on, or
 * the removal of the app password the session used then ends open sessions too, not only new
 * sign-ins (R-AUTH-3, R-ACC-3).
 */
import { bi } from '../lib/errors.js';
import type { Account, Store } from '../store/port.js';

/** What a sign-in rested on. */
export interface SignInCredential {
  accountId: number;
  passwordHash: string;
  totpSecret: string | null;
  /** SMS codes on (another second factor: turning it on also means mail programs need app passwords). */
  smsTwoFactor: boolean;
  /** The app password used, or null for the account's own password. */
  appPasswordId: number | null;
  /**
   * A delegated sign-in (R-ACC-6): the unit mailbox the account opened with its own credentials
   * (the session's mailbox); null when the account opened its own.
   */
  mailboxId: number | null;
}

/** `account` signed in with its password or app password, to open its own mailbox or (`mailbox`) a unit mailbox delegated to it. */
export function credentialOf(account: Account, appPasswordId: number | null, mailbox: Account | null = null): SignInCredential {
  return {
    accountId: account.id,
    passwordHash: account.passwordHash,
    totpSecret: account.totpSecret,
    smsTwoFactor: account.smsTwoFactor,
    appPasswordId,
    mailboxId: mailbox === null || mailbox.id === account.id ? null : mailbox.id,
  };
}

/**
 * The session's mailbox account as it is now if the sign-in still holds, else null: the account
 * gone or not active; the app password it used removed; or, for the main password, the password
 * changed or two-factor turned on or off (turning it on means mail programs need app passwords).
 * A delegated sign-in also needs the unit mailbox still active and still delegated to the
 * account: a handover ends the old clerk's open sessions on it.
 */
export async function currentSignIn(store: Pick<Store, 'getAccount' | 'listAppPasswords' | 'listDelegatedTo'>, c: SignInCredential): Promise<Account | null> {
  const now = await store.getAccount(c.accountId);
  if (now === null || now.state !== 'active') return null;
  if (c.appPasswordId !== null) {
    const id = c.appPasswordId;
    if (!(await store.listAppPasswords(now.id)).some((p) => p.id === id)) return null;
  } else if (now.passwordHash !== c.passwordHash || now.totpSecret !== c.totpSecret || now.smsTwoFactor !== c.smsTwoFactor) {
    return null;
  }
  if (c.mailboxId === null) return now;
  const id = c.mailboxId;
  const unit = (await store.listDelegatedTo(now.id)).find((a) => a.id === id);
  return unit !== undefined && unit.state === 'active' ? unit : null;
}

/** What a session whose sign-in no longer holds is told as it ends. */
export const SIGN_IN_GONE = bi(
  'Quyền đăng nhập đã thay đổi (đặt lại mật khẩu, tạm khóa hoặc thu hồi): hãy đăng nhập lại',
  'Your sign-in no longer holds (password reset, suspension or revocation): sign in again',
);
