/** Which second factor an account signs in to the web with (R-AUTH-3), if any. */
import type { Account } from '../store/port.js';

export type TwoFactorMethod = 'totp' | 'sms';

/** The account's second factor: an authenticator app (TOTP) wins over SMS codes; null when it has none. */
export function twoFactorMethod(account: Pick<Account, 'totpSecret' | 'smsTwoFactor'>): TwoFactorMethod | null {
  if (account.totpSecret !== null) return 'totp';
  return account.smsTwoFactor ? 'sms' : null;
}
