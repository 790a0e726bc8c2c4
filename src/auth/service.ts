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
 *   2. concurrent sign-ins per IP (no hashing, 'throttled')
 *   3. resolve the user: full address, or local part alone (R-ADDR-6; several domains → the
 *      configured domain order, primary first); unknown users still cost one hash (timing)
 *   4. verify: the account password, then app passwords (whitespace stripped, CLIENT-NOTES).
 *      HTTP takes only the account password; accounts with TOTP take only app passwords on
 *      mail protocols (SECURITY-NOTES: TOTP never travels over IMAP/POP3/SMTP)
 *   5. only after the password is verified: deleted, suspended (R-ACC-3), must-change (R-ACC-2),
 *      expired (R-AUTH-2). Those failures carry the account (HTTP lets the user change it).
 * Every failure: metrics.authFailures, a log line (ip, username, protocol, reason), and — for
 * failed credentials — a growing delay (per IP and per account) before the answer.
 * Success: lastLoginAt recorded, the account's failure count forgotten.
 *
 * changePassword (the web portal, R-ACC-2, R-AUTH-2) takes the same steps 1–4 with the account
 * password only (never an app password), then the TOTP code if the account has one. A
 * must-change or expired account may change its password (that is what the portal is for); a
 * suspended or deleted one may not. The new password must follow R-AUTH-1 and differ from the
 * current one; it clears must-change, restarts the password's age and is audited.
 */
import type { Config } from '../config/schema.js';
import type { Clock } from '../lib/clock.js';
import { bi, isMailError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import type { Metrics } from '../lib/metrics.js';
import type { Account, Store } from '../store/port.js';
import { assertStrongPassword, hashPassword, verifyPassword } from './passwords.js';
import { totpStep } from './totp.js';
import { plaintextAllowedBy } from './plaintext.js';
import { KeyedCounter } from '../lib/keyed-counter.js';
import { FailureTracker } from './throttle.js';

export type SignInProtocol = 'imap' | 'pop3' | 'smtp' | 'http';

export interface SignInRequest {
  username: string;
  password: string;
  protocol: SignInProtocol;
  ip: string;
  /** The connection is TLS (implicit or after STARTTLS/STLS). */
  secure: boolean;
}

export type SignInFailureKind =
  | 'bad-credentials'
  | 'suspended'
  | 'deleted'
  | 'expired'
  | 'must-change'
  | 'throttled'
  | 'plaintext-refused';

export type SignInResult =
  | {
      ok: true;
      account: Account;
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

export type PasswordChangeFailureKind = 'bad-credentials' | 'suspended' | 'deleted' | 'throttled' | 'plaintext-refused' | 'totp' | 'weak' | 'unchanged';

export type PasswordChangeResult =
  | { ok: true; account: Account }
  | {
      ok: false;
      kind: PasswordChangeFailureKind;
      /** Bilingual, Vietnamese first; safe to show the user. */
      message: string;
    };

export type AuthConfig = Pick<Config, 'domains' | 'security' | 'passwords'>;

/** The part of the store sign-in needs. */
export type AuthStore = Pick<Store, 'getAccountByAddress' | 'findAccountsByLocalPart' | 'listAppPasswords' | 'updateAccount' | 'touchAppPassword'>;

export interface AuthDeps {
  store: AuthStore;
  config: Readonly<AuthConfig>;
  clock: Clock;
  log: Logger;
  metrics: Pick<Metrics, 'authFailures'>;
  /** Replace the R-AUTH-2 expiry rule (a later lifecycle issue may). */
  passwordExpired?: (account: Account, now: Date) => boolean;
  /** How the failure delay is waited (tests record it instead). */
  sleep?: (ms: number) => Promise<void>;
}

export interface AuthService {
  signIn(req: SignInRequest): Promise<SignInResult>;
  /** A user changes their own password (the portal); see the order of checks above. */
  changePassword(req: PasswordChangeRequest): Promise<PasswordChangeResult>;
  plaintextAllowed(ip: string, secure: boolean): boolean;
  passwordExpired(account: Account, now: Date): boolean;
  /** The bilingual text for a failure kind (protocols that build their own refusals use it). */
  failureMessage(kind: SignInFailureKind): string;
}

const DAY_MS = 24 * 60 * 60 * 1000;

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
/** The portal's one refusal for a wrong password and a wrong two-factor code alike. */
const WRONG_CREDENTIALS_OR_CODE = bi('Sai tên đăng nhập, mật khẩu hoặc mã xác thực', 'Wrong user name, password or code');
const APP_PASSWORD_NOT_FOR_WEB = bi(
  'Mật khẩu ứng dụng chỉ dùng cho chương trình thư, không dùng cho trang web',
  'App passwords work only in mail programs, not on the web',
);

/** Whitespace is never part of an app password (they get pasted with spaces or line breaks). */
export function normalizeAppPassword(p: string): string {
  return p.replace(/\s+/gu, '');
}

export function createAuthService(deps: AuthDeps): AuthService {
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
  let dummyHash: Promise<string> | null = null;
  const message = (kind: SignInFailureKind) => signInMessage(kind, config.passwords.changeUrl);

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

  async function verify(account: Account, req: SignInRequest): Promise<Verified | { hint: string } | null> {
    const mainOk = await verifyPassword(account.passwordHash, req.password);
    if (mainOk) {
      if (req.protocol !== 'http' && account.totpSecret !== null) return { hint: TOTP_APP_PASSWORD_HINT };
      return { account, method: 'password', appPasswordId: null, hint: null };
    }
    const stripped = normalizeAppPassword(req.password);
    if (stripped.length === 0) return null;
    const apps = await store.listAppPasswords(account.id);
    for (const ap of apps) {
      if (await verifyPassword(ap.hash, stripped)) {
        if (req.protocol === 'http') return { hint: APP_PASSWORD_NOT_FOR_WEB };
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

  async function signIn(req: SignInRequest): Promise<SignInResult> {
    if (!plaintextAllowedBy(sec.allowPlaintextAuth, req.ip, req.secure)) return reject(req, 'plaintext-refused', null);
    const release = gate.acquire(req.ip);
    if (!release) return reject(req, 'throttled', null);
    try {
      const list = await candidates(req.username);
      let verified: Verified | null = null;
      let hint: string | null = null;
      for (const account of list) {
        const v = await verify(account, req);
        if (v && 'account' in v) {
          verified = v;
          break;
        }
        if (v) hint = v.hint;
      }
      if (list.length === 0) {
        // Same cost as a real check, so timing does not tell which names exist.
        dummyHash ??= hashPassword('buudien-no-such-user');
        await verifyPassword(await dummyHash, req.password);
      }
      if (!verified) {
        const userKey = list[0] ? `acct:${list[0].id}` : `user:${req.username.trim().toLowerCase()}`;
        const delay = failures.fail([`ip:${req.ip}`, userKey]);
        const result = reject(req, 'bad-credentials', null, hint ?? message('bad-credentials'));
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
      if (stateKind) return reject(req, stateKind, account);
      failures.reset(`acct:${account.id}`);
      const now = clock.now();
      let updated = account;
      try {
        updated = await store.updateAccount(account.id, { lastLoginAt: now }, null);
        if (verified.appPasswordId !== null) await store.touchAppPassword(verified.appPasswordId, now);
      } catch (e) {
        // Recording the sign-in must not stop it.
        log.error({ err: e, account: account.address }, 'could not record lastLoginAt');
      }
      log.info({ ip: req.ip, account: account.address, protocol: req.protocol, method: verified.method }, 'signed in');
      return {
        ok: true,
        account: updated,
        method: verified.method,
        appPasswordId: verified.appPasswordId,
        totpRequired: req.protocol === 'http' && account.totpSecret !== null,
      };
    } finally {
      release();
    }
  }

  /** The last TOTP step accepted per account (codes are good for ±1 step: 90 s is all that matters). */
  const totpStepsUsed = new Map<number, number>();

  async function changePassword(req: PasswordChangeRequest): Promise<PasswordChangeResult> {
    const refuse = (kind: PasswordChangeFailureKind, text: string, reason: string): PasswordChangeResult => {
      metrics.authFailures.inc({ protocol: 'http' });
      log.warn({ ip: req.ip, username: req.username.slice(0, 320), protocol: 'http', reason }, 'password change refused');
      return { ok: false, kind, message: text };
    };
    if (!plaintextAllowedBy(sec.allowPlaintextAuth, req.ip, req.secure)) {
      return refuse('plaintext-refused', PORTAL_PLAINTEXT_REFUSED, 'plaintext-refused');
    }
    const release = gate.acquire(req.ip);
    if (!release) return refuse('throttled', message('throttled'), 'throttled');
    try {
      const list = await candidates(req.username);
      let account: Account | null = null;
      for (const a of list) {
        if (await verifyPassword(a.passwordHash, req.password)) {
          account = a;
          break;
        }
      }
      if (list.length === 0) {
        dummyHash ??= hashPassword('buudien-no-such-user');
        await verifyPassword(await dummyHash, req.password);
      }
      const failed = async (kind: PasswordChangeFailureKind, text: string, reason: string): Promise<PasswordChangeResult> => {
        const userKey = list[0] ? `acct:${list[0].id}` : `user:${req.username.trim().toLowerCase()}`;
        const delay = failures.fail([`ip:${req.ip}`, userKey]);
        const result = refuse(kind, text, reason);
        if (delay > 0) await sleep(delay);
        return result;
      };
      if (!account) return await failed('bad-credentials', WRONG_CREDENTIALS_OR_CODE, 'bad-credentials');
      if (account.state === 'deleted') return refuse('deleted', message('deleted'), 'deleted');
      if (account.state === 'suspended') return refuse('suspended', message('suspended'), 'suspended');
      // The same answer as a wrong password, so a refusal here does not tell that the password was
      // right. A code is good once (RFC 6238 §5.2): a step at or before the last one taken is refused.
      // The step is taken only by a change that goes through: a refused new password leaves the
      // code usable for the corrected form.
      let step: number | null = null;
      if (account.totpSecret !== null) {
        step = totpStep(account.totpSecret, req.totp ?? '', clock.now());
        if (step === null || step <= (totpStepsUsed.get(account.id) ?? -1)) return await failed('totp', WRONG_CREDENTIALS_OR_CODE, 'totp');
      }
      try {
        assertStrongPassword(req.newPassword, config.passwords, isAdminAccount(account));
      } catch (e) {
        if (isMailError(e) && e.code === 'PASSWORD_WEAK') return refuse('weak', e.message, 'weak');
        throw e;
      }
      if (req.newPassword === req.password) {
        return refuse('unchanged', bi('Mật khẩu mới phải khác mật khẩu hiện tại', 'The new password must differ from the current one'), 'unchanged');
      }
      const newHash = await hashPassword(req.newPassword);
      // Hashing took a while: an administrator may have reset, suspended or deleted the account
      // meanwhile, and that decision wins over this change.
      const now = await store.getAccountByAddress(account.address);
      if (!now || now.passwordHash !== account.passwordHash || now.state !== 'active') {
        return refuse('bad-credentials', WRONG_CREDENTIALS_OR_CODE, 'changed meanwhile');
      }
      failures.reset(`acct:${account.id}`);
      const updated = await store.updateAccount(
        account.id,
        { passwordHash: newHash, mustChangePassword: false, passwordChangedAt: clock.now() },
        { actor: account.address, action: 'account.passwd.self', target: account.address, ref: null, details: { ip: req.ip } },
      );
      if (step !== null) {
        totpStepsUsed.delete(account.id);
        totpStepsUsed.set(account.id, step);
        if (totpStepsUsed.size > TOTP_STEPS_REMEMBERED) totpStepsUsed.delete(totpStepsUsed.keys().next().value as number);
      }
      log.info({ ip: req.ip, account: account.address }, 'password changed by its user');
      return { ok: true, account: updated };
    } finally {
      release();
    }
  }

  return {
    signIn,
    changePassword,
    plaintextAllowed: (ip, secure) => plaintextAllowedBy(sec.allowPlaintextAuth, ip, secure),
    passwordExpired: expired,
    failureMessage: message,
  };
}
