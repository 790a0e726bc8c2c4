/** Review fixes in config loading: relative paths, password floors, alias bombs, UTF-8, __proto__ under extends. */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, configFrom, loadConfig, mergeConfig, parseConfig } from '../../../src/config/load.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

function files(entries: Record<string, string | Buffer>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'buudien-config-review-'));
  for (const [name, text] of Object.entries(entries)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

/** The problems a load or parse reports (none when it succeeds). */
function problemsOf(f: () => unknown): string[] {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}
const loadProblems = (file: string): string[] => problemsOf(() => loadConfig(file));
const parseProblems = (raw: unknown): string[] => problemsOf(() => parseConfig(raw));

describe('relative path keys are read from the folder of the config file that sets them', () => {
  it('storage.dir, backup.dir, tls.certFile/keyFile and policy.clamd.socket', () => {
    const dir = files({
      'etc/buudien.yaml': [
        'storage: { dir: ./data }',
        'backup: { dir: ../backups }',
        'tls: { certFile: tls/cert.pem, keyFile: ./tls/key.pem }',
        'policy: { clamd: { socket: run/clamd.sock } }',
        '',
      ].join('\n'),
    });
    const c = loadConfig(path.join(dir, 'etc/buudien.yaml'));
    expect(c.storage.dir).toBe(path.join(dir, 'etc/data'));
    expect(c.backup.dir).toBe(path.join(dir, 'backups'));
    expect(c.tls.certFile).toBe(path.join(dir, 'etc/tls/cert.pem'));
    expect(c.tls.keyFile).toBe(path.join(dir, 'etc/tls/key.pem'));
    expect(c.policy.clamd?.socket).toBe(path.join(dir, 'etc/run/clamd.sock'));
  });

  it('through extends: each path from the file that set it; absolute paths stay as written', () => {
    const dir = files({
      'presets/base.yaml': 'storage: { dir: ./base-data }\nbackup: { dir: ./base-backups }\ntls: { certFile: /etc/ssl/c.pem, keyFile: /etc/ssl/k.pem }\n',
      'site/main.yaml': 'extends: ../presets/base.yaml\nbackup: { dir: ./site-backups }\n',
    });
    const c = loadConfig(path.join(dir, 'site/main.yaml'));
    expect(c.storage.dir).toBe(path.join(dir, 'presets/base-data'));
    expect(c.backup.dir).toBe(path.join(dir, 'site/site-backups'));
    expect(c.tls.certFile).toBe('/etc/ssl/c.pem');
    expect(c.tls.keyFile).toBe('/etc/ssl/k.pem');
    expect(c.extends).toBe('../presets/base.yaml');
  });

  it('an empty storage.dir is still refused, not turned into the config folder', () => {
    const dir = files({ 'c.yaml': 'storage: { dir: "" }\n' });
    expect(loadProblems(path.join(dir, 'c.yaml'))).toEqual(['storage.dir: expected ≥ 1, got ""']);
  });

  it('a config given as an object (configFrom) keeps its paths as written', () => {
    expect(configFrom({ storage: { dir: './data' } }).storage.dir).toBe('./data');
    expect(configFrom({ backup: { dir: 'rel/b' } }).backup.dir).toBe('rel/b');
  });

  it('refuses, naming both folders, when the store is only where the current directory used to put it', () => {
    // A relative storage.dir whose store sits where the current directory put it (before this fix)
    // and not beside the config file: loading must not start a new, empty store there. The relative
    // path is written from the current directory into a temp folder, so nothing is made under it.
    const dir = files({});
    const oldStore = path.join(dir, 'old/data');
    const written = path.relative(process.cwd(), oldStore);
    const file = path.join(dir, 'etc/deep/c.yaml');
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, `storage: { dir: ${JSON.stringify(written)} }\n`);
    const newStore = path.resolve(path.dirname(file), written);
    expect(newStore).not.toBe(oldStore);
    expect(loadProblems(file)).toEqual([]); // no store anywhere yet: a first start beside the config file
    mkdirSync(oldStore, { recursive: true });
    writeFileSync(path.join(oldStore, 'buudien.db'), '');
    expect(loadProblems(file)).toEqual([
      `${file}: storage.dir: cần đường dẫn tới kho thư đang dùng, không phải ${JSON.stringify(written)} (đường dẫn tương đối được tính từ thư mục của tệp cấu hình: ${newStore} chưa có kho thư, kho thư đang có ở ${oldStore}; hãy ghi đường dẫn tuyệt đối) / expected the path of the store in use, got ${JSON.stringify(written)} (a relative path is read from the config file's folder: ${newStore} has no store, the existing one is at ${oldStore}; write the absolute path)`,
    ]);
    // With a store beside the config file, that one is used.
    mkdirSync(newStore, { recursive: true });
    writeFileSync(path.join(newStore, 'buudien.db'), '');
    expect(loadConfig(file).storage.dir).toBe(newStore);
  });
});

describe('password settings hold the regulation floors (R-AUTH-1, R-AUTH-2)', () => {
  it.each(['requireLower', 'requireUpper', 'requireDigit', 'requireSpecial'])('passwords.%s cannot be turned off', (key) => {
    expect(parseProblems({ passwords: { [key]: false } })).toEqual([
      `passwords.${key}: cần true (R-AUTH-1: mật khẩu có chữ thường, chữ in hoa, chữ số và ký tự đặc biệt), không phải false / expected true (R-AUTH-1: passwords have lower case, upper case, a digit and a special character), got false`,
    ]);
  });

  it('adminMaxAgeDays at most 90, userMaxAgeDays at most 183 (six months, as NB allows)', () => {
    expect(parseProblems({ passwords: { adminMaxAgeDays: 90, userMaxAgeDays: 183 } })).toEqual([]);
    expect(parseProblems({ passwords: { adminMaxAgeDays: 91, userMaxAgeDays: 184 } })).toEqual([
      'passwords.adminMaxAgeDays: cần tối đa 90 ngày (R-AUTH-2: quản trị đổi mật khẩu 3 tháng một lần), không phải 91 / expected at most 90 days (R-AUTH-2: administrators every 3 months), got 91',
      'passwords.userMaxAgeDays: cần tối đa 183 ngày (R-AUTH-2: người dùng tối đa 6 tháng một lần), không phải 184 / expected at most 183 days (R-AUTH-2: users at least every 6 months), got 184',
    ]);
  });

  it('the reviewer’s lax file gives six problems; stricter settings and both presets pass', () => {
    const dir = files({
      'lax.yaml':
        'passwords: { requireUpper: false, requireDigit: false, requireSpecial: false, requireLower: false, adminMaxAgeDays: 100000, userMaxAgeDays: 100000 }\n',
    });
    expect(loadProblems(path.join(dir, 'lax.yaml'))).toHaveLength(6);
    expect(parseProblems({ passwords: { adminMaxAgeDays: 30, userMaxAgeDays: 60, userMinLength: 12 } })).toEqual([]);
    expect(loadProblems(path.join(ROOT, 'config/presets/nghe-an.yaml'))).toEqual([]);
    expect(loadProblems(path.join(ROOT, 'config/presets/ninh-binh.yaml'))).toEqual([]);
  });
});

describe('YAML alias bombs', () => {
  const bomb = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    .concat('bcdefghij'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefghij'[i]}`).join(',')}]`))
    .join('\n');

  it('are refused as a config problem, in both languages, without expanding them', () => {
    const dir = files({ 'bomb.yaml': `${bomb}\ndomains: [nghean.gov.vn]\n` });
    const file = path.join(dir, 'bomb.yaml');
    expect(loadProblems(file)).toEqual([
      `${file}: cần YAML hợp lệ, không phải YAML dùng bí danh (*…) quá nhiều lần (tối đa 100) / expected valid YAML, got aliases (*…) used too many times (at most 100)`,
    ]);
  });

  it('a few aliases are fine', () => {
    const dir = files({ 'ok.yaml': 'x-port: &p 2600\nlisteners: { smtp: { port: *p } }\n' });
    expect(loadProblems(path.join(dir, 'ok.yaml'))).toEqual(['x-port: expected no such key (unknown setting), got 2600']);
  });
});

describe('config files must be UTF-8', () => {
  it('refuses bytes that are not UTF-8, naming the line', () => {
    const dir = files({ 'latin1.yaml': Buffer.concat([Buffer.from('domains: [nghean.gov.vn]\norganization: { name: "S'), Buffer.from([0xf6]), Buffer.from(' TT" }\n')]) });
    const file = path.join(dir, 'latin1.yaml');
    expect(loadProblems(file)).toEqual([
      `${file}:2: cần tệp mã hóa UTF-8, không phải byte không thuộc UTF-8 (hãy lưu lại tệp dưới dạng UTF-8) / expected UTF-8, got bytes that are not UTF-8 (save the file as UTF-8)`,
    ]);
  });

  it('accepts UTF-8 with a leading byte order mark, and Vietnamese text', () => {
    const dir = files({ 'bom.yaml': '\ufeffdomains: [nghean.gov.vn]\norganization: { name: "Sở Tài chính" }\n' });
    expect(readFileSync(path.join(dir, 'bom.yaml'))[0]).toBe(0xef);
    const c = loadConfig(path.join(dir, 'bom.yaml'));
    expect(c.domains).toEqual(['nghean.gov.vn']);
    expect(c.organization.name).toBe('Sở Tài chính');
  });
});

describe('__proto__, constructor and prototype under extends', () => {
  it('a top-level __proto__ in a file that extends another is refused, and sets nothing', () => {
    const dir = files({
      'base.yaml': 'domains: [nghean.gov.vn]\n',
      'proto.yaml': 'extends: ./base.yaml\n__proto__: { security: { allowPlaintextAuth: always }, passwords: { requireSpecial: false } }\n',
    });
    const file = path.join(dir, 'proto.yaml');
    expect(loadProblems(file)).toEqual([`${file}: __proto__: expected no such key (unknown setting), got a mapping`]);
  });

  it('nested, and constructor and prototype too', () => {
    const dir = files({
      'base.yaml': 'domains: [nghean.gov.vn]\nsecurity: { maxConnectionsPerIp: 50 }\n',
      'main.yaml': 'extends: ./base.yaml\nsecurity: { __proto__: { allowPlaintextAuth: always } }\nconstructor: 1\nquota: { prototype: 2 }\n',
    });
    const file = path.join(dir, 'main.yaml');
    expect(loadProblems(file).sort()).toEqual([
      `${file}: security.__proto__: expected no such key (unknown setting), got a mapping`,
      `${file}: constructor: expected no such key (unknown setting), got 1`,
      `${file}: quota.prototype: expected no such key (unknown setting), got 2`,
    ].sort());
  });

  it('mergeConfig throws on them when given no problem list, and never changes a prototype', () => {
    const over = JSON.parse('{"__proto__": {"security": {"allowPlaintextAuth": "always"}}}') as Record<string, unknown>;
    expect(() => mergeConfig({}, over)).toThrow(ConfigError);
    const problems: string[] = [];
    const merged = mergeConfig({ a: { b: 1 } }, { a: JSON.parse('{"__proto__": {"x": 1}, "c": 2}') as Record<string, unknown> }, { problems });
    expect(problems).toEqual(['a.__proto__: expected no such key (unknown setting), got a mapping']);
    expect(merged).toEqual({ a: { b: 1, c: 2 } });
    expect(Object.getPrototypeOf(merged.a)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    expect(({} as Record<string, unknown>).security).toBeUndefined();
  });
});
