/**
 * Fixes from a review of the sign-in module: a server-wide cap on password checks and a per-/48
 * gate (a flood from many IPv6 /64s of one site), unit mailboxes never signed in to with their own
 * password (R-ACC-6), a wrong password's answer never waiting on the history's write, names
 * counted alike whether or not they have an account, and a local part's every account counted.
 * Deterministic: password checks are held by an injected checker, never timed.
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { createAuthService, hashPassword, verifyPassword, type AuthStore, type PortalAuthService } from '../../../src/auth/index.js';
import { HashSlots } from '../../../src/auth/hash-slots.js';
import { throttleBlockOf } from '../../../src/auth/network.js';
import { configFrom } from '../../../src/config/load.js';
import { ManualClock } from '../../../src/lib/clock.js';
import { silentLogger } from '../../../src/lib/log.js';
import { createMetrics } from '../../../src/lib/metrics.js';
import type { Account, AccountPatch, SignInEntry, Store } from '../../../src/store/port.js';
import { FakeSignInHistory } from '../../helpers/signin-history.js';
import { fakeAccount } from '../../helpers/accounts.js';

const NOW = new Date('2026-06-01T08:00:00Z');
const PASSWORD = 'Dung-Mat-Khau#1';
let hash = '';

beforeAll(async () => {
  hash = await hashPassword(PASSWORD);
});

class FakeStore extends FakeSignInHistory implements AuthStore {
  accounts: Account[] = [];
  delegations = new Map<number, number[]>();
  add(address: string, patch: Partial<Account> = {}): Account {
    const a = fakeAccount(this.accounts.length + 1, address, hash, new Date(NOW.getTime() - 86_400_000), patch);
    this.accounts.push(a);
    return a;
  }
  async getAccountByAddress(address: string) {
    return this.accounts.find((a) => a.address === address) ?? null;
  }
  async findAccountsByLocalPart(localPart: string) {
    return this.accounts.filter((a) => a.localPart === localPart);
  }
  async listDelegatedTo(accountId: number) {
    return this.accounts.filter((a) => this.delegations.get(a.id)?.includes(accountId));
  }
  async listAppPasswords() {
    return [];
  }
  async updateAccount(id: number, patch: AccountPatch) {
    const a = this.accounts.find((x) => x.id === id);
    if (!a) throw new Error('no account');
    Object.assign(a, patch);
    return { ...a };
  }
  async touchAppPassword() {}
  async batch<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    return fn(this as unknown as Store);
  }
}

/** A password checker that counts its checks and holds wrong passwords until released (a slow hash). */
function heldChecker() {
  const held: Array<() => void> = [];
  const checker = {
    calls: 0,
    held,
    releaseAll: () => held.splice(0).forEach((r) => r()),
    check: async (h: string, password: string): Promise<boolean> => {
      checker.calls++;
      if (password === PASSWORD) return verifyPassword(h, password);
      await new Promise<void>((r) => held.push(r));
      return false;
    },
  };
  return checker;
}

function setup(opts: { security?: Record<string, unknown>; hashSlots?: { concurrent: number; queue: number }; check?: (h: string, p: string) => Promise<boolean>; store?: FakeStore } = {}) {
  const store = opts.store ?? new FakeStore();
  const sleeps: number[] = [];
  const config = configFrom({
    domains: ['nghean.gov.vn', 'other.gov.vn'],
    passwords: { changeUrl: 'https://mail.nghean.gov.vn/portal' },
    security: { authFailureDelayMs: 1000, authFailureMaxDelayMs: 15000, maxConcurrentAuthPerIp: 2, ...opts.security },
  });
  const auth: PortalAuthService = createAuthService({
    store,
    config,
    clock: new ManualClock(NOW),
    log: silentLogger(),
    metrics: createMetrics(),
    sleep: async (ms) => void sleeps.push(ms),
    ...(opts.check ? { verifyPassword: opts.check } : {}),
    ...(opts.hashSlots ? { hashSlots: opts.hashSlots } : {}),
  });
  return { store, auth, sleeps };
}

const req = (username: string, password: string, ip = '10.0.0.5', protocol: 'imap' | 'http' = 'imap') => ({ username, password, protocol, ip, secure: true });
/** Let every promise that can settle settle (no timers involved). */
const settle = () => new Promise<void>((r) => setImmediate(r));

describe('a flood of wrong sign-ins cannot fill the hashing threads', () => {
  it('HashSlots: runs `concurrent`, queues `queue` first come first served, refuses the rest at once', async () => {
    const slots = new HashSlots(1, 1);
    const first = await slots.acquire();
    const queued = slots.acquire();
    expect(await slots.acquire()).toBeNull();
    expect(slots.size).toEqual({ running: 1, waiting: 1 });
    first?.();
    first?.(); // idempotent
    const second = await queued;
    expect(slots.size).toEqual({ running: 1, waiting: 0 });
    second?.();
    expect(slots.size).toEqual({ running: 0, waiting: 0 });
  });

  it('HashSlots: a waiter that waited maxWaitMs is refused and leaves the queue (it never gets a slot later)', async () => {
    vi.useFakeTimers();
    try {
      const slots = new HashSlots(1, 5, 1000);
      const first = await slots.acquire();
      const late = slots.acquire();
      vi.advanceTimersByTime(1000);
      expect(await late).toBeNull();
      expect(slots.size).toEqual({ running: 1, waiting: 0 });
      first?.();
      expect(slots.size).toEqual({ running: 0, waiting: 0 });
    } finally {
      vi.useRealTimers();
    }
  });

  it('the defaults serve an office reconnecting at once: 60 right passwords from 60 addresses together are all answered, none throttled', async () => {
    const checker = heldChecker();
    const { store, auth } = setup({ check: checker.check });
    const names = Array.from({ length: 60 }, (_, i) => `nv${i}@nghean.gov.vn`);
    for (const n of names) store.add(n);
    const answers = names.map((n, i) => auth.signIn({ username: n, password: PASSWORD, protocol: 'imap', ip: `10.0.${i}.1`, secure: true }));
    await settle();
    checker.releaseAll();
    const results = await Promise.all(answers);
    expect(results.filter((r) => !r.ok).map((r) => (r.ok ? '' : r.kind))).toEqual([]);
  });

  it('past the server-wide cap and its queue, a sign-in is refused as throttled without hashing; the queued ones are answered', async () => {
    const checker = heldChecker();
    const { store, auth } = setup({ check: checker.check, hashSlots: { concurrent: 2, queue: 1 } });
    store.add('longnv@nghean.gov.vn');
    // Three networks, one wrong password each: two hash, one waits its turn.
    const pending = [1, 2, 3].map((n) => auth.signIn(req('longnv', 'Sai#mat-khau1', `198.51.${n}.7`)));
    await settle();
    expect(checker.calls).toBe(2);
    // A fourth from yet another network: refused at once, nothing hashed.
    const refused = await auth.signIn(req('khongco', 'Sai#mat-khau1', '192.0.2.44'));
    expect(!refused.ok && [refused.kind, refused.message]).toEqual(['throttled', expect.stringContaining('Too many sign-ins at once')]);
    expect(checker.calls).toBe(2);
    // The held checks end; the queued one then gets its turn.
    checker.releaseAll();
    await settle();
    expect(checker.calls).toBe(3);
    checker.releaseAll();
    expect((await Promise.all(pending)).map((r) => !r.ok && r.kind)).toEqual(['bad-credentials', 'bad-credentials', 'bad-credentials']);
    // Room again: the right password gets in.
    expect((await auth.signIn(req('longnv', PASSWORD, '192.0.2.44'))).ok).toBe(true);
  });

  it('one IPv6 /48 holds at most 4× the per-IP cap however many /64s it uses; a sign-in from another network gets through meanwhile', async () => {
    expect(throttleBlockOf('2001:db8:0:1f::2')).toBe('2001:db8:0::/48');
    expect(throttleBlockOf('198.51.100.7')).toBeNull();
    const checker = heldChecker();
    // The server-wide cap is out of the way here: the /48 gate alone.
    const { store, auth } = setup({ check: checker.check, hashSlots: { concurrent: 100, queue: 100 } });
    store.add('longnv@nghean.gov.vn');
    store.add('hoa@nghean.gov.vn');
    // 20 /64s of one /48, two attempts each (the per-/64 cap is 2): 40 attempts, 8 (4 × 2) let through.
    const flood: Array<Promise<{ ok: boolean; kind?: string }>> = [];
    for (let net = 0; net < 20; net++) for (let k = 1; k <= 2; k++) flood.push(auth.signIn(req('longnv', 'Sai#mat-khau1', `2001:db8:0:${net.toString(16)}::${k}`)));
    await settle();
    expect(checker.calls).toBe(8);
    // Another network signs in while the flood's checks are still held.
    const legit = await auth.signIn(req('hoa', PASSWORD, '203.0.113.9'));
    expect(legit.ok).toBe(true);
    // Another /48 of the same provider is not this one.
    const neighbour = auth.signIn(req('longnv', 'Sai#mat-khau1', '2001:db8:1::5'));
    await settle();
    expect(checker.calls).toBe(10);
    checker.releaseAll();
    const results = await Promise.all([...flood, neighbour]);
    expect(results.filter((r) => !r.ok && r.kind === 'throttled')).toHaveLength(32);
    expect(results.filter((r) => !r.ok && r.kind === 'bad-credentials')).toHaveLength(9);
  });

  it('the portal takes the same turns: past the cap it refuses as throttled without hashing', async () => {
    const checker = heldChecker();
    const { store, auth } = setup({ check: checker.check, hashSlots: { concurrent: 1, queue: 0 } });
    store.add('longnv@nghean.gov.vn');
    const pending = auth.signIn(req('longnv', 'Sai#mat-khau1', '198.51.100.1'));
    await settle();
    const web = await auth.portalSecurity({ ...req('longnv', 'Sai#mat-khau1', '198.51.100.2', 'http'), totp: null, op: { kind: 'show' } });
    expect(!web.ok && web.kind).toBe('throttled');
    expect(checker.calls).toBe(1);
    checker.releaseAll();
    await pending;
  });
});

describe('a unit mailbox is not signed in to with its own password (R-ACC-6)', () => {
  it('its own name is refused with how its delegate signs in, its hash never checked; the delegate still opens it', async () => {
    let unitChecks = 0;
    const { store, auth } = setup({
      check: async (h, p) => {
        if (h === 'unit-hash') unitChecks++;
        return verifyPassword(h === 'unit-hash' ? hash : h, p);
      },
    });
    const clerk = store.add('vanlt@nghean.gov.vn');
    const unit = store.add('vpubnd@nghean.gov.vn', { kind: 'unit', passwordHash: 'unit-hash' });
    store.delegations.set(unit.id, [clerk.id]);
    for (const name of ['vpubnd', 'vpubnd@nghean.gov.vn']) {
      const r = await auth.signIn(req(name, PASSWORD));
      expect(!r.ok && r.kind).toBe('bad-credentials');
      expect(!r.ok && r.message).toMatch(/^Hộp thư đơn vị vpubnd@nghean\.gov\.vn .+ \/ The unit mailbox vpubnd@nghean\.gov\.vn .+ signs in as "vpubnd@nghean\.gov\.vn\*<your user name>" with their own password$/);
    }
    // As its own authorization identity too.
    expect((await auth.signIn({ ...req('vpubnd', PASSWORD), authzid: 'vpubnd' })).ok).toBe(false);
    expect(unitChecks).toBe(0);
    // The refused attempts are in the unit mailbox's history, with their reason.
    await settle();
    expect(store.signIns.filter((s) => s.accountId === unit.id).map((s) => s.reason)).toContain('unit-own-password');
    // The portal: no password change, no security page for the unit mailbox itself.
    const change = await auth.changePassword({ ...req('vpubnd', PASSWORD, '10.0.0.5', 'http'), newPassword: 'Chung-ca-phong#1', totp: null });
    expect(!change.ok && [change.kind, change.message]).toEqual(['bad-credentials', expect.stringMatching(/^Hộp thư đơn vị .+ \/ The unit mailbox vpubnd@nghean\.gov\.vn is not signed in to on the web; sign in with your own account/)]);
    expect(unit.passwordHash).toBe('unit-hash');
    expect((await auth.portalSecurity({ ...req('vpubnd@nghean.gov.vn', PASSWORD, '10.0.0.5', 'http'), totp: null, op: { kind: 'show' } })).ok).toBe(false);
    expect(unitChecks).toBe(0);
    // The delegate opens it with its own password.
    const r = await auth.signIn(req('vpubnd*vanlt', PASSWORD, '10.0.0.6'));
    expect(r.ok && [r.account.address, r.delegate?.address]).toEqual(['vpubnd@nghean.gov.vn', 'vanlt@nghean.gov.vn']);
  });
});

describe('a wrong password is answered without waiting on the bookkeeping', () => {
  it('answers even when the history write never completes (sign-in and portal)', async () => {
    class StuckStore extends FakeStore {
      writes = 0;
      override recordSignIn(_e: SignInEntry): Promise<void> {
        this.writes++;
        return new Promise<void>(() => undefined);
      }
    }
    const store = new StuckStore();
    store.add('longnv@nghean.gov.vn');
    const { auth } = setup({ store });
    const hung = Symbol('hung');
    // Whether the answer comes at all (before the write would: never); no time is measured.
    const race = async <T,>(p: Promise<T>): Promise<T | typeof hung> => {
      let timer: NodeJS.Timeout | undefined;
      const out = await Promise.race([p, new Promise<typeof hung>((r) => (timer = setTimeout(() => r(hung), 5000)))]);
      clearTimeout(timer);
      return out;
    };
    const r = await race(auth.signIn(req('longnv', 'Sai#mat-khau1')));
    expect(r !== hung && !r.ok && r.kind).toBe('bad-credentials');
    const web = await race(auth.changePassword({ ...req('longnv', 'Sai#mat-khau1', '10.0.0.5', 'http'), newPassword: 'Mat-khau-moi#2027', totp: null }));
    expect(web !== hung && !web.ok && web.kind).toBe('bad-credentials');
    // The writes were asked for all the same.
    expect(store.writes).toBe(2);
  });

  it('drain() (the app stop()s with it before closing the store) waits for the history rows written after their answers', async () => {
    const done: Array<() => void> = [];
    class SlowStore extends FakeStore {
      override recordSignIn(e: SignInEntry): Promise<void> {
        return new Promise<void>((r) => done.push(() => void super.recordSignIn(e).then(r)));
      }
    }
    const store = new SlowStore();
    store.add('longnv@nghean.gov.vn');
    const { auth } = setup({ store });
    const r = await auth.signIn(req('longnv', 'Sai#mat-khau1'));
    expect(!r.ok && r.kind).toBe('bad-credentials');
    let drained = false;
    const draining = auth.drain().then(() => (drained = true));
    await settle();
    expect(drained).toBe(false);
    expect(done).toHaveLength(1);
    done.splice(0).forEach((f) => f());
    await draining;
    expect(drained).toBe(true);
  });
});

describe('names are counted alike whether or not they have accounts', () => {
  it('an unknown name and its secondary-domain form count together, as an existing one does', async () => {
    const { store, auth, sleeps } = setup();
    store.add('longnv@other.gov.vn');
    const fourthDelay = async (name: string, base: number): Promise<number> => {
      for (let i = 0; i < 3; i++) await auth.signIn(req(name, 'Sai#mat-khau1', `198.51.100.${base + i}`));
      sleeps.length = 0;
      await auth.signIn(req(`${name}@other.gov.vn`, 'Sai#mat-khau1', `198.51.100.${base + 10}`));
      return sleeps[0] ?? 0;
    };
    const known = await fourthDelay('longnv', 10);
    const unknown = await fourthDelay('ghost', 50);
    expect(known).toBe(8000);
    expect(unknown).toBe(known);
  });

  it('a wrong password sent as a bare local part counts against every account it was checked against', async () => {
    const checker = { calls: 0 };
    const { store, auth } = setup({
      security: { accountGuardFailures: 3 },
      check: async (h, p) => {
        checker.calls++;
        return verifyPassword(h, p);
      },
    });
    store.add('longnv@nghean.gov.vn');
    store.add('longnv@other.gov.vn');
    for (let i = 1; i <= 3; i++) expect((await auth.signIn(req('longnv', `Doan#${i}aA`, `198.51.100.${i}`))).ok).toBe(false);
    // Both accounts were checked each time (6 checks), so both are now guessed from that network:
    // the secondary domain's account, asked for by its full address, is held back unchecked.
    expect(checker.calls).toBe(6);
    const r = await auth.signIn(req('longnv@other.gov.vn', 'Doan#4aA', '198.51.100.9'));
    expect(!r.ok && r.kind).toBe('throttled');
    expect(checker.calls).toBe(6);
    // A network that has not guessed is checked at once.
    expect((await auth.signIn(req('longnv@other.gov.vn', PASSWORD, '203.0.113.5'))).ok).toBe(true);
  });
});
