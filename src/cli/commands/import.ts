/** `buudien import requests FILE.csv [--dry-run] [--ref REF]`: a request form, all or nothing (R-ACC-1). */
import { readFile, stat } from 'node:fs/promises';
import { describeOutcome, formTooLarge, importRequests, MAX_FORM_BYTES, parseRequestCsv } from '../../accounts/import.js';
import { MailError, bi } from '../../lib/errors.js';
import { REF_OPTION, terminalSafe, type RegisterCommand } from '../context.js';

export const register: RegisterCommand = (program, ctx) => {
  const imp = program.command('import').description('nhập dữ liệu / imports');

  imp
    .command('requests <file>')
    .description('thực hiện phiếu đề nghị (CSV, Phụ lục 1) / carry out a request form, all rows or none')
    .option('--dry-run', 'chỉ in việc sẽ làm / only print what each row would do')
    .option(...REF_OPTION)
    .option('--json', 'JSON')
    .action(async (file: string, opts: { dryRun?: boolean; ref?: string; json?: boolean }) => {
      // Refused before it is read into memory (parseRequestCsv refuses it too).
      if (((await stat(file).catch(() => null))?.size ?? 0) > MAX_FORM_BYTES) throw formTooLarge();
      let bytes: Buffer;
      try {
        bytes = await readFile(file);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? String(e);
        throw new MailError('INVALID_INPUT', bi(`Không đọc được tệp ${file} (${code})`, `cannot read ${file} (${code})`));
      }
      const rows = parseRequestCsv(bytes);
      const dryRun = opts.dryRun ?? false;
      await ctx.withApp(async (app) => {
        const result = await importRequests({ store: app.store, service: ctx.accounts(app), config: app.config }, rows, {
          actor: ctx.actor(),
          ref: opts.ref ?? null,
          dryRun,
        });
        const failed = result.outcomes.filter((o) => !o.ok);
        if (opts.json) {
          ctx.out(
            JSON.stringify(
              {
                applied: result.applied,
                dryRun,
                rows: result.outcomes.map((o) =>
                  o.ok
                    ? { line: o.row.line, stt: o.row.stt, fullName: o.row.fullName, ok: true, action: o.action, address: o.address, oneTimePassword: o.oneTimePassword }
                    : { line: o.row.line, stt: o.row.stt, fullName: o.row.fullName, ok: false, reason: o.reason },
                ),
              },
              null,
              2,
            ),
          );
        } else {
          // A failed real run prints only the failing rows: nothing else happened.
          for (const o of dryRun || failed.length === 0 ? result.outcomes : failed) ctx.out(terminalSafe(describeOutcome(o, dryRun)));
        }
        const first = failed[0];
        if (first && !first.ok) {
          ctx.err(
            `${dryRun ? bi(`${failed.length} dòng sẽ lỗi`, `${failed.length} row(s) would fail`) : bi(`Không thay đổi gì: ${failed.length} dòng lỗi`, `nothing changed: ${failed.length} row(s) failed`)}; ${bi('dòng', 'line')} ${first.row.line}: ${terminalSafe(first.reason)}`,
          );
          ctx.exitCode = 1;
        } else if (!dryRun) {
          ctx.out(bi(`Đã thực hiện ${result.outcomes.length} dòng`, `carried out ${result.outcomes.length} row(s)`));
        }
      });
    });
};
