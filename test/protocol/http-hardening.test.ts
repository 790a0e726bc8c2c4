/**
 * HTTP listener hardening after review, on the real app over sockets:
 * - a request with too many header fields is refused (431), never read with some dropped;
 * - /metrics reads store figures kept by the store's writes (no scan per scrape), right across
 *   stores, deletions, collection, the queue and an upgrade from a store without them;
 * - /metrics refuses a proxy's headers from a peer not in security.trustedProxies;
 * - autoconfig and autodiscover answer only for the served domains, Outlook's schema only;
 * - buudien_connections_total{protocol="http"} counts connections, and connections_open is kept;
 * - a client hanging up mid-body is logged at info, not as a server error;
 * - an address with control characters is refused (the answers stay well-formed XML).
 */
import { rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestAccount } from '../helpers/accounts.js';
import { startApp, testDir, type TestApp } from '../helpers/app.js';
import { keptLog } from '../helpers/kept-log.js';
import { storeParsed, until } from '../helpers/messages.js';

const OUTLOOK = 'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a';
const MOBILESYNC = 'http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006';

/** Writes `head` on a new connection; resolves with everything the server sent until it closed (or 2 s). */
function raw(port: number, head: string, opts: { hangUpAfterMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(head));
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString('utf8')));
    s.on('close', () => resolve(got));
    s.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? resolve(got) : reject(e)));
    setTimeout(() => s.destroy(), opts.hangUpAfterMs ?? 2_000);
  });
}

/** One metric's value in Prometheus text (0 when absent). */
function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.slice(name.length + 1));
}

function autodiscover(base: string, email: string, schema = OUTLOOK): Promise<string> {
  const body = `<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>${email}</EMailAddress><AcceptableResponseSchema>${schema}</AcceptableResponseSchema></Request></Autodiscover>`;
  return fetch(`${base}/autodiscover/autodiscover.xml`, { method: 'POST', body, headers: { 'content-type': 'text/xml' } }).then((r) => {
    expect(r.status).toBe(200);
    return r.text();
  });
}

describe('HTTP listener behind a listed proxy', () => {
  let app: TestApp;
  const kept = keptLog();
  beforeAll(async () => {
    app = await startApp({ security: { trustedProxies: ['127.0.0.1'] } }, { log: kept.log });
  });
  afterAll(async () => app?.stop());

  it('refuses a request with 100 header fields or more (431), so a proxy\'s X-Forwarded-For past them is never dropped', async () => {
    const forged = 'GET /metrics HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 10.1.1.1\r\n';
    const proxied = 'X-Forwarded-For: 203.0.113.9\r\nConnection: close\r\n\r\n';
    // As a proxy forwards it: the client's headers as sent, its own X-Forwarded-For last.
    expect(await raw(app.port('http'), forged + proxied)).toMatch(/^HTTP\/1\.1 403 /);
    const padding = Array.from({ length: 100 }, (_, i) => `X-Pad-${i}: a\r\n`).join('');
    const answer = await raw(app.port('http'), forged + padding + proxied);
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
    expect(answer).toContain('Yêu cầu có quá nhiều trường tiêu đề (tối đa 99) / Too many request header fields (at most 99)');
    expect(kept.lines.find((l) => l.msg === 'http request refused: too many header fields')).toMatchObject({ level: 30, ip: '127.0.0.1', path: '/metrics', headers: 104 });
    // Just under the limit the request is read whole: the proxy's address counts.
    const fewer = Array.from({ length: 95 }, (_, i) => `X-Pad-${i}: a\r\n`).join('');
    expect(await raw(app.port('http'), forged + fewer + proxied)).toMatch(/^HTTP\/1\.1 403 /);
  });
});

describe('/metrics with the default trustedProxies (none)', () => {
  let app: TestApp;
  const kept = keptLog();
  beforeAll(async () => {
    app = await startApp({}, { log: kept.log });
  });
  afterAll(async () => app?.stop());

  it('refuses a request carrying a proxy\'s headers from an unlisted peer, and logs it', async () => {
    const base = `http://127.0.0.1:${app.port('http')}`;
    expect((await fetch(`${base}/metrics`)).status).toBe(200);
    const proxied: Array<Record<string, string>> = [{ 'x-forwarded-for': '203.0.113.7' }, { forwarded: 'for=203.0.113.7' }, { 'x-real-ip': '203.0.113.7' }];
    for (const headers of proxied) {
      const before = kept.lines.length;
      const res = await fetch(`${base}/metrics`, { headers });
      expect(res.status, JSON.stringify(headers)).toBe(403);
      expect(await res.text()).toBe('Không được phép xem số liệu giám sát từ địa chỉ này / Metrics are not served to this address\n');
      expect(kept.lines.slice(before)).toContainEqual(
        expect.objectContaining({ msg: 'http request refused', status: 403, path: '/metrics', reason: expect.stringContaining('security.trustedProxies') as unknown }),
      );
    }
  });

  it('counts connections, not requests, and keeps buudien_connections_open for http', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const scrape = () =>
      new Promise<{ text: string; reused: boolean }>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port: app.port('http'), path: '/metrics', agent }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => resolve({ text, reused: req.reusedSocket }));
        });
        req.on('error', reject);
      });
    try {
      const first = await scrape();
      const total = metric(first.text, 'buudien_connections_total{protocol="http"}');
      const open = metric(first.text, 'buudien_connections_open{protocol="http"}');
      expect(open).toBeGreaterThanOrEqual(1);
      const second = await scrape();
      expect(second.reused).toBe(true);
      expect(metric(second.text, 'buudien_connections_total{protocol="http"}')).toBe(total);
      expect(metric(second.text, 'buudien_connections_open{protocol="http"}')).toBe(open);
      // Another connection, left open: one more accepted, one more open; closed, one fewer open.
      const other = net.connect(app.port('http'), '127.0.0.1');
      await new Promise((r) => other.once('connect', r));
      await until(async () => metric((await scrape()).text, 'buudien_connections_open{protocol="http"}') === open + 1);
      expect(metric((await scrape()).text, 'buudien_connections_total{protocol="http"}')).toBe(total + 1);
      other.destroy();
      await until(async () => metric((await scrape()).text, 'buudien_connections_open{protocol="http"}') === open);
    } finally {
      agent.destroy();
    }
  });

  it('a client hanging up mid-body is logged at info, not as a server error', async () => {
    const before = kept.lines.length;
    for (const target of ['/autodiscover/autodiscover.xml', '/portal']) {
      await raw(
        app.port('http'),
        `POST ${target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nabc`,
        { hangUpAfterMs: 200 },
      );
    }
    const ended = await until(async () => {
      const lines = kept.lines.slice(before).filter((l) => l.msg === 'http request ended: the client hung up');
      return lines.length === 2 ? lines : null;
    });
    expect(ended.map((l) => [l.level, l.path])).toEqual([
      [30, '/autodiscover/autodiscover.xml'],
      [30, '/portal'],
    ]);
    expect(kept.lines.slice(before).filter((l) => (l.level as number) >= 50)).toEqual([]);
    expect((await fetch(`http://127.0.0.1:${app.port('http')}/healthz`)).status).toBe(200);
  });
});

describe('/metrics store figures are kept by the store, not scanned per scrape', () => {
  const dir = testDir();
  let app: TestApp;
  const dbFile = path.join(dir, 'buudien.db');
  afterAll(async () => {
    await app?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The scraped figures, the kept ones, and a full scan of the tables, all three alike. */
  async function figures(): Promise<{ bytes: number; queue: number }> {
    const text = await (await fetch(`http://127.0.0.1:${app.port('http')}/metrics`)).text();
    const db = new Database(dbFile, { readonly: true });
    try {
      const scanned = db.prepare('SELECT (SELECT total(size) FROM blobs) AS bytes, (SELECT count(*) FROM queue) AS queue').get() as { bytes: number; queue: number };
      const kept = Object.fromEntries((db.prepare('SELECT name, n FROM totals').all() as Array<{ name: string; n: number }>).map((r) => [r.name, r.n]));
      const scraped = { bytes: metric(text, 'buudien_storage_bytes'), queue: metric(text, 'buudien_queue_depth') };
      expect(scraped).toEqual(scanned);
      expect({ bytes: kept['blobs.bytes'], queue: kept['queue.items'] }).toEqual(scanned);
      return scraped;
    } finally {
      db.close();
    }
  }

  it('stay right across stores, expunges, collection and the queue', async () => {
    app = await startApp({}, { dir });
    expect(await figures()).toEqual({ bytes: 0, queue: 0 });
    const account = await createTestAccount(app.store, 'long@example.gov.vn');
    const small = 'Subject: a\r\n\r\nhello\r\n';
    const big = `Subject: b\r\n\r\n${'x'.repeat(300 * 1024)}\r\n`; // a blob file, not inline
    await storeParsed(app.store, account.id, small);
    await storeParsed(app.store, account.id, big);
    await storeParsed(app.store, account.id, small); // the same bytes: one blob
    expect(await figures()).toEqual({ bytes: small.length + big.length, queue: 0 });
    const later = new Date(Date.now() + 86_400_000); // not due: the queue leaves it alone
    const queued = await app.store.enqueue({ sender: 'long@example.gov.vn', recipients: ['x@example.com'], raw: Buffer.from('queued'), account: null, messageId: null, now: later });
    expect(await figures()).toEqual({ bytes: small.length + big.length + 6, queue: 1 });
    const inbox = (await app.store.getMailbox(account.id, 'INBOX'))!;
    await app.store.expunge(inbox.id, [2]);
    await app.store.collectGarbage();
    expect(await figures()).toEqual({ bytes: small.length + 6, queue: 1 });
    await app.store.finishAttempt(queued.id, { remaining: [], nextAttemptAt: null, error: null });
    await app.store.collectGarbage();
    expect(await figures()).toEqual({ bytes: small.length, queue: 0 });
  });

  it('a store from before the totals gets them right at its upgrade', async () => {
    const account = (await app.store.getAccountByAddress('long@example.gov.vn'))!;
    await app.store.enqueue({ sender: 'long@example.gov.vn', recipients: ['x@example.com'], raw: Buffer.from('queued again'), account: null, messageId: null, now: new Date(Date.now() + 86_400_000) });
    await storeParsed(app.store, account.id, 'Subject: c\r\n\r\nmore\r\n');
    await app.stop();
    const db = new Database(dbFile);
    db.exec(`DROP TRIGGER blobs_total_add; DROP TRIGGER blobs_total_remove; DROP TRIGGER blobs_total_resize;
      DROP TRIGGER queue_total_add; DROP TRIGGER queue_total_remove; DROP TABLE totals; DELETE FROM schema_version WHERE version = 16;`);
    db.close();
    app = await startApp({}, { dir });
    expect(await figures()).toEqual({ bytes: 'Subject: a\r\n\r\nhello\r\n'.length + 'queued again'.length + 'Subject: c\r\n\r\nmore\r\n'.length, queue: 1 });
  });
});

describe('autoconfiguration answers for the served domains only', () => {
  let app: TestApp;
  let base: string;
  beforeAll(async () => {
    app = await startApp();
    base = `http://127.0.0.1:${app.port('http')}`;
  });
  afterAll(async () => app?.stop());

  it('Thunderbird: 404 for an address of another domain; the served domain in any case gets the document', async () => {
    for (const route of ['/mail/config-v1.1.xml', '/.well-known/autoconfig/mail/config-v1.1.xml']) {
      const other = await fetch(`${base}${route}?emailaddress=long%40elsewhere.vn`);
      expect(other.status).toBe(404);
      expect(await other.text()).toBe('Máy chủ này không phục vụ địa chỉ thư này / This server does not serve this email address\n');
      const ours = await fetch(`${base}${route}?emailaddress=Long%40Example.Gov.VN`);
      expect(ours.status).toBe(200);
      expect(await ours.text()).toContain('<emailProvider id="example.gov.vn">');
    }
  });

  it('Outlook: the Autodiscover error response (500) for another domain, no login name echoed', async () => {
    const other = await autodiscover(base, 'ceo@elsewhere.vn');
    expect(other).toContain('<ErrorCode>500</ErrorCode>');
    expect(other).toMatch(/<Error Time="\d\d:\d\d:\d\d\.\d{3}" Id="\d+">/);
    expect(other).toContain('<Message>Máy chủ này không phục vụ tên miền của địa chỉ thư này / This server does not serve the domain of this email address</Message>');
    expect(other).not.toContain('ceo@elsewhere.vn');
    expect(other).not.toContain('<Protocol>');
    const ours = await autodiscover(base, 'long@example.gov.vn');
    expect(ours).toContain('<LoginName>long@example.gov.vn</LoginName>');
    expect(ours).toContain(`<Response xmlns="${OUTLOOK}">`);
  });

  it('ActiveSync (mobilesync) and any schema but Outlook 2006a get the error response (601), so phones fall back to IMAP', async () => {
    const phone = await autodiscover(base, 'long@example.gov.vn', MOBILESYNC);
    expect(phone).toContain(`<Response xmlns="${MOBILESYNC}">`);
    expect(phone).toContain('<ErrorCode>601</ErrorCode>');
    expect(phone).not.toContain('<Protocol>');
    expect(phone).not.toContain('outlook/responseschema/2006a');
    const other = await autodiscover(base, 'long@example.gov.vn', 'http://example.com/some/schema');
    expect(other).toContain('<ErrorCode>601</ErrorCode>');
    expect(other).not.toContain('<Protocol>');
  });

  it('refuses an address with control characters: the answers stay well-formed XML', async () => {
    const control = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;
    for (const email of ['a&#1;b@example.gov.vn', 'a&#x85;b@example.gov.vn', 'a\u0002b@example.gov.vn']) {
      const answer = await autodiscover(base, email);
      expect(answer, email).toContain('<ErrorCode>600</ErrorCode>');
      expect(answer, email).not.toMatch(control);
      expect(answer, email).not.toContain('<LoginName>');
    }
    for (const email of ['a%01b%40example.gov.vn', 'a%C2%85b%40example.gov.vn']) {
      expect((await fetch(`${base}/mail/config-v1.1.xml?emailaddress=${email}`)).status, email).toBe(404);
    }
  });
});
