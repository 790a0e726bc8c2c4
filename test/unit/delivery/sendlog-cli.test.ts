/** `buudien log search`, `buudien dkim generate` and send-log retention (pruneSendLog). */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseTime } from '../../../src/cli/commands/log.js';
import { main } from '../../../src/cli/main.js';
import { configFrom } from '../../../src/config/load.js';
import { loadDkimKey, pruneSendLog } from '../../../src/delivery/index.js';
import { systemClock } from '../../../src/lib/clock.js';
import { silentLogger } from '../../../src/lib/log.js';
import type { SendLogEntry, Store } from '../../../src/store/port.js';
import { openSqliteStore } from '../../../src/store/sqlite/index.js';
import { testDir } from '../../helpers/app.js';

let dir: string;
let configFile: string;

function open(): Promise<Store> {
  return openSqliteStore({ dir, log: silentLogger(), clock: systemClock, inlineBlobMaxBytes: 65536, groupCommitWindowMs: 0 });
}

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(['--config', configFile, ...args], { stdout: (t) => (out += t), stderr: (t) => (err += t), user: 'tester' });
  return { code, out, err };
}

const entry = (over: Partial<SendLogEntry>): SendLogEntry => ({
  at: new Date('2026-11-20T08:00:00Z'),
  direction: 'inbound',
  sender: 'a@other.example.com',
  recipient: 'lan@example.gov.vn',
  clientIp: '192.0.2.1',
  account: null,
  messageId: '<1@x>',
  size: 1234,
  outcome: 'delivered',
  code: 250,
  text: '2.0.0 ok, "quoted"',
  findings: [],
  ...over,
});

beforeEach(async () => {
  dir = testDir();
  configFile = path.join(dir, 'buudien.yaml');
  writeFileSync(configFile, `domains: [example.gov.vn]\nstorage:\n  dir: ${JSON.stringify(dir)}\nlog:\n  level: silent\n`);
  const store = await open();
  await store.logSend([
    entry({}),
    entry({ sender: 'b@other.example.com', clientIp: '198.51.100.2', at: new Date('2026-11-21T08:00:00Z') }),
    entry({ sender: 'a@other.example.com', recipient: 'hoa@example.gov.vn', at: new Date('2026-11-22T08:00:00Z'), outcome: 'rejected', code: 550 }),
  ]);
  await store.close();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('buudien log search', () => {
  it('filters by sender and time range, as JSON', async () => {
    const r = await cli('log', 'search', '--from', 'A@other.example.com', '--since', '2026-11-21', '--format', 'json');
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.out) as Array<{ recipient: string; outcome: string }>;
    expect(rows.map((x) => [x.recipient, x.outcome])).toEqual([['hoa@example.gov.vn', 'rejected']]);
  });

  it('filters by IP, as CSV with quoting', async () => {
    const r = await cli('log', 'search', '--ip', '192.0.2.1', '--until', '2026-11-21T00:00:00Z', '--format', 'csv');
    expect(r.code).toBe(0);
    // As spreadsheets read it (lib/csv.ts): a byte-order mark, so Excel reads the Vietnamese texts, and CRLF line ends.
    expect(r.out.startsWith('\uFEFFtime,')).toBe(true);
    expect(r.out.endsWith('\r\n')).toBe(true);
    expect(r.out.replace(/\r\n/g, '')).not.toContain('\n');
    const lines = r.out.slice(1).trim().split('\r\n');
    expect(lines[0]).toBe('time,direction,sender,recipient,ip,account,message-id,size,outcome,code,text,findings');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain('"2.0.0 ok, ""quoted"""');
  });

  it('csv: a cell a spreadsheet would take for a formula stays text', async () => {
    const store = await open();
    await store.logSend([entry({ sender: '=hyperlink@evil.example', clientIp: '203.0.113.9' })]);
    await store.close();
    const r = await cli('log', 'search', '--ip', '203.0.113.9', '--format', 'csv');
    expect(r.out.trim().split('\r\n')[1]).toMatch(/^[^,]+,inbound,'=hyperlink@evil\.example,/);
  });

  it('prints a table, and refuses a bad time with exit 1 and a bilingual reason', async () => {
    const t = await cli('log', 'search', '--to', 'lan@example.gov.vn');
    expect(t.out.split('\n')[0]).toMatch(/^TIME\s+DIRECTION\s+SENDER/);
    const bad = await cli('log', 'search', '--since', 'hôm qua');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/thời điểm không hợp lệ .* \/ .*invalid time/);
  });
});

describe('log search times (parseTime)', () => {
  it('reads times without an offset as Vietnam time; a bare --until date includes that whole day', () => {
    expect(parseTime('2026-11-22', 'since').toISOString()).toBe('2026-11-21T17:00:00.000Z');
    expect(parseTime('2026-11-22', 'until', { endOfDay: true }).toISOString()).toBe('2026-11-22T17:00:00.000Z');
    expect(parseTime('2026-11-22T10:00', 'since').toISOString()).toBe('2026-11-22T03:00:00.000Z');
    expect(parseTime('2026-11-22 10:00:30', 'since').toISOString()).toBe('2026-11-22T03:00:30.000Z');
    expect(parseTime('2026-11-22T10:00:00Z', 'since').toISOString()).toBe('2026-11-22T10:00:00.000Z');
    expect(parseTime('2026-11-22T10:00+09:00', 'until').toISOString()).toBe('2026-11-22T01:00:00.000Z');
  });

  it.each(['1', 'May 5', '2026-02-30', '2026-13-01', '2026-11-22T24:00', '2026-11-22T10:60', 'hôm qua', '2026-11-22T10'])('refuses %s', (s) => {
    expect(() => parseTime(s, 'since')).toThrow(/thời điểm không hợp lệ .* \/ .*invalid time/);
  });
});

describe('buudien dkim generate', () => {
  it('stores an RSA-2048 key and prints the TXT record; refuses a second one without --force', async () => {
    const r = await cli('dkim', 'generate', 'example.gov.vn');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^buudien\._domainkey\.example\.gov\.vn\. IN TXT "v=DKIM1; k=rsa; p=[A-Za-z0-9+/]+" "[A-Za-z0-9+/=]+"/m);
    const again = await cli('dkim', 'generate', 'example.gov.vn');
    expect(again.code).toBe(1);
    const store = await open();
    try {
      const key = await loadDkimKey(store, 'example.gov.vn');
      expect(key?.selector).toBe('buudien');
      expect(Buffer.from(key?.publicKey ?? '', 'base64').length).toBeGreaterThan(290); // 2048-bit SPKI
    } finally {
      await store.close();
    }
    expect((await cli('dkim', 'generate', 'other.example.com')).code).toBe(1);
  });
});

describe('pruneSendLog', () => {
  it('drops rows older than sendLog.retentionDays', async () => {
    const store = await open();
    try {
      const config = configFrom({ sendLog: { retentionDays: 184 } });
      expect(await pruneSendLog(store, config, new Date('2027-05-24T12:00:00Z'))).toBe(2);
      expect((await store.searchSendLog({})).map((r) => r.recipient)).toEqual(['hoa@example.gov.vn']);
    } finally {
      await store.close();
    }
  });
});
