/**
 * The HTTP listener (CONTRACT.md `listeners.http`): /healthz for the Docker HEALTHCHECK,
 * /metrics in Prometheus format, mail-client autoconfiguration (Thunderbird autoconfig,
 * Outlook autodiscover XML and its JSON variant), and the self-service portal (/portal,
 * portal.ts: password change; /portal/security, portal-security.ts: two-factor sign-in and app
 * passwords), and the administrators' page (/admin, admin.ts: R-ACC-7 usage, password resets,
 * suspensions, with a server-side session).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config, ListenerName } from '../config/schema.js';
import { bi } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import type { Metrics } from '../lib/metrics.js';
import type { BoundListener, Service } from '../lib/service.js';
import type { AccountService } from '../accounts/service.js';
import type { PortalAuthService } from '../auth/index.js';
import type { Clock } from '../lib/clock.js';
import type { Store } from '../store/port.js';
import { autoconfigXml, autodiscoverJson, autodiscoverXml, emailFromAutodiscoverRequest } from './autoconfig.js';
import { handleAdmin, isAdminRoute } from './admin.js';
import { createAdminSessionStore } from './admin-session.js';
import { fromUnlistedProxy, handlePortal, trustedProxyList } from './portal.js';
import { handlePortalSecurity } from './portal-security.js';

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

export function createHttpService(deps: HttpDeps): Service {
  const { config, log, metrics, store } = deps;
  const trustedProxies = trustedProxyList(config.security.trustedProxies);
  const adminSessions = createAdminSessionStore({ clock: deps.clock });
  const adminDeps = { config, auth: deps.auth, accounts: deps.accounts, store, sessions: adminSessions, clock: deps.clock, log };
  const server = http.createServer({ requestTimeout: 30_000, headersTimeout: 15_000 }, (req, res) => {
    metrics.connections.inc({ protocol: 'http' });
    handle(req, res).catch((err: unknown) => {
      log.error({ err, url: req.url }, 'http request failed');
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', bi('Lỗi máy chủ', 'Internal server error') + '\n');
      else res.destroy();
    });
  });
  server.maxHeadersCount = 100;
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
      const email = url.searchParams.get('emailaddress');
      send(res, 200, 'application/xml; charset=utf-8', autoconfigXml(config, portOf, email));
      return;
    }
    if (route === '/autodiscover/autodiscover.xml') {
      // Outlook POSTs its request (an XML body with the address).
      if (refused(['POST'])) return;
      const body = await readBody(req);
      if (body === null) {
        // The rest of the body was not read: this connection cannot carry another request.
        res.setHeader('connection', 'close');
        send(res, 413, 'text/plain; charset=utf-8', bi('Yêu cầu quá lớn', 'Request too large') + '\n');
        return;
      }
      send(res, 200, 'application/xml; charset=utf-8', autodiscoverXml(config, portOf, emailFromAutodiscoverRequest(body)));
      return;
    }
    const portalPage = route === '/portal' || route === '/portal/' ? handlePortal : route === '/portal/security' || route === '/portal/security/' ? handlePortalSecurity : null;
    if ((portalPage || isAdminRoute(route)) && fromUnlistedProxy(req, trustedProxies)) warnUnlistedProxy(req.socket.remoteAddress ?? '');
    if (portalPage) {
      if (refused([...READ, 'POST'])) return;
      const r = await portalPage({ config, auth: deps.auth }, trustedProxies, req, () => readBody(req));
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
        server.once('error', reject);
        server.listen(l.port, l.host, () => {
          server.off('error', reject);
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

function send(res: http.ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}
