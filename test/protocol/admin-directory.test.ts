/**
 * GET /admin/directory.csv (R-DIR-1) on the real app: a system administrator downloads every
 * unit's directory (`?unit=` narrows to a unit and its sub-units), a unit administrator only its
 * own unit's (another unit is refused); active personal accounts only, formulas neutralised,
 * Vietnamese intact; each unit's postal address (R-DIR-1) in the last column of its row and of
 * its people's rows, neutralised like any cell; the dashboard links to it; without a session it is
 * refused.
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
const HEADER = 'Họ và tên / Full name,Chức vụ / Title,Đơn vị / Unit,Mã đơn vị / Unit code,Thư điện tử / E-mail,Di động / Mobile,Địa chỉ / Address';
/** Postal addresses: xaa's Vietnamese with commas; td's (set after adding) led by "=" with a ";" before "@"; xab has none. */
const XAA_POST = 'Thôn 3, xã An Hòa, huyện Quỳnh Lưu, Nghệ An';
const TD_POST = '=1+1;@xóm Đông';
/** As CSV cells: quoted (a comma, a ";"), formulas neutralised at the start and after the ";". */
const XAA_CSV = `"${XAA_POST}"`;
const TD_CSV = `"'=1+1;'@xóm Đông"`;

describe('GET /admin/directory.csv', () => {
  let app: TestApp;
  let base = '';
  let sub = '';
  const clock = new ManualClock(new Date('2026-11-23T02:00:00Z'));
  const secrets = { qtvA: newTotpSecret(), sa: newTotpSecret() };

  async function signIn(user: string, secret: string): Promise<string> {
    const cookie = await adminSignIn(base, clock, user, secret);
    return cookie;
  }
  const get = (path: string, cookie: string | null) => fetch(`${base}${path}`, { headers: cookie === null ? {} : { cookie: `buudien_admin=${cookie}` }, redirect: 'manual' });
  /** The CSV's rows after the header (BOM checked and removed). */
  async function rows(res: Response): Promise<string[]> {
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const bytes = Buffer.from(await res.arrayBuffer());
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const lines = bytes.toString('utf8').slice(1).split('\r\n');
    expect(lines.pop()).toBe('');
    expect(lines[0]).toBe(HEADER);
    return lines.slice(1);
  }

  beforeAll(async () => {
    app = await startApp({ security: { authFailureDelayMs: 0, authFailureMaxDelayMs: 0 } }, { clock });
    base = `http://127.0.0.1:${app.port('http')}`;
    const svc = createAccountService({ store: app.store, config: app.config, clock, log: silentLogger() });
    const unitA = await svc.addUnit({ name: 'Xã An Hòa', code: 'xaa', postalAddress: XAA_POST }, superActor('test'));
    const unitB = await svc.addUnit({ name: 'Xã Bình Minh', code: 'xab' }, superActor('test'));
    const unitA1 = await svc.addUnit({ name: 'Thôn Đông', code: 'td', parent: 'xaa' }, superActor('test'));
    await svc.updateUnit(unitA1.address, { postalAddress: TD_POST }, superActor('test'));
    sub = unitA1.address;
    const totp = async (a: Account, secret: string) => app.store.updateAccount(a.id, { totpSecret: secret }, null);
    await totp(await createTestAccount(app.store, `qtv.xaa${D}`, { kind: 'admin', role: 'unit', unitId: unitA.id, fullName: 'Quản trị Xã An Hòa' }), secrets.qtvA);
    await totp(await createTestAccount(app.store, `sa${D}`, { kind: 'admin', role: 'super' }), secrets.sa);
    const lan = await createTestAccount(app.store, `lan.xaa${D}`, { unitId: unitA.id, fullName: 'Nguyễn Thị Lan' });
    await app.store.updateAccount(lan.id, { title: 'Chủ tịch UBND xã', phone: '0912 345 678' }, null);
    await createTestAccount(app.store, `minh.xaa${D}`, { unitId: unitA.id, fullName: '=HYPERLINK("http://evil.example","Minh, Trần")' });
    const off = await createTestAccount(app.store, `nghi.xaa${D}`, { unitId: unitA.id, fullName: 'Đỗ Văn Nghỉ' });
    await app.store.updateAccount(off.id, { state: 'suspended', stateReason: 'nghỉ phép', stateChangedAt: clock.now() }, null);
    await createTestAccount(app.store, `xaa${D}`, { kind: 'unit', unitId: unitA.id, fullName: 'Xã An Hòa' });
    await createTestAccount(app.store, `tuan.td${D}`, { unitId: unitA1.id, fullName: 'Hồ Văn Tuấn' });
    await createTestAccount(app.store, `hoa.xab${D}`, { unitId: unitB.id, fullName: 'Lê Thị Hoa' });
  });
  afterAll(async () => app?.stop());

  it('a system administrator gets every unit in tree order; ?unit= narrows to a unit and its sub-units; the dashboard links to it', async () => {
    const cookie = await signIn('sa', secrets.sa);
    const res = await get('/admin/directory.csv', cookie);
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="buudien-directory-all-2026-11-23.csv"');
    const everyUnit = [
      `,,Xã An Hòa,xaa,xaa${D},,${XAA_CSV}`,
      `"'=HYPERLINK(""http://evil.example"",""Minh, Trần"")",,Xã An Hòa,xaa,minh.xaa${D},,${XAA_CSV}`,
      `Nguyễn Thị Lan,Chủ tịch UBND xã,Xã An Hòa,xaa,lan.xaa${D},0912 345 678,${XAA_CSV}`,
      `,,Thôn Đông,${sub},,,${TD_CSV}`,
      `Hồ Văn Tuấn,,Thôn Đông,${sub},tuan.td${D},,${TD_CSV}`,
      ',,Xã Bình Minh,xab,,,',
      `Lê Thị Hoa,,Xã Bình Minh,xab,hoa.xab${D},,`,
    ];
    expect(await rows(res)).toEqual(everyUnit);
    const narrowed = await get('/admin/directory.csv?unit=xaa', cookie);
    expect(narrowed.headers.get('content-disposition')).toBe('attachment; filename="buudien-directory-xaa-2026-11-23.csv"');
    expect(await rows(narrowed)).toEqual(everyUnit.slice(0, 5));
    expect(await rows(await get(`/admin/directory.csv?unit=${sub}`, cookie))).toEqual(everyUnit.slice(3, 5));
    expect((await get('/admin/directory.csv?unit=khongco', cookie)).status).toBe(404);
    expect((await get(`/admin/directory.csv?unit=${'x'.repeat(100)}`, cookie)).status).toBe(400);
    const page = await (await get('/admin?unit=xab', cookie)).text();
    expect(page).toContain('<a href="/admin/directory.csv?unit=xab">Tải danh bạ (CSV) / Download the directory (CSV)</a>');
  });

  it('a unit administrator gets its own unit only; another unit is refused', async () => {
    const cookie = await signIn('qtv.xaa', secrets.qtvA);
    const all = await rows(await get('/admin/directory.csv', cookie));
    expect(all).toEqual([
      `,,Xã An Hòa,xaa,xaa${D},,${XAA_CSV}`,
      `"'=HYPERLINK(""http://evil.example"",""Minh, Trần"")",,Xã An Hòa,xaa,minh.xaa${D},,${XAA_CSV}`,
      `Nguyễn Thị Lan,Chủ tịch UBND xã,Xã An Hòa,xaa,lan.xaa${D},0912 345 678,${XAA_CSV}`,
    ]);
    expect(await rows(await get('/admin/directory.csv?unit=xaa', cookie))).toEqual(all);
    const other = await get('/admin/directory.csv?unit=xab', cookie);
    expect(other.status).toBe(403);
    expect(await other.text()).toMatch(/^Chỉ xem được tài khoản của đơn vị mình \/ you may list only your own unit’s accounts\n$/);
    expect((await get(`/admin/directory.csv?unit=${sub}`, cookie)).status).toBe(403);
    expect(await (await get('/admin', cookie)).text()).toContain('<a href="/admin/directory.csv">Tải danh bạ (CSV) / Download the directory (CSV)</a>');
  });

  it('without a session (none, made up, or signed out) it is refused', async () => {
    const none = await get('/admin/directory.csv', null);
    expect(none.status).toBe(401);
    expect(await none.text()).toBe('Hãy đăng nhập trang quản trị trước / Sign in to the administration page first\n');
    expect((await get('/admin/directory.csv', 'made-up')).status).toBe(401);
    const cookie = await signIn('sa', secrets.sa);
    expect((await get('/admin/directory.csv', cookie)).status).toBe(200);
    const csrf = /name="csrf" value="([^"]+)"/.exec(await (await get('/admin', cookie)).text())?.[1] ?? '';
    const out = await fetch(`${base}/admin/logout`, { method: 'POST', body: new URLSearchParams({ csrf }), headers: { cookie: `buudien_admin=${cookie}` }, redirect: 'manual' });
    expect(out.status).toBe(200);
    expect((await get('/admin/directory.csv', cookie)).status).toBe(401);
    expect((await fetch(`${base}/admin/directory.csv`, { method: 'POST' })).status).toBe(405);
  });
});
