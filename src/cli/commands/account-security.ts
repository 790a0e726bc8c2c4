/**
 * `buudien account 2fa enable|disable` and `buudien account app-password add|list|remove`
 * (R-AUTH-3): two-factor sign-in and per-device passwords for mail programs; `account signins`
 * (R-AUTH-5): an account's sign-in history. The rules and the audit live in the account service;
 * this file parses and prints.
 */
import type { Command } from 'commander';
import { phoneTail } from '../../auth/sms.js';
import { vietnamTime } from '../../lib/clock.js';
import { MailError, bi } from '../../lib/errors.js';
import { REASON_OPTION, REF_OPTION, type CliContext } from '../context.js';

function parseId(v: string): number {
  if (!/^\d{1,15}$/.test(v.trim()) || Number(v) <= 0) {
    throw new MailError('INVALID_INPUT', bi(`Số hiệu "${v}" không hợp lệ (xem: account app-password list)`, `"${v}" is not an app password id (see: account app-password list)`));
  }
  return Number(v);
}

/** Registers the subcommands under `buudien account` (called from account.ts). */
export function registerAccountSecurity(account: Command, ctx: CliContext): void {
  const twoFactor = account.command('2fa').description('xác thực hai lớp (ứng dụng TOTP hoặc SMS) / two-factor sign-in (TOTP app or SMS) (R-AUTH-3)');

  twoFactor
    .command('enable <address>')
    .description('bật xác thực hai lớp, in khóa cho ứng dụng xác thực (hoặc --sms) / turn on two-factor sign-in and print the authenticator secret (or --sms)')
    .option('--reset', 'cấp khóa mới khi đã bật (mất điện thoại) / a new secret when already on (lost phone)')
    .option('--sms', 'mã qua SMS tới số điện thoại của tài khoản thay cho ứng dụng (cần sms.command) / codes by SMS to the account\'s phone instead of an app (needs sms.command)')
    .option('--phone <number>', 'với --sms: số di động nhận mã (ghi vào tài khoản) / with --sms: the mobile number for the codes (kept on the account)')
    .option(...REF_OPTION)
    .option('--json', 'JSON')
    .action(async (address: string, opts: { reset?: boolean; sms?: boolean; phone?: string; ref?: string; json?: boolean }) => {
      await ctx.withApp(async (app) => {
        if (opts.phone !== undefined && !opts.sms) throw new MailError('INVALID_INPUT', bi('--phone chỉ dùng cùng --sms', '--phone goes with --sms only'));
        if (opts.sms) {
          if (opts.reset) throw new MailError('INVALID_INPUT', bi('--reset là cho ứng dụng xác thực, không dùng cùng --sms', '--reset is for authenticator apps, not with --sms'));
          const a = await ctx.accounts(app).enableSmsTwoFactor(address, ctx.actor(), { phone: opts.phone ?? null, ref: opts.ref ?? null });
          const tail = phoneTail(a.phone ?? '');
          if (opts.json) ctx.printRecord({ address: a.address, method: 'sms', phone: tail }, true);
          else ctx.out(`${bi(`Đã bật xác thực hai lớp bằng SMS (số ${tail})`, `two-factor sign-in by SMS enabled (phone ${tail})`)}: ${a.address}`);
          ctx.err(
            bi(
              `Lưu ý: từ nay chương trình thư (Outlook, Thunderbird, điện thoại) của ${a.address} không đăng nhập bằng mật khẩu chính được nữa, phải dùng mật khẩu ứng dụng: buudien account app-password add ${a.address} --label "…"`,
              `Note: mail programs (Outlook, Thunderbird, phones) of ${a.address} can no longer sign in with the main password and must use app passwords: buudien account app-password add ${a.address} --label "…"`,
            ),
          );
          return;
        }
        const r = await ctx.accounts(app).enableTwoFactor(address, ctx.actor(), { reset: opts.reset ?? false, ref: opts.ref ?? null });
        if (opts.json) {
          ctx.printRecord({ address: r.account.address, secret: r.secret, uri: r.uri, reset: r.replaced }, true);
        } else {
          ctx.out(`${r.replaced ? bi('Đã cấp khóa xác thực hai lớp mới', 'new two-factor secret') : bi('Đã bật xác thực hai lớp', 'two-factor sign-in enabled')}: ${r.account.address}`);
          ctx.out(`${bi('Khóa bí mật', 'secret')}: ${r.secret}`);
          ctx.out(`URI: ${r.uri}`);
        }
        ctx.err(
          bi(
            `Lưu ý: từ nay chương trình thư (Outlook, Thunderbird, điện thoại) của ${r.account.address} không đăng nhập bằng mật khẩu chính được nữa, phải dùng mật khẩu ứng dụng: buudien account app-password add ${r.account.address} --label "…"`,
            `Note: mail programs (Outlook, Thunderbird, phones) of ${r.account.address} can no longer sign in with the main password and must use app passwords: buudien account app-password add ${r.account.address} --label "…"`,
          ),
        );
      });
    });

  twoFactor
    .command('disable <address>')
    .description('tắt xác thực hai lớp / turn off two-factor sign-in')
    .requiredOption(...REASON_OPTION)
    .option(...REF_OPTION)
    .action(async (address: string, opts: { reason: string; ref?: string }) => {
      await ctx.withApp(async (app) => {
        const a = await ctx.accounts(app).disableTwoFactor(address, opts.reason, ctx.actor(), opts.ref ?? null);
        ctx.out(`${bi('Đã tắt xác thực hai lớp', 'two-factor sign-in disabled')}: ${a.address}`);
      });
    });

  const apps = account.command('app-password').description('mật khẩu ứng dụng cho chương trình thư / app passwords for mail programs (R-AUTH-3)');

  apps
    .command('add <address>')
    .description('tạo mật khẩu ứng dụng (chỉ hiện một lần) / create an app password (shown once)')
    .requiredOption('--label <label>', 'tên thiết bị / device label, e.g. "Outlook văn phòng"')
    .option(...REF_OPTION)
    .option('--json', 'JSON')
    .action(async (address: string, opts: { label: string; ref?: string; json?: boolean }) => {
      await ctx.withApp(async (app) => {
        const r = await ctx.accounts(app).addAppPassword(address, opts.label, ctx.actor(), opts.ref ?? null);
        if (opts.json) {
          ctx.printRecord({ address: r.account.address, id: r.appPassword.id, label: r.appPassword.label, secret: r.secret }, true);
          return;
        }
        ctx.out(`${bi('Đã tạo mật khẩu ứng dụng', 'app password created')}: ${r.account.address} #${r.appPassword.id} "${r.appPassword.label}"`);
        ctx.out(`${bi('Mật khẩu ứng dụng (chỉ hiện một lần)', 'app password (shown once)')}: ${r.secret}`);
      });
    });

  apps
    .command('list <address>')
    .description('liệt kê mật khẩu ứng dụng / list app passwords')
    .option('--json', 'JSON')
    .action(async (address: string, opts: { json?: boolean }) => {
      await ctx.withApp(async (app) => {
        const list = await ctx.accounts(app).listAppPasswords(address, ctx.actor());
        ctx.printList(
          list,
          opts.json ?? false,
          [
            ['ID', (a) => String(a.id)],
            ['LABEL', (a) => a.label],
            ['CREATED', (a) => a.createdAt.toISOString()],
            ['LAST USED', (a) => a.lastUsedAt?.toISOString() ?? '-'],
          ],
          (a) => ({ id: a.id, label: a.label, createdAt: a.createdAt, lastUsedAt: a.lastUsedAt }),
        );
      });
    });

  account
    .command('signins <address>')
    .description('lịch sử đăng nhập (R-AUTH-5), mới nhất trước; hộp thư đơn vị: người được ủy quyền nào đã mở / sign-in history, newest first; a unit mailbox: which delegate opened it')
    .option('--failed', 'chỉ các lần bị từ chối / refused attempts only')
    .option('--ok', 'chỉ các lần thành công / successful sign-ins only')
    .option('--limit <n>', 'số dòng (1–1000, mặc định 50) / rows (1–1000, default 50)')
    .option('--json', 'JSON')
    .action(async (address: string, opts: { failed?: boolean; ok?: boolean; limit?: string; json?: boolean }) => {
      await ctx.withApp(async (app) => {
        if (opts.failed && opts.ok) throw new MailError('INVALID_INPUT', bi('Chỉ dùng một trong --failed và --ok', 'use one of --failed and --ok'));
        const limit = opts.limit === undefined ? 50 : Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new MailError('INVALID_INPUT', bi(`--limit phải là số nguyên từ 1 đến 1000`, `--limit must be a whole number from 1 to 1000`));
        const rows = await ctx.accounts(app).listSignIns(address, ctx.actor(), { limit, ...(opts.failed ? { ok: false } : opts.ok ? { ok: true } : {}) });
        ctx.printList(
          rows,
          opts.json ?? false,
          [
            ['LAST', (r) => vietnamTime(r.at)],
            ['COUNT', (r) => String(r.count)],
            ['PROTOCOL', (r) => r.protocol],
            ['IP', (r) => r.ip],
            ['RESULT', (r) => (r.ok ? `ok ${r.method ?? ''}`.trim() : `refused ${r.reason ?? ''}`.trim())],
            ['DELEGATION', (r) => (r.via !== null ? `by ${r.via}` : r.opened !== null ? `${r.ok ? 'opened' : 'asked for'} ${r.opened}` : '-')],
          ],
          (r) => ({ at: r.at, firstAt: r.firstAt, count: r.count, protocol: r.protocol, ip: r.ip, ok: r.ok, method: r.method, appPasswordId: r.appPasswordId, reason: r.reason, via: r.via, opened: r.opened }),
        );
      });
    });

  apps
    .command('remove <address> <id>')
    .description('thu hồi mật khẩu ứng dụng / revoke an app password')
    .option(...REF_OPTION)
    .action(async (address: string, idText: string, opts: { ref?: string }) => {
      const id = parseId(idText);
      await ctx.withApp(async (app) => {
        const r = await ctx.accounts(app).removeAppPassword(address, id, ctx.actor(), opts.ref ?? null);
        ctx.out(`${bi('Đã thu hồi mật khẩu ứng dụng', 'app password revoked')}: ${r.account.address} #${r.appPassword.id} "${r.appPassword.label}"`);
      });
    });
}
