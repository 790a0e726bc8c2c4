/**
 * `buudien backup create [DEST] | verify PATH | restore PATH [--force] | list [DEST]` (R-OPS-1).
 * create works while the server runs; restore needs it stopped. DEST defaults to backup.dir.
 */
import path from 'node:path';
import { backupTools } from '../../app.js';
import { formatBytes } from '../../lib/bytes.js';
import { bi, MailError } from '../../lib/errors.js';
import { serverVersion } from '../../lib/version.js';
import { createBackup, listBackups } from '../../jobs/backup.js';
import type { CliContext, RegisterCommand } from '../context.js';

function backupRoot(ctx: CliContext, dest: string | undefined): string {
  const root = dest ?? ctx.config().backup.dir;
  if (!root) {
    throw new MailError('INVALID_INPUT', bi('Chưa có nơi sao lưu: hãy ghi DEST hoặc đặt backup.dir trong cấu hình', 'no backup destination: give DEST or set backup.dir in the config'));
  }
  return root;
}

/** Every problem on its own line (stderr), exit status 1. */
function fail(ctx: CliContext, problems: string[]): void {
  for (const p of problems) ctx.err(p.replace(/\s*\n\s*/g, '; '));
  ctx.exitCode = 1;
}

export const register: RegisterCommand = (program, ctx) => {
  const backup = program.command('backup').description('sao lưu và khôi phục kho thư (R-OPS-1) / back up and restore the mail store');

  backup
    .command('create [dest]')
    .description('sao lưu ngay, khi máy chủ vẫn chạy (DEST mặc định: backup.dir) / back up now, while the server runs (DEST default: backup.dir)')
    .option('--json', 'JSON')
    .action(async (dest: string | undefined, opts: { json?: boolean }) => {
      const root = backupRoot(ctx, dest);
      const config = ctx.config();
      await ctx.withApp(async (app) => {
        const r = await createBackup(app.store, {
          root,
          storageDir: config.storage.dir,
          now: app.clock.now(),
          keep: config.backup.keep,
          serverVersion: serverVersion(),
          actor: ctx.actor().name,
          log: app.log,
        });
        const m = r.manifest;
        if (r.sameDevice) {
          ctx.err(
            bi(
              'Cảnh báo: thư mục sao lưu nằm cùng thiết bị với storage.dir; R-OPS-1 yêu cầu sao lưu sang thiết bị lưu trữ khác',
              'warning: the backup folder is on the same device as storage.dir; R-OPS-1 asks for another storage device',
            ),
          );
        }
        const record = {
          path: r.dir,
          createdAt: m.createdAt,
          serverVersion: m.serverVersion,
          dbBytes: m.db.bytes,
          dbSha256: m.db.sha256,
          blobs: m.blobs.count,
          blobBytes: m.blobs.bytes,
          linkedBlobs: m.blobs.linked,
          copiedBlobs: m.blobs.copied,
          files: m.files.length,
          writtenBytes: r.writtenBytes,
          pruned: r.pruned,
        };
        if (opts.json) {
          ctx.printRecord(record, true);
          return;
        }
        ctx.out(`${bi('Đã sao lưu', 'backup created')}: ${r.dir}`);
        ctx.printRecord(
          {
            database: `${formatBytes(m.db.bytes)} (sha256 ${m.db.sha256.slice(0, 16)}…)`,
            blobs: `${m.blobs.count} (${formatBytes(m.blobs.bytes)}; ${m.blobs.linked} hard-linked, ${m.blobs.copied} copied)`,
            files: m.files.length,
            written: formatBytes(r.writtenBytes),
            pruned: r.pruned.length > 0 ? r.pruned.join(', ') : '-',
          },
          false,
        );
      });
    });

  backup
    .command('verify <path>')
    .description('kiểm tra một bản sao lưu / check a backup')
    .option('--json', 'JSON')
    .action(async (dir: string, opts: { json?: boolean }) => {
      const check = await backupTools.verifyBackup(dir);
      if (opts.json) {
        ctx.printRecord({ path: path.resolve(dir), ok: check.ok, problems: check.problems, manifest: check.manifest }, true);
        if (!check.ok) ctx.exitCode = 1;
        return;
      }
      if (!check.ok) return fail(ctx, check.problems);
      const m = check.manifest;
      ctx.out(
        `${bi('Bản sao lưu hợp lệ', 'backup OK')}: ${path.resolve(dir)}` +
          (m ? ` (${m.createdAt}, ${m.blobs.count} blobs, ${formatBytes(m.db.bytes + m.blobs.bytes)})` : ''),
      );
    });

  backup
    .command('restore <path>')
    .description('khôi phục vào storage.dir khi máy chủ đã dừng / restore into storage.dir with the server stopped')
    .option('--force', 'thay storage.dir không trống (nội dung cũ được giữ lại bên cạnh) / replace a non-empty storage.dir (the old content is kept aside)')
    .option('--json', 'JSON')
    .action(async (dir: string, opts: { force?: boolean; json?: boolean }) => {
      const config = ctx.config();
      const r = await backupTools.restoreBackup(dir, config.storage.dir, { force: opts.force ?? false });
      if (!r.ok) {
        if (opts.json) ctx.printRecord({ ok: false, problems: r.problems }, true);
        return fail(ctx, r.problems);
      }
      // Opening the restored store proves it opens (and applies any newer migrations); the audit entry goes into it.
      await ctx.withApp(async (app) => {
        await app.store.audit({
          actor: ctx.actor().name,
          action: 'backup.restore',
          target: r.storageDir,
          details: { from: path.resolve(dir), createdAt: r.manifest.createdAt, previous: r.previous },
        });
      });
      if (opts.json) {
        ctx.printRecord({ ok: true, from: path.resolve(dir), storageDir: r.storageDir, createdAt: r.manifest.createdAt, blobs: r.manifest.blobs.count, previous: r.previous }, true);
        return;
      }
      ctx.out(`${bi('Đã khôi phục', 'restored')}: ${path.resolve(dir)} → ${r.storageDir} (${r.manifest.createdAt}, ${r.manifest.blobs.count} blobs)`);
      if (r.previous) ctx.out(`${bi('Nội dung cũ được giữ ở', 'the previous content is kept in')}: ${r.previous}`);
    });

  backup
    .command('list [dest]')
    .description('các bản sao lưu (DEST mặc định: backup.dir) / backups (DEST default: backup.dir)')
    .option('--json', 'JSON')
    .action(async (dest: string | undefined, opts: { json?: boolean }) => {
      const rows = await listBackups(backupRoot(ctx, dest));
      ctx.printList(
        rows,
        opts.json ?? false,
        [
          ['NAME', (b) => b.name],
          ['CREATED', (b) => b.createdAt.toISOString()],
          ['STATE', (b) => (b.complete ? 'complete' : 'unfinished')],
          ['BLOBS', (b) => (b.manifest ? String(b.manifest.blobs.count) : '-')],
          ['SIZE', (b) => (b.manifest ? formatBytes(b.manifest.db.bytes + b.manifest.blobs.bytes) : '-')],
          ['VERSION', (b) => b.manifest?.serverVersion ?? '-'],
        ],
        (b) => ({
          name: b.name,
          path: b.path,
          createdAt: b.createdAt.toISOString(),
          complete: b.complete,
          serverVersion: b.manifest?.serverVersion ?? null,
          dbBytes: b.manifest?.db.bytes ?? null,
          blobs: b.manifest?.blobs.count ?? null,
          blobBytes: b.manifest?.blobs.bytes ?? null,
        }),
      );
    });
};
