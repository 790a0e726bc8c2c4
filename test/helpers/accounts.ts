/**
 * Test accounts made straight in the store, with a real password hash, as the account
 * service would leave them. Shared by the protocol tests (IMAP, POP3, SMTP, policy).
 */
import { hashPassword } from '../../src/auth/passwords.js';
import { isMailError, type MailErrorCode } from '../../src/lib/errors.js';
import type { Account, AccountKind, AdminRole, Store } from '../../src/store/port.js';

/** The password test accounts get unless a test says otherwise. */
export const PASSWORD = 'Mat-khau#2026';

// Hashing is deliberately slow; one hash per password is enough for a test run.
const hashes = new Map<string, Promise<string>>();
function hashOf(password: string): Promise<string> {
  let h = hashes.get(password);
  if (!h) {
    h = hashPassword(password);
    hashes.set(password, h);
  }
  return h;
}

export interface TestAccountOptions {
  password?: string;
  kind?: AccountKind;
  role?: AdminRole;
  unitId?: number | null;
  quotaBytes?: number | null;
  mustChangePassword?: boolean;
  /** Display name; the local part by default. */
  fullName?: string;
}

/** Create an account `address` that signs in with `opts.password` (default PASSWORD). */
export async function createTestAccount(store: Store, address: string, opts: TestAccountOptions = {}): Promise<Account> {
  return store.createAccount(
    {
      address,
      kind: opts.kind ?? 'personal',
      fullName: opts.fullName ?? address.split('@')[0] ?? address,
      unitId: opts.unitId ?? null,
      ...(opts.role !== undefined ? { role: opts.role } : {}),
      passwordHash: await hashOf(opts.password ?? PASSWORD),
      mustChangePassword: opts.mustChangePassword ?? false,
      ...(opts.quotaBytes !== undefined ? { quotaBytes: opts.quotaBytes } : {}),
    },
    { actor: 'test', action: 'account.create', target: address },
  );
}

/** The MailError code a promise is refused with, or 'ok' (other errors are rethrown). */
export async function errorCode(p: Promise<unknown>): Promise<MailErrorCode | 'ok'> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (isMailError(e)) return e.code;
    throw e;
  }
}

/** An active personal account as the store would return it, for in-memory fake stores. */
export function fakeAccount(id: number, address: string, passwordHash: string, at: Date, patch: Partial<Account> = {}): Account {
  const [localPart = address, domain = ''] = address.split('@');
  return {
    id, address, localPart, domain, kind: 'personal', role: 'none', state: 'active',
    stateReason: null, stateChangedAt: null, stateRef: null, fullName: localPart, title: null, phone: null,
    unitId: null, quotaBytes: null, passwordHash, mustChangePassword: false,
    passwordChangedAt: at, totpSecret: null, smsTwoFactor: false, createdAt: at, lastLoginAt: null,
    ...patch,
  };
}
