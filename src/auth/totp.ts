/**
 * TOTP (RFC 6238) for web sign-in (R-AUTH-3). Never used on IMAP/POP3/SMTP: those take app
 * passwords. The clock is a parameter so tests and lifecycle jobs control "now".
 *
 *   const secret = newTotpSecret();
 *   totpUri(secret, 'longnv@nghean.gov.vn', 'buudien')   // otpauth://… for the QR code
 *   verifyTotp(secret, '123456', clock.now())             // ±1 step (30 s) of drift accepted
 */
import { authenticator } from 'otplib';

export function newTotpSecret(): string {
  return authenticator.generateSecret(20);
}

export function totpUri(secret: string, account: string, issuer: string): string {
  return authenticator.keyuri(account, issuer, secret);
}

export function verifyTotp(secret: string, code: string, now: Date): boolean {
  const token = code.replace(/\s+/g, '');
  if (!/^\d{6}$/.test(token)) return false;
  try {
    return authenticator.clone({ epoch: now.getTime(), window: 1 }).check(token, secret);
  } catch {
    return false;
  }
}

/** The current code (tests and the CLI's self-check). */
export function currentTotp(secret: string, now: Date): string {
  return authenticator.clone({ epoch: now.getTime() }).generate(secret);
}
