/** The sign-in module's public surface (see service.ts for the rules). */
export {
  createAuthService,
  ENROL_TOKEN_TTL_MS,
  isAdminAccount,
  passwordExpiredRule,
  PORTAL_PLAINTEXT_REFUSED,
  RESET_UNAVAILABLE,
  RECENT_SIGN_INS,
  signInMessage,
  splitSignInName,
  type AuthConfig,
  type AuthDeps,
  type AuthStore,
  type AppPasswordSummary,
  type AuthService,
  type PortalAuthService,
  type PortalCredentialFailureKind,
  type PortalCredentials,
  type PortalSecurityFailureKind,
  type PortalSecurityOp,
  type PortalSecurityRequest,
  type PortalSecurityResult,
  type SecurityOverview,
  type SignInSummary,
  type TotpConfirmRequest,
  type TotpEnrolment,
  type UnusualSignIn,
  type WebSignInResult,
  type PasswordChangeFailureKind,
  type PasswordChangeRequest,
  type PasswordChangeResult,
  type PasswordResetCodeRequest,
  type PasswordResetCodeResult,
  type PasswordResetFailureKind,
  type PasswordResetRequest,
  type PasswordResetResult,
  type SignInFailureKind,
  type SignInProtocol,
  type SignInRequest,
  type SignInResult,
} from './service.js';
export { decodeSaslPlain, encodeSaslPlain, type SaslPlain } from './sasl.js';
export { isLoopback, plaintextAllowedBy, type PlaintextMode } from './plaintext.js';
export { FailureTracker } from './throttle.js';
export { assertStrongPassword, generatePassword, hashPassword, passwordProblems, verifyPassword, type PasswordRules } from './passwords.js';
export { createAppPassword, generateAppPasswordSecret, MAX_APP_PASSWORDS, normalizeAppPassword, revokeAppPassword } from './app-passwords.js';
export { currentTotp, newTotpSecret, totpStep, totpUri, verifyTotp } from './totp.js';
export { networkOf } from './network.js';
export { twoFactorMethod, type TwoFactorMethod } from './two-factor.js';
export { commandSmsSender, normalizePhone, phoneTail, type SmsSender } from './sms.js';
export { securityChangeNotice, unusualSignInNotice, type SecurityChange, type SecurityChangeInfo, type SecurityNotice } from './security-notices.js';
