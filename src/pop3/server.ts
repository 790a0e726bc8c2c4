/**
 * The POP3 service: the `pop3` listener (plain, with STLS) and the `pop3s` listener (implicit
 * TLS), each skipped when its config says `enabled: false`.
 *
 *   createPop3Service({ store, auth, config, log, metrics, tls, accountConnections? }): Service
 *
 * Both listeners share one maildrop lock table (one POP3 session per account) and, when given,
 * the app's per-account connection counter (shared with IMAP).
 */
import type { AuthService } from '../auth/service.js';
import type { Config } from '../config/schema.js';
import { bi } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import type { Metrics } from '../lib/metrics.js';
import type { BoundListener, Service } from '../lib/service.js';
import { ConnectionCounter } from '../net/limits.js';
import { createListenerCounters, createTcpListener, type TcpListener } from '../net/listener.js';
import type { TlsMaterial } from '../net/tls.js';
import { err } from './errors.js';
import { MaildropLocks, Pop3Session, type Pop3Store } from './session.js';

export interface Pop3Deps {
  store: Pop3Store;
  auth: AuthService;
  config: Readonly<Pick<Config, 'listeners' | 'security' | 'pop3' | 'organization'>>;
  log: Logger;
  metrics: Pick<Metrics, 'connections' | 'connectionsOpen'>;
  /** null: no STLS and no pop3s listener. */
  tls: Pick<TlsMaterial, 'secureContext'> | null;
  /** Shared per-account connection counter (security.maxConnectionsPerAccount); one is made if absent. */
  accountConnections?: ConnectionCounter;
}

const REFUSAL = {
  'per-ip': bi('Quá nhiều kết nối từ địa chỉ này', 'Too many connections from this address'),
  total: bi('Máy chủ đang quá tải', 'The server is too busy'),
  closing: bi('Máy chủ đang dừng', 'The server is shutting down'),
} as const;

export function createPop3Service(deps: Pop3Deps): Service {
  const { config, log, metrics } = deps;
  const locks = new MaildropLocks();
  const accountConnections = deps.accountConnections ?? new ConnectionCounter(config.security.maxConnectionsPerAccount);
  const sessions = new Set<Pop3Session>();
  const listeners: TcpListener[] = [];
  // pop3 and pop3s count connections together (per IP and in total).
  const counters = createListenerCounters(config.security.maxConnectionsPerIp, config.security.maxConnectionsTotal);

  function listenerFor(name: 'pop3' | 'pop3s'): TcpListener | null {
    const l = config.listeners[name];
    if (!l.enabled) return null;
    const implicit = name === 'pop3s';
    if (implicit && !deps.tls) {
      log.warn('pop3s: no TLS material; listener not started');
      return null;
    }
    return createTcpListener({
      name,
      host: l.host,
      port: l.port,
      tls: implicit && deps.tls ? deps.tls.secureContext : null,
      maxConnectionsPerIp: config.security.maxConnectionsPerIp,
      maxConnectionsTotal: config.security.maxConnectionsTotal,
      counters,
      log,
      refusal: (why) => err(REFUSAL[why], 'SYS/TEMP'),
      onConnection: (conn) => {
        metrics.connections.inc({ protocol: 'pop3' });
        metrics.connectionsOpen.inc({ protocol: 'pop3' });
        const session = new Pop3Session(conn, {
          store: deps.store,
          auth: deps.auth,
          limits: config.pop3,
          hostname: config.organization.hostname,
          log,
          tls: deps.tls?.secureContext ?? null,
          locks,
          accountConnections,
        });
        sessions.add(session);
        void session.run().finally(() => {
          sessions.delete(session);
          metrics.connectionsOpen.dec({ protocol: 'pop3' });
        });
      },
    });
  }

  return {
    name: 'pop3',
    async start(): Promise<BoundListener[]> {
      const bound: BoundListener[] = [];
      try {
        for (const name of ['pop3', 'pop3s'] as const) {
          const l = listenerFor(name);
          if (!l) continue;
          listeners.push(l);
          bound.push(await l.listen());
        }
      } catch (e) {
        await Promise.all(listeners.splice(0).map((l) => l.close(0)));
        throw e;
      }
      return bound;
    },
    async stop(): Promise<void> {
      for (const s of sessions) s.shutdown();
      await Promise.all(listeners.splice(0).map((l) => l.close(2000)));
    },
    healthy: () => listeners.every((l) => l.healthy()),
  };
}
