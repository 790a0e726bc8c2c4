/** `buudien quarantine list|release|delete`: messages held by a policy rule (action `quarantine`). */
import { createDelivery } from '../../delivery/index.js';
import { bi, MailError } from '../../lib/errors.js';
import { deleteQuarantined, releaseQuarantined } from '../../policy/quarantine.js';
import type { RegisterCommand } from '../context.js';

function id(v: string): number {
  const n = /^\d{1,15}$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0) throw new MailError('INVALID_INPUT', bi(`Số thư cách ly không hợp lệ: ${v}`, `invalid quarantine id: ${v}`));
  return n;
}

export const register: RegisterCommand = (program, ctx) => {
  const q = program.command('quarantine').description('thư bị cách ly theo chính sách / messages held by policy');

  q.command('list')
    .description('liệt kê thư cách ly / list held messages')
    .option('--json', 'JSON')
    .action(async (opts: { json?: boolean }) => {
      await ctx.withApp(async (app) => {
        const items = await app.store.listQuarantine();
        ctx.printList(
          items,
          opts.json ?? false,
          [
            ['ID', (i) => String(i.id)],
            ['AT', (i) => i.at.toISOString()],
            ['FROM', (i) => i.sender || '<>'],
            ['TO', (i) => i.recipients.join(',')],
            ['SIZE', (i) => String(i.size)],
            ['REASON', (i) => i.reason],
          ],
          (i) => ({ id: i.id, at: i.at.toISOString(), sender: i.sender, recipients: i.recipients, size: i.size, reason: i.reason, direction: i.direction }),
        );
      });
    });

  q.command('release <id>')
    .description('chuyển thư cách ly tới người nhận / deliver a held message')
    .action(async (v: string) => {
      const n = id(v);
      await ctx.withApp(async (app) => {
        const delivery = createDelivery({ store: app.store, config: app.config, log: app.log, clock: app.clock });
        const r = await releaseQuarantined({ store: app.store, log: app.log }, n, ctx.actor().name, (m) =>
          delivery.deliver({ ...m, clientIp: null, account: null, findings: [`quarantine: released ${n}`] }),
        );
        for (const x of r.results) ctx.out(`${x.recipient}: ${x.code} ${x.text}`);
        if (!r.removed) {
          ctx.err(bi('Một số người nhận chưa nhận được; thư vẫn được giữ trong khu cách ly', 'Some recipients failed temporarily; the message stays in the quarantine'));
          ctx.exitCode = 1;
        } else ctx.out(`${bi('Đã chuyển thư cách ly', 'released')}: ${n}`);
      });
    });

  q.command('delete <id>')
    .description('xóa thư cách ly / delete a held message')
    .action(async (v: string) => {
      const n = id(v);
      await ctx.withApp(async (app) => {
        await deleteQuarantined({ store: app.store }, n, ctx.actor().name);
        ctx.out(`${bi('Đã xóa thư cách ly', 'deleted')}: ${n}`);
      });
    });
};
