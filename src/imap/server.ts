/**
 * The IMAP service: the 'imap' (STARTTLS) and 'imaps' (implicit TLS) listeners, one Session
 * per connection, and the mailbox hub that carries changes between sessions.
 *
 *   const imap = createImapService({ store, auth, config, log, metrics, clock, tls });
 *   await imap.start();   // → [{ name: 'imap', … }, { name: 'imaps', … }] (disabled listeners skipped)
 */
import { bi } from '../lib/errors.js';
import type { BoundListener, Service } from '../lib/service.js';
import { ConnectionCounter, createTcpListener, type Connection, type TcpListener } from '../net/index.js';
import { Conn } from './conn.js';
import type { ImapDeps } from './deps.js';
import { MailboxHub } from './hub.js';
import { Session, type ServerShared } from './session.js';

export type { ImapDeps } from './deps.js';

/** How often mailboxes watched by IDLE sessions are checked for other processes' changes. */
const POLL_MS = 1000;

export function createImapService(deps: ImapDeps): Service {
  const { config, log, metrics } = deps;
  const hub = new MailboxHub(deps.store, log, POLL_MS);
  const shared: ServerShared = {
    deps,
    hub,
    perAccount: deps.perAccount ?? new ConnectionCounter(config.security.maxConnectionsPerAccount),
    sessions: new Set(),
  };
  const listeners: TcpListener[] = [];
  let failed = false;

  function onConnection(name: 'imap' | 'imaps', c: Connection): void {
    metrics.connections.inc({ protocol: 'imap' });
    metrics.connectionsOpen.inc({ protocol: 'imap' });
    const conn = new Conn(c.socket, c.secure, c.ip);
    const session = new Session(shared, conn, name);
    shared.sessions.add(session);
    conn.onClose(() => metrics.connectionsOpen.dec({ protocol: 'imap' }));
    session.start().catch((err: unknown) => {
      log.warn({ err }, 'imap session start failed');
      conn.close();
    });
  }

  return {
    name: 'imap',
    async start(): Promise<BoundListener[]> {
      hub.start();
      const bound: BoundListener[] = [];
      for (const name of ['imap', 'imaps'] as const) {
        const lc = config.listeners[name];
        if (!lc.enabled) continue;
        const l = createTcpListener({
          name,
          host: lc.host,
          port: lc.port,
          tls: name === 'imaps' ? deps.tls : null,
          maxConnectionsPerIp: config.security.maxConnectionsPerIp,
          maxConnectionsTotal: config.security.maxConnectionsTotal,
          log,
          refusal: () => `* BYE [UNAVAILABLE] ${bi('Quá nhiều kết nối', 'Too many connections')}\r\n`,
          onConnection: (c) => onConnection(name, c),
        });
        try {
          bound.push(await l.listen());
        } catch (e) {
          failed = true;
          for (const x of listeners) await x.close(0);
          hub.stop();
          throw e;
        }
        listeners.push(l);
      }
      return bound;
    },
    async stop(): Promise<void> {
      const sessions = [...shared.sessions];
      await Promise.all(sessions.map((s) => s.shutdown(bi('Máy chủ đang dừng', 'Server shutting down')).catch(() => undefined)));
      for (const l of listeners.splice(0)) await l.close(1000);
      hub.stop();
    },
    healthy(): boolean {
      return !failed && listeners.every((l) => l.healthy());
    },
  };
}
