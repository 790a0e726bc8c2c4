/**
 * The one place that builds and wires everything (DESIGN.md). `main.ts` uses it to serve;
 * protocol tests use it to run the real server on port 0.
 */
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Config } from './config/schema.js';
import { systemClock, type Clock } from './lib/clock.js';
import { createLogger, type Logger } from './lib/log.js';
import { createMetrics, type Metrics } from './lib/metrics.js';
import type { BoundListener, Service } from './lib/service.js';
import type { Account, BackupTools, Store } from './store/port.js';
import { openSqliteStore } from './store/sqlite/index.js';
import { acquireServeLock } from './store/sqlite/serve-lock.js';
import { MailError, bi } from './lib/errors.js';
import { sqliteBackupTools } from './store/sqlite/backup.js';
import { securityChangeNotice, unusualSignInNotice, type SecurityChangeInfo, type SecurityNotice } from './auth/security-notices.js';
import { createAuthService, type AuthService, type UnusualSignIn } from './auth/service.js';
import { loadTlsOptions, type TlsMaterial } from './net/tls.js';
import { ConnectionCounter } from './net/limits.js';
import { createPop3Service } from './pop3/server.js';
import { createHttpService } from './http/server.js';
import { ensureBootstrap, type BootstrapResult } from './accounts/bootstrap.js';
import { createAccountService, type AccountService } from './accounts/service.js';
import { createDelivery } from './delivery/index.js';
import { deliverNotice } from './policy/notice.js';
import { createPipeline } from './policy/pipeline.js';
import { checkQuotaWarnings } from './policy/quota-warnings.js';
import { createSpamLearner } from './policy/spam-learner.js';
import { createQueueRunner } from './smtp/queue.js';
import { createSmtpService } from './smtp/server.js';
import { createImapService } from './imap/server.js';

/**
 * Checking and restoring backups of the configured store (R-OPS-1). They work on closed stores,
 * so they are reached here rather than through an App (`buudien backup restore` opens none).
 */
export const backupTools: BackupTools = sqliteBackupTools;

export interface AppOptions {
  config: Readonly<Config>;
  log?: Logger;
  clock?: Clock;
  /**
   * `buudien serve`: this process is the storage directory's one server (store/sqlite/serve-lock.ts);
   * a second is refused at once. The CLI's other commands open the store without it.
   */
  exclusive?: boolean;
}

export interface App {
  readonly config: Readonly<Config>;
  readonly store: Store;
  readonly log: Logger;
  readonly clock: Clock;
  readonly metrics: Metrics;
  /** Actual addresses after start(), by listener name. */
  readonly listeners: Map<string, BoundListener>;
  /** What the first-start bootstrap did; `buudien serve` prints the one-time admin password from it. */
  readonly bootstrap: BootstrapResult;
  /** The one sign-in service every protocol uses. */
  readonly auth: AuthService;
  /** Account management (the CLI, /admin, the request-form import act through it). */
  readonly accounts: AccountService;
  /** TLS key, certificate and secure context shared by the listeners. */
  readonly tls: TlsMaterial;
  start(): Promise<void>;
  stop(): Promise<void>;
  healthy(): boolean;
}

/**
 * The storage directory holds every message and password hash: only its owner may enter it
 * (0700), whatever the umask made it, so files below it are private even if created 0644. One
 * owned by another user (a shared volume set up by hand) is left as it is, with a warning.
 */
function privateDirectory(dir: string, log: Logger): void {
  try {
    if ((statSync(dir).mode & 0o077) !== 0) chmodSync(dir, 0o700);
  } catch (err) {
    log.warn({ err, dir }, 'storage.dir: could not make it private to its owner (chmod 700)');
  }
}

export async function createApp(opts: AppOptions): Promise<App> {
  const { config } = opts;
  const log = opts.log ?? createLogger({ level: config.log.level });
  const clock = opts.clock ?? systemClock;
  const dir = path.resolve(config.storage.dir);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    const [vi, en] = code === 'EEXIST' || code === 'ENOTDIR' ? ['ở đó là một tệp, không phải thư mục', 'a file, not a directory, is there'] : code === 'EACCES' ? ['không có quyền', 'permission denied'] : [code, code];
    throw new MailError('CONFIG', bi(`Không tạo được thư mục lưu trữ storage.dir (${dir}): ${vi}`, `cannot create the storage directory storage.dir (${dir}): ${en}`), e);
  }
  privateDirectory(dir, log);
  const releaseServeLock = opts.exclusive ? acquireServeLock(dir) : () => undefined;
  const store = await openSqliteStore({
    dir,
    log,
    clock,
    inlineBlobMaxBytes: config.storage.inlineBlobMaxBytes,
    groupCommitWindowMs: config.storage.groupCommitWindowMs,
    parseLimits: { maxDepth: config.limits.maxMimeDepth, maxParts: config.limits.maxMimeParts, maxHeaderBytes: config.limits.maxHeaderBytes, maxAddresses: config.limits.maxAddressesPerHeader },
  }).catch((e: unknown) => {
    releaseServeLock();
    throw e;
  });

  const metrics = createMetrics({ collectDefaults: true });
  const services: Service[] = [];
  const listeners = new Map<string, BoundListener>();
  // A wiring step that throws (a bad policy rule, an unreadable certificate) must not leave the store open.
  const wired = await wire().catch(async (e: unknown) => {
    await store.close().catch(() => undefined);
    releaseServeLock();
    throw e;
  });
  const { auth, accounts, tls, bootstrap } = wired;

  /** Security notices on their way into INBOXes (a CLI command's must land before its store closes). */
  const pendingNotices = new Set<Promise<void>>();

  async function wire(): Promise<{ auth: AuthService; accounts: AccountService; tls: TlsMaterial; bootstrap: BootstrapResult }> {
    // ── wiring: each part adds its service here (keep one block per part) ──
    // shared by every protocol: the one sign-in service, the TLS material (net/tls.ts), and the
    // per-account connection count (security.maxConnectionsPerAccount) that IMAP and POP3 share.
    // A sign-in from a network the account has not used for 90 days, and every change to how an
    // account signs in (by its user or an administrator): the user is told by mail (R-AUTH-5).
    // Notices are not awaited by what caused them; stop() waits for them before closing the store.
    const changeUrl = config.passwords.changeUrl;
    const notice = (account: Account, n: SecurityNotice): Promise<void> => {
      const p = deliverNotice({ store, config, clock }, account, n).finally(() => pendingNotices.delete(p));
      pendingNotices.add(p);
      return p;
    };
    // async: even a throw while the text is built becomes a rejection the caller's .catch logs.
    const onUnusualSignIn = async (account: Account, info: UnusualSignIn): Promise<void> => notice(account, unusualSignInNotice(account.address, info, changeUrl));
    const onSecurityChange = async (account: Account, info: SecurityChangeInfo): Promise<void> => notice(account, securityChangeNotice(account.address, info, changeUrl));
    const auth = createAuthService({ store, config, clock, log, metrics, onUnusualSignIn, onSecurityChange });
    // accounts: the CLI, /admin and the request-form import change accounts through this one service.
    const accounts = createAccountService({ store, config, clock, log, onSecurityChange });
    const tls = loadTlsOptions(config, dir, log);
    const accountConnections = new ConnectionCounter(config.security.maxConnectionsPerAccount);
    // accounts: first start creates the configured domains and the super-administrator (idempotent).
    const bootstrap = await ensureBootstrap({ store, config, log, clock });
    // smtp: MX inbound, submission, submissions (one service) and the durable outbound queue runner.
    const delivery = createDelivery({ store, config, log, clock, metrics });
    const pipeline = createPipeline({ config, log, store, clock });
    services.push(createSmtpService({ config, log, clock, store, metrics, auth, delivery, tls, pipeline }));
    // serve (holding the storage dir's lock): claims left by a process that died are released at start.
    services.push(createQueueRunner({ config, log, clock, store, metrics, delivery, releaseClaimsAtStart: opts.exclusive === true }));
    // policy: teach rspamd when users move mail into/out of Junk or set $Junk/$NotJunk (store events; no-op without policy.rspamd).
    services.push(createSpamLearner({ store, config, log }));
    // imap: 'imap' (STARTTLS) and 'imaps' (implicit TLS) listeners, one service.
    const quotaWarnings = (accountId: number): Promise<unknown> => checkQuotaWarnings({ store, config, clock }, accountId);
    services.push(createImapService({ store, auth, config, log, metrics, clock, tls: tls.secureContext, perAccount: accountConnections, quotaWarnings }));
    // pop3: 'pop3' (STLS) and 'pop3s' (implicit TLS) listeners, one service; one maildrop lock per account.
    services.push(
      createPop3Service({ store, auth, config, log, metrics, tls, accountConnections }),
    );
    // ── end of wiring ──
    // HTTP last: /healthz reports the listeners above, so it starts once they are up.
    const others = [...services];
    services.push(
      createHttpService({
        config,
        log,
        metrics,
        store,
        auth,
        // The administrators' page (/admin) acts through the account service, as the CLI does.
        accounts,
        clock,
        listenersHealthy: () => others.every((s) => s.healthy()),
        boundPort: (name) => listeners.get(name)?.port,
      }),
    );
    return { auth, accounts, tls, bootstrap };
  }

  let started: Service[] = [];

  async function stop(): Promise<void> {
    const toStop = started.reverse();
    started = [];
    for (const s of toStop) {
      try {
        await s.stop();
      } catch (e) {
        log.error({ err: e, service: s.name }, 'service did not stop cleanly');
      }
    }
    await Promise.allSettled([...pendingNotices]);
    // Sign-in history rows of refusals are written after their answers (auth/service.ts).
    await auth.drain();
    try {
      await store.close();
    } finally {
      releaseServeLock();
    }
  }

  return {
    config,
    store,
    log,
    clock,
    metrics,
    listeners,
    bootstrap,
    auth,
    accounts,
    tls,
    stop,
    async start() {
      try {
        for (const s of services) {
          let bound;
          try {
            bound = await s.start();
          } catch (e) {
            // A service with several listeners may have opened some before one failed (a port in
            // use): stop it too, or its open listeners keep the process alive after the failure.
            started.push(s);
            throw e;
          }
          started.push(s);
          for (const b of bound) {
            listeners.set(b.name, b);
            log.info({ listener: b.name, host: b.host, port: b.port }, `listening: ${b.name} on ${b.host}:${b.port}`);
          }
        }
      } catch (e) {
        await stop();
        throw e;
      }
    },
    healthy() {
      return started.length === services.length && services.every((s) => s.healthy());
    },
  };
}
