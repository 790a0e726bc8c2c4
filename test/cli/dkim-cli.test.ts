/** `buudien dkim generate` (first key, rotation under a new selector, selectors) and `buudien dkim show`, through the real CLI. */
import { describe, expect, it } from 'vitest';
import { dkimSettingKey, loadDkimKey } from '../../src/delivery/index.js';
import { cli, ok, tempSetupPerTest, userError, withStore } from './run.js';

const newSetup = tempSetupPerTest();
/** A config whose store is made (its first opening prints the administrator's password on stderr). */
async function setup(): Promise<string> {
  const config = newSetup();
  ok(await cli(['--config', config, 'domain', 'list']));
  return config;
}
const TXT = (selector: string): RegExp => new RegExp(`^${selector.replace(/\./g, '\\.')}\\._domainkey\\.nghean\\.gov\\.vn\\. IN TXT "v=DKIM1; k=rsa; p=[A-Za-z0-9+/]+" "[A-Za-z0-9+/=]+"$`, 'm');

describe('buudien dkim generate / show', () => {
  it('rotates only under a new selector (--force), keeping the first generation output; show re-prints the record', async () => {
    const config = await setup();
    const first = ok(await cli(['--config', config, 'dkim', 'generate', 'nghean.gov.vn']));
    expect(first.stdout.split('\n')[0]).toBe('Đã tạo khóa DKIM cho nghean.gov.vn. Hãy công bố bản ghi DNS sau: / DKIM key created for nghean.gov.vn. Publish this DNS record:');
    expect(first.stdout).toMatch(TXT('buudien'));
    expect(first.stdout.trim().split('\n')).toHaveLength(2);
    const key1 = await withStore(config, (s) => loadDkimKey(s, 'nghean.gov.vn'));

    userError(await cli(['--config', config, 'dkim', 'generate', 'nghean.gov.vn']), /selector buudien.*--force.*selector/);
    // The same selector again, even with --force: refused, with a new one to pick; the key is kept.
    userError(await cli(['--config', config, 'dkim', 'generate', 'nghean.gov.vn', '--force']), /selector mới, ví dụ theo ngày: --selector \d{4}-\d{2}.* \/ .*pick a new selector, e\.g\. a date: --selector \d{4}-\d{2}, and publish its record/);
    expect((await withStore(config, (s) => loadDkimKey(s, 'nghean.gov.vn')))?.privateKey).toBe(key1?.privateKey);

    const rotated = ok(await cli(['--config', config, 'dkim', 'generate', 'nghean.gov.vn', '--force', '--selector', '2026-11']));
    expect(rotated.stdout).toMatch(TXT('2026-11'));
    expect(rotated.stdout).toMatch(/^Giữ bản ghi của selector cũ buudien .* \/ Keep the old selector's record buudien\._domainkey\.nghean\.gov\.vn published for a few more days: mail in transit/m);
    const key2 = await withStore(config, (s) => loadDkimKey(s, 'nghean.gov.vn'));
    expect(key2?.selector).toBe('2026-11');
    expect(key2?.publicKey).not.toBe(key1?.publicKey);

    const shown = ok(await cli(['--config', config, 'dkim', 'show', 'nghean.gov.vn']));
    expect(shown.stdout).toMatch(/selector 2026-11/);
    expect(shown.stdout).toContain(`"v=DKIM1; k=rsa; p=${key2?.publicKey.slice(0, 200) ?? '-'}`);
    expect(shown.stdout).toMatch(TXT('2026-11'));
    const json = JSON.parse(ok(await cli(['--config', config, 'dkim', 'show', 'NGHEAN.gov.vn', '--json'])).stdout) as Record<string, unknown>;
    expect(json).toMatchObject({ domain: 'nghean.gov.vn', selector: '2026-11', name: '2026-11._domainkey.nghean.gov.vn', type: 'TXT', value: `v=DKIM1; k=rsa; p=${key2?.publicKey ?? ''}` });
  }, 30_000);

  it('show without a key is refused in both languages', async () => {
    userError(await cli(['--config', await setup(), 'dkim', 'show', 'nghean.gov.vn']), /Chưa có khóa DKIM cho nghean\.gov\.vn.* \/ No DKIM key for nghean\.gov\.vn/);
  });

  it.each(['s1', '2026-11', 'mail.2026-11', 'a', `${'a'.repeat(63)}.b`])('accepts the selector %s', async (selector) => {
    const config = await setup();
    ok(await cli(['--config', config, 'dkim', 'generate', 'nghean.gov.vn', `--selector=${selector}`]));
    expect((await withStore(config, (s) => loadDkimKey(s, 'nghean.gov.vn')))?.selector).toBe(selector);
  });

  it.each(['-a', 'a-', 'a..b', '.a', 'a.', 'a.-b', 'S1', 'a_b', 'a b', '', 'a'.repeat(64)])('refuses the selector "%s"', async (selector) => {
    const config = newSetup();
    userError(await cli(['--config', config, 'dkim', 'generate', 'nghean.gov.vn', `--selector=${selector}`]), /nhãn DNS .* \/ .*dot-separated DNS labels, each 1–63 characters/);
    expect(await withStore(config, (s) => s.getSetting(dkimSettingKey('nghean.gov.vn')))).toBeFalsy();
  });

  it('a corrupt stored key: show says so naming the domain; generate --force replaces it', async () => {
    const config = await setup();
    await withStore(config, (s) => s.setSetting(dkimSettingKey('nghean.gov.vn'), '{not json'));
    const shown = await cli(['--config', config, 'dkim', 'show', 'nghean.gov.vn']);
    expect(shown.code).toBe(2);
    expect(shown.stderr).toMatch(/Khóa DKIM đã lưu của nghean\.gov\.vn bị hỏng.* \/ The stored DKIM key of nghean\.gov\.vn is corrupt.*dkim generate nghean\.gov\.vn --force/);
    expect((await cli(['--config', config, 'dkim', 'generate', 'nghean.gov.vn'])).code).toBe(2);
    const fixed = ok(await cli(['--config', config, 'dkim', 'generate', 'nghean.gov.vn', '--force']));
    expect(fixed.stdout).toMatch(TXT('buudien'));
    expect((await withStore(config, (s) => loadDkimKey(s, 'nghean.gov.vn')))?.selector).toBe('buudien');
  });
});
