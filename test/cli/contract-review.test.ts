/**
 * CONTRACT.md conformance fixes from a review: exit 1 with a bilingual line for an administrator's
 * mistakes (a port in use, a storage.dir that is a file, commander's usage errors), `suspend` and
 * `delete` without --reason, --json on every listing command, empty CSV cells for nothing.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, ok, tempSetupPerTest, userError, withStore } from './run.js';

const setup = tempSetupPerTest();

describe('an administrator mistake is exit 1 with one bilingual line, not an internal error', () => {
  it('serve on a port another program holds names the listener', async () => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const port = (holder.address() as { port: number }).port;
    try {
      const config = setup();
      // The setup's listeners take port 0; the MX takes the held one.
      writeFileSync(config, readFileSync(config, 'utf8').replace('  smtp: { host: 127.0.0.1, port: 0 }', `  smtp: { host: 127.0.0.1, port: ${port} }`));
      const r = await cli(['serve', '--config', config], { waitForStop: () => new Promise(() => undefined) });
      // (stdout has the first start's administrator password: the store was made before the listeners.)
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(new RegExp(`^Cổng của listeners\\.smtp \\(127\\.0\\.0\\.1:${port}\\) đang được một chương trình khác dùng.* / the port of listeners\\.smtp \\(127\\.0\\.0\\.1:${port}\\) is in use by another program`));
    } finally {
      holder.close();
    }
  });

  it('a storage.dir that is a file', async () => {
    const config = setup();
    const file = path.join(path.dirname(config), 'a-file');
    writeFileSync(file, 'x');
    writeFileSync(config, `domains: [nghean.gov.vn]\nstorage: { dir: ${JSON.stringify(file)} }\nlog: { level: silent }\n`);
    userError(await cli(['account', 'list', '--config', config]), /^Không tạo được thư mục lưu trữ storage\.dir .*: ở đó là một tệp, không phải thư mục \/ cannot create the storage directory .*: a file, not a directory, is there$/);
  });

  it("commander's usage errors in both languages", async () => {
    const config = setup();
    userError(await cli(['account', 'list', '--bogus', '--config', config]), /^Lệnh không đúng \/ usage error: không có tùy chọn --bogus \/ unknown option --bogus$/);
    userError(await cli(['org', 'add', '--config', config]), /^Lệnh không đúng \/ usage error: thiếu tùy chọn bắt buộc --name <name> \/ required option --name <name> not given$/);
    userError(await cli(['account', 'show', '--config', config]), /^Lệnh không đúng \/ usage error: thiếu tham số address \/ missing argument address$/);
  });
});

describe('CONTRACT.md: commands as listed', () => {
  it('account suspend and delete without --reason (recorded as "no reason given")', async () => {
    const config = setup();
    ok(await cli(['org', 'add', '--name', 'Sở Tài chính', '--config', config]));
    ok(await cli(['account', 'add', '--name', 'Nguyễn Văn Long', '--org', 'stc', '--config', config]));
    ok(await cli(['account', 'add', '--name', 'Trần Thị Mai', '--org', 'stc', '--config', config]));
    ok(await cli(['account', 'suspend', 'longnv', '--config', config]));
    ok(await cli(['account', 'delete', 'maitt', '--config', config]));
    const [long, mai] = await withStore(config, async (s) => [await s.getAccountByAddress('longnv@nghean.gov.vn'), await s.getAccountByAddress('maitt@nghean.gov.vn')]);
    expect(long).toMatchObject({ state: 'suspended', stateReason: 'Không nêu lý do / no reason given' });
    expect(mai).toMatchObject({ state: 'deleted', stateReason: 'Không nêu lý do / no reason given' });
  });

  it('--json on report usage, report operations and directory export', async () => {
    const config = setup();
    ok(await cli(['org', 'add', '--name', 'Sở Tài chính', '--config', config]));
    ok(await cli(['account', 'add', '--name', 'Nguyễn Văn Long', '--org', 'stc', '--config', config]));
    for (const args of [['report', 'usage'], ['report', 'operations'], ['directory', 'export']]) {
      const r = ok(await cli([...args, '--json', '--config', config]));
      expect(() => JSON.parse(r.stdout) as unknown, args.join(' ')).not.toThrow();
    }
  });

  it('log search --format csv leaves a missing value empty (it printed the guarded "\'-")', async () => {
    const config = setup();
    await withStore(config, (s) =>
      s.logSend([{ at: new Date('2026-11-20T08:00:00Z'), direction: 'inbound', sender: 'a@other.example.com', recipient: 'hoa@nghean.gov.vn', clientIp: '198.51.100.1', account: null, messageId: null, size: null, outcome: 'rejected', code: null, text: null, findings: [] }]),
    );
    const r = ok(await cli(['log', 'search', '--format', 'csv', '--config', config]));
    const row = r.stdout.split('\r\n')[1] ?? '';
    expect(row).toContain('198.51.100.1,,,,rejected,,');
    expect(row).not.toContain("'-");
  });
});
