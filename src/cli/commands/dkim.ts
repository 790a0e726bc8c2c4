/** `buudien dkim generate DOMAIN [--selector S]`: an RSA-2048 DKIM key and the DNS record to publish. */
import type { RegisterCommand } from '../context.js';
import { dkimDnsRecord, generateDkimKey, loadDkimKey } from '../../delivery/index.js';
import { bi, MailError } from '../../lib/errors.js';

export const register: RegisterCommand = (program, ctx) => {
  const dkim = program.command('dkim').description('khóa ký DKIM cho thư gửi đi / DKIM keys for outbound mail');
  dkim
    .command('generate <domain>')
    .description('tạo khóa RSA-2048 và in bản ghi DNS TXT / create an RSA-2048 key and print the DNS TXT record')
    .option('--selector <selector>', 'selector (mặc định / default: delivery.dkimSelector)')
    .option('--force', 'thay khóa đang có / replace an existing key')
    .option('--json', 'JSON')
    .action(async (domainArg: string, opts: { selector?: string; force?: boolean; json?: boolean }) => {
      const domain = domainArg.toLowerCase();
      await ctx.withApp(async (app) => {
        if (!app.config.domains.includes(domain)) {
          throw new MailError('INVALID_INPUT', bi(`Tên miền ${domain} không có trong cấu hình (domains)`, `Domain ${domain} is not served (config domains)`));
        }
        const selector = opts.selector ?? app.config.delivery.dkimSelector;
        if (!/^[a-z0-9-]+$/.test(selector)) throw new MailError('INVALID_INPUT', bi('Selector chỉ gồm a-z, 0-9 và -', 'The selector may only hold a-z, 0-9 and -'));
        if (!opts.force && (await loadDkimKey(app.store, domain))) {
          throw new MailError('ALREADY_EXISTS', bi(`Đã có khóa DKIM cho ${domain}; dùng --force để thay`, `A DKIM key for ${domain} exists; use --force to replace it`));
        }
        const key = await generateDkimKey(app.store, domain, selector, app.clock.now());
        const rec = dkimDnsRecord(key);
        await app.store.audit({ actor: ctx.actor().name, action: 'dkim.generate', target: domain, details: { selector } });
        if (opts.json) {
          ctx.out(JSON.stringify({ domain, selector, name: rec.name, type: 'TXT', value: rec.value }, null, 2));
          return;
        }
        ctx.out(bi(`Đã tạo khóa DKIM cho ${domain}. Hãy công bố bản ghi DNS sau:`, `DKIM key created for ${domain}. Publish this DNS record:`));
        // A TXT string holds at most 255 bytes (RFC 1035): the 2048-bit key is split into several.
        const strings = rec.value.match(/.{1,255}/g) ?? [];
        ctx.out(`${rec.name}. IN TXT ${strings.map((x) => `"${x}"`).join(' ')}`);
      });
    });
};
