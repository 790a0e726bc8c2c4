/**
 * `buudien org add --postal-address`, `org set` and `org show` (R-ADDR-1, R-DIR-1) through the real
 * main() against a temp config: a unit's postal address is set when adding or afterwards (NFC,
 * trimmed, whitespace collapsed), cleared with ""; `org set` renames a unit (its code and address
 * stay) and sets or clears its staff count; every change is audited `unit.update` with the patch
 * and the request reference; a refusal (nothing to change, an over-long or control-character
 * address, an empty name, a bad staff count, an unknown unit) is one bilingual stderr line, exit 1,
 * and changes nothing.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/store/port.js';
import { cli, ok, tempSetup, userError, withStore } from './run.js';

const D = '@nghean.gov.vn';
const POST = 'Số 16 Trường Thi, TP. Vinh, Nghệ An';




interface Shown {
  code: string;
  address: string;
  name: string;
  parent: string | null;
  staff: number | null;
  postalAddress: string | null;
}

describe('buudien org add --postal-address / org set / org show', () => {
  let dir = '';
  let config = '';
  const run = (...args: string[]) => cli([...args, '--config', config]);
  const show = async (code: string): Promise<Shown> => JSON.parse(ok(await run('org', 'show', code, '--json')).stdout) as Shown;
  const updates = (target: string): Promise<AuditRecord[]> =>
    withStore(config, async (store) => (await store.listAudit({ target })).filter((e) => e.action === 'unit.update'));

  beforeAll(async () => {
    ({ dir, config } = tempSetup());
    // Typed decomposed, with stray spaces: kept NFC, trimmed, spaces collapsed.
    const added = ok(await run('org', 'add', '--name', 'Sở Tài chính', '--code', 'stc', '--staff', '40', '--postal-address', `  ${POST.normalize('NFD').replace(', ', ',   ')} `));
    expect(added.stdout).toBe(`Đã thêm đơn vị / unit added: Sở Tài chính (stc${D})\n`);
    ok(await run('org', 'add', '--name', 'Văn phòng Sở', '--code', 'vp', '--parent', 'stc'));
    ok(await run('org', 'add', '--name', 'Sở Y tế', '--code', 'syt'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('org add --postal-address stores it (NFC, collapsed); org show lists it, null when not given', async () => {
    expect(await show('stc')).toMatchObject({ code: 'stc', address: 'stc', name: 'Sở Tài chính', parent: null, staff: 40, postalAddress: POST });
    expect(await show('vp.stc')).toMatchObject({ address: 'vp.stc', parent: 'stc', postalAddress: null });
    const text = ok(await run('org', 'show', 'stc')).stdout.split('\n');
    expect(text).toContainEqual(expect.stringMatching(new RegExp(`^postalAddress\\s+${POST.replace(/\./g, '\\.')}$`)));
    expect(ok(await run('org', 'show', 'syt')).stdout).toMatch(/^postalAddress\s+-$/m);
    // --json on add gives the record with it.
    const j = JSON.parse(ok(await run('org', 'add', '--name', 'Sở Xây dựng', '--code', 'sxd', '--postal-address', 'Số 1 Lê Hồng Phong', '--json')).stdout) as Shown;
    expect(j).toMatchObject({ address: 'sxd', postalAddress: 'Số 1 Lê Hồng Phong' });
  });

  it('org set --postal-address sets, changes and clears ("") it; audited unit.update with the patch and the reference', async () => {
    const set = ok(await run('org', 'set', 'vp.stc', '--postal-address', 'Tầng 2, số 16 Trường Thi', '--ref', 'CV-21'));
    expect(set.stdout).toBe('Đã sửa đơn vị / unit changed: Văn phòng Sở (vp.stc)\n');
    expect(set.stderr).toBe('');
    expect((await show('vp.stc')).postalAddress).toBe('Tầng 2, số 16 Trường Thi');
    // By its code too (unique here), with --json.
    const j = JSON.parse(ok(await run('org', 'set', 'vp', '--postal-address', 'Tầng 3, số 16 Trường Thi', '--json')).stdout) as Shown;
    expect(j).toMatchObject({ code: 'vp', address: 'vp.stc', name: 'Văn phòng Sở', postalAddress: 'Tầng 3, số 16 Trường Thi' });
    ok(await run('org', 'set', 'vp.stc', '--postal-address', '', '--ref', 'CV-22'));
    expect((await show('vp.stc')).postalAddress).toBeNull();

    // listAudit: newest first.
    const audit = await updates('vp.stc');
    expect(audit.map((e) => [e.ref, e.details])).toEqual([
      ['CV-22', { postalAddress: null }],
      [null, { postalAddress: 'Tầng 3, số 16 Trường Thi' }],
      ['CV-21', { postalAddress: 'Tầng 2, số 16 Trường Thi' }],
    ]);
    for (const e of audit) expect(e).toMatchObject({ action: 'unit.update', target: 'vp.stc', actor: 'cli:tester' });
  });

  it('org set --name renames (code and address stay); --staff sets and "" clears it; several at once', async () => {
    const r = ok(await run('org', 'set', 'syt', '--name', '  Sở   Y tế Nghệ An ', '--staff', '25'));
    expect(r.stdout).toBe('Đã sửa đơn vị / unit changed: Sở Y tế Nghệ An (syt)\n');
    expect(await show('syt')).toMatchObject({ code: 'syt', address: 'syt', name: 'Sở Y tế Nghệ An', staff: 25, postalAddress: null });
    ok(await run('org', 'set', 'syt', '--staff', ''));
    expect((await show('syt')).staff).toBeNull();
    ok(await run('org', 'set', 'syt', '--name', 'Sở Y tế', '--staff', '30', '--postal-address', '18 Trường Thi, Vinh'));
    expect(await show('syt')).toMatchObject({ name: 'Sở Y tế', staff: 30, postalAddress: '18 Trường Thi, Vinh' });
    const audit = await updates('syt');
    expect(audit.map((e) => e.details)).toEqual([{ name: 'Sở Y tế', staff: 30, postalAddress: '18 Trường Thi, Vinh' }, { staff: null }, { name: 'Sở Y tế Nghệ An', staff: 25 }]);
    // The unit is still found by its code and address, and accounts still join it.
    ok(await run('account', 'add', '--name', 'Phạm Minh Tú', '--org', 'syt', '--address', `tupm${D}`));
    expect(JSON.parse(ok(await run('account', 'show', `tupm${D}`, '--json')).stdout)).toMatchObject({ unit: 'syt' });
  });

  it('300 characters are accepted; refusals are one bilingual line, exit 1, and change nothing', async () => {
    const max = 'ệ'.repeat(300); // characters, not bytes
    ok(await run('org', 'set', 'sxd', '--postal-address', max));
    expect((await show('sxd')).postalAddress).toBe(max);
    const stc = await show('stc');
    const audited = (await updates('stc')).length;

    userError(await run('org', 'set', 'stc'), /^Không có gì để thay đổi \/ nothing to change$/);
    userError(await run('org', 'set', 'stc', '--postal-address', 'ệ'.repeat(301)), /^Địa chỉ đơn vị: tối đa 300 ký tự.* \/ the unit address: at most 300 characters, no control characters$/);
    userError(await run('org', 'set', 'stc', '--postal-address', 'Số 16\u0007 Trường Thi'), /the unit address: at most 300 characters, no control characters$/);
    userError(await run('org', 'set', 'stc', '--name', '   '), /^Thiếu tên đơn vị \/ the unit name is missing$/);
    userError(await run('org', 'set', 'stc', '--staff', '-3'), /^Số cán bộ "-3" không hợp lệ \/ "-3" is not a staff count$/);
    userError(await run('org', 'set', 'stc', '--staff', '2.5'), /is not a staff count$/);
    userError(await run('org', 'set', 'khong-co', '--postal-address', POST), /^Không có đơn vị "khong-co" \/ no unit "khong-co"$/);
    userError(await run('org', 'add', '--name', 'Sở Dài', '--postal-address', 'x'.repeat(301)), /the unit address: at most 300 characters/);

    expect(await show('stc')).toEqual(stc);
    expect(await updates('stc')).toHaveLength(audited);
    expect(JSON.parse(ok(await run('org', 'list', '--json')).stdout).map((u: { address: string }) => u.address)).not.toContain('sd');
  });
});
