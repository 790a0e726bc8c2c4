/** The quota an account has: its own, else the default for its kind (R-STORE-1). */
import type { Config } from '../config/schema.js';
import type { Account } from '../store/port.js';

export function quotaOf(account: Account, config: Readonly<Config>): number {
  if (account.quotaBytes !== null) return account.quotaBytes;
  switch (account.kind) {
    case 'unit':
      return config.quota.unitBytes;
    case 'admin':
      return config.quota.adminBytes;
    default:
      return config.quota.personalBytes;
  }
}
