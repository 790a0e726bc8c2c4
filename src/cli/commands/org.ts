/** `buudien org add|set|list|show`: the unit tree (R-ADDR-1, R-ADDR-2), with each unit's postal address for the directory (R-DIR-1). */
import { MailError, bi } from '../../lib/errors.js';
import type { Unit } from '../../store/port.js';
import { REF_OPTION, type RegisterCommand } from '../context.js';

function parseStaff(v: string | undefined): number | null {
  if (v === undefined) return null;
  if (!/^\d+$/.test(v.trim())) throw new MailError('INVALID_INPUT', bi(`Số cán bộ "${v}" không hợp lệ`, `"${v}" is not a staff count`));
  return Number(v.trim());
}

export const register: RegisterCommand = (program, ctx) => {
  const org = program.command('org').description('đơn vị / units (province → departments → divisions)');

  org
    .command('add')
    .description('thêm đơn vị / add a unit; without --code the code comes from the name (R-ADDR-1)')
    .requiredOption('--name <name>', 'tên đơn vị / unit name ("Sở Kế hoạch và Đầu tư")')
    .option('--code <code>', 'mã / code ("skhdt")')
    .option('--parent <code>', 'đơn vị cấp trên / parent unit code or address')
    .option('--staff <n>', 'số cán bộ / staff count (reports)')
    .option('--postal-address <text>', 'địa chỉ của đơn vị (danh bạ) / the unit\'s postal address (directory)')
    .option(...REF_OPTION)
    .option('--json', 'JSON')
    .action(async (opts: { name: string; code?: string; parent?: string; staff?: string; postalAddress?: string; ref?: string; json?: boolean }) => {
      const staff = parseStaff(opts.staff);
      await ctx.withApp(async (app) => {
        const unit = await ctx
          .accounts(app)
          .addUnit({ name: opts.name, code: opts.code ?? null, parent: opts.parent ?? null, staff, postalAddress: opts.postalAddress ?? null }, ctx.actor(), opts.ref ?? null);
        if (opts.json) ctx.printRecord({ ...unit }, true);
        else ctx.out(`${bi('Đã thêm đơn vị', 'unit added')}: ${unit.name} (${unit.address}@${app.config.domains[0] ?? ''})`);
      });
    });

  org
    .command('set <code>')
    .description('sửa tên, số cán bộ hoặc địa chỉ của đơn vị / change a unit\'s name, staff count or postal address (its code and mail address stay)')
    .option('--name <name>', 'tên mới / new name')
    .option('--staff <n>', 'số cán bộ; "" để xóa / staff count; "" clears it')
    .option('--postal-address <text>', 'địa chỉ; "" để xóa / postal address; "" clears it')
    .option(...REF_OPTION)
    .option('--json', 'JSON')
    .action(async (code: string, opts: { name?: string; staff?: string; postalAddress?: string; ref?: string; json?: boolean }) => {
      const staff = opts.staff === undefined ? undefined : opts.staff.trim() === '' ? null : parseStaff(opts.staff);
      await ctx.withApp(async (app) => {
        const unit = await ctx.accounts(app).updateUnit(
          code,
          { ...(opts.name !== undefined ? { name: opts.name } : {}), ...(staff !== undefined ? { staff } : {}), ...(opts.postalAddress !== undefined ? { postalAddress: opts.postalAddress } : {}) },
          ctx.actor(),
          opts.ref ?? null,
        );
        if (opts.json) ctx.printRecord({ ...unit }, true);
        else ctx.out(`${bi('Đã sửa đơn vị', 'unit changed')}: ${unit.name} (${unit.address})`);
      });
    });

  org
    .command('list')
    .description('liệt kê đơn vị / list units')
    .option('--json', 'JSON')
    .action(async (opts: { json?: boolean }) => {
      await ctx.withApp(async (app) => {
        const units = await ctx.accounts(app).listUnits();
        const byId = new Map(units.map((u) => [u.id, u]));
        const depth = (u: Unit): number => {
          let d = 0;
          for (let p = u.parentId; p !== null && d < 50; p = byId.get(p)?.parentId ?? null) d++;
          return d;
        };
        const sorted = [...units].sort((a, b) => a.address.split('.').reverse().join('.').localeCompare(b.address.split('.').reverse().join('.')));
        ctx.printList(sorted, opts.json ?? false, [
          ['ADDRESS', (u) => u.address],
          ['NAME', (u) => `${'  '.repeat(depth(u))}${u.name}`],
          ['STAFF', (u) => (u.staff === null ? '-' : String(u.staff))],
        ]);
      });
    });

  org
    .command('show <code>')
    .description('chi tiết đơn vị / show a unit, its sub-units and accounts')
    .option('--json', 'JSON')
    .action(async (code: string, opts: { json?: boolean }) => {
      await ctx.withApp(async (app) => {
        const svc = ctx.accounts(app);
        const unit = await svc.findUnit(code);
        const parent = unit.parentId === null ? null : await app.store.getUnit(unit.parentId);
        const children = (await svc.listUnits()).filter((u) => u.parentId === unit.id).map((u) => u.address);
        const accounts = (await svc.listAccounts({ unit: unit.address }, ctx.actor())).filter((a) => a.state !== 'deleted');
        ctx.printRecord(
          {
            code: unit.code,
            address: unit.address,
            name: unit.name,
            parent: parent?.address ?? null,
            staff: unit.staff,
            postalAddress: unit.postalAddress,
            subUnits: children,
            accounts: accounts.length,
            accountsActive: accounts.filter((a) => a.state === 'active').length,
            createdAt: unit.createdAt,
          },
          opts.json ?? false,
        );
      });
    });
};
