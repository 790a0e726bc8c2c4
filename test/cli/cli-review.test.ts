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
    for (const bad of ['\u001b[2Jroot\nfake', `x${'y'.repeat(64)}`, 'quan\u202etri']) {
      userError(await cli(['org', 'add', '--name', 'Sở Y tế', '--config', config, '--actor', bad]), /--actor phải là một tên tối đa 64 ký tự.* \/ --actor must be a name of at most 64 characters/);
    }
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
      [['--reason', '   '], /Lý do trống \/ the reason is empty/],
      [['--reason', '--ref'], /Lý do bắt đầu bằng "--": thiếu giá trị\? \/ the reason starts with "--"/],
      [['--reason', 'nghỉ\u202e hưu'], /the reason: at most 500 characters, no control characters/],
      [['--reason', 'x'.repeat(501)], /the reason: at most 500 characters/],
      [['--reason', 'nghỉ hưu', '--ref', '\u0000\n\u001b[2J'], /the reference: at most 100 characters, no control characters/],
    ];
    for (const [opts, pattern] of cases) userError(await cli(['account', 'suspend', 'longnv', ...opts, '--config', config]), pattern);
    const account = await withStore(config, (s) => s.getAccountByAddress('longnv@nghean.gov.vn'));
    expect(account?.state).toBe('active');
    ok(await cli(['account', 'suspend', 'longnv', '--reason', '  nghỉ   hưu ', '--ref', 'CV-7', '--config', config]));
    expect(await withStore(config, (s) => s.getAccountByAddress('longnv@nghean.gov.vn'))).toMatchObject({ state: 'suspended', stateReason: 'nghỉ hưu', stateRef: 'CV-7' });
  });

  it('a unit name is one line of text in NFC, without control or bidi characters, at most 200 characters', async () => {
    const config = setup();
    ok(await cli(['org', 'add', '--name', 'Sở Y tế', '--config', config])); // the first command also tells of the new super-administrator
    for (const name of ['\u001b]0;x\u0007Evil Unit', 'Sở Tài chính\u202e', 'S'.repeat(201)]) {
      userError(await cli(['org', 'add', '--name', name, '--config', config]), /Tên đơn vị: tối đa 200 ký tự, không có ký tự điều khiển \/ the unit name: at most 200 characters/);
    }
    ok(await cli(['org', 'add', '--name', 'Sở Nội vụ'.normalize('NFD'), '--config', config]));
    userError(await cli(['org', 'set', 'snv', '--name', 'Sở Nội vụ\u202e', '--config', config]), /the unit name: at most 200 characters, no control characters/);
    const units = await withStore(config, (s) => s.listUnits());
    expect(units.map((u) => u.name).sort()).toEqual(['Sở Nội vụ'.normalize('NFC'), 'Sở Y tế']);
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
