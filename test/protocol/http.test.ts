import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import { longestStall } from '../helpers/event-loop.js';

describe('HTTP listener', () => {
  let app: TestApp;
  let base: string;
  beforeAll(async () => {
    app = await startApp();
    base = `http://127.0.0.1:${app.port('http')}`;
  });
  afterAll(async () => {
    await app.stop();
  });

  it('answers 400 to a request target that is no URL, and goes on serving', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(app.port('http'), '127.0.0.1', () => socket.write('GET http://[ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
      let got = '';
      socket.on('data', (d: Buffer) => (got += d.toString('utf8')));
      socket.on('end', () => resolve(got));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toContain('Yêu cầu không hợp lệ / Bad request');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('/healthz answers ok while the store and every listener are up', async () => {
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', store: true, listeners: true });
  });

  it('/metrics is Prometheus text with the counters the protocols fill', async () => {
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await res.text();
    for (const name of ['buudien_messages_in_total', 'buudien_rejections_total', 'buudien_connections_total', 'buudien_queue_depth', 'buudien_storage_bytes']) {
      expect(text).toContain(`# TYPE ${name}`);
    }
    expect(text).toMatch(/^buudien_queue_depth 0$/m);
    expect(text).toMatch(/^buudien_connections_total\{protocol="http"\} [1-9]/m);
  });

  it('Thunderbird autoconfig names the real IMAP and submission ports', async () => {
    const res = await fetch(`${base}/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=longnv%40example.gov.vn`);
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(body).toContain('<clientConfig version="1.1">');
    expect(body).toContain('<domain>example.gov.vn</domain>');
    expect(body).toContain(`<port>${app.port('imaps')}</port>`);
    expect(body).toContain(`<port>${app.port('submission')}</port>`);
    expect(body).toContain('<username>%EMAILADDRESS%</username>');
  });

  it('Outlook autodiscover (POST XML) echoes the address as login name, escaped', async () => {
    const req = `<?xml version="1.0"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>longnv@example.gov.vn</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>`;
    const res = await fetch(`${base}/autodiscover/autodiscover.xml`, { method: 'POST', body: req, headers: { 'content-type': 'text/xml' } });
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(body).toContain('<LoginName>longnv@example.gov.vn</LoginName>');
    expect(body).toContain('<Type>IMAP</Type>');
    expect(body).toContain(`<Port>${app.port('imaps')}</Port>`);
    expect(body).toContain('<Type>SMTP</Type>');
  });

  it('Outlook autodiscover JSON accepts only the case-sensitive AutodiscoverV1', async () => {
    const ok = await fetch(`${base}/autodiscover/autodiscover.json/v1.0/longnv@example.gov.vn?Protocol=AutodiscoverV1`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ Protocol: 'AutodiscoverV1', Url: 'https://mail.example.gov.vn/autodiscover/autodiscover.xml' });
    const bad = await fetch(`${base}/autodiscover/autodiscover.json/v1.0/longnv@example.gov.vn?Protocol=autodiscoverv1`);
    expect(bad.status).toBe(400);
  });

  it('reads an autodiscover address with spaces around it; a tag followed by 8,000 spaces does not hold the server (review: 28 s)', async () => {
    const padded = await fetch(`${base}/autodiscover/autodiscover.xml`, { method: 'POST', body: '<Request><EMailAddress>\n   longnv@example.gov.vn  \n</EMailAddress></Request>' });
    expect(await padded.text()).toContain('<LoginName>longnv@example.gov.vn</LoginName>');
    let answer = '';
    const stall = await longestStall(async () => {
      const res = await fetch(`${base}/autodiscover/autodiscover.xml`, { method: 'POST', body: `<EMailAddress>${' '.repeat(8_000)}` });
      expect(res.status).toBe(200);
      answer = await res.text();
    });
    expect(answer).toContain('<Type>IMAP</Type>');
    expect(answer).not.toContain('<LoginName>');
    expect(stall).toBeLessThan(2000);
  }, 60_000);

  it('/admin paths with thousands of slashes are routed at once (review: half a second each)', async () => {
    const stall = await longestStall(async () => {
      const answers = await Promise.all(Array.from({ length: 8 }, () => fetch(`${base}/admin/${'/'.repeat(15_000)}x`)));
      for (const res of answers) expect(res.status).toBe(404);
    });
    expect(stall).toBeLessThan(2000);
    // Trailing slashes still name the page.
    const signIn = await fetch(`${base}/admin///`, { redirect: 'manual' });
    expect(signIn.status).toBe((await fetch(`${base}/admin`, { redirect: 'manual' })).status);
  }, 60_000);

  it('refuses an oversized autodiscover body without reading it all', async () => {
    const res = await fetch(`${base}/autodiscover/autodiscover.xml`, { method: 'POST', body: 'x'.repeat(200 * 1024) });
    expect(res.status).toBe(413);
    expect(await res.text()).toContain('Yêu cầu quá lớn');
  });

  it('each endpoint answers its own methods; others get 405 with Allow', async () => {
    for (const [path, method, allow] of [
      ['/healthz', 'DELETE', 'GET, HEAD'],
      ['/metrics', 'POST', 'GET, HEAD'],
      ['/mail/config-v1.1.xml', 'PUT', 'GET, HEAD'],
      ['/autodiscover/autodiscover.xml', 'GET', 'POST'],
      ['/autodiscover/autodiscover.json/v1.0/a@example.gov.vn?Protocol=AutodiscoverV1', 'POST', 'GET, HEAD'],
    ] as const) {
      const res = await fetch(`${base}${path}`, { method });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get('allow')).toBe(allow);
      expect(await res.text()).toMatch(/^Phương thức không được phép .* \/ Method not allowed/);
    }
    expect((await fetch(`${base}/healthz`, { method: 'HEAD' })).status).toBe(200);
  });

  it('autodiscover reads the address as XML text: entities decoded once, escaped once', async () => {
    const req = `<Autodiscover><Request><EMailAddress>a&amp;b&lt;c@example.gov.vn</EMailAddress></Request></Autodiscover>`;
    const body = await (await fetch(`${base}/autodiscover/autodiscover.xml`, { method: 'POST', body: req })).text();
    expect(body).not.toContain('&amp;amp;');
    if (body.includes('<LoginName>')) expect(body).toContain('<LoginName>a&amp;b&lt;c@example.gov.vn</LoginName>');
  });

  it('unknown paths are 404 with a bilingual text', async () => {
    const res = await fetch(`${base}/nope`);
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('Không tìm thấy / Not found\n');
  });
});

describe('/healthz when the store is gone', () => {
  it('answers 503', async () => {
    const app = await startApp();
    try {
      const base = `http://127.0.0.1:${app.port('http')}`;
      await app.store.close();
      const res = await fetch(`${base}/healthz`);
      expect(res.status).toBe(503);
      expect(((await res.json()) as { store: boolean }).store).toBe(false);
    } finally {
      await app.stop().catch(() => undefined);
    }
  });
});

describe('autoconfig behind a port mapping', () => {
  it('announces listeners.<name>.publicPort instead of the bound port', async () => {
    const app = await startApp({ listeners: { imaps: { host: '127.0.0.1', port: 0, publicPort: 993 }, submissions: { host: '127.0.0.1', port: 0, publicPort: 465 } } });
    try {
      const body = await (await fetch(`http://127.0.0.1:${app.port('http')}/.well-known/autoconfig/mail/config-v1.1.xml`)).text();
      expect(body).toContain('<port>993</port>');
      expect(body).toContain('<port>465</port>');
      expect(body).not.toContain(`<port>${app.port('imaps')}</port>`);
      expect(body).toContain(`<port>${app.port('imap')}</port>`);
    } finally {
      await app.stop();
    }
  });
});

describe('/metrics is for the monitoring network (security.metricsAllow)', () => {
  let app: TestApp;
  let base: string;
  beforeAll(async () => {
    // This test's requests come from 127.0.0.1, here listed as the reverse proxy.
    app = await startApp({ security: { trustedProxies: ['127.0.0.1'] } });
    base = `http://127.0.0.1:${app.port('http')}`;
  });
  afterAll(async () => app?.stop());

  const metricsFrom = (forwardedFor?: string) => fetch(`${base}/metrics`, { headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {} });

  it('serves a monitoring server on a private network through the proxy, refuses the public and a proxied request with no client', async () => {
    expect((await metricsFrom('10.1.2.3')).status).toBe(200);
    expect((await metricsFrom('fd00::5')).status).toBe(200);
    const outside = await metricsFrom('203.0.113.7');
    expect(outside.status).toBe(403);
    expect(await outside.text()).toBe('Không được phép xem số liệu giám sát từ địa chỉ này / Metrics are not served to this address\n');
    // The proxy's own address is no client: without X-Forwarded-For nobody is vouched for.
    expect((await metricsFrom()).status).toBe(403);
    // A spoofed entry before the proxy's own is not the one it vouches for.
    expect((await metricsFrom('10.1.2.3, 203.0.113.7')).status).toBe(403);
  });

  it('an empty list serves nobody, loopback included', async () => {
    const closed = await startApp({ security: { metricsAllow: [] } });
    try {
      expect((await fetch(`http://127.0.0.1:${closed.port('http')}/metrics`)).status).toBe(403);
      expect((await fetch(`http://127.0.0.1:${closed.port('http')}/healthz`)).status).toBe(200);
    } finally {
      await closed.stop();
    }
  });
});
