/**
 * R-OPS-2's reports on the administrators' page of the real app: GET /admin/report-year.{txt,csv}
 * (NA Phụ lục 2: a unit administrator downloads its own unit's, the one it sends the province; a
 * system administrator every unit's, `?unit=` narrowing) and GET /admin/report-quarter.{txt,csv}
 * (the quarterly operations report: system administrators only). Refusals are the service's, as
 * bilingual text with a 4xx; the dashboard links to what the administrator may download.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccountService, superActor } from '../../src/accounts/service.js';
import { newTotpSecret } from '../../src/auth/totp.js';
import { ManualClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/log.js';
import type { Account } from '../../src/store/port.js';
import { createTestAccount } from '../helpers/accounts.js';
import { adminSignIn } from '../helpers/portal.js';
import { startApp, type TestApp } from '../helpers/app.js';

const D = '@example.gov.vn';

describe('GET /admin/report-year and /admin/report-quarter', () => {
  let app: TestApp;
  let base = '';
  const clock = new ManualClock(new Date('2026-11-23T02:00:00Z'));
  const secrets = { qtvA: newTotpSecret(), sa: newTotpSecret() };

  async function signIn(user: string, secret: string): Promise<string> {
    const cookie = await adminSignIn(base, clock, user, secret);
    // What the reports count ends before the moment they are made.
    clock.advance(1000);
    return cookie;
  }
  const get = (path: string, cookie: string | null) => fetch(`${base}${path}`, { headers: cookie === null ? {} : { cookie: `buudien_admin=${cookie}` }, redirect: 'manual' });
  async function file(res: Response, type: 'csv' | 'plain', name: string): Promise<string> {
    expect(res.status, await res.clone().text()).toBe(200);
    expect(res.headers.get('content-type')).toBe(`text/${type}; charset=utf-8`);
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="${name}"`);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    return Buffer.from(await res.arrayBuffer()).toString('utf8');
  }

  beforeAll(async () => {
    app = await startApp({ security: { authFailureDelayMs: 0, authFailureMaxDelayMs: 0 } }, { clock });
    base = `http://127.0.0.1:${app.port('http')}`;
    const svc = createAccountService({ store: app.store, config: app.config, clock, log: silentLogger() });
    const unitA = await svc.addUnit({ name: 'Xã An Hòa', code: 'xaa', staff: 4 }, superActor('test'));
    const unitB = await svc.addUnit({ name: 'Xã Bình Minh', code: 'xab', staff: 2 }, superActor('test'));
    const totp = async (a: Account, secret: string) => app.store.updateAccount(a.id, { totpSecret: secret }, null);
    await totp(await createTestAccount(app.store, `qtv.xaa${D}`, { kind: 'admin', role: 'unit', unitId: unitA.id, fullName: 'Quản trị Xã An Hòa' }), secrets.qtvA);
    await totp(await createTestAccount(app.store, `sa${D}`, { kind: 'admin', role: 'super' }), secrets.sa);
    await createTestAccount(app.store, `lan.xaa${D}`, { unitId: unitA.id, fullName: 'Nguyễn Thị Lan' });
    await createTestAccount(app.store, `minh.xaa${D}`, { unitId: unitA.id, fullName: 'Trần Văn Minh' });
    await createTestAccount(app.store, `hoa.xab${D}`, { unitId: unitB.id, fullName: 'Lê Thị Hoa' });
  });
  afterAll(async () => app?.stop());

  it('a unit administrator downloads its own unit’s yearly report, not another unit’s, and no quarterly report', async () => {
    const cookie = await signIn('qtv.xaa', secrets.qtvA);
    const text = await file(await get('/admin/report-year.txt', cookie), 'plain', 'buudien-bao-cao-nam-2026-xaa.txt');
    expect(text).toMatch(/^BÁO CÁO Tình hình quản lý và sử dụng hệ thống Thư điện tử công vụ năm 2026\n/);
    expect(text).toContain('Đơn vị / Unit: Xã An Hòa (xaa)');
    expect(text).toContain('cấp phát tài khoản thư điện tử công vụ: 2/4. Đạt tỷ lệ: 50,0%');
    expect(text).not.toContain('Xã Bình Minh');
    const csv = await file(await get('/admin/report-year.csv?year=2026', cookie), 'csv', 'buudien-bao-cao-nam-2026-xaa.csv');
    expect(csv.split('\r\n').slice(1, -1).map((l) => l.split(',').slice(0, 4).join(','))).toEqual(['Xã An Hòa,xaa,4,2', 'Tổng cộng / Total,,4,2']);
    expect(await file(await get('/admin/report-year.txt?unit=xaa', cookie), 'plain', 'buudien-bao-cao-nam-2026-xaa.txt')).toBe(text);
    const other = await get('/admin/report-year.txt?unit=xab', cookie);
    expect(other.status).toBe(403);
    expect(await other.text()).toMatch(/^\S.* \/ \S.*\n$/);
    const quarterly = await get('/admin/report-quarter.txt', cookie);
    expect(quarterly.status).toBe(403);
    expect(await quarterly.text()).toBe('Chỉ quản trị hệ thống được lập báo cáo vận hành / only a system administrator may make the operations report\n');
    const page = await (await get('/admin', cookie)).text();
    expect(page).toContain('<a href="/admin/report-year.txt">văn bản / text</a>, <a href="/admin/report-year.csv">CSV</a>');
    expect(page).not.toContain('/admin/report-quarter');
  });

  it('a system administrator downloads every unit’s yearly report (?unit= narrows) and the quarterly report; bad parameters are refused', async () => {
    const cookie = await signIn('sa', secrets.sa);
    const csv = await file(await get('/admin/report-year.csv', cookie), 'csv', 'buudien-bao-cao-nam-2026-all.csv');
    expect(csv.split('\r\n').slice(1, -1).map((l) => l.split(',').slice(0, 4).join(','))).toEqual(['Xã An Hòa,xaa,4,2', 'Xã Bình Minh,xab,2,1', 'Tổng cộng / Total,,6,3']);
    const narrowed = await file(await get('/admin/report-year.txt?unit=xab', cookie), 'plain', 'buudien-bao-cao-nam-2026-xab.txt');
    expect(narrowed).toContain('Đơn vị / Unit: Xã Bình Minh (xab)');
    expect(narrowed).not.toContain('Xã An Hòa');
    // The quarter running: both administrators' sign-ins on this page (HTTP) are in it.
    const q4 = await file(await get('/admin/report-quarter.txt?quarter=2026-Q4', cookie), 'plain', 'buudien-bao-cao-quy-2026-Q4.txt');
    expect(q4).toMatch(/^BÁO CÁO đánh giá kết quả hoạt động của hệ thống Thư điện tử công vụ quý 4 năm 2026\n/);
    expect(q4).toContain('- HTTP: 2 thành công (2 tài khoản), 0 thất bại');
    expect(q4).toContain('- Tạo đơn vị: 2\n  Units created: 2\n');
    // By default the last quarter ended.
    const q3 = await file(await get('/admin/report-quarter.csv', cookie), 'csv', 'buudien-bao-cao-quy-2026-Q3.csv');
    expect(q3.split('\r\n')).toContain('Kỳ / Period,Quý / Quarter,2026-Q3,');
    for (const bad of ['/admin/report-quarter.txt?quarter=2026-Q9', '/admin/report-quarter.txt?unit=xab', '/admin/report-year.txt?year=20x6', `/admin/report-year.txt?unit=${'x'.repeat(100)}`]) {
      const res = await get(bad, cookie);
      expect(res.status, bad).toBe(400);
      expect(await res.text()).toMatch(/^\S.* \/ \S.*\n$/);
    }
    expect((await get('/admin/report-year.txt?unit=khongco', cookie)).status).toBe(404);
    const page = await (await get('/admin?unit=xab', cookie)).text();
    expect(page).toContain('<a href="/admin/report-year.txt?unit=xab">văn bản / text</a>');
    expect(page).toContain('<a href="/admin/report-quarter.txt">văn bản / text</a>, <a href="/admin/report-quarter.csv">CSV</a>');
  });

  it('without a session it is refused; only GET and HEAD are answered', async () => {
    const cookie = await signIn('sa', secrets.sa);
    const head = await fetch(`${base}/admin/report-quarter.csv`, { method: 'HEAD', headers: { cookie: `buudien_admin=${cookie}` } });
    expect([head.status, head.headers.get('content-type'), head.headers.get('x-content-type-options'), await head.text()]).toEqual([200, 'text/csv; charset=utf-8', 'nosniff', '']);
    for (const path of ['/admin/report-year.txt', '/admin/report-quarter.csv']) {
      expect((await get(path, null)).status).toBe(401);
      expect((await fetch(`${base}${path}`, { method: 'POST' })).status).toBe(405);
    }
  });
});
