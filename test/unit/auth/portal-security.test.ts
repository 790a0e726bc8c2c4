/**
 * The auth service's security-page operations (portalSecurity, confirmTotp): the credential
 * check shared with changePassword, the signed enrolment token, one code per action, app
 * passwords and their audit entries, refusals.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createAuthService,
  currentTotp,
  ENROL_TOKEN_TTL_MS,
  hashPassword,
  type AuthStore,
  type PortalAuthService,
  type PortalSecurityOp,
  type PortalSecurityResult,
} from '../../../src/auth/index.js';
import { configFrom } from '../../../src/config/load.js';
import { ManualClock } from '../../../src/lib/clock.js';
import { silentLogger } from '../../../src/lib/log.js';
import { createMetrics } from '../../../src/lib/metrics.js';
import type { Account, AccountPatch, AppPassword, AuditEntry, Store } from '../../../src/store/port.js';
import { FakeSignInHistory } from '../../helpers/signin-history.js';
import { fakeAccount } from '../../helpers/accounts.js';

const NOW = new Date('2026-06-01T08:00:00Z');
const PASSWORD = 'Dung-Mat-Khau#1';
const SECRET = 'JBSWY3DPEHPK3PXP';
const WRONG = 'Sai tên đăng nhập, mật khẩu hoặc mã xác thực / Wrong user name, password or code';
let hash = '';

beforeAll(async () => {
  hash = await hashPassword(PASSWORD);
});

/** In memory: the store methods sign-in and the security page use. */
class FakeStore extends FakeSignInHistory implements AuthStore {
  accounts: Account[] = [];
  apps: AppPassword[] = [];
  audits: AuditEntry[] = [];
  /** Runs at the start of each batch (an administrator acting meanwhile). */
  beforeBatch: (() => void) | null = null;
  add(address: string, patch: Partial<Account> = {}): Account {
    const a = fakeAccount(this.accounts.length + 1, address, hash, NOW, patch);
    this.accounts.push(a);
    return a;
  }
  async getAccountByAddress(address: string) {
    const a = this.accounts.find((x) => x.address === address);
    return a ? { ...a } : null;
  }
  /** Unit mailbox id → the accounts it is delegated to. */
  delegations = new Map<number, number[]>();
  async listDelegatedTo(accountId: number) {
    return this.accounts.filter((a) => this.delegations.get(a.id)?.includes(accountId));
  }
  async findAccountsByLocalPart(localPart: string) {
    return this.accounts.filter((a) => a.localPart === localPart).map((a) => ({ ...a }));
  }
  async listAppPasswords(accountId: number) {
    return this.apps.filter((p) => p.accountId === accountId).map((p) => ({ ...p }));
  }
  async updateAccount(id: number, patch: AccountPatch, audit: AuditEntry | null) {
    const a = this.accounts.find((x) => x.id === id);
    if (!a) throw new Error('no account');
    Object.assign(a, patch);
    if (audit) this.audits.push(audit);
    return { ...a };
  }
  async touchAppPassword(id: number, at: Date) {
    const p = this.apps.find((x) => x.id === id);
    if (p) p.lastUsedAt = at;
  }
  async addAppPassword(accountId: number, label: string, h: string, hint?: string | null) {
    const p: AppPassword = { id: this.apps.length + 100, accountId, label, hash: h, hint: hint ?? null, createdAt: NOW, lastUsedAt: null };
    this.apps.push(p);
    return { ...p };
  }
  async removeAppPassword(accountId: number, id: number) {
    this.apps = this.apps.filter((p) => !(p.accountId === accountId && p.id === id));
  }
  async audit(entry: AuditEntry) {
    this.audits.push(entry);
  }
  async batch<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    this.beforeBatch?.();
    return fn(this as unknown as Store);
  }
}

function setup() {
  const store = new FakeStore();
  const clock = new ManualClock(NOW);
  const metrics = createMetrics();
  const sleeps: number[] = [];
  const config = configFrom({
    domains: ['nghean.gov.vn'],
    passwords: { changeUrl: 'https://mail.nghean.gov.vn/portal', userMaxAgeDays: 90 },
    security: { authFailureDelayMs: 1000, authFailureMaxDelayMs: 15000, authFailureWindowMs: 600_000, maxConcurrentAuthPerIp: 2 },
  });
  const make = (): PortalAuthService =>
    createAuthService({ store, config, clock, log: silentLogger(), metrics, sleep: async (ms) => void sleeps.push(ms) });
  const auth = make();
  const code = (secret = SECRET) => currentTotp(secret, clock.now());
  const sec = (username: string, op: PortalSecurityOp, extra: Partial<{ password: string; totp: string | null; ip: string; secure: boolean }> = {}) =>
    auth.portalSecurity({ username, password: extra.password ?? PASSWORD, totp: extra.totp ?? null, ip: extra.ip ?? '10.0.0.5', secure: extra.secure ?? true, op });
  const confirm = (token: string, totp: string, svc: PortalAuthService = auth) => svc.confirmTotp({ token, totp, ip: '10.0.0.5', secure: true });
  return { store, clock, auth, make, sleeps, code, sec, confirm };
}

const kindOf = (r: PortalSecurityResult) => (r.ok ? r.op : r.kind);

async function begin(s: ReturnType<typeof setup>, username: string) {
  const r = await s.sec(username, { kind: 'totp-begin' });
  if (!r.ok || r.op !== 'totp-begin') throw new Error(`begin: ${kindOf(r)}`);
  return r.enrolment;
}

describe('portalSecurity: show', () => {
  it('gives the two-factor state, the recent sign-ins (this one first) and, apart, refused attempts, and the app passwords, never their hashes', async () => {
    const s = setup();
    const a = s.store.add('longnv@nghean.gov.vn', { lastLoginAt: new Date('2026-05-31T01:02:03Z') });
    s.store.apps.push({ id: 7, accountId: a.id, label: 'Outlook', hash: '$argon2id$x', hint: null, createdAt: NOW, lastUsedAt: null });
    const before = new Date('2026-05-31T01:02:03Z');
    await s.store.recordSignIn({ accountId: a.id, at: before, protocol: 'imap', ip: '10.0.0.9', network: '10.0.0.0/24', ok: true, method: 'app-password', appPasswordId: 7, reason: null });
    await s.store.recordSignIn({ accountId: a.id, at: before, protocol: 'pop3', ip: '198.51.100.4', network: '198.51.100.0/24', ok: false, method: null, appPasswordId: null, reason: 'bad-credentials' });
    const r = await s.sec('longnv', { kind: 'show' });
    expect(r.ok && r.overview).toEqual({
      address: 'longnv@nghean.gov.vn',
      twoFactor: false,
      twoFactorMethod: null,
      phoneTail: null,
      smsAvailable: false,
      recentSignIns: [
        { at: NOW, firstAt: NOW, count: 1, protocol: 'http', ip: '10.0.0.5', ok: true, method: 'password', appPassword: null, reason: null, via: null, opened: null },
        { at: before, firstAt: before, count: 1, protocol: 'imap', ip: '10.0.0.9', ok: true, method: 'app-password', appPassword: 'Outlook', reason: null, via: null, opened: null },
      ],
      recentRefusals: [{ at: before, firstAt: before, count: 1, protocol: 'pop3', ip: '198.51.100.4', ok: false, method: null, appPassword: null, reason: 'bad-credentials', via: null, opened: null }],
      delegatedMailboxes: [],
      appPasswords: [{ id: 7, label: 'Outlook', createdAt: NOW, lastUsedAt: null }],
    });
    expect(JSON.stringify(r)).not.toContain('argon2');
  });

  it('refuses like changePassword: wrong password and app password alike, then suspended, deleted, must-change, expired, plaintext', async () => {
    const s = setup();
    const a = s.store.add('longnv@nghean.gov.vn');
    const appSecret = 'abcdefghijklmnop';
    s.store.apps.push({ id: 1, accountId: a.id, label: 'phone', hash: await hashPassword(appSecret), hint: null, createdAt: NOW, lastUsedAt: null });
    const wrong = await s.sec('longnv', { kind: 'show' }, { password: 'nope' });
    expect(wrong.ok ? '' : wrong.message).toBe(WRONG);
    const app = await s.sec('longnv', { kind: 'show' }, { password: appSecret });
    expect(app.ok ? '' : app.message).toBe(WRONG);
    expect(s.sleeps).toEqual([1000, 2000]);
    s.store.add('tam@nghean.gov.vn', { state: 'suspended' });
    s.store.add('xoa@nghean.gov.vn', { state: 'deleted' });
    s.store.add('moi@nghean.gov.vn', { mustChangePassword: true });
    s.store.add('cu@nghean.gov.vn', { passwordChangedAt: new Date(NOW.getTime() - 100 * 86_400_000) });
    expect(kindOf(await s.sec('tam', { kind: 'show' }))).toBe('suspended');
    expect(kindOf(await s.sec('xoa', { kind: 'show' }))).toBe('deleted');
    const mc = await s.sec('moi', { kind: 'totp-begin' });
    expect(kindOf(mc)).toBe('must-change');
    expect(mc.ok ? '' : mc.message).toContain('https://mail.nghean.gov.vn/portal');
    expect(kindOf(await s.sec('cu', { kind: 'app-password-add', label: 'x' }))).toBe('expired');
    expect(kindOf(await s.sec('longnv', { kind: 'show' }, { secure: false, ip: '192.0.2.7' }))).toBe('plaintext-refused');
    // Suspended and the rest were refused after the password: a right password resets nothing for them, and nothing changed.
    expect(s.store.audits).toEqual([]);
  });
});

describe('two-factor enrolment', () => {
  it('begin gives a secret, its URI and a token; confirm with the app\'s code turns it on, audited as the user', async () => {
    const s = setup();
    s.store.add('longnv@nghean.gov.vn');
    const e = await begin(s, 'longnv');
    expect(e.secret).toMatch(/^[A-Z2-7]{16,}$/);
    expect(e.uri).toBe(`otpauth://totp/nghean.gov.vn:longnv%40nghean.gov.vn?secret=${e.secret}&period=30&digits=6&algorithm=SHA1&issuer=nghean.gov.vn`);
    expect(e.expiresAt.getTime()).toBe(NOW.getTime() + ENROL_TOKEN_TTL_MS);
    expect(e.token).not.toContain(e.secret);
    expect(s.store.accounts[0]?.totpSecret).toBeNull();
    const r = await s.confirm(e.token, s.code(e.secret));
    expect(kindOf(r)).toBe('totp-confirm');
    expect(r.ok && r.overview.twoFactor).toBe(true);
    expect(s.store.accounts[0]?.totpSecret).toBe(e.secret);
    expect(s.store.audits).toEqual([{ actor: 'longnv@nghean.gov.vn', action: 'account.2fa.enable.self', target: 'longnv@nghean.gov.vn', ref: null, details: { ip: '10.0.0.5' } }]);
    // Once on: the token again, and begin, are refused.
    s.clock.advance(30_000);
    expect(kindOf(await s.confirm(e.token, s.code(e.secret)))).toBe('totp-on');
    expect(kindOf(await s.sec('longnv', { kind: 'totp-begin' }, { totp: s.code(e.secret) }))).toBe('totp-on');
    // Mail protocols now take app passwords only.
    const imap = await s.auth.signIn({ username: 'longnv', password: PASSWORD, protocol: 'imap', ip: '10.0.0.5', secure: true });
    expect(imap.ok).toBe(false);
  });

  it('the code that confirmed is used up; the next step\'s code is taken', async () => {
    const s = setup();
    s.store.add('longnv@nghean.gov.vn');
    const e = await begin(s, 'longnv');
    const first = s.code(e.secret);
    expect((await s.confirm(e.token, first)).ok).toBe(true);
    const reused = await s.sec('longnv', { kind: 'show' }, { totp: first });
    expect(reused.ok ? '' : reused.message).toBe(WRONG);
    s.clock.advance(30_000);
    expect((await s.sec('longnv', { kind: 'show' }, { totp: s.code(e.secret) })).ok).toBe(true);
  });

  it('a tampered, foreign, expired or password-voided token is refused, and nothing is stored', async () => {
    const s = setup();
    s.store.add('longnv@nghean.gov.vn');
    s.store.add('an@nghean.gov.vn');
    const e = await begin(s, 'longnv');
    const parts = e.token.split('.');
    const tampered = [
      // A character inside the MAC (the last one carries bits that decoding drops: changing it may change nothing).
      ((at) => e.token.slice(0, at) + (e.token[at] === 'A' ? 'Q' : 'A') + e.token.slice(at + 1))(e.token.lastIndexOf('.') + 5),
      ['2', Buffer.from('an@nghean.gov.vn').toString('base64url'), ...parts.slice(2)].join('.'),
      [parts[0], parts[1], String(Number(parts[2]) + 3_600_000), ...parts.slice(3)].join('.'),
      'not a token',
      '',
      'a.b.c.d.e.f',
    ];
    for (const t of tampered) expect([t, kindOf(await s.confirm(t, s.code(e.secret)))]).toEqual([t, 'token']);
    // Another process (another start-up key) does not know this token.
    expect(kindOf(await s.confirm(e.token, s.code(e.secret), s.make()))).toBe('token');
    // Expired.
    s.clock.advance(ENROL_TOKEN_TTL_MS + 1000);
    const late = await s.confirm(e.token, s.code(e.secret));
    expect(kindOf(late)).toBe('token');
    expect(late.ok ? '' : late.message).toContain('10');
    // Voided by a password change.
    const e2 = await begin(s, 'longnv');
    (s.store.accounts[0] as Account).passwordHash = await hashPassword('Mat-Khau-Moi#2027');
    expect(kindOf(await s.confirm(e2.token, s.code(e2.secret)))).toBe('token');
    expect(s.store.accounts.every((a) => a.totpSecret === null)).toBe(true);
    expect(s.store.audits).toEqual([]);
  });

  it('wrong codes are delayed, and a token takes five of them at most', async () => {
    const s = setup();
    s.store.add('longnv@nghean.gov.vn');
    const e = await begin(s, 'longnv');
    const bad = s.code(e.secret) === '000000' ? '111111' : '000000';
    for (let i = 0; i < 5; i++) {
      const r = await s.confirm(e.token, bad);
      expect(kindOf(r)).toBe('totp');
      expect(r.ok ? '' : r.message).toContain('Wrong code');
    }
    expect(s.sleeps).toEqual([1000, 2000, 4000, 8000, 15000]);
    expect(kindOf(await s.confirm(e.token, s.code(e.secret)))).toBe('token');
    expect(s.store.accounts[0]?.totpSecret).toBeNull();
  });
});

describe('app passwords and turning two-factor off', () => {
  it('add (shown once, hashed, audited), sign in with it over IMAP, remove (audited), then it fails', async () => {
    const s = setup();
    s.store.add('longnv@nghean.gov.vn', { totpSecret: SECRET });
    const added = await s.sec('longnv', { kind: 'app-password-add', label: '  Outlook ở cơ quan ' }, { totp: s.code() });
    if (!added.ok || added.op !== 'app-password-add') throw new Error(kindOf(added));
    expect(added.secret).toMatch(/^[a-z]{4} [a-z]{4} [a-z]{4} [a-z]{4}$/);
    expect(added.appPassword.label).toBe('Outlook ở cơ quan');
    expect(added.overview.appPasswords.map((a) => a.id)).toEqual([added.appPassword.id]);
    expect(s.store.apps[0]?.hash).toMatch(/^\$argon2/);
    expect(s.store.audits.at(-1)).toMatchObject({ actor: 'longnv@nghean.gov.vn', action: 'account.app-password.add.self', details: { id: added.appPassword.id, label: 'Outlook ở cơ quan' } });
    const imap = await s.auth.signIn({ username: 'longnv', password: added.secret, protocol: 'imap', ip: '10.0.0.5', secure: true });
    expect(imap.ok && imap.method).toBe('app-password');

    s.clock.advance(30_000);
    const gone = await s.sec('longnv', { kind: 'app-password-remove', id: 9999 }, { totp: s.code() });
    expect(kindOf(gone)).toBe('not-found');
    // The refusal gave the code back.
    const removed = await s.sec('longnv', { kind: 'app-password-remove', id: added.appPassword.id }, { totp: s.code() });
    expect(kindOf(removed)).toBe('app-password-remove');
    expect(s.store.audits.at(-1)).toMatchObject({ actor: 'longnv@nghean.gov.vn', action: 'account.app-password.remove.self', details: { id: added.appPassword.id } });
    expect((await s.auth.signIn({ username: 'longnv', password: added.secret, protocol: 'imap', ip: '10.0.0.5', secure: true })).ok).toBe(false);
  });

  it('a bad label or the limit is refused and leaves the code usable', async () => {
    const s = setup();
    const a = s.store.add('longnv@nghean.gov.vn', { totpSecret: SECRET });
    const c = s.code();
    const empty = await s.sec('longnv', { kind: 'app-password-add', label: '   ' }, { totp: c });
    expect(kindOf(empty)).toBe('invalid');
    expect(empty.ok ? '' : empty.message).toMatch(/^Tên thiết bị .* \/ The device label/);
    for (let i = 0; i < 20; i++) s.store.apps.push({ id: i + 1, accountId: a.id, label: `d${i}`, hash: 'x', hint: null, createdAt: NOW, lastUsedAt: null });
    const full = await s.sec('longnv', { kind: 'app-password-add', label: 'one more' }, { totp: c });
    expect(kindOf(full)).toBe('invalid');
    expect(full.ok ? '' : full.message).toContain('at most 20');
    expect((await s.sec('longnv', { kind: 'show' }, { totp: c })).ok).toBe(true);
  });

  it('an administrator\'s reset while the app password was hashed wins', async () => {
    const s = setup();
    const a = s.store.add('longnv@nghean.gov.vn');
    s.store.beforeBatch = () => {
      a.passwordHash = 'reset-by-admin';
    };
    const r = await s.sec('longnv', { kind: 'app-password-add', label: 'Outlook' });
    expect(r.ok ? '' : r.message).toBe(WRONG);
    expect(s.store.apps).toEqual([]);
    expect(s.store.audits).toEqual([]);
  });

  it('turning off needs a code, is audited, and is refused when already off', async () => {
    const s = setup();
    s.store.add('longnv@nghean.gov.vn', { totpSecret: SECRET });
    s.store.add('an@nghean.gov.vn');
    expect(await s.sec('longnv', { kind: 'totp-disable' }).then((r) => (r.ok ? '' : r.message))).toBe(WRONG);
    const off = await s.sec('longnv', { kind: 'totp-disable' }, { totp: s.code() });
    expect(kindOf(off)).toBe('totp-disable');
    expect(off.ok && off.overview.twoFactor).toBe(false);
    expect(s.store.accounts[0]?.totpSecret).toBeNull();
    expect(s.store.audits).toEqual([{ actor: 'longnv@nghean.gov.vn', action: 'account.2fa.disable.self', target: 'longnv@nghean.gov.vn', ref: null, details: { ip: '10.0.0.5', method: 'totp' } }]);
    expect(kindOf(await s.sec('an', { kind: 'totp-disable' }))).toBe('totp-off');
  });

  it('a token that turned two-factor on cannot turn it on again after it was turned off', async () => {
    const s = setup();
    s.store.add('longnv@nghean.gov.vn');
    const e = await begin(s, 'longnv');
    expect(kindOf(await s.confirm(e.token, s.code(e.secret)))).toBe('totp-confirm');
    s.clock.advance(30_000);
    expect(kindOf(await s.sec('longnv', { kind: 'totp-disable' }, { totp: s.code(e.secret) }))).toBe('totp-disable');
    s.clock.advance(30_000);
    const again = await s.confirm(e.token, s.code(e.secret));
    expect(kindOf(again)).toBe('token');
    expect(s.store.accounts[0]?.totpSecret).toBeNull();
  });

  it('one code, two requests at once: only one goes through', async () => {
    const s = setup();
    s.store.add('longnv@nghean.gov.vn', { totpSecret: SECRET });
    const c = s.code();
    const [r1, r2] = await Promise.all([
      s.sec('longnv', { kind: 'show' }, { totp: c, ip: '10.0.0.1' }),
      s.sec('longnv', { kind: 'show' }, { totp: c, ip: '10.0.0.2' }),
    ]);
    expect([r1.ok, r2.ok].filter(Boolean)).toHaveLength(1);
  });
});

describe('webSignIn (pages that keep a session)', () => {
  it('takes the password and a fresh code once; refuses a reused code, must-change and suspended accounts; records the sign-in', async () => {
    const s = setup();
    s.store.add('longnv@nghean.gov.vn', { totpSecret: SECRET });
    const sign = (username: string, totp: string | null, password = PASSWORD) => s.auth.webSignIn({ username, password, totp, ip: '10.0.0.5', secure: true });
    const ok = await sign('longnv', s.code());
    expect(ok.ok && ok.account.address).toBe('longnv@nghean.gov.vn');
    expect(ok.ok && ok.account.lastLoginAt).toEqual(NOW);
    const again = await sign('longnv', s.code());
    expect(again.ok ? '' : again.message).toBe(WRONG);
    s.clock.advance(30_000);
    expect((await sign('longnv', null)).ok).toBe(false);
    expect((await sign('longnv', s.code(), 'sai')).ok).toBe(false);
    expect((await sign('longnv', s.code())).ok).toBe(true);
    s.store.add('moi@nghean.gov.vn', { mustChangePassword: true });
    s.store.add('tam@nghean.gov.vn', { state: 'suspended' });
    const mc = await sign('moi', null);
    expect(mc.ok ? '' : mc.kind).toBe('must-change');
    const su = await sign('tam', null);
    expect(su.ok ? '' : su.kind).toBe('suspended');
  });
});
