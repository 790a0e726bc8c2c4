/**
 * `buudien directory export` (R-DIR-1) through the real main() against a temp config: the unit
 * tree in order with each unit's mailbox and its active people, as CSV (BOM, bilingual header,
 * neutralised formulas), JSON (the documented shape) and HTML (escaped, no script, no external
 * resource); --org narrows to a unit and its sub-units; suspended, deleted and administrator
 * accounts and unit mailboxes are not listed as people; Vietnamese names come out as UTF-8 NFC;
 * each unit's postal address (`org add|set --postal-address`) is on the unit's row and on its
 * people's (CSV 7th column, JSON `postalAddress`, HTML under the unit heading), neutralised and
 * escaped like every other text; an unknown unit or format is a one-line bilingual error with exit 1.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, ok, tempSetup, userError, withStore } from './run.js';

const D = '@nghean.gov.vn';
/** Typed in decomposed form (NFD): stored and exported precomposed (NFC). */
const LAN_NFD = 'Trần Thị Lan'.normalize('NFD');
const VP_NFD = 'Văn phòng Sở'.normalize('NFD');
/** Postal addresses: stc's Vietnamese with commas (typed NFD), vp.stc's led by "=" and holding HTML specials; syt has none. */
const STC_POST = 'Số 16 Trường Thi, TP. Vinh, Nghệ An';
const VP_POST = '=Tầng 2 <Nhà A>, 16 Trường Thi & "Vinh"';
/** The same in a CSV cell: quoted (a comma), vp's neutralised with an apostrophe and its quotes doubled. */
const STC_POST_CSV = `"${STC_POST}"`;
const VP_POST_CSV = `"'=Tầng 2 <Nhà A>, 16 Trường Thi & ""Vinh"""`;




interface JsonDirectory {
  version: number;
  organization: string;
  generatedAt: string;
  units: Array<{
    code: string;
    address: string;
    name: string;
    parent: string | null;
    level: number;
    mailbox: string | null;
    postalAddress: string | null;
    people: Array<{ fullName: string; title: string | null; unit: string; unitAddress: string; email: string; mobile: string | null; postalAddress: string | null }>;
  }>;
}

describe('buudien directory export', () => {
  let dir = '';
  let config = '';
  const run = (...args: string[]) => cli([...args, '--config', config]);

  beforeAll(async () => {
    ({ dir, config } = tempSetup());
    // Units: stc with the sub-unit vp.stc (its name typed NFD), and syt beside it.
    // stc gets its postal address when added, vp.stc afterwards (org set).
    ok(await run('org', 'add', '--name', 'Sở Tài chính', '--code', 'stc', '--postal-address', STC_POST.normalize('NFD')));
    ok(await run('org', 'add', '--name', VP_NFD, '--code', 'vp', '--parent', 'stc'));
    ok(await run('org', 'set', 'vp.stc', '--postal-address', VP_POST));
    ok(await run('org', 'add', '--name', 'Sở Y tế', '--code', 'syt'));
    const add = async (name: string, org: string | null, address: string, ...more: string[]) =>
      ok(await run('account', 'add', '--name', name, ...(org ? ['--org', org] : []), '--address', address, ...more));
    await add('Lê Văn Hùng', 'stc', `hunglv${D}`, '--title', 'Giám đốc Sở', '--phone', '0912 345 678');
    await add('Đặng Quốc Bảo', 'stc', `baodq${D}`, '--title', '=HYPERLINK("http://evil.example","Bảo, Đặng")', '--phone', '+84987654321');
    await add(LAN_NFD, 'vp', `lantt${D}`, '--title', '@SUM(1;2)');
    await add('Văn phòng Sở', 'vp', `vp.stc${D}`, '--kind', 'unit');
    await add('Phạm Minh Tú', 'syt', `tupm${D}`);
    // Left out: suspended, deleted, administrators (a unit administrator and a system administrator).
    await add('Ngô Thị Tạm', 'stc', `tamnt${D}`);
    ok(await run('account', 'suspend', `tamnt${D}`, '--reason', 'nghỉ phép'));
    await add('Vũ Văn Xóa', 'stc', `xoavv${D}`);
    ok(await run('account', 'delete', `xoavv${D}`, '--reason', 'chuyển công tác'));
    await add('Quản trị Sở Tài chính', 'stc', `qtv.stc${D}`, '--kind', 'admin', '--role', 'unit');
    await add('Quản trị hệ thống 2', null, `sa2${D}`, '--kind', 'admin', '--role', 'super');
    // A cell led by a space or a tab, which the command line trims but the store may hold (older data).
    await withStore(config, async (store) => {
      const tu = await store.getAccountByAddress(`tupm${D}`);
      if (!tu) throw new Error('no tupm');
      await store.updateAccount(tu.id, { title: ' =1+2', phone: '\t-3' }, null);
    });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('csv: BOM, bilingual header, the unit tree in order with unit rows and people, formulas neutralised', async () => {
    const r = ok(await run('directory', 'export', '--format', 'csv'));
    expect(r.stderr).toBe('');
    expect(r.stdout.startsWith('\uFEFF')).toBe(true);
    expect(r.stdout.endsWith('\r\n')).toBe(true);
    const lines = r.stdout.slice(1).split('\r\n').filter(Boolean);
    expect(lines[0]).toBe('Họ và tên / Full name,Chức vụ / Title,Đơn vị / Unit,Mã đơn vị / Unit code,Thư điện tử / E-mail,Di động / Mobile,Địa chỉ / Address');
    expect(lines.slice(1)).toEqual([
      `,,Sở Tài chính,stc,,,${STC_POST_CSV}`,
      `Đặng Quốc Bảo,"'=HYPERLINK(""http://evil.example"",""Bảo, Đặng"")",Sở Tài chính,stc,baodq${D},'+84987654321,${STC_POST_CSV}`,
      `Lê Văn Hùng,Giám đốc Sở,Sở Tài chính,stc,hunglv${D},0912 345 678,${STC_POST_CSV}`,
      `,,Văn phòng Sở,vp.stc,vp.stc${D},,${VP_POST_CSV}`,
      `Trần Thị Lan,"'@SUM(1;2)",Văn phòng Sở,vp.stc,lantt${D},,${VP_POST_CSV}`,
      ',,Sở Y tế,syt,,,',
      `Phạm Minh Tú,'=1+2,Sở Y tế,syt,tupm${D},'-3,`,
    ]);
    // No cell (quoted or not) starts a formula.
    expect(r.stdout).not.toMatch(/(^|[,\n])"?[=+@-]/);
    for (const gone of ['tamnt', 'xoavv', 'qtv.stc', 'sa2', 'admin@']) expect(r.stdout).not.toContain(gone);
    // UTF-8, precomposed: the names typed decomposed come out NFC.
    expect(r.stdout).toBe(r.stdout.normalize('NFC'));
    expect(r.stdout).not.toContain(LAN_NFD);
    expect(r.stdout).not.toContain(VP_NFD);
  });

  it('json: the documented shape, units in tree order, people with their fields', async () => {
    const r = ok(await run('directory', 'export', '--format', 'json'));
    const d = JSON.parse(r.stdout) as JsonDirectory;
    expect(Object.keys(d)).toEqual(['version', 'organization', 'generatedAt', 'units']);
    expect(d.version).toBe(1);
    expect(Number.isNaN(Date.parse(d.generatedAt))).toBe(false);
    expect(d.units.map((u) => [u.address, u.parent, u.level, u.mailbox, u.postalAddress])).toEqual([
      ['stc', null, 0, null, STC_POST],
      ['vp.stc', 'stc', 1, `vp.stc${D}`, VP_POST],
      ['syt', null, 0, null, null],
    ]);
    // Every key is there in the documented order, absent values null (never left out).
    expect(Object.keys(d.units[2] ?? {})).toEqual(['code', 'address', 'name', 'parent', 'level', 'mailbox', 'postalAddress', 'people']);
    expect(Object.keys(d.units[2]?.people[0] ?? {})).toEqual(['fullName', 'title', 'unit', 'unitAddress', 'email', 'mobile', 'postalAddress']);
    expect(d.units[2]?.people[0]?.postalAddress).toBeNull();
    // People carry their unit's postal address.
    expect(d.units[0]?.people.map((p) => p.postalAddress)).toEqual([STC_POST, STC_POST]);
    const vp = d.units[1];
    expect(vp?.name).toBe('Văn phòng Sở'.normalize('NFC'));
    expect(vp?.code).toBe('vp');
    expect(vp?.people).toEqual([
      { fullName: 'Trần Thị Lan'.normalize('NFC'), title: '@SUM(1;2)', unit: 'Văn phòng Sở', unitAddress: 'vp.stc', email: `lantt${D}`, mobile: null, postalAddress: VP_POST },
    ]);
    expect(d.units[0]?.people.map((p) => [p.fullName, p.title, p.mobile])).toEqual([
      ['Đặng Quốc Bảo', '=HYPERLINK("http://evil.example","Bảo, Đặng")', '+84987654321'],
      ['Lê Văn Hùng', 'Giám đốc Sở', '0912 345 678'],
    ]);
    const everyone = d.units.flatMap((u) => u.people.map((p) => p.email));
    expect(everyone.sort()).toEqual([`baodq${D}`, `hunglv${D}`, `lantt${D}`, `tupm${D}`]);
    expect(r.stdout).toBe(r.stdout.normalize('NFC'));
  });

  it('html: one self-contained page, bilingual headings, everything escaped, no script or external resource', async () => {
    const r = ok(await run('directory', 'export', '--format', 'html'));
    const h = r.stdout;
    expect(h.startsWith('<!DOCTYPE html>\n<html lang="vi">')).toBe(true);
    expect(h).toContain('<meta charset="utf-8">');
    expect(h).toContain('<th scope="col">Họ và tên<br><small>Full name</small></th>');
    for (const [vi, en] of [['Chức vụ', 'Title'], ['Đơn vị', 'Unit'], ['Thư điện tử', 'E-mail'], ['Di động', 'Mobile']]) {
      expect(h).toContain(`${vi}<br><small>${en}</small>`);
    }
    expect(h).toContain('Danh bạ thư điện tử<br><small>E-mail directory</small>');
    expect(h).not.toMatch(/<script|<link|<img|<iframe|\bsrc=|@import|url\(|\bon\w+=/i);
    expect(h).not.toMatch(/https?:\/\/(?!evil\.example)/); // the only URL is the escaped text of a title
    expect(h).toContain('<td>=HYPERLINK(&#34;http://evil.example&#34;,&#34;Bảo, Đặng&#34;)</td>');
    expect(h).toContain(`<a href="mailto:lantt${D}">lantt${D}</a>`);
    // The postal address on a line of its own under the unit heading, escaped; none for syt.
    expect(h).toContain(`Văn phòng Sở <small>(vp.stc)</small> — <a href="mailto:vp.stc${D}">vp.stc${D}</a><br><small>=Tầng 2 &#60;Nhà A&#62;, 16 Trường Thi &#38; &#34;Vinh&#34;</small></th>`);
    expect(h).toContain(`Sở Tài chính <small>(stc)</small><br><small>${STC_POST}</small></th>`);
    expect(h).toContain('Sở Y tế <small>(syt)</small></th>');
    expect(h).not.toContain('<Nhà A>');
    // Tree order: stc, its sub-unit, then syt.
    expect(h.indexOf('(stc)')).toBeLessThan(h.indexOf('(vp.stc)'));
    expect(h.indexOf('(vp.stc)')).toBeLessThan(h.indexOf('(syt)'));
    for (const gone of ['tamnt', 'xoavv', 'qtv.stc', 'sa2']) expect(h).not.toContain(gone);
    expect(h).toBe(h.normalize('NFC'));
  });

  it('--org narrows to that unit and its sub-units (by code or address)', async () => {
    const r = ok(await run('directory', 'export', '--org', 'stc', '--format', 'json'));
    const d = JSON.parse(r.stdout) as JsonDirectory;
    expect(d.units.map((u) => [u.address, u.level])).toEqual([
      ['stc', 0],
      ['vp.stc', 1],
    ]);
    expect(r.stdout).not.toContain('tupm');
    const sub = ok(await run('directory', 'export', '--org', 'vp.stc'));
    const lines = sub.stdout.slice(1).split('\r\n').filter(Boolean);
    expect(lines.slice(1)).toEqual([`,,Văn phòng Sở,vp.stc,vp.stc${D},,${VP_POST_CSV}`, `Trần Thị Lan,"'@SUM(1;2)",Văn phòng Sở,vp.stc,lantt${D},,${VP_POST_CSV}`]);
    expect(sub.stdout).not.toContain('Trường Thi, TP. Vinh');
  });

  it('an unknown --org or --format is a one-line bilingual error, exit 1', async () => {
    userError(await run('directory', 'export', '--org', 'khong-co'), /^Không có đơn vị "khong-co" \/ no unit "khong-co"$/);
    userError(await run('directory', 'export', '--format', 'xml'), /^Định dạng "xml" không hợp lệ .* \/ "xml" is not one of csv \| json \| html$/);
  });
});
