/** Queue runner decisions that need no network: null MX, unknown domain, DNS failure; DSN shape. */
import { rmSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configFrom } from '../../../src/config/load.js';
import { createDelivery } from '../../../src/delivery/index.js';
import { ManualClock } from '../../../src/lib/clock.js';
import { silentLogger } from '../../../src/lib/log.js';
import { createMetrics } from '../../../src/lib/metrics.js';
import { parseMessage } from '../../../src/mail/parse.js';
import { buildDsn } from '../../../src/smtp/dsn.js';
import { createQueueRunner, type MxRecord } from '../../../src/smtp/queue.js';
import type { Account, Store } from '../../../src/store/port.js';
import { openSqliteStore } from '../../../src/store/sqlite/index.js';
import { testDir } from '../../helpers/app.js';

const audit = { actor: 'test', action: 'setup', target: 'x' };
let dir: string;
let store: Store;
let lan: Account;
const clock = new ManualClock(new Date('2026-11-22T10:00:00Z'));

const raw = Buffer.from('From: <lan@example.gov.vn>\r\nTo: <x@far.example>\r\nSubject: Test\r\nMessage-ID: <q1@example.gov.vn>\r\n\r\nHello\r\n');

function runner(resolveMx: (d: string) => Promise<MxRecord[]>) {
  const config = configFrom({ domains: ['example.gov.vn'], storage: { dir }, delivery: { retryScheduleMs: [60_000] } });
  const log = silentLogger();
  const delivery = createDelivery({ store, config, log, clock });
  return createQueueRunner({ config, log, clock, store, metrics: createMetrics(), delivery, resolveMx });
}

const dnsError = (code: string) => async (): Promise<MxRecord[]> => {
  const e = new Error(code) as Error & { code: string };
  e.code = code;
  throw e;
};

async function inbox(): Promise<string[]> {
  const box = await store.getMailbox(lan.id, 'INBOX');
  const list = await store.listMessages(box?.id ?? -1);
  return Promise.all(list.map(async (m) => (await store.readBlob(m.blobId)).toString()));
}

beforeEach(async () => {
  dir = testDir();
  store = await openSqliteStore({ dir, log: silentLogger(), clock, inlineBlobMaxBytes: 65536, groupCommitWindowMs: 0 });
  await store.addDomain('example.gov.vn', audit);
  lan = await store.createAccount({ address: 'lan@example.gov.vn', kind: 'personal', fullName: 'Lan', unitId: null, passwordHash: 'x', mustChangePassword: false }, audit);
  await store.enqueue({ sender: 'lan@example.gov.vn', recipients: ['x@far.example'], raw, account: 'lan@example.gov.vn', messageId: '<q1@example.gov.vn>', now: clock.now() });
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('queue runner without a network', () => {
  it('a null MX (RFC 7505) bounces at once with 5.1.10', async () => {
    expect(await runner(async () => [{ exchange: '', priority: 0 }]).runOnce()).toBe(1);
    expect(await store.queueDepth()).toBe(0);
    const [dsn] = await inbox();
    expect(dsn).toMatch(/Action: failed\r\nStatus: 5\.1\.10/);
    expect((await store.searchSendLog({ recipient: 'x@far.example' }))[0]).toMatchObject({ direction: 'outbound', outcome: 'bounced', code: 556 });
  });

  it('a domain that does not exist bounces with 5.1.2', async () => {
    await runner(dnsError('ENOTFOUND')).runOnce();
    expect((await inbox())[0]).toMatch(/Status: 5\.1\.2/);
  });

  it('a DNS failure defers: the item stays, rescheduled per delivery.retryScheduleMs, no DSN yet', async () => {
    await runner(dnsError('ESERVFAIL')).runOnce();
    const [item] = await store.listQueue();
    expect(item).toMatchObject({ attempts: 1, recipients: ['x@far.example'] });
    expect(item?.nextAttemptAt.getTime()).toBe(clock.now().getTime() + 60_000);
    expect(item?.lastError).toMatch(/^451 4\.4\.3 /);
    expect(await inbox()).toEqual([]);
    // Not due yet: nothing is tried.
    expect(await runner(dnsError('ESERVFAIL')).runOnce()).toBe(0);
  });
});

describe('buildDsn', () => {
  it('is a multipart/report the parser reads: bilingual text, delivery-status, original headers', () => {
    const dsn = buildDsn({
      hostname: 'mail.example.gov.vn',
      to: 'lan@example.gov.vn',
      recipients: [{ recipient: 'x@far.example', action: 'failed', status: '5.1.1', diagnostic: 'smtp; 550 5.1.1 no such user', remoteMta: 'mx.far.example' }],
      original: raw,
      arrivalDate: new Date('2026-11-22T09:00:00Z'),
      now: new Date('2026-11-22T10:00:00Z'),
    });
    const p = parseMessage(dsn);
    expect(p.structure.type).toBe('multipart');
    expect(p.structure.subtype).toBe('report');
    expect(p.structure.children.map((c) => `${c.type}/${c.subtype}`)).toEqual(['text/plain', 'message/delivery-status', 'text/rfc822-headers']);
    expect(p.subject).toBe('Thư không gửi được / Undelivered Mail Returned to Sender');
    expect(p.bodyText()).toMatch(/không gửi được tới[\s\S]*could not be delivered/);
    expect(dsn.toString()).toContain('Auto-Submitted: auto-replied');
    expect(dsn.toString()).toContain('Remote-MTA: dns; mx.far.example');
  });
});
