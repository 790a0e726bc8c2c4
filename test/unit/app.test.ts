import { readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { configFrom } from '../../src/config/load.js';
import { silentLogger } from '../../src/lib/log.js';
import { testDir } from '../helpers/app.js';

/** Files under `dir` this process holds open (Linux /proc). */
function openFilesUnder(dir: string): string[] {
  return readdirSync('/proc/self/fd')
    .map((fd) => {
      try {
        return readlinkSync(path.join('/proc/self/fd', fd));
      } catch {
        return '';
      }
    })
    .filter((f) => f.startsWith(dir));
}

describe('createApp', () => {
  it('closes the store when wiring fails (an unknown policy rule), leaving no file open', async () => {
    const dir = testDir();
    const config = configFrom({ storage: { dir }, log: { level: 'silent' }, policy: { rules: [{ name: 'no-such-rule', action: 'reject' }] } });
    await expect(createApp({ config, log: silentLogger() })).rejects.toThrow(/no-such-rule/);
    expect(openFilesUnder(dir)).toEqual([]);
  });
});
