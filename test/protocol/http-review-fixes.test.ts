/**
 * Fixes from a review of the HTTP listener, on the real app over sockets:
 * - connection caps (security.maxConnectionsPerIp / maxConnectionsTotal) on the HTTP listener,
 *   refusals logged once per burst, counts released on close; a connection that sends nothing
 *   is closed after the head timeout;
 * - a unit administrator never sees a system administrator placed in its unit (/admin, CSV);
 * - a unit administrator's unit filter is refused alike for another unit, a unit that does not
 *   exist and a code several units share (no unit's existence told);
 * - every refusal of the portal's and admin page's forms and pages is logged (warn, with the
 *   address, the path and a reason; never a password);
 * - the usage CSV neutralises a formula after ";" or "," inside a cell.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccountService, superActor } from '../../src/accounts/service.js';
import { currentTotp, newTotpSecret } from '../../src/auth/totp.js';
import { ManualClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/log.js';
import { createTestAccount, PASSWORD } from '../helpers/accounts.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { keptLog } from '../helpers/kept-log.js';

const D = '@example.gov.vn';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Opens n raw connections; after a while, how many the server closed. */
async function openMany(port: number, n: number): Promise<{ sockets: net.Socket[]; closed: () => number }> {
  const sockets: net.Socket[] = [];
  let closed = 0;
  for (let i = 0; i < n; i++) {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    s.on('close', () => closed++);
    await new Promise<void>((r) => s.once('connect', () => r()));
    sockets.push(s);
  }
  await sleep(300);
  return { sockets, closed: () => closed };
}

describe('HTTP listener connection caps and timeouts', () => {
  let app: TestApp;
  const kept = keptLog();
  beforeAll(async () => {
    app = await startApp({ security: { maxConnectionsPerIp: 5 } }, { log: kept.log });
  });
  afterAll(async () => app?.stop());

  it('closes connections from one address over maxConnectionsPerIp, logs the burst once, and releases on close', async () => {
    const { sockets, closed } = await openMany(app.port('http'), 8);
    expect(closed()).toBe(3);
    const refusals = kept.lines.filter((l) => l.msg === 'connection refused: over the limit' && l.listener === 'http');
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatchObject({ ip: '127.0.0.1', reason: 'per-ip' });
    for (const s of sockets) s.destroy();
    await sleep(200);
    // The counts went back: requests get answers again.
    expect((await fetch(`http://127.0.0.1:${app.port('http')}/healthz`)).status).toBe(200);
  });

  it('closes a connection that sends nothing once the head timeout has passed', async () => {
    const s = net.connect(app.port('http'), '127.0.0.1');
    s.on('error', () => undefined);
    const t0 = Date.now();
    const took = await new Promise<number>((r) => {
      s.on('close', () => r(Date.now() - t0));
      setTimeout(() => r(-1), 25_000);
    });
    s.destroy();
    expect(took).toBeGreaterThan(10_000);
    expect(took).toBeLessThan(20_000);
  }, 30_000);
});

describe('HTTP listener total connection cap', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp({ security: { maxConnectionsTotal: 4 } });
  });
  afterAll(async () => app?.stop());

  it('closes connections over maxConnectionsTotal', async () => {
    const { sockets, closed } = await openMany(app.port('http'), 6);
    expect(closed()).toBe(2);
    for (const s of sockets) s.destroy();
  });
});

describe('administrators\' page and portal after review', () => {
  let app: TestApp;
  let base = '';
  const kept = keptLog();
  const clock = new ManualClock(new Date('2026-11-23T02:00:00Z'));
  const secret = newTotpSecret();
  let cookie = '';
  let csrf = '';

  const get = (path: string, headers: Record<string, string> = {}) => fetch(base + path, { headers: { cookie: `buudien_admin=${cookie}`, ...headers }, redirect: 'manual' });
  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(base + path, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, redirect: 'manual' });
  /** The refusal lines logged while fn ran. */
  const refusalsDuring = async (fn: () => Promise<Response>): Promise<{ status: number; logged: Array<Record<string, unknown>> }> => {
    const n = kept.lines.length;
    const res = await fn();
    await res.arrayBuffer();
    await sleep(20);
    return { status: res.status, logged: kept.lines.slice(n).filter((l) => l.level === 40) };
  };

  beforeAll(async () => {
    app = await startApp({ security: { authFailureDelayMs: 0, authFailureMaxDelayMs: 0 } }, { clock, log: kept.log });
    base = `http://127.0.0.1:${app.port('http')}`;
    const svc = createAccountService({ store: app.store, config: app.config, clock, log: silentLogger() });
    const unitA = await svc.addUnit({ name: 'Xã An Hòa', code: 'xaa' }, superActor('test'));
    const unitB = await svc.addUnit({ name: 'Xã Bình Minh', code: 'xab' }, superActor('test'));
    // Two units with one code (sub-units of different parents).
    await svc.addUnit({ name: 'Thôn Một', code: 'thon1', parent: 'xaa' }, superActor('test'));
    await svc.addUnit({ name: 'Thôn Một', code: 'thon1', parent: 'xab' }, superActor('test'));
    const admin = await createTestAccount(app.store, `qtv.xaa${D}`, { kind: 'admin', role: 'unit', unitId: unitA.id });
    await app.store.updateAccount(admin.id, { totpSecret: secret }, null);
    await createTestAccount(app.store, `lan.xaa${D}`, { unitId: unitA.id, fullName: 'Lan;=HYPERLINK("http://evil.example";"x")' });
    await createTestAccount(app.store, `minh.xaa${D}`, { unitId: unitA.id, fullName: 'Minh,-2+3' });
    await createTestAccount(app.store, `hoa.xab${D}`, { unitId: unitB.id });
    await createTestAccount(app.store, `sa.xaa${D}`, { kind: 'admin', role: 'super', unitId: unitA.id, fullName: 'Super in A' });
    clock.advance(30_000);
    const login = await post('/admin/login', new URLSearchParams({ username: 'qtv.xaa', password: PASSWORD, totp: currentTotp(secret, clock.now()) }).toString());
    expect(login.status).toBe(303);
    cookie = /^buudien_admin=([^;]*)/.exec(login.headers.get('set-cookie') ?? '')?.[1] ?? '';
    const page = await (await get('/admin')).text();
    csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? '';
    expect(csrf).not.toBe('');
  });
  afterAll(async () => app?.stop());

  it('a unit administrator does not see a system administrator placed in its unit, on the page nor in the CSV', async () => {
    const page = await (await get('/admin')).text();
    expect(page).toContain(`lan.xaa${D}`);
    expect(page).not.toContain(`sa.xaa${D}`);
    const csv = await (await get('/admin/usage.csv')).text();
    expect(csv).toContain(`lan.xaa${D}`);
    expect(csv).not.toContain('sa.xaa');
    expect(csv).toMatch(/\r\nTổng \/ Total,3,/);
  });

  it('a unit administrator\'s unit filter: another unit, no unit and a shared code get the same 403; its own unit by code or address passes', async () => {
    const answers = await Promise.all(['xab', 'nosuchunit', 'thon1'].map(async (u) => {
      const res = await get(`/admin/usage.csv?unit=${u}`);
      return [res.status, await res.text()] as const;
    }));
    for (const [status, text] of answers) {
      expect(status).toBe(403);
      expect(text).toBe(answers[0]?.[1]);
      expect(text).not.toContain('thon1.');
    }
    const dash = await get('/admin?unit=nosuchunit');
    expect(dash.status).toBe(403);
    expect((await get('/admin/usage.csv?unit=xaa')).status).toBe(200);
    expect((await get('/admin?unit=xaa')).status).toBe(200);
  });

  it('the usage CSV neutralises formulas after ";" and "," inside a cell and stays RFC 4180', async () => {
    const csv = await (await get('/admin/usage.csv')).text();
    expect(csv).toContain(`lan.xaa${D},"Lan;'=HYPERLINK(""http://evil.example"";""x"")",xaa,`);
    expect(csv).toContain(`minh.xaa${D},"Minh,'-2+3",xaa,`);
    expect(csv).not.toMatch(/[;,]=/);
  });

  it('logs every refusal of the portal\'s and admin page\'s forms: address, path, reason, never a password', async () => {
    const cases: Array<[string, () => Promise<Response>, number]> = [
      ['portal cross-site', () => post('/portal', 'username=lan.xaa&password=Secret-pw-1', { origin: 'http://evil.example' }), 403],
      ['portal content type', () => fetch(`${base}/portal`, { method: 'POST', body: 'a', headers: { 'content-type': 'text/plain' } }), 415],
      ['portal too large', () => post('/portal', 'a=' + 'x'.repeat(70_000)), 413],
      ['portal long field', () => post('/portal', 'username=' + 'x'.repeat(2000)), 400],
      ['admin cross-site', () => post('/admin/suspend', `csrf=${csrf}&address=lan.xaa&reason=x`, { origin: 'http://evil.example', cookie: `buudien_admin=${cookie}` }), 403],
      ['admin login empty', () => post('/admin/login', 'username=&password='), 400],
      ['csv no session', () => fetch(`${base}/admin/usage.csv`), 401],
      ['post no session', () => post('/admin/suspend', 'address=lan.xaa&reason=x'), 401],
      ['made-up session', () => fetch(`${base}/admin`, { headers: { cookie: `buudien_admin=${'A'.repeat(43)}` } }), 200],
      ['dashboard other unit', () => get('/admin?unit=xab'), 403],
      ['csv other unit', () => get('/admin/usage.csv?unit=xab'), 403],
      ['csv no such unit', () => get('/admin/usage.csv?unit=nosuchunit'), 403],
      ['security bad action', () => post('/portal/security', 'action=bogus&username=lan.xaa&password=Secret-pw-1'), 400],
    ];
    for (const [name, fn, status] of cases) {
      const r = await refusalsDuring(fn);
      expect(r.status, name).toBe(status);
      expect(r.logged, name).toHaveLength(1);
      const line = r.logged[0] ?? {};
      expect(line.ip, name).toBe('127.0.0.1');
      expect(String(line.path), name).toMatch(/^\/(portal|admin)/);
      expect(typeof line.reason, name).toBe('string');
      expect(JSON.stringify(line), name).not.toContain('Secret-pw-1');
    }
  });
});
