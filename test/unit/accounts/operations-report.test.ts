/**
 * R-OPS-2's quarterly operations report: quarters in Vietnam time, what falls in them (send log,
 * sign-ins, audit), the state figures, and who may make it. Store and service are real (SQLite in a
 * temp folder), the clock is set.
 */
import { rmSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildOperationsReport, findingKind, lastEndedQuarter, MailTally, operationsReportJson, operationsReportText, parseQuarter, quarterOf, quarterPeriod } from '../../../src/accounts/operations-report.js';
import { createAccountService, superActor, type AccountService } from '../../../src/accounts/service.js';
import { configFrom } from '../../../src/config/load.js';
import { ManualClock } from '../../../src/lib/clock.js';
import { silentLogger } from '../../../src/lib/log.js';
import type { Account, OperationsSummary, SendLogEntry, Store } from '../../../src/store/port.js';
import { openSqliteStore } from '../../../src/store/sqlite/index.js';
import { errorCode, fakeAccount } from '../../helpers/accounts.js';
import { testDir } from '../../helpers/app.js';

const root = superActor('cli:test');
let dir: string;
let store: Store;
let clock: ManualClock;

async function open(): Promise<AccountService> {
  const config = configFrom({ domains: ['example.gov.vn'], storage: { dir } });
  store = await openSqliteStore({ dir, log: silentLogger(), clock, inlineBlobMaxBytes: 65536, groupCommitWindowMs: 0 });
  await store.addDomain('example.gov.vn', { actor: 'test', action: 'domain.add', target: 'example.gov.vn' });
  return createAccountService({ store, config, clock, log: silentLogger() });
}

beforeEach(() => {
  dir = testDir('buudien-opsreport-unit-');
  // 15 November 2026, 09:00 in Vietnam: Q4 runs, Q3 is the last ended.
  clock = new ManualClock(new Date('2026-11-15T02:00:00Z'));
});
afterEach(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('quarters (Vietnam time)', () => {
  it('reads the usual spellings and nothing else', () => {
    expect(['2026-Q3', '2026q3', '2026 - Q3', 'Q3-2026', 'q3/2026'].map(parseQuarter)).toEqual(Array(5).fill({ year: 2026, quarter: 3 }));
    expect(['2026-Q0', '2026-Q5', '26-Q3', 'Q3', '2026', 'Q3 2026x', ''].map(parseQuarter)).toEqual(Array(7).fill(null));
  });

  it('starts at midnight in Vietnam on the first of January, April, July and October', () => {
    const q1 = quarterPeriod({ year: 2027, quarter: 1 }, new Date('2027-06-01T00:00:00Z'));
    expect([q1?.from.toISOString(), q1?.to.toISOString(), q1?.partial]).toEqual(['2026-12-31T17:00:00.000Z', '2027-03-31T17:00:00.000Z', false]);
    const q4 = quarterPeriod({ year: 2026, quarter: 4 }, clock.now());
    expect([q4?.from.toISOString(), q4?.to.toISOString(), q4?.partial]).toEqual(['2026-09-30T17:00:00.000Z', clock.now().toISOString(), true]);
    expect(quarterPeriod({ year: 2027, quarter: 1 }, clock.now())).toBeNull();
    // 31 December 23:30 UTC is already 1 January in Vietnam.
    expect(quarterOf(new Date('2026-12-31T17:30:00Z'))).toEqual({ year: 2027, quarter: 1 });
    expect(lastEndedQuarter(new Date('2026-12-31T17:30:00Z'))).toEqual({ year: 2026, quarter: 4 });
    expect(lastEndedQuarter(new Date('2026-12-31T16:30:00Z'))).toEqual({ year: 2026, quarter: 3 });
  });
});

describe('the report from the store', () => {
  const entry = (at: string, patch: Partial<SendLogEntry> = {}): SendLogEntry => ({
    at: new Date(at),
    direction: 'inbound',
    sender: 'a@example.org',
    recipient: 'x@example.gov.vn',
    clientIp: '192.0.2.1',
    account: null,
    messageId: null,
    size: 100,
    outcome: 'delivered',
    code: 250,
    text: null,
    findings: [],
    ...patch,
  });

  it('counts only what falls within the quarter, groups refusals by code and findings by kind', async () => {
    const svc = await open();
    await store.logSend([
      // The last millisecond of Q2 and the first of Q3 (Vietnam time).
      entry('2026-06-30T16:59:59.999Z', { messageId: '<q2@x>' }),
      entry('2026-06-30T17:00:00.000Z', { messageId: '<m1@x>', size: 1000 }),
      // One message to two recipients: two rows, one message.
      entry('2026-07-02T00:00:00Z', { messageId: '<m2@x>', recipient: 'y@example.gov.vn', size: 500 }),
      entry('2026-07-02T00:00:00Z', { messageId: '<m2@x>', recipient: 'z@example.gov.vn', size: 500 }),
      // Refused by policy for two different files: one group, one finding kind.
      entry('2026-08-01T00:00:00Z', { outcome: 'rejected', code: 550, text: '5.7.1 tệp "a.exe" / file "a.exe"', findings: ['executables: reject a.exe', 'executables: reject b.exe'], size: null }),
      entry('2026-08-02T00:00:00Z', { outcome: 'rejected', code: 550, text: '5.7.1 tệp "c.scr" / file "c.scr"', findings: ['executables: reject c.scr', 'dkim=fail (example.org)'], size: null }),
      entry('2026-08-03T00:00:00Z', { direction: 'outbound', outcome: 'deferred', code: 451, text: '4.4.1 timed out\nsecond line', clientIp: null }),
      entry('2026-08-04T00:00:00Z', { direction: 'submission', account: 'longnv@example.gov.vn', outcome: 'queued', code: 250, clientIp: '10.0.0.9' }),
      entry('2026-09-30T16:59:59.999Z', { messageId: '<m3@x>' }),
      entry('2026-09-30T17:00:00.000Z', { messageId: '<q4@x>' }),
    ]);
    await svc.addUnit({ name: 'Sở Tài chính' }, root);
    const a = (await svc.addAccount({ fullName: 'Nguyễn Văn Long', unit: 'stc' }, root)).account;
    for (const [at, ok, count] of [
      ['2026-07-05T01:00:00Z', true, 1],
      ['2026-07-06T01:00:00Z', false, 1],
      ['2026-10-05T01:00:00Z', true, 1],
    ] as const) {
      for (let i = 0; i < count; i++) {
        await store.recordSignIn({ accountId: a.id, at: new Date(at), protocol: 'pop3', ip: '10.0.0.1', network: '10.0.0.0/24', ok, method: ok ? 'password' : null, appPasswordId: null, reason: ok ? null : 'bad-credentials' });
      }
    }
    const r = await svc.operationsReport({ quarter: '2026-Q3' }, root);
    expect([r.period.year, r.period.quarter, r.period.partial]).toEqual([2026, 3, false]);
    const inbound = r.mail.rows.find((x) => x.direction === 'inbound');
    // m2's two recipients are one message, its bytes counted once; each refused transaction without a Message-ID is one.
    expect(inbound).toMatchObject({ recipients: 6, messages: 5, bytes: 1600, outcomes: { delivered: 4, rejected: 2 } });
    // A deferral is an attempt, not a recipient.
    expect(r.mail.rows.find((x) => x.direction === 'outbound')).toMatchObject({ recipients: 0, messages: 1, outcomes: { deferred: 1 } });
    expect([r.mail.senders, r.mail.inboundClients]).toEqual([1, 1]);
    expect(r.mail.refusals).toEqual([
      { outcome: 'rejected', code: 550, status: '5.7.1', count: 2, example: '5.7.1 tệp "c.scr" / file "c.scr"' },
      { outcome: 'deferred', code: 451, status: '4.4.1', count: 1, example: '4.4.1 timed out' },
    ]);
    expect(r.mail.findings).toEqual([
      { finding: 'executables: reject', count: 2 },
      { finding: 'dkim=fail', count: 1 },
    ]);
    expect(r.signIns.rows).toEqual([{ protocol: 'pop3', ok: 1, failed: 1, accounts: 1 }]);
    expect(r.signIns.signedInAccounts).toBe(1);
    // Made on 15 November: the account added now is in Q4's administration, not Q3's.
    expect(r.administration.find((x) => x.action === 'account.add')).toBeUndefined();
    expect((await svc.operationsReport({}, root)).period.quarter).toBe(3);
    clock.advance(1000);
    const q4 = await svc.operationsReport({ quarter: 'Q4/2026' }, root);
    expect(q4.administration.find((x) => x.action === 'account.add')).toEqual({ action: 'account.add', count: 1, automatic: 0 });
    expect(q4.mail.rows.find((x) => x.direction === 'inbound')?.recipients).toBe(1);
    expect(q4.signIns.rows).toEqual([{ protocol: 'pop3', ok: 1, failed: 0, accounts: 1 }]);
  });

  it('outbound retries are attempts of one message; remote replies are grouped by their status code with addresses hidden; sign-ins spanning the quarter’s start count in both', async () => {
    const svc = await open();
    const out = (at: string, patch: Partial<SendLogEntry>) => entry(at, { direction: 'outbound', sender: 'longnv@example.gov.vn', clientIp: null, size: 700, ...patch });
    await store.logSend([
      // Deferred twice, then delivered: one message, one recipient, two deferrals.
      out('2026-08-01T00:00:00Z', { messageId: '<r@x>', recipient: 'a@example.org', outcome: 'deferred', code: 451, text: '451 4.7.1 <a@example.org>: greylisted' }),
      out('2026-08-01T00:10:00Z', { messageId: '<r@x>', recipient: 'a@example.org', outcome: 'deferred', code: 451, text: '451 4.7.1 <a@example.org>: greylisted' }),
      out('2026-08-01T00:40:00Z', { messageId: '<r@x>', recipient: 'a@example.org', outcome: 'delivered', code: 250, text: '250 2.0.0 ok' }),
      // The same message to two more: one unknown there, one refused as spam (as the queue records them: code first).
      out('2026-08-01T00:40:00Z', { messageId: '<r@x>', recipient: 'b@example.org', outcome: 'bounced', code: 550, text: '550 5.1.1 <nguoi.nhan@example.org>: user unknown' }),
      out('2026-08-01T00:40:00Z', { messageId: '<r@x>', recipient: 'c@example.org', outcome: 'bounced', code: 550, text: '550 5.7.1 message looks like spam' }),
      // A reply with no status code, one a number in the text must not be taken for.
      out('2026-08-02T00:00:00Z', { messageId: '<s@x>', recipient: 'd@example.org', outcome: 'deferred', code: 421, text: '421 try again in 4.5 hours' }),
    ]);
    await svc.addUnit({ name: 'Sở Tài chính' }, root);
    const a = (await svc.addAccount({ fullName: 'Nguyễn Văn Long', unit: 'stc' }, root)).account;
    const unitBox = (await svc.addAccount({ fullName: 'Sở Tài chính', unit: 'stc', kind: 'unit' }, root)).account;
    const signIn = (at: string, via: string | null = null, accountId = a.id) =>
      store.recordSignIn({ accountId, at: new Date(at), protocol: 'imap', ip: '10.0.0.1', network: '10.0.0.0/24', ok: true, method: 'password', appPasswordId: null, reason: null, via });
    // One UTC day's record: 16:00 UTC is still 30 September in Vietnam, 18:00 UTC already 1 October.
    await signIn('2026-09-30T16:00:00Z');
    await signIn('2026-09-30T18:00:00Z');
    // A delegate's sign-in to the unit mailbox: counted once, as the delegate's own (the delegate's row is the first one).
    await signIn('2026-08-05T01:00:00Z', a.address, unitBox.id);
    clock.advance(1000);
    const q3 = await svc.operationsReport({ quarter: '2026-Q3' }, root);
    expect(q3.mail.rows.find((x) => x.direction === 'outbound')).toMatchObject({ messages: 2, bytes: 1400, recipients: 3, outcomes: { delivered: 1, bounced: 2, deferred: 3 } });
    expect(q3.mail.refusals).toEqual([
      { outcome: 'deferred', code: 451, status: '4.7.1', count: 2, example: '451 4.7.1 <…@example.org>: greylisted' },
      { outcome: 'deferred', code: 421, status: null, count: 1, example: '421 try again in 4.5 hours' },
      { outcome: 'bounced', code: 550, status: '5.1.1', count: 1, example: '550 5.1.1 <…@example.org>: user unknown' },
      { outcome: 'bounced', code: 550, status: '5.7.1', count: 1, example: '550 5.7.1 message looks like spam' },
    ]);
    expect(q3.signIns.rows).toEqual([{ protocol: 'imap', ok: 2, failed: 0, accounts: 1 }]);
    expect(q3.signIns.signedInAccounts).toBe(1);
    const q4 = await svc.operationsReport({ quarter: '2026-Q4' }, root);
    expect(q4.signIns.signedInAccounts).toBe(1);
  });

  it('is the whole system’s: a unit administrator or a user is refused; so is a quarter older than the send log keeps', async () => {
    const svc = await open();
    const stc = await svc.addUnit({ name: 'Sở Tài chính' }, root);
    expect(await errorCode(svc.operationsReport({}, { name: 'quantri.stc@example.gov.vn', role: 'unit', unitId: stc.id }))).toBe('PERMISSION_DENIED');
    expect(await errorCode(svc.operationsReport({}, { name: 'a@example.gov.vn', role: 'none', unitId: stc.id }))).toBe('PERMISSION_DENIED');
    // sendLog.retentionDays is 365 by default: Q4 2025 began more than a year before 15 November 2026, Q1 2026 did not.
    expect(await errorCode(svc.operationsReport({ quarter: '2025-Q4' }, root))).toBe('INVALID_INPUT');
    expect(await errorCode(svc.operationsReport({ quarter: '2026-Q1' }, root))).toBe('ok');
    expect(await errorCode(svc.operationsReport({ quarter: 'quý 3' }, root))).toBe('INVALID_INPUT');
  });
});

describe('buildOperationsReport: the state figures', () => {
  const summary = (usage: Array<[number, number]>): OperationsSummary => ({
    signIns: [],
    signedInAccounts: 0,
    audit: [{ action: 'account.suspend', count: 3, automatic: 2 }, { action: 'something.new', count: 1, automatic: 0 }],
    lastBackupAt: null,
    oldestSendLogAt: null,
    usage: new Map(usage),
  });
  const GB = 1024 ** 3;
  const acct = (id: number, patch: Partial<Account>): Account => fakeAccount(id, `u${id}@example.gov.vn`, 'x', new Date('2026-01-01T00:00:00Z'), patch);

  it('storage against quotas (deleted accounts left out), two-factor among active people, the queue’s oldest', () => {
    const period = quarterPeriod({ year: 2026, quarter: 3 }, clock.now());
    if (!period) throw new Error('no period');
    const r = buildOperationsReport({
      organization: 'Sở',
      hostname: 'mail.example.gov.vn',
      period,
      generatedAt: clock.now(),
      mail: new MailTally().result(),
      summary: summary([
        [1, 1.9 * GB],
        [2, 2 * GB],
        [3, 0.5 * GB],
        [4, 9 * GB],
      ]),
      accounts: [
        acct(1, { kind: 'personal', totpSecret: 'S' }),
        acct(2, { kind: 'personal', smsTwoFactor: true, quotaBytes: null }),
        acct(3, { kind: 'personal', state: 'suspended' }),
        acct(4, { kind: 'unit', state: 'deleted' }),
        acct(5, { kind: 'personal' }),
        acct(6, { kind: 'personal', state: 'deleted' }),
      ],
      quota: { personalBytes: 2 * GB, unitBytes: 10 * GB, adminBytes: 2 * GB },
      queue: [
        { createdAt: new Date('2026-11-14T00:00:00Z'), recipients: ['a@x', 'b@x'] },
        { createdAt: new Date('2026-11-13T00:00:00Z'), recipients: ['c@x'] },
      ] as never,
    });
    expect(r.accounts).toEqual({ byState: { active: 3, suspended: 1, deleted: 2 }, deletedWithData: 1, activeByKind: { personal: 3, unit: 0, admin: 0 }, activePeople: 3, twoFactor: 2 });
    // 1.9 of 2 GB is near full, 2 of 2 full; the deleted unit's 9 GB, still on disk, apart.
    expect(r.storage).toEqual({ usedBytes: 4.4 * GB, deletedBytes: 9 * GB, quotaBytes: 8 * GB, nearFull: 1, full: 1 });
    expect(r.queue).toEqual({ items: 2, recipients: 3, oldest: new Date('2026-11-13T00:00:00Z') });
    const text = operationsReportText(r);
    expect(text).toContain('- Tạm khóa tài khoản: 3 (tự động 2)\n  Accounts suspended: 3 (automatic 2)\n');
    // An action the report has no words for is shown as recorded.
    expect(text).toContain('- something.new: 1\n  something.new: 1\n');
    expect(text).toContain('- Xác thực hai yếu tố: 2/3 tài khoản cá nhân đang hoạt động (66,6%)');
    expect(text).toContain('1 hộp thư từ 90% hạn mức, 1 hộp thư đầy');
    expect(text).toContain('Dung lượng: 4,4 GB / 8,0 GB hạn mức (55,0%); 1 hộp thư từ 90% hạn mức, 1 hộp thư đầy; thư của tài khoản đã xóa chờ xóa hẳn: 9,0 GB');
    expect(text).toContain('2 đã xóa (1 còn dữ liệu chờ xóa hẳn)');
  });

  it('finding kinds, and JSON that carries no control characters of a remote reply', () => {
    expect(['executables: reject ho-so.exe', 'spf=fail', 'dkim=fail (example.org)', '  classified: flag x ', 'rule:nospace', '', 'official-documents: flag official-documents; file="a; problem=x.pdf"; problem=signature-invalid; detail="…"', 'official-documents: flag official-documents; file="a_; problem=signed; x.pdf"; problem=unsigned'].map(findingKind)).toEqual([
      'executables: reject',
      'spf=fail',
      'dkim=fail',
      'classified: flag',
      'rule:nospace',
      '',
      'official-documents: flag signature-invalid',
      'official-documents: flag unsigned',
    ]);
    const tally = new MailTally();
    tally.add({ id: 1, at: new Date('2026-08-01T00:00:00Z'), direction: 'outbound', sender: 'a@example.gov.vn', recipient: 'b@example.org', clientIp: null, account: null, messageId: '<m@x>', size: 10, outcome: 'bounced', code: 550, text: '550 5.1.1 \u009b31m\u202eevil', findings: [] });
    const period = quarterPeriod({ year: 2026, quarter: 3 }, clock.now());
    if (!period) throw new Error('no period');
    const json = operationsReportJson(buildOperationsReport({ organization: 'Sở', hostname: 'h', period, generatedAt: clock.now(), summary: summary([]), mail: tally.result(), accounts: [], quota: { personalBytes: GB, unitBytes: GB, adminBytes: GB }, queue: [] }));
    expect(json).toContain('550 5.1.1 \\u009b31m\\u202eevil');
    expect(JSON.parse(json).mail.refusals[0].example).toBe('550 5.1.1 \u009b31m\u202eevil');
  });
});
