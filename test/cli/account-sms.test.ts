/**
 * `buudien account 2fa enable ADDRESS --sms [--phone N]` (R-AUTH-3, NA's OTP by SMS): the phone
 * is checked and kept, the audit names the method, one method at a time, no SMS without
 * sms.command; `2fa disable` turns SMS codes off; `account show --json` says which method.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/log.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { PASSWORD } from '../helpers/accounts.js';
import { cli, tempSetup, type Run } from './run.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function withAccount(extraYaml: string): Promise<string> {
  const s = tempSetup(extraYaml);
  dirs.push(s.dir);
  expect((await cli(['org', 'add', '--name', 'Sở Tài chính', '--config', s.config])).code).toBe(0);
  expect((await cli(['account', 'add', '--name', 'Lê Văn Hùng', '--org', 'stc', '--password', PASSWORD, '--no-force-change', '--config', s.config])).code).toBe(0);
  return s.config;
}

function refused(r: Run, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(1);
  const line = r.stderr.trim();
  expect(line.split('\n')).toHaveLength(1);
  expect(line).toMatch(/^\S.* \/ \S/);
  expect(line).toMatch(pattern);
}

const GATEWAY = `sms: { command: [${JSON.stringify(process.execPath)}, "-e", "0", "{phone}", "{text}"] }\n`;
const USER = 'hunglv@nghean.gov.vn';

describe('account 2fa enable --sms', () => {
  it('turns SMS codes on with the phone given, audited with the method; show says sms; disable turns it off', async () => {
    const config = await withAccount(GATEWAY);
    const r = await cli(['account', '2fa', 'enable', USER, '--sms', '--phone', '0912 345 678', '--config', config]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Đã bật xác thực hai lớp bằng SMS (số …678)');
    expect(r.stderr).toContain('mật khẩu ứng dụng');
    const shown = JSON.parse((await cli(['account', 'show', USER, '--json', '--config', config])).stdout) as { phone: string; twoFactor: boolean; twoFactorMethod: string };
    expect(shown).toMatchObject({ phone: '+84912345678', twoFactor: true, twoFactorMethod: 'sms' });

    const store = await openSqliteStore({ dir: path.join(path.dirname(config), 'data'), log: silentLogger(), clock: systemClock, inlineBlobMaxBytes: 65536, groupCommitWindowMs: 0 });
    try {
      const audit = (await store.listAudit({ target: USER })).filter((e) => e.action === 'account.2fa.enable');
      expect(audit.at(-1)?.details).toMatchObject({ method: 'sms', phone: '…678' });
    } finally {
      await store.close();
    }

    // One method at a time: an authenticator app is refused while SMS is on.
    refused(await cli(['account', '2fa', 'enable', USER, '--config', config]), /SMS/);
    expect((await cli(['account', '2fa', 'disable', USER, '--reason', 'đổi điện thoại', '--config', config])).code).toBe(0);
    const after = JSON.parse((await cli(['account', 'show', USER, '--json', '--config', config])).stdout) as { twoFactorMethod: string | null };
    expect(after.twoFactorMethod).toBeNull();
    // The phone on file is used when --phone is left out.
    expect((await cli(['account', '2fa', 'enable', USER, '--sms', '--config', config])).code).toBe(0);
  });

  it('refuses a bad number, no number on file, no gateway, and --phone without --sms, changing nothing', async () => {
    const config = await withAccount(GATEWAY);
    refused(await cli(['account', '2fa', 'enable', USER, '--sms', '--phone', '12-34', '--config', config]), /không phải số điện thoại/);
    refused(await cli(['account', '2fa', 'enable', USER, '--sms', '--config', config]), /chưa có số điện thoại/);
    refused(await cli(['account', '2fa', 'enable', USER, '--phone', '0912345678', '--config', config]), /--phone/);
    const shown = JSON.parse((await cli(['account', 'show', USER, '--json', '--config', config])).stdout) as { phone: string | null; twoFactor: boolean };
    expect(shown).toMatchObject({ phone: null, twoFactor: false });

    const noGateway = await withAccount('');
    refused(await cli(['account', '2fa', 'enable', USER, '--sms', '--phone', '0912345678', '--config', noGateway]), /sms\.command/);
  });
});
