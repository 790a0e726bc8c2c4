/** The store and account service the import tests run against: two units of Nghệ An, the given domains. */
import { rmSync } from 'node:fs';
import { createAccountService, superActor, type AccountService } from '../../../src/accounts/service.js';
import { configFrom } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/schema.js';
import { systemClock } from '../../../src/lib/clock.js';
import { silentLogger } from '../../../src/lib/log.js';
import type { Store } from '../../../src/store/port.js';
import { openSqliteStore } from '../../../src/store/sqlite/index.js';
import { testDir } from '../../helpers/app.js';

export const importActor = superActor('cli:test');

export interface ImportFixture {
  dir: string;
  store: Store;
  svc: AccountService;
  config: Readonly<Config>;
  close(): Promise<void>;
}

export async function openImportFixture(prefix: string, domains: string[]): Promise<ImportFixture> {
  const dir = testDir(prefix);
  const config = configFrom({ domains, storage: { dir } });
  const store = await openSqliteStore({ dir, log: silentLogger(), clock: systemClock, inlineBlobMaxBytes: 65536, groupCommitWindowMs: 0 });
  for (const d of domains) await store.addDomain(d, { actor: 'test', action: 'domain.add', target: d });
  const svc = createAccountService({ store, config, clock: systemClock, log: silentLogger() });
  await svc.addUnit({ name: 'Sở Thông tin và Truyền thông' }, importActor);
  await svc.addUnit({ name: 'Sở Tài chính' }, importActor);
  return {
    dir,
    store,
    svc,
    config,
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
