/**
 * `buudien dkim generate DOMAIN [--selector S] [--force]`: an RSA-2048 DKIM key and the DNS record
 * to publish; with --force and a new selector, the key's rotation. `buudien dkim show DOMAIN`:
 * the current selector and its record again.
 */
import type { CliContext, RegisterCommand } from '../context.js';
import { dkimDnsRecord, generateDkimKey, loadDkimKey, type DkimKey } from '../../delivery/index.js';
import { DKIM_SELECTOR } from '../../config/schema.js';
import { bi, MailError } from '../../lib/errors.js';

/** The record as JSON, or the zone-file line after `heading`. */
function printKey(ctx: CliContext, key: DkimKey, json: boolean, heading: string, extra: Record<string, unknown> = {}): void {
  const rec = dkimDnsRecord(key);
  if (json) {
    ctx.out(JSON.stringify({ domain: key.domain, selector: key.selector, name: rec.name, type: 'TXT', value: rec.value, ...extra }, null, 2));
    return;
  }
  ctx.out(heading);
  // A TXT string holds at most 255 bytes (RFC 1035): the 2048-bit key is split into several.
  const strings = rec.value.match(/.{1,255}/g) ?? [];
  ctx.out(`${rec.name}. IN TXT ${strings.map((x) => `"${x}"`).join(' ')}`);
}

export const register: RegisterCommand = (program, ctx) => {
  const dkim = program.command('dkim').description('khóa ký DKIM cho thư gửi đi / DKIM keys for outbound mail');
  dkim
    .command('generate <domain>')
    .description('tạo khóa RSA-2048 và in bản ghi DNS TXT / create an RSA-2048 key and print the DNS TXT record')
    .option('--selector <selector>', 'selector (mặc định / default: delivery.dkimSelector)')
    .option('--force', 'thay khóa đang có bằng khóa dưới selector mới / replace the existing key with one under a new selector')
    .option('--json', 'JSON')
    .action(async (domainArg: string, opts: { selector?: string; force?: boolean; json?: boolean }) => {
      const domain = domainArg.toLowerCase();
      const config = ctx.config();
      if (!config.domains.includes(domain)) {
        throw new MailError('INVALID_INPUT', bi(`Tên miền ${domain} không có trong cấu hình (domains)`, `Domain ${domain} is not served (config domains)`));
      }
      const selector = opts.selector ?? config.delivery.dkimSelector;
      if (!DKIM_SELECTOR.test(selector)) {
        throw new MailError(
          'INVALID_INPUT',
          bi(
            'Selector gồm một hay nhiều nhãn DNS cách nhau bằng dấu chấm, mỗi nhãn 1–63 ký tự a-z, 0-9, -, không bắt đầu hay kết thúc bằng -',
            'The selector is one or more dot-separated DNS labels, each 1–63 characters of a-z, 0-9 and -, not starting or ending with -',
          ),
        );
      }
      await ctx.withApp(async (app) => {
        // A record that cannot be read is replaced with --force (its selector is unknown).
        const old = await loadDkimKey(app.store, domain).catch((e: unknown) => (opts.force ? null : Promise.reject(e)));
        const now = app.clock.now();
        if (old && !opts.force) {
          throw new MailError(
            'ALREADY_EXISTS',
            bi(`Đã có khóa DKIM cho ${domain} (selector ${old.selector}); muốn thay thì dùng --force với selector mới`, `A DKIM key for ${domain} exists (selector ${old.selector}); to rotate it, use --force with a new selector`),
          );
        }
        if (old?.selector === selector) {
          // The published record and mail in transit name this selector: another key under it breaks both.
          const example = now.toISOString().slice(0, 7) === selector ? now.toISOString().slice(0, 10) : now.toISOString().slice(0, 7);
          throw new MailError(
            'ALREADY_EXISTS',
            bi(
              `Không thay khóa dưới cùng selector ${selector} (bản ghi DNS đang công bố và thư đang trên đường sẽ không kiểm được); hãy chọn selector mới, ví dụ theo ngày: --selector ${example}, rồi công bố bản ghi của nó; khóa mới được dùng từ lúc đó`,
              `A key is not replaced under the same selector ${selector} (the published record and mail in transit would no longer verify); pick a new selector, e.g. a date: --selector ${example}, and publish its record; the new key is used from then on`,
            ),
          );
        }
        const key = await generateDkimKey(app.store, domain, selector, now);
        await app.store.audit({ actor: ctx.actor().name, action: 'dkim.generate', target: domain, details: { selector, ...(old ? { previousSelector: old.selector } : {}) } });
        if (!old) {
          printKey(ctx, key, opts.json === true, bi(`Đã tạo khóa DKIM cho ${domain}. Hãy công bố bản ghi DNS sau:`, `DKIM key created for ${domain}. Publish this DNS record:`));
          return;
        }
        printKey(
          ctx,
          key,
          opts.json === true,
          bi(
            `Đã tạo khóa DKIM mới cho ${domain} (selector ${selector}); thư gửi đi được ký bằng khóa này từ bây giờ. Hãy công bố ngay bản ghi DNS sau:`,
            `New DKIM key for ${domain} (selector ${selector}); outbound mail is signed with it from now on. Publish this DNS record now:`,
          ),
          { previousSelector: old.selector },
        );
        if (!opts.json) {
          ctx.out(
            bi(
              `Giữ bản ghi của selector cũ ${old.selector} (${dkimDnsRecord(old).name}) thêm vài ngày: thư đang trên đường được ký bằng khóa cũ`,
              `Keep the old selector's record ${dkimDnsRecord(old).name} published for a few more days: mail in transit is signed with the old key`,
            ),
          );
        }
      });
    });
  dkim
    .command('show <domain>')
    .description('in selector hiện dùng và bản ghi DNS TXT của nó / print the current selector and its DNS TXT record')
    .option('--json', 'JSON')
    .action(async (domainArg: string, opts: { json?: boolean }) => {
      const domain = domainArg.toLowerCase();
      await ctx.withApp(async (app) => {
        const key = await loadDkimKey(app.store, domain);
        if (!key) {
          throw new MailError('NOT_FOUND', bi(`Chưa có khóa DKIM cho ${domain}; tạo bằng: buudien dkim generate ${domain}`, `No DKIM key for ${domain}; make one with: buudien dkim generate ${domain}`));
        }
        printKey(ctx, key, opts.json === true, bi(`Khóa DKIM của ${domain}: selector ${key.selector}, tạo lúc ${key.createdAt}. Bản ghi DNS cần công bố:`, `DKIM key of ${domain}: selector ${key.selector}, made ${key.createdAt}. The DNS record to publish:`), { createdAt: key.createdAt });
      });
    });
};
