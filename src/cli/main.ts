/**
 * The `buudien` command (CONTRACT.md "Command line"). Exit status: 0 success, 1 user error with a
 * one-line bilingual reason on stderr, 2 internal error.
 *
 * Adding a command: write `src/cli/commands/<name>.ts` exporting `register(program, ctx)` and add
 * one line to COMMANDS below.
 */
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/load.js';
import { MailError, bi } from '../lib/errors.js';
import { actorOption, createContext, processIo, terminalSafe, type CliIo, type RegisterCommand } from './context.js';
import { register as serve } from './commands/serve.js';
import { register as config } from './commands/config.js';
import { register as domain } from './commands/domain.js';
import { register as org } from './commands/org.js';
import { register as account } from './commands/account.js';
import { register as importCmd } from './commands/import.js';
import { register as jobs } from './commands/jobs.js';
import { register as log } from './commands/log.js';
import { register as dkim } from './commands/dkim.js';
import { register as quarantine } from './commands/quarantine.js';
import { register as backup } from './commands/backup.js';
import { register as directory } from './commands/directory.js';
import { register as report } from './commands/report.js';

/** One line per command file. */
const COMMANDS: RegisterCommand[] = [serve, config, domain, org, account, importCmd, jobs, quarantine, log, dkim, backup, directory, report];

/** Error codes that mean "the server failed", not "the request was wrong". */
const INTERNAL_CODES = new Set(['INTERNAL', 'TEMPORARY']);

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, '; ').trim();
}

export function buildProgram(io: CliIo): { program: Command; ctx: ReturnType<typeof createContext> } {
  const program = new Command('buudien');
  program
    .description('buudien: máy chủ thư điện tử công vụ / official e-mail server')
    .option('--config <file>', 'tệp cấu hình / config file (default: BUUDIEN_CONFIG or config/buudien.yaml)')
    .option('--actor <name>', 'người thực hiện ghi vào nhật ký / actor written to the audit log (default: OS user)', actorOption)
    .exitOverride()
    // Every command's --help lists --config and --actor too (`buudien serve --config FILE`).
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({
      writeOut: (s) => io.stdout(s),
      writeErr: (s) => io.stderr(s),
      // main() prints the one-line reason itself.
      outputError: () => undefined,
    });
  const ctx = createContext(program, io);
  for (const register of COMMANDS) register(program, ctx);
  return { program, ctx };
}

/** Run the command line; returns the exit status. Tests pass `io` to capture output. */
/** commander's usage errors said in both languages (its own text is English only). */
function usageError(e: CommanderError): string {
  const text = e.message.replace(/^error: /, '');
  const quoted = /'([^']+)'/.exec(text)?.[1] ?? '';
  switch (e.code) {
    case 'commander.missingMandatoryOptionValue':
      return bi(`thiếu tùy chọn bắt buộc ${quoted}`, `required option ${quoted} not given`);
    case 'commander.optionMissingArgument':
      return bi(`tùy chọn ${quoted} cần một giá trị`, `option ${quoted} needs a value`);
    case 'commander.unknownOption':
      return bi(`không có tùy chọn ${quoted}`, `unknown option ${quoted}`);
    case 'commander.unknownCommand':
      return bi(`không có lệnh ${quoted}`, `unknown command ${quoted}`);
    case 'commander.missingArgument':
      return bi(`thiếu tham số ${quoted}`, `missing argument ${quoted}`);
    case 'commander.excessArguments':
      return bi('thừa tham số', 'too many arguments') + ` (${text})`;
    default:
      return text;
  }
}

export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  const { program, ctx } = buildProgram(io);
  const fail = (code: number, line: string): number => {
    io.stderr(`${terminalSafe(oneLine(line))}\n`);
    return code;
  };
  try {
    if (argv.length === 0) {
      program.outputHelp();
      return fail(1, bi('Thiếu lệnh (xem buudien --help)', 'no command given (see buudien --help)'));
    }
    await program.parseAsync(argv, { from: 'user' });
    return ctx.exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander.help is also the help shown for a command missing its subcommand (exit code 1).
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0) return 0;
      if (e.code === 'commander.help') return fail(1, bi('Thiếu lệnh con (xem trợ giúp ở trên)', 'a subcommand is missing (see the help above)'));
      // Our own option checks (context.ts textOption) say it all in both languages: no commander English around them.
      const ours = e.code === 'commander.invalidArgument' ? /^error: option '(--[a-z-]+)[^']*' argument .* is invalid\. (.+)$/s.exec(e.message) : null;
      if (ours) return fail(1, `${ours[1]}: ${ours[2]}`);
      return fail(1, `${bi('Lệnh không đúng', 'usage error')}: ${usageError(e)}`);
    }
    if (e instanceof ConfigError) {
      const more = e.problems.length > 1 ? ` (+${e.problems.length - 1}; buudien config check)` : '';
      return fail(1, `${bi('Cấu hình không hợp lệ', 'invalid config')}: ${e.problems[0] ?? ''}${more}`);
    }
    if (e instanceof MailError) {
      return INTERNAL_CODES.has(e.code) ? fail(2, `${bi('Lỗi nội bộ', 'internal error')}: ${e.message}`) : fail(1, e.message);
    }
    const msg = e instanceof Error ? e.message : String(e);
    return fail(2, `${bi('Lỗi nội bộ', 'internal error')}: ${msg}`);
  }
}
