/**
 * `buudien directory export` (R-DIR-1) through the real main() against a temp config: the unit
 * tree in order with each unit's mailbox and its active people, as CSV (BOM, bilingual header,
 * neutralised formulas), JSON (the documented shape) and HTML (escaped, no script, no external
 * resource); --org narrows to a unit and its sub-units; suspended, deleted and administrator
 * accounts and unit mailboxes are not listed as people; Vietnamese names come out as UTF-8 NFC;
 * an unknown unit or format is a one-line bilingual error with exit 1.
 */
import path from 'node:path';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/log.js';
import type { Store } from '../../src/store/port.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { cli, tempSetup, type Run } from './run.js';

const D = '@nghean.gov.vn';
/** Typed in decomposed form (NFD): stored and exported precomposed (NFC). */
const LAN_NFD = 'Trần Thị Lan'.normalize('NFD');
const VP_NFD = 'Văn phòng Sở'.normalize('NFD');

async function withStore<T>(config: string, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openSqliteStore({ dir: path.join(path.dirname(config), 'data'), log: silentLogger(), clock: systemClock, inlineBlobMaxBytes: 65536, groupCommitWindowMs: 0 });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

function ok(r: Run): Run {
  expect(r.code, r.stderr).toBe(0);
  return r;
}

function userError(r: Run, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(1);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^\S.* \/ \S/); // Vietnamese / English
  expect(lines[0]).toMatch(pattern);
}

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
    people: Array<{ fullName: string; title: string | null; unit: string; unitAddress: string; email: string; mobile: string | null }>;
  }>;
}

describe('buudien directory export', () => {
  let dir = '';
  let config = '';
  const run = (...args: string[]) => cli([...args, '--config', config]);

  beforeAll(async () => {
    ({ dir, config } = tempSetup());
    // Units: stc with the sub-unit vp.stc (its name typed NFD), and syt beside it.
    ok(await run('org', 'add', '--name', 'Sở Tài chính', '--code', 'stc'));
    ok(await run('org', 'add', '--name', VP_NFD, '--code', 'vp', '--parent', 'stc'));
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
    expect(lines[0]).toBe('Họ và tên / Full name,Chức vụ / Title,Đơn vị / Unit,Mã đơn vị / Unit code,Thư điện tử / E-mail,Di động / Mobile');
    expect(lines.slice(1)).toEqual([
      ',,Sở Tài chính,stc,,',
      `Đặng Quốc Bảo,"'=HYPERLINK(""http://evil.example"",""Bảo, Đặng"")",Sở Tài chính,stc,baodq${D},'+84987654321`,
      `Lê Văn Hùng,Giám đốc Sở,Sở Tài chính,stc,hunglv${D},0912 345 678`,
      `,,Văn phòng Sở,vp.stc,vp.stc${D},`,
      `Trần Thị Lan,"'@SUM(1;2)",Văn phòng Sở,vp.stc,lantt${D},`,
      ',,Sở Y tế,syt,,',
      `Phạm Minh Tú,'=1+2,Sở Y tế,syt,tupm${D},'-3`,
    ]);
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
    expect(d.units.map((u) => [u.address, u.parent, u.level, u.mailbox])).toEqual([
      ['stc', null, 0, null],
      ['vp.stc', 'stc', 1, `vp.stc${D}`],
      ['syt', null, 0, null],
    ]);
    const vp = d.units[1];
    expect(vp?.name).toBe('Văn phòng Sở'.normalize('NFC'));
    expect(vp?.code).toBe('vp');
    expect(vp?.people).toEqual([{ fullName: 'Trần Thị Lan'.normalize('NFC'), title: '@SUM(1;2)', unit: 'Văn phòng Sở', unitAddress: 'vp.stc', email: `lantt${D}`, mobile: null }]);
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
    expect(h).toContain(`Văn phòng Sở <small>(vp.stc)</small> — <a href="mailto:vp.stc${D}">vp.stc${D}</a>`);
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
    expect(lines.slice(1)).toEqual([`,,Văn phòng Sở,vp.stc,vp.stc${D},`, `Trần Thị Lan,"'@SUM(1;2)",Văn phòng Sở,vp.stc,lantt${D},`]);
  });

  it('an unknown --org or --format is a one-line bilingual error, exit 1', async () => {
    userError(await run('directory', 'export', '--org', 'khong-co'), /^Không có đơn vị "khong-co" \/ no unit "khong-co"$/);
    userError(await run('directory', 'export', '--format', 'xml'), /^Định dạng "xml" không hợp lệ .* \/ "xml" is not one of csv \| json \| html$/);
  });
});
