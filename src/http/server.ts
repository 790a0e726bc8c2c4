/**
 * The HTTP listener (CONTRACT.md `listeners.http`): /healthz for the Docker HEALTHCHECK,
 * /metrics in Prometheus format, mail-client autoconfiguration (Thunderbird autoconfig,
 * Outlook autodiscover XML and its JSON variant), and the self-service portal (/portal,
 * portal.ts: password change; /portal/security, portal-security.ts: two-factor sign-in and app
 * passwords), and the administrators' page (/admin, admin.ts: R-ACC-7 usage, password resets,
 * suspensions, with a server-side session).
 *
 * Floods: connections are counted per client address ("::ffff:" folded) and in total when they
 * arrive, with the mail listeners' keys security.maxConnectionsPerIp / maxConnectionsTotal (the
 * counts are the HTTP listener's own); one over either cap is closed at once, and refusals are
 * logged at most once a minute with how many there were. A listed reverse proxy
 * (security.trustedProxies) carries every user's connections, so it counts in the total only. A
 * request head must arrive within 15 s of the connection or of its first byte, the whole request
 * within 30 s, an idle keep-alive connection ends after 5 s, and one with nothing sent either
 * way for 60 s during a request or its answer is closed. A request of MAX_HEADERS header fields
 * or more gets 431: Node keeps only the first maxHeadersCount, and a reverse proxy's
 * X-Forwarded-For appended after them would be lost while a forged one before them was believed.
 * A client that hangs up mid-request is no server error (logged at info, nothing answered).
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Config, ListenerName } from '../config/schema.js';
import { bi } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import type { Metrics } from '../lib/metrics.js';
import type { BoundListener, Service } from '../lib/service.js';
import type { AccountService } from '../accounts/service.js';
import type { PortalAuthService } from '../auth/index.js';
import type { Clock } from '../lib/clock.js';
import type { Store } from '../store/port.js';
import { createListenerCounters, listenError, normalizeIp } from '../net/index.js';
import { autoconfigXml, autodiscoverJson, autodiscoverXml } from './autoconfig.js';
import { handleAdmin, isAdminRoute } from './admin.js';
import { createAdminSessionStore } from './admin-session.js';
import { addressList, clientOf, fromUnlistedProxy, handlePortal, listed, logRefusal } from './portal.js';
import { handlePortalSecurity } from './portal-security.js';
import { handlePortalForgot } from './portal-forgot.js';

export interface HttpDeps {
  config: Readonly<Config>;
  log: Logger;
  metrics: Metrics;
  store: Store;
  /** Sign-in, password change, two-factor enrolment and app passwords (the portal). */
  auth: PortalAuthService;
  /** Units and accounts (the administrators' page acts through it, with its rights and audit). */
  accounts: AccountService;
  /** Session expiry on the administrators' page. */
  clock: Clock;
  /** Every other listener up (the app's view). */
  listenersHealthy: () => boolean;
  /** The port a listener actually bound (port 0 in config picks one), if it runs. */
  boundPort: (name: ListenerName) => number | undefined;
}

const MAX_BODY_BYTES = 64 * 1024;
/** Header fields per request: Node drops those past server.maxHeadersCount, so a request reaching it is refused whole. */
const MAX_HEADERS = 100;
/** Timeouts: a request's head, the whole request, an idle keep-alive connection, a request or answer silent both ways. */
const HEADERS_TIMEOUT_MS = 15_000;
const REQUEST_TIMEOUT_MS = 30_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
const IDLE_SOCKET_TIMEOUT_MS = 60_000;
/** At most one log line per this time for connections refused over the caps. */
const REFUSAL_LOG_INTERVAL_MS = 60_000;

export function createHttpService(deps: HttpDeps): Service {
  const { config, log, metrics, store } = deps;
  const trustedProxies = addressList(config.security.trustedProxies);
  const metricsAllowed = addressList(config.security.metricsAllow);
  const adminSessions = createAdminSessionStore({ clock: deps.clock });
  const adminDeps = { config, auth: deps.auth, accounts: deps.accounts, store, sessions: adminSessions, clock: deps.clock, log };
  const server = http.createServer(
    // The head and request timeouts are checked every second (the default, 30 s, would let them run far over).
    { requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: HEADERS_TIMEOUT_MS, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS, connectionsCheckingInterval: 1_000 },
    (req, res) => {
      // Past its first bytes a request is bounded by the head and request timeouts; its answer by this one.
      req.socket.setTimeout(IDLE_SOCKET_TIMEOUT_MS);
      const ip = normalizeIp(req.socket.remoteAddress);
      handle(req, res).catch((err: unknown) => {
        if (clientGone(err)) {
          // The client hung up (mid-body, say): nobody to answer, nothing wrong here.
          log.info({ ip, path: (req.url ?? '').split('?')[0]?.slice(0, 200), reason: (err as Error).message }, 'http request ended: the client hung up');
          res.destroy();
          return;
        }
        log.error({ err, url: req.url }, 'http request failed');
        if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', bi('Lỗi máy chủ', 'Internal server error') + '\n');
        else res.destroy();
      });
    },
  );
  server.maxHeadersCount = MAX_HEADERS;
  server.on('connection', (socket: Socket) => admit(socket));

  const counters = createListenerCounters(config.security.maxConnectionsPerIp, config.security.maxConnectionsTotal);
  /** Refusals since the last log line (one line a minute at most, not one per socket). */
  let refusedSince = 0;
  let lastRefusalLog = -Infinity;
  function refuseConnection(socket: Socket, ip: string, reason: 'per-ip' | 'total'): void {
    socket.on('error', () => undefined);
    socket.destroy();
    refusedSince++;
    const now = Date.now();
    if (now - lastRefusalLog < REFUSAL_LOG_INTERVAL_MS) return;
    log.warn({ listener: 'http', ip, reason, refused: refusedSince }, 'connection refused: over the limit');
    lastRefusalLog = now;
    refusedSince = 0;
  }
  /** Counts a new connection per client address and in total; one over a cap is closed before any request is read. */
  function admit(socket: Socket): void {
    const ip = normalizeIp(socket.remoteAddress);
    const releaseTotal = counters.total.acquire('all');
    if (!releaseTotal) return refuseConnection(socket, ip, 'total');
    // A listed reverse proxy carries every user's connections: the total bounds it, not the per-IP cap.
    const releaseIp = isTrustedProxy(ip) ? () => undefined : counters.perIp.acquire(ip);
    if (!releaseIp) {
      releaseTotal();
      return refuseConnection(socket, ip, 'per-ip');
    }
    metrics.connections.inc({ protocol: 'http' });
    metrics.connectionsOpen.inc({ protocol: 'http' });
    socket.once('close', () => {
      releaseIp();
      releaseTotal();
      metrics.connectionsOpen.dec({ protocol: 'http' });
    });
    // Node's head timeout starts with the first byte: a connection that sends nothing ends here
    // (the listener destroys a socket whose timeout nobody handles).
    socket.setTimeout(HEADERS_TIMEOUT_MS);
  }
  function isTrustedProxy(ip: string): boolean {
    return listed(trustedProxies, ip);
  }
  let listening = false;
  const portOf = (name: ListenerName): number => config.listeners[name].publicPort ?? deps.boundPort(name) ?? config.listeners[name].port;

  async function readBody(req: http.IncomingMessage): Promise<string | null> {
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > MAX_BODY_BYTES) return null;
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  /** At most one warning a minute: a proxy in front of the portal that is not in security.trustedProxies. */
  let lastProxyWarning = 0;
  function warnUnlistedProxy(peer: string): void {
    if (deps.clock.now().getTime() - lastProxyWarning < 60_000) return;
    lastProxyWarning = deps.clock.now().getTime();
    log.warn({ peer }, 'portal request with X-Forwarded-*/Forwarded headers from a peer not in security.trustedProxies: passwords refused unless over TLS to this server; list the proxy there');
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const peer = normalizeIp(req.socket.remoteAddress);
    if (req.rawHeaders.length / 2 >= MAX_HEADERS) {
      // Some may have been dropped (a proxy's own X-Forwarded-For, last): refuse, never guess.
      log.info({ ip: peer, path: (req.url ?? '').split('?')[0]?.slice(0, 200), headers: req.rawHeaders.length / 2 }, 'http request refused: too many header fields');
      res.setHeader('connection', 'close');
      send(res, 431, 'text/plain; charset=utf-8', bi(`Yêu cầu có quá nhiều trường tiêu đề (tối đa ${MAX_HEADERS - 1})`, `Too many request header fields (at most ${MAX_HEADERS - 1})`) + '\n');
      return;
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      // A request target that is no URL path ("[", "//["): the client's error (RFC 9110 §15.5.1).
      log.info({ url: (req.url ?? '').slice(0, 200) }, 'http request refused: bad request target');
      send(res, 400, 'text/plain; charset=utf-8', bi('Yêu cầu không hợp lệ', 'Bad request') + '\n');
      return;
    }
    const route = url.pathname.toLowerCase();
    /** Each endpoint answers its own methods only; any other gets 405 with Allow (RFC 9110 §15.5.6). */
    const refused = (allowed: readonly string[]): boolean => {
      if (allowed.includes(req.method ?? '')) return false;
      logRefusal(log, req, peer, 405, `method ${(req.method ?? '').slice(0, 20)} not allowed`);
      res.setHeader('allow', allowed.join(', '));
      send(res, 405, 'text/plain; charset=utf-8', bi(`Phương thức không được phép (chỉ ${allowed.join(', ')})`, `Method not allowed (only ${allowed.join(', ')})`) + '\n');
      return true;
    };
    const READ = ['GET', 'HEAD'];
    if (route === '/healthz') {
      if (refused(READ)) return;
      let storeOk = true;
      try {
        await store.ping();
      } catch (err) {
        storeOk = false;
        log.warn({ err }, 'healthz: store unreachable');
      }
      const listenersOk = deps.listenersHealthy();
      const ok = storeOk && listenersOk;
      send(res, ok ? 200 : 503, 'application/json; charset=utf-8', JSON.stringify({ status: ok ? 'ok' : 'fail', store: storeOk, listeners: listenersOk }) + '\n');
      return;
    }
    if (route === '/metrics') {
      if (refused(READ)) return;
      // Counters of the whole service: for the monitoring network, not the public a proxy may
      // forward (through a listed proxy the forwarded client counts, not the proxy).
      // A peer sending a proxy's headers but not listed as one (a reverse proxy on this host makes
      // the internet look like 127.0.0.1): refused, whatever its own address.
      const client = clientOf(req, trustedProxies).ip;
      const why = fromUnlistedProxy(req, trustedProxies)
        ? 'metrics: X-Forwarded-*/Forwarded headers from a peer not in security.trustedProxies'
        : client === null || !listed(metricsAllowed, client)
          ? 'metrics: client not in security.metricsAllow'
          : null;
      if (why !== null) {
        logRefusal(log, req, client ?? peer, 403, why);
        send(res, 403, 'text/plain; charset=utf-8', bi('Không được phép xem số liệu giám sát từ địa chỉ này', 'Metrics are not served to this address') + '\n');
        return;
      }
      try {
        metrics.queueDepth.set(await store.queueDepth());
        metrics.storageBytes.set(await store.storageBytes());
      } catch (err) {
        log.warn({ err }, 'metrics: store figures unavailable');
      }
      send(res, 200, metrics.registry.contentType, await metrics.registry.metrics());
      return;
    }
    if (route === '/.well-known/autoconfig/mail/config-v1.1.xml' || route === '/mail/config-v1.1.xml') {
      if (refused(READ)) return;
      const doc = autoconfigXml(config, portOf, url.searchParams.get('emailaddress'));
      // An address of a domain not served here: Thunderbird goes on to its other sources.
      if (doc === null) send(res, 404, 'text/plain; charset=utf-8', bi('Máy chủ này không phục vụ địa chỉ thư này', 'This server does not serve this email address') + '\n');
      else send(res, 200, 'application/xml; charset=utf-8', doc);
      return;
    }
    if (route === '/autodiscover/autodiscover.xml') {
      // Outlook POSTs its request (an XML body with the address).
      if (refused(['POST'])) return;
      const body = await readBody(req);
      if (body === null) {
        // The rest of the body was not read: this connection cannot carry another request.
        logRefusal(log, req, peer, 413, 'body too large');
        res.setHeader('connection', 'close');
        send(res, 413, 'text/plain; charset=utf-8', bi('Yêu cầu quá lớn', 'Request too large') + '\n');
        return;
      }
      send(res, 200, 'application/xml; charset=utf-8', autodiscoverXml(config, portOf, body));
      return;
    }
    const portalPage =
      route === '/portal' || route === '/portal/'
        ? handlePortal
        : route === '/portal/security' || route === '/portal/security/'
          ? handlePortalSecurity
          : route === '/portal/forgot' || route === '/portal/forgot/'
            ? handlePortalForgot
            : null;
    if ((portalPage || isAdminRoute(route)) && fromUnlistedProxy(req, trustedProxies)) warnUnlistedProxy(req.socket.remoteAddress ?? '');
    if (portalPage) {
      if (refused([...READ, 'POST'])) return;
      const r = await portalPage({ config, auth: deps.auth, log }, trustedProxies, req, () => readBody(req));
      // A body left unread (refused before reading, or too large) is not drained: the connection ends.
      if (req.method === 'POST' && !req.complete) res.setHeader('connection', 'close');
      res.writeHead(r.status, { ...r.headers, 'content-length': Buffer.byteLength(r.body) });
      res.end(req.method === 'HEAD' ? undefined : r.body);
      return;
    }
    if (isAdminRoute(route)) {
      const r = await handleAdmin(adminDeps, trustedProxies, req, url, () => readBody(req));
      if (req.method === 'POST' && !req.complete) res.setHeader('connection', 'close');
      res.writeHead(r.status, { ...r.headers, 'content-length': Buffer.byteLength(r.body) });
      res.end(req.method === 'HEAD' ? undefined : r.body);
      return;
    }
    if (route === '/autodiscover/autodiscover.json' || route.startsWith('/autodiscover/autodiscover.json/')) {
      if (refused(READ)) return;
      const result = autodiscoverJson(config, url);
      send(res, result.status, 'application/json; charset=utf-8', JSON.stringify(result.body) + '\n');
      return;
    }
    send(res, 404, 'text/plain; charset=utf-8', bi('Không tìm thấy', 'Not found') + '\n');
  }

  return {
    name: 'http',
    async start(): Promise<BoundListener[]> {
      const l = config.listeners.http;
      if (!l.enabled) return [];
      await new Promise<void>((resolve, reject) => {
        const refused = (e: Error): void => reject(listenError('http', l.host, l.port, e));
        server.once('error', refused);
        server.listen(l.port, l.host, () => {
          server.off('error', refused);
          resolve();
        });
      });
      listening = true;
      const addr = server.address() as AddressInfo;
      return [{ name: 'http', host: addr.address, port: addr.port }];
    },
    async stop(): Promise<void> {
      if (!listening) return;
      listening = false;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    },
    healthy(): boolean {
      return listening || !config.listeners.http.enabled;
    },
  };
}

/** An error of the client's connection ending mid-request ("aborted"), not of the server. */
function clientGone(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ECONNRESET' || code === 'EPIPE' || code === 'ERR_STREAM_PREMATURE_CLOSE';
}

function send(res: http.ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}
