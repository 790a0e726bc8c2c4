/**
 * `buudien backup create [DEST] | verify PATH | restore PATH [--force] | list [DEST]` (R-OPS-1).
 * create works while the server runs; restore needs it stopped. DEST defaults to backup.dir.
 */
import { readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { backupTools } from '../../app.js';
import { formatBytes } from '../../lib/bytes.js';
import { bi, MailError } from '../../lib/errors.js';
import { serverVersion } from '../../lib/version.js';
import { createBackup, listBackups, type CreatedBackup } from '../../jobs/backup.js';
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

/**
 * The server cannot start on the restored store (after it was put in place): put the previous
 * content back (the restored one is a copy of the backup, so it is removed) and say where each is.
 * `previous` is beside storage.dir (<dir>.before-restore-*) or, for a mount point, inside it.
 */
async function undoRestore(cause: unknown, dir: string, previous: string | null): Promise<MailError> {
  const why = cause instanceof Error ? cause.message : String(cause);
  try {
    if (previous && path.dirname(previous) !== dir) {
      const aside = `${dir}.failed-restore-${Date.now()}`;
      await rename(dir, aside);
      await rename(previous, dir);
      await rm(aside, { recursive: true, force: true });
    } else {
      for (const e of await readdir(dir)) {
        const p = path.join(dir, e);
        if (p !== previous && e !== 'lost+found' && !e.startsWith('.restore-')) await rm(p, { recursive: true, force: true });
      }
      if (previous) {
        for (const e of await readdir(previous)) await rename(path.join(previous, e), path.join(dir, e));
        await rmdir(previous);
      }
    }
  } catch (e) {
    return new MailError(
      'INTERNAL',
      bi(
        `Không mở được kho vừa khôi phục, và không trả lại được kho cũ: kho cũ ở ${previous ?? '(không có)'}`,
        `the restored store does not open, and the previous one could not be put back: it is in ${previous ?? '(none)'}`,
      ) + `: ${why}; ${(e as Error).message}`,
      cause,
    );
  }
  return new MailError(
    'INTERNAL',
    bi(`Không mở được kho vừa khôi phục; đã trả lại kho cũ vào ${dir}`, `the restored store does not open; the previous one was put back in ${dir}`) + `: ${why}`,
    cause,
  );
}

/** Errors of the backup folder itself (not of the store): a user error naming the folder. */
const DEST_ERRORS: Record<string, [string, string]> = {
  ENOTDIR: ['một phần của đường dẫn là tệp, không phải thư mục', 'part of the path is a file, not a folder'],
  EEXIST: ['đã có một tệp (không phải thư mục) ở đó', 'a file (not a folder) is already there'],
  EACCES: ['không có quyền ghi', 'permission denied'],
  EPERM: ['không có quyền ghi', 'permission denied'],
  EROFS: ['hệ thống tệp chỉ đọc', 'read-only file system'],
  ENOSPC: ['hết chỗ trống trên thiết bị', 'no space left on the device'],
  EDQUOT: ['vượt hạn mức đĩa', 'disk quota exceeded'],
};

/** A path's nearest ancestor (or itself) that exists, and the folders below it that do not. */
async function missingDirs(p: string): Promise<string[]> {
  const missing: string[] = [];
  for (let d = p; ; d = path.dirname(d)) {
    try {
      await stat(d);
      return missing;
    } catch {
      if (path.dirname(d) === d) return missing;
      missing.push(d);
    }
  }
}

/** Create a backup into `root`; a failure there leaves no folder it made and, for the folder's own errors, is a user error. */
async function createInto(root: string, create: () => Promise<CreatedBackup>): Promise<CreatedBackup> {
  const abs = path.resolve(root);
  const made = await missingDirs(abs);
  try {
    const s = await stat(abs).catch(() => null);
    if (s && !s.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'EEXIST', path: abs });
    return await create();
  } catch (e) {
    // Folders made for this backup, deepest first (rmdir removes only empty ones).
    for (const d of made) await rmdir(d).catch(() => undefined);
    const err = e as NodeJS.ErrnoException;
    const reason = DEST_ERRORS[err.code ?? ''];
    // A write that finds the disk full names no path: only the backup folder is written to by a file write.
    const where = typeof err.path === 'string' ? path.resolve(err.path) : err.code === 'ENOSPC' || err.code === 'EDQUOT' ? abs : null;
    if (reason && where && (where === abs || where.startsWith(abs + path.sep) || abs.startsWith(where + path.sep))) {
      const at = where === abs ? '' : ` (${where})`;
      throw new MailError(
        err.code === 'EACCES' || err.code === 'EPERM' || err.code === 'EROFS' ? 'PERMISSION_DENIED' : 'INVALID_INPUT',
        bi(`Không ghi được bản sao lưu vào ${abs}: ${reason[0]}${at}`, `cannot write the backup into ${abs}: ${reason[1]}${at}`),
        e,
      );
    }
    throw e;
  }
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
        const r = await createInto(root, () =>
          createBackup(app.store, {
            root,
            storageDir: config.storage.dir,
            now: app.clock.now(),
            keep: config.backup.keep,
            serverVersion: serverVersion(),
            actor: ctx.actor().name,
            log: app.log,
          }),
        );
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
      // The restore opened the restored store before putting it in place; the audit entry goes into it.
      try {
        await ctx.withApp(async (app) => {
          await app.store.audit({
            actor: ctx.actor().name,
            action: 'backup.restore',
            target: r.storageDir,
            details: { from: path.resolve(dir), createdAt: r.manifest.createdAt, previous: r.previous },
          });
        });
      } catch (e) {
        throw await undoRestore(e, r.storageDir, r.previous);
      }
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
