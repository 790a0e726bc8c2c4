/**
 * A TCP listener (plain, or implicit TLS) with connection caps, for IMAP and POP3:
 *
 *   const l = createTcpListener({
 *     name: 'pop3', host, port, tls: null,                    // or a SecureContext for pop3s/imaps
 *     maxConnectionsPerIp: 100, maxConnectionsTotal: 10000, log,
 *     refusal: (why) => '-ERR [SYS/TEMP] …\r\n',             // written on plain listeners before closing
 *     onConnection: (conn) => startSession(conn),
 *   });
 *   const bound = await l.listen();   // { name, host, port } (port 0 → the port picked)
 *   await l.close(1000);              // stop accepting; sockets still open after 1 s are destroyed
 *
 * Caps are checked when the TCP connection arrives, before any TLS handshake or session work.
 * Per-IP counting folds "::ffff:1.2.3.4" into "1.2.3.4". Listeners of one service (imap + imaps,
 * pop3 + pop3s) share their counts by passing the same `counters` (see createListenerCounters). A connection counts until its raw
 * socket closes (after a STARTTLS upgrade too). With implicit TLS, onConnection runs after the
 * handshake (which must finish within handshakeTimeoutMs).
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { SecureContext, TLSSocket } from 'node:tls';
import { MailError, bi } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import type { BoundListener } from '../lib/service.js';
import { ConnectionCounter, normalizeIp } from './limits.js';
import { startServerTls } from './starttls.js';

export interface Connection {
  /** The socket to talk on: a TLSSocket on implicit-TLS listeners. */
  socket: Socket | TLSSocket;
  /** The TCP socket underneath (the same object on plain listeners). */
  raw: Socket;
  /** Short id for logs. */
  id: string;
  /** Client address, "::ffff:" folded away. */
  ip: string;
  port: number;
  /** Implicit TLS. Sessions that upgrade with STARTTLS track this themselves. */
  secure: boolean;
}

export type RefusalReason = 'per-ip' | 'total' | 'closing';

export interface TcpListenerOptions {
  name: string;
  host: string;
  port: number;
  /** Implicit TLS when set. */
  tls: SecureContext | null;
  maxConnectionsPerIp: number;
  maxConnectionsTotal: number;
  /** Counters shared with sibling listeners; without them this listener counts alone. */
  counters?: ListenerCounters;
  handshakeTimeoutMs?: number;
  log: Logger;
  /** A line to write on a plain connection that is refused (omit to just close). */
  refusal?: (reason: RefusalReason) => string;
  onConnection: (conn: Connection) => void;
}

export interface TcpListener {
  listen(): Promise<BoundListener>;
  close(graceMs?: number): Promise<void>;
  /** Connections open now. */
  readonly open: number;
  healthy(): boolean;
}

/** Per-IP and total connection counts, shareable between listeners. */
export interface ListenerCounters {
  perIp: ConnectionCounter;
  total: ConnectionCounter;
}

export function createListenerCounters(maxConnectionsPerIp: number, maxConnectionsTotal: number): ListenerCounters {
  return { perIp: new ConnectionCounter(maxConnectionsPerIp), total: new ConnectionCounter(maxConnectionsTotal) };
}

let nextId = 1;

export function createTcpListener(opts: TcpListenerOptions): TcpListener {
  const counters = opts.counters ?? createListenerCounters(opts.maxConnectionsPerIp, opts.maxConnectionsTotal);
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  let failed = false;
  let closing = false;

  function refuse(socket: Socket, reason: RefusalReason, ip: string): void {
    opts.log.warn({ listener: opts.name, ip, reason }, 'connection refused: over the limit');
    socket.on('error', () => undefined);
    if (opts.refusal && !opts.tls) socket.end(opts.refusal(reason));
    else socket.destroy();
    // A client that never reads must not hold the socket open.
    setTimeout(() => socket.destroy(), 5000).unref();
  }

  function accept(socket: Socket): void {
    const ip = normalizeIp(socket.remoteAddress);
    if (closing) return refuse(socket, 'closing', ip);
    const releaseTotal = counters.total.acquire('all');
    if (!releaseTotal) return refuse(socket, 'total', ip);
    const releaseIp = counters.perIp.acquire(ip);
    if (!releaseIp) {
      releaseTotal();
      return refuse(socket, 'per-ip', ip);
    }
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      releaseIp();
      releaseTotal();
    });
    socket.setNoDelay(true);
    const conn = { raw: socket, id: `${opts.name}-${nextId++}`, ip, port: socket.remotePort ?? 0 };
    if (!opts.tls) {
      opts.onConnection({ ...conn, socket, secure: false });
      return;
    }
    socket.on('error', () => undefined); // the handshake reports errors through its promise
    startServerTls(socket, { secureContext: opts.tls, handshakeTimeoutMs: opts.handshakeTimeoutMs ?? 30_000 }).then(
      (secure) => opts.onConnection({ ...conn, socket: secure, secure: true }),
      (err: unknown) => {
        opts.log.debug({ listener: opts.name, ip, err }, 'TLS handshake failed');
        socket.destroy();
      },
    );
  }

  return {
    get open() {
      return sockets.size;
    },
    healthy: () => !failed,
    listen() {
      return new Promise<BoundListener>((resolve, reject) => {
        const s = createServer({ pauseOnConnect: false }, accept);
        server = s;
        const refused = (e: Error): void => reject(listenError(opts.name, opts.host, opts.port, e));
        s.once('error', refused);
        s.listen(opts.port, opts.host, () => {
          s.off('error', refused);
          s.on('error', (err) => {
            failed = true;
            opts.log.error({ err, listener: opts.name }, 'listener failed');
          });
          const addr = s.address();
          const port = typeof addr === 'object' && addr ? addr.port : opts.port;
          resolve({ name: opts.name, host: opts.host, port });
        });
      });
    },
    async close(graceMs = 1000) {
      closing = true;
      const s = server;
      server = null;
      if (!s) return;
      const closed = new Promise<void>((r) => s.close(() => r()));
      if (sockets.size > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, graceMs);
          timer.unref();
          const check = () => {
            if (sockets.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          };
          for (const sock of sockets) sock.once('close', check);
        });
        for (const sock of sockets) sock.destroy();
      }
      await closed;
    },
  };
}

/**
 * Why a listener could not bind, for the administrator (a config problem, exit 1): which
 * listener, which address, and what to change; Node's own text is kept as the detail.
 */
export function listenError(name: string, host: string, port: number, e: unknown): unknown {
  const code = (e as { code?: string } | null)?.code;
  const where = `listeners.${name} (${host}:${port})`;
  if (code === 'EADDRINUSE') {
    return new MailError(
      'CONFIG',
      bi(`Cổng của ${where} đang được một chương trình khác dùng; hãy dừng chương trình đó hoặc đổi cổng trong cấu hình`, `the port of ${where} is in use by another program; stop it or change the port in the config`),
      e,
    );
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new MailError(
      'CONFIG',
      bi(`Không được phép mở ${where}: cổng dưới 1024 cần quyền root; hãy dùng cổng mặc định và chuyển cổng phía trước`, `not allowed to open ${where}: ports below 1024 need root; use the default port and map the standard one in front`),
      e,
    );
  }
  if (code === 'EADDRNOTAVAIL') {
    return new MailError('CONFIG', bi(`Máy này không có địa chỉ ${host} của ${where}`, `this machine has no address ${host} for ${where}`), e);
  }
  return e;
}
