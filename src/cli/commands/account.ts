/**
 * `buudien account suggest|add|list|show|passwd|suspend|restore|delete|quota` (R-ADDR-3/4, R-ACC);
 * `account 2fa …` and `account app-password …` (R-AUTH-3) are in account-security.ts.
 */
import { twoFactorMethod } from '../../auth/two-factor.js';
import type { AccountView } from '../../accounts/service.js';
import { parseBytes, formatBytes } from '../../lib/bytes.js';
import { MailError, bi } from '../../lib/errors.js';
import type { AccountKind, AccountState, AdminRole } from '../../store/port.js';
import { REASON_OPTION, REF_OPTION, type RegisterCommand } from '../context.js';

/** The reason recorded when `suspend` or `delete` is given no --reason (CONTRACT.md lists none as required). */
const NO_REASON = bi('Không nêu lý do', 'no reason given');
import { registerAccountSecurity } from './account-security.js';

const KINDS: AccountKind[] = ['personal', 'unit', 'admin'];
const ROLES: AdminRole[] = ['none', 'unit', 'super'];
const STATES: AccountState[] = ['active', 'suspended', 'deleted'];

function oneOf<T extends string>(value: string | undefined, allowed: T[], what: string): T | undefined {
  if (value === undefined) return undefined;
  if ((allowed as string[]).includes(value)) return value as T;
  throw new MailError('INVALID_INPUT', bi(`${what} "${value}" không hợp lệ (${allowed.join(' | ')})`, `${what} "${value}" is not one of ${allowed.join(' | ')}`));
}

function parseSize(v: string): number {
  const n = parseBytes(v);
  if (n === null || n <= 0) throw new MailError('INVALID_INPUT', bi(`Dung lượng "${v}" không hợp lệ (ví dụ 2GB)`, `"${v}" is not a size (e.g. 2GB)`));
  return n;
}

function publicView(a: AccountView): Record<string, unknown> {
  return {
    address: a.address,
    fullName: a.fullName,
    kind: a.kind,
    role: a.role,
    state: a.state,
    stateReason: a.stateReason,
    stateChangedAt: a.stateChangedAt,
    stateRef: a.stateRef,
    unit: a.unitAddress,
    title: a.title,
    phone: a.phone,
    quotaBytes: a.effectiveQuotaBytes,
    quotaOverride: a.quotaBytes !== null,
    mustChangePassword: a.mustChangePassword,
    passwordChangedAt: a.passwordChangedAt,
    twoFactor: twoFactorMethod(a) !== null,
    twoFactorMethod: twoFactorMethod(a),
    createdAt: a.createdAt,
    lastLoginAt: a.lastLoginAt,
  };
}

export const register: RegisterCommand = (program, ctx) => {
  const account = program.command('account').description('tài khoản / accounts');

  account
    .command('suggest')
    .description('địa chỉ theo quy tắc đặt tên / the address the naming rule gives (numbered if taken)')
    .requiredOption('--name <name>', 'họ và tên / full name')
    .requiredOption('--org <code>', 'đơn vị / unit code')
    .option('--domain <domain>', 'tên miền / domain (default: the first configured)')
    .action(async (opts: { name: string; org: string; domain?: string }) => {
      await ctx.withApp(async (app) => {
        ctx.out(await ctx.accounts(app).suggestAddress(opts.name, opts.org, opts.domain ?? null));
      });
    });

  account
    .command('add')
    .description('tạo tài khoản / create an account')
    .requiredOption('--name <name>', 'họ và tên / full name')
    .option('--org <code>', 'đơn vị / unit code (required except for admin accounts)')
    .option('--address <address>', 'địa chỉ / address (default: the naming rule)')
    .option('--kind <kind>', 'personal | unit | admin', 'personal')
    .option('--role <role>', 'quyền quản trị / admin role: none | unit | super', 'none')
    .option('--password <password>', 'mật khẩu / password (default: a one-time password is printed)')
    .option('--no-force-change', 'không bắt đổi mật khẩu lần đầu (ghi nhật ký) / no first-sign-in change (audited)')
    .option('--quota <size>', 'dung lượng / quota, e.g. 5GB (default: by kind)')
    .option('--title <title>', 'chức vụ / job title')
    .option('--phone <phone>', 'số điện thoại / phone')
    .option('--domain <domain>', 'tên miền / domain for a generated address')
    .option(...REF_OPTION)
    .option('--json', 'JSON')
    .action(
      async (opts: {
        name: string;
        org?: string;
        address?: string;
        kind: string;
        role: string;
        password?: string;
        forceChange: boolean;
        quota?: string;
        title?: string;
        phone?: string;
        domain?: string;
        ref?: string;
        json?: boolean;
      }) => {
        const kind = oneOf(opts.kind, KINDS, 'kind') ?? 'personal';
        const role = oneOf(opts.role, ROLES, 'role') ?? 'none';
        const quotaBytes = opts.quota === undefined ? null : parseSize(opts.quota);
        await ctx.withApp(async (app) => {
          const r = await ctx.accounts(app).addAccount(
            {
              fullName: opts.name,
              unit: opts.org ?? null,
              address: opts.address ?? null,
              kind,
              role,
              password: opts.password ?? null,
              forceChange: opts.forceChange,
              quotaBytes,
              title: opts.title ?? null,
              phone: opts.phone ?? null,
              domain: opts.domain ?? null,
            },
            ctx.actor(),
            { ref: opts.ref ?? null },
          );
          if (opts.json) {
            ctx.printRecord({ address: r.account.address, oneTimePassword: r.oneTimePassword, mustChangePassword: r.account.mustChangePassword }, true);
            return;
          }
          ctx.out(`${bi('Đã tạo', 'created')}: ${r.account.address}`);
          if (r.oneTimePassword) ctx.out(`${bi('Mật khẩu dùng một lần', 'one-time password')}: ${r.oneTimePassword}`);
        });
      },
    );

  account
    .command('list')
    .description('liệt kê tài khoản / list accounts')
    .option('--org <code>', 'chỉ một đơn vị / one unit only')
    .option('--state <state>', 'active | suspended | deleted')
    .option('--domain <domain>', 'một tên miền / one domain')
    .option('--json', 'JSON')
    .action(async (opts: { org?: string; state?: string; domain?: string; json?: boolean }) => {
      const state = oneOf(opts.state, STATES, 'state') ?? null;
      await ctx.withApp(async (app) => {
        const list = await ctx.accounts(app).listAccounts({ unit: opts.org ?? null, state, domain: opts.domain ?? null }, ctx.actor());
        ctx.printList(
          list,
          opts.json ?? false,
          [
            ['ADDRESS', (a) => a.address],
            ['NAME', (a) => a.fullName],
            ['KIND', (a) => a.kind + (a.role !== 'none' ? `/${a.role}` : '')],
            ['STATE', (a) => a.state],
            ['UNIT', (a) => a.unitAddress ?? '-'],
            ['QUOTA', (a) => formatBytes(a.effectiveQuotaBytes)],
          ],
          publicView,
        );
      });
    });

  account
    .command('find <text>')
    .description('tìm người theo tên hoặc địa chỉ (phân biệt người trùng tên) / find people by name or address (R-ADDR-5)')
    .option('--json', 'JSON')
    .action(async (text: string, opts: { json?: boolean }) => {
      await ctx.withApp(async (app) => {
        const people = await ctx.accounts(app).findPeople(text);
        ctx.printList(
          people,
          opts.json ?? false,
          [
            ['ADDRESS', (a) => a.address],
            ['NAME', (a) => a.fullName],
            ['TITLE', (a) => a.title ?? '-'],
            ['UNIT', (a) => a.unitAddress ?? '-'],
            ['PHONE', (a) => a.phone ?? '-'],
          ],
          (a) => ({ address: a.address, fullName: a.fullName, title: a.title, unit: a.unitAddress, phone: a.phone, state: a.state }),
        );
      });
    });

  account
    .command('show <address>')
    .description('chi tiết tài khoản / show an account')
    .option('--json', 'JSON')
    .action(async (address: string, opts: { json?: boolean }) => {
      await ctx.withApp(async (app) => {
        const a = await ctx.accounts(app).getAccount(address, ctx.actor());
        const usage = await app.store.usage(a.id);
        const appPasswords = (await ctx.accounts(app).listAppPasswords(a.address, ctx.actor())).length;
        ctx.printRecord({ ...publicView(a), appPasswords, usageBytes: usage }, opts.json ?? false);
      });
    });

  account
    .command('passwd <address>')
    .description('đặt lại mật khẩu, thu hồi mọi mật khẩu ứng dụng / reset a password and revoke every app password (default: a one-time password is printed)')
    .option('--password <password>', 'mật khẩu mới / new password')
    .option('--no-force-change', 'không bắt đổi ở lần đăng nhập sau (ghi nhật ký) / no change at next sign-in (audited)')
    .option(...REF_OPTION)
    .action(async (address: string, opts: { password?: string; forceChange: boolean; ref?: string }) => {
      await ctx.withApp(async (app) => {
        const r = await ctx.accounts(app).setPassword(address, opts.password ?? null, ctx.actor(), { ref: opts.ref ?? null, forceChange: opts.forceChange });
        ctx.out(`${bi('Đã đặt lại mật khẩu', 'password reset')}: ${r.account.address}`);
        if (r.oneTimePassword) ctx.out(`${bi('Mật khẩu dùng một lần', 'one-time password')}: ${r.oneTimePassword}`);
        if (r.appPasswordsRevoked > 0) {
          ctx.out(bi(`Đã thu hồi ${r.appPasswordsRevoked} mật khẩu ứng dụng (thiết bị phải đăng nhập lại)`, `${r.appPasswordsRevoked} app password(s) revoked (devices must be set up again)`));
        }
      });
    });

  account
    .command('suspend <address>')
    .description('tạm khóa (vẫn nhận thư) / suspend: no sign-in, mail still received (R-ACC-3)')
    .option(...REASON_OPTION)
    .option(...REF_OPTION)
    .action(async (address: string, opts: { reason?: string; ref?: string }) => {
      await ctx.withApp(async (app) => {
        const a = await ctx.accounts(app).suspend(address, opts.reason ?? NO_REASON, ctx.actor(), opts.ref ?? null);
        ctx.out(`${bi('Đã tạm khóa', 'suspended')}: ${a.address}`);
      });
    });

  account
    .command('restore <address>')
    .description('khôi phục tài khoản tạm khóa / restore a suspended account (R-ACC-4)')
    .option(...REF_OPTION)
    .action(async (address: string, opts: { ref?: string }) => {
      await ctx.withApp(async (app) => {
        const a = await ctx.accounts(app).restore(address, ctx.actor(), opts.ref ?? null);
        ctx.out(`${bi('Đã khôi phục', 'restored')}: ${a.address}`);
      });
    });

  account
    .command('delete <address>')
    .description('xóa tài khoản / delete an account (R-ACC-5; the address is not reissued)')
    .option(...REASON_OPTION)
    .option(...REF_OPTION)
    .option('--purge', 'xóa luôn toàn bộ thư (cả với tài khoản đã xóa) / also remove all its mail at once (also for an account already deleted)')
    .action(async (address: string, opts: { reason?: string; ref?: string; purge?: boolean }) => {
      await ctx.withApp(async (app) => {
        const a = await ctx.accounts(app).delete(address, opts.reason ?? NO_REASON, ctx.actor(), opts.ref ?? null, { purge: opts.purge === true });
        ctx.out(
          opts.purge
            ? `${bi('Đã xóa tài khoản và toàn bộ thư', 'deleted, with all its mail')}: ${a.address}`
            : `${bi('Đã xóa (thư vẫn giữ; --purge để xóa thư)', 'deleted (the mail is kept; --purge removes it)')}: ${a.address}`,
        );
      });
    });

  account
    .command('quota <address> <size>')
    .description('đổi dung lượng / set the quota ("default" = by kind)')
    .option(...REF_OPTION)
    .action(async (address: string, size: string, opts: { ref?: string }) => {
      const bytes = size.toLowerCase() === 'default' ? null : parseSize(size);
      await ctx.withApp(async (app) => {
        const svc = ctx.accounts(app);
        await svc.setQuota(address, bytes, ctx.actor(), opts.ref ?? null);
        const a = await svc.getAccount(address, ctx.actor());
        ctx.out(`${bi('Dung lượng', 'quota')} ${a.address}: ${formatBytes(a.effectiveQuotaBytes)}${bytes === null ? ` (${bi('mặc định', 'default')})` : ''}`);
      });
    });

  account
    .command('delegate <unit-address> <clerk-address>')
    .description('cho văn thư dùng hộp thư đơn vị / let a clerk open and send as a unit mailbox (R-ACC-6)')
    .option(...REF_OPTION)
    .action(async (unit: string, clerk: string, opts: { ref?: string }) => {
      await ctx.withApp(async (app) => {
        await ctx.accounts(app).delegate(unit, clerk, ctx.actor(), opts.ref ?? null);
        ctx.out(bi(`Đã ủy quyền ${unit} cho ${clerk}`, `${clerk} now has ${unit}`));
        ctx.out(`${bi('Văn thư mở hộp thư đơn vị bằng mật khẩu của chính mình, tên đăng nhập', 'the clerk opens the unit mailbox with its own password, user name')}: ${unit.trim()}*${clerk.trim()}`);
      });
    });

  account
    .command('undelegate <unit-address> <clerk-address>')
    .description('thu hồi ủy quyền / remove a clerk from a unit mailbox')
    .option(...REF_OPTION)
    .action(async (unit: string, clerk: string, opts: { ref?: string }) => {
      await ctx.withApp(async (app) => {
        await ctx.accounts(app).undelegate(unit, clerk, ctx.actor(), opts.ref ?? null);
        ctx.out(bi(`Đã thu hồi ${unit} của ${clerk}`, `${clerk} no longer has ${unit}`));
      });
    });

  account
    .command('handover <unit-address>')
    .description('bàn giao hộp thư đơn vị khi đổi văn thư / hand a unit mailbox to a new clerk (R-ACC-6)')
    .requiredOption('--from <address>', 'văn thư cũ / previous clerk')
    .requiredOption('--to <address>', 'văn thư mới / new clerk')
    .option(...REF_OPTION)
    .option('--json', 'JSON')
    .action(async (unit: string, opts: { from: string; to: string; ref?: string; json?: boolean }) => {
      await ctx.withApp(async (app) => {
        const r = await ctx.accounts(app).handover(unit, opts.from, opts.to, ctx.actor(), opts.ref ?? null);
        if (opts.json) {
          ctx.printRecord({ address: r.unit.address, from: opts.from, to: opts.to, signInName: r.signInName, appPasswordsRevoked: r.appPasswordsRevoked }, true);
          return;
        }
        ctx.out(bi(`Đã bàn giao ${r.unit.address}: ${opts.from} → ${opts.to}`, `handed over ${r.unit.address}: ${opts.from} → ${opts.to}`));
        ctx.out(
          `${bi('Văn thư mới mở hộp thư đơn vị bằng mật khẩu của chính mình, tên đăng nhập', 'the new clerk opens the unit mailbox with its own password, user name')}: ${r.signInName}`,
        );
        ctx.err(
          bi(
            `Mật khẩu cũ của ${r.unit.address} đã hết hiệu lực${r.appPasswordsRevoked > 0 ? `, ${r.appPasswordsRevoked} mật khẩu ứng dụng đã bị thu hồi` : ''}; mật khẩu mới là ngẫu nhiên, không ai được biết: không trao mật khẩu nào`,
            `the old password of ${r.unit.address} no longer works${r.appPasswordsRevoked > 0 ? `, ${r.appPasswordsRevoked} app password(s) revoked` : ''}; the new one is random and told to nobody: no password changes hands`,
          ),
        );
      });
    });

  registerAccountSecurity(account, ctx);
};
