import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, configFrom, loadConfig, mergeConfig, parseConfig } from '../../../src/config/load.js';

function problems(raw: unknown): string[] {
  try {
    parseConfig(raw);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

function files(entries: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'buudien-config-'));
  for (const [name, text] of Object.entries(entries)) writeFileSync(path.join(dir, name), text);
  return dir;
}

describe('config defaults follow the regulations', () => {
  const c = configFrom({});
  it.each([
    ['limits.maxAttachmentBytes (R-STORE-2: 20 MB)', c.limits.maxAttachmentBytes, 20 * 1024 * 1024],
    ['quota.personalBytes (R-STORE-1: 2 GB)', c.quota.personalBytes, 2 * 1024 ** 3],
    ['quota.unitBytes (R-STORE-1: 10 GB)', c.quota.unitBytes, 10 * 1024 ** 3],
    ['passwords.userMinLength (R-AUTH-1)', c.passwords.userMinLength, 8],
    ['passwords.adminMinLength (R-AUTH-1)', c.passwords.adminMinLength, 10],
    ['passwords.userMaxAgeDays (R-AUTH-2, stricter NA)', c.passwords.userMaxAgeDays, 90],
    ['security.allowPlaintextAuth', c.security.allowPlaintextAuth, 'loopback'],
  ])('%s', (_name, actual, expected) => {
    expect(actual).toBe(expected);
  });

  it('keeps the send log at least six months (R-LOG-1)', () => {
    expect(c.sendLog.retentionDays).toBeGreaterThanOrEqual(184);
  });

  it('fits a base64-encoded 20 MB attachment into the message size', () => {
    expect(c.limits.maxMessageBytes).toBeGreaterThan((c.limits.maxAttachmentBytes * 4) / 3);
  });

  it('is frozen', () => {
    expect(Object.isFrozen(c.limits)).toBe(true);
  });
});

describe('config problems are reported as "path: expected …, got …"', () => {
  it.each([
    [{ listeners: { smtp: { port: 'abc' } } }, 'listeners.smtp.port: expected number, got "abc"'],
    [{ listeners: { imap: { port: 70000 } } }, 'listeners.imap.port: expected ≤ 65535, got 70000'],
    [{ security: { allowPlaintextAuth: 'sometimes' } }, 'security.allowPlaintextAuth: expected one of "never" | "loopback" | "always", got "sometimes"'],
    [{ sendLog: { retentionDays: 30 } }, 'sendLog.retentionDays: expected at least 184 days (R-LOG-1: six months, 184 days at the longest), got 30'],
    [{ limits: { maxAttachmentBytes: '20XB' } }, 'limits.maxAttachmentBytes: expected a size such as 20MB or 1048576, got "20XB"'],
    [{ domains: ['Not A Domain'] }, 'domains.0: expected a lower-case domain name such as example.gov.vn, got "Not A Domain"'],
    [{ colour: 'blue' }, 'colour: expected no such key (unknown setting), got "blue"'],
    [{ limits: { maxAttachmentBytes: '40MB' } }, 'limits.maxMessageBytes: expected at least 55989590 (a base64-encoded limits.maxAttachmentBytes must fit), got 33554432'],
    [{ quota: { personalBytes: '1GB' } }, 'quota.personalBytes: expected at least 2 GB (R-STORE-1), got 1073741824'],
    [{ quota: { unitBytes: '5GB' } }, 'quota.unitBytes: expected at least 10 GB (R-STORE-1), got 5368709120'],
    [{ passwords: { userMinLength: 3 } }, 'passwords.userMinLength: expected at least 8 (R-AUTH-1), got 3'],
    [{ limits: { maxAttachmentBytes: '25MB', maxMessageBytes: '40MB' } }, 'limits.maxAttachmentBytes: expected at most 20 MB (R-STORE-2), got 26214400'],
    [{ listeners: { smtp: { port: 2600 }, imap: { port: 2600 } } }, 'listeners.imap.port: expected a port no other listener uses, got 2600 (listeners.smtp has it too)'],
    [{ listeners: { smtp: { host: '127.0.0.1', port: 2600 }, pop3: { host: '0.0.0.0', port: 2600 } } }, 'listeners.pop3.port: expected a port no other listener uses, got 2600 (listeners.smtp has it too)'],
  ])('%j', (raw, expected) => {
    expect(problems(raw)).toContain(expected);
  });

  it('two listeners may share a port on different addresses, or when one is disabled or on port 0', () => {
    expect(problems({ listeners: { smtp: { host: '127.0.0.1', port: 2600 }, imap: { host: '127.0.0.2', port: 2600 } } })).toEqual([]);
    expect(problems({ listeners: { smtp: { port: 2600 }, imap: { port: 2600, enabled: false } } })).toEqual([]);
    expect(problems({ listeners: { smtp: { port: 0 }, imap: { port: 0 } } })).toEqual([]);
  });

  it('security.trustedProxies takes addresses and CIDR blocks only', () => {
    expect(problems({ security: { trustedProxies: ['172.16.0.0/12', '10.1.2.3', '::1', 'fd00::/8'] } })).toEqual([]);
    for (const bad of ['proxy.example.gov.vn', '10.0.0.0/33', '::1/129', '10.0.0.0/8/8', '10.0.0.0/x']) {
      expect(problems({ security: { trustedProxies: [bad] } })).toEqual([`security.trustedProxies.0: expected an IP address or a CIDR block such as 172.16.0.0/12, got "${bad}"`]);
    }
  });

  it('backup.keep: 0 says the least allowed value (1), not "expected ≥ 0, got 0"', () => {
    expect(problems({ backup: { keep: 0 } })).toEqual(['backup.keep: expected at least 1 (the backup just made is always kept), got 0']);
    expect(problems({ backup: { keep: 1 } })).toEqual([]);
  });

  it('a count or positive number below its minimum names a minimum the value does not meet', () => {
    expect(problems({ policy: { maxMessagesPerHour: 0 } })).toEqual(['policy.maxMessagesPerHour: expected ≥ 1, got 0']);
    expect(problems({ lifecycle: { deleteAfterNoticeWorkingDays: 0 } })).toEqual(['lifecycle.deleteAfterNoticeWorkingDays: expected > 0, got 0']);
  });

  it.each(['2026-02-30', '2026-13-01', '2026-00-10', '2026-04-31', '2025-02-29', '2026-1-1'])('refuses holiday %s, which is no real date, naming path and value in both languages', (bad) => {
    expect(problems({ lifecycle: { holidays: ['2026-04-30', bad] } })).toEqual([
      `lifecycle.holidays.1: cần một ngày có thật, dạng YYYY-MM-DD, không phải "${bad}" / expected a real calendar date YYYY-MM-DD, got "${bad}"`,
    ]);
  });

  it('accepts real holiday dates (29 February in a leap year too)', () => {
    expect(configFrom({ lifecycle: { holidays: ['2026-01-01', '2026-04-30', '2028-02-29', '2026-12-31'] } }).lifecycle.holidays).toHaveLength(4);
  });

  it('lists every problem at once', () => {
    expect(problems({ listeners: { smtp: { port: 'x' } }, sendLog: { retentionDays: 1 }, nope: 1 })).toHaveLength(3);
  });

  it('accepts sizes with units', () => {
    expect(configFrom({ limits: { maxAttachmentBytes: '10 MB' } }).limits.maxAttachmentBytes).toBe(10 * 1024 * 1024);
    expect(configFrom({ quota: { personalBytes: '3GB' } }).quota.personalBytes).toBe(3 * 1024 ** 3);
  });
});

describe('config files and extends', () => {
  it('merges key by key over the file it extends, relative to the file', () => {
    const dir = files({
      'base.yaml': 'domains: [a.gov.vn]\nquota:\n  personalBytes: 3GB\n  unitBytes: 12GB\n',
      'main.yaml': 'extends: ./base.yaml\nquota:\n  personalBytes: 4GB\n',
    });
    const c = loadConfig(path.join(dir, 'main.yaml'));
    expect(c.domains).toEqual(['a.gov.vn']);
    expect(c.quota.personalBytes).toBe(4 * 1024 ** 3);
    expect(c.quota.unitBytes).toBe(12 * 1024 ** 3);
  });

  it('replaces lists instead of merging them', () => {
    expect(mergeConfig({ domains: ['a', 'b'] }, { domains: ['c'] })).toEqual({ domains: ['c'] });
  });

  it('reports a cycle', () => {
    const dir = files({ 'a.yaml': 'extends: ./b.yaml\n', 'b.yaml': 'extends: ./a.yaml\n' });
    expect(() => loadConfig(path.join(dir, 'a.yaml'))).toThrow(/expected no cycle/);
  });

  it('reports invalid YAML with its line', () => {
    const dir = files({ 'bad.yaml': 'domains: [a.gov.vn\nlisteners: {\n' });
    try {
      loadConfig(path.join(dir, 'bad.yaml'));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).problems[0]).toMatch(/bad\.yaml:\d+:\d+: expected valid YAML, got /);
    }
  });

  it('reports duplicate keys', () => {
    const dir = files({ 'dup.yaml': 'domains: [a.gov.vn]\ndomains: [b.gov.vn]\n' });
    expect(() => loadConfig(path.join(dir, 'dup.yaml'))).toThrow(/expected valid YAML/);
  });

  it('reports a missing file', () => {
    expect(() => loadConfig('/nonexistent/buudien.yaml')).toThrow(/expected a readable file, got ENOENT/);
  });

  it('reports a top level that is not a mapping', () => {
    const dir = files({ 'list.yaml': '- a\n- b\n' });
    expect(() => loadConfig(path.join(dir, 'list.yaml'))).toThrow(/expected a mapping at the top level/);
  });
});
