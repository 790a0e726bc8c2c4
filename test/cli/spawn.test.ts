/**
 * The real process: `node --import tsx src/main.ts …`, checking exit codes, the one-line reason
 * on stderr, and that bad input changes nothing.
 */
import Database from 'better-sqlite3';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { cli, spawnCli, tempSetup } from './run.js';

let dir: string;
let config: string;

beforeAll(async () => {
  ({ dir, config } = tempSetup());
  expect((await cli(['org', 'add', '--name', 'Sở Thông tin và Truyền thông', '--config', config])).code).toBe(0);
  expect((await cli(['account', 'add', '--name', 'Nguyễn Văn Long', '--org', 'stttt', '--config', config])).code).toBe(0);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function addresses(): Promise<string[]> {
  const r = await cli(['account', 'list', '--json', '--config', config]);
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as Array<{ address: string }>).map((a) => a.address).sort();
}

function expectUserError(r: { code: number; stderr: string }): void {
  expect(r.code).toBe(1);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/ \/ /);
}

describe('buudien as a process', () => {
  it('refuses invalid YAML: config check lists the problem, other commands give one line', async () => {
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, 'domains: [nghean.gov.vn\nstorage: {\n');
    const check = await spawnCli(['config', 'check', '--config', bad]);
    expectUserError(check);
    expect(check.stdout).toMatch(/bad\.yaml:\d+:\d+: expected valid YAML, got /);
    const list = await spawnCli(['account', 'list', '--config', bad]);
    expectUserError(list);
    expect(list.stderr).toMatch(/invalid config/);
  });

  it('a bad CSV row: reason, exit 1, nothing applied', async () => {
    const before = await addresses();
    const csv = path.join(dir, 'requests.csv');
    writeFileSync(csv, 'STT,Họ và tên,Chức vụ,Phòng/ban/đơn vị,Số điện thoại,Nội dung đề nghị\n1,Trần Văn Bình,,stttt,,Cấp mới\n2,Lê Thị Cúc,,Sở Không Có,,Cấp mới\n');
    const r = await spawnCli(['import', 'requests', csv, '--config', config]);
    expectUserError(r);
    expect(r.stderr).toMatch(/Sở Không Có/);
    expect(await addresses()).toEqual(before);
  });

  it('duplicate address, unknown unit, a name yielding no address: one line, exit 1, nothing created', async () => {
    const before = await addresses();
    const dup = await spawnCli(['account', 'add', '--name', 'Nguyễn Văn Long', '--org', 'stttt', '--address', 'longnv@nghean.gov.vn', '--config', config]);
    expectUserError(dup);
    expect(dup.stderr).toMatch(/already taken/);
    const unit = await spawnCli(['account', 'add', '--name', 'Trần Văn Bình', '--org', 'khongco', '--config', config]);
    expectUserError(unit);
    expect(unit.stderr).toMatch(/no unit "khongco"/);
    const empty = await spawnCli(['account', 'add', '--name', '  -- ', '--org', 'stttt', '--config', config]);
    expectUserError(empty);
    expect(empty.stderr).toMatch(/yields no mail address/);
    expect(await addresses()).toEqual(before);
  });

  it('an internal failure exits 2', async () => {
    // A database whose schema says "up to date" but holds no tables: the first query fails.
    const data = path.join(dir, 'hollow-data');
    mkdirSync(data);
    const db = new Database(path.join(data, 'buudien.db'));
    db.exec('CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    db.prepare('INSERT INTO schema_version VALUES (?, ?, 0)').run(MIGRATIONS.length, 'hollow');
    db.close();
    const broken = path.join(dir, 'broken-storage.yaml');
    writeFileSync(broken, `domains: [nghean.gov.vn]\nstorage: { dir: ${JSON.stringify(data)} }\nlog: { level: silent }\n`);
    const r = await spawnCli(['account', 'list', '--config', broken]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/internal error/);
  });

  it('a storage.dir that cannot be made (a file is in the way) is an administrator error: exit 1 with the reason', async () => {
    const file = path.join(dir, 'not-a-dir');
    writeFileSync(file, 'x');
    const broken = path.join(dir, 'file-storage.yaml');
    writeFileSync(broken, `domains: [nghean.gov.vn]\nstorage: { dir: ${JSON.stringify(path.join(file, 'data'))} }\nlog: { level: silent }\n`);
    const r = await spawnCli(['account', 'list', '--config', broken]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^Không tạo được thư mục lưu trữ storage\.dir .* \/ cannot create the storage directory storage\.dir/);
  });

  it('serve runs until SIGTERM, then exits 0', async () => {
    let signalled = false;
    const r = await spawnCli(['serve', '--config', config], {
      onStdout: (all, child) => {
        if (!signalled && all.includes('server running')) {
          signalled = true;
          child.kill('SIGTERM');
        }
      },
    });
    expect(signalled).toBe(true);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/stopped/);
  });
});
