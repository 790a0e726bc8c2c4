/**
 * The account service: units, accounts and their lifecycle (R-ADDR, R-ACC, R-STORE-1), used by
 * the CLI, the admin HTTP API and the request-form import. Every change is audited with its
 * actor and the written request's reference number (R-ACC-1). Unit administrators (role 'unit')
 * act only on their own unit's accounts (R-ACC-7); users (role 'none') manage nothing here.
 * Two-factor sign-in and app passwords (R-AUTH-3) are switched on and handed out here too, with
 * the same rights as a password reset.
 *
 * A unit administrator CHANGES (password reset, suspension, two-factor sign-in, app passwords)
 * only its own unit's personal accounts without an administrator role: never another
 * administrator, never the unit mailbox (its access passes by delegation, R-ACC-6, never by a
 * shared password), never itself. It may READ all its unit's accounts except a system
 * administrator's (getAccount, listAccounts, listAppPasswords). A system administrator (the
 * CLI) keeps every right, but the last active one can be neither suspended nor deleted.
 *
 * An administrator's password reset (setPassword) revokes every app password of the account in
 * the same transaction: a reset answers a compromise or a forgotten password, and a device
 * password must not outlive it (the user's own change at /portal keeps them).
 */
import { bidiControlIn, dropInvisible } from '../lib/invisible.js';
import { QUOTA_FLOOR_BYTES, type Config } from '../config/schema.js';
import type { Clock } from '../lib/clock.js';
import { MailError, bi, isMailError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { createAppPassword, revokeAppPassword } from '../auth/app-passwords.js';
import { assertStrongPassword, generatePassword, hashPassword } from '../auth/passwords.js';
import type { SecurityChange, SecurityChangeInfo } from '../auth/security-notices.js';
import { newTotpSecret, totpUri } from '../auth/totp.js';
import { normalizePhone, phoneTail } from '../auth/sms.js';
import { twoFactorMethod } from '../auth/two-factor.js';
import {
  effectiveQuotaBytes,
  type Account,
  type AccountKind,
  type AccountState,
  type AdminRole,
  type AppPassword,
  type Domain,
  type SignInRecord,
  type Store,
  type Unit,
  type UnitPatch,
} from '../store/port.js';
import { foldName, normalizeUnitCode, numbered, personalLocalPart, unitAddress, unitCode } from './naming.js';
import { buildDirectory, type Directory } from './directory.js';
import { buildUsageReport, currentReportYear, regularSince, reportPeriod, type UsageReport } from './report.js';
import { buildOperationsReport, lastEndedQuarter, MailTally, parseQuarter, quarterPeriod, type OperationsReport } from './operations-report.js';

/** Who is acting: a CLI user (super), a unit administrator, or a signed-in account. */
export interface Actor {
  /** Written to the audit log (an OS user name, an address). */
  name: string;
  role: AdminRole;
  /** For role 'unit': the unit it administers. */
  unitId: number | null;
}

/** The actor for the command line and the system itself: every right. */
export function superActor(name: string): Actor {
  return { name, role: 'super', unitId: null };
}

export interface AccountServiceDeps {
  store: Store;
  config: Readonly<Config>;
  clock: Clock;
  log: Logger;
  /** Told of every change an administrator makes to how an account signs in (the user is mailed a notice, R-AUTH-5); never awaited. */
  onSecurityChange?: (account: Account, info: SecurityChangeInfo) => Promise<void>;
}

export interface AddAccountInput {
  fullName: string;
  /** Unit code or address ("skhdt", "tc.ah"); required for personal and unit accounts. */
  unit?: string | null;
  /** Full address or local part; without it the naming rule picks one. */
  address?: string | null;
  kind?: AccountKind;
  role?: AdminRole;
  /** Without it a one-time password is generated and returned. */
  password?: string | null;
  /** false exempts service and test accounts from the first-sign-in change (audited). */
  forceChange?: boolean;
  /** Overrides the kind's default quota. */
  quotaBytes?: number | null;
  title?: string | null;
  phone?: string | null;
  /** Domain for a generated address (default: the first configured domain). */
  domain?: string | null;
}

export interface AddAccountOptions {
  ref?: string | null;
  /** A generated one-time password already hashed (the import hashes outside its transaction); replaces input.password. */
  prehashed?: { password: string; hash: string } | null;
}

export interface AddAccountResult {
  account: Account;
  /** The password to hand over, when it was generated here (null when the admin gave one). */
  oneTimePassword: string | null;
}

export interface SetPasswordResult extends AddAccountResult {
  /** App passwords the reset revoked (all the account had). */
  appPasswordsRevoked: number;
}

export interface AddUnitInput {
  name: string;
  code?: string | null;
  /** Parent unit code or address. */
  parent?: string | null;
  staff?: number | null;
  /** The unit's postal address (R-DIR-1). */
  postalAddress?: string | null;
}

/** A unit's changeable fields; absent = unchanged, null = cleared (the name cannot be). */
export interface UpdateUnitInput {
  name?: string;
  staff?: number | null;
  postalAddress?: string | null;
}

export interface AccountView extends Account {
  /** The quota in force: the account's own, else the config default for its kind. */
  effectiveQuotaBytes: number;
  unitAddress: string | null;
}

/** An app password as an administrator sees it: never its hash. */
export interface AppPasswordInfo {
  id: number;
  label: string;
  createdAt: Date;
  lastUsedAt: Date | null;
}

export interface TwoFactorEnrolment {
  account: Account;
  /** Base32, for typing into an authenticator app. */
  secret: string;
  /** otpauth://totp/… for a QR code; the issuer is the account's domain. */
  uri: string;
  /** true when a secret was already set and has been replaced (--reset). */
  replaced: boolean;
}

export interface NewAppPassword {
  account: Account;
  appPassword: AppPasswordInfo;
  /** Shown once, grouped for reading ("abcd efgh ijkl mnop"); only its hash is stored. */
  secret: string;
}

export interface AccountService {
  /** R-ADDR-3/4: the address the naming rule gives for a name in a unit, numbered if taken. */
  suggestAddress(fullName: string, unit: string, domain?: string | null): Promise<string>;
  addAccount(input: AddAccountInput, actor: Actor, opts?: AddAccountOptions): Promise<AddAccountResult>;
  /**
   * Reset a password: given (checked against R-AUTH-1) or generated (returned). Must change at
   * next sign-in unless forceChange is false. Every app password of the account is revoked in
   * the same transaction; the audit entry's details carry how many (appPasswordsRevoked).
   */
  setPassword(address: string, password: string | null, actor: Actor, opts?: { ref?: string | null; forceChange?: boolean }): Promise<SetPasswordResult>;
  /** R-ACC-3: cannot sign in, still receives mail. Refused (IN_USE) for the last active system administrator. */
  suspend(address: string, reason: string, actor: Actor, ref?: string | null): Promise<Account>;
  /** R-ACC-4. */
  restore(address: string, actor: Actor, ref?: string | null): Promise<Account>;
  /**
   * R-ACC-5: state 'deleted' with reason, date and reference; the address is never reissued.
   * The mail stays (for a handover or an inquiry) unless `purge`: then the mailboxes, app
   * passwords, second factor, phone and delegations go in the same transaction ("removed
   * completely", NB Đ7.1). With `purge`, an account already deleted has its mail purged.
   */
  delete(address: string, reason: string, actor: Actor, ref?: string | null, opts?: { purge?: boolean }): Promise<Account>;
  /** null = back to the kind's default. */
  setQuota(address: string, quotaBytes: number | null, actor: Actor, ref?: string | null): Promise<Account>;
  getAccount(address: string, actor: Actor): Promise<AccountView>;

  /**
   * R-AUTH-3: a new TOTP secret for the account; from then on IMAP, POP3 and SMTP take only app
   * passwords. Refused (ALREADY_EXISTS) when two-factor sign-in is already on, unless reset
   * (a lost phone): then the old secret stops working.
   */
  enableTwoFactor(address: string, actor: Actor, opts?: { reset?: boolean; ref?: string | null }): Promise<TwoFactorEnrolment>;
  /**
   * Two-factor sign-in by SMS codes to the account's phone (R-AUTH-3; NA: OTP by SMS), with the
   * phone number given or the one on file; needs sms.command. Refused while an authenticator app
   * is on (turn it off first); audited like enableTwoFactor.
   */
  enableSmsTwoFactor(address: string, actor: Actor, opts?: { phone?: string | null; ref?: string | null }): Promise<Account>;
  /** Back to the password alone (an authenticator app and SMS codes alike); the reason is audited. App passwords stay. */
  disableTwoFactor(address: string, reason: string, actor: Actor, ref?: string | null): Promise<Account>;
  /** A per-device password for a mail program; the audit names its label, never the secret. */
  addAppPassword(address: string, label: string, actor: Actor, ref?: string | null): Promise<NewAppPassword>;
  listAppPasswords(address: string, actor: Actor): Promise<AppPasswordInfo[]>;
  /**
   * The account's sign-in history (R-AUTH-5), newest first: for an incident, and for a unit
   * mailbox — whose own password nobody knows — which delegate opened it when. `ok`: only
   * successes (true) or refusals (false). Read under the R-ACC-7 reading rule.
   */
  listSignIns(address: string, actor: Actor, opts?: { ok?: boolean; limit?: number }): Promise<SignInRecord[]>;
  /** New sign-ins with the app password fail at once (sessions already open are not ended); NOT_FOUND for an id the account does not have. */
  removeAppPassword(address: string, id: number, actor: Actor, ref?: string | null): Promise<{ account: Account; appPassword: AppPasswordInfo }>;

  listAccounts(filter: { unit?: string | null; state?: AccountState | null; domain?: string | null }, actor: Actor): Promise<AccountView[]>;

  /**
   * R-ADDR-5 / R-DIR-1 directory lookup: accounts (not deleted) whose name, folded, contains the
   * text, or whose address starts with it; with full name, title and unit so namesakes can be told apart.
   */
  findPeople(text: string): Promise<AccountView[]>;

  /**
   * R-DIR-1 directory export (accounts/directory.ts): the unit tree and each unit's people. A
   * system administrator gets every unit, or with `unit` that unit and its sub-units (NOT_FOUND
   * for an unknown one); a unit administrator its own unit only (another unit is refused as by
   * listAccounts, whose rights apply); anyone else is refused.
   */
  directory(filter: { unit?: string | null }, actor: Actor): Promise<Directory>;
  /**
   * R-OPS-2: the yearly report on the use of official e-mail (NA Phụ lục 2) for the units the
   * actor may read — a system administrator every unit (or `unit` and its sub-units), a unit
   * administrator its own unit; `year` defaults to the report due next.
   */
  usageReport(filter: { unit?: string | null; year?: number | null; regularDays?: number | null }, actor: Actor): Promise<UsageReport>;
  /**
   * R-OPS-2: the quarterly operations report (NA Đ10.2.e) of a calendar quarter, Vietnam time
   * ("2026-Q3"; default the last quarter that has ended). The whole system's: system
   * administrators only.
   */
  operationsReport(filter: { quarter?: string | null }, actor: Actor): Promise<OperationsReport>;

  addUnit(input: AddUnitInput, actor: Actor, ref?: string | null): Promise<Unit>;
  /** Rename a unit, or set its staff count or postal address (system administrators; audited `unit.update`). */
  updateUnit(codeOrAddress: string, input: UpdateUnitInput, actor: Actor, ref?: string | null): Promise<Unit>;
  getUnit(codeOrAddress: string): Promise<Unit>;
  /** Find a unit by code, address or (folded) name; ambiguous names are INVALID_INPUT. */
  findUnit(codeOrName: string): Promise<Unit>;
  listUnits(): Promise<Unit[]>;

  addDomain(name: string, actor: Actor, ref?: string | null): Promise<Domain>;
  listDomains(): Promise<Domain[]>;
  /** Refused (IN_USE) while accounts live in the domain. */
  removeDomain(name: string, actor: Actor, ref?: string | null): Promise<void>;

  /** R-ACC-6: let an account open and send as a unit mailbox (no password shared). */
  delegate(unitAddress: string, clerkAddress: string, actor: Actor, ref?: string | null): Promise<void>;
  undelegate(unitAddress: string, clerkAddress: string, actor: Actor, ref?: string | null): Promise<void>;
  /**
   * R-ACC-6: the unit mailbox passes from one clerk to the next in one step, without a password
   * changing hands — the old clerk's delegation ends, the new one's begins (the new clerk opens
   * the mailbox with its own credentials: `signInName`, or SASL's authorization identity), and
   * the mailbox's own password is reset to a random one nobody is told, with its app passwords
   * revoked, so what the old clerk knew opens nothing any more (open sessions on it end too).
   */
  handover(
    unitAddress: string,
    fromAddress: string,
    toAddress: string,
    actor: Actor,
    ref?: string | null,
  ): Promise<{ unit: Account; clerk: Account; signInName: string; appPasswordsRevoked: number }>;

  /** The same service working inside a store transaction (store.batch). */
  withStore(store: Store): AccountService;
}

const ADDRESS = /^[a-z0-9]+([._-][a-z0-9]+)*@([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

/** Longest full name, title and phone number kept (a form's fields, not documents). */
const MAX_NAME_CHARS = 100;
const MAX_TITLE_CHARS = 200;
const MAX_UNIT_NAME_CHARS = 200;
const MAX_PHONE_CHARS = 30;
const MAX_POSTAL_ADDRESS_CHARS = 300;
/** Times an address from the naming rule is suggested again when a namesake took it meanwhile. */
const NAMESAKE_RETRIES = 5;

/**
 * Local parts that receive mail about the whole domain: RFC 2142's role mailboxes, the bounce
 * sender and root. Only administrator accounts (kind admin, made by a system administrator) may
 * hold them: as a unit's personal account, that unit's administrator could reset its password
 * and read the domain's postmaster or abuse mail (R-ACC-7).
 */
const RESERVED_LOCAL_PARTS: ReadonlySet<string> = new Set(['postmaster', 'abuse', 'hostmaster', 'webmaster', 'security', 'noc', 'mailer-daemon', 'root']);

/**
 * A person's or unit's name as kept: NFC (TCVN 6909: Vietnamese is stored precomposed, so a name
 * typed in decomposed form matches and sorts with the rest), white space collapsed, at most
 * MAX_NAME_CHARS, and only letters, digits, spaces and . ' - ( ) , — no control characters and
 * nothing a spreadsheet or a mail header would read as something else (= + @ | < > …).
 */
export function cleanName(raw: string, what: { vi: string; en: string } = { vi: 'Họ tên', en: 'the full name' }): string {
  const name = raw.normalize('NFC').trim().replace(/\s+/g, ' ');
  if (name === '') throw new MailError('INVALID_INPUT', bi(`Thiếu ${what.vi.toLowerCase()}`, `${what.en} is missing`));
  if ([...name].length > MAX_NAME_CHARS) {
    throw new MailError('INVALID_INPUT', bi(`${what.vi} dài quá ${MAX_NAME_CHARS} ký tự`, `${what.en} is longer than ${MAX_NAME_CHARS} characters`));
  }
  if (!/^[\p{L}\p{M}\p{N} .'’(),-]+$/u.test(name)) {
    throw new MailError(
      'INVALID_INPUT',
      bi(`${what.vi} chỉ gồm chữ, số, dấu cách và . ' - ( ) ,`, `${what.en} may hold only letters, digits, spaces and . ' - ( ) ,`),
    );
  }
  return name;
}

/** An optional free-text field (title, phone): NFC, one line, harmless invisible characters dropped, no control or bidirectional characters, bounded. */
function cleanText(raw: string | null | undefined, max: number, vi: string, en: string): string | null {
  if (raw === null || raw === undefined) return null;
  // Pasted from Word or Excel: soft hyphens and zero-width characters are dropped, not refused.
  const v = dropInvisible(raw.normalize('NFC')).trim().replace(/\s+/g, ' ');
  if (v === '') return null;
  const bidi = bidiControlIn(v);
  if (bidi) {
    throw new MailError('INVALID_INPUT', bi(`${vi} chứa ký tự điều khiển hướng chữ ${bidi} (không nhìn thấy): hãy gõ lại`, `${en} holds the invisible text-direction control ${bidi}: type it again`));
  }
  if (/\p{Cc}/u.test(v) || [...v].length > max) {
    throw new MailError('INVALID_INPUT', bi(`${vi}: tối đa ${max} ký tự, không có ký tự điều khiển`, `${en}: at most ${max} characters, no control characters`));
  }
  return v;
}

/** A unit's name as cleanText reads free text (a unit's name may hold & / – and the like), required. */
function unitName(raw: string): string {
  const name = cleanText(raw, MAX_UNIT_NAME_CHARS, 'Tên đơn vị', 'the unit name');
  if (name === null) throw new MailError('INVALID_INPUT', bi('Thiếu tên đơn vị', 'the unit name is missing'));
  return name;
}

/** A unit's staff count (reports): absent or null, or a whole number. */
function checkStaff(staff: number | null | undefined): void {
  if (staff !== undefined && staff !== null && (!Number.isInteger(staff) || staff < 0)) {
    throw new MailError('INVALID_INPUT', bi('Số cán bộ phải là số nguyên không âm', 'the staff count must be a whole number'));
  }
}

/** RFC 5321 §4.5.3.1: a local part of at most 64 octets, a path of at most 256 (254 for the address). */
function checkAddressLength(address: string): void {
  const local = address.slice(0, address.lastIndexOf('@'));
  if (Buffer.byteLength(local) > 64 || Buffer.byteLength(address) > 254) {
    throw new MailError('INVALID_INPUT', bi(`Địa chỉ ${address.slice(0, 80)}… quá dài (phần trước @ tối đa 64 ký tự)`, `the address ${address.slice(0, 80)}… is too long (at most 64 characters before the @)`));
  }
}

function notFound(vi: string, en: string): MailError {
  return new MailError('NOT_FOUND', bi(vi, en));
}

/** R-STORE-1: at least 2 GB per personal (and admin) account, 10 GB per unit account; more is fine. */
function checkQuotaFloor(kind: AccountKind, quotaBytes: number | null): void {
  if (quotaBytes === null) return;
  const floor = kind === 'unit' ? QUOTA_FLOOR_BYTES.unit : QUOTA_FLOOR_BYTES.personal;
  if (quotaBytes < floor) {
    const gb = floor / 1024 ** 3;
    throw new MailError('INVALID_INPUT', bi(`Dung lượng tối thiểu theo quy định là ${gb} GB (R-STORE-1)`, `the regulation's minimum quota is ${gb} GB (R-STORE-1)`));
  }
}

/** A deleted account keeps its address reserved and its audit trail, and takes no more changes. */
function refuseDeleted(account: Account): void {
  if (account.state === 'deleted') throw new MailError('INVALID_INPUT', bi(`Tài khoản ${account.address} đã bị xóa`, `the account ${account.address} is deleted`));
}

function appPasswordInfo(a: AppPassword): AppPasswordInfo {
  return { id: a.id, label: a.label, createdAt: a.createdAt, lastUsedAt: a.lastUsedAt };
}

export function createAccountService(deps: AccountServiceDeps): AccountService {
  const { store, config, clock, log } = deps;

  const primaryDomain = (): string => config.domains[0] ?? 'example.gov.vn';

  async function view(a: Account, units?: Map<number, Unit>): Promise<AccountView> {
    const unit = a.unitId === null ? null : (units?.get(a.unitId) ?? (await store.getUnit(a.unitId)));
    return { ...a, effectiveQuotaBytes: effectiveQuotaBytes(a, config.quota), unitAddress: unit?.address ?? null };
  }

  function requireAdmin(actor: Actor, vi: string, en: string): void {
    if (actor.role !== 'super') {
      throw new MailError('PERMISSION_DENIED', bi(`Chỉ quản trị hệ thống được ${vi}`, `only a system administrator may ${en}`));
    }
  }

  function outsideUnit(account: Account): MailError {
    return new MailError(
      'PERMISSION_DENIED',
      bi(`Không có quyền với tài khoản ${account.address} (ngoài đơn vị quản lý)`, `no permission on ${account.address} (outside the unit you administer)`),
    );
  }

  /** R-ACC-7 reading: super reads anything; a unit admin its own unit's accounts (never admins above it). */
  function requireReadOn(actor: Actor, account: Account): void {
    if (actor.role === 'super') return;
    if (actor.role === 'unit' && actor.unitId !== null && account.unitId === actor.unitId && account.role !== 'super') return;
    throw outsideUnit(account);
  }

  /**
   * R-ACC-7 changing: super changes anything; a unit admin only its own unit's personal accounts
   * with no administrator role: not itself, not a fellow administrator, not the unit mailbox.
   */
  function requireOnAccount(actor: Actor, account: Account): void {
    if (actor.role === 'super') return;
    if (actor.role !== 'unit' || actor.unitId === null || account.unitId !== actor.unitId) throw outsideUnit(account);
    if (actor.name === account.address) {
      throw new MailError(
        'PERMISSION_DENIED',
        bi(
          `Quản trị viên đơn vị không tự thay đổi tài khoản của mình (${account.address}); hãy dùng trang cá nhân /portal hoặc nhờ quản trị hệ thống`,
          `a unit administrator may not change its own account (${account.address}); use /portal or ask the system administrator`,
        ),
      );
    }
    if (account.kind === 'unit') {
      throw new MailError(
        'PERMISSION_DENIED',
        bi(
          `${account.address} là hộp thư đơn vị: không dùng mật khẩu chung, văn thư truy cập qua ủy quyền (R-ACC-6); chỉ quản trị hệ thống được thay đổi`,
          `${account.address} is a unit mailbox: its access passes by delegation (R-ACC-6), never by a shared password; only a system administrator may change it`,
        ),
      );
    }
    if (account.role !== 'none' || account.kind !== 'personal') {
      throw new MailError(
        'PERMISSION_DENIED',
        bi(
          `${account.address} là tài khoản quản trị; chỉ quản trị hệ thống được thay đổi`,
          `${account.address} is an administrator account; only a system administrator may change it`,
        ),
      );
    }
  }

  /** Refused (IN_USE) when the account is the last active system administrator. */
  async function refuseLastSuper(tx: Store, account: Account, vi: string, en: string): Promise<void> {
    if (account.role !== 'super') return;
    const others = (await tx.listAccounts({ state: 'active' })).filter((a) => a.role === 'super' && a.id !== account.id);
    if (others.length === 0) throw new MailError('IN_USE', bi(`Không thể ${vi} quản trị hệ thống cuối cùng còn hoạt động`, `cannot ${en} the last active system administrator`));
  }

  /**
   * Suspend or delete, with the last-active-super-administrator check in the same transaction:
   * two system administrators doing it to each other cannot both win.
   */
  function endState(account: Account, state: 'suspended' | 'deleted', reason: string, ref: string | null, actor: Actor): Promise<Account> {
    const [vi, en, action] = state === 'suspended' ? ['tạm khóa', 'suspend', 'account.suspend'] : ['xóa', 'delete', 'account.delete'];
    return store.batch(async (tx) => {
      await refuseLastSuper(tx, account, vi, en);
      return tx.updateAccount(
        account.id,
        { state, stateReason: reason, stateChangedAt: clock.now(), stateRef: ref },
        { actor: actor.name, action, target: account.address, ref, details: { reason } },
      );
    });
  }

  /** The account as it is now, inside a transaction (it may have changed since it was read). */
  async function reread(tx: Store, account: Account): Promise<Account> {
    const now = await tx.getAccount(account.id);
    if (now === null) throw notFound(`Không có tài khoản ${account.address}`, `no account ${account.address}`);
    return now;
  }

  function normalizeAddress(input: string, domain?: string | null): string {
    const a = input.trim().toLowerCase();
    const full = a.includes('@') ? a : `${a}@${domain ?? primaryDomain()}`;
    if (!ADDRESS.test(full)) {
      throw new MailError('INVALID_INPUT', bi(`Địa chỉ "${input}" không hợp lệ`, `"${input}" is not a valid address`));
    }
    return full;
  }

  async function requireServedDomain(domain: string): Promise<void> {
    const domains = await store.listDomains();
    if (!domains.some((d) => d.name === domain)) {
      throw notFound(`Tên miền ${domain} không do máy chủ này phục vụ`, `the domain ${domain} is not served here`);
    }
  }

  /** A unit by its address, else by its code when only one unit has it. */
  async function getUnit(codeOrAddress: string): Promise<Unit> {
    const key = codeOrAddress.trim().toLowerCase();
    const unit = key === '' ? null : await store.getUnitByCode(key);
    if (!unit) throw notFound(`Không có đơn vị "${codeOrAddress}"`, `no unit "${codeOrAddress}"`);
    if (unit.address === key) return unit;
    const same = (await store.listUnits()).filter((u) => u.code === key);
    if (same.length > 1) {
      const list = same.map((u) => u.address).join(', ');
      throw new MailError('INVALID_INPUT', bi(`Mã "${key}" có ở nhiều đơn vị (${list}): hãy ghi địa chỉ đơn vị`, `the code "${key}" belongs to several units (${list}): give the unit address`));
    }
    return unit;
  }

  async function findUnit(codeOrName: string): Promise<Unit> {
    try {
      return await getUnit(codeOrName);
    } catch (e) {
      if (!isMailError(e, 'NOT_FOUND')) throw e;
    }
    const folded = foldName(codeOrName);
    const matches = (await store.listUnits()).filter((u) => foldName(u.name) === folded || u.address === folded);
    if (matches.length === 1 && matches[0]) return matches[0];
    if (matches.length > 1) {
      throw new MailError(
        'INVALID_INPUT',
        bi(
          `Có ${matches.length} đơn vị tên "${codeOrName.trim()}" (${matches.map((u) => u.address).join(', ')}): hãy ghi mã`,
          `${matches.length} units are named "${codeOrName.trim()}" (${matches.map((u) => u.address).join(', ')}): give the code`,
        ),
      );
    }
    throw notFound(`Không có đơn vị "${codeOrName.trim()}"`, `no unit "${codeOrName.trim()}"`);
  }

  async function accountByAddress(address: string): Promise<Account> {
    const full = normalizeAddress(address);
    const a = await store.getAccountByAddress(full);
    if (!a) throw notFound(`Không có tài khoản ${full}`, `no account ${full}`);
    return a;
  }

  /** Is this local part a unit's address (kept for its unit mailbox)? */
  async function isUnitAddress(local: string): Promise<boolean> {
    return (await store.getUnitByCode(local))?.address === local;
  }

  async function suggestIn(fullName: string, unit: Unit | null, domain: string): Promise<string> {
    const template = config.naming.personalTemplate;
    const base = personalLocalPart(fullName, template, unit?.address);
    for (let n = 1; n < 10_000; n++) {
      const local = numbered(base, n, template);
      const candidate = `${local}@${domain}`;
      // A unit's address stays free for its unit mailbox (R-ADDR-1) even before that mailbox exists.
      if (!RESERVED_LOCAL_PARTS.has(local) && !(await store.addressTaken(candidate)) && !(await isUnitAddress(local))) return candidate;
    }
    throw new MailError('LIMIT_EXCEEDED', bi(`Quá nhiều người trùng tên ${base}`, `too many namesakes for ${base}`));
  }

  async function hashed(
    password: string | null | undefined,
    admin: boolean,
    prehashed?: { password: string; hash: string } | null,
    kind: Account['kind'] = 'personal',
  ): Promise<{ hash: string; oneTime: string | null }> {
    // R-ACC-6: nobody knows a unit mailbox's own password (its delegates open it with theirs, as
    // UNIT*CLERK, and sign-in refuses its own): a random one, shown to nobody.
    if (kind === 'unit') {
      if (password !== null && password !== undefined) {
        throw new MailError(
          'INVALID_INPUT',
          bi(
            'Hộp thư đơn vị không có mật khẩu riêng: người được ủy quyền (account delegate) mở nó bằng mật khẩu của chính mình; bỏ --password',
            'a unit mailbox has no password of its own: its delegates (account delegate) open it with their own; leave out --password',
          ),
        );
      }
      return { hash: await hashPassword(generatePassword(config.passwords, admin)), oneTime: null };
    }
    // A pre-hashed one-time password (request-form import) takes the place of a given one.
    if (prehashed) return { hash: prehashed.hash, oneTime: prehashed.password };
    if (password !== null && password !== undefined) {
      assertStrongPassword(password, config.passwords, admin);
      return { hash: await hashPassword(password), oneTime: null };
    }
    const generated = generatePassword(config.passwords, admin);
    return { hash: await hashPassword(generated), oneTime: generated };
  }

  /** An administrator changed how the account signs in: the hook hears of it; failures are only logged. */
  function changed(account: Account, change: SecurityChange): void {
    const info = { at: clock.now(), ip: null, change };
    void Promise.resolve()
      .then(() => deps.onSecurityChange?.(account, info))
      .catch((e: unknown) => log.error({ err: e, address: account.address }, 'could not report a security change'));
  }

  /**
   * An administrator's password reset inside a transaction: the new hash (made before it: argon2
   * is slow), every app password revoked, and the audit entry, together; the account re-read
   * first (a deleted one takes no reset). Shared by `account passwd` and the unit handover.
   */
  async function resetPasswordIn(
    tx: Store,
    account: Account,
    hash: string,
    forceChange: boolean,
    actor: Actor,
    ref: string | null,
    details: Record<string, unknown>,
  ): Promise<{ account: Account; appPasswordsRevoked: number }> {
    refuseDeleted(await reread(tx, account));
    const revoked = await tx.listAppPasswords(account.id);
    for (const p of revoked) await tx.removeAppPassword(account.id, p.id);
    const updated = await tx.updateAccount(
      account.id,
      { passwordHash: hash, mustChangePassword: forceChange, passwordChangedAt: clock.now() },
      { actor: actor.name, action: 'account.passwd', target: account.address, ref, details: { appPasswordsRevoked: revoked.length, ...details } },
    );
    if (revoked.length > 0) log.info({ address: account.address, appPasswords: revoked.length, actor: actor.name }, 'password reset: app passwords revoked');
    return { account: updated, appPasswordsRevoked: revoked.length };
  }

  /**
   * An account an actor may change the sign-in of (R-ACC-7), not deleted. `grants`: the change
   * hands someone a way in (a password, an app password, a second factor or its phone) or takes a
   * second factor away. A unit
   * mailbox's clerk opens that mailbox with its own credentials (R-ACC-6), so a unit
   * administrator — who may not touch unit mailboxes — may not hand out the clerk's either.
   */
  async function changeableAccount(address: string, actor: Actor, grants = false): Promise<Account> {
    const account = await accountByAddress(address);
    requireOnAccount(actor, account);
    refuseDeleted(account);
    if (grants && actor.role !== 'super') {
      const units = await store.listDelegatedTo(account.id);
      if (units.length > 0) {
        const list = units.map((u) => u.address).join(', ');
        throw new MailError(
          'PERMISSION_DENIED',
          bi(
            `${account.address} được ủy quyền hộp thư đơn vị ${list}: mật khẩu và mã của tài khoản này mở cả hộp thư đó, chỉ quản trị hệ thống được đặt lại`,
            `${account.address} is a delegate of the unit mailbox ${list}: its credentials open that mailbox too, so only a system administrator may reset them`,
          ),
        );
      }
    }
    return account;
  }

  const service: AccountService = {
    async suggestAddress(fullName, unitCodeOrAddress, domain) {
      const unit = await getUnit(unitCodeOrAddress);
      return suggestIn(fullName, unit, domain ?? primaryDomain());
    },

    async addAccount(input, actor, opts = {}) {
      requireAdmin(actor, 'tạo tài khoản', 'create accounts');
      const kind: AccountKind = input.kind ?? 'personal';
      const role: AdminRole = input.role ?? 'none';
      const fullName = cleanName(input.fullName);
      const title = cleanText(input.title, MAX_TITLE_CHARS, 'Chức danh', 'the title');
      // Outlook and contact cards wrap a copied number in direction marks: in a phone number every invisible character goes.
      const phone = cleanText(input.phone?.replace(/\p{Cf}/gu, ''), MAX_PHONE_CHARS, 'Số điện thoại', 'the phone number');
      let unit: Unit | null = null;
      if (input.unit !== undefined && input.unit !== null && input.unit.trim() !== '') unit = await getUnit(input.unit);
      else if (kind !== 'admin') throw new MailError('INVALID_INPUT', bi('Thiếu đơn vị (--org)', 'the unit is missing (--org)'));
      if (role === 'unit' && unit === null) {
        throw new MailError('INVALID_INPUT', bi('Quản trị đơn vị phải thuộc một đơn vị', 'a unit administrator needs a unit'));
      }

      let address: string;
      /** The address comes from the naming rule: a namesake taking it meanwhile moves this one to the next number. */
      let suggested = false;
      if (input.address !== undefined && input.address !== null && input.address.trim() !== '') {
        address = normalizeAddress(input.address, input.domain);
      } else if (kind === 'unit') {
        if (!unit) throw new MailError('INVALID_INPUT', bi('Thiếu đơn vị', 'the unit is missing'));
        address = `${unit.address}@${input.domain ?? primaryDomain()}`;
      } else {
        address = await suggestIn(fullName, unit, input.domain ?? primaryDomain());
        suggested = true;
      }
      checkAddressLength(address);
      await requireServedDomain(address.split('@')[1] ?? '');
      const local = address.split('@')[0] ?? '';
      if (kind !== 'unit' && (await isUnitAddress(local))) {
        throw new MailError('ALREADY_EXISTS', bi(`Địa chỉ ${address} dành cho hộp thư đơn vị ${local}`, `the address ${address} is reserved for the unit mailbox of ${local}`));
      }
      if (kind !== 'admin' && RESERVED_LOCAL_PARTS.has(local)) {
        throw new MailError(
          'INVALID_INPUT',
          bi(
            `Địa chỉ ${address} nhận thư về cả tên miền (RFC 2142): chỉ là tài khoản quản trị (--kind admin) do quản trị hệ thống tạo`,
            `the address ${address} receives mail about the whole domain (RFC 2142): it can only be an administrator account (--kind admin), made by a system administrator`,
          ),
        );
      }
      if (kind === 'unit') {
        // R-ADDR-1: a unit mailbox is at its unit's address, and it is nobody's administrator account.
        if (unit && local !== unit.address) {
          throw new MailError(
            'INVALID_INPUT',
            bi(`Hộp thư của đơn vị ${unit.code} có địa chỉ ${unit.address}@…, không phải ${address}`, `the unit mailbox of ${unit.code} is at ${unit.address}@…, not ${address}`),
          );
        }
        if (role !== 'none') {
          throw new MailError('INVALID_INPUT', bi('Hộp thư đơn vị không mang quyền quản trị (--role none)', 'a unit mailbox has no administrator role (--role none)'));
        }
      }
      if (await store.addressTaken(address)) {
        throw new MailError('ALREADY_EXISTS', bi(`Địa chỉ ${address} đã có người dùng`, `the address ${address} is already taken`));
      }

      const admin = kind === 'admin' || role !== 'none';
      const { hash, oneTime } = await hashed(input.password, admin, opts.prehashed, kind);
      const forceChange = input.forceChange ?? true;
      const quotaBytes = input.quotaBytes ?? null;
      checkQuotaFloor(kind, quotaBytes);
      const create = (at: string): Promise<Account> =>
        store.createAccount(
          {
            address: at,
            kind,
            role,
            fullName,
            title,
            phone,
            unitId: unit?.id ?? null,
            quotaBytes,
            passwordHash: hash,
            mustChangePassword: forceChange,
          },
          {
            actor: actor.name,
            action: 'account.add',
            target: at,
            ref: opts.ref ?? null,
            details: { kind, role, unit: unit?.address ?? null, quotaBytes, ...(forceChange ? {} : { noForceChange: true }) },
          },
        );
      let account: Account;
      for (let attempt = 1; ; attempt++) {
        try {
          account = await create(address);
          break;
        } catch (e) {
          // Two namesakes added at once (two administrators, two imports) are both given the same
          // suggestion while their passwords hash; the one that commits second takes the next number.
          if (!suggested || attempt >= NAMESAKE_RETRIES || !isMailError(e, 'ALREADY_EXISTS')) throw e;
          address = await suggestIn(fullName, unit, input.domain ?? primaryDomain());
          checkAddressLength(address);
        }
      }
      log.info({ address, kind, role, actor: actor.name }, 'account created');
      return { account, oneTimePassword: oneTime };
    },

    async setPassword(address, password, actor, opts = {}) {
      const account = await changeableAccount(address, actor, true);
      const admin = account.kind === 'admin' || account.role !== 'none';
      // argon2 is slow on purpose: hash before the transaction.
      const { hash, oneTime } = await hashed(password, admin, null, account.kind);
      const forceChange = opts.forceChange ?? true;
      const reset = await store.batch((tx) => resetPasswordIn(tx, account, hash, forceChange, actor, opts.ref ?? null, forceChange ? {} : { noForceChange: true }));
      changed(reset.account, { kind: 'password-reset', by: actor.name, appPasswordsRevoked: reset.appPasswordsRevoked });
      return { ...reset, oneTimePassword: oneTime };
    },

    async suspend(address, reason, actor, ref = null) {
      const account = await changeableAccount(address, actor);
      if (account.state === 'suspended') throw new MailError('INVALID_INPUT', bi(`Tài khoản ${account.address} đã tạm khóa`, `the account ${account.address} is already suspended`));
      return endState(account, 'suspended', reason, ref, actor);
    },

    async restore(address, actor, ref = null) {
      requireAdmin(actor, 'khôi phục tài khoản', 'restore accounts');
      const found = await accountByAddress(address);
      // Checked inside the transaction that writes: the lifecycle job may delete and purge the
      // account between a read here and the write, and a deleted account must stay deleted.
      return store.batch(async (tx) => {
        const account = await reread(tx, found);
        if (account.state !== 'suspended') {
          throw new MailError('INVALID_INPUT', bi(`Tài khoản ${account.address} không ở trạng thái tạm khóa`, `the account ${account.address} is not suspended`));
        }
        return tx.updateAccount(
          account.id,
          { state: 'active', stateReason: null, stateChangedAt: clock.now(), stateRef: ref },
          { actor: actor.name, action: 'account.restore', target: account.address, ref },
        );
      });
    },

    async delete(address, reason, actor, ref = null, opts = {}) {
      requireAdmin(actor, 'xóa tài khoản', 'delete accounts');
      const found = await accountByAddress(address);
      if (!opts.purge) {
        if (found.state === 'deleted') throw new MailError('INVALID_INPUT', bi(`Tài khoản ${found.address} đã bị xóa`, `the account ${found.address} is already deleted`));
        return endState(found, 'deleted', reason, ref, actor);
      }
      return store.batch(async (tx) => {
        let account = await reread(tx, found);
        if (account.state !== 'deleted') {
          await refuseLastSuper(tx, account, 'xóa', 'delete');
          account = await tx.updateAccount(
            account.id,
            { state: 'deleted', stateReason: reason, stateChangedAt: clock.now(), stateRef: ref },
            { actor: actor.name, action: 'account.delete', target: account.address, ref, details: { reason } },
          );
        } else if ((await tx.listMailboxes(account.id)).length === 0) {
          throw new MailError('INVALID_INPUT', bi(`Thư của tài khoản ${account.address} đã được xóa hết`, `the mail of ${account.address} is already purged`));
        }
        await tx.purgeAccount(account.id, { actor: actor.name, action: 'account.purge', target: account.address, ref, details: { reason } });
        return account;
      });
    },

    async setQuota(address, quotaBytes, actor, ref = null) {
      requireAdmin(actor, 'đổi dung lượng', 'change quotas');
      const account = await accountByAddress(address);
      refuseDeleted(account);
      if (quotaBytes !== null && (!Number.isSafeInteger(quotaBytes) || quotaBytes <= 0)) {
        throw new MailError('INVALID_INPUT', bi('Dung lượng phải là số dương', 'the quota must be a positive size'));
      }
      checkQuotaFloor(account.kind, quotaBytes);
      return store.updateAccount(
        account.id,
        { quotaBytes },
        { actor: actor.name, action: 'account.quota', target: account.address, ref, details: { from: account.quotaBytes, to: quotaBytes } },
      );
    },

    async getAccount(address, actor) {
      const account = await accountByAddress(address);
      requireReadOn(actor, account);
      return view(account);
    },

    async enableTwoFactor(address, actor, opts = {}) {
      const account = await changeableAccount(address, actor, true);
      const secret = newTotpSecret();
      // Checked and written in one transaction: a user confirming enrolment at this moment is not overwritten unasked.
      const { updated, replaced } = await store.batch(async (tx) => {
        const now = await reread(tx, account);
        refuseDeleted(now);
        const had = now.totpSecret !== null;
        if (now.smsTwoFactor && now.totpSecret === null) {
          throw new MailError(
            'ALREADY_EXISTS',
            bi(
              `Tài khoản ${account.address} đang nhận mã qua SMS; tắt trước (account 2fa disable) rồi bật ứng dụng xác thực`,
              `${account.address} gets codes by SMS; turn that off first (account 2fa disable), then turn on an authenticator app`,
            ),
          );
        }
        if (had && !opts.reset) {
          throw new MailError(
            'ALREADY_EXISTS',
            bi(
              `Tài khoản ${account.address} đã bật xác thực hai lớp (cấp khóa mới: --reset)`,
              `two-factor sign-in is already on for ${account.address} (a new secret: --reset)`,
            ),
          );
        }
        const u = await tx.updateAccount(
          account.id,
          { totpSecret: secret },
          { actor: actor.name, action: 'account.2fa.enable', target: account.address, ref: opts.ref ?? null, details: had ? { reset: true } : {} },
        );
        return { updated: u, replaced: had };
      });
      log.info({ address: account.address, reset: replaced, actor: actor.name }, 'two-factor sign-in enabled');
      changed(updated, { kind: 'two-factor-on', by: actor.name });
      return { account: updated, secret, uri: totpUri(secret, account.address, account.domain), replaced };
    },

    async enableSmsTwoFactor(address, actor, opts = {}) {
      const account = await changeableAccount(address, actor, true);
      if (!config.sms.command) {
        throw new MailError(
          'INVALID_INPUT',
          bi('Máy chủ chưa cấu hình gửi SMS (sms.command): chưa bật được mã qua SMS', 'no SMS gateway is configured (sms.command): SMS codes cannot be turned on'),
        );
      }
      const given = opts.phone === undefined || opts.phone === null ? null : opts.phone.trim();
      const phone = normalizePhone(given ?? account.phone ?? '');
      if (phone === null) {
        throw new MailError(
          'INVALID_INPUT',
          given !== null
            ? bi(`"${given.slice(0, MAX_PHONE_CHARS)}" không phải số điện thoại di động (ví dụ 0912345678 hoặc +84912345678)`, `"${given.slice(0, MAX_PHONE_CHARS)}" is not a mobile number (e.g. 0912345678 or +84912345678)`)
            : bi(`Tài khoản ${account.address} chưa có số điện thoại hợp lệ: thêm --phone`, `${account.address} has no valid phone number on file: add --phone`),
        );
      }
      const updated = await store.batch(async (tx) => {
        const now = await reread(tx, account);
        refuseDeleted(now);
        if (now.totpSecret !== null) {
          throw new MailError(
            'ALREADY_EXISTS',
            bi(
              `Tài khoản ${account.address} đang dùng ứng dụng xác thực; tắt trước (account 2fa disable) rồi bật SMS`,
              `${account.address} uses an authenticator app; turn it off first (account 2fa disable), then turn on SMS`,
            ),
          );
        }
        const patch = { smsTwoFactor: true, ...(given !== null ? { phone } : {}) };
        return tx.updateAccount(account.id, patch, { actor: actor.name, action: 'account.2fa.enable', target: account.address, ref: opts.ref ?? null, details: { method: 'sms', phone: phoneTail(phone), ...(now.smsTwoFactor ? { again: true } : {}) } });
      });
      log.info({ address: account.address, actor: actor.name, method: 'sms' }, 'two-factor sign-in enabled');
      if (!account.smsTwoFactor) changed(updated, { kind: 'two-factor-on', by: actor.name });
      // Codes now go to another phone (a lost one): the user hears of it; codes sent to the old phone are void (auth).
      else if (normalizePhone(account.phone ?? '') !== phone) changed(updated, { kind: 'sms-phone-changed', phoneTail: phoneTail(phone), by: actor.name });
      return updated;
    },

    async disableTwoFactor(address, reason, actor, ref = null) {
      // Turning a delegate's second factor off weakens the unit mailbox's protection too.
      const account = await changeableAccount(address, actor, true);
      const why = reason.trim();
      if (why === '') throw new MailError('INVALID_INPUT', bi('Thiếu lý do', 'the reason is missing'));
      const updated = await store.batch(async (tx) => {
        const now = await reread(tx, account);
        const method = twoFactorMethod(now);
        if (method === null) {
          throw new MailError('INVALID_INPUT', bi(`Tài khoản ${account.address} chưa bật xác thực hai lớp`, `two-factor sign-in is not on for ${account.address}`));
        }
        return tx.updateAccount(account.id, { totpSecret: null, smsTwoFactor: false }, { actor: actor.name, action: 'account.2fa.disable', target: account.address, ref, details: { reason: why, method } });
      });
      log.info({ address: account.address, actor: actor.name }, 'two-factor sign-in disabled');
      changed(updated, { kind: 'two-factor-off', by: actor.name });
      return updated;
    },

    async addAppPassword(address, label, actor, ref = null) {
      const account = await changeableAccount(address, actor, true);
      const { secret, appPassword } = await createAppPassword(store, account.id, label, {
        audit: (added) => ({ actor: actor.name, action: 'account.app-password.add', target: account.address, ref, details: { id: added.id, label: added.label } }),
      });
      changed(account, { kind: 'app-password-added', label: appPassword.label, by: actor.name });
      return { account, appPassword: appPasswordInfo(appPassword), secret };
    },

    async listAppPasswords(address, actor) {
      const account = await accountByAddress(address);
      requireReadOn(actor, account);
      return (await store.listAppPasswords(account.id)).map(appPasswordInfo);
    },

    async listSignIns(address, actor, opts = {}) {
      const account = await accountByAddress(address);
      requireReadOn(actor, account);
      return store.listSignIns(account.id, opts);
    },

    async removeAppPassword(address, id, actor, ref = null) {
      const account = await changeableAccount(address, actor);
      const found = await revokeAppPassword(store, account.id, id, {
        audit: (p) => ({ actor: actor.name, action: 'account.app-password.remove', target: account.address, ref, details: { id, label: p.label } }),
      });
      if (!found) throw notFound(`Tài khoản ${account.address} không có mật khẩu ứng dụng số ${id}`, `${account.address} has no app password with id ${id}`);
      changed(account, { kind: 'app-password-removed', label: found.label, by: actor.name });
      return { account, appPassword: appPasswordInfo(found) };
    },

    async listAccounts(filter, actor) {
      let unitId: number | undefined;
      if (actor.role === 'unit') {
        // Checked before any lookup of the filter: another unit's code, a code no unit has and
        // a code several units share get the same refusal (no unit's existence is told).
        const own = actor.unitId === null ? null : await store.getUnit(actor.unitId);
        const key = (filter.unit ?? '').trim().toLowerCase();
        if (own === null || (key !== '' && key !== own.address && key !== own.code)) {
          throw new MailError('PERMISSION_DENIED', bi('Chỉ xem được tài khoản của đơn vị mình', 'you may list only your own unit’s accounts'));
        }
        unitId = own.id;
      } else if (actor.role === 'super') {
        if (filter.unit) unitId = (await getUnit(filter.unit)).id;
      } else {
        throw new MailError('PERMISSION_DENIED', bi('Không có quyền xem danh sách tài khoản', 'no permission to list accounts'));
      }
      const listed = await store.listAccounts({
        ...(unitId !== undefined ? { unitId } : {}),
        ...(filter.state ? { state: filter.state } : {}),
        ...(filter.domain ? { domain: filter.domain } : {}),
      });
      // A unit administrator never reads a system administrator's account, even one placed in its unit (requireReadOn).
      const accounts = actor.role === 'super' ? listed : listed.filter((a) => a.role !== 'super');
      const units = new Map((await store.listUnits()).map((u) => [u.id, u]));
      return Promise.all(accounts.map((a) => view(a, units)));
    },

    async findPeople(text) {
      const q = foldName(text);
      if (q === '') return [];
      const units = new Map((await store.listUnits()).map((u) => [u.id, u]));
      const hits = (await store.listAccounts()).filter(
        (a) => a.state !== 'deleted' && (foldName(a.fullName).includes(q) || a.address.startsWith(q.replace(/\s+/g, ''))),
      );
      return Promise.all(hits.map((a) => view(a, units)));
    },

    async directory(filter, actor) {
      const key = filter.unit?.trim() ? filter.unit.trim() : null;
      // Looked up first: an unknown unit is refused before any account is read.
      const root = actor.role === 'super' && key !== null ? await getUnit(key) : null;
      // listAccounts applies the rights: a unit administrator reads its own unit (and no system administrator), anyone else nothing.
      const accounts = await service.listAccounts(actor.role === 'unit' ? { unit: key } : {}, actor);
      const units = await store.listUnits();
      const own = actor.role === 'unit' ? (units.find((u) => u.id === actor.unitId) ?? null) : null;
      const d = buildDirectory({
        units,
        accounts,
        root: own ?? root,
        subUnits: actor.role === 'super',
        organization: config.organization.name,
        generatedAt: clock.now(),
      });
      // R-OPS-2 asks whether the directory was reviewed and published: exports are on record, once
      // a day per administrator and target (a portal fetching it every few minutes writes one row).
      const target = (own ?? root)?.address ?? '*';
      const subUnits = actor.role === 'super';
      const day = new Date(Math.floor((clock.now().getTime() + 7 * 3600_000) / 86_400_000) * 86_400_000 - 7 * 3600_000);
      const today = await store.listAudit({ action: 'directory.export', actor: actor.name, target, since: day, limit: 1 });
      if (today.length === 0) await store.audit({ actor: actor.name, action: 'directory.export', target, ref: null, details: { units: d.units.length, subUnits } });
      return d;
    },

    async usageReport(filter, actor) {
      const key = filter.unit?.trim() ? filter.unit.trim() : null;
      const now = clock.now();
      const year = filter.year ?? currentReportYear(now);
      if (!Number.isInteger(year) || year < 2000 || year > 2200) throw new MailError('INVALID_INPUT', bi(`Năm báo cáo ${year} không hợp lệ`, `${year} is not a report year`));
      const regularDays = filter.regularDays ?? 30;
      if (!Number.isInteger(regularDays) || regularDays < 1 || regularDays > 366) {
        throw new MailError('INVALID_INPUT', bi('Số ngày sử dụng thường xuyên phải từ 1 đến 366', 'the regular-use days must be from 1 to 366'));
      }
      const root = actor.role === 'super' && key !== null ? await getUnit(key) : null;
      const accounts = await service.listAccounts(actor.role === 'unit' ? { unit: key } : {}, actor);
      const allUnits = await store.listUnits();
      const own = actor.role === 'unit' ? (allUnits.find((u) => u.id === actor.unitId) ?? null) : null;
      // The units in the directory's order (tree order), from the same rights.
      const order = buildDirectory({ units: allUnits, accounts: [], root: own ?? root, subUnits: actor.role === 'super', organization: '', generatedAt: now }).units.map((u) => u.address);
      const byAddress = new Map(allUnits.map((u) => [u.address, u]));
      const units = order.map((a) => byAddress.get(a)).filter((u): u is Unit => u !== undefined);
      const period = reportPeriod(year, now);
      if (!period) throw new MailError('INVALID_INPUT', bi(`Kỳ báo cáo năm ${year} chưa bắt đầu`, `the report period of ${year} has not begun`));
      // Sign-ins are kept as long as the send log: a window older than that would read as nobody.
      const kept = new Date(now.getTime() - config.sendLog.retentionDays * 86_400_000);
      if (regularSince(period, regularDays) < kept) {
        throw new MailError(
          'INVALID_INPUT',
          bi(
            `Lịch sử đăng nhập chỉ được giữ ${config.sendLog.retentionDays} ngày (sendLog.retentionDays): không còn số liệu cho kỳ năm ${year}`,
            `sign-ins are kept only ${config.sendLog.retentionDays} days (sendLog.retentionDays): there are no figures left for ${year}`,
          ),
        );
      }
      const [signedIn, exports] = await Promise.all([
        store.accountsSignedIn(regularSince(period, regularDays), period.to),
        store.listAudit({ action: 'directory.export', since: period.from, limit: 100_000 }),
      ]);
      return buildUsageReport({
        organization: config.organization.name,
        period,
        regularDays,
        generatedAt: now,
        allUnits,
        units,
        accounts,
        signedIn,
        exports: exports.filter((e) => e.at < period.to).map((e) => ({ target: e.target, subUnits: e.details?.subUnits !== false, at: e.at })),
      });
    },

    async operationsReport(filter, actor) {
      requireAdmin(actor, 'lập báo cáo vận hành', 'make the operations report');
      const now = clock.now();
      const asked = filter.quarter?.trim() ? filter.quarter.trim() : null;
      const quarter = asked === null ? lastEndedQuarter(now) : parseQuarter(asked);
      if (quarter === null) {
        throw new MailError('INVALID_INPUT', bi(`Quý "${asked}" không hợp lệ (ví dụ 2026-Q3)`, `"${asked}" is not a quarter (for example 2026-Q3)`));
      }
      const period = quarterPeriod(quarter, now);
      if (!period) throw new MailError('INVALID_INPUT', bi(`Quý ${quarter.quarter} năm ${quarter.year} chưa bắt đầu`, `Q${quarter.quarter} ${quarter.year} has not begun`));
      // The send log and sign-ins are kept sendLog.retentionDays: a quarter older than that would read as a quiet one.
      const kept = new Date(now.getTime() - config.sendLog.retentionDays * 86_400_000);
      if (period.from < kept) {
        throw new MailError(
          'INVALID_INPUT',
          bi(
            `Nhật ký gửi nhận và đăng nhập chỉ được giữ ${config.sendLog.retentionDays} ngày (sendLog.retentionDays): không còn đủ số liệu cho quý ${quarter.quarter} năm ${quarter.year}`,
            `the send log and sign-ins are kept only ${config.sendLog.retentionDays} days (sendLog.retentionDays): the figures for Q${quarter.quarter} ${quarter.year} are no longer whole`,
          ),
        );
      }
      const tally = new MailTally();
      await store.scanSendLog(period.from, period.to, (row) => tally.add(row));
      const [summary, accounts, queue] = await Promise.all([store.operationsSummary(period.from, period.to), store.listAccounts({}), store.listQueue()]);
      return buildOperationsReport({
        organization: config.organization.name,
        hostname: config.organization.hostname,
        period,
        generatedAt: now,
        summary,
        mail: tally.result(),
        accounts,
        quota: config.quota,
        queue,
      });
    },

    async addUnit(input, actor, ref = null) {
      requireAdmin(actor, 'tạo đơn vị', 'create units');
      const name = unitName(input.name);
      const code = input.code ? normalizeUnitCode(input.code) : unitCode(name);
      const parent = input.parent ? await getUnit(input.parent) : null;
      const address = unitAddress(code, parent?.address ?? null, config.naming.subUnitJoinsParent);
      // Its unit mailbox will be at this address: not one of the domain's role addresses.
      if (RESERVED_LOCAL_PARTS.has(address)) {
        throw new MailError(
          'INVALID_INPUT',
          bi(`Mã đơn vị ${address} trùng địa chỉ dành cho quản trị tên miền (RFC 2142): hãy chọn mã khác (--code)`, `the unit code ${address} is a role address of the domain (RFC 2142): choose another code (--code)`),
        );
      }
      if ((await store.getUnitByCode(address))?.address === address) {
        throw new MailError('ALREADY_EXISTS', bi(`Đã có đơn vị với địa chỉ ${address}`, `a unit with the address ${address} already exists`));
      }
      const mailbox = `${address}@${primaryDomain()}`;
      if (await store.addressTaken(mailbox)) {
        throw new MailError('ALREADY_EXISTS', bi(`Địa chỉ ${mailbox} đã có người dùng; hãy chọn mã khác (--code)`, `the address ${mailbox} is taken; choose another code (--code)`));
      }
      checkStaff(input.staff);
      const postalAddress = cleanText(input.postalAddress, MAX_POSTAL_ADDRESS_CHARS, 'Địa chỉ đơn vị', 'the unit address');
      return store.addUnit(
        { code, address, name, parentId: parent?.id ?? null, staff: input.staff ?? null, postalAddress },
        { actor: actor.name, action: 'unit.add', target: address, ref, details: { name, parent: parent?.address ?? null } },
      );
    },

    async updateUnit(codeOrAddress, input, actor, ref = null) {
      requireAdmin(actor, 'sửa đơn vị', 'change units');
      const unit = await getUnit(codeOrAddress);
      const patch: UnitPatch = {};
      if (input.name !== undefined) {
        patch.name = unitName(input.name);
      }
      if (input.staff !== undefined) {
        checkStaff(input.staff);
        patch.staff = input.staff;
      }
      if (input.postalAddress !== undefined) patch.postalAddress = cleanText(input.postalAddress, MAX_POSTAL_ADDRESS_CHARS, 'Địa chỉ đơn vị', 'the unit address');
      if (Object.keys(patch).length === 0) throw new MailError('INVALID_INPUT', bi('Không có gì để thay đổi', 'nothing to change'));
      return store.updateUnit(unit.id, patch, { actor: actor.name, action: 'unit.update', target: unit.address, ref, details: { ...patch } });
    },

    getUnit,
    findUnit,
    listUnits: () => store.listUnits(),

    async addDomain(name, actor, ref = null) {
      requireAdmin(actor, 'thêm tên miền', 'add domains');
      const d = name.trim().toLowerCase();
      if (!/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/.test(d)) {
        throw new MailError('INVALID_INPUT', bi(`"${name}" không phải tên miền hợp lệ`, `"${name}" is not a valid domain name`));
      }
      if ((await store.listDomains()).some((x) => x.name === d)) {
        throw new MailError('ALREADY_EXISTS', bi(`Tên miền ${d} đã có`, `the domain ${d} already exists`));
      }
      return store.addDomain(d, { actor: actor.name, action: 'domain.add', target: d, ref });
    },

    listDomains: () => store.listDomains(),

    async removeDomain(name, actor, ref = null) {
      requireAdmin(actor, 'xóa tên miền', 'remove domains');
      const d = name.trim().toLowerCase();
      if (!(await store.listDomains()).some((x) => x.name === d)) throw notFound(`Không có tên miền ${d}`, `no domain ${d}`);
      const users = (await store.listAccounts({ domain: d })).filter((a) => a.state !== 'deleted');
      if (users.length > 0) {
        throw new MailError('IN_USE', bi(`Tên miền ${d} còn ${users.length} tài khoản`, `the domain ${d} still has ${users.length} account(s)`));
      }
      await store.removeDomain(d, { actor: actor.name, action: 'domain.remove', target: d, ref });
    },

    async delegate(unitAddr, clerkAddr, actor, ref = null) {
      requireAdmin(actor, 'ủy quyền hộp thư đơn vị', 'delegate unit mailboxes');
      const unit = await accountByAddress(unitAddr);
      const clerk = await accountByAddress(clerkAddr);
      if (unit.kind !== 'unit') throw new MailError('INVALID_INPUT', bi(`${unit.address} không phải hộp thư đơn vị`, `${unit.address} is not a unit mailbox`));
      if (clerk.state !== 'active') throw new MailError('INVALID_INPUT', bi(`Tài khoản ${clerk.address} không hoạt động`, `the account ${clerk.address} is not active`));
      // The clerk is a person (R-ACC-6): not the mailbox itself, another unit mailbox or an administrator account.
      if (clerk.kind !== 'personal') {
        throw new MailError(
          'INVALID_INPUT',
          bi(`${clerk.address} không phải tài khoản cá nhân: chỉ ủy quyền hộp thư đơn vị cho văn thư`, `${clerk.address} is not a personal account: a unit mailbox is delegated to its clerk only`),
        );
      }
      if ((await store.listDelegatedTo(clerk.id)).some((u) => u.id === unit.id)) {
        throw new MailError('ALREADY_EXISTS', bi(`${clerk.address} đã được ủy quyền ${unit.address}`, `${clerk.address} already has ${unit.address}`));
      }
      await store.addDelegation(unit.id, clerk.id, { actor: actor.name, action: 'unit.delegate', target: unit.address, ref, details: { to: clerk.address } });
    },

    async undelegate(unitAddr, clerkAddr, actor, ref = null) {
      requireAdmin(actor, 'ủy quyền hộp thư đơn vị', 'delegate unit mailboxes');
      const unit = await accountByAddress(unitAddr);
      const clerk = await accountByAddress(clerkAddr);
      if (!(await store.listDelegatedTo(clerk.id)).some((u) => u.id === unit.id)) {
        throw notFound(`${clerk.address} không được ủy quyền ${unit.address}`, `${clerk.address} has no access to ${unit.address}`);
      }
      await store.removeDelegation(unit.id, clerk.id, { actor: actor.name, action: 'unit.undelegate', target: unit.address, ref, details: { from: clerk.address } });
    },

    async handover(unitAddr, fromAddr, toAddr, actor, ref = null) {
      requireAdmin(actor, 'bàn giao hộp thư đơn vị', 'hand over unit mailboxes');
      const found = await accountByAddress(unitAddr);
      const clerk = await accountByAddress(toAddr);
      // A random password that is shown to nobody (the clerk signs in as itself); argon2 is slow
      // on purpose: hash before the transaction.
      const { hash } = await hashed(null, false);
      const result = await store.batch(async (tx) => {
        const svc = service.withStore(tx);
        await svc.undelegate(unitAddr, fromAddr, actor, ref);
        await svc.delegate(unitAddr, toAddr, actor, ref);
        return resetPasswordIn(tx, found, hash, true, actor, ref, { reason: 'handover' });
      });
      log.info({ unit: result.account.address, from: fromAddr, to: clerk.address, actor: actor.name }, 'unit mailbox handed over; its password reset');
      changed(result.account, { kind: 'password-reset', by: actor.name, appPasswordsRevoked: result.appPasswordsRevoked });
      return { unit: result.account, clerk, signInName: `${result.account.address}*${clerk.address}`, appPasswordsRevoked: result.appPasswordsRevoked };
    },

    withStore(other) {
      return createAccountService({ store: other, config, clock, log });
    },
  };
  return service;
}
