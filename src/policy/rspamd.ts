/**
 * rspamd over its HTTP protocol: POST /checkv2 (the message as the body, envelope in headers)
 * and /learnspam, /learnham (controller; `Password` header when configured).
 */
import type { Config } from '../config/schema.js';

export interface RspamdVerdict {
  score: number;
  requiredScore: number;
  action: string;
  symbols: Array<{ name: string; score: number }>;
}

export interface RspamdEnvelope {
  ip?: string | null;
  from?: string;
  rcpt?: string[];
  user?: string | null;
  helo?: string;
}

export interface RspamdClient {
  check(raw: Buffer, env: RspamdEnvelope, timeoutMs: number): Promise<RspamdVerdict>;
  learn(kind: 'spam' | 'ham', raw: Buffer, timeoutMs?: number): Promise<void>;
}

export function createRspamdClient(opts: { url: string; password?: string | undefined }): RspamdClient {
  const base = opts.url.replace(/\/+$/, '');
  const headers = (extra: Record<string, string>): Headers => {
    const h = new Headers(extra);
    if (opts.password) h.set('Password', opts.password);
    return h;
  };
  return {
    async check(raw, env, timeoutMs) {
      const h = headers({});
      if (env.ip) h.set('IP', env.ip);
      if (env.from !== undefined) h.set('From', env.from);
      for (const r of env.rcpt ?? []) h.append('Rcpt', r);
      if (env.user) h.set('User', env.user);
      if (env.helo) h.set('Helo', env.helo);
      const res = await fetch(`${base}/checkv2`, { method: 'POST', body: raw, headers: h, signal: AbortSignal.timeout(timeoutMs) });
      if (!res.ok) throw new Error(`rspamd: HTTP ${res.status}`);
      const j = (await res.json()) as {
        score?: unknown;
        required_score?: unknown;
        action?: unknown;
        symbols?: Record<string, { name?: string; score?: number }>;
      };
      if (typeof j.score !== 'number') throw new Error('rspamd: reply without a score');
      return {
        score: j.score,
        requiredScore: typeof j.required_score === 'number' ? j.required_score : 0,
        action: typeof j.action === 'string' ? j.action : 'no action',
        symbols: Object.entries(j.symbols ?? {}).map(([name, s]) => ({ name, score: typeof s.score === 'number' ? s.score : 0 })),
      };
    },
    async learn(kind, raw, timeoutMs = 30_000) {
      const res = await fetch(`${base}/learn${kind}`, { method: 'POST', body: raw, headers: headers({}), signal: AbortSignal.timeout(timeoutMs) });
      // 208: already learned — fine.
      if (!res.ok && res.status !== 208) throw new Error(`rspamd: learn${kind} HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`);
    },
  };
}

export function rspamdFromConfig(config: Readonly<Config>): RspamdClient | null {
  const r = config.policy.rspamd;
  return r ? createRspamdClient({ url: r.url, password: r.password }) : null;
}

/** `X-Spamd-Result`-style summary, header-safe and bounded. */
export function spamdResultHeader(v: RspamdVerdict): string {
  const syms = v.symbols
    .sort((a, b) => b.score - a.score)
    .slice(0, 30)
    .map((s) => `${s.name.replace(/[^\w-]/g, '_')}(${s.score.toFixed(2)})`)
    .join(', ');
  return `X-Spamd-Result: default: ${v.action === 'reject' ? 'True' : 'False'} [${v.score.toFixed(2)} / ${v.requiredScore.toFixed(2)}]; ${syms}`.slice(0, 900);
}
