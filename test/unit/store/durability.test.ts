import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/lib/clock.js';
import { silentLogger } from '../../../src/lib/log.js';
import { openSqliteStore } from '../../../src/store/sqlite/index.js';
import { durableMessage } from './fixtures/gen.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Runs the writer until it has confirmed `count` messages, then SIGKILLs it. Returns the confirmed (i, uid) pairs. */
function runAndKill(dir: string, count: number): Promise<{ mailboxId: number; confirmed: Array<[number, number]> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'fixtures', 'writer.ts'), dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    let stderr = '';
    let mailboxId = -1;
    const confirmed: Array<[number, number]> = [];
    let killed = false;
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout.on('data', (c: Buffer) => {
      buf += c.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const [a, b] = line.split(' ');
        if (a === 'ready') mailboxId = Number(b);
        else confirmed.push([Number(a), Number(b)]);
      }
      if (!killed && confirmed.length >= count) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`writer exited early (code ${code}): ${stderr}`));
      else resolve({ mailboxId, confirmed });
    });
  });
}

describe('durability', () => {
  it('every message acknowledged before SIGKILL is there, byte-exact, after reopening', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'buudien-durable-'));
    dirs.push(dir);
    const { mailboxId, confirmed } = await runAndKill(dir, 60);
    expect(confirmed.length).toBeGreaterThanOrEqual(60);
    const store = await openSqliteStore({ dir, log: silentLogger(), clock: systemClock, inlineBlobMaxBytes: 64 * 1024, groupCommitWindowMs: 0 });
    try {
      const list = await store.listMessages(mailboxId);
      const byUid = new Map(list.map((m) => [m.uid, m]));
      for (const [i, uid] of confirmed) {
        const meta = byUid.get(uid);
        expect(meta, `message ${i} (uid ${uid}) lost`).toBeDefined();
        const bytes = await store.readBlob(meta!.blobId);
        expect(bytes.equals(durableMessage(i)), `message ${i} (uid ${uid}) differs`).toBe(true);
      }
      // Their index rows were written by the indexer thread, or are rebuilt from the bytes (fts_todo) before the first search answers.
      for (const [i, uid] of confirmed.slice(0, 10)) expect(await store.searchText(mailboxId, [`message ${i}`], 'subject')).toContain(uid);
      // Unacknowledged work may or may not be there, but the store is consistent: every row's blob reads whole.
      for (const m of list) expect((await store.readBlob(m.blobId)).length).toBe(m.size);
      expect(await store.usage((await store.getMailboxById(mailboxId))!.accountId)).toBe(list.reduce((s, m) => s + m.size, 0));
    } finally {
      await store.close();
    }
  });
});
