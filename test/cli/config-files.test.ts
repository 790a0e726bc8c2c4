/** config/buudien.yaml and the two presets load, and carry the values the regulations fix. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const file = (p: string): string => path.join(ROOT, 'config', p);
const GiB = 1024 ** 3;

describe('config files', () => {
  it('config/buudien.yaml states every default, and nothing else', () => {
    const c = loadConfig(file('buudien.yaml'));
    // A relative path is read from the file's folder: ../data is the repository's data/, where
    // `npm start` has always kept the store (the built-in default ./data, from the working folder).
    expect(c.storage.dir).toBe(path.join(ROOT, 'data'));
    const asDefault = { ...c, storage: { ...c.storage, dir: './data' } };
    expect(JSON.parse(JSON.stringify(asDefault))).toEqual(JSON.parse(JSON.stringify(configSchema.parse({}))));
    expect(c.listeners.imap.port).toBe(1143);
    expect(c.limits.maxAttachmentBytes).toBe(20 * 1024 * 1024);
  });

  it('Nghệ An preset (QĐ 99/2025)', () => {
    const c = loadConfig(file('presets/nghe-an.yaml'));
    expect(c.domains).toEqual(['nghean.gov.vn']);
    expect(c.naming).toEqual({ personalTemplate: '{given}{initials}', subUnitJoinsParent: true });
    expect(c.passwords).toMatchObject({ userMaxAgeDays: 90, adminMaxAgeDays: 90, userMinLength: 8, adminMinLength: 10, specialCharacters: '!@#%$*&' });
    expect(c.lifecycle).toMatchObject({ inactiveSuspendDays: 184, deleteAfterSuspendedDays: 184, deleteAfterNoticeWorkingDays: null });
    expect(c.quota).toMatchObject({ personalBytes: 2 * GiB, unitBytes: 10 * GiB });
    expect(c.sendLog.retentionDays).toBeGreaterThanOrEqual(184);
  });

  it('Ninh Bình preset (2020)', () => {
    const c = loadConfig(file('presets/ninh-binh.yaml'));
    expect(c.domains).toEqual(['ninhbinh.gov.vn']);
    expect(c.naming.personalTemplate).toBe('{given}{initials}.{unit}');
    expect(c.passwords).toMatchObject({ userMaxAgeDays: 180, adminMaxAgeDays: 90, userMinLength: 8, adminMinLength: 10 });
    expect(c.lifecycle).toMatchObject({ inactiveSuspendDays: 184, deleteAfterSuspendedDays: null, deleteAfterNoticeWorkingDays: 15 });
  });

  it('a config extending a preset overrides it key by key', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'buudien-cfg-'));
    try {
      const f = path.join(dir, 'site.yaml');
      writeFileSync(f, `extends: ${JSON.stringify(file('presets/ninh-binh.yaml'))}\npasswords: { userMaxAgeDays: 120 }\n`);
      const c = loadConfig(f);
      expect(c.passwords.userMaxAgeDays).toBe(120);
      expect(c.passwords.adminMaxAgeDays).toBe(90);
      expect(c.naming.personalTemplate).toBe('{given}{initials}.{unit}');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
