import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/lib/clock.js';
import { silentLogger } from '../../../src/lib/log.js';
import { openSqliteStore } from '../../../src/store/sqlite/index.js';
import { MIGRATIONS } from '../../../src/store/sqlite/migrations.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('migrations', () => {
  it('are numbered 1..n without gaps', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
  });

  it('upgrade a version-1 database, back-filling the mailbox counters', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'buudien-migrate-'));
    dirs.push(dir);
    // A database as the first release left it: only migration 1, with two messages in one mailbox.
    const db = new Database(path.join(dir, 'buudien.db'));
    db.exec('CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    db.exec(MIGRATIONS[0]!.sql);
    db.prepare('INSERT INTO schema_version VALUES (1, ?, 0)').run(MIGRATIONS[0]!.name);
    db.exec(`INSERT INTO accounts (id, address, local_part, domain, kind, full_name, password_hash, password_changed_at, created_at)
             VALUES (1, 'a@x.vn', 'a', 'x.vn', 'personal', 'A', 'h', 0, 0);
             INSERT INTO mailboxes (id, account_id, name, uidvalidity, uidnext, highest_modseq, created_at) VALUES (1, 1, 'INBOX', 1, 3, 3, 0);
             INSERT INTO blobs (id, size, data, created_at) VALUES ('h1', 10, x'00', 0);
             INSERT INTO messages VALUES (1, 1, 2, '\\Seen', 0, 10, 'h1'), (1, 2, 3, '\\Recent', 0, 20, 'h1');`);
    db.close();

    const store = await openSqliteStore({ dir, log: silentLogger(), clock: systemClock, inlineBlobMaxBytes: 1024, groupCommitWindowMs: 0 });
    try {
      expect(await store.mailboxStatus(1)).toMatchObject({ messages: 2, unseen: 1, size: 30, uidNext: 3 });
      expect(await store.usage(1)).toBe(30); // kept by the v1 triggers, carried over
      // Migration 5: a stored \Recent token is dropped; messages already there are not recent (mark = UIDNEXT-1).
      expect((await store.listMessages(1)).map((m) => m.flags)).toEqual([['\\Seen'], []]);
      expect(await store.mailboxStatus(1)).toMatchObject({ recent: 0 });
      expect(await store.claimRecent(1)).toEqual({ first: 3, last: 2 });
      await store.expunge(1, [2]);
      expect(await store.mailboxStatus(1)).toMatchObject({ messages: 1, unseen: 0, size: 10 });
      expect(await store.usage(1)).toBe(10);
    } finally {
      await store.close();
    }
    const check = new Database(path.join(dir, 'buudien.db'), { readonly: true });
    expect((check.prepare('SELECT max(version) AS v FROM schema_version').get() as { v: number }).v).toBe(MIGRATIONS.length);
    check.close();
  });
});
