import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/log.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { messagesIn } from '../helpers/messages.js';
import { cli, tempSetupPerTest } from './run.js';

const setup = tempSetupPerTest();

const oneLine = (s: string): void => {
  expect(s.trim().split('\n')).toHaveLength(1);
  expect(s).toMatch(/ \/ /); // Vietnamese / English
};

describe('buudien (in-process)', () => {
  it('org and account commands, with namesakes, --json and audit refs', async () => {
    const config = setup();
    const a = await cli(['org', 'add', '--name', 'Sở Thông tin và Truyền thông', '--config', config, '--ref', 'CV-1']);
    expect(a.code).toBe(0);
    expect(a.stdout).toContain('stttt@nghean.gov.vn');
    // The first command on an empty store creates the super-admin and says so on stderr.
    expect(a.stderr).toMatch(/admin@nghean.gov.vn/);
    expect((await cli(['org', 'add', '--name', 'Phòng Tổng hợp', '--parent', 'stttt', '--config', config])).code).toBe(0);
    const units = JSON.parse((await cli(['org', 'list', '--json', '--config', config])).stdout) as Array<{ address: string }>;
    expect(units.map((u) => u.address).sort()).toEqual(['pth.stttt', 'stttt']);

    expect((await cli(['account', 'suggest', '--name', 'Nguyễn Văn Long', '--org', 'stttt', '--config', config])).stdout.trim()).toBe('longnv@nghean.gov.vn');
    const add = await cli(['account', 'add', '--name', 'Nguyễn Văn Long', '--org', 'stttt', '--title', 'Chuyên viên', '--config', config]);
    expect(add.code).toBe(0);
    expect(add.stdout).toMatch(/longnv@nghean.gov.vn/);
    expect(add.stdout).toMatch(/one-time password: \S{14,}/);
    expect((await cli(['account', 'suggest', '--name', 'Nguyễn Văn Long', '--org', 'stttt', '--config', config])).stdout.trim()).toBe('longnv2@nghean.gov.vn');
    const add2 = await cli(['account', 'add', '--name', 'Nguyễn Văn Long', '--org', 'pth.stttt', '--json', '--quota', '5GB', '--no-force-change', '--password', 'Abcdef1!', '--config', config]);
    expect(JSON.parse(add2.stdout)).toEqual({ address: 'longnv2@nghean.gov.vn', oneTimePassword: null, mustChangePassword: false });

    const list = JSON.parse((await cli(['account', 'list', '--org', 'pth.stttt', '--json', '--config', config])).stdout) as Array<Record<string, unknown>>;
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ address: 'longnv2@nghean.gov.vn', quotaBytes: 5 * 1024 ** 3, unit: 'pth.stttt', mustChangePassword: false });
    expect(list[0]).not.toHaveProperty('passwordHash');

    expect((await cli(['account', 'suspend', 'longnv', '--reason', 'nghỉ hưu', '--ref', 'CV-7', '--config', config, '--actor', 'nguoi.kiemtra'])).code).toBe(0);
    const shown = JSON.parse((await cli(['account', 'show', 'longnv@nghean.gov.vn', '--json', '--config', config])).stdout) as Record<string, unknown>;
    expect(shown).toMatchObject({ state: 'suspended', stateReason: 'nghỉ hưu', stateRef: 'CV-7', title: 'Chuyên viên', usageBytes: 0 });
    expect((await cli(['account', 'restore', 'longnv', '--config', config])).code).toBe(0);
    expect((await cli(['account', 'quota', 'longnv', '3GB', '--config', config])).stdout).toMatch(/3\.0 GB/);
    const pw = await cli(['account', 'passwd', 'longnv', '--config', config]);
    expect(pw.stdout).toMatch(/one-time password: \S{14,}/);
    expect((await cli(['account', 'delete', 'longnv', '--reason', 'chuyển công tác', '--config', config])).code).toBe(0);
    const deleted = JSON.parse((await cli(['account', 'list', '--state', 'deleted', '--json', '--config', config])).stdout) as Array<{ address: string }>;
    expect(deleted.map((d) => d.address)).toEqual(['longnv@nghean.gov.vn']);

    const found = JSON.parse((await cli(['account', 'find', 'nguyen van long', '--json', '--config', config])).stdout) as Array<{ address: string; unit: string }>;
    expect(found.map((f) => `${f.address} ${f.unit}`)).toEqual(['longnv2@nghean.gov.vn pth.stttt']);

    const table = await cli(['account', 'list', '--config', config]);
    expect(table.stdout.split('\n')[0]).toMatch(/^ADDRESS\s+NAME\s+KIND\s+STATE\s+UNIT\s+QUOTA$/);

    // Every admin action is in the audit log with its actor and reference.
    const store = await openSqliteStore({ dir: path.join(path.dirname(config), 'data'), log: silentLogger(), clock: systemClock, inlineBlobMaxBytes: 65536, groupCommitWindowMs: 0 });
    try {
      const audit = await store.listAudit({ target: 'longnv@nghean.gov.vn' });
      expect(audit.map((e) => e.action).sort()).toEqual(['account.add', 'account.delete', 'account.passwd', 'account.quota', 'account.restore', 'account.suspend']);
      expect(audit.find((e) => e.action === 'account.suspend')).toMatchObject({ actor: 'cli:nguoi.kiemtra (tester)', ref: 'CV-7' });
      expect(audit.find((e) => e.action === 'account.add')?.actor).toBe('cli:tester');
      expect((await store.listAudit({ target: 'stttt' }))[0]).toMatchObject({ action: 'unit.add', ref: 'CV-1' });
      expect((await store.listAudit({ target: 'longnv2@nghean.gov.vn' }))[0]?.details).toMatchObject({ noForceChange: true });
    } finally {
      await store.close();
    }
  });

  it('user errors: one bilingual line on stderr, exit 1', async () => {
    const config = setup();
    await cli(['org', 'add', '--name', 'Sở Tài chính', '--config', config]);
    await cli(['account', 'add', '--name', 'Lê Văn Hùng', '--org', 'stc', '--config', config]);
    const cases: string[][] = [
      ['account', 'add', '--name', 'Lê Văn Hùng', '--org', 'stc', '--address', 'hunglv'],
      ['account', 'add', '--name', 'Ai Đó', '--org', 'khong-co'],
      ['account', 'add', '--name', '!!! ---', '--org', 'stc'],
      ['account', 'add', '--name', 'Ai Đó', '--org', 'stc', '--password', 'yeu'],
      ['account', 'add', '--name', 'Ai Đó', '--org', 'stc', '--kind', 'robot'],
      ['account', 'add', '--name', 'Ai Đó', '--org', 'stc', '--quota', 'lots'],
      ['account', 'add', '--org', 'stc'],
      ['account', 'show', 'khongco'],
      ['org', 'add', '--name', 'Sở Tài chính'],
      ['domain', 'remove', 'nghean.gov.vn'],
      ['jobs', 'run', 'no-such-job'],
      ['nonsense'],
    ];
    for (const argv of cases) {
      const r = await cli([...argv, '--config', config]);
      expect(r.code, argv.join(' ')).toBe(1);
      oneLine(r.stderr);
    }
  });

  it('account delegate / handover of a unit mailbox (R-ACC-6)', async () => {
    const config = setup();
    await cli(['org', 'add', '--name', 'Sở Tài chính', '--config', config]);
    expect((await cli(['account', 'add', '--name', 'Sở Tài chính', '--org', 'stc', '--kind', 'unit', '--config', config])).stdout).toMatch(/stc@nghean.gov.vn/);
    await cli(['account', 'add', '--name', 'Lê Thị Văn', '--org', 'stc', '--config', config]);
    await cli(['account', 'add', '--name', 'Trần Thị Thư', '--org', 'stc', '--config', config]);
    const delegated = await cli(['account', 'delegate', 'stc', 'vanlt', '--config', config]);
    expect(delegated.code).toBe(0);
    expect(delegated.stdout).toMatch(/^Văn thư mở hộp thư đơn vị .* \/ the clerk opens the unit mailbox with its own password, user name: stc\*vanlt$/m);
    const r = await cli(['account', 'handover', 'stc', '--from', 'vanlt', '--to', 'thutt', '--ref', 'QĐ-5', '--config', config]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/vanlt → thutt/);
    // No password changes hands: the new clerk is told the name to sign in with its own password.
    expect(r.stdout).toMatch(/^Văn thư mới mở hộp thư đơn vị .* \/ the new clerk opens the unit mailbox .*: stc@nghean\.gov\.vn\*thutt@nghean\.gov\.vn$/m);
    expect(r.stderr).toContain('told to nobody: no password changes hands');
    const again = await cli(['account', 'handover', 'stc', '--from', 'vanlt', '--to', 'thutt', '--config', config]);
    expect(again.code).toBe(1);
    oneLine(again.stderr);
  });

  it('domain add/list/remove', async () => {
    const config = setup();
    const added = await cli(['domain', 'add', 'so.nghean.gov.vn', '--config', config]);
    expect(added.code).toBe(0);
    // Not in the config's domains: the admin is told mail for it is not accepted until it is.
    expect(added.stderr).toMatch(/^Lưu ý: thêm so\.nghean\.gov\.vn vào "domains:".* \/ Note: mail for so\.nghean\.gov\.vn is accepted only once/m);
    const list = JSON.parse((await cli(['domain', 'list', '--json', '--config', config])).stdout) as Array<{ name: string }>;
    expect(list.map((d) => d.name).sort()).toEqual(['nghean.gov.vn', 'so.nghean.gov.vn']);
    expect((await cli(['domain', 'remove', 'so.nghean.gov.vn', '--config', config])).code).toBe(0);
    expect((await cli(['domain', 'list', '--config', config])).stdout).not.toContain('so.nghean.gov.vn');
  });

  it('import requests: dry run, all-or-nothing failure, then a real run', async () => {
    const config = setup();
    const dir = path.dirname(config);
    await cli(['org', 'add', '--name', 'Sở Thông tin và Truyền thông', '--config', config]);
    const good = path.join(dir, 'good.csv');
    writeFileSync(good, '\uFEFFSTT;Họ và tên;Chức vụ;Phòng/ban/đơn vị;Số điện thoại;Nội dung đề nghị\n1;Nguyễn Văn Long;;stttt;;Cấp mới\n2;Nguyễn Văn Long;;Sở Thông tin và Truyền thông;;Cấp mới\n');
    const dry = await cli(['import', 'requests', good, '--dry-run', '--config', config]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/would create longnv@nghean.gov.vn/);
    expect(dry.stdout).toMatch(/would create longnv2@nghean.gov.vn/);
    const bad = path.join(dir, 'bad.csv');
    writeFileSync(bad, 'STT,Họ và tên,Chức vụ,Phòng/ban/đơn vị,Số điện thoại,Nội dung đề nghị\n1,Trần Văn Bình,,stttt,,Cấp mới\n2,Lê Thị C,,khong-co,,Cấp mới\n');
    const failed = await cli(['import', 'requests', bad, '--config', config]);
    expect(failed.code).toBe(1);
    oneLine(failed.stderr);
    expect(failed.stdout).toMatch(/STT 2/);
    expect(failed.stdout).not.toMatch(/STT 1/);
    const real = await cli(['import', 'requests', good, '--ref', '45/STTTT', '--config', config]);
    expect(real.code).toBe(0);
    expect(real.stdout).toMatch(/created longnv@nghean.gov.vn; .*one-time password: \S{14,}/);
    const accounts = JSON.parse((await cli(['account', 'list', '--org', 'stttt', '--json', '--config', config])).stdout) as Array<{ address: string }>;
    expect(accounts.map((a) => a.address).sort()).toEqual(['longnv2@nghean.gov.vn', 'longnv@nghean.gov.vn']);
    expect((await cli(['import', 'requests', path.join(dir, 'missing.csv'), '--config', config])).code).toBe(1);
  });

  it('config check: valid file exit 0; each problem "path: expected …, got …" and exit 1', async () => {
    const config = setup();
    const ok = await cli(['config', 'check', '--config', config]);
    expect(ok.code).toBe(0);
    const broken = path.join(path.dirname(config), 'broken.yaml');
    writeFileSync(broken, 'domains: [Not A Domain]\nlisteners:\n  imap: { port: 99999 }\nsendLog: { retentionDays: 30 }\nbogus: 1\n');
    const r = await cli(['config', 'check', '--config', broken]);
    expect(r.code).toBe(1);
    const problems = r.stdout.trim().split('\n');
    expect(problems.length).toBeGreaterThanOrEqual(4);
    for (const p of problems) expect(p).toMatch(/^[\w.]+: expected .+, got .+/);
    expect(r.stdout).toMatch(/^listeners\.imap\.port: /m);
    expect(r.stdout).toMatch(/^sendLog\.retentionDays: expected at least 184/m);
    oneLine(r.stderr);
    // Other commands refuse a broken config with one line.
    const other = await cli(['account', 'list', '--config', broken]);
    expect(other.code).toBe(1);
    oneLine(other.stderr);
  });

  it('config check: an unknown or repeated policy rule name is a problem line, exit 1', async () => {
    const config = setup('policy: { rules: [{ name: nope, action: reject }] }\n');
    const r = await cli(['config', 'check', '--config', config]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^policy\.rules\.0\.name: expected one of .+, got "nope"$/m);
    oneLine(r.stderr);
    const twice = setup('policy: { rules: [{ name: quota, action: reject }, { name: quota, action: off }] }\n');
    const again = await cli(['config', 'check', '--config', twice]);
    expect(again.code).toBe(1);
    expect(again.stdout).toMatch(/^policy\.rules\.1\.name: expected each rule once, got "quota" again$/m);
  });

  it('jobs list/run with --now', async () => {
    const config = setup();
    const list = JSON.parse((await cli(['jobs', 'list', '--json'])).stdout) as Array<{ name: string }>;
    expect(list.map((j) => j.name)).toContain('blob-gc');
    const r = await cli(['jobs', 'run', 'blob-gc', '--now', '2026-06-01T00:00:00Z', '--config', config]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/blob-gc: 0 tệp thư, 0 byte \/ 0 blobs/);
    expect((await cli(['jobs', 'run', 'blob-gc', '--now', 'yesterday', '--config', config])).code).toBe(1);

    // --now fixes "today": an account created now is idle for years by 2030 (R-ACC-3).
    await cli(['org', 'add', '--name', 'Sở Tài chính', '--config', config]);
    await cli(['account', 'add', '--name', 'Lê Văn Hùng', '--org', 'stc', '--config', config]);
    const early = await cli(['jobs', 'run', 'account-lifecycle', '--config', config]);
    expect(early.stdout).toMatch(/0 suspended, 0 deleted/);
    const late = await cli(['jobs', 'run', 'account-lifecycle', '--now', '2030-01-01T00:00:00Z', '--force', '--config', config]);
    expect(late.code).toBe(0);
    expect(late.stdout).toMatch(/suspended hunglv@nghean.gov.vn/);
    // R-ACC-3: the managing unit is told; Sở Tài chính has no unit mailbox or unit admin, so the system administrator is.
    expect(late.stdout).toMatch(/^đã gửi thông báo tới admin@nghean.gov.vn \/ notice sent to admin@nghean.gov.vn$/m);
    const store = await openSqliteStore({ dir: path.join(path.dirname(config), 'data'), log: silentLogger(), clock: systemClock, inlineBlobMaxBytes: 65536, groupCommitWindowMs: 0 });
    try {
      const admin = await store.getAccountByAddress('admin@nghean.gov.vn');
      const inbox = admin ? await store.getMailbox(admin.id, 'INBOX') : null;
      const msgs = inbox ? await store.getMessageDetails(inbox.id, (await store.listMessages(inbox.id)).map((m) => m.uid)) : [];
      // The subject is stored RFC 2047-encoded (=?UTF-8?B?…?=).
      const subjects = msgs.map((m) => Buffer.from(/=\?UTF-8\?B\?([^?]+)\?=/.exec(m.envelope.subject ?? '')?.[1] ?? '', 'base64').toString('utf8'));
      expect(subjects).toContainEqual(expect.stringContaining('tạm khóa 1 tài khoản không sử dụng / Notice: 1 inactive account suspended'));
      // It says when the account goes (NA: 184 days after the suspension) and whom the unit asks to reopen it.
      const bodies = admin ? await Promise.all((await messagesIn(store, admin.id)).map(async (raw) => (await simpleParser(raw)).text ?? '')) : [];
      const notice = bodies.find((b) => b.includes('hunglv@nghean.gov.vn (sẽ bị xóa hẳn'));
      expect(notice).toContain('hunglv@nghean.gov.vn (sẽ bị xóa hẳn từ ngày 04/07/2030 nếu không có đề nghị mở lại)');
      expect(notice).toContain('gửi đề nghị bằng văn bản tới quản trị hệ thống');
      expect(notice).toContain('hunglv@nghean.gov.vn (removed for good from 2030-07-04 unless reopening is requested)');
    } finally {
      await store.close();
    }
    const shown = JSON.parse((await cli(['account', 'show', 'hunglv', '--json', '--config', config])).stdout) as { state: string; stateChangedAt: string };
    expect(shown).toMatchObject({ state: 'suspended', stateChangedAt: '2030-01-01T00:00:00.000Z' });
    expect((await cli(['jobs', 'run', 'send-log-prune', '--config', config])).stdout).toMatch(/send-log-prune: 0 dòng nhật ký, .* \/ 0 rows/);
  });

  it('serve: prints the one-time admin password once, runs, stops cleanly on the stop signal', async () => {
    const config = setup();
    let stop: (s: string) => void = () => undefined;
    const stopped = new Promise<string>((resolve) => (stop = resolve));
    const r = await cli(['serve', '--config', config], {
      waitForStop: () => stopped,
      stdout: (t) => {
        if (t.includes('server running')) stop('test');
      },
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/admin@nghean.gov.vn/);
    expect(r.stdout).toMatch(/one-time password: \S{14,}/);
    expect(r.stdout).toMatch(/stopped/);
    // Second start: nothing printed about the admin.
    let stop2: (s: string) => void = () => undefined;
    const stopped2 = new Promise<string>((resolve) => (stop2 = resolve));
    const again = await cli(['serve', '--config', config], {
      waitForStop: () => stopped2,
      stdout: (t) => {
        if (t.includes('server running')) stop2('test');
      },
    });
    expect(again.code).toBe(0);
    expect(again.stdout).not.toMatch(/one-time password/);
  });

  it('serve: warns when policy.rules leaves out the classified rule (R-POL-6), not when it lists it; and when a served domain has no DKIM key', async () => {
    const run = async (rules: string, dkim = false): Promise<string> => {
      const config = setup(`policy:\n  rules:\n${rules}`);
      writeFileSync(config, readFileSync(config, 'utf8').replace('level: silent', 'level: warn'));
      if (dkim) expect((await cli(['dkim', 'generate', 'nghean.gov.vn', '--config', config])).code).toBe(0);
      let stop: (s: string) => void = () => undefined;
      const stopped = new Promise<string>((resolve) => (stop = resolve));
      const r = await cli(['serve', '--config', config], { waitForStop: () => stopped, stdout: (t) => (t.includes('server running') ? stop('test') : undefined) });
      expect(r.code, r.stderr).toBe(0);
      return r.stdout;
    };
    expect(await run('    - { name: executables, action: reject }\n')).toContain('policy.rules does not list the rule classified');
    expect(await run('    - { name: classified, action: off }\n')).not.toContain('does not list the rule classified');
    // No DKIM key for the served domain yet: said at every start, with the command that makes one.
    expect(await run('    - { name: classified, action: off }\n')).toContain('no DKIM key for nghean.gov.vn');
    expect(await run('    - { name: classified, action: off }\n', true)).not.toContain('no DKIM key');
  });

  it('help exits 0', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/account/);
  });
});
