import { beforeAll, describe, expect, it } from 'vitest';
import {
  createAuthService,
  splitSignInName,
  currentTotp,
  decodeSaslPlain,
  encodeSaslPlain,
  hashPassword,
  isLoopback,
  plaintextAllowedBy,
  type AuthService,
  type AuthStore,
  type PortalAuthService,
} from '../../../src/auth/index.js';
import { FailureTracker } from '../../../src/auth/throttle.js';
import { configFrom } from '../../../src/config/load.js';
import { ManualClock } from '../../../src/lib/clock.js';
import { createLogger, silentLogger } from '../../../src/lib/log.js';
import { Writable } from 'node:stream';
import { createMetrics } from '../../../src/lib/metrics.js';
import type { Account, AccountPatch, AppPassword, Store } from '../../../src/store/port.js';
import { FakeSignInHistory } from '../../helpers/signin-history.js';
import { fakeAccount } from '../../helpers/accounts.js';

const NOW = new Date('2026-06-01T08:00:00Z');
const DAY = 86_400_000;
const PASSWORD = 'Dung-Mat-Khau#1';
let hash = '';
let appHash = '';

beforeAll(async () => {
  hash = await hashPassword(PASSWORD);
  appHash = await hashPassword('abcdefghijklmnop');
});

/** An in-memory stand-in for the few store methods sign-in uses. */
class FakeStore extends FakeSignInHistory implements AuthStore {
  accounts: Account[] = [];
  apps: AppPassword[] = [];
  touched: number[] = [];
  add(address: string, patch: Partial<Account> = {}): Account {
    const a = fakeAccount(this.accounts.length + 1, address, hash, new Date(NOW.getTime() - DAY), patch);
    this.accounts.push(a);
    return a;
  }
  async getAccountByAddress(address: string) {
    return this.accounts.find((a) => a.address === address) ?? null;
  }
  /** Unit mailbox id → the accounts it is delegated to. */
  delegations = new Map<number, number[]>();
  async listDelegatedTo(accountId: number) {
    return this.accounts.filter((a) => this.delegations.get(a.id)?.includes(accountId));
  }
  async findAccountsByLocalPart(localPart: string) {
    return this.accounts.filter((a) => a.localPart === localPart);
  }
  async listAppPasswords(accountId: number) {
    return this.apps.filter((p) => p.accountId === accountId);
  }
  async updateAccount(id: number, patch: AccountPatch) {
    const a = this.accounts.find((x) => x.id === id);
    if (!a) throw new Error('no account');
    Object.assign(a, patch);
    return { ...a };
  }
  async touchAppPassword(id: number) {
    this.touched.push(id);
  }
  async batch<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    return fn(this as unknown as Store);
  }
}

function setup(overrides: Record<string, unknown> = {}) {
  const store = new FakeStore();
  const clock = new ManualClock(NOW);
  const metrics = createMetrics();
  const sleeps: number[] = [];
  const config = configFrom({
    domains: ['nghean.gov.vn', 'other.gov.vn'],
    passwords: { changeUrl: 'https://mail.nghean.gov.vn/portal', userMaxAgeDays: 90, adminMaxAgeDays: 30 },
    security: { authFailureDelayMs: 1000, authFailureMaxDelayMs: 15000, authFailureWindowMs: 600_000, maxConcurrentAuthPerIp: 2 },
    ...overrides,
  });
  const auth: AuthService = createAuthService({
    store, config, clock, log: silentLogger(), metrics,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });
  const failures = async () => (await metrics.authFailures.get()).values.reduce((n, v) => n + v.value, 0);
  return { store, clock, auth, sleeps, failures };
}

const req = (username: string, password: string, extra: Partial<{ ip: string; secure: boolean; protocol: 'imap' | 'pop3' | 'smtp' | 'http' }> = {}) => ({
  username, password, protocol: extra.protocol ?? ('imap' as const), ip: extra.ip ?? '10.0.0.5', secure: extra.secure ?? true,
});

describe('signIn', () => {
  it('accepts the full address and the local part alone, and records lastLoginAt', async () => {
    const { store, auth } = setup();
    store.add('longnv@nghean.gov.vn');
    const r1 = await auth.signIn(req('LongNV@nghean.gov.vn', PASSWORD));
    expect(r1.ok && r1.account.address).toBe('longnv@nghean.gov.vn');
    const r2 = await auth.signIn(req('longnv', PASSWORD));
    expect(r2.ok).toBe(true);
    if (r2.ok) {
      expect(r2.method).toBe('password');
      expect(r2.account.lastLoginAt?.toISOString()).toBe(NOW.toISOString());
    }
  });

  it('a local part held in two domains: the primary domain is tried first, the other still works', async () => {
    const { store, auth } = setup();
    const other = await hashPassword('Khac-MatKhau#2');
    store.add('an@other.gov.vn', { passwordHash: other });
    store.add('an@nghean.gov.vn');
    const r = await auth.signIn(req('an', PASSWORD));
    expect(r.ok && r.account.address).toBe('an@nghean.gov.vn');
    const r2 = await auth.signIn(req('an', 'Khac-MatKhau#2'));
    expect(r2.ok && r2.account.address).toBe('an@other.gov.vn');
  });

  it('bad credentials: wrong password and unknown user look the same, bilingual', async () => {
    const { store, auth, failures } = setup();
    store.add('longnv@nghean.gov.vn');
    const wrong = await auth.signIn(req('longnv', 'nope'));
    const unknown = await auth.signIn(req('khongco', 'nope'));
    for (const r of [wrong, unknown]) {
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.kind).toBe('bad-credentials');
        expect(r.message).toBe('Sai tên đăng nhập hoặc mật khẩu / Wrong user name or password');
        expect(r.account).toBeNull();
      }
    }
    expect(await failures()).toBe(2);
  });

  it('suspended and deleted are refused only after the password is verified', async () => {
    const { store, auth } = setup();
    store.add('tam@nghean.gov.vn', { state: 'suspended' });
    store.add('xoa@nghean.gov.vn', { state: 'deleted' });
    const guess = await auth.signIn(req('tam', 'wrong'));
    expect(!guess.ok && guess.kind).toBe('bad-credentials');
    const s = await auth.signIn(req('tam', PASSWORD));
    expect(!s.ok && s.kind).toBe('suspended');
    expect(!s.ok && s.message).toMatch(/^Tài khoản đang bị tạm khóa.* \/ The account is suspended/);
    expect(!s.ok && s.account?.address).toBe('tam@nghean.gov.vn');
    const d = await auth.signIn(req('xoa', PASSWORD));
    expect(!d.ok && d.kind).toBe('deleted');
  });

  it('must-change and expired name the portal URL; admins expire sooner', async () => {
    const { store, auth, clock } = setup();
    store.add('moi@nghean.gov.vn', { mustChangePassword: true });
    store.add('cu@nghean.gov.vn', { passwordChangedAt: new Date(NOW.getTime() - 91 * DAY) });
    store.add('qt@nghean.gov.vn', { role: 'unit', passwordChangedAt: new Date(NOW.getTime() - 31 * DAY) });
    store.add('ok@nghean.gov.vn', { passwordChangedAt: new Date(NOW.getTime() - 31 * DAY) });
    const m = await auth.signIn(req('moi', PASSWORD, { protocol: 'pop3' }));
    expect(!m.ok && m.kind).toBe('must-change');
    expect(!m.ok && m.message).toContain('https://mail.nghean.gov.vn/portal');
    const e = await auth.signIn(req('cu', PASSWORD));
    expect(!e.ok && e.kind).toBe('expired');
    expect(!e.ok && e.message).toMatch(/^Mật khẩu đã hết hạn; hãy đổi mật khẩu tại https:\/\/mail\.nghean\.gov\.vn\/portal \//);
    const a = await auth.signIn(req('qt', PASSWORD));
    expect(!a.ok && a.kind).toBe('expired');
    expect((await auth.signIn(req('ok', PASSWORD))).ok).toBe(true);
    clock.advance(60 * DAY);
    const later = await auth.signIn(req('ok', PASSWORD));
    expect(!later.ok && later.kind).toBe('expired');
  });

  it('the expiry rule can be replaced', async () => {
    const store = new FakeStore();
    store.add('cu@nghean.gov.vn', { passwordChangedAt: new Date(0) });
    const auth = createAuthService({
      store, config: configFrom({ domains: ['nghean.gov.vn'] }), clock: new ManualClock(NOW), log: silentLogger(),
      metrics: createMetrics(), passwordExpired: () => false,
    });
    expect((await auth.signIn(req('cu', PASSWORD))).ok).toBe(true);
    expect(auth.passwordExpired(store.accounts[0] as Account, NOW)).toBe(false);
  });

  it('app passwords work with spaces and line breaks pasted in, and are touched', async () => {
    const { store, auth } = setup();
    const a = store.add('longnv@nghean.gov.vn');
    store.apps.push({ id: 7, accountId: a.id, label: 'Outlook', hash: appHash, hint: null, createdAt: NOW, lastUsedAt: null });
    const r = await auth.signIn(req('longnv', ' abcd efgh\r\nijkl\tmnop '));
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.method).toBe('app-password');
      expect(r.appPasswordId).toBe(7);
    }
    expect(store.touched).toEqual([7]);
    const web = await auth.signIn(req('longnv', 'abcdefghijklmnop', { protocol: 'http' }));
    expect(!web.ok && web.kind).toBe('bad-credentials');
    expect(!web.ok && web.message).toContain('App passwords work only in mail programs');
  });

  it('an account with TOTP takes only app passwords on mail protocols; HTTP asks for the code', async () => {
    const { store, auth } = setup();
    const a = store.add('hai@nghean.gov.vn', { totpSecret: 'JBSWY3DPEHPK3PXP' });
    store.apps.push({ id: 1, accountId: a.id, label: 'Thunderbird', hash: appHash, hint: null, createdAt: NOW, lastUsedAt: null });
    const imap = await auth.signIn(req('hai', PASSWORD));
    expect(!imap.ok && imap.message).toContain('use an app password');
    // The history says why: not a wrong password (the user's own Outlook after enrolment would look like an attack).
    expect(store.signIns.at(-1)).toMatchObject({ ok: false, reason: 'needs-app-password' });
    expect((await auth.signIn(req('hai', 'abcdefghijklmnop'))).ok).toBe(true);
    const web = await auth.signIn(req('hai', PASSWORD, { protocol: 'http' }));
    expect(web.ok && web.totpRequired).toBe(true);
  });

  it('checks only the app passwords whose hint (first 4 letters) matches what was typed; ones without a hint always', async () => {
    const { store, auth } = setup();
    const a = store.add('hint@nghean.gov.vn', { totpSecret: 'JBSWY3DPEHPK3PXP' });
    // The right hash under a wrong hint is never checked: a wrong password costs no hash per device.
    store.apps.push({ id: 1, accountId: a.id, label: 'wrong hint', hash: appHash, hint: 'zzzz', createdAt: NOW, lastUsedAt: null });
    expect((await auth.signIn(req('hint', 'abcd efgh ijkl mnop'))).ok).toBe(false);
    store.apps.push({ id: 2, accountId: a.id, label: 'right hint', hash: appHash, hint: 'abcd', createdAt: NOW, lastUsedAt: null });
    const r = await auth.signIn(req('hint', 'abcd efgh ijkl mnop'));
    expect(r.ok && r.appPasswordId).toBe(2);
    store.apps.splice(0, 2, { id: 3, accountId: a.id, label: 'made before hints', hash: appHash, hint: null, createdAt: NOW, lastUsedAt: null });
    const legacy = await auth.signIn(req('hint', 'abcdefghijklmnop'));
    expect(legacy.ok && legacy.appPasswordId).toBe(3);
  });

  it('plaintext rule: refused without TLS unless allowed, before any hashing', async () => {
    const never = setup({ security: { allowPlaintextAuth: 'never' } });
    never.store.add('longnv@nghean.gov.vn');
    const r = await never.auth.signIn(req('longnv', PASSWORD, { secure: false, ip: '127.0.0.1' }));
    expect(!r.ok && r.kind).toBe('plaintext-refused');
    expect(!r.ok && r.message).toMatch(/^Không được gửi mật khẩu/);
    expect((await never.auth.signIn(req('longnv', PASSWORD, { secure: true, ip: '127.0.0.1' }))).ok).toBe(true);
    const loop = setup({ security: { allowPlaintextAuth: 'loopback' } });
    loop.store.add('longnv@nghean.gov.vn');
    expect((await loop.auth.signIn(req('longnv', PASSWORD, { secure: false, ip: '::ffff:127.0.0.1' }))).ok).toBe(true);
    const far = await loop.auth.signIn(req('longnv', PASSWORD, { secure: false, ip: '10.1.2.3' }));
    expect(!far.ok && far.kind).toBe('plaintext-refused');
  });
});

describe('changePassword (the portal)', () => {
  const change = (username: string, password: string, newPassword: string, extra: Partial<{ totp: string; ip: string; secure: boolean }> = {}) => ({
    username, password, newPassword, totp: extra.totp ?? null, ip: extra.ip ?? '10.0.0.5', secure: extra.secure ?? true,
  });
  const NEW = 'Mat-Khau-Moi#2027';

  it('an expired or must-change account changes its password: must-change cleared, age restarted, then it signs in', async () => {
    const { store, auth, clock } = setup();
    store.add('cu@nghean.gov.vn', { passwordChangedAt: new Date(NOW.getTime() - 200 * DAY), mustChangePassword: true });
    expect((await auth.signIn(req('cu', PASSWORD))).ok).toBe(false);
    const r = await auth.changePassword(change('cu', PASSWORD, NEW));
    expect(r.ok).toBe(true);
    const a = store.accounts[0];
    expect(a?.mustChangePassword).toBe(false);
    expect(a?.passwordChangedAt.getTime()).toBe(clock.now().getTime());
    expect((await auth.signIn(req('cu', NEW))).ok).toBe(true);
    expect((await auth.signIn(req('cu', PASSWORD))).ok).toBe(false);
  });

  it('an app password is not the account password here; a wrong one is throttled like a sign-in', async () => {
    const { store, auth, sleeps, failures } = setup();
    const a = store.add('longnv@nghean.gov.vn');
    store.apps.push({ id: 1, accountId: a.id, label: 'phone', hash: appHash, hint: null, createdAt: NOW, lastUsedAt: null });
    const r = await auth.changePassword(change('longnv', 'abcdefghijklmnop', NEW));
    expect(r.ok ? null : r.kind).toBe('bad-credentials');
    expect(await auth.changePassword(change('longnv', 'wrong', NEW)).then((x) => (x.ok ? null : x.kind))).toBe('bad-credentials');
    expect(sleeps).toEqual([1000, 2000]);
    expect(await failures()).toBe(2);
    expect(store.accounts[0]?.passwordHash).toBe(hash);
  });

  it('a reset or suspension by an administrator while the new password was hashed wins over the change', async () => {
    for (const meanwhile of [{ passwordHash: appHash }, { state: 'suspended' as const }]) {
      const { store, auth } = setup();
      const a = store.add('longnv@nghean.gov.vn', { mustChangePassword: true });
      const read = store.getAccountByAddress.bind(store);
      let calls = 0;
      // The second read is the re-check after hashing: by then the administrator has acted.
      store.getAccountByAddress = async (address: string) => {
        if (++calls === 2) Object.assign(a, meanwhile);
        const found = await read(address);
        return found ? { ...found } : null; // a copy, as the real store gives
      };
      const r = await auth.changePassword(change('longnv@nghean.gov.vn', PASSWORD, NEW));
      expect(r.ok).toBe(false);
      expect(calls).toBe(2);
      expect(store.accounts[0]?.mustChangePassword).toBe(true);
      expect(store.accounts[0]?.passwordHash).toBe(meanwhile.passwordHash ?? hash);
    }
  });

  it('a two-factor code is good for one change only; a refused new password does not use it up', async () => {
    const { store, auth, clock } = setup();
    const secret = 'JBSWY3DPEHPK3PXP';
    store.add('hai@nghean.gov.vn', { totpSecret: secret });
    const code = currentTotp(secret, clock.now());
    const weak = await auth.changePassword(change('hai', PASSWORD, 'yeu', { totp: code }));
    expect(weak.ok ? null : weak.kind).toBe('weak');
    expect((await auth.changePassword(change('hai', PASSWORD, NEW, { totp: code }))).ok).toBe(true);
    // The same code again (still inside its 90 s), with the now current password: refused.
    const again = await auth.changePassword(change('hai', NEW, 'Lan-Thu-Ba#2028', { totp: code }));
    expect(again.ok ? null : again.kind).toBe('totp');
    // The next step's code is taken.
    clock.advance(30_000);
    expect((await auth.changePassword(change('hai', NEW, 'Lan-Thu-Ba#2028', { totp: currentTotp(secret, clock.now()) }))).ok).toBe(true);
  });

  it('admins need the longer password; the new one must differ; no TLS off loopback is refused before hashing', async () => {
    const { store, auth } = setup();
    store.add('quantri@nghean.gov.vn', { kind: 'admin' });
    const short = await auth.changePassword(change('quantri', PASSWORD, 'Ab1!xyzw9'));
    expect(short.ok ? '' : short.message).toMatch(/^Mật khẩu chưa đạt: mật khẩu phải có ít nhất 10 ký tự \/ weak password: the password must have at least 10 characters$/);
    expect(await auth.changePassword(change('quantri', PASSWORD, PASSWORD)).then((x) => (x.ok ? null : x.kind))).toBe('unchanged');
    const plain = await auth.changePassword(change('quantri', PASSWORD, NEW, { secure: false, ip: '192.0.2.7' }));
    expect(plain.ok ? null : plain.kind).toBe('plaintext-refused');
    expect(store.accounts[0]?.passwordHash).toBe(hash);
  });
});

describe('logging', () => {
  it('every rejection is logged with ip, username, protocol and reason; passwords never', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    });
    const store = new FakeStore();
    store.add('tam@nghean.gov.vn', { state: 'suspended' });
    const auth = createAuthService({
      store, config: configFrom({ domains: ['nghean.gov.vn'] }), clock: new ManualClock(NOW),
      log: createLogger({ destination: sink }), metrics: createMetrics(), sleep: async () => undefined,
    });
    await auth.signIn(req('tam', 'sai-mat-khau', { protocol: 'pop3', ip: '10.1.1.1' }));
    await auth.signIn(req('tam', PASSWORD, { protocol: 'smtp', ip: '10.1.1.2' }));
    const refused = lines.filter((l) => l.msg === 'sign-in refused');
    expect(refused.map((l) => [l.ip, l.username, l.protocol, l.reason])).toEqual([
      ['10.1.1.1', 'tam', 'pop3', 'bad-credentials'],
      ['10.1.1.2', 'tam', 'smtp', 'suspended'],
    ]);
    expect(JSON.stringify(lines)).not.toContain('sai-mat-khau');
    expect(JSON.stringify(lines)).not.toContain(PASSWORD);
  });
});

describe('throttling', () => {
  it('delays grow per failure (doubling to the cap) and are forgotten after the window', async () => {
    const { store, auth, sleeps, clock } = setup();
    store.add('longnv@nghean.gov.vn');
    for (let i = 0; i < 6; i++) await auth.signIn(req('longnv', 'wrong'));
    expect(sleeps).toEqual([1000, 2000, 4000, 8000, 15000, 15000]);
    // A right password still gets in (no hard lock-out), undelayed.
    expect((await auth.signIn(req('longnv', PASSWORD))).ok).toBe(true);
    expect(sleeps).toHaveLength(6);
    clock.advance(600_001);
    await auth.signIn(req('longnv', 'wrong'));
    expect(sleeps.at(-1)).toBe(1000);
  });

  it('per-account counting: a guesser moving between IPs still meets a growing delay', async () => {
    const { store, auth, sleeps } = setup();
    store.add('longnv@nghean.gov.vn');
    for (let i = 0; i < 4; i++) await auth.signIn(req('longnv', 'wrong', { ip: `10.0.1.${i}` }));
    expect(sleeps).toEqual([1000, 2000, 4000, 8000]);
  });

  it('per-IP counting: spraying many user names from one IP grows the delay', async () => {
    const { auth, sleeps } = setup();
    for (let i = 0; i < 4; i++) await auth.signIn(req(`user${i}`, 'wrong'));
    expect(sleeps).toEqual([1000, 2000, 4000, 8000]);
  });

  it('caps concurrent sign-ins per IP before hashing; other IPs are unaffected', async () => {
    const { store, auth } = setup();
    store.add('longnv@nghean.gov.vn');
    const results = await Promise.all([1, 2, 3, 4].map(() => auth.signIn(req('longnv', PASSWORD))));
    const kinds = results.map((r) => (r.ok ? 'ok' : r.kind));
    expect(kinds.filter((k) => k === 'ok')).toHaveLength(2);
    expect(kinds.filter((k) => k === 'throttled')).toHaveLength(2);
    const throttled = results.find((r) => !r.ok);
    expect(!throttled?.ok && throttled?.message).toMatch(/^Quá nhiều lần đăng nhập/);
    const other = await auth.signIn(req('longnv', PASSWORD, { ip: '10.9.9.9' }));
    expect(other.ok).toBe(true);
    // Slots are released: the same IP gets in again.
    expect((await auth.signIn(req('longnv', PASSWORD))).ok).toBe(true);
  });

  it('counts an IPv6 client by its /64: addresses of one /64 share the gate and the delays, another /64 does not', async () => {
    const { store, auth, sleeps } = setup();
    store.add('longnv@nghean.gov.vn');
    const results = await Promise.all([1, 2, 3, 4].map((i) => auth.signIn(req('longnv', PASSWORD, { ip: `2001:db8:0:7::${i}` }))));
    expect(results.filter((r) => !r.ok && r.kind === 'throttled')).toHaveLength(2);
    for (let i = 0; i < 3; i++) await auth.signIn(req(`user${i}`, 'wrong', { ip: `2001:db8:0:9:${i}::1` }));
    expect(sleeps).toEqual([1000, 2000, 4000]);
    await auth.signIn(req('other', 'wrong', { ip: '2001:db8:0:a::1' }));
    expect(sleeps.at(-1)).toBe(1000);
  });

  it('blockedFor: the rest of the last failure delay, once the key has at least the free failures', () => {
    const clock = new ManualClock(NOW);
    const t = new FailureTracker({ clock, baseDelayMs: 100, maxDelayMs: 1000, windowMs: 60_000 });
    t.fail(['k']);
    t.fail(['k']);
    expect(t.blockedFor('k', 3)).toBe(0);
    expect(t.blockedFor('k')).toBe(200);
    t.fail(['k']);
    expect(t.blockedFor('k', 3)).toBe(400);
    clock.advance(150);
    expect(t.blockedFor('k', 3)).toBe(250);
    clock.advance(250);
    expect(t.blockedFor('k', 3)).toBe(0);
    expect(t.blockedFor('unknown')).toBe(0);
  });

  it('the failure table stays bounded', () => {
    const clock = new ManualClock(NOW);
    const t = new FailureTracker({ clock, baseDelayMs: 1, maxDelayMs: 10, windowMs: 1000, maxKeys: 50 });
    for (let i = 0; i < 500; i++) t.fail([`ip:${i}`]);
    expect(t.size).toBeLessThanOrEqual(51);
  });
});

describe('plaintextAllowedBy / isLoopback', () => {
  it.each([
    ['127.0.0.1', true], ['127.5.6.7', true], ['::1', true], ['::ffff:127.0.0.1', true],
    ['10.0.0.1', false], ['::ffff:10.0.0.1', false], ['128.0.0.1', false], ['fe80::1', false], ['127.0.0.300', false],
  ])('%s loopback=%s', (ip, loop) => {
    expect(isLoopback(ip)).toBe(loop);
    expect(plaintextAllowedBy('loopback', ip, false)).toBe(loop);
    expect(plaintextAllowedBy('never', ip, false)).toBe(false);
    expect(plaintextAllowedBy('always', ip, false)).toBe(true);
    expect(plaintextAllowedBy('never', ip, true)).toBe(true);
  });
});

describe('decodeSaslPlain', () => {
  it('decodes the three fields (UTF-8 passwords too)', () => {
    expect(decodeSaslPlain(encodeSaslPlain('longnv', 'Mật-khẩu#1'))).toEqual({ authzid: '', authcid: 'longnv', password: 'Mật-khẩu#1' });
    expect(decodeSaslPlain(Buffer.from('admin\0longnv\0pw').toString('base64'))).toEqual({ authzid: 'admin', authcid: 'longnv', password: 'pw' });
  });
  it.each([
    ['not base64', '!!!!'],
    ['two fields', Buffer.from('longnv\0pw').toString('base64')],
    ['four fields', Buffer.from('a\0b\0c\0d').toString('base64')],
    ['empty user', Buffer.from('\0\0pw').toString('base64')],
    ['empty password', Buffer.from('\0u\0').toString('base64')],
    ['bad UTF-8', Buffer.from([0, 0x75, 0, 0xff, 0xfe]).toString('base64')],
    ['empty', ''],
    ['equals sign', '='],
  ])('rejects %s', (_name, input) => {
    expect(decodeSaslPlain(input)).toBeNull();
  });
});

describe('one account guessed from many addresses (security.accountGuard*)', () => {
  const guard = { authFailureDelayMs: 0, authFailureMaxDelayMs: 0, accountGuardFailures: 5, accountGuardIntervalMs: 10_000 };

  it('past the limit, a network that has guessed waits (doubling) between checks; a new network and the usual ones are checked at once', async () => {
    const { store, clock, auth } = setup({ security: guard });
    store.add('longnv@nghean.gov.vn');
    // The user's office network, used before.
    expect((await auth.signIn(req('longnv', PASSWORD, { ip: '10.1.1.20' }))).ok).toBe(true);
    // Five wrong passwords from five networks: the account is being guessed.
    for (let i = 0; i < 5; i++) expect((await auth.signIn(req('longnv', `Sai#${i}`, { ip: `198.51.${i}.7` }))).ok).toBe(false);
    // A network that guessed waits before its next check, even with the right password.
    const again = await auth.signIn(req('longnv', PASSWORD, { ip: '198.51.0.8' }));
    expect(!again.ok && again.kind).toBe('throttled');
    expect(!again.ok && again.message).toContain('Có nhiều lần đăng nhập sai vào tài khoản này');
    // The owner on a network new to the account, which has guessed nothing, gets in at once; so does the office.
    expect((await auth.signIn(req('longnv', PASSWORD, { ip: '203.0.113.9' }))).ok).toBe(true);
    expect((await auth.signIn(req('longnv', PASSWORD, { ip: '10.1.1.21' }))).ok).toBe(true);
    // The guessing network's wait doubles with each of its failures: 10 s, then 20 s.
    clock.advance(10_001);
    expect((await auth.signIn(req('longnv', 'Sai#x', { ip: '198.51.0.9' }))).ok).toBe(false);
    clock.advance(10_001);
    const held = await auth.signIn(req('longnv', PASSWORD, { ip: '198.51.0.9' }));
    expect(!held.ok && held.kind).toBe('throttled');
    clock.advance(10_001);
    expect((await auth.signIn(req('longnv', PASSWORD, { ip: '198.51.0.9' }))).ok).toBe(true);
    // The held-back attempts are in the history with their reason.
    const refusals = await store.listSignIns(store.accounts[0]!.id, { ok: false, limit: 30 });
    expect(refusals.some((r) => r.reason === 'guarded' && r.ip === '198.51.0.8')).toBe(true);
  });

  it("the owner's own stale mail programs (a network the account uses) never count as guesses", async () => {
    const { store, auth } = setup({ security: guard });
    store.add('longnv@nghean.gov.vn');
    expect((await auth.signIn(req('longnv', PASSWORD, { ip: '10.1.1.20' }))).ok).toBe(true);
    for (let i = 0; i < 30; i++) await auth.signIn(req('longnv', 'Mat-khau-cu#1', { ip: '10.1.1.20' }));
    // Not guarded: a new network is checked, three connections at once all get in.
    const three = await Promise.all([1, 2, 3].map(() => auth.signIn(req('longnv', PASSWORD, { ip: '203.0.113.9' }))));
    expect(three.map((r) => r.ok)).toEqual([true, true, true]);
  });

  it('a name no account has is held back alike (the guard tells nothing of which names exist)', async () => {
    const { store, auth } = setup({ security: guard });
    store.add('longnv@nghean.gov.vn');
    const kinds = async (user: string): Promise<string[]> => {
      const out: string[] = [];
      for (let i = 0; i < 7; i++) {
        const r = await auth.signIn(req(user, `Sai#${i}`, { ip: `198.51.${i % 2}.7` }));
        out.push(r.ok ? 'ok' : r.kind);
      }
      return out;
    };
    expect(await kinds('khongco')).toEqual(await kinds('longnv'));
  });

  it('with the guard off, every attempt is checked', async () => {
    const { store, auth } = setup({ security: { ...guard, accountGuardFailures: 0 } });
    store.add('longnv@nghean.gov.vn');
    for (let i = 0; i < 30; i++) await auth.signIn(req('longnv', `Sai#${i}`, { ip: `198.51.${i % 3}.7` }));
    expect((await auth.signIn(req('longnv', PASSWORD, { ip: '198.51.0.7' }))).ok).toBe(true);
  });
});

describe('delegated sign-in (R-ACC-6)', () => {
  it('splitSignInName: UNIT*DELEGATE or an authzid names the mailbox; anything else is a plain name', () => {
    expect(splitSignInName('vpubnd*vanlt')).toEqual({ mailbox: 'vpubnd', user: 'vanlt' });
    expect(splitSignInName('vpubnd@nghean.gov.vn*vanlt@nghean.gov.vn')).toEqual({ mailbox: 'vpubnd@nghean.gov.vn', user: 'vanlt@nghean.gov.vn' });
    expect(splitSignInName('vanlt', ' vpubnd ')).toEqual({ mailbox: 'vpubnd', user: 'vanlt' });
    for (const odd of ['*vanlt', 'vpubnd*', 'a*b*c', '*', 'vanlt']) expect(splitSignInName(odd)).toEqual({ mailbox: null, user: odd });
  });

  it('opens a delegated unit mailbox with the delegate’s credentials; its own name is no delegation; others are refused, the web never', async () => {
    const { store, auth } = setup();
    const clerk = store.add('vanlt@nghean.gov.vn');
    const unit = store.add('vpubnd@nghean.gov.vn', { kind: 'unit' });
    store.add('hoa@nghean.gov.vn');
    store.delegations.set(unit.id, [clerk.id]);
    const r = await auth.signIn(req('vpubnd*vanlt', PASSWORD));
    expect(r.ok && [r.account.address, r.delegate?.address, r.credential.accountId, r.credential.mailboxId]).toEqual(['vpubnd@nghean.gov.vn', 'vanlt@nghean.gov.vn', clerk.id, unit.id]);
    // Recorded on both: who opened the unit mailbox, and which the clerk opened.
    expect(store.signIns.filter((s) => s.ok).map((s) => [s.accountId, s.via, s.opened])).toEqual([
      [clerk.id, null, 'vpubnd@nghean.gov.vn'],
      [unit.id, 'vanlt@nghean.gov.vn', null],
    ]);
    const own = await auth.signIn({ ...req('vanlt', PASSWORD), authzid: 'vanlt@nghean.gov.vn' });
    expect(own.ok && [own.account.address, own.delegate, own.credential.mailboxId]).toEqual(['vanlt@nghean.gov.vn', null, null]);
    const other = await auth.signIn(req('vpubnd*hoa', PASSWORD));
    expect(!other.ok && other.kind).toBe('not-delegated');
    // The unit mailbox cannot open its delegate's mailbox; a wrong password is a wrong password.
    expect((await auth.signIn(req('vanlt*vpubnd', PASSWORD))).ok).toBe(false);
    const wrong = await auth.signIn(req('vpubnd*vanlt', 'Sai#mat-khau1'));
    expect(!wrong.ok && wrong.kind).toBe('bad-credentials');
    // The web signs in to its own account only.
    const web = await auth.signIn(req('vpubnd*vanlt', PASSWORD, { protocol: 'http' }));
    expect(!web.ok && web.kind).toBe('bad-credentials');
    // A suspended unit mailbox is refused with its own message; the delegate's state comes first.
    unit.state = 'suspended';
    const suspended = await auth.signIn(req('vpubnd*vanlt', PASSWORD));
    expect(!suspended.ok && [suspended.kind, suspended.message]).toEqual(['suspended', expect.stringContaining('The unit mailbox is suspended')]);
    unit.state = 'active';
    clerk.mustChangePassword = true;
    const mustChange = await auth.signIn(req('vpubnd*vanlt', PASSWORD));
    expect(!mustChange.ok && mustChange.kind).toBe('must-change');
  });
});

/** The auth service with an SMS sender (by default one that keeps the texts), "forgot password" on. */
function withSms(opts: { send?: (phone: string, text: string) => Promise<void>; sms?: Record<string, unknown> } = {}) {
  const texts: string[] = [];
  const store = new FakeStore();
  const clock = new ManualClock(NOW);
  const sleeps: number[] = [];
  const config = configFrom({
    domains: ['nghean.gov.vn'],
    security: { authFailureDelayMs: 1000, authFailureMaxDelayMs: 15000 },
    sms: { command: ['/bin/true'], passwordReset: true, ...opts.sms },
  });
  const send = opts.send ?? (async (_phone: string, text: string) => void texts.push(text));
  const auth = createAuthService({ store, config, clock, log: silentLogger(), metrics: createMetrics(), smsSender: send, sleep: async (ms) => void sleeps.push(ms) });
  return { store, auth, sleeps, clock, texts };
}

describe('forgot password by SMS (R-AUTH-4)', () => {
  const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 20; i++) await tick();
  };

  it('answers before looking the address up, the same for every address; each request from a network waits longer', async () => {
    const texts: string[] = [];
    const { store, auth, sleeps } = withSms({ send: async (_phone, text) => void texts.push(text) });
    store.add('quenmk@nghean.gov.vn', { phone: '0912345678' });
    store.add('quantri@nghean.gov.vn', { phone: '0912345679', kind: 'admin' });
    const ip = '203.0.113.7';
    const answers = [];
    for (const name of ['quenmk', 'quantri', 'khongco']) answers.push(await auth.requestPasswordReset({ username: name, ip, secure: true }));
    // Nothing was looked up, recorded or sent yet: the answers' time cannot depend on the address.
    expect(texts).toEqual([]);
    expect(store.signIns).toEqual([]);
    expect(answers.map((a) => a.ok && a.message)).toEqual([expect.stringContaining('If this address'), answers[0]!.ok && answers[0]!.message, answers[0]!.ok && answers[0]!.message]);
    await settle();
    expect(texts).toHaveLength(1);
    expect(texts[0]).toMatch(/^buudien: ma dat lai mat khau \d{6}/);
    expect(store.signIns.map((r) => r.reason)).toEqual(['reset-code-sent']);
    expect(sleeps).toEqual([1000, 2000, 4000]);
  });

  it('wrong reset codes are counted per name asked for (the same delay whether or not it has an account) and never hold back sign-in codes', async () => {
    const { store, auth, sleeps } = withSms();
    store.add('quenmk@nghean.gov.vn', { phone: '0912345678', totpSecret: 'JBSWY3DPEHPK3PXP' });
    const wrongOnce = async (username: string, ip: string): Promise<number> => {
      sleeps.length = 0;
      const r = await auth.resetPassword({ username, code: '000000', totp: null, newPassword: 'Mat-khau-moi#2027', ip, secure: true });
      expect(!r.ok && r.kind).toBe('bad-code');
      return sleeps.reduce((a, b) => a + b, 0);
    };
    for (let i = 0; i < 4; i++) await wrongOnce('quenmk', `198.51.100.${i + 1}`);
    for (let i = 0; i < 4; i++) await wrongOnce('khongco', `198.51.100.${i + 1}`);
    // The full address and the local part are one name: the fifth try waits alike for both.
    expect(await wrongOnce('quenmk@nghean.gov.vn', '192.0.2.9')).toBe(await wrongOnce('khongco@nghean.gov.vn', '192.0.2.10'));
    // The owner's authenticator code at the web sign-in is not held back by them.
    const web = await auth.webSignIn({ username: 'quenmk', password: PASSWORD, totp: currentTotp('JBSWY3DPEHPK3PXP', NOW), ip: '10.0.0.5', secure: true });
    expect(web.ok).toBe(true);
  });

  it('a code is good only under the password it was sent under; delegates and caps get no code', async () => {
    const texts: string[] = [];
    const { store, auth } = withSms({ send: async (_p, text) => void texts.push(text), sms: { maxPasswordResetsPerDay: 2 } });
    const a = store.add('quenmk@nghean.gov.vn', { phone: '0912345678' });
    const clerk = store.add('vanthu@nghean.gov.vn', { phone: '0912345670' });
    const unit = store.add('vpubnd@nghean.gov.vn', { kind: 'unit' });
    store.delegations.set(unit.id, [clerk.id]);
    store.add('third@nghean.gov.vn', { phone: '0912345671' });
    store.add('fourth@nghean.gov.vn', { phone: '0912345672' });
    for (const name of ['quenmk', 'vanthu', 'third', 'fourth']) await auth.requestPasswordReset({ username: name, ip: `203.0.113.${name.length}`, secure: true });
    await settle();
    // The delegate gets none; the server's daily cap (2) stops the fourth.
    expect(texts).toHaveLength(2);
    expect(store.signIns.filter((r) => r.accountId === clerk.id)).toEqual([]);
    const code = /ma dat lai mat khau (\d{6})/.exec(texts[0]!)?.[1] ?? '';
    // An administrator resets the password meanwhile: the code no longer serves.
    a.passwordHash = await hashPassword('Quan-tri#dat-lai1');
    const stale = await auth.resetPassword({ username: 'quenmk', code, totp: null, newPassword: 'Mat-khau-moi#2027', ip: '203.0.113.6', secure: true });
    expect(!stale.ok && stale.kind).toBe('bad-code');
  });
});

describe('forgot password: limits that must not turn on the owner', () => {
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  };
  const reset = (auth: PortalAuthService, code: string, newPassword = 'Mat-khau-moi#2027') =>
    auth.resetPassword({ username: 'quenmk', code, totp: null, newPassword, ip: '203.0.113.9', secure: true });

  it('a name past its wrong codes is refused at once and uncounted; no answer waits past authFailureMaxDelayMs', async () => {
    const { auth, sleeps } = withSms();
    for (let i = 0; i < 12; i++) expect((await reset(auth, '000000')).ok).toBe(false);
    // 1 s, 2 s, 4 s, then refused unchecked without a wait (the gate is not held): never over 15 s.
    expect(sleeps).toEqual([1000, 2000, 4000]);
    expect(Math.max(...sleeps)).toBeLessThanOrEqual(15000);
  });

  it('only codes really sent count against the caps: asking again within the minute uses no slot', async () => {
    const { store, auth, texts, clock } = withSms({ sms: { maxPasswordResetsPerDay: 2 } });
    store.add('quenmk@nghean.gov.vn', { phone: '0912345678' });
    store.add('hai@nghean.gov.vn', { phone: '0912345679' });
    for (let i = 0; i < 5; i++) await auth.requestPasswordReset({ username: 'quenmk', ip: '203.0.113.9', secure: true });
    await settle();
    expect(texts).toHaveLength(1);
    clock.advance(61_000);
    await auth.requestPasswordReset({ username: 'hai', ip: '203.0.113.9', secure: true });
    await settle();
    // The server's cap of 2 is reached by two codes sent, not by five asks.
    expect(texts).toHaveLength(2);
    clock.advance(61_000);
    await auth.requestPasswordReset({ username: 'quenmk', ip: '198.51.100.1', secure: true });
    await settle();
    expect(texts).toHaveLength(2);
  });

  it('the current password as the new one is counted like a wrong code', async () => {
    const { store, auth, texts, sleeps } = withSms();
    store.add('quenmk@nghean.gov.vn', { phone: '0912345678' });
    await auth.requestPasswordReset({ username: 'quenmk', ip: '203.0.113.9', secure: true });
    await settle();
    const code = /ma dat lai mat khau (\d{6})/.exec(texts[0] ?? '')?.[1] ?? '';
    for (let i = 0; i < 3; i++) {
      const same = await reset(auth, code, PASSWORD);
      expect(!same.ok && same.kind).toBe('unchanged');
    }
    // Three counted: the name now waits, and even the right code is refused unchecked.
    sleeps.length = 0;
    const blocked = await reset(auth, code);
    expect(!blocked.ok && blocked.kind).toBe('bad-code');
  });
});

describe('throttling says nothing about which names have accounts', () => {
  it('a local part and its full address count together, whether or not an account has them', async () => {
    const { store, auth, sleeps } = setup();
    store.add('longnv@nghean.gov.vn');
    const fifthDelay = async (name: string): Promise<number> => {
      for (let i = 0; i < 4; i++) await auth.signIn(req(name, 'nope', { ip: `198.51.100.${i + 1}` }));
      sleeps.length = 0;
      await auth.signIn(req(`${name}@nghean.gov.vn`, 'nope', { ip: '192.0.2.50' }));
      return sleeps.reduce((a, b) => a + b, 0);
    };
    const known = await fifthDelay('longnv');
    const unknown = await fifthDelay('khongco');
    expect(unknown).toBe(known);
    expect(known).toBeGreaterThan(1000);
  });
});
