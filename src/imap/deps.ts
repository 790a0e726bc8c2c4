/** What the IMAP service needs from the rest of the app (app.ts passes these in). */
import type { SecureContext } from 'node:tls';
import type { AuthService } from '../auth/index.js';
import type { Config } from '../config/schema.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/log.js';
import type { Metrics } from '../lib/metrics.js';
import type { ConnectionCounter } from '../net/index.js';
import type { Store } from '../store/port.js';

export interface ImapDeps {
  store: Store;
  /** The one sign-in module shared with SMTP and POP3. */
  auth: Pick<AuthService, 'signIn' | 'plaintextAllowed'>;
  config: Readonly<Config>;
  log: Logger;
  metrics: Metrics;
  clock: Clock;
  /** The server's TLS context (net/tls.ts loadTlsOptions(...).secureContext). */
  tls: SecureContext;
  /** Per-account connection counter; pass POP3's to share security.maxConnectionsPerAccount. */
  perAccount?: ConnectionCounter;
  /** R-STORE-3: send the account's quota warning if APPEND or COPY crossed a threshold (the app wires policy/quota-warnings.ts). */
  quotaWarnings?: (accountId: number) => Promise<unknown>;
}
