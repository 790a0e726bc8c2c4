/**
 * CLI review fixes: exit codes (a missing subcommand, a bad quarantine id), the audit's actor and
 * free text (--actor, --ref, --reason), unit names, and text from a request form reaching the
 * administrator's terminal (escape sequences and bidi overrides shown as "?").
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, ok, tempSetupPerTest, userError, withStore } from './run.js';

const setup = tempSetupPerTest();

describe('CLI review fixes', () => {
  it('a command missing its subcommand exits 1 after the help; --help still exits 0', async () => {
    const r = await cli(['account']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Usage: buudien account');
    expect(r.stderr.trim().split('\n').at(-1)).toBe('Thiếu lệnh con (xem trợ giúp ở trên) / a subcommand is missing (see the help above)');
    expect((await cli(['account', '--help'])).code).toBe(0);
  });

  it('a quarantine id that is no number is a usage error (exit 1), not an internal one', async () => {
    const config = setup();
    for (const bad of ['abc', '1e3', '-1', '0x10']) {
      userError(await cli(['quarantine', 'release', bad, '--config', config]), new RegExp(`Số thư cách ly không hợp lệ: ${bad.replace('-', '\\-')} / invalid quarantine id`));
    }
  });

  it('--actor is recorded beside the OS user, and must be a short name without control characters', async () => {
    const config = setup();
    ok(await cli(['org', 'add', '--name', 'Sở Tài chính', '--config', config, '--actor', 'nguoi.kiemtra']));
    ok(await cli(['org', 'add', '--name', 'Sở Nội vụ', '--config', config, '--actor', 'tester']));
    const bad: Array<[string, RegExp]> = [
      ['\u001b[2Jroot\nfake', /^--actor: Người thực hiện: tối đa 64 ký tự, không có ký tự điều khiển \/ the actor: at most 64 characters, no control characters$/],
      [`x${'y'.repeat(64)}`, /the actor: at most 64 characters/],
      ['quan\u202etri', /^--actor: Người thực hiện chứa ký tự điều khiển hướng chữ U\+202E \(không nhìn thấy\) \/ the actor holds the invisible text-direction control U\+202E$/],
    ];
    for (const [actor, pattern] of bad) userError(await cli(['org', 'add', '--name', 'Sở Y tế', '--config', config, '--actor', actor]), pattern);
    // Refused before the command acts: no unit was made without its audit entry.
    expect(await withStore(config, (s) => s.getUnitByCode('syt'))).toBeNull();
    const audit = await withStore(config, (s) => s.listAudit({ action: 'unit.add' }));
    expect(audit.map((e) => [e.target, e.actor]).sort()).toEqual([
      ['snv', 'cli:tester'],
      ['stc', 'cli:nguoi.kiemtra (tester)'],
    ]);
  });

  it('--reason and --ref: not empty, not another option, one line without control characters, bounded', async () => {
    const config = setup();
    ok(await cli(['org', 'add', '--name', 'Sở Tài chính', '--config', config]));
    ok(await cli(['account', 'add', '--name', 'Nguyễn Văn Long', '--org', 'stc', '--config', config]));
    const cases: Array<[string[], RegExp]> = [
      [['--reason', '   '], /^--reason: Lý do trống \/ the reason is empty$/],
      [['--reason', '--ref'], /^--reason: Lý do bắt đầu bằng "--": thiếu giá trị\? \/ the reason starts with "--"/],
      [['--reason', 'nghỉ\u202e hưu'], /^--reason: Lý do chứa ký tự điều khiển hướng chữ U\+202E \(không nhìn thấy\) \/ the reason holds the invisible text-direction control U\+202E$/],
      [['--reason', 'x'.repeat(501)], /the reason: at most 500 characters/],
      [['--reason', 'nghỉ hưu', '--ref', '\u0000\n\u001b[2J'], /^--ref: .* \/ the reference: at most 100 characters, no control characters$/],
    ];
    for (const [opts, pattern] of cases) userError(await cli(['account', 'suspend', 'longnv', ...opts, '--config', config]), pattern);
    const account = await withStore(config, (s) => s.getAccountByAddress('longnv@nghean.gov.vn'));
    expect(account?.state).toBe('active');
    // What Word or Excel leaves invisibly in pasted text (a soft hyphen, a zero-width space) is dropped, not refused.
    ok(await cli(['account', 'suspend', 'longnv', '--reason', '  nghỉ \u200B  hưu ', '--ref', 'CV\u00AD-7', '--config', config]));
    expect(await withStore(config, (s) => s.getAccountByAddress('longnv@nghean.gov.vn'))).toMatchObject({ state: 'suspended', stateReason: 'nghỉ hưu', stateRef: 'CV-7' });
  });

  it('a unit name is one line of text in NFC, without control or bidi characters, at most 200 characters', async () => {
    const config = setup();
    ok(await cli(['org', 'add', '--name', 'Sở Y tế', '--config', config])); // the first command also tells of the new super-administrator
    for (const name of ['\u001b]0;x\u0007Evil Unit', 'S'.repeat(201)]) {
      userError(await cli(['org', 'add', '--name', name, '--config', config]), /Tên đơn vị: tối đa 200 ký tự, không có ký tự điều khiển \/ the unit name: at most 200 characters/);
    }
    userError(await cli(['org', 'add', '--name', 'Sở Tài chính\u202e', '--config', config]), /^Tên đơn vị chứa ký tự điều khiển hướng chữ U\+202E \(không nhìn thấy\): hãy gõ lại \/ the unit name holds the invisible text-direction control U\+202E: type it again$/);
    ok(await cli(['org', 'add', '--name', 'Phòng Kế\u00ADhoạch', '--code', 'pkh', '--config', config]));
    ok(await cli(['org', 'add', '--name', 'Sở Nội vụ'.normalize('NFD'), '--config', config]));
    userError(await cli(['org', 'set', 'snv', '--name', 'Sở Nội vụ\u202e', '--config', config]), /the unit name holds the invisible text-direction control U\+202E/);
    const units = await withStore(config, (s) => s.listUnits());
    expect(units.map((u) => u.name).sort()).toEqual(['Phòng Kếhoạch', 'Sở Nội vụ'.normalize('NFC'), 'Sở Y tế']);
    // A phone number copied from Outlook comes wrapped in direction marks: they go.
    ok(await cli(['account', 'add', '--name', 'Lê Văn Hùng', '--org', 'snv', '--phone', '\u202A0912 345 678\u202C', '--config', config]));
    expect((await withStore(config, (s) => s.getAccountByAddress('hunglv@nghean.gov.vn')))?.phone).toBe('0912 345 678');
  });

  it('a request form\'s cells reach the terminal with escape sequences and bidi overrides as "?"', async () => {
    const config = setup();
    ok(await cli(['org', 'add', '--name', 'Sở Tài chính', '--config', config]));
    const form = path.join(path.dirname(config), 'form.csv');
    writeFileSync(form, 'STT,Họ và tên,Chức vụ,Phòng/ban/đơn vị,Số điện thoại,Nội dung đề nghị,Email\n1,Evil\u001b]0;PWNED\u0007\u001b[2J\u202eName,,stc,,Tạm khóa,\n');
    const r = await cli(['import', 'requests', form, '--config', config]);
    expect(r.code).toBe(1);
    const all = r.stdout + r.stderr;
    expect(all).toContain('Evil?]0;PWNED??[2J?Name');
    expect(all).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f\u202a-\u202e]/);
  });
});
