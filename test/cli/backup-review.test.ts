/**
 * Review fixes of `buudien backup`: a backup whose manifest names the database among its other
 * files fails verify and restore leaves storage.dir as it was; a server that cannot start on the
 * restored store gets the previous one back; a backup folder that cannot be made is a user error
 * (exit 1, bilingual) and leaves nothing behind.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { cli } from './run.js';

/** createApp as is, unless `failNext` is set: then the next start fails (the server cannot open the restored store). */
const appFault = vi.hoisted(() => ({ failNext: false }));
vi.mock('../../src/app.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/app.js')>();
  return {
    ...real,
    createApp: (...args: Parameters<typeof real.createApp>) => {
      if (appFault.failNext) {
        appFault.failNext = false;
        return Promise.reject(new Error('simulated: the server does not start'));
      }
      return real.createApp(...args);
    },
  };
});

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'buudien-cli-backup-review-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function configFor(storageDir: string): string {
  const f = path.join(mkdtempSync(path.join(scratch, 'cfg-')), 'buudien.yaml');
  writeFileSync(f, `domains: [example.gov.vn]\nstorage: { dir: ${JSON.stringify(storageDir)} }\nlog: { level: silent }\n`);
  return f;
}

/** A store (made by a first command) and a backup of it. */
async function storeAndBackup(name: string): Promise<{ data: string; cfg: string; backup: string }> {
  const data = path.join(scratch, name, 'data');
  const cfg = configFor(data);
  const created = await cli(['backup', 'create', path.join(scratch, name, 'backups'), '--json', '--config', cfg]);
  expect(created.code, created.stderr).toBe(0);
  return { data, cfg, backup: (JSON.parse(created.stdout) as { path: string }).path };
}

/** Every file under a folder with its size (to compare a storage.dir before and after). */
function listing(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => {
      const p = path.join(e.parentPath, e.name);
      return `${path.relative(dir, p)} ${statSync(p).size}`;
    })
    .sort();
}

describe('backup verify and restore with a tampered manifest', () => {
  it('a files entry named buudien.db: verify exits 1 naming it; restore --force exits 1 and storage.dir is as it was', async () => {
    const { data, cfg, backup } = await storeAndBackup('tampered');
    const junk = Buffer.from('not a database');
    mkdirSync(path.join(backup, 'files'), { recursive: true });
    writeFileSync(path.join(backup, 'files', 'buudien.db'), junk);
    const m = JSON.parse(readFileSync(path.join(backup, 'manifest.json'), 'utf8')) as { files: unknown[] };
    m.files.push({ path: 'buudien.db', bytes: junk.length, sha256: createHash('sha256').update(junk).digest('hex') });
    writeFileSync(path.join(backup, 'manifest.json'), JSON.stringify(m));

    const verify = await cli(['backup', 'verify', backup, '--config', cfg]);
    expect(verify.code).toBe(1);
    expect(verify.stdout).toBe('');
    expect(verify.stderr).toBe('Đường dẫn tệp không hợp lệ trong manifest: "buudien.db" / invalid file path in the manifest: "buudien.db"\n');

    const before = listing(data);
    const restore = await cli(['backup', 'restore', backup, '--force', '--config', cfg]);
    expect(restore.code).toBe(1);
    expect(restore.stderr).toMatch(/invalid file path in the manifest: "buudien\.db"\n$/);
    expect(listing(data)).toEqual(before);
    expect(readdirSync(path.dirname(data)).sort()).toEqual(['backups', 'data']);
  });
});

describe('backup restore when the server cannot start on the restored store', () => {
  it('puts the previous store back and says so (exit 2)', async () => {
    const { data, cfg, backup } = await storeAndBackup('nostart');
    writeFileSync(path.join(data, 'notes.txt'), 'old');
    const before = listing(data);
    appFault.failNext = true;
    const r = await cli(['backup', 'restore', backup, '--force', '--config', cfg]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `Lỗi nội bộ / internal error: Không mở được kho vừa khôi phục; đã trả lại kho cũ vào ${data} / the restored store does not open; the previous one was put back in ${data}: simulated: the server does not start\n`,
    );
    expect(listing(data)).toEqual(before);
    expect(readdirSync(path.dirname(data)).sort()).toEqual(['backups', 'data']);

    // The next attempt works and names where the previous content is kept.
    const again = await cli(['backup', 'restore', backup, '--force', '--config', cfg]);
    expect(again.code, again.stderr).toBe(0);
    const previous = /the previous content is kept in: (.*)$/m.exec(again.stdout)?.[1];
    expect(previous).toMatch(/data\.before-restore-\d{8}T\d{6}Z$/);
    expect(readFileSync(path.join(previous!, 'notes.txt'), 'utf8')).toBe('old');
  });
});

describe('backup create into a path that cannot be a folder', () => {
  it('under a regular file, or onto one: exit 1 with a bilingual reason naming the path; nothing is made', async () => {
    const cfg = configFor(path.join(scratch, 'files-store', 'data'));
    const afile = path.join(scratch, 'afile');
    writeFileSync(afile, '');
    const cases: Array<[string, RegExp]> = [
      [path.join(afile, 'x'), /^Không ghi được bản sao lưu vào .*afile\/x: một phần của đường dẫn là tệp, không phải thư mục \/ cannot write the backup into .*afile\/x: part of the path is a file, not a folder\n$/],
      [path.join(afile, 'x', 'y'), /^Không ghi được bản sao lưu vào .*afile\/x\/y: .* \/ cannot write the backup into .*afile\/x\/y: part of the path is a file, not a folder\n$/],
      [afile, /^Không ghi được bản sao lưu vào .*afile: đã có một tệp \(không phải thư mục\) ở đó \/ cannot write the backup into .*afile: a file \(not a folder\) is already there\n$/],
    ];
    for (const [dest, message] of cases) {
      const r = await cli(['backup', 'create', dest, '--config', cfg]);
      expect(r.code, r.stderr).toBe(1);
      // The first command also starts the store (its bootstrap notice comes first).
      expect(r.stderr.split('\n').at(-2) + '\n').toMatch(message);
      expect(r.stdout).toBe('');
      expect(statSync(afile).isFile()).toBe(true);
      expect(readFileSync(afile, 'utf8')).toBe('');
    }
  });

  it('a refused backup leaves none of the folders made for it', async () => {
    const data = path.join(scratch, 'inside', 'data');
    const cfg = configFor(data);
    const r = await cli(['backup', 'create', path.join(data, 'new', 'sub'), '--config', cfg]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/must not be inside or contain storage\.dir/);
    expect(existsSync(path.join(data, 'new'))).toBe(false);
  });
});
