/** `buudien serve [--config FILE]`: every listener until SIGTERM/SIGINT, then a clean stop (exit 0). */
import { Writable } from 'node:stream';
import { createApp } from '../../app.js';
import { bootstrapNotice } from '../../accounts/bootstrap.js';
import { loadDkimKey } from '../../delivery/dkim-keys.js';
import { bi } from '../../lib/errors.js';
import { createLogger } from '../../lib/log.js';
import type { CliIo, RegisterCommand } from '../context.js';
import { JOBS } from '../jobs.js';
import { startScheduler } from '../scheduler.js';

function waitForSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals): void => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      resolve(sig);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}

export const register: RegisterCommand = (program, ctx) => {
  program
    .command('serve')
    .description('chạy máy chủ / run every listener (and the scheduled jobs)')
    .action(async () => {
      const io: CliIo = ctx.io;
      const config = ctx.config();
      const stdout = new Writable({
        write(chunk: Buffer | string, _enc, cb) {
          io.stdout(String(chunk));
          cb();
        },
      });
      const log = createLogger({ level: config.log.level, destination: stdout });
      // Subscribe before starting so a signal during start-up is not lost.
      const stopped = (io.waitForStop ?? waitForSignal)();
      // The storage directory's one server: a second `serve` on it is refused (serve-lock.ts).
      const app = await createApp({ config, log, exclusive: true });
      for (const line of bootstrapNotice(app.bootstrap)) ctx.out(line);
      try {
        await app.start();
      } catch (e) {
        await app.stop();
        throw e;
      }
      // A config written before the rule existed lists its own rules without it: say so (R-POL-6).
      if (!config.policy.rules.some((r) => r.name === 'classified')) {
        log.warn("policy.rules does not list the rule classified: mail bearing a secrecy mark is not checked (R-POL-6); add { name: classified, action: reject }, or action off to keep it off knowingly");
      }
      // Outbound mail of a domain with no DKIM key leaves unsigned: receivers that check DMARC may refuse it.
      for (const name of config.domains) {
        const key = await loadDkimKey(app.store, name).catch((err: unknown) => {
          log.warn({ err, domain: name }, 'DKIM key record unreadable: outbound mail of this domain leaves unsigned');
          return undefined;
        });
        if (key === null) log.warn({ domain: name }, `no DKIM key for ${name}: outbound mail of this domain leaves unsigned; run "buudien dkim generate ${name}" and publish the record it prints`);
      }
      if (config.backup.dir === null) log.warn('backup.dir is not set: no scheduled backups (R-OPS-1 asks for weekly backups to another storage device)');
      const scheduler = startScheduler({
        jobs: JOBS.filter((j) => j.enabled?.(config) ?? true),
        log,
        run: (job) => job.run({ app, now: app.clock.now(), log: app.log, out: (line) => app.log.info({ job: job.name }, line) }),
      });
      const bound = [...app.listeners.values()].map((l) => `${l.name}=${l.host}:${l.port}`).join(' ');
      ctx.out(`${bi('Máy chủ đang chạy', 'server running')}: ${bound}`);
      const signal = await stopped;
      log.info({ signal }, 'stopping');
      await scheduler.stop();
      await app.stop();
      ctx.out(bi('Đã dừng', 'stopped'));
    });
};
