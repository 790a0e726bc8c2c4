/**
 * The ONE sign-in path for every protocol (IMAP, POP3, SMTP submission, HTTP).
 *
 *   const auth = createAuthService({ store, config, clock, log, metrics });
 *   const r = await auth.signIn({ username, password, protocol: 'pop3', ip, secure });
 *   if (r.ok) r.account …  else r.kind / r.message (bilingual, Vietnamese first)
 *   auth.plaintextAllowed(ip, secure)   // may a password travel on this connection?
 *   auth.passwordExpired(account, now)  // R-AUTH-2 rule (replaceable through deps)
 *
 * Order of checks in signIn:
 *   1. plaintext rule (no hashing, 'plaintext-refused')
 *   2. concurrent sign-ins per IP (an IPv4 address, an IPv6 /64) and per IPv6 /48 (4× that)
 *      (no hashing, 'throttled')
 *   3. resolve the user: full address, or local part alone (R-ADDR-6; several domains → the
 *      configured domain order, primary first); unknown users still cost one hash (timing); a
 *      unit mailbox's own password is never checked (R-ACC-6: its delegates sign in as
 *      UNIT*CLERK), its name answered like an unknown one with how to sign in instead
 *   3½. a turn among the password checks in progress server-wide (hash-slots.ts: twice libuv's
 *      thread pool, a short queue); none left: 'throttled', nothing hashed
 *   4. verify: the account password, then app passwords (whitespace stripped, CLIENT-NOTES).
 *      HTTP takes only the account password; accounts with TOTP take only app passwords on
 *      mail protocols (SECURITY-NOTES: TOTP never travels over IMAP/POP3/SMTP)
 *   5. only after the password is verified: deleted, suspended (R-ACC-3), must-change (R-ACC-2),
 *      expired (R-AUTH-2). Those failures carry the account (HTTP lets the user change it).
 * Every failure: metrics.authFailures, a log line (ip, username, protocol, reason), and — for
 * failed credentials — a growing delay (per IP, per name — its local part in any domain we serve,
 * with or without an account — and per account checked) before the answer; the history row of a
 * wrong password is written after the answer (its time would tell the name has an account).
 * Success: lastLoginAt recorded, the account's failure count forgotten.
 * Sign-in history (R-AUTH-5): every sign-in to an existing account, through any protocol and
 * the portal, is recorded (store.recordSignIn), failures with their reason. A success from a
 * network (networkOf: an IPv4 /24, an IPv6 /48) the account has not signed in from for 90 days,
 * when it has signed in before, is unusual: deps.onUnusualSignIn is told once per account and
 * network (the app mails the user a notice).
 *
 * changePassword (the web portal, R-ACC-2, R-AUTH-2) takes the same steps 1–4 with the account
 * password only (never an app password), then the TOTP code if the account has one. A
 * must-change or expired account may change its password (that is what the portal is for); a
 * suspended or deleted one may not. The new password must follow R-AUTH-1 and differ from the
 * current one; it clears must-change, restarts the password's age and is audited.
 *
 * portalSecurity (the portal's security page, R-AUTH-3) takes the same credential check
 * (withPortalCredentials, shared with changePassword), refuses must-change and expired accounts
 * (their password is changed first), then shows the account's two-factor state, recent sign-ins
 * and refused attempts, and app passwords, adds or removes an app password, begins or disables two-factor sign-in.
 * Enrolment has two steps and no session: totp-begin returns a new secret and a token — the
 * secret sealed (AES-256-GCM) and signed (HMAC-SHA256) with keys made at start-up, bound to the
 * account, its password hash (a password change voids it) and a 10-minute expiry — and
 * confirmTotp takes that token and the app's first code (no password) and stores the secret.
 * A code serves one action in all of them (RFC 6238 §5.2). Every change is audited with the
 * account as actor: account.app-password.add.self, account.app-password.remove.self,
 * account.2fa.enable.self, account.2fa.disable.self.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { Clock } from '../lib/clock.js';
import { bi, isMailError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import type { Metrics } from '../lib/metrics.js';
import type { Account, AppPassword, SignInEntry, SignInRecord, Store } from '../store/port.js';
import { appPasswordCandidates, createAppPassword, normalizeAppPassword, revokeAppPassword } from './app-passwords.js';
import { assertStrongPassword, hashPassword, normalizePassword, verifyPassword } from './passwords.js';
import { HASH_CONCURRENCY_PER_THREAD, HASH_QUEUE_PER_SLOT, HashSlots, threadPoolSize } from './hash-slots.js';
import { newTotpSecret, totpStep, totpUri } from './totp.js';
import { twoFactorMethod, type TwoFactorMethod } from './two-factor.js';
import {
  SMS_CAPPED,
  SMS_CODE_RECENT,
  SMS_CODE_SENT,
  SMS_FAILED,
  SMS_UNAVAILABLE,
  SmsCodes,
  SmsSendError,
  codeText,
  commandSmsSender,
  normalizePhone,
  phoneTail,
  resetCodeText,
  type SmsSender,
} from './sms.js';
import { networkOf, throttleBlockOf, throttleKeyOf } from './network.js';
import type { SecurityChange, SecurityChangeInfo } from './security-notices.js';
import { plaintextAllowedBy } from './plaintext.js';
import { KeyedCounter } from '../lib/keyed-counter.js';
import { FailureTracker } from './throttle.js';
import { credentialOf, type SignInCredential } from './sign-in-holds.js';

export type SignInProtocol = 'imap' | 'pop3' | 'smtp' | 'http';

export interface SignInRequest {
  username: string;
  password: string;
  protocol: SignInProtocol;
  ip: string;
  /** The connection is TLS (implicit or after STARTTLS/STLS). */
  secure: boolean;
  /**
   * SASL's authorization identity (RFC 4616 §2): the mailbox to open when it is not the
   * signing-in account's own — a unit mailbox delegated to it (R-ACC-6). "" or absent: its own.
   */
  authzid?: string;
}

export type SignInFailureKind =
  | 'bad-credentials'
  | 'not-delegated'
  | 'suspended'
  | 'deleted'
  | 'expired'
  | 'must-change'
  | 'throttled'
  | 'plaintext-refused';

export type SignInResult =
  | {
      ok: true;
      /** The mailbox's account: the one signed in, or the unit mailbox it opened as a delegate. */
      account: Account;
      /** A delegated sign-in: the delegate whose credentials opened `account`; else null. */
      delegate: Account | null;
      /** What the sign-in rests on (sessions check it still holds: sign-in-holds.ts). */
      credential: SignInCredential;
      method: 'password' | 'app-password';
      /** The app password used, when method is 'app-password'. */
      appPasswordId: number | null;
      /** HTTP only: the account has TOTP; ask for the code before opening a session. */
      totpRequired: boolean;
    }
  | {
      ok: false;
      kind: SignInFailureKind;
      /** Bilingual, Vietnamese first; safe to show the client. */
      message: string;
      /** Set only when the password was verified (suspended, deleted, must-change, expired). */
      account: Account | null;
    };

export interface PasswordChangeRequest {
  username: string;
  /** The current account password. */
  password: string;
  newPassword: string;
  /** The authenticator code; required when the account has TOTP. */
  totp: string | null;
  ip: string;
  secure: boolean;
}

export type PasswordChangeFailureKind = PortalCredentialFailureKind | 'weak' | 'unchanged';

export type PasswordChangeResult =
  | { ok: true; account: Account }
  | {
      ok: false;
      kind: PasswordChangeFailureKind;
      /** Bilingual, Vietnamese first; safe to show the user. */
      message: string;
    };

/** What every portal operation is checked with (changePassword, portalSecurity). */
export interface PortalCredentials {
  username: string;
  /** The account password (never an app password). */
  password: string;
  /** The authenticator code; required when the account has TOTP. */
  totp: string | null;
  ip: string;
  secure: boolean;
}

/** The refusals every portal operation shares (the credential check). */
export type PortalCredentialFailureKind = 'bad-credentials' | 'suspended' | 'deleted' | 'throttled' | 'plaintext-refused' | 'totp' | 'code-sent' | 'sms-failed' | 'sms-capped' | 'no-phone';

/** One action of the portal's security page (/portal/security); totp-confirm is confirmTotp. */
export type PortalSecurityOp =
  | { kind: 'show' }
  | { kind: 'app-password-add'; label: string }
  | { kind: 'app-password-remove'; id: number }
  | { kind: 'totp-begin' }
  /** Turn on SMS codes to the account's phone (kept by the administrators): the first form sends a code, the second (with it) turns them on. */
  | { kind: 'sms-enable' }
  /** Turn off two-factor sign-in, whichever method (TOTP or SMS). */
  | { kind: 'totp-disable' };

export interface PortalSecurityRequest extends PortalCredentials {
  op: PortalSecurityOp;
}

/** The second step of enrolment: the token from totp-begin (no password) and the app's first code. */
export interface TotpConfirmRequest {
  token: string;
  totp: string;
  ip: string;
  secure: boolean;
}

/** An app password as the user sees it: never its hash. */
export interface AppPasswordSummary {
  id: number;
  label: string;
  createdAt: Date;
  lastUsedAt: Date | null;
}

/** One sign-in as its user sees it (R-AUTH-5). */
export interface SignInSummary {
  /** The last of the sign-ins alike that day (the store keeps one row for them, with a count). */
  at: Date;
  firstAt: Date;
  count: number;
  protocol: SignInEntry['protocol'];
  ip: string;
  ok: boolean;
  method: SignInEntry['method'];
  /** The app password's label, while it exists. */
  appPassword: string | null;
  /** Why a refused one was refused (bad-credentials, totp, suspended, …). */
  reason: string | null;
  /** A unit mailbox's sign-in by a delegate (R-ACC-6): the delegate's address. */
  via: string | null;
  /** A delegate's sign-in: the unit mailbox it opened. */
  opened: string | null;
}

/** What the security page shows of an account (R-AUTH-3, R-AUTH-5). */
export interface SecurityOverview {
  address: string;
  twoFactor: boolean;
  /** How the second factor is given: an authenticator app, or codes by SMS. */
  twoFactorMethod: TwoFactorMethod | null;
  /** The account's phone number as the user may see it (its last digits), for SMS codes. */
  phoneTail: string | null;
  /** Whether SMS codes can be turned on: a gateway is configured and the account has a phone number. */
  smsAvailable: boolean;
  /** The latest sign-ins that went through, every protocol, newest first (this one included). */
  recentSignIns: SignInSummary[];
  /**
   * The latest refused attempts, newest first: apart, so that anyone who knows the address cannot
   * push a real intruder's sign-in off the list with wrong passwords.
   */
  recentRefusals: SignInSummary[];
  appPasswords: AppPasswordSummary[];
  /**
   * The unit mailboxes delegated to the account (R-ACC-6), each with its latest sign-ins: the
   * mailbox's own history, which its delegates — who do not know its password — see here.
   */
  delegatedMailboxes: Array<{ address: string; recentSignIns: SignInSummary[] }>;
}

/** How many sign-ins (and, apart, refused attempts) the security page lists. */
export const RECENT_SIGN_INS = 15;

/** A two-factor enrolment begun: the secret and its URI are shown once; the token carries it (sealed) to the confirm step. */
export interface TotpEnrolment {
  /** Base32, as authenticator apps take it typed in. */
  secret: string;
  /** otpauth://totp/… for the QR code. */
  uri: string;
  /** Signed (HMAC-SHA256) and sealed; bound to the account, its password hash and the expiry. */
  token: string;
  expiresAt: Date;
}

export type PortalSecurityFailureKind =
  | PortalCredentialFailureKind
  | 'must-change'
  | 'expired'
  | 'invalid'
  | 'not-found'
  | 'totp-on'
  | 'totp-off'
  | 'token';

export type PortalSecurityResult =
  | { ok: true; op: 'show' | 'app-password-remove' | 'totp-disable' | 'totp-confirm' | 'sms-enable'; overview: SecurityOverview }
  | { ok: true; op: 'app-password-add'; overview: SecurityOverview; appPassword: AppPasswordSummary; /** Shown once, grouped ("abcd efgh ijkl mnop"). */ secret: string }
  | { ok: true; op: 'totp-begin'; overview: SecurityOverview; enrolment: TotpEnrolment }
  | {
      ok: false;
      kind: PortalSecurityFailureKind;
      /** Bilingual, Vietnamese first; safe to show the user. */
      message: string;
    };

/** How long an enrolment token (totp-begin → totp-confirm) is good for. */
export const ENROL_TOKEN_TTL_MS = 10 * 60 * 1000;
/** Wrong codes one enrolment token takes before it is void (the user starts again). */
const ENROL_MAX_WRONG_CODES = 5;
const MAX_ENROL_TOKEN_CHARS = 2048;

type Refusal<K extends string> = { ok: false; kind: K; message: string };
type Refuser = <K extends string>(kind: K, text: string, reason: string) => Refusal<K>;

export type AuthConfig = Pick<Config, 'domains' | 'security' | 'passwords'> & Partial<Pick<Config, 'sms'>>;

/**
 * The part of the store sign-in and the portal need (batch: the security page's changes and
 * their audit entries, in one transaction).
 */
export type AuthStore = Pick<
  Store,
  'getAccountByAddress' | 'findAccountsByLocalPart' | 'listAppPasswords' | 'updateAccount' | 'touchAppPassword' | 'batch' | 'recordSignIn' | 'signedInFrom' | 'listSignIns' | 'listDelegatedTo'
>;

/** A successful sign-in from a network the account has not used lately (R-AUTH-5). */
export interface UnusualSignIn {
  at: Date;
  protocol: SignInEntry['protocol'];
  ip: string;
  network: string;
  method: 'password' | 'app-password';
}

export interface AuthDeps {
  store: AuthStore;
  config: Readonly<AuthConfig>;
  clock: Clock;
  log: Logger;
  metrics: Pick<Metrics, 'authFailures'>;
  /** Replace the R-AUTH-2 expiry rule (a later lifecycle issue may). */
  passwordExpired?: (account: Account, now: Date) => boolean;
  /** Sends SMS codes (R-AUTH-3); default: config.sms.command (none: SMS codes cannot be sent). */
  smsSender?: SmsSender | null;
  /** How the failure delay is waited (tests record it instead). */
  sleep?: (ms: number) => Promise<void>;
  /** How a password is checked against a hash (default passwords.ts's verifyPassword; tests count or hold the checks). */
  verifyPassword?: (hash: string, password: string) => Promise<boolean>;
  /**
   * Password checks in progress server-wide, and waiting for a turn (default: twice libuv's
   * thread pool, UV_THREADPOOL_SIZE or 4, a queue 64 times that, a wait of at most 10 s); beyond
   * them a sign-in is refused as throttled before any hashing.
   */
  hashSlots?: { concurrent: number; queue: number; maxWaitMs?: number };
  /** Told of an unusual sign-in (once per account and network per process); never awaited by the sign-in. */
  onUnusualSignIn?: (account: Account, info: UnusualSignIn) => Promise<void>;
  /** Told of every change a user makes to how they sign in (the app mails them a notice); never awaited. */
  onSecurityChange?: (account: Account, info: SecurityChangeInfo) => Promise<void>;
}

export interface AuthService {
  signIn(req: SignInRequest): Promise<SignInResult>;
  /** A user changes their own password (the portal); see the order of checks above. */
  changePassword(req: PasswordChangeRequest): Promise<PasswordChangeResult>;
  plaintextAllowed(ip: string, secure: boolean): boolean;
  passwordExpired(account: Account, now: Date): boolean;
  /** The bilingual text for a failure kind (protocols that build their own refusals use it). */
  failureMessage(kind: SignInFailureKind): string;
  /** Resolves once the history rows written after their answers are stored (the app's stop() waits for it before closing the store). */
  drain(): Promise<void>;
}

/**
 * The auth service with the portal security page's operations (what createAuthService gives and
 * the HTTP listener takes; the mail protocols need only AuthService).
 */
export interface PortalAuthService extends AuthService {
  /**
   * The portal's security page (/portal/security): show the two-factor state, the recent sign-ins
   * and refused attempts, and the app passwords; add or remove an app password; begin or disable two-factor sign-in.
   * Checked like changePassword (same refusals, the code used up); every change is audited
   * with the account as actor.
   */
  portalSecurity(req: PortalSecurityRequest): Promise<PortalSecurityResult>;
  /** Two-factor enrolment, second step: the token of totp-begin and the app's code turn it on (audited). */
  confirmTotp(req: TotpConfirmRequest): Promise<PortalSecurityResult>;
  /**
   * Sign-in to a web page that then keeps a session (the administrators' page): the portal's
   * credential check (the account password only, the code when two-factor is on, used up; the
   * same refusals and delays), must-change and expired accounts sent to /portal first. Recorded
   * like every portal sign-in (lastLoginAt, the history).
   */
  webSignIn(req: PortalCredentials): Promise<WebSignInResult>;
  /**
   * "Forgot password" (R-AUTH-4), first step: a code by SMS to the phone on file of a personal
   * account (not an administrator's, not a unit mailbox's). The answer is the same whether or not
   * the address has an account, a phone or a code was sent, and comes before the SMS goes out,
   * so it tells nothing about the address; each request from a network waits longer than the last.
   */
  requestPasswordReset(req: PasswordResetCodeRequest): Promise<PasswordResetCodeResult>;
  /**
   * Second step: the SMS code (and the authenticator's code when the account has TOTP: a reset
   * does not skip the second factor) sets the new password. A wrong code, a name with no account
   * and an account that gets no codes are one answer; audited, and the owner is mailed.
   */
  resetPassword(req: PasswordResetRequest): Promise<PasswordResetResult>;
}

export type WebSignInResult = { ok: true; account: Account } | Refusal<PortalCredentialFailureKind | 'must-change' | 'expired'>;

/** "Forgot password", first step: the address only. */
export interface PasswordResetCodeRequest {
  username: string;
  ip: string;
  secure: boolean;
}

/** "Forgot password", second step: the SMS code, the authenticator's code when the account has one, the new password. */
export interface PasswordResetRequest extends PasswordResetCodeRequest {
  code: string;
  totp: string | null;
  newPassword: string;
}

export type PasswordResetFailureKind = 'unavailable' | 'plaintext-refused' | 'throttled' | 'bad-code' | 'weak' | 'unchanged';

export type PasswordResetCodeResult = { ok: true; message: string } | Refusal<'unavailable' | 'plaintext-refused' | 'throttled'>;
export type PasswordResetResult = { ok: true; account: Account } | Refusal<PasswordResetFailureKind>;

const DAY_MS = 24 * 60 * 60 * 1000;
/** The days a network stays usual after a successful sign-in from it (R-AUTH-5). */
const USUAL_NETWORK_DAYS = 90;
/** The longest a network that keeps guessing one account waits between two checks. */
const GUARD_MAX_WAIT_MS = 15 * 60 * 1000;
/** Sign-ins in flight from one IPv6 /48, as a multiple of security.maxConcurrentAuthPerIp (the per-/64 cap). */
const BLOCK_GATE_FACTOR = 4;
/** The answer to an attempt held back by the account guard (the same for a name no account has). */
const GUARDED = bi(
  'Có nhiều lần đăng nhập sai vào tài khoản này từ nơi khác; từ mạng này hãy thử lại sau ít phút',
  'There have been many wrong sign-ins to this account from elsewhere; from this network, try again in a few minutes',
);

export function isAdminAccount(account: Pick<Account, 'kind' | 'role'>): boolean {
  return account.kind === 'admin' || account.role !== 'none';
}

/** R-AUTH-2: the password is older than the user/admin maximum age. */
export function passwordExpiredRule(passwords: Pick<Config['passwords'], 'userMaxAgeDays' | 'adminMaxAgeDays'>) {
  return (account: Account, now: Date): boolean => {
    const days = isAdminAccount(account) ? passwords.adminMaxAgeDays : passwords.userMaxAgeDays;
    return now.getTime() - account.passwordChangedAt.getTime() > days * DAY_MS;
  };
}

export function signInMessage(kind: SignInFailureKind, changeUrl: string): string {
  switch (kind) {
    case 'bad-credentials':
      return bi('Sai tên đăng nhập hoặc mật khẩu', 'Wrong user name or password');
    case 'not-delegated':
      return bi(
        'Tài khoản của bạn không được ủy quyền mở hộp thư này (hoặc hộp thư không tồn tại)',
        'Your account is not delegated to open this mailbox (or there is no such mailbox)',
      );
    case 'suspended':
      return bi(
        'Tài khoản đang bị tạm khóa; thư đến vẫn được nhận. Hãy liên hệ quản trị viên',
        'The account is suspended; incoming mail is still received. Contact your administrator',
      );
    case 'deleted':
      return bi('Tài khoản đã bị xóa', 'The account has been deleted');
    case 'expired':
      return bi(`Mật khẩu đã hết hạn; hãy đổi mật khẩu tại ${changeUrl}`, `The password has expired; change it at ${changeUrl}`);
    case 'must-change':
      return bi(
        `Bạn phải đổi mật khẩu ban đầu trước khi dùng thư; hãy đổi tại ${changeUrl}`,
        `You must change your initial password before using mail; change it at ${changeUrl}`,
      );
    case 'throttled':
      return bi('Quá nhiều lần đăng nhập cùng lúc; hãy thử lại sau', 'Too many sign-ins at once; try again later');
    case 'plaintext-refused':
      return bi(
        'Không được gửi mật khẩu trên kết nối chưa mã hóa; hãy dùng TLS (STARTTLS/STLS)',
        'Passwords may not be sent on an unencrypted connection; use TLS (STARTTLS/STLS)',
      );
  }
}

/**
 * A unit mailbox named as the account signing in (R-ACC-6): nobody signs in with its own password;
 * its clerk opens it as UNIT*CLERK with the clerk's own password (see splitSignInName).
 */
const UNIT_MAILBOX_OWN_SIGN_IN = (address: string): string =>
  bi(
    `Hộp thư đơn vị ${address} không đăng nhập bằng mật khẩu riêng; người được ủy quyền hãy đăng nhập với tên "${address}*<tên đăng nhập của bạn>" và mật khẩu của chính mình`,
    `The unit mailbox ${address} is not signed in to with a password of its own; a delegate signs in as "${address}*<your user name>" with their own password`,
  );
/** The portal's answer to a unit mailbox's name: the web signs in to one's own account only. */
const UNIT_MAILBOX_NOT_ON_WEB = (address: string): string =>
  bi(
    `Hộp thư đơn vị ${address} không đăng nhập trên trang web; hãy đăng nhập bằng tài khoản của chính bạn (trang bảo mật của bạn có các lần đăng nhập vào hộp thư đơn vị). Trong chương trình thư, dùng tên "${address}*<tên đăng nhập của bạn>" với mật khẩu của bạn`,
    `The unit mailbox ${address} is not signed in to on the web; sign in with your own account (your security page lists the sign-ins to the unit mailbox). In a mail program, use the name "${address}*<your user name>" with your own password`,
  );

const UNIT_MAILBOX_SUSPENDED = bi(
  'Hộp thư đơn vị đang bị tạm khóa (thư đến vẫn được nhận); hãy liên hệ quản trị viên',
  'The unit mailbox is suspended (incoming mail is still received); contact your administrator',
);

/**
 * Who signs in, and which mailbox it opens (R-ACC-6). A delegate opens a unit mailbox with its
 * own credentials: by SASL's authorization identity (RFC 4616 §2: authzid = the unit mailbox) or,
 * for mail programs that take only a user name, the name "UNIT*DELEGATE" — the unit mailbox, a
 * star, then the delegate's own name, each a full address or a local part (the form Dovecot
 * gives master users; no address we issue has a star). mailbox null: the account's own.
 */
export function splitSignInName(username: string, authzid = ''): { user: string; mailbox: string | null } {
  if (authzid.trim() !== '') return { user: username, mailbox: authzid.trim() };
  const star = username.indexOf('*');
  if (star <= 0 || star === username.length - 1 || username.indexOf('*', star + 1) !== -1) return { user: username, mailbox: null };
  return { mailbox: username.slice(0, star), user: username.slice(star + 1) };
}

const TOTP_APP_PASSWORD_HINT = bi(
  'Tài khoản dùng xác thực hai lớp: chương trình thư phải dùng mật khẩu ứng dụng',
  'This account uses two-factor sign-in: mail programs must use an app password',
);
/** The portal's refusal of a password sent without TLS (from where allowPlaintextAuth does not allow it). */
export const PORTAL_PLAINTEXT_REFUSED = bi(
  'Không được gửi mật khẩu trên kết nối chưa mã hóa; hãy mở trang này bằng HTTPS',
  'Passwords may not be sent on an unencrypted connection; open this page over HTTPS',
);
/** Accounts whose last accepted TOTP step is remembered (the oldest is forgotten first). */
const TOTP_STEPS_REMEMBERED = 10_000;
/** Wrong two-factor codes that cost only the delay; past them further codes wait it out unchecked. */
const TOTP_FREE_FAILURES = 3;
/** The longest wait between two-factor codes of an account after many wrong ones. */
const TOTP_MAX_DELAY_MS = 15 * 60 * 1000;
/** Reset codes sent to the accounts asked for from one network in an hour (past it: the same answer, no SMS). */
const RESET_CODES_PER_NETWORK_HOUR = 5;
/** "Forgot password" is off (no SMS gateway, or sms.passwordReset false). */
export const RESET_UNAVAILABLE = bi(
  'Máy chủ này không cho tự đặt lại mật khẩu qua SMS; hãy đề nghị quản trị viên của đơn vị đặt lại mật khẩu',
  'This server does not let you reset your password by SMS; ask your unit administrator to reset it',
);
const RESET_CODE_MAYBE_SENT = (minutes: number): string =>
  bi(
    `Nếu địa chỉ này là tài khoản cá nhân có số điện thoại đã đăng ký, mã đặt lại mật khẩu đã được gửi tới số đó (dùng được ${minutes} phút). Không nhận được mã thì hãy đề nghị quản trị viên của đơn vị đặt lại mật khẩu`,
    `If this address is a personal account with a phone number on file, a password reset code was sent to that phone (good for ${minutes} min). If none arrives, ask your unit administrator to reset your password`,
  );
const RESET_WRONG_CODE = bi(
  'Mã đặt lại mật khẩu (hoặc mã xác thực) sai, đã dùng hoặc đã hết hạn; hãy xin mã mới',
  'The reset code (or the authenticator code) is wrong, used or expired; ask for a new one',
);
/** The portal's one refusal for a wrong password and a wrong two-factor code alike. */
const WRONG_CREDENTIALS_OR_CODE = bi('Sai tên đăng nhập, mật khẩu hoặc mã xác thực', 'Wrong user name, password or code');
/** A wrong, used or expired SMS code (the password was right: the code was sent after it). */
const WRONG_SMS_CODE = bi(
  'Mã xác thực SMS sai, đã dùng hoặc đã hết hạn; để trống ô mã để nhận mã mới',
  'The SMS code is wrong, used or expired; leave the code empty to get a new one',
);
const SMS_NO_PHONE = bi(
  'Tài khoản chưa có số điện thoại để nhận mã SMS; hãy đề nghị quản trị viên cập nhật',
  'The account has no phone number for SMS codes; ask your administrator to add it',
);
const TOTP_ALREADY_ON = bi('Tài khoản đã bật xác thực hai lớp', 'Two-factor sign-in is already on for this account');
const TOTP_NOT_ON = bi('Tài khoản chưa bật xác thực hai lớp', 'Two-factor sign-in is not on for this account');
const ENROL_TOKEN_REFUSED = bi(
  'Phiên bật xác thực hai lớp không hợp lệ hoặc đã quá 10 phút; hãy bắt đầu lại',
  'This two-factor set-up is not valid or is older than 10 minutes; start again',
);
const WRONG_ENROL_CODE = bi(
  'Mã xác thực không đúng; hãy nhập mã đang hiện trong ứng dụng (kiểm tra giờ trên điện thoại)',
  'Wrong code; type the code the app shows now (check the phone\'s clock)',
);
const APP_PASSWORD_NOT_FOR_WEB = bi(
  'Mật khẩu ứng dụng chỉ dùng cho chương trình thư, không dùng cho trang web',
  'App passwords work only in mail programs, not on the web',
);

export function createAuthService(deps: AuthDeps): PortalAuthService {
  const { store, config, clock, log, metrics } = deps;
  const sec = config.security;
  const expired = deps.passwordExpired ?? passwordExpiredRule(config.passwords);
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref()));
  const failures = new FailureTracker({
    clock,
    baseDelayMs: sec.authFailureDelayMs,
    maxDelayMs: sec.authFailureMaxDelayMs,
    windowMs: sec.authFailureWindowMs,
  });
  const gate = new KeyedCounter(sec.maxConcurrentAuthPerIp);
  /** Sign-ins in flight per IPv6 /48, beside the per-/64 gate: one site's /64s are many keys of `gate`. */
  const blockGate = new KeyedCounter(sec.maxConcurrentAuthPerIp * BLOCK_GATE_FACTOR);
  const checkPassword = deps.verifyPassword ?? verifyPassword;
  const hashConcurrency = deps.hashSlots?.concurrent ?? HASH_CONCURRENCY_PER_THREAD * threadPoolSize();
  /** Password checks in progress server-wide (hash-slots.ts): a flood from many networks never fills libuv's pool. */
  const slots = new HashSlots(hashConcurrency, deps.hashSlots?.queue ?? hashConcurrency * HASH_QUEUE_PER_SLOT, deps.hashSlots?.maxWaitMs);

  /** A place among the sign-ins in flight for this address (its IPv4 address or IPv6 /64, and its IPv6 /48); null: throttled. */
  function admit(ip: string): (() => void) | null {
    const release = gate.acquire(throttleKeyOf(ip));
    if (!release) return null;
    const block = throttleBlockOf(ip);
    const blockRelease = block === null ? () => undefined : blockGate.acquire(block);
    if (!blockRelease) {
      release();
      return null;
    }
    return () => {
      release();
      blockRelease();
    };
  }
  /**
   * Wrong two-factor codes per account ("totp:<id>"), apart from password failures: a mail
   * program's successful sign-ins do not clear them, they are remembered for a day, and past
   * TOTP_FREE_FAILURES wrong codes further codes are refused unchecked until the delay (doubling,
   * up to TOTP_MAX_DELAY_MS) has passed, so codes cannot be guessed in parallel from many
   * addresses (RFC 4226 §7.3).
   */
  const codeFailures = new FailureTracker({
    clock,
    baseDelayMs: sec.authFailureDelayMs,
    maxDelayMs: Math.max(sec.authFailureMaxDelayMs, TOTP_MAX_DELAY_MS),
    windowMs: 24 * 60 * 60 * 1000,
  });
  /**
   * Guessing one account from many networks (security.accountGuard*). Wrong passwords from
   * networks the account has not signed in from in 90 days count per target ("guess:<target>":
   * the account, or the user name when no account has it, so that both answer alike); they are
   * not cleared by a successful sign-in, and the owner's own stale mail programs (on networks it
   * uses) do not count. Past accountGuardFailures the target is being guessed: a network that has
   * already sent it a wrong password is checked again only after a wait that starts at
   * accountGuardIntervalMs and doubles with each of that network's failures (up to 15 minutes);
   * the rest are refused unchecked. A network that has sent no wrong password — the owner on a
   * new network — is checked at once, however many others guess; so is every network the
   * account uses.
   */
  const guessFailures = new FailureTracker({ clock, baseDelayMs: 0, maxDelayMs: 0, windowMs: sec.accountGuardWindowMs });
  const networkGuesses = new FailureTracker({
    clock,
    baseDelayMs: sec.accountGuardIntervalMs,
    maxDelayMs: Math.max(sec.accountGuardIntervalMs, GUARD_MAX_WAIT_MS),
    windowMs: sec.accountGuardWindowMs,
  });
  let dummyHash: Promise<string> | null = null;
  const message = (kind: SignInFailureKind) => signInMessage(kind, config.passwords.changeUrl);

  /**
   * What a name counts under, whether or not an account has it (the failure delay; the account
   * guard for a name no account has): its local part when its domain is one we serve or it has
   * none — "an", "an@primary" and "an@secondary" are one name, as a local part's accounts in every
   * domain are tried for it — else the whole address. So a delay cannot tell which of a name's
   * forms has an account.
   */
  const unknownKey = (username: string): string => {
    const name = username.trim().toLowerCase().slice(0, 320);
    const at = name.lastIndexOf('@');
    const served = at === -1 || config.domains.some((d) => d.toLowerCase() === name.slice(at + 1));
    return `user:${served && at !== -1 ? name.slice(0, at) : name}`;
  };

  /** Has the account signed in from this address's network in the last 90 days? */
  async function usualNetwork(account: Account | undefined, ip: string): Promise<boolean> {
    if (!account) return false;
    return store.signedInFrom(account.id, networkOf(ip), new Date(clock.now().getTime() - USUAL_NETWORK_DAYS * DAY_MS));
  }

  /**
   * The accounts an attempt checks the password of (a unit mailbox's own password is never one,
   * R-ACC-6) and what their guesses count against: each account, or the name when there is none.
   * Whether each account uses the attempt's network is read once, at once (before the hash), so
   * a wrong password's answer never waits on that read (timing would tell that the name exists).
   */
  interface Targets {
    accounts: Account[];
    keys: Array<{ target: string; account: Account | undefined; usual: Promise<boolean> }>;
  }

  function targetsOf(list: Account[], username: string, ip: string): Targets {
    const accounts = list.filter((a) => a.kind !== 'unit');
    const read = (a: Account): Promise<boolean> => {
      if (sec.accountGuardFailures === 0) return Promise.resolve(false);
      return usualNetwork(a, ip).catch((e: unknown) => {
        log.error({ err: e, account: a.address }, 'could not read the sign-in history');
        return false;
      });
    };
    const keys = accounts.length > 0 ? accounts.map((a) => ({ target: `acct:${a.id}`, account: a, usual: read(a) })) : [{ target: unknownKey(username), account: undefined, usual: Promise.resolve(false) }];
    return { accounts, keys };
  }

  /** Refuse this attempt unchecked (no hash spent): see guessFailures. Held back when any account it would check is. */
  async function guardedAttempt(targets: Targets, ip: string): Promise<boolean> {
    if (sec.accountGuardFailures === 0) return false;
    for (const { target, usual } of targets.keys) {
      if (guessFailures.count(`guess:${target}`) < sec.accountGuardFailures) continue;
      if (networkGuesses.blockedFor(`${target} ${networkOf(ip)}`) === 0) continue;
      if (!(await usual)) return true;
    }
    return false;
  }

  /** A wrong password from this address: a guess against every account it was checked against, unless its network is one that account uses. */
  async function countGuesses(targets: Targets, ip: string): Promise<void> {
    if (sec.accountGuardFailures === 0) return;
    for (const { target, usual } of targets.keys) {
      if (await usual) continue;
      guessFailures.fail([`guess:${target}`]);
      networkGuesses.fail([`${target} ${networkOf(ip)}`]);
    }
  }

  /** What a wrong password counts against for the delay: the client, the name, and every account checked. */
  const failureKeys = (targets: Targets, username: string, ip: string): string[] => [`ip:${throttleKeyOf(ip)}`, unknownKey(username), ...targets.accounts.map((a) => `acct:${a.id}`)];

  /** A right password: the account's count and its name's are forgotten. */
  function forgetFailures(account: Account, username: string): void {
    failures.reset(`acct:${account.id}`);
    failures.reset(unknownKey(username));
  }

  /** Costs what one account's check costs, for an attempt that checked none (timing does not tell which names exist). */
  async function dummyCheck(password: string): Promise<void> {
    dummyHash ??= hashPassword('buudien-no-such-user');
    await checkPassword(await dummyHash, password);
  }
  const smsConfig = config.sms ?? { command: null, timeoutMs: 15_000, codeTtlMs: 5 * 60 * 1000, resendAfterMs: 60 * 1000, maxPerAccountPerDay: 10, passwordReset: false, maxPasswordResetsPerDay: 200 };
  const smsSender = deps.smsSender === undefined ? commandSmsSender(smsConfig, log) : deps.smsSender;
  const smsCodes = new SmsCodes({ clock, cfg: smsConfig });

  /** What a request for an SMS code comes to: the form comes back either way, for the code or with why none was sent. */
  type SmsSent = { kind: 'code-sent' | 'sms-failed' | 'sms-capped' | 'no-phone'; text: string; reason: string };

  /**
   * Send the account a new code by SMS (or say that one went out a moment ago). A program that
   * could not be started sent nothing: the code is withdrawn. One that failed or hung may have
   * handed the message on: the code stays good and counts against the pause and the day's cap.
   */
  async function sendSmsCode(account: Account, ip: string): Promise<SmsSent> {
    if (!smsSender) return { kind: 'sms-failed', text: SMS_UNAVAILABLE, reason: 'sms: no sms.command' };
    const phone = normalizePhone(account.phone ?? '');
    if (phone === null) return { kind: 'no-phone', text: SMS_NO_PHONE, reason: 'sms: no phone number' };
    const tail = phoneTail(phone);
    const network = networkOf(ip);
    const usual = await usualNetwork(account, ip);
    const issued = smsCodes.issue(account.id, phone, network, usual);
    if (issued.kind === 'recent') return { kind: 'code-sent', text: SMS_CODE_RECENT(tail, Math.ceil(smsConfig.resendAfterMs / 1000)), reason: 'sms-code-recent' };
    if (issued.kind === 'capped') return { kind: 'sms-capped', text: SMS_CAPPED, reason: 'sms-capped' };
    try {
      await smsSender(phone, codeText(issued.code, smsCodes.minutes));
    } catch (e) {
      if (e instanceof SmsSendError && e.kind === 'not-run') smsCodes.withdraw(account.id, network, usual);
      log.error({ err: e, account: account.address, phone: tail }, 'could not send an SMS code');
      return { kind: 'sms-failed', text: SMS_FAILED, reason: 'sms-failed' };
    }
    log.info({ account: account.address, phone: tail }, 'SMS code sent');
    return { kind: 'code-sent', text: SMS_CODE_SENT(tail, smsCodes.minutes), reason: 'sms-code-sent' };
  }

  /** Candidate accounts for a user name, in the order to try them. */
  async function candidates(username: string): Promise<Account[]> {
    const name = username.trim().toLowerCase();
    if (name.length === 0 || name.length > 320) return [];
    if (name.includes('@')) {
      const a = await store.getAccountByAddress(name);
      return a ? [a] : [];
    }
    const found = await store.findAccountsByLocalPart(name);
    const rank = (d: string) => {
      const i = config.domains.indexOf(d);
      return i === -1 ? config.domains.length : i;
    };
    return [...found].sort((a, b) => rank(a.domain) - rank(b.domain) || a.id - b.id);
  }

  type Verified = { account: Account; method: 'password' | 'app-password'; appPasswordId: number | null; hint: string | null };

  /** A right password in the wrong place: what to tell the user, and what the history records. */
  type Misplaced = { hint: string; reason: 'needs-app-password' | 'app-password-on-web' };

  async function verify(account: Account, req: SignInRequest): Promise<Verified | Misplaced | null> {
    const stripped = normalizeAppPassword(req.password);
    // Read while the password hashes: a wrong password's answer does not wait on it (timing would tell the name has an account).
    const listed = stripped.length === 0 ? null : store.listAppPasswords(account.id);
    listed?.catch(() => undefined);
    const mainOk = await checkPassword(account.passwordHash, req.password);
    if (mainOk) {
      if (req.protocol !== 'http' && twoFactorMethod(account) !== null) return { hint: TOTP_APP_PASSWORD_HINT, reason: 'needs-app-password' };
      return { account, method: 'password', appPasswordId: null, hint: null };
    }
    if (listed === null) return null;
    // Only the app passwords whose hint matches: a wrong password costs one hash, not one per device.
    const apps = appPasswordCandidates(await listed, stripped);
    for (const ap of apps) {
      if (await checkPassword(ap.hash, stripped)) {
        if (req.protocol === 'http') return { hint: APP_PASSWORD_NOT_FOR_WEB, reason: 'app-password-on-web' };
        return { account, method: 'app-password', appPasswordId: ap.id, hint: null };
      }
    }
    return null;
  }

  function reject(
    req: SignInRequest,
    kind: SignInFailureKind,
    account: Account | null,
    text: string = message(kind),
  ): SignInResult {
    metrics.authFailures.inc({ protocol: req.protocol });
    log.warn({ ip: req.ip, username: req.username.slice(0, 320), protocol: req.protocol, reason: kind }, 'sign-in refused');
    return { ok: false, kind, message: text, account };
  }

  /** Account and network pairs already reported as unusual by this process (Thunderbird opens several connections at once). */
  const unusualReported = new Set<string>();

  /** A change the user made to how they sign in: the hook hears of it (a notice by mail); failures are only logged. */
  function changed(account: Account, ip: string, change: SecurityChange): void {
    const info = { at: clock.now(), ip, change };
    void Promise.resolve()
      .then(() => deps.onSecurityChange?.(account, info))
      .catch((e: unknown) => log.error({ err: e, account: account.address }, 'could not report a security change'));
  }

  /**
   * A sign-in that went through: lastLoginAt, the app password's last use and the history row,
   * written side by side (usually one group commit; not one transaction: history is no
   * account state); then, if its network is new to the account, the
   * unusual-sign-in hook. Recording never stops a sign-in.
   */
  async function recordSuccess(
    account: Account,
    protocol: SignInEntry['protocol'],
    ip: string,
    method: 'password' | 'app-password',
    appPasswordId: number | null,
    delegation: Pick<SignInEntry, 'via' | 'opened'> = {},
  ): Promise<Account> {
    const now = clock.now();
    const network = networkOf(ip);
    let updated = account;
    let unusual = false;
    try {
      // A unit mailbox opened by a delegate: the delegate's own sign-in is the one checked for an unusual network.
      if (deps.onUnusualSignIn && !delegation.via) {
        const since = new Date(now.getTime() - USUAL_NETWORK_DAYS * DAY_MS);
        unusual = !(await store.signedInFrom(account.id, network, since)) && (await store.listSignIns(account.id, { ok: true, limit: 1 })).length > 0;
      }
      const entry: SignInEntry = { accountId: account.id, at: now, protocol, ip, network, ok: true, method, appPasswordId, reason: null, ...delegation };
      const [u] = await Promise.all([
        store.updateAccount(account.id, { lastLoginAt: now }, null),
        store.recordSignIn(entry),
        appPasswordId !== null ? store.touchAppPassword(appPasswordId, now) : Promise.resolve(),
      ]);
      updated = u;
    } catch (e) {
      log.error({ err: e, account: account.address }, 'could not record the sign-in');
    }
    const key = `${account.id} ${network}`;
    if (unusual && deps.onUnusualSignIn && !unusualReported.has(key)) {
      unusualReported.add(key);
      if (unusualReported.size > TOTP_STEPS_REMEMBERED) unusualReported.delete(unusualReported.values().next().value as string);
      log.warn({ ip, account: account.address, protocol, network }, 'sign-in from a network not used in 90 days');
      void Promise.resolve()
        .then(() => deps.onUnusualSignIn?.(updated, { at: now, protocol, ip, network, method }))
        .catch((e: unknown) => log.error({ err: e, account: account.address }, 'could not report an unusual sign-in'));
    }
    return updated;
  }

  /** A refused sign-in to an existing account, with its reason, into the history. */
  async function recordFailure(account: Account, protocol: SignInEntry['protocol'], ip: string, reason: string, opened: string | null = null): Promise<void> {
    try {
      await store.recordSignIn({ accountId: account.id, at: clock.now(), protocol, ip, network: networkOf(ip), ok: false, method: null, appPasswordId: null, reason, opened });
    } catch (e) {
      log.error({ err: e, account: account.address }, 'could not record the sign-in');
    }
  }

  /** History writes made after the answer went out (R-AUTH-5 rows of refusals): drain() waits for them. */
  const unanswered = new Set<Promise<void>>();
  /** recordFailure without holding up the answer (its time would tell that the name has an account). */
  function recordFailureLater(...args: Parameters<typeof recordFailure>): void {
    const p = recordFailure(...args).finally(() => unanswered.delete(p));
    unanswered.add(p);
  }

  /**
   * The mailbox a delegated sign-in opens (R-ACC-6): `name` (a full address or a local part)
   * read as at sign-in, the first of its accounts delegated to `delegate`. Its own account is
   * no delegation. A kind of refusal when none is, or when it is not active.
   */
  async function delegatedMailbox(delegate: Account, name: string): Promise<Account | 'not-delegated' | 'suspended'> {
    const named = await candidates(name);
    if (named.some((a) => a.id === delegate.id)) return delegate;
    const allowed = new Map((await store.listDelegatedTo(delegate.id)).map((a) => [a.id, a]));
    const unit = named.map((a) => allowed.get(a.id)).find((a) => a !== undefined && a.state !== 'deleted');
    if (!unit) return 'not-delegated';
    return unit.state === 'active' ? unit : 'suspended';
  }

  async function signIn(req: SignInRequest): Promise<SignInResult> {
    if (!plaintextAllowedBy(sec.allowPlaintextAuth, req.ip, req.secure)) return reject(req, 'plaintext-refused', null);
    // The web signs in to its own account only: a delegate opens a unit mailbox from a mail program.
    const { user, mailbox } = req.protocol === 'http' ? { user: req.username, mailbox: null } : splitSignInName(req.username, req.authzid);
    const release = admit(req.ip);
    if (!release) return reject(req, 'throttled', null);
    try {
      const list = await candidates(user);
      const targets = targetsOf(list, user, req.ip);
      if (await guardedAttempt(targets, req.ip)) {
        // Not awaited: the answer does not wait on a write (timing).
        const on = targets.accounts[0] ?? list[0];
        if (on) recordFailureLater(on, req.protocol, req.ip, 'guarded');
        const delay = failures.fail([`ip:${throttleKeyOf(req.ip)}`]);
        const result = reject(req, 'throttled', null, GUARDED);
        log.warn({ ip: req.ip, username: req.username.slice(0, 320), protocol: req.protocol }, 'sign-in held back: the account is being guessed and this network has guessed it');
        if (delay > 0) await sleep(delay);
        return result;
      }
      // A turn among the password checks in progress server-wide; none left: throttled, nothing hashed.
      const slot = await slots.acquire();
      if (!slot) {
        log.warn({ ip: req.ip, protocol: req.protocol }, 'sign-in refused unchecked: too many password checks in progress');
        return reject(req, 'throttled', null);
      }
      let verified: Verified | null = null;
      let misplaced: Misplaced | null = null;
      try {
        for (const account of targets.accounts) {
          const v = await verify(account, req);
          if (v && 'account' in v) {
            verified = v;
            break;
          }
          if (v) misplaced = v;
        }
        // Same cost as a real check, so timing does not tell which names exist (or are unit mailboxes).
        if (targets.accounts.length === 0) await dummyCheck(req.password);
      } finally {
        slot();
      }
      if (!verified) {
        const delay = failures.fail(failureKeys(targets, user, req.ip));
        // A right password in the wrong place (misplaced) is no guess.
        if (!misplaced) await countGuesses(targets, req.ip);
        // A unit mailbox's own name (every account the name has is one): how its clerk signs in instead.
        const unitNamed = targets.accounts.length === 0 ? list[0] : undefined;
        const text = misplaced?.hint ?? (unitNamed ? UNIT_MAILBOX_OWN_SIGN_IN(unitNamed.address) : message('bad-credentials'));
        const result = reject(req, 'bad-credentials', null, text);
        // A mail program sending the main password of an account with two-factor is not a wrong password: say which.
        // Not awaited: the answer does not wait on the history's write (timing would tell the name has an account).
        const on = targets.accounts[0] ?? list[0];
        if (on) recordFailureLater(on, req.protocol, req.ip, misplaced?.reason ?? (unitNamed ? 'unit-own-password' : 'bad-credentials'));
        if (delay > 0) await sleep(delay);
        return result;
      }
      const { account } = verified;
      const stateKind: SignInFailureKind | null =
        account.state === 'deleted'
          ? 'deleted'
          : account.state === 'suspended'
            ? 'suspended'
            : account.mustChangePassword
              ? 'must-change'
              : expired(account, clock.now())
                ? 'expired'
                : null;
      if (stateKind) {
        await recordFailure(account, req.protocol, req.ip, stateKind);
        return reject(req, stateKind, account);
      }
      // The delegate's own credentials are right and usable: now the mailbox it asks to open.
      const opened = mailbox === null ? account : await delegatedMailbox(account, mailbox);
      if (typeof opened === 'string') {
        await recordFailure(account, req.protocol, req.ip, opened === 'suspended' ? 'mailbox-suspended' : 'not-delegated', (mailbox ?? '').trim().toLowerCase().replace(/\p{C}/gu, '?'));
        return reject(req, opened, account, opened === 'suspended' ? UNIT_MAILBOX_SUSPENDED : message(opened));
      }
      forgetFailures(account, user);
      const delegated = opened.id !== account.id;
      const updated = await recordSuccess(account, req.protocol, req.ip, verified.method, verified.appPasswordId, delegated ? { opened: opened.address } : {});
      // The unit mailbox's own history says who opened it (R-AUTH-5): its users see every delegate.
      const mailboxNow = delegated ? await recordSuccess(opened, req.protocol, req.ip, verified.method, null, { via: account.address }) : updated;
      log.info(
        { ip: req.ip, account: mailboxNow.address, ...(delegated ? { delegate: account.address } : {}), protocol: req.protocol, method: verified.method },
        delegated ? 'signed in as a delegate' : 'signed in',
      );
      return {
        ok: true,
        account: mailboxNow,
        delegate: delegated ? updated : null,
        credential: credentialOf(account, verified.appPasswordId, opened),
        method: verified.method,
        appPasswordId: verified.appPasswordId,
        totpRequired: req.protocol === 'http' && twoFactorMethod(account) !== null,
      };
    } finally {
      release();
    }
  }

  /** The last TOTP step accepted per account (codes are good for ±1 step: 90 s is all that matters). */
  const totpStepsUsed = new Map<number, number>();

  /**
   * Take the step of an accepted code for its account, in one go (no await between the check and
   * the taking, so two requests carrying one code cannot both pass). Null when that step or a
   * later one was taken before; else a function that gives the step back (an action refused
   * after the check leaves its code usable for the corrected form).
   */
  function claimStep(accountId: number, step: number): (() => void) | null {
    const before = totpStepsUsed.get(accountId);
    if (before !== undefined && step <= before) return null;
    totpStepsUsed.delete(accountId);
    totpStepsUsed.set(accountId, step);
    if (totpStepsUsed.size > TOTP_STEPS_REMEMBERED) totpStepsUsed.delete(totpStepsUsed.keys().next().value as number);
    return () => {
      if (totpStepsUsed.get(accountId) !== step) return;
      if (before === undefined) totpStepsUsed.delete(accountId);
      else totpStepsUsed.set(accountId, before);
    };
  }

  /** Refusals on the portal: counted, logged (never with a password or code), bilingual. */
  function portalRefuser(ip: string, username: string, what: string): Refuser {
    return (kind, text, reason) => {
      metrics.authFailures.inc({ protocol: 'http' });
      log.warn({ ip, username: username.slice(0, 320), protocol: 'http', reason }, `${what} refused`);
      return { ok: false, kind, message: text };
    };
  }

  /** A failure of the credentials themselves: counted per key (IP, account), answered after the growing delay. */
  async function failedCredentials<K extends string>(refusal: Refusal<K>, keys: string[]): Promise<Refusal<K>> {
    const delay = failures.fail(keys);
    if (delay > 0) await sleep(delay);
    return refusal;
  }

  /** The plaintext rule (before anything else) and the per-IP gate around a portal operation. */
  async function gated<R>(ip: string, secure: boolean, refuse: Refuser, fn: () => Promise<R>): Promise<R | Refusal<'plaintext-refused' | 'throttled'>> {
    if (!plaintextAllowedBy(sec.allowPlaintextAuth, ip, secure)) return refuse('plaintext-refused', PORTAL_PLAINTEXT_REFUSED, 'plaintext-refused');
    const release = admit(ip);
    if (!release) return refuse('throttled', message('throttled'), 'throttled');
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /**
   * Every portal operation that takes credentials goes through here: steps 1–4 of signIn with
   * the account password only (an app password is no credential on the web), deleted and
   * suspended refused, then the TOTP code when the account has one. A wrong password and a wrong
   * or used code get the same answer, so a refusal never tells that the password was right. A
   * code serves one action (RFC 6238 §5.2): its step is taken here and given back when `act`
   * refuses (or throws), so a mistyped new password or label leaves the code usable.
   */
  async function withPortalCredentials<R extends { ok: boolean }>(
    req: PortalCredentials,
    what: string,
    act: (account: Account, refuse: Refuser) => Promise<R>,
    /** Refusals decided before anything is recorded as a sign-in (a refused sign-in is not one). */
    before?: (account: Account, refuse: Refuser) => R | null,
  ): Promise<R | Refusal<PortalCredentialFailureKind>> {
    const refuse = portalRefuser(req.ip, req.username, what);
    return gated(req.ip, req.secure, refuse, async () => {
      const list = await candidates(req.username);
      const targets = targetsOf(list, req.username, req.ip);
      const keys = failureKeys(targets, req.username, req.ip);
      if (await guardedAttempt(targets, req.ip)) {
        const on = targets.accounts[0] ?? list[0];
        if (on) recordFailureLater(on, 'http', req.ip, 'guarded');
        return failedCredentials(refuse('throttled', GUARDED, 'held back: the account is being guessed and this network has guessed it'), [`ip:${throttleKeyOf(req.ip)}`]);
      }
      return checked(list, keys, targets);
    });

    async function checked(list: Account[], keys: string[], targets: Targets): Promise<R | Refusal<PortalCredentialFailureKind>> {
      let account: Account | null = null;
      // A turn among the password checks in progress server-wide (as signIn); none left: throttled, nothing hashed.
      const slot = await slots.acquire();
      if (!slot) return refuse('throttled', message('throttled'), 'too many password checks in progress');
      try {
        for (const a of targets.accounts) {
          if (await checkPassword(a.passwordHash, req.password)) {
            account = a;
            break;
          }
        }
        if (targets.accounts.length === 0) await dummyCheck(req.password);
      } finally {
        slot();
      }
      if (!account) {
        await countGuesses(targets, req.ip);
        // A unit mailbox's own name: the web signs in to one's own account (R-ACC-6).
        const unitNamed = targets.accounts.length === 0 ? list[0] : undefined;
        // Not awaited: the answer does not wait on the history's write (timing would tell the name has an account).
        const on = targets.accounts[0] ?? list[0];
        if (on) recordFailureLater(on, 'http', req.ip, unitNamed ? 'unit-own-password' : 'bad-credentials');
        return failedCredentials(refuse('bad-credentials', unitNamed ? UNIT_MAILBOX_NOT_ON_WEB(unitNamed.address) : WRONG_CREDENTIALS_OR_CODE, unitNamed ? 'unit mailbox named' : 'bad-credentials'), keys);
      }
      if (account.state === 'deleted' || account.state === 'suspended') {
        await recordFailure(account, 'http', req.ip, account.state);
        return refuse(account.state, message(account.state), account.state);
      }
      let giveBack = (): void => undefined;
      if (account.totpSecret === null && account.smsTwoFactor) {
        const codeKey = `totp:${account.id}`;
        const code = (req.totp ?? '').trim();
        if (code === '') {
          // A password that must be changed first is told before a code is spent on it.
          const early = before?.(account, refuse) ?? null;
          if (early) {
            await recordFailure(account, 'http', req.ip, 'kind' in early ? String(early.kind) : 'refused');
            return early;
          }
          // The password is right: the code goes to the phone (as every SMS sign-in must tell).
          const sent = await sendSmsCode(account, req.ip);
          await recordFailure(account, 'http', req.ip, sent.reason);
          return refuse(sent.kind, sent.text, sent.reason);
        }
        if (codeFailures.blockedFor(codeKey, TOTP_FREE_FAILURES) > 0) {
          await recordFailure(account, 'http', req.ip, 'totp-throttled');
          return refuse('totp', WRONG_CREDENTIALS_OR_CODE, 'sms code (waiting out earlier wrong codes)');
        }
        const claimed = smsCodes.take(account.id, code, normalizePhone(account.phone ?? '') ?? '');
        if (!claimed) {
          codeFailures.fail([codeKey]);
          await recordFailure(account, 'http', req.ip, 'totp');
          // The same answer as a wrong password: a refusal never tells that the password was right
          // (asking for a code does, but that sends the owner an SMS; the field's label says how).
          return failedCredentials(refuse('totp', WRONG_CREDENTIALS_OR_CODE, 'sms code'), keys);
        }
        codeFailures.reset(codeKey);
        giveBack = claimed;
      } else if (account.totpSecret !== null) {
        const codeKey = `totp:${account.id}`;
        // Past a few wrong codes, codes wait out the delay unchecked (the same answer as a wrong one).
        if (codeFailures.blockedFor(codeKey, TOTP_FREE_FAILURES) > 0) {
          await recordFailure(account, 'http', req.ip, 'totp-throttled');
          return refuse('totp', WRONG_CREDENTIALS_OR_CODE, 'totp (waiting out earlier wrong codes)');
        }
        const step = totpStep(account.totpSecret, req.totp ?? '', clock.now());
        const claimed = step === null ? null : claimStep(account.id, step);
        if (!claimed) {
          codeFailures.fail([codeKey]);
          await recordFailure(account, 'http', req.ip, 'totp');
          return failedCredentials(refuse('totp', WRONG_CREDENTIALS_OR_CODE, 'totp'), keys);
        }
        codeFailures.reset(codeKey);
        giveBack = claimed;
      }
      const early = before?.(account, refuse) ?? null;
      if (early) {
        giveBack();
        await recordFailure(account, 'http', req.ip, 'kind' in early ? String(early.kind) : 'refused');
        return early;
      }
      let result: R;
      try {
        // The credentials are right: a sign-in to the web, recorded (R-AUTH-5) whatever the action then says.
        const signedIn = await recordSuccess(account, 'http', req.ip, 'password', null);
        result = await act(signedIn, refuse);
      } catch (e) {
        giveBack();
        throw e;
      }
      if (result.ok) forgetFailures(account, req.username);
      else giveBack();
      return result;
    }
  }

  async function changePassword(req: PasswordChangeRequest): Promise<PasswordChangeResult> {
    return withPortalCredentials(req, 'password change', async (account, refuse): Promise<PasswordChangeResult> => {
      try {
        assertStrongPassword(req.newPassword, config.passwords, isAdminAccount(account));
      } catch (e) {
        if (isMailError(e) && e.code === 'PASSWORD_WEAK') return refuse('weak', e.message, 'weak');
        throw e;
      }
      if (normalizePassword(req.newPassword) === normalizePassword(req.password)) {
        return refuse('unchanged', bi('Mật khẩu mới phải khác mật khẩu hiện tại', 'The new password must differ from the current one'), 'unchanged');
      }
      const newHash = await hashPassword(req.newPassword);
      // Hashing took a while: an administrator may have reset, suspended or deleted the account
      // meanwhile, and that decision wins over this change.
      const now = await store.getAccountByAddress(account.address);
      if (!now || now.passwordHash !== account.passwordHash || now.state !== 'active') {
        return refuse('bad-credentials', WRONG_CREDENTIALS_OR_CODE, 'changed meanwhile');
      }
      const updated = await store.updateAccount(
        account.id,
        { passwordHash: newHash, mustChangePassword: false, passwordChangedAt: clock.now() },
        { actor: account.address, action: 'account.passwd.self', target: account.address, ref: null, details: { ip: req.ip } },
      );
      log.info({ ip: req.ip, account: account.address }, 'password changed by its user');
      changed(updated, req.ip, { kind: 'password-changed', by: null });
      return { ok: true, account: updated };
    });
  }

  // ── two-factor enrolment and app passwords (the portal's security page) ──

  async function overviewOf(account: Account): Promise<SecurityOverview> {
    const [apps, signIns, refusals, units] = await Promise.all([
      store.listAppPasswords(account.id),
      store.listSignIns(account.id, { ok: true, limit: RECENT_SIGN_INS }),
      store.listSignIns(account.id, { ok: false, limit: RECENT_SIGN_INS }),
      store.listDelegatedTo(account.id),
    ]);
    const unitSignIns = await Promise.all(units.filter((u) => u.state !== 'deleted').map(async (u) => ({ unit: u, rows: await store.listSignIns(u.id, { ok: true, limit: RECENT_SIGN_INS }) })));
    const labels = new Map(apps.map((a) => [a.id, a.label]));
    const summary = (r: SignInRecord): SignInSummary => ({
      at: r.at,
      firstAt: r.firstAt,
      count: r.count,
      protocol: r.protocol,
      ip: r.ip,
      ok: r.ok,
      method: r.method,
      appPassword: r.appPasswordId === null ? null : (labels.get(r.appPasswordId) ?? null),
      reason: r.reason,
      via: r.via,
      opened: r.opened,
    });
    return {
      address: account.address,
      twoFactor: twoFactorMethod(account) !== null,
      twoFactorMethod: twoFactorMethod(account),
      phoneTail: account.phone ? phoneTail(normalizePhone(account.phone) ?? account.phone) : null,
      smsAvailable: smsSender !== null && normalizePhone(account.phone ?? '') !== null,
      recentSignIns: signIns.map(summary),
      recentRefusals: refusals.map(summary),
      appPasswords: apps.map(appPasswordSummary),
      // The unit's app passwords are not the delegate's to see: their labels stay out.
      delegatedMailboxes: unitSignIns.map(({ unit, rows }) => ({ address: unit.address, recentSignIns: rows.map((r) => ({ ...summary(r), appPassword: null })) })),
    };
  }

  /** The account as read inside a change's transaction is still the one whose credentials were checked. */
  async function stillTheSame(tx: Pick<Store, 'getAccountByAddress'>, account: Account): Promise<boolean> {
    const now = await tx.getAccountByAddress(account.address);
    return now !== null && now.id === account.id && now.passwordHash === account.passwordHash && now.state === 'active' && now.totpSecret === account.totpSecret && now.smsTwoFactor === account.smsTwoFactor;
  }

  // The enrolment token: made and checked by this process only, so its keys live in memory and a
  // restart voids the tokens in flight (the user starts again). The secret inside is encrypted:
  // a confirm page shown again after a mistyped code carries the token, never the secret.
  const tokenMacKey = randomBytes(32);
  const tokenCipherKey = randomBytes(32);
  /** Wrong codes per token (by its MAC); a token is void after ENROL_MAX_WRONG_CODES. */
  const wrongEnrolCodes = new Map<string, number>();
  /**
   * Tokens that turned two-factor on (by MAC), kept until they expire: after the user turns it
   * off again, the same token must not turn it back on with its old secret.
   */
  const usedEnrolTokens = new Map<string, number>();

  function tokenMac(body: string, passwordHash: string): Buffer {
    return createHmac('sha256', tokenMacKey).update(`buudien totp enrolment v1\n${body}\n${passwordHash}`).digest();
  }

  function makeEnrolToken(account: Account, secret: string, expiresAt: Date): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', tokenCipherKey, iv);
    const sealed = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    const body = [String(account.id), Buffer.from(account.address).toString('base64url'), String(expiresAt.getTime()), iv.toString('base64url'), sealed.toString('base64url')].join('.');
    return `${body}.${tokenMac(body, account.passwordHash).toString('base64url')}`;
  }

  interface EnrolToken {
    accountId: number;
    address: string;
    expiresAt: number;
    iv: Buffer;
    sealed: Buffer;
    body: string;
    mac: Buffer;
  }

  function parseEnrolToken(token: string): EnrolToken | null {
    const parts = token.trim().split('.');
    if (parts.length !== 6 || token.length > MAX_ENROL_TOKEN_CHARS) return null;
    const [id = '', address = '', exp = '', iv = '', sealed = '', mac = ''] = parts;
    const b64 = /^[A-Za-z0-9_-]+$/;
    if (!/^[1-9]\d{0,15}$/.test(id) || !/^[1-9]\d{0,15}$/.test(exp) || ![address, iv, sealed, mac].every((x) => b64.test(x))) return null;
    return {
      accountId: Number(id),
      address: Buffer.from(address, 'base64url').toString('utf8'),
      expiresAt: Number(exp),
      iv: Buffer.from(iv, 'base64url'),
      sealed: Buffer.from(sealed, 'base64url'),
      body: parts.slice(0, 5).join('.'),
      mac: Buffer.from(mac, 'base64url'),
    };
  }

  function openEnrolSecret(t: EnrolToken): string | null {
    if (t.iv.length !== 12 || t.sealed.length <= 16) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', tokenCipherKey, t.iv);
      decipher.setAuthTag(t.sealed.subarray(t.sealed.length - 16));
      return Buffer.concat([decipher.update(t.sealed.subarray(0, t.sealed.length - 16)), decipher.final()]).toString('utf8');
    } catch {
      return null;
    }
  }

  /**
   * An initial or expired password is changed first (/portal): it is known to an administrator,
   * or old. Both pages that are not /portal refuse it before a sign-in is recorded.
   */
  function currentPasswordOnly<R>(account: Account, refuse: Refuser): R | null {
    if (account.mustChangePassword) return refuse('must-change', message('must-change'), 'must-change') as R;
    if (expired(account, clock.now())) return refuse('expired', message('expired'), 'expired') as R;
    return null;
  }

  async function portalSecurity(req: PortalSecurityRequest): Promise<PortalSecurityResult> {
    const op = req.op;
    return withPortalCredentials(req, `security page (${op.kind})`, async (account, refuse): Promise<PortalSecurityResult> => {
      const audit = (action: string, details: Record<string, unknown>) => ({ actor: account.address, action, target: account.address, ref: null, details: { ip: req.ip, ...details } });
      switch (op.kind) {
        case 'show':
          return { ok: true, op: 'show', overview: await overviewOf(account) };
        case 'app-password-add': {
          // The account must not have changed since its credentials were checked (an admin's reset or suspension wins).
          const guard = async (tx: Store): Promise<void> => {
            if (!(await stillTheSame(tx, account))) throw new ChangedMeanwhile();
          };
          let created: { secret: string; appPassword: AppPassword };
          try {
            created = await createAppPassword(store, account.id, op.label, {
              guard,
              audit: (added) => audit('account.app-password.add.self', { id: added.id, label: added.label }),
            });
          } catch (e) {
            if (e instanceof ChangedMeanwhile) return refuse('bad-credentials', WRONG_CREDENTIALS_OR_CODE, 'changed meanwhile');
            if (isMailError(e, 'INVALID_INPUT') || isMailError(e, 'LIMIT_EXCEEDED')) return refuse('invalid', e.message, 'invalid label or limit');
            throw e;
          }
          log.info({ ip: req.ip, account: account.address, id: created.appPassword.id }, 'app password added by its user');
          changed(account, req.ip, { kind: 'app-password-added', label: created.appPassword.label, by: null });
          return { ok: true, op: 'app-password-add', overview: await overviewOf(account), secret: created.secret, appPassword: appPasswordSummary(created.appPassword) };
        }
        case 'app-password-remove': {
          let found: AppPassword | null;
          try {
            found = await revokeAppPassword(store, account.id, op.id, {
              guard: async (tx) => {
                if (!(await stillTheSame(tx, account))) throw new ChangedMeanwhile();
              },
              audit: (p) => audit('account.app-password.remove.self', { id: p.id, label: p.label }),
            });
          } catch (e) {
            if (e instanceof ChangedMeanwhile) return refuse('bad-credentials', WRONG_CREDENTIALS_OR_CODE, 'changed meanwhile');
            throw e;
          }
          if (!found) return refuse('not-found', bi(`Không có mật khẩu ứng dụng số ${op.id}`, `There is no app password number ${op.id}`), 'no such app password');
          log.info({ ip: req.ip, account: account.address, id: op.id }, 'app password removed by its user');
          changed(account, req.ip, { kind: 'app-password-removed', label: found.label, by: null });
          return { ok: true, op: 'app-password-remove', overview: await overviewOf(account) };
        }
        case 'totp-begin': {
          if (twoFactorMethod(account) !== null) return refuse('totp-on', TOTP_ALREADY_ON, 'two-factor already on');
          const secret = newTotpSecret();
          const expiresAt = new Date(clock.now().getTime() + ENROL_TOKEN_TTL_MS);
          log.info({ ip: req.ip, account: account.address }, 'two-factor enrolment begun');
          return {
            ok: true,
            op: 'totp-begin',
            overview: await overviewOf(account),
            enrolment: { secret, uri: totpUri(secret, account.address, account.domain), token: makeEnrolToken(account, secret, expiresAt), expiresAt },
          };
        }
        case 'sms-enable': {
          if (twoFactorMethod(account) !== null) return refuse('totp-on', TOTP_ALREADY_ON, 'two-factor already on');
          if (normalizePhone(account.phone ?? '') === null) return refuse('no-phone', SMS_NO_PHONE, 'sms: no phone number');
          const code = (req.totp ?? '').trim();
          if (code === '') {
            // First form: a code to the phone on file, proving the user holds it.
            const sent = await sendSmsCode(account, req.ip);
            return refuse(sent.kind, sent.text, sent.reason);
          }
          const codeKey = `totp:${account.id}`;
          const claimed = codeFailures.blockedFor(codeKey, TOTP_FREE_FAILURES) > 0 ? null : smsCodes.take(account.id, code, normalizePhone(account.phone ?? '') ?? '');
          if (!claimed) {
            codeFailures.fail([codeKey]);
            return refuse('totp', WRONG_SMS_CODE, 'sms code (enrolment)');
          }
          codeFailures.reset(codeKey);
          const updated = await store.batch(async (tx) => {
            if (!(await stillTheSame(tx, account))) return null;
            return tx.updateAccount(account.id, { smsTwoFactor: true }, audit('account.2fa.enable.self', { method: 'sms' }));
          });
          if (!updated) {
            claimed();
            return refuse('bad-credentials', WRONG_CREDENTIALS_OR_CODE, 'changed meanwhile');
          }
          log.info({ ip: req.ip, account: account.address, method: 'sms' }, 'two-factor sign-in enabled by its user');
          changed(updated, req.ip, { kind: 'two-factor-on', by: null });
          return { ok: true, op: 'sms-enable', overview: await overviewOf(updated) };
        }
        case 'totp-disable': {
          const method = twoFactorMethod(account);
          if (method === null) return refuse('totp-off', TOTP_NOT_ON, 'two-factor not on');
          const updated = await store.batch(async (tx) => {
            if (!(await stillTheSame(tx, account))) return null;
            return tx.updateAccount(account.id, { totpSecret: null, smsTwoFactor: false }, audit('account.2fa.disable.self', { method }));
          });
          if (!updated) return refuse('bad-credentials', WRONG_CREDENTIALS_OR_CODE, 'changed meanwhile');
          log.info({ ip: req.ip, account: account.address }, 'two-factor sign-in disabled by its user');
          changed(updated, req.ip, { kind: 'two-factor-off', by: null });
          return { ok: true, op: 'totp-disable', overview: await overviewOf(updated) };
        }
      }
    }, (a, r) => currentPasswordOnly<PortalSecurityResult>(a, r));
  }

  async function confirmTotp(req: TotpConfirmRequest): Promise<PortalSecurityResult> {
    const parsed = parseEnrolToken(req.token);
    const refuse = portalRefuser(req.ip, parsed?.address ?? '(enrolment token)', 'two-factor enrolment');
    return gated(req.ip, req.secure, refuse, async (): Promise<PortalSecurityResult> => {
      const forged = () => failedCredentials(refuse('token', ENROL_TOKEN_REFUSED, 'token malformed, forged or voided by a password change'), [`ip:${throttleKeyOf(req.ip)}`]);
      if (!parsed) return forged();
      const account = await store.getAccountByAddress(parsed.address);
      // The MAC binds the password hash: a password changed since the token was made voids it.
      const good = account !== null && account.id === parsed.accountId && parsed.mac.length === 32 && timingSafeEqual(parsed.mac, tokenMac(parsed.body, account.passwordHash));
      if (!good || !account) return forged();
      if (clock.now().getTime() > parsed.expiresAt) return refuse('token', ENROL_TOKEN_REFUSED, 'token expired');
      if (account.state === 'deleted') return refuse('deleted', message('deleted'), 'deleted');
      if (account.state === 'suspended') return refuse('suspended', message('suspended'), 'suspended');
      if (twoFactorMethod(account) !== null) return refuse('totp-on', TOTP_ALREADY_ON, 'two-factor already on');
      const secret = openEnrolSecret(parsed);
      if (secret === null) return forged();
      const macKey = parsed.mac.toString('base64url');
      if (usedEnrolTokens.has(macKey)) return refuse('token', ENROL_TOKEN_REFUSED, 'token already used');
      const wrong = wrongEnrolCodes.get(macKey) ?? 0;
      if (wrong >= ENROL_MAX_WRONG_CODES) return refuse('token', ENROL_TOKEN_REFUSED, 'too many wrong codes for this token');
      const step = totpStep(secret, req.totp, clock.now());
      const giveBack = step === null ? null : claimStep(account.id, step);
      if (!giveBack) {
        wrongEnrolCodes.delete(macKey);
        wrongEnrolCodes.set(macKey, wrong + 1);
        if (wrongEnrolCodes.size > TOTP_STEPS_REMEMBERED) wrongEnrolCodes.delete(wrongEnrolCodes.keys().next().value as string);
        return failedCredentials(refuse('totp', WRONG_ENROL_CODE, 'totp'), [`ip:${throttleKeyOf(req.ip)}`, `acct:${account.id}`]);
      }
      const updated = await store
        .batch(async (tx) => {
          if (!(await stillTheSame(tx, account))) return null;
          return tx.updateAccount(account.id, { totpSecret: secret }, { actor: account.address, action: 'account.2fa.enable.self', target: account.address, ref: null, details: { ip: req.ip } });
        })
        .catch((e: unknown) => {
          giveBack();
          throw e;
        });
      if (!updated) {
        giveBack();
        return refuse('token', ENROL_TOKEN_REFUSED, 'account changed meanwhile');
      }
      wrongEnrolCodes.delete(macKey);
      const nowMs = clock.now().getTime();
      for (const [k, exp] of usedEnrolTokens) if (exp < nowMs || usedEnrolTokens.size >= TOTP_STEPS_REMEMBERED) usedEnrolTokens.delete(k);
      usedEnrolTokens.set(macKey, parsed.expiresAt);
      failures.reset(`acct:${account.id}`);
      log.info({ ip: req.ip, account: account.address }, 'two-factor sign-in enabled by its user');
      changed(updated, req.ip, { kind: 'two-factor-on', by: null });
      return { ok: true, op: 'totp-confirm', overview: await overviewOf(updated) };
    });
  }

  async function webSignIn(req: PortalCredentials): Promise<WebSignInResult> {
    return withPortalCredentials(req, 'web sign-in', async (account): Promise<WebSignInResult> => {
      log.info({ ip: req.ip, account: account.address, protocol: 'http', method: 'password' }, 'signed in');
      return { ok: true, account };
    }, (a, r) => currentPasswordOnly<WebSignInResult>(a, r));
  }

  // ── "forgot password" by SMS (R-AUTH-4) ──

  /**
   * Codes for resetting a forgotten password: apart from the sign-in codes, so that asking for one
   * (which needs no password) never replaces a code the owner is signing in with.
   */
  const resetCodes = new SmsCodes({ clock, cfg: smsConfig });
  /** The password hash each reset code was issued under: an administrator's reset (or the owner's change) since voids it. */
  const resetIssuedUnder = new Map<number, string>();
  /** Reset codes asked per network: each request waits longer than the last. */
  const resetAsks = new FailureTracker({ clock, baseDelayMs: sec.authFailureDelayMs, maxDelayMs: sec.authFailureMaxDelayMs, windowMs: 60 * 60 * 1000 });
  /**
   * Wrong reset codes per name asked for ("reset:<address>", the name read as a full address in the
   * primary domain), never per account: the delay then says nothing about whether the name has an
   * account, and guessing at a reset never holds back the owner's sign-in codes.
   */
  const resetFailures = new FailureTracker({ clock, baseDelayMs: sec.authFailureDelayMs, maxDelayMs: Math.max(sec.authFailureMaxDelayMs, TOTP_MAX_DELAY_MS), windowMs: 24 * 60 * 60 * 1000 });
  /** Reset codes sent, server-wide and per network, in the last day and hour (SMS cost money). */
  const resetSent: number[] = [];
  const resetSentByNetwork = new Map<string, number[]>();
  /** The SMS sender when resets are on (sms.command and sms.passwordReset), else null. */
  const resetSender = (): SmsSender | null => (smsConfig.passwordReset ? smsSender : null);
  const resetKey = (username: string): string => `reset:${unknownKey(username).slice('user:'.length)}`;

  /**
   * An account that may reset its password by SMS: personal, active, not an administrator, with
   * a phone, and no unit mailbox's delegate (its credentials open that mailbox: an administrator resets them).
   */
  async function resettable(username: string): Promise<{ account: Account; phone: string } | null> {
    const account = (await candidates(username))[0];
    if (!account || account.state !== 'active' || account.kind !== 'personal' || isAdminAccount(account)) return null;
    const phone = normalizePhone(account.phone ?? '');
    if (phone === null || (await store.listDelegatedTo(account.id)).length > 0) return null;
    return { account, phone };
  }

  /** The reset codes sent for requests from `network` in the last hour (older ones dropped). */
  function sentFrom(network: string): number[] {
    const now = clock.now().getTime();
    while (resetSent.length > 0 && now - (resetSent[0] ?? 0) >= DAY_MS) resetSent.shift();
    const here = (resetSentByNetwork.get(network) ?? []).filter((t) => now - t < 60 * 60 * 1000);
    resetSentByNetwork.delete(network);
    if (here.length > 0) resetSentByNetwork.set(network, here);
    if (resetSentByNetwork.size > TOTP_STEPS_REMEMBERED) resetSentByNetwork.delete(resetSentByNetwork.keys().next().value as string);
    return here;
  }

  /** Room for one more code: within the server's day and the network's hour (only codes really sent count). */
  const withinResetCaps = (network: string): boolean => resetSent.length < smsConfig.maxPasswordResetsPerDay && sentFrom(network).length < RESET_CODES_PER_NETWORK_HOUR;

  /** Count a code sent for `network`; the function returned gives the slot back (the program could not be started). */
  function countResetSent(network: string): () => void {
    const at = clock.now().getTime();
    resetSent.push(at);
    resetSentByNetwork.set(network, [...sentFrom(network), at]);
    return () => {
      const i = resetSent.lastIndexOf(at);
      if (i !== -1) resetSent.splice(i, 1);
      const here = resetSentByNetwork.get(network);
      const j = here?.lastIndexOf(at) ?? -1;
      if (here && j !== -1) here.splice(j, 1);
    };
  }

  /** The work of a code request, after the answer went out: nothing in the answer's time depends on the address. */
  async function sendResetCode(send: SmsSender, username: string, ip: string): Promise<void> {
    const found = await resettable(username);
    if (!found) {
      log.info({ ip, username: username.slice(0, 320) }, 'password reset code asked for an address that gets none');
      return;
    }
    const { account, phone } = found;
    const network = networkOf(ip);
    if (!withinResetCaps(network)) {
      log.warn({ ip, account: account.address, network }, 'password reset code not sent: the hourly cap of the network or the daily cap of the server (sms.maxPasswordResetsPerDay) is reached');
      await recordFailure(account, 'http', ip, 'reset-code-capped');
      return;
    }
    const usual = await usualNetwork(account, ip);
    const issued = resetCodes.issue(account.id, phone, network, usual);
    await recordFailure(account, 'http', ip, issued.kind === 'new' ? 'reset-code-sent' : issued.kind === 'recent' ? 'reset-code-recent' : 'reset-code-capped');
    if (issued.kind !== 'new') return;
    const uncount = countResetSent(network);
    resetIssuedUnder.delete(account.id);
    resetIssuedUnder.set(account.id, account.passwordHash);
    if (resetIssuedUnder.size > TOTP_STEPS_REMEMBERED) resetIssuedUnder.delete(resetIssuedUnder.keys().next().value as number);
    try {
      await send(phone, resetCodeText(issued.code, resetCodes.minutes));
      log.info({ account: account.address, phone: phoneTail(phone), ip }, 'password reset code sent by SMS');
    } catch (e) {
      if (e instanceof SmsSendError && e.kind === 'not-run') {
        resetCodes.withdraw(account.id, network, usual);
        uncount();
      }
      log.error({ err: e, account: account.address, phone: phoneTail(phone) }, 'could not send a password reset code');
    }
  }

  async function requestPasswordReset(req: PasswordResetCodeRequest): Promise<PasswordResetCodeResult> {
    const refuse = portalRefuser(req.ip, req.username, 'password reset code');
    const send = resetSender();
    if (!send) return refuse('unavailable', RESET_UNAVAILABLE, 'no sms.command or sms.passwordReset off');
    return gated(req.ip, req.secure, refuse, async () => {
      const delay = resetAsks.fail([`net:${networkOf(req.ip)}`]);
      if (delay > 0) await sleep(delay);
      // The lookup, the history row and the SMS come after the answer (their time would tell that
      // the address gets codes); errors there are only logged.
      setImmediate(() => {
        sendResetCode(send, req.username, req.ip).catch((e: unknown) => log.error({ err: e, ip: req.ip }, 'password reset code request failed'));
      });
      return { ok: true as const, message: RESET_CODE_MAYBE_SENT(resetCodes.minutes) };
    });
  }

  async function resetPassword(req: PasswordResetRequest): Promise<PasswordResetResult> {
    const refuse = portalRefuser(req.ip, req.username, 'password reset');
    if (!resetSender()) return refuse('unavailable', RESET_UNAVAILABLE, 'no sms.command or sms.passwordReset off');
    return gated(req.ip, req.secure, refuse, async (): Promise<PasswordResetResult> => {
      // Only personal non-administrator accounts get codes: the user rules apply.
      try {
        assertStrongPassword(req.newPassword, config.passwords, false);
      } catch (e) {
        if (isMailError(e) && e.code === 'PASSWORD_WEAK') return refuse('weak', e.message, 'weak');
        throw e;
      }
      const key = resetKey(req.username);
      /**
       * The one refusal for a wrong code, a name without an account and one that gets no codes;
       * history rows are not awaited. The answer waits at most authFailureMaxDelayMs, as a wrong
       * password does: the wait holds one of the address's sign-in slots, shared with mail programs.
       */
      const wrong = async (account: Account | null, reason: string): Promise<Refusal<'bad-code'>> => {
        if (account) recordFailureLater(account, 'http', req.ip, reason);
        const delay = Math.min(resetFailures.fail([key]), sec.authFailureMaxDelayMs);
        if (delay > 0) await sleep(delay);
        return refuse('bad-code', RESET_WRONG_CODE, reason);
      };
      // Past a few wrong codes for the name, codes are refused unchecked, at once and uncounted,
      // until its wait (doubling, up to 15 minutes) has passed: the same answer as a wrong code.
      if (resetFailures.blockedFor(key, TOTP_FREE_FAILURES) > 0) return refuse('bad-code', RESET_WRONG_CODE, 'reset-code-throttled');
      const found = await resettable(req.username);
      if (!found) return wrong(null, 'reset-code');
      const { account, phone } = found;
      const giveBack = resetCodes.take(account.id, req.code, phone);
      if (!giveBack) return wrong(account, 'reset-code');
      // A code serves the account as it was when the code went out: an administrator's reset since voids it.
      if (resetIssuedUnder.get(account.id) !== account.passwordHash) return wrong(account, 'reset-code-stale');
      // A reset does not skip the second factor: an account with an authenticator gives its code too.
      let giveStep = (): void => undefined;
      if (account.totpSecret !== null) {
        const step = totpStep(account.totpSecret, req.totp ?? '', clock.now());
        const claimed = step === null ? null : claimStep(account.id, step);
        if (!claimed) {
          giveBack();
          return wrong(account, 'totp');
        }
        giveStep = claimed;
      }
      const undo = (): void => {
        giveBack();
        giveStep();
      };
      if (await checkPassword(account.passwordHash, req.newPassword)) {
        // Counted like a wrong code: with a code in hand this would otherwise test guesses of the
        // current password without end and without the owner ever hearing of it.
        undo();
        resetFailures.fail([key]);
        return refuse('unchanged', bi('Mật khẩu mới phải khác mật khẩu hiện tại', 'The new password must differ from the current one'), 'unchanged');
      }
      const newHash = await hashPassword(req.newPassword);
      // Hashing took a while: an administrator's reset, suspension, deletion or change of phone or
      // second factor meanwhile wins (read again and written in one transaction).
      let updated: Account;
      try {
        updated = await store.batch(async (tx) => {
          const now = await tx.getAccountByAddress(account.address);
          const same =
            now !== null &&
            now.state === 'active' &&
            now.passwordHash === account.passwordHash &&
            now.totpSecret === account.totpSecret &&
            normalizePhone(now.phone ?? '') === phone &&
            now.kind === account.kind &&
            now.role === account.role;
          if (!same) throw new ChangedMeanwhile();
          return tx.updateAccount(
            account.id,
            { passwordHash: newHash, mustChangePassword: false, passwordChangedAt: clock.now() },
            { actor: account.address, action: 'account.passwd.forgot', target: account.address, ref: null, details: { ip: req.ip, phone: phoneTail(phone) } },
          );
        });
      } catch (e) {
        if (!(e instanceof ChangedMeanwhile)) throw e;
        undo();
        return wrong(account, 'reset-changed-meanwhile');
      }
      resetIssuedUnder.delete(account.id);
      resetFailures.reset(key);
      failures.reset(`acct:${account.id}`);
      log.info({ ip: req.ip, account: account.address }, 'password reset by its user with an SMS code');
      changed(updated, req.ip, { kind: 'password-reset-by-sms', by: null, phoneTail: phoneTail(phone) });
      return { ok: true, account: updated };
    });
  }

  return {
    signIn,
    changePassword,
    portalSecurity,
    confirmTotp,
    webSignIn,
    requestPasswordReset,
    resetPassword,
    plaintextAllowed: (ip, secure) => plaintextAllowedBy(sec.allowPlaintextAuth, ip, secure),
    passwordExpired: expired,
    failureMessage: message,
    async drain() {
      while (unanswered.size > 0) await Promise.allSettled([...unanswered]);
    },
  };
}

/** Thrown inside a change's transaction when the account changed since its credentials were checked. */
class ChangedMeanwhile extends Error {}

function appPasswordSummary(a: AppPassword): AppPasswordSummary {
  return { id: a.id, label: a.label, createdAt: a.createdAt, lastUsedAt: a.lastUsedAt };
}
