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
  return totpStep(secret, code, now) !== null;
}

/** Seconds per TOTP step (RFC 6238's default, what authenticator apps use). */
const STEP_SECONDS = 30;

/**
 * The time step (RFC 6238 T) a code belongs to, within ±1 step of `now`; null when it is no
 * valid code. A caller that remembers the last step it accepted per account refuses a code
 * seen before (RFC 6238 §5.2: a verifier must not accept the same OTP twice).
 */
export function totpStep(secret: string, code: string, now: Date): number | null {
  const token = code.replace(/\s+/g, '');
  if (!/^\d{6}$/.test(token)) return null;
  try {
    const delta = authenticator.clone({ epoch: now.getTime(), window: 1 }).checkDelta(token, secret);
    return delta === null ? null : Math.floor(now.getTime() / 1000 / STEP_SECONDS) + delta;
  } catch {
    return null;
  }
}

/** The current code (tests and the CLI's self-check). */
export function currentTotp(secret: string, now: Date): string {
  return authenticator.clone({ epoch: now.getTime() }).generate(secret);
}
