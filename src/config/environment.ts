/**
 * What buudien reads of its environment outside the config file: the environment handed to
 * programs buudien runs (sms.command) — the server's own, with the values the program is told
 * about added — and the size of libuv's thread pool (UV_THREADPOOL_SIZE). The one place outside
 * load.ts that reads process.env.
 */
export function environmentWith(extra: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  return { ...process.env, ...extra };
}

/** libuv's thread pool size as this process was started with it (UV_THREADPOOL_SIZE, default 4; libuv caps it at 1024). */
export function threadPoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number.parseInt(env.UV_THREADPOOL_SIZE ?? '', 10);
  return Number.isInteger(n) && n > 0 ? Math.min(n, 1024) : 4;
}
