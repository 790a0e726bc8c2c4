/**
 * A failed fsync of the write-ahead log (a review of durability): Linux marks the pages whose
 * write-back failed clean, so the next fsync "succeeds" without them, and SQLite's checksummed
 * log frames make recovery drop everything after a lost one. So after one failure the store
 * refuses every write (nothing more is answered as durable), and its health check fails, until
 * a restart. A database a newer server wrote is refused at open.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/lib/clock.js';
import { silentLogger } from '../../../src/lib/log.js';
import { openSqliteStore } from '../../../src/store/sqlite/index.js';
import { MIGRATIONS } from '../../../src/store/sqlite/migrations.js';
import { createTestAccount, errorCode } from '../../helpers/accounts.js';
import { messagesIn, storeParsed } from '../../helpers/messages.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tempDir = (): string => {
  const d = mkdtempSync(path.join(os.tmpdir(), 'buudien-write-failure-'));
  dirs.push(d);
  return d;
};
const openStore = (dir: string) => openSqliteStore({ dir, log: silentLogger(), clock: systemClock, inlineBlobMaxBytes: 65536, groupCommitWindowMs: 0 });

describe('a failed fsync of the write-ahead log', () => {
  let restore: (() => void) | null = null;
  afterEach(() => restore?.());

  /** The next `datasync` of any file handle fails like a write-back error. */
  async function failNextDatasync(): Promise<void> {
    const probe = await open(path.join(tempDir(), 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as { datasync: FileHandle['datasync'] };
    await probe.close();
    const original = proto.datasync;
    let armed = true;
    proto.datasync = async function (this: FileHandle): Promise<void> {
      if (armed) {
        armed = false;
        throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
      }
      return original.call(this);
    };
    restore = () => {
      proto.datasync = original;
      restore = null;
    };
  }

  it('refuses every later write and fails the health check; a reopen (restart) works again', async () => {
    const dir = tempDir();
    let store = await openStore(dir);
    const a = await createTestAccount(store, 'hoa@example.gov.vn');
    await storeParsed(store, a.id, 'Subject: m1\r\n\r\none\r\n');
    await failNextDatasync();
    expect(await errorCode(storeParsed(store, a.id, 'Subject: m2\r\n\r\ntwo\r\n'))).toBe('TEMPORARY');
    // Before the fix the next fsync "succeeded" and m3 was answered as stored.
    expect(await errorCode(storeParsed(store, a.id, 'Subject: m3\r\n\r\nthree\r\n'))).toBe('TEMPORARY');
    expect(await errorCode(store.updateAccount(a.id, { fullName: 'Hoa' }, null))).toBe('TEMPORARY');
    expect(await errorCode(store.batch(async (tx) => tx.updateAccount(a.id, { fullName: 'Hoa' }, null)))).toBe('TEMPORARY');
    expect(await errorCode(store.ping())).toBe('TEMPORARY');
    // Reads still answer.
    expect((await store.getAccount(a.id))?.address).toBe('hoa@example.gov.vn');
    await store.close();
    store = await openStore(dir);
    await store.ping();
    await storeParsed(store, a.id, 'Subject: m4\r\n\r\nfour\r\n');
    const subjects = (await messagesIn(store, a.id)).map((m) => /Subject: (\w+)/.exec(m.toString())?.[1]);
    expect(subjects).toContain('m1');
    expect(subjects).toContain('m4');
    expect(subjects).not.toContain('m3');
    await store.close();
  });
});

describe('opening a database a newer server wrote', () => {
  it('is refused, naming both schema versions', async () => {
    const dir = tempDir();
    const store = await openStore(dir);
    await store.close();
    const known = MIGRATIONS.length;
    const db = new Database(path.join(dir, 'buudien.db'));
    db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, 0)').run(known + 1, 'from the future');
    db.close();
    const err = await openStore(dir).then(
      () => null,
      (e: unknown) => e as Error & { code?: string },
    );
    expect(err?.code).toBe('INVALID_INPUT');
    expect(err?.message).toContain(`lược đồ ${known + 1}, phiên bản này biết đến ${known}`);
    expect(err?.message).toContain(`The database was written by a newer server (schema ${known + 1}; this one knows up to ${known})`);
  });
});
