/**
 * What an account's name and address may be (found by a review of the CSV import and the CLI):
 * names kept in NFC (TCVN 6909), bounded, and only letters, digits, spaces and . ' - ( ) , —
 * not a 35,000-character name, not a spreadsheet formula; free-text fields bounded; an address
 * at most 64 octets before the @ (RFC 5321 §4.5.3.1), whether given or derived from the name.
 */
import { rmSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cleanName, createAccountService, superActor, type AccountService } from '../../../src/accounts/service.js';
import { configFrom } from '../../../src/config/load.js';
import { ManualClock } from '../../../src/lib/clock.js';
import { silentLogger } from '../../../src/lib/log.js';
import type { Store } from '../../../src/store/port.js';
import { openSqliteStore } from '../../../src/store/sqlite/index.js';
import { errorCode } from '../../helpers/accounts.js';
import { testDir } from '../../helpers/app.js';

const root = superActor('cli:test');
let dir: string;
let store: Store;
let svc: AccountService;

beforeEach(async () => {
  dir = testDir('buudien-names-');
  const config = configFrom({ domains: ['example.gov.vn'], storage: { dir } });
  store = await openSqliteStore({ dir, log: silentLogger(), clock: new ManualClock(new Date('2026-11-23T08:00:00Z')), inlineBlobMaxBytes: 65536, groupCommitWindowMs: 0 });
  await store.addDomain('example.gov.vn', { actor: 'test', action: 'domain.add', target: 'example.gov.vn' });
  svc = createAccountService({ store, config, clock: new ManualClock(new Date('2026-11-23T08:00:00Z')), log: silentLogger() });
  await svc.addUnit({ name: 'Sở Thông tin và Truyền thông', code: 'stttt' }, root);
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('cleanName', () => {
  it('keeps Vietnamese names in NFC with white space collapsed', () => {
    const nfd = 'Nguyễn  Văn   Đức'.normalize('NFD');
    expect(cleanName(nfd)).toBe('Nguyễn Văn Đức'.normalize('NFC'));
    expect(cleanName("Lê Thị O'Neil-Hà (cũ), Jr.")).toBe("Lê Thị O'Neil-Hà (cũ), Jr.");
  });

  it.each(["=cmd|' /C calc'!A0 Nguyễn An", 'An <an@evil.example>', 'An\u0000Bình', '+84 An', 'x'.repeat(101), ''])('refuses %j', (name) => {
    expect(() => cleanName(name)).toThrow();
  });
});

describe('addAccount', () => {
  it('stores the name in NFC and refuses a formula, an overlong title or phone, and a local part over 64', async () => {
    const { account } = await svc.addAccount({ fullName: 'Hoàng Văn Đức'.normalize('NFD'), unit: 'stttt', title: 'Chuyên viên'.normalize('NFD') }, root);
    expect(account.fullName).toBe('Hoàng Văn Đức'.normalize('NFC'));
    expect(account.title).toBe('Chuyên viên'.normalize('NFC'));
    expect(await errorCode(svc.addAccount({ fullName: "=cmd|' /C calc'!A0 Nguyễn An", unit: 'stttt' }, root))).toBe('INVALID_INPUT');
    expect(await errorCode(svc.addAccount({ fullName: 'Lê An', unit: 'stttt', title: 'x'.repeat(201) }, root))).toBe('INVALID_INPUT');
    expect(await errorCode(svc.addAccount({ fullName: 'Lê An', unit: 'stttt', phone: '0'.repeat(31) }, root))).toBe('INVALID_INPUT');
    expect(await errorCode(svc.addAccount({ fullName: 'Lê An', unit: 'stttt', address: `${'a'.repeat(65)}@example.gov.vn` }, root))).toBe('INVALID_INPUT');
    expect(await errorCode(svc.addAccount({ fullName: 'Lê An', unit: 'stttt', address: `${'a'.repeat(64)}@example.gov.vn` }, root))).toBe('ok');
  });
});
