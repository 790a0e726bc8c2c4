/**
 * `buudien account 2fa enable|disable` and `account app-password add|list|remove` (R-AUTH-3):
 * output, audit entries, refusals, and against a running server: after `2fa enable` IMAP takes
 * only an app password, and a removed one stops working; `account passwd` revokes them all and
 * says how many.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentTotp, verifyTotp } from '../../src/auth/totp.js';
import { createTestAccount, PASSWORD } from '../helpers/accounts.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { LineClient } from '../protocol/imap-helpers.js';
import { messagesIn } from '../helpers/messages.js';
import { decodeBody } from '../../src/mail/decode.js';
import { parseMessage } from '../../src/mail/parse.js';
import { cli, tempSetupPerTest, withStore, type Run } from './run.js';

const setup = tempSetupPerTest();


function userError(r: Run, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(1);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^\S.* \/ \S/); // Vietnamese / English
  expect(lines[0]).toMatch(pattern);
}

/** A store with the unit stc and the account hunglv@nghean.gov.vn (main password PASSWORD). */
async function withAccount(): Promise<string> {
  const config = setup();
  expect((await cli(['org', 'add', '--name', 'Sở Tài chính', '--config', config])).code).toBe(0);
  const add = await cli(['account', 'add', '--name', 'Lê Văn Hùng', '--org', 'stc', '--password', PASSWORD, '--no-force-change', '--config', config]);
  expect(add.code).toBe(0);
  return config;
}

const SECRET = /^(?:Khóa bí mật \/ secret): ([A-Z2-7]{16,})$/m;
const APP_SECRET = /^Mật khẩu ứng dụng \(chỉ hiện một lần\) \/ app password \(shown once\): ([a-z]{4} [a-z]{4} [a-z]{4} [a-z]{4})$/m;

describe('buudien account 2fa', () => {
  it('enable prints the secret, the otpauth URI and the app-password warning; the stored secret gives valid codes', async () => {
    const config = await withAccount();
    const r = await cli(['account', '2fa', 'enable', 'hunglv', '--ref', 'CV-12', '--config', config]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Đã bật xác thực hai lớp \/ two-factor sign-in enabled: hunglv@nghean\.gov\.vn$/m);
    const secret = SECRET.exec(r.stdout)?.[1] ?? '';
    expect(secret).not.toBe('');
    const uri = /^URI: (\S+)$/m.exec(r.stdout)?.[1] ?? '';
    expect(uri).toMatch(/^otpauth:\/\/totp\/nghean\.gov\.vn:hunglv%40nghean\.gov\.vn\?/);
    expect(new URL(uri).searchParams.get('secret')).toBe(secret);
    expect(new URL(uri).searchParams.get('issuer')).toBe('nghean.gov.vn');
    // The warning: Vietnamese first, then English, one line, on stderr (stdout stays for the secret).
    expect(r.stderr).toMatch(/^Lưu ý: .*mật khẩu ứng dụng.* \/ Note: mail programs .* must use app passwords: buudien account app-password add hunglv@nghean\.gov\.vn/m);

    await withStore(config, async (store) => {
      const a = await store.getAccountByAddress('hunglv@nghean.gov.vn');
      expect(a?.totpSecret).toBe(secret);
      const now = new Date();
      expect(verifyTotp(a?.totpSecret ?? '', currentTotp(secret, now), now)).toBe(true);
      const audit = await store.listAudit({ target: 'hunglv@nghean.gov.vn' });
      const e = audit.find((x) => x.action === 'account.2fa.enable');
      expect(e).toMatchObject({ actor: 'cli:tester', ref: 'CV-12' });
      // The secret is never written to the audit log.
      expect(JSON.stringify(audit)).not.toContain(secret);
    });

    const shown = JSON.parse((await cli(['account', 'show', 'hunglv', '--json', '--config', config])).stdout) as Record<string, unknown>;
    expect(shown).toMatchObject({ twoFactor: true, appPasswords: 0 });
    expect(shown).not.toHaveProperty('totpSecret');
  });

  it('refuses a second enable with one line; --reset replaces the secret (audited as a reset); --json', async () => {
    const config = await withAccount();
    const first = await cli(['account', '2fa', 'enable', 'hunglv', '--config', config]);
    const firstSecret = SECRET.exec(first.stdout)?.[1];
    userError(await cli(['account', '2fa', 'enable', 'hunglv', '--config', config]), /already on for hunglv@nghean\.gov\.vn .*--reset/);

    const reset = await cli(['account', '2fa', 'enable', 'hunglv', '--reset', '--json', '--config', config]);
    expect(reset.code, reset.stderr).toBe(0);
    const j = JSON.parse(reset.stdout) as { address: string; secret: string; uri: string; reset: boolean };
    expect(j).toMatchObject({ address: 'hunglv@nghean.gov.vn', reset: true });
    expect(j.secret).not.toBe(firstSecret);
    expect(j.uri).toContain(`secret=${j.secret}`);
    await withStore(config, async (store) => {
      expect((await store.getAccountByAddress('hunglv@nghean.gov.vn'))?.totpSecret).toBe(j.secret);
      const enables = (await store.listAudit({ target: 'hunglv@nghean.gov.vn' })).filter((e) => e.action === 'account.2fa.enable');
      expect(enables.map((e) => e.details ?? {})).toEqual(expect.arrayContaining([{}, { reset: true }]));
      expect(enables).toHaveLength(2);
    });
  });

  it('disable clears the secret, audited with its reason; a second disable is refused', async () => {
    const config = await withAccount();
    await cli(['account', '2fa', 'enable', 'hunglv', '--config', config]);
    const r = await cli(['account', '2fa', 'disable', 'hunglv', '--reason', 'mất điện thoại', '--ref', 'CV-13', '--config', config]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('Đã tắt xác thực hai lớp / two-factor sign-in disabled: hunglv@nghean.gov.vn');
    await withStore(config, async (store) => {
      expect((await store.getAccountByAddress('hunglv@nghean.gov.vn'))?.totpSecret).toBeNull();
      const e = (await store.listAudit({ target: 'hunglv@nghean.gov.vn' })).find((x) => x.action === 'account.2fa.disable');
      expect(e).toMatchObject({ actor: 'cli:tester', ref: 'CV-13', details: { reason: 'mất điện thoại' } });
    });
    userError(await cli(['account', '2fa', 'disable', 'hunglv', '--reason', 'x', '--config', config]), /two-factor sign-in is not on/);
    expect((JSON.parse((await cli(['account', 'show', 'hunglv', '--json', '--config', config])).stdout) as { twoFactor: boolean }).twoFactor).toBe(false);
    // --reason is required.
    expect((await cli(['account', '2fa', 'disable', 'hunglv', '--config', config])).code).toBe(1);
  });
});

describe('buudien account app-password', () => {
  it('add prints the secret once; list shows id, label, created, last used and never a hash; remove revokes; all audited by label', async () => {
    const config = await withAccount();
    const add = await cli(['account', 'app-password', 'add', 'hunglv', '--label', 'Outlook văn phòng', '--ref', 'CV-14', '--config', config]);
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toMatch(/^Đã tạo mật khẩu ứng dụng \/ app password created: hunglv@nghean\.gov\.vn #\d+ "Outlook văn phòng"$/m);
    const secret = APP_SECRET.exec(add.stdout)?.[1] ?? '';
    expect(secret).not.toBe('');
    const add2 = await cli(['account', 'app-password', 'add', 'hunglv@nghean.gov.vn', '--label', 'Điện thoại', '--json', '--config', config]);
    const j2 = JSON.parse(add2.stdout) as { address: string; id: number; label: string; secret: string };
    expect(j2).toMatchObject({ address: 'hunglv@nghean.gov.vn', label: 'Điện thoại' });
    expect(j2.secret).toMatch(/^[a-z]{4} [a-z]{4} [a-z]{4} [a-z]{4}$/);

    const list = await cli(['account', 'app-password', 'list', 'hunglv', '--json', '--config', config]);
    const rows = JSON.parse(list.stdout) as Array<Record<string, unknown>>;
    expect(rows.map((r) => r.label)).toEqual(['Outlook văn phòng', 'Điện thoại']);
    for (const row of rows) {
      expect(Object.keys(row).sort()).toEqual(['createdAt', 'id', 'label', 'lastUsedAt']);
      expect(row.lastUsedAt).toBeNull();
      expect(Number.isNaN(Date.parse(String(row.createdAt)))).toBe(false);
    }
    expect(list.stdout).not.toMatch(/argon2/);
    const table = await cli(['account', 'app-password', 'list', 'hunglv', '--config', config]);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+LABEL\s+CREATED\s+LAST USED$/);
    expect(table.stdout).toMatch(/Outlook văn phòng\s+\d{4}-\d\d-\d\dT\S+\s+-$/m);
    expect(table.stdout).not.toMatch(/argon2/);
    expect(JSON.parse((await cli(['account', 'show', 'hunglv', '--json', '--config', config])).stdout)).toMatchObject({ twoFactor: false, appPasswords: 2 });
    expect((await cli(['account', 'show', 'hunglv', '--config', config])).stdout).toMatch(/^appPasswords\s+2$/m);

    const firstId = Number(rows[0]?.id);
    const rm = await cli(['account', 'app-password', 'remove', 'hunglv', String(firstId), '--ref', 'CV-15', '--config', config]);
    expect(rm.code, rm.stderr).toBe(0);
    expect(rm.stdout.trim()).toBe(`Đã thu hồi mật khẩu ứng dụng / app password revoked: hunglv@nghean.gov.vn #${firstId} "Outlook văn phòng"`);
    const after = JSON.parse((await cli(['account', 'app-password', 'list', 'hunglv', '--json', '--config', config])).stdout) as Array<{ label: string }>;
    expect(after.map((r) => r.label)).toEqual(['Điện thoại']);

    await withStore(config, async (store) => {
      const audit = await store.listAudit({ target: 'hunglv@nghean.gov.vn' });
      const adds = audit.filter((e) => e.action === 'account.app-password.add');
      expect(adds.map((e) => e.details?.label).sort()).toEqual(['Outlook văn phòng', 'Điện thoại']);
      expect(adds.find((e) => e.details?.label === 'Outlook văn phòng')).toMatchObject({ actor: 'cli:tester', ref: 'CV-14', details: { id: firstId } });
      expect(audit.find((e) => e.action === 'account.app-password.remove')).toMatchObject({ ref: 'CV-15', details: { id: firstId, label: 'Outlook văn phòng' } });
      // Neither the secrets (with or without spaces) nor their hashes are in the audit log.
      const text = JSON.stringify(audit);
      for (const s of [secret, j2.secret]) {
        expect(text).not.toContain(s);
        expect(text).not.toContain(s.replace(/ /g, ''));
      }
      expect(text).not.toMatch(/argon2/);
    });
  });

  it('an empty list says so; refusals: unknown id, an id of another account, a bad id, an empty label', async () => {
    const config = await withAccount();
    await cli(['account', 'add', '--name', 'Trần Thị Thư', '--org', 'stc', '--config', config]);
    expect((await cli(['account', 'app-password', 'list', 'hunglv', '--config', config])).stdout.trim()).toBe('(không có / none)');
    expect(JSON.parse((await cli(['account', 'app-password', 'list', 'hunglv', '--json', '--config', config])).stdout)).toEqual([]);
    userError(await cli(['account', 'app-password', 'remove', 'hunglv', '42', '--config', config]), /^Tài khoản hunglv@nghean\.gov\.vn không có mật khẩu ứng dụng số 42 \/ hunglv@nghean\.gov\.vn has no app password with id 42$/);
    const other = JSON.parse((await cli(['account', 'app-password', 'add', 'thutt', '--label', 'Thunderbird', '--json', '--config', config])).stdout) as { id: number };
    userError(await cli(['account', 'app-password', 'remove', 'hunglv', String(other.id), '--config', config]), /has no app password with id/);
    expect(JSON.parse((await cli(['account', 'app-password', 'list', 'thutt', '--json', '--config', config])).stdout)).toHaveLength(1);
    userError(await cli(['account', 'app-password', 'remove', 'hunglv', 'abc', '--config', config]), /"abc" is not an app password id/);
    userError(await cli(['account', 'app-password', 'add', 'hunglv', '--label', '   ', '--config', config]), /device label/);
    await withStore(config, async (store) => {
      expect((await store.listAudit({ target: 'hunglv@nghean.gov.vn' })).filter((e) => e.action.startsWith('account.app-password'))).toEqual([]);
    });
  });
});

describe('buudien account passwd', () => {
  it('revokes every app password of the account and says how many; with none, no such line; the audit has the count', async () => {
    const config = await withAccount();
    for (const label of ['Outlook', 'Điện thoại', 'Thunderbird']) {
      expect((await cli(['account', 'app-password', 'add', 'hunglv', '--label', label, '--config', config])).code).toBe(0);
    }
    const r = await cli(['account', 'passwd', 'hunglv', '--ref', 'CV-20', '--config', config]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Đã đặt lại mật khẩu \/ password reset: hunglv@nghean\.gov\.vn$/m);
    expect(r.stdout).toMatch(/^Đã thu hồi 3 mật khẩu ứng dụng \(thiết bị phải đăng nhập lại\) \/ 3 app password\(s\) revoked \(devices must be set up again\)$/m);
    expect(JSON.parse((await cli(['account', 'app-password', 'list', 'hunglv', '--json', '--config', config])).stdout)).toEqual([]);

    const again = await cli(['account', 'passwd', 'hunglv', '--password', 'Mat-khau-moi#2026', '--no-force-change', '--config', config]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout.trim()).toBe('Đã đặt lại mật khẩu / password reset: hunglv@nghean.gov.vn');
    await withStore(config, async (store) => {
      const passwd = (await store.listAudit({ target: 'hunglv@nghean.gov.vn' })).filter((e) => e.action === 'account.passwd');
      expect(passwd.map((e) => [e.ref, e.details])).toEqual(
        expect.arrayContaining([
          ['CV-20', { appPasswordsRevoked: 3 }],
          [null, { appPasswordsRevoked: 0, noForceChange: true }],
        ]),
      );
      expect(passwd).toHaveLength(2);
    });
  });
});

describe('refusals for every command', () => {
  it('unknown address and deleted account: exit 1, one bilingual line, nothing changed', async () => {
    const config = await withAccount();
    await cli(['account', 'add', '--name', 'Phạm Văn Cũ', '--org', 'stc', '--config', config]);
    const added = JSON.parse((await cli(['account', 'app-password', 'add', 'cupv', '--label', 'Outlook', '--json', '--config', config])).stdout) as { id: number };
    expect((await cli(['account', 'delete', 'cupv', '--reason', 'nghỉ hưu', '--config', config])).code).toBe(0);
    const commands = (who: string): string[][] => [
      ['account', '2fa', 'enable', who],
      ['account', '2fa', 'enable', who, '--reset'],
      ['account', '2fa', 'disable', who, '--reason', 'x'],
      ['account', 'app-password', 'add', who, '--label', 'Outlook'],
      ['account', 'app-password', 'remove', who, String(added.id)],
    ];
    for (const argv of commands('khongco')) userError(await cli([...argv, '--config', config]), /no account khongco@nghean\.gov\.vn/);
    userError(await cli(['account', 'app-password', 'list', 'khongco', '--config', config]), /no account khongco@nghean\.gov\.vn/);
    for (const argv of commands('cupv')) userError(await cli([...argv, '--config', config]), /the account cupv@nghean\.gov\.vn is deleted/);
    await withStore(config, async (store) => {
      const a = await store.getAccountByAddress('cupv@nghean.gov.vn');
      expect(a?.totpSecret).toBeNull();
      expect(await store.listAppPasswords(a?.id ?? 0)).toHaveLength(1);
    });
  });
});

describe('against a running server (IMAP)', () => {
  let app: TestApp;
  let config: string;
  beforeAll(async () => {
    app = await startApp({ security: { authFailureDelayMs: 0, authFailureMaxDelayMs: 0 } });
    await createTestAccount(app.store, 'longnv@example.gov.vn');
    // The CLI works on the running server's storage, as an admin would on the same machine.
    config = path.join(mkdtempSync(path.join(app.dir, 'cfg-')), 'buudien.yaml');
    writeFileSync(config, `domains: [example.gov.vn]\nstorage: { dir: ${JSON.stringify(app.dir)} }\nlog: { level: silent }\n`);
  });
  afterAll(async () => app?.stop());

  async function login(password: string): Promise<string> {
    const c = await LineClient.connect(app.port('imap'));
    try {
      return (await c.cmd('a1', `LOGIN longnv@example.gov.vn "${password}"`)).at(-1) ?? '';
    } finally {
      c.close();
    }
  }

  it('after 2fa enable the main password is refused and an app password works; a removed one stops working', async () => {
    expect(await login(PASSWORD)).toMatch(/^a1 OK/);
    expect((await cli(['account', '2fa', 'enable', 'longnv@example.gov.vn', '--config', config])).code).toBe(0);
    const refused = await login(PASSWORD);
    expect(refused).toMatch(/^a1 NO \[AUTHENTICATIONFAILED\]/);
    expect(refused).toMatch(/mật khẩu ứng dụng/);

    const add = await cli(['account', 'app-password', 'add', 'longnv@example.gov.vn', '--label', 'Outlook văn phòng', '--config', config]);
    expect(add.code, add.stderr).toBe(0);
    const secret = APP_SECRET.exec(add.stdout)?.[1] ?? '';
    expect(secret).not.toBe('');
    // As printed (with its spaces) and as typed without them.
    expect(await login(secret)).toMatch(/^a1 OK/);
    expect(await login(secret.replace(/ /g, ''))).toMatch(/^a1 OK/);
    const listed = JSON.parse((await cli(['account', 'app-password', 'list', 'longnv@example.gov.vn', '--json', '--config', config])).stdout) as Array<{ id: number; lastUsedAt: string | null }>;
    expect(listed).toHaveLength(1);
    expect(listed[0]?.lastUsedAt).not.toBeNull();

    expect((await cli(['account', 'app-password', 'remove', 'longnv@example.gov.vn', String(listed[0]?.id), '--config', config])).code).toBe(0);
    expect(await login(secret)).toMatch(/^a1 NO \[AUTHENTICATIONFAILED\]/);
    expect(await login(PASSWORD)).toMatch(/^a1 NO \[AUTHENTICATIONFAILED\]/);

    // Disabling two-factor sign-in lets the main password in again.
    expect((await cli(['account', '2fa', 'disable', 'longnv@example.gov.vn', '--reason', 'thử nghiệm', '--config', config])).code).toBe(0);
    expect(await login(PASSWORD)).toMatch(/^a1 OK/);
  });

  it('a password reset ends the app passwords: one that signed in before is refused after, the new password works', async () => {
    const add = await cli(['account', 'app-password', 'add', 'longnv@example.gov.vn', '--label', 'Thunderbird', '--config', config]);
    const secret = APP_SECRET.exec(add.stdout)?.[1] ?? '';
    expect(await login(secret)).toMatch(/^a1 OK/);
    const r = await cli(['account', 'passwd', 'longnv@example.gov.vn', '--password', 'Mat-khau-moi#2026', '--no-force-change', '--config', config]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Đã thu hồi 1 mật khẩu ứng dụng .* \/ 1 app password\(s\) revoked/m);
    expect(await login(secret)).toMatch(/^a1 NO \[AUTHENTICATIONFAILED\]/);
    expect(await login('Mat-khau-moi#2026')).toMatch(/^a1 OK/);
  });
});

describe('security notices (R-AUTH-5)', () => {
  it('each change an administrator makes from the command line lands in the user’s INBOX before the command ends', async () => {
    const config = await withAccount();
    expect((await cli(['account', 'app-password', 'add', 'hunglv', '--label', 'Điện thoại <Lan>', '--config', config])).code).toBe(0);
    expect((await cli(['account', '2fa', 'enable', 'hunglv', '--config', config])).code).toBe(0);
    expect((await cli(['account', 'passwd', 'hunglv', '--config', config])).code).toBe(0);
    const texts = await withStore(config, async (store) => {
      const a = await store.getAccountByAddress('hunglv@nghean.gov.vn');
      return (await messagesIn(store, a?.id ?? -1)).map((raw) => decodeBody(raw, parseMessage(raw).structure).toString('utf8'));
    });
    expect(texts).toHaveLength(3);
    expect(texts[0]).toMatch(/^Một mật khẩu ứng dụng mới đã được tạo: "Điện thoại <Lan>" \(tài khoản hunglv@nghean\.gov\.vn\) lúc .* \(UTC\+7\), bởi quản trị viên \S+\./);
    expect(texts[1]).toMatch(/^Xác thực hai lớp đã được bật/);
    expect(texts[2]).toMatch(/^Mật khẩu của tài khoản đã được quản trị viên đặt lại; 1 mật khẩu ứng dụng đã bị thu hồi/);
    expect(texts[2]).toContain("The account's password was reset by an administrator; 1 app password(s) were revoked");
  });
});


describe('account signins (R-AUTH-5)', () => {
  it('lists the history newest first, with who opened a unit mailbox; --failed, --ok, --limit, --json; bad options refused', async () => {
    const config = await withAccount();
    const at = (h: number) => new Date(Date.UTC(2026, 10, 20, h));
    await withStore(config, async (store) => {
      const a = await store.getAccountByAddress('hunglv@nghean.gov.vn');
      const base = { accountId: a!.id, protocol: 'imap' as const, ip: '10.1.2.3', network: '10.1.2.0/24', appPasswordId: null };
      await store.recordSignIn({ ...base, at: at(1), ok: true, method: 'password', reason: null });
      await store.recordSignIn({ ...base, at: at(2), ok: false, method: null, reason: 'bad-credentials' });
      await store.recordSignIn({ ...base, at: at(3), ok: true, method: 'password', reason: null, opened: 'stc@nghean.gov.vn' });
      // A name typed by a client, with a terminal escape sequence in it.
      await store.recordSignIn({ ...base, at: at(0), ok: false, method: null, reason: 'not-delegated', opened: 'x\u001b[2J\u202Eevil' });
    });
    const all = await cli(['account', 'signins', 'hunglv', '--config', config]);
    expect(all.code, all.stderr).toBe(0);
    const lines = all.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^LAST\s+COUNT\s+PROTOCOL\s+IP\s+RESULT\s+DELEGATION/);
    expect(lines[1]).toMatch(/^2026-11-20 10:00 \(UTC\+7\)\s+1\s+imap\s+10\.1\.2\.3\s+ok password\s+opened stc@nghean\.gov\.vn$/);
    expect(lines[2]).toMatch(/refused bad-credentials\s+-$/);
    // Control characters and bidirectional overrides never reach the administrator's terminal.
    expect(lines.at(-1)).toMatch(/refused not-delegated\s+asked for x\?\[2J\?evil$/);
    expect(all.stdout).not.toMatch(/[\u001b\u202e]/);
    const failed = JSON.parse((await cli(['account', 'signins', 'hunglv', '--failed', '--json', '--config', config])).stdout) as Array<{ ok: boolean; reason: string }>;
    expect(failed.map((r) => [r.ok, r.reason])).toEqual([
      [false, 'bad-credentials'],
      [false, 'not-delegated'],
    ]);
    const one = JSON.parse((await cli(['account', 'signins', 'hunglv', '--ok', '--limit', '1', '--json', '--config', config])).stdout) as Array<{ opened: string | null }>;
    expect(one.map((r) => r.opened)).toEqual(['stc@nghean.gov.vn']);
    userError(await cli(['account', 'signins', 'hunglv', '--limit', '0', '--config', config]), /--limit must be a whole number from 1 to 1000/);
    userError(await cli(['account', 'signins', 'hunglv', '--ok', '--failed', '--config', config]), /use one of --failed and --ok/);
    userError(await cli(['account', 'signins', 'khongco', '--config', config]), /no account khongco@nghean\.gov\.vn/);
  });
});
