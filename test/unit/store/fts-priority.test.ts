/**
 * The full-text indexer is background work: its thread runs at nice 10 (Linux: a thread's own
 * priority), so that a busy CPU serves mail acceptance first; the event loop and the rest of the
 * process keep the normal priority.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { INDEXER_NICE } from '../../../src/store/sqlite/fts.js';
import { openTestStore, type TestStore } from './helpers.js';

/** nice of each thread of this process (the 17th field after the command name in /proc/…/stat). */
function threadNices(): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      out.set(tid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]));
    } catch {
      // The thread ended meanwhile.
    }
  }
  return out;
}

describe('full-text indexer priority', () => {
  let t: TestStore | null = null;
  afterEach(async () => {
    await t?.cleanup();
    t = null;
  });

  it.skipIf(process.platform !== 'linux')('the indexer thread runs at nice 10, the event loop at 0', async () => {
    const before = threadNices();
    t = await openTestStore();
    const box = await t.store.createAccount(
      { address: 'nice@example.gov.vn', kind: 'personal', fullName: 'Nice', unitId: null, passwordHash: 'x', mustChangePassword: false },
      { actor: 'test', action: 'account.create', target: 'nice@example.gov.vn' },
    );
    const inbox = (await t.store.mailboxId(box.id, 'INBOX'))!;
    // A search has the indexer index what is waiting: its thread is running by then.
    expect(await t.store.searchText(inbox, ['anything'], 'text')).toEqual([]);
    const after = threadNices();
    const added = [...after].filter(([tid]) => !before.has(tid));
    expect(added.some(([, nice]) => nice === INDEXER_NICE)).toBe(true);
    expect(after.get(String(process.pid))).toBe(before.get(String(process.pid)));
    expect(INDEXER_NICE).toBeGreaterThan(0);
  });
});
