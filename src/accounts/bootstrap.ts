/**
 * First start (CONTRACT.md "Set-up"): on an empty store create the configured domains and a
 * super-administrator `admin@<first domain>` with a one-time password that must be changed at
 * first sign-in. Later starts only add newly configured domains. The password is returned, never
 * logged: `buudien serve` prints it once (bootstrapNotice).
 */
import type { Config } from '../config/schema.js';
import { systemClock, type Clock } from '../lib/clock.js';
import { bi } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import type { Store } from '../store/port.js';
import { createAccountService, superActor } from './service.js';

export interface BootstrapResult {
  /** Domains added on this start. */
  addedDomains: string[];
  /** Set only on the start that created the super-administrator. */
  admin: { address: string; oneTimePassword: string } | null;
}

export const BOOTSTRAP_ACTOR = 'system:bootstrap';

export async function ensureBootstrap(deps: { store: Store; config: Readonly<Config>; log: Logger; clock?: Clock }): Promise<BootstrapResult> {
  const { store, config, log } = deps;
  const existing = new Set((await store.listDomains()).map((d) => d.name));
  const addedDomains: string[] = [];
  for (const d of config.domains) {
    if (existing.has(d)) continue;
    await store.addDomain(d, { actor: BOOTSTRAP_ACTOR, action: 'domain.add', target: d, ref: null, details: { from: 'config' } });
    addedDomains.push(d);
    log.info({ domain: d }, 'domain added from config');
  }

  let admin: BootstrapResult['admin'] = null;
  const accounts = await store.listAccounts();
  if (accounts.length === 0) {
    const service = createAccountService({ store, config, clock: deps.clock ?? systemClock, log });
    const result = await service.addAccount(
      { fullName: 'Quản trị hệ thống', address: `admin@${config.domains[0] ?? 'example.gov.vn'}`, kind: 'admin', role: 'super', forceChange: true },
      superActor(BOOTSTRAP_ACTOR),
    );
    admin = { address: result.account.address, oneTimePassword: result.oneTimePassword ?? '' };
    log.info({ address: result.account.address }, 'super-administrator created (one-time password printed by serve)');
  }
  return { addedDomains, admin };
}

/** The lines `serve` prints once on the first start. */
export function bootstrapNotice(result: BootstrapResult): string[] {
  if (!result.admin) return [];
  const { address, oneTimePassword } = result.admin;
  return [
    bi(`Đã tạo quản trị hệ thống ${address}`, `created the system administrator ${address}`),
    `${bi('Mật khẩu dùng một lần', 'one-time password')}: ${oneTimePassword}`,
    bi('Mật khẩu này chỉ hiện một lần; phải đổi khi đăng nhập lần đầu', 'this password is shown only once; it must be changed at first sign-in'),
  ];
}
