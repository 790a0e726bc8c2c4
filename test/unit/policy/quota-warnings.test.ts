/** R-STORE-3 against the real SQLite store: one warning per threshold, again only after falling below. */
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { configFrom } from '../../../src/config/load.js';
import { ManualClock } from '../../../src/lib/clock.js';
import { silentLogger } from '../../../src/lib/log.js';
import { buildNotice } from '../../../src/policy/notice.js';
import { checkQuotaWarnings } from '../../../src/policy/quota-warnings.js';
import type { Store } from '../../../src/store/port.js';
import { openSqliteStore } from '../../../src/store/sqlite/index.js';
import { testDir } from '../../helpers/app.js';

const dirs: string[] = [];
const stores: Store[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('checkQuotaWarnings', () => {
  it('warns at 80/90/95 once each, and again after usage falls below and crosses again', async () => {
    const dir = testDir();
    dirs.push(dir);
    const clock = new ManualClock(new Date('2026-11-22T10:00:00Z'));
    const store = await openSqliteStore({ dir, log: silentLogger(), clock, inlineBlobMaxBytes: 64 * 1024, groupCommitWindowMs: 0 });
    stores.push(store);
    const config = configFrom({ domains: ['example.gov.vn'] });
    const audit = { actor: 'test', action: 'create', target: 'x' };
    const acct = await store.createAccount(
      { address: 'longnv@example.gov.vn', kind: 'personal', fullName: 'Nguyễn Văn Long', unitId: null, quotaBytes: 100_000, passwordHash: 'x', mustChangePassword: false },
      audit,
    );
    const inbox = await store.getMailbox(acct.id, 'INBOX');
    if (!inbox) throw new Error('no INBOX');
    const deps = { store, config, clock };
    let n = 0;
    /** Fill the mailbox to about `percent` of its quota with one filler message in Archive-like INBOX rows. */
    const fillTo = async (percent: number): Promise<void> => {
      const target = (percent * 100_000) / 100;
      const used = await store.usage(acct.id);
      if (used >= target) return;
      const m = buildNotice(config, clock, acct.address, { subject: `filler ${n++}`, body: 'x'.repeat(Math.ceil((target - used) * 0.75)) });
      await store.storeMessage({ raw: m.raw, envelope: m.envelope, structure: m.structure, internalDate: clock.now(), targets: [{ mailboxId: inbox.id, quotaBytes: null }] });
    };
    const warnings = async (): Promise<string[]> => {
      const list = await store.listMessages(inbox.id);
      const details = await store.getMessageDetails(inbox.id, list.map((x) => x.uid));
      return details.map((d) => d.envelope.subject ?? '').filter((s) => s.startsWith('=?UTF-8?B?')).map((s) => Buffer.from(s.slice(10, -2), 'base64').toString('utf8'));
    };

    await fillTo(50);
    expect(await checkQuotaWarnings(deps, acct.id)).toBeNull();
    await fillTo(82);
    expect(await checkQuotaWarnings(deps, acct.id)).toBe(80);
    expect(await checkQuotaWarnings(deps, acct.id)).toBeNull(); // not repeated
    await fillTo(91);
    expect(await checkQuotaWarnings(deps, acct.id)).toBe(90);
    let w = await warnings();
    expect(w.filter((s) => s.startsWith('Cảnh báo: hộp thư đã dùng'))).toEqual([
      'Cảnh báo: hộp thư đã dùng 80% dung lượng / Warning: your mailbox is 80% full',
      'Cảnh báo: hộp thư đã dùng 90% dung lượng / Warning: your mailbox is 90% full',
    ]);
    // Usage falls below 80 %: expunge everything but the warnings, then cross 80 % again.
    const list = await store.listMessages(inbox.id);
    const details = await store.getMessageDetails(inbox.id, list.map((x) => x.uid));
    const fillers = details.filter((d) => !(d.envelope.subject ?? '').startsWith('=?')).map((d) => d.uid);
    await store.expunge(inbox.id, fillers);
    expect(await checkQuotaWarnings(deps, acct.id)).toBeNull();
    await fillTo(85);
    expect(await checkQuotaWarnings(deps, acct.id)).toBe(80);
    w = await warnings();
    expect(w.filter((s) => s.includes('80%'))).toHaveLength(2);
    // Checks at the same moment (deliveries of one group commit) warn once between them.
    await fillTo(92);
    const at = await Promise.all(Array.from({ length: 6 }, () => checkQuotaWarnings(deps, acct.id)));
    expect(at.filter((x) => x !== null)).toEqual([90]);
    w = await warnings();
    expect(w.filter((s) => s.includes('90%'))).toHaveLength(2);
  });
});
