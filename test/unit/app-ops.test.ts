/**
 * Operations fixes from a review of durability: one `serve` per storage directory (POP3's
 * maildrop locks, the queue's claims and the jobs belong to one process), a storage directory
 * private to its owner with private message files, clear words for a database that cannot be
 * opened or is damaged, and /healthz failing once the store refuses writes.
 */
import { chmodSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { configFrom } from '../../src/config/load.js';
import { silentLogger } from '../../src/lib/log.js';
import { createTestAccount } from '../helpers/accounts.js';
import { startApp, testDir, type TestApp } from '../helpers/app.js';
import { storeParsed } from '../helpers/messages.js';

const configIn = (dir: string, storage: Record<string, unknown> = {}) =>
  configFrom({
    domains: ['example.gov.vn'],
    storage: { dir, ...storage },
    listeners: Object.fromEntries(['smtp', 'submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s', 'http'].map((n) => [n, { host: '127.0.0.1', port: 0, enabled: false }])),
    log: { level: 'silent' },
  });

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

describe('one serve per storage directory', () => {
  it('a second exclusive app on the directory is refused (IN_USE, bilingual); the CLI-like one is not; the lock ends with stop()', async () => {
    const dir = testDir('buudien-serve-lock-');
    const first = await createApp({ config: configIn(dir), log: silentLogger(), exclusive: true });
    const second = await createApp({ config: configIn(dir), log: silentLogger(), exclusive: true }).then(
      () => null,
      (e: unknown) => e as Error & { code?: string },
    );
    expect(second?.code).toBe('IN_USE');
    expect(second?.message).toContain('Một tiến trình "buudien serve" khác đang chạy trên thư mục lưu trữ');
    expect(second?.message).toContain('Another "buudien serve" is running on the storage directory');
    // An administration command opens the store beside the server.
    const cli = await createApp({ config: configIn(dir), log: silentLogger() });
    await cli.stop();
    await first.stop();
    const again = await createApp({ config: configIn(dir), log: silentLogger(), exclusive: true });
    await again.stop();
  });
});

describe('privacy of the stored mail', () => {
  it('the storage directory is made 0700, and message files are written 0600', async () => {
    const dir = testDir('buudien-private-');
    chmodSync(dir, 0o755);
    const app = await createApp({ config: configIn(dir, { inlineBlobMaxBytes: 1024 }), log: silentLogger() });
    try {
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      const a = await createTestAccount(app.store, 'hoa@example.gov.vn');
      // Over the inline size: a blob file of its own.
      await storeParsed(app.store, a.id, `Subject: lon\r\n\r\n${'noi dung thu\r\n'.repeat(500)}`);
      const root = path.join(dir, 'blobs');
      const blobs = filesUnder(root).filter((f) => !path.relative(root, f).startsWith(`tmp${path.sep}`));
      expect(blobs.length).toBeGreaterThan(0);
      for (const f of blobs) expect(statSync(f).mode & 0o777, f).toBe(0o600);
    } finally {
      await app.stop();
    }
  });
});

describe('a database that cannot be opened', () => {
  it('damaged: says which file and to restore a backup, in both languages', async () => {
    const dir = testDir('buudien-notadb-');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'buudien.db'), Buffer.alloc(8192, 0x41));
    const err = await createApp({ config: configIn(dir), log: silentLogger() }).then(
      () => null,
      (e: unknown) => e as Error & { code?: string },
    );
    expect(err?.code).toBe('CONFIG');
    expect(err?.message).toContain(`Tệp ${path.join(dir, 'buudien.db')} không phải cơ sở dữ liệu hợp lệ`);
    expect(err?.message).toContain('restore the latest backup (buudien backup restore)');
  });
});

describe('/healthz once the store refuses writes', () => {
  let app: TestApp | null = null;
  let restore: (() => void) | null = null;
  afterEach(async () => {
    restore?.();
    await app?.stop();
    app = null;
  });

  it('answers 503 after a failed fsync of the write-ahead log (it answered ok while no mail could be stored)', async () => {
    app = await startApp();
    const url = `http://127.0.0.1:${app.port('http')}/healthz`;
    expect((await fetch(url)).status).toBe(200);
    const probe = await open(path.join(app.dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as { datasync: FileHandle['datasync'] };
    await probe.close();
    const original = proto.datasync;
    proto.datasync = () => Promise.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    restore = () => {
      proto.datasync = original;
    };
    const a = await createTestAccount(app.store, 'hoa@example.gov.vn').catch(() => null);
    expect(a).toBeNull();
    restore();
    restore = null;
    const r = await fetch(url);
    expect(r.status).toBe(503);
    expect(await r.json()).toMatchObject({ status: 'fail', store: false });
  });
});
