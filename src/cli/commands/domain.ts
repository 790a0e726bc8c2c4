/** `buudien domain add|list|remove`. */
import { REF_OPTION, type RegisterCommand } from '../context.js';
import { bi } from '../../lib/errors.js';

export const register: RegisterCommand = (program, ctx) => {
  const domain = program.command('domain').description('tên miền / domains served');

  domain
    .command('add <name>')
    .description('thêm tên miền / add a domain')
    .option(...REF_OPTION)
    .action(async (name: string, opts: { ref?: string }) => {
      await ctx.withApp(async (app) => {
        const d = await ctx.accounts(app).addDomain(name, ctx.actor(), opts.ref ?? null);
        ctx.out(`${bi('Đã thêm tên miền', 'domain added')}: ${d.name}`);
        // The listeners, delivery and autoconfig serve the domains of the config file.
        if (!app.config.domains.includes(d.name)) {
          ctx.err(
            bi(
              `Lưu ý: thêm ${d.name} vào "domains:" trong tệp cấu hình rồi khởi động lại máy chủ thì thư cho tên miền này mới được nhận`,
              `Note: mail for ${d.name} is accepted only once it is also listed under "domains:" in the config file and the server is restarted`,
            ),
          );
        }
      });
    });

  domain
    .command('list')
    .description('liệt kê tên miền / list domains')
    .option('--json', 'JSON')
    .action(async (opts: { json?: boolean }) => {
      await ctx.withApp(async (app) => {
        const list = await ctx.accounts(app).listDomains();
        ctx.printList(list, opts.json ?? false, [
          ['DOMAIN', (d) => d.name],
          ['CREATED', (d) => d.createdAt.toISOString()],
        ]);
      });
    });

  domain
    .command('remove <name>')
    .description('bỏ tên miền (khi không còn tài khoản) / remove a domain (no accounts left)')
    .option(...REF_OPTION)
    .action(async (name: string, opts: { ref?: string }) => {
      await ctx.withApp(async (app) => {
        await ctx.accounts(app).removeDomain(name, ctx.actor(), opts.ref ?? null);
        ctx.out(`${bi('Đã bỏ tên miền', 'domain removed')}: ${name.toLowerCase()}`);
      });
    });
};
