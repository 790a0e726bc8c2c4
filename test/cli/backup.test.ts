/**
 * `buudien backup create|verify|restore|list` and the scheduled `backup` job (R-OPS-1), against
 * a running server: a backup taken while SMTP delivers, restored into a fresh folder, read back
 * over IMAP byte for byte.
 */
import { ImapFlow } from 'imapflow';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOBS } from '../../src/cli/jobs.js';
import { configFrom } from '../../src/config/load.js';
import { createTestAccount, PASSWORD } from '../helpers/accounts.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { sendRaw, SmtpLineClient } from '../protocol/smtp-helpers.js';
import { cli } from './run.js';

let app: TestApp;
let scratch: string;

/** A config file for the CLI: the given storage.dir (and backup keys), nothing listening. */
function configFor(storageDir: string, backupYaml = ''): string {
  const f = path.join(mkdtempSync(path.join(scratch, 'cfg-')), 'buudien.yaml');
  writeFileSync(f, `domains: [example.gov.vn]\nstorage: { dir: ${JSON.stringify(storageDir)}, inlineBlobMaxBytes: 2048 }\nlog: { level: silent }\n${backupYaml}`);
  return f;
}

function mail(i: number, bodyBytes: number): string {
  const body = `Thư số ${i}: `.padEnd(bodyBytes, 'abcdefghij ') + '\r\n';
  return [
    'From: <an@sender.example.com>',
    'To: <lan@example.gov.vn>',
    `Subject: Báo cáo ${i}`,
    `Message-ID: <m${i}.${Math.random().toString(36).slice(2)}@sender.example.com>`,
    'Date: Sun, 22 Nov 2026 10:00:00 +0000',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    body.match(/.{1,76}/g)!.join('\r\n'),
    '',
  ].join('\r\n');
}

let sent = 0;
async function smtpClient(): Promise<SmtpLineClient> {
  const c = await SmtpLineClient.connect(app.port('smtp'));
  expect((await c.read()).code).toBe(220);
  expect((await c.cmd('EHLO sender.example.com')).code).toBe(250);
  return c;
}
async function send(c: SmtpLineClient, bodyBytes: number): Promise<void> {
  const r = await sendRaw(c, 'an@sender.example.com', ['lan@example.gov.vn'], mail(sent++, bodyBytes));
  expect(r.code).toBe(250);
  await c.cmd('RSET');
}

async function imapSources(port: number): Promise<Map<number, Buffer>> {
  const client = new ImapFlow({ host: '127.0.0.1', port, secure: false, doSTARTTLS: false, auth: { user: 'lan@example.gov.vn', pass: PASSWORD }, logger: false });
  await client.connect();
  const out = new Map<number, Buffer>();
  try {
    const box = await client.mailboxOpen('INBOX');
    if (box.exists > 0) for await (const m of client.fetch('1:*', { uid: true, source: true })) out.set(m.uid, m.source!);
  } finally {
    await client.logout();
  }
  return out;
}

const BEFORE = 30;

async function imapSearch(port: number, subject: string): Promise<number[]> {
  const client = new ImapFlow({ host: '127.0.0.1', port, secure: false, doSTARTTLS: false, auth: { user: 'lan@example.gov.vn', pass: PASSWORD }, logger: false });
  await client.connect();
  try {
    await client.mailboxOpen('INBOX');
    return ((await client.search({ subject }, { uid: true })) || []).sort((a, b) => a - b);
  } finally {
    await client.logout();
  }
}

beforeAll(async () => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'buudien-backup-cli-'));
  app = await startApp({ storage: { inlineBlobMaxBytes: 2048 } });
  await createTestAccount(app.store, 'lan@example.gov.vn');
  const c = await smtpClient();
  for (let i = 0; i < BEFORE; i++) await send(c, i % 3 === 0 ? 200 : 30_000 + i);
  c.close();
}, 60_000);
afterAll(async () => {
  await app?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

describe('buudien backup', () => {
  it('create while SMTP delivers to the running server; verify; restore into a fresh folder; the restored server serves the same bytes over IMAP', async () => {
    const cfg = configFor(app.dir);
    const dest = path.join(scratch, 'backups');
    const before = await imapSources(app.port('imap'));
    expect(before.size).toBe(BEFORE);

    // Two SMTP clients deliver (small and large messages) from before the backup starts until it ends.
    let state: 'before' | 'during' | 'after' = 'before';
    let during = 0;
    let started: () => void = () => undefined;
    const flowing = new Promise<void>((r) => (started = r));
    const deliver = async (size: number): Promise<void> => {
      const c = await smtpClient();
      while (state !== 'after') {
        await send(c, size);
        if (state === 'during') during++;
        started();
      }
      c.close();
    };
    const senders = [deliver(300), deliver(12_000)];
    await flowing;
    state = 'during';
    const created = await cli(['backup', 'create', dest, '--json', '--config', cfg]);
    state = 'after';
    await Promise.all(senders);
    expect(created.code, created.stderr).toBe(0);
    expect(during).toBeGreaterThan(0);
    const info = JSON.parse(created.stdout) as { path: string; blobs: number; copiedBlobs: number; linkedBlobs: number; dbBytes: number };
    expect(path.dirname(info.path)).toBe(dest);
    expect(path.basename(info.path)).toMatch(/^\d{8}T\d{6}Z$/);
    expect(info.blobs).toBeGreaterThanOrEqual(2);
    expect(info).toMatchObject({ copiedBlobs: info.blobs, linkedBlobs: 0 });
    expect(readdirSync(dest)).toEqual([path.basename(info.path)]); // the lock file is gone
    const audit = await app.store.listAudit({ target: info.path });
    expect(audit[0]).toMatchObject({ actor: 'cli:tester', action: 'backup.create' });

    const verified = await cli(['backup', 'verify', info.path]);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/^Bản sao lưu hợp lệ \/ backup OK: /);

    // Restore into a folder that does not exist yet, then run a server on it.
    const fresh = path.join(scratch, 'restored', 'data');
    const restored = await cli(['backup', 'restore', info.path, '--config', configFor(fresh)]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toMatch(/Đã khôi phục \/ restored: .* → .*restored\/data/);
    const app2 = await startApp({ storage: { inlineBlobMaxBytes: 2048 } }, { dir: fresh });
    try {
      const back = await imapSources(app2.port('imap'));
      const live = await imapSources(app.port('imap'));
      // Everything delivered before the backup began is there, and the snapshot is a prefix of what the live store has.
      for (const [uid, raw] of before) expect(back.get(uid)?.equals(raw), `uid ${uid}`).toBe(true);
      expect(back.size).toBeGreaterThanOrEqual(before.size);
      expect(back.size).toBeLessThanOrEqual(live.size);
      for (const [uid, raw] of back) expect(raw.equals(live.get(uid)!), `uid ${uid}`).toBe(true);
      expect([...back.values()].some((b) => b.length > 20_000)).toBe(true); // a blob file, not only inline rows
      // The full-text index is there too (rebuilt if the store keeps it outside the database).
      const found = await imapSearch(app2.port('imap'), 'báo cáo 1');
      expect(found.length).toBeGreaterThan(0);
      expect(found).toEqual((await imapSearch(app.port('imap'), 'báo cáo 1')).filter((u) => back.has(u)));
      expect((await app2.store.listAudit({ target: fresh }))[0]).toMatchObject({ action: 'backup.restore', actor: 'cli:tester' });
    } finally {
      await app2.stop();
    }
  });

  it('a second backup hard-links the unchanged blobs of the first', async () => {
    const cfg = configFor(app.dir);
    const dest = path.join(scratch, 'incremental');
    const first = JSON.parse((await cli(['backup', 'create', dest, '--json', '--config', cfg])).stdout) as { path: string; blobs: number };
    const c = await smtpClient();
    await send(c, 9_000);
    c.close();
    const second = JSON.parse((await cli(['backup', 'create', dest, '--json', '--config', cfg])).stdout) as { path: string; blobs: number; linkedBlobs: number; copiedBlobs: number };
    expect(second).toMatchObject({ blobs: first.blobs + 1, linkedBlobs: first.blobs, copiedBlobs: 1 });
    const files = (root: string): Map<string, number> => {
      const m = new Map<string, number>();
      const walk = (d: string): void => {
        for (const e of readdirSync(d, { withFileTypes: true })) {
          if (e.isDirectory()) walk(path.join(d, e.name));
          else m.set(e.name, statSync(path.join(d, e.name)).ino);
        }
      };
      walk(path.join(root, 'blobs'));
      return m;
    };
    const a = files(first.path);
    const b = files(second.path);
    for (const [hash, ino] of a) {
      expect(b.get(hash)).toBe(ino);
      expect(statSync(path.join(second.path, 'blobs', hash.slice(0, 2), hash.slice(2, 4), hash)).nlink).toBe(2);
    }
    expect([...b.keys()].filter((h) => !a.has(h))).toHaveLength(1);
    expect((await cli(['backup', 'verify', second.path])).code).toBe(0);
  });

  it('retention keeps backup.keep complete backups and removes unfinished ones; list shows them', async () => {
    const dest = path.join(scratch, 'kept');
    const cfg = configFor(app.dir, `backup: { dir: ${JSON.stringify(dest)}, keep: 2 }\n`);
    const made: string[] = [];
    for (let i = 0; i < 3; i++) {
      if (i === 2) mkdirSync(path.join(dest, '20200101T000000Z')); // an unfinished backup (no manifest)
      const r = await cli(['backup', 'create', '--json', '--config', cfg]);
      expect(r.code, r.stderr).toBe(0);
      made.push(path.basename((JSON.parse(r.stdout) as { path: string }).path));
    }
    const list = JSON.parse((await cli(['backup', 'list', '--json', '--config', cfg])).stdout) as Array<{ name: string; complete: boolean }>;
    expect(list.map((b) => [b.name, b.complete])).toEqual([
      [made[1], true],
      [made[2], true],
    ]);
    expect(readdirSync(dest).sort()).toEqual([made[1], made[2]].sort());
    const table = await cli(['backup', 'list', '--config', cfg]);
    expect(table.stdout.split('\n')[0]).toMatch(/^NAME\s+CREATED\s+STATE\s+BLOBS\s+SIZE\s+VERSION$/);
  });

  it('verify fails with one bilingual line per problem: a damaged blob, a truncated database', async () => {
    const dest = path.join(scratch, 'damaged');
    const info = JSON.parse((await cli(['backup', 'create', dest, '--json', '--config', configFor(app.dir)])).stdout) as { path: string };
    const blobs: string[] = [];
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(path.join(d, e.name));
        else blobs.push(path.join(d, e.name));
      }
    };
    walk(path.join(info.path, 'blobs'));
    const victim = blobs[0]!;
    const bytes = readFileSync(victim);
    bytes[bytes.length - 3] = 0x58;
    rmSync(victim);
    writeFileSync(victim, bytes);
    const bad = await cli(['backup', 'verify', info.path]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toEqual([`Tệp thư ${path.basename(victim)} bị hỏng (mã băm không khớp) / blob ${path.basename(victim)} damaged (hash mismatch)`]);
    const json = await cli(['backup', 'verify', info.path, '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, problems: [expect.stringMatching(/damaged/)] });

    const db = path.join(info.path, 'buudien.db');
    truncateSync(db, 8192);
    const worse = await cli(['backup', 'verify', info.path]);
    expect(worse.code).toBe(1);
    const lines = worse.stderr.trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const l of lines) expect(l).toMatch(/^[^/]+ \/ .+$/);
    expect(lines.some((l) => /sha256 mismatch/.test(l))).toBe(true);

    // A damaged backup is not restored.
    const target = path.join(scratch, 'not-restored');
    const r = await cli(['backup', 'restore', info.path, '--config', configFor(target)]);
    expect(r.code).toBe(1);
    expect(() => readdirSync(target)).toThrow();
  });

  it('restore refuses while the server runs, and a non-empty storage.dir without --force', async () => {
    const dest = path.join(scratch, 'refusals');
    const info = JSON.parse((await cli(['backup', 'create', dest, '--json', '--config', configFor(app.dir)])).stdout) as { path: string };
    const running = await cli(['backup', 'restore', info.path, '--force', '--config', configFor(app.dir)]);
    expect(running.code).toBe(1);
    expect(running.stderr).toMatch(/^Kho thư .* đang được dùng .* \/ The store in .* is in use \(is the server running\?\); stop the server before restoring\n$/);

    const target = path.join(scratch, 'occupied');
    mkdirSync(target);
    writeFileSync(path.join(target, 'notes.txt'), 'keep me');
    const refused = await cli(['backup', 'restore', info.path, '--config', configFor(target)]);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/không trống.* \/ storage\.dir .* is not empty; use --force/);
    expect(readdirSync(target)).toEqual(['notes.txt']);

    const forced = await cli(['backup', 'restore', info.path, '--force', '--json', '--config', configFor(target)]);
    expect(forced.code, forced.stderr).toBe(0);
    const out = JSON.parse(forced.stdout) as { previous: string };
    expect(readFileSync(path.join(out.previous, 'notes.txt'), 'utf8')).toBe('keep me');
    expect(readdirSync(target)).toContain('buudien.db');
  });

  it('create without DEST or backup.dir is a user error', async () => {
    const r = await cli(['backup', 'create', '--config', configFor(app.dir)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Chưa có nơi sao lưu.* \/ no backup destination: give DEST or set backup.dir in the config\n$/);
  });
});

describe('the scheduled backup job', () => {
  it('is scheduled only with backup.dir; backs up when the newest backup is intervalDays old', async () => {
    const job = JOBS.find((j) => j.name === 'backup')!;
    expect(job.enabled?.(configFrom({}))).toBe(false);
    expect(job.enabled?.(configFrom({ backup: { dir: '/mnt/backup' } }))).toBe(true);

    const dest = path.join(scratch, 'weekly');
    const cfg = configFor(app.dir, `backup: { dir: ${JSON.stringify(dest)} }\n`);
    const first = await cli(['jobs', 'run', 'backup', '--now', '2027-01-04T02:00:00Z', '--force', '--config', cfg]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^backup: .*20270104T020000Z, \d+ tệp thư .* \/ \d+ blobs/);
    const early = await cli(['jobs', 'run', 'backup', '--now', '2027-01-10T02:00:00Z', '--force', '--config', cfg]);
    expect(early.stdout).toMatch(/backup: chưa đến hạn \(bản mới nhất 20270104T020000Z, mỗi 7 ngày\) \/ not due \(newest 20270104T020000Z, every 7 days\)/);
    const week = await cli(['jobs', 'run', 'backup', '--now', '2027-01-11T02:00:00Z', '--force', '--config', cfg]);
    expect(week.stdout).toMatch(/20270111T020000Z, .* \/ \d+ blobs \(\d+ linked, 0 copied\)/);
    expect(readdirSync(dest).sort()).toEqual(['20270104T020000Z', '20270111T020000Z']);
    expect((await app.store.listAudit({ actor: 'system:backup' })).length).toBe(2);

    const off = await cli(['jobs', 'run', 'backup', '--config', configFor(app.dir)]);
    expect(off.code).toBe(1);
    expect(off.stderr).toMatch(/backup.dir is not set/);
  });

  it('backup.intervalDays above 7 is a config error (R-OPS-1: at least weekly)', () => {
    expect(() => configFrom({ backup: { dir: '/b', intervalDays: 8 } })).toThrow(/backup\.intervalDays: expected ≤ 7, got 8/);
  });
});
