/** `buudien config check|show` on the review's files: exit 1 with a config problem (never an internal error), paths shown absolute. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, spawnCli } from './run.js';

function dir(entries: Record<string, string | Buffer>): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'buudien-cli-config-review-'));
  for (const [name, text] of Object.entries(entries)) {
    mkdirSync(path.dirname(path.join(d, name)), { recursive: true });
    writeFileSync(path.join(d, name), text);
  }
  return d;
}

const BOMB = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
  .concat('bcdefghij'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefghij'[i]}`).join(',')}]`))
  .join('\n');

describe('buudien config check on hostile or lax files', () => {
  it.each([
    ['an alias bomb', { 'c.yaml': `${BOMB}\ndomains: [nghean.gov.vn]\n` }, /c\.yaml: cần YAML hợp lệ, .* \/ expected valid YAML, got aliases/],
    ['bytes that are not UTF-8', { 'c.yaml': Buffer.from([...Buffer.from('organization: { name: "S'), 0xf6, ...Buffer.from('" }\n')]) }, /c\.yaml:1: cần tệp mã hóa UTF-8.* \/ expected UTF-8/],
    ['lax passwords', { 'c.yaml': 'passwords: { requireSpecial: false, userMaxAgeDays: 100000 }\n' }, /passwords\.requireSpecial: .*got false\npasswords\.userMaxAgeDays: .*got 100000/],
    ['__proto__ under extends', { 'base.yaml': 'domains: [nghean.gov.vn]\n', 'c.yaml': 'extends: ./base.yaml\n__proto__: { security: { allowPlaintextAuth: always } }\n' }, /c\.yaml: __proto__: expected no such key \(unknown setting\), got a mapping/],
  ])('%s: exit 1, the problem on stdout', async (_name, entries, expected) => {
    const d = dir(entries);
    const r = await cli(['config', 'check', '--config', path.join(d, 'c.yaml')]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(expected);
    expect(r.stderr).toMatch(/Cấu hình có \d+ lỗi \/ the config has \d+ problem\(s\)/);
  });

  it('an alias bomb stops any other command with exit 1 and "invalid config", not an internal error', async () => {
    const d = dir({ 'c.yaml': `${BOMB}\n` });
    const r = await cli(['config', 'show', '--config', path.join(d, 'c.yaml')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Cấu hình không hợp lệ \/ invalid config: .*c\.yaml: cần YAML hợp lệ/);
  });
});

describe('relative paths in a config file', () => {
  it('config show prints them absolute, from the config file folder, whatever the current directory', async () => {
    const d = dir({ 'etc/c.yaml': 'storage: { dir: ./data }\nbackup: { dir: ../backups }\n', 'elsewhere/.keep': '' });
    const r = await spawnCli(['config', 'show', '--json', '--config', '../etc/c.yaml'], { cwd: path.join(d, 'elsewhere') });
    expect(r.code, r.stderr).toBe(0);
    const shown = JSON.parse(r.stdout) as { storage: { dir: string }; backup: { dir: string } };
    expect(shown.storage.dir).toBe(path.join(d, 'etc/data'));
    expect(shown.backup.dir).toBe(path.join(d, 'backups'));
  });
});
