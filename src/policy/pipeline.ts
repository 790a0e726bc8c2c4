/**
 * The policy pipeline (DESIGN.md "Policies fail closed"): rules run in config order, each
 * with its configured action; rules return abstract verdicts and the pipeline owns the replies.
 *
 * - `reject`: the first hit stops the pipeline with the rule's reply (default 550 5.7.1);
 *   a 4xx reply makes the result a `defer`.
 * - `flag`: one `X-Buudien-Policy: <finding>` header per finding; subject tag; Junk.
 * - `quarantine`: after the remaining rules ran (a later reject still wins) the result is
 *   `quarantine`: the SMTP layer stores it with store.quarantine, answers 250, delivers nothing;
 *   `releaseQuarantined` (quarantine.ts) delivers it later.
 * - a rule that throws, times out (policy.ruleTimeoutMs) or answers `error` defers the
 *   message: 451 4.3.0 (or the rule's own reply, e.g. clamd down → 451 4.7.0). Never accept.
 *
 * The built-in rule `sending-limits` runs first unless the config lists it (set it to `off`
 * there to disable it). `quota` (RCPT-time quota check) is available by name; the SMTP layer
 * already checks quota at RCPT itself.
 */
import { ConfigError } from '../config/load.js';
import { bi } from '../lib/errors.js';
import { reply, type PolicyDeps, type RuleAction, type RuleFactory } from './deps.js';
import { rspamdFromConfig } from './rspamd.js';
import { RULES } from './rules/index.js';
import { signingAuthorities } from './rules/official-documents.js';
import type { Pipeline, PipelineResult, PolicyContext, PolicyMessage, PolicyReply, Rule, RuleVerdict } from './types.js';

export type { PolicyDeps } from './deps.js';

interface Configured {
  rule: Rule;
  action: Exclude<RuleAction, 'off'>;
}

/** Rules that run unless the config names them (with `off` to disable). */
const BUILT_IN: Array<{ name: string; action: Exclude<RuleAction, 'off'> }> = [
  { name: 'sending-limits', action: 'reject' },
];

/** Names the registry knows (for `config check` and tests). */
export function knownRules(registry: Readonly<Record<string, RuleFactory>> = RULES): string[] {
  return Object.keys(registry);
}

/** Config problems in policy.rules (unknown names, duplicates), as `path: expected …, got …` lines. */
export function policyConfigProblems(config: PolicyDeps['config'], registry: Readonly<Record<string, RuleFactory>> = RULES): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  config.policy.rules.forEach((r, i) => {
    if (!(r.name in registry)) problems.push(`policy.rules.${i}.name: expected one of ${knownRules(registry).join(' | ')}, got ${JSON.stringify(r.name)}`);
    if (seen.has(r.name)) problems.push(`policy.rules.${i}.name: expected each rule once, got ${JSON.stringify(r.name)} again`);
    seen.add(r.name);
  });
  if (config.policy.rules.some((r) => r.name === 'official-documents' && r.action !== 'off')) problems.push(...signingAuthorities(config).problems);
  return problems;
}

/**
 * Build the pipeline. Throws ConfigError (`policy.rules.N.name: expected one of …, got …`) for an
 * unknown or repeated rule name, so start-up and `buudien serve` refuse with that line.
 * `extraRules` adds rules to the registry (tests, site-specific rules).
 */
export function createPipeline(deps: PolicyDeps & { extraRules?: Readonly<Record<string, RuleFactory>> }): Pipeline {
  const registry: Readonly<Record<string, RuleFactory>> = { ...RULES, ...(deps.extraRules ?? {}) };
  const problems = policyConfigProblems(deps.config, registry);
  if (problems.length > 0) throw new ConfigError(problems);
  const named = new Set(deps.config.policy.rules.map((r) => r.name));
  const entries = [...BUILT_IN.filter((b) => !named.has(b.name)), ...deps.config.policy.rules];
  const rules: Configured[] = [];
  for (const e of entries) {
    if (e.action === 'off') continue;
    const factory = registry[e.name];
    if (!factory) continue;
    rules.push({ rule: factory(deps), action: e.action });
  }
  const timeoutMs = deps.config.policy.ruleTimeoutMs;
  const { log } = deps;
  const rspamd = rspamdFromConfig(deps.config);

  async function runRule(r: Rule, ctx: PolicyContext, msg: PolicyMessage | null, rcpt: string | undefined): Promise<RuleVerdict> {
    let pending: Promise<RuleVerdict>;
    try {
      pending = Promise.resolve(r.check(ctx, msg, rcpt));
    } catch (e) {
      return { kind: 'error', detail: e instanceof Error ? e.message : String(e) };
    }
    // Most rules answer within the turn (no I/O): settle those without arming a timer, which cost
    // a setTimeout and a clearTimeout per rule per message. A rule still pending after a microtask
    // turn races the timeout as before.
    const settled = await Promise.race([pending.then((v) => ({ v }), (e: unknown) => ({ e })), Promise.resolve(undefined).then(() => undefined)]);
    if (settled) return 'v' in settled ? settled.v : { kind: 'error', detail: settled.e instanceof Error ? settled.e.message : String(settled.e) };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<RuleVerdict>((resolve) => {
      timer = setTimeout(() => resolve({ kind: 'error', detail: `timed out after ${timeoutMs} ms` }), timeoutMs);
    });
    try {
      return await Promise.race([pending, timeout]);
    } catch (e) {
      return { kind: 'error', detail: e instanceof Error ? e.message : String(e) };
    } finally {
      clearTimeout(timer);
    }
  }

  async function run(stage: 'mail' | 'rcpt' | 'data', ctx: PolicyContext, msg: PolicyMessage | null, rcpt?: string): Promise<PipelineResult> {
    if (stage !== 'data' || !msg) return decide(stage, ctx, msg, rcpt);
    try {
      return await decide(stage, ctx, msg, rcpt);
    } finally {
      for (const { rule } of rules) rule.settled?.(ctx, msg);
    }
  }

  async function decide(stage: 'mail' | 'rcpt' | 'data', ctx: PolicyContext, msg: PolicyMessage | null, rcpt?: string): Promise<PipelineResult> {
    const result: PipelineResult = { action: 'accept', reply: null, headers: [], subjectTag: null, junk: false, findings: [] };
    let quarantine: string | null = null;
    for (const { rule, action } of rules) {
      if (!rule.stages.includes(stage)) continue;
      const v = await runRule(rule, ctx, msg, rcpt);
      if (v.kind === 'pass') {
        if (v.headers) result.headers.push(...v.headers);
        continue;
      }
      if (v.kind === 'error') {
        const r = v.reply ?? deferReply(rule.name);
        result.findings.push(`${rule.name}: error ${v.detail}`);
        log.warn({ rule: rule.name, detail: v.detail, stage, direction: ctx.direction }, 'policy rule could not decide: message deferred');
        return finish(result, r);
      }
      const all = [v.finding, ...(v.extraFindings ?? [])];
      if (v.headers) result.headers.push(...v.headers);
      const effective: Exclude<RuleAction, 'off'> = v.escalate && action === 'flag' ? 'reject' : action;
      for (const f of all) result.findings.push(`${rule.name}: ${effective} ${f}`);
      if (effective === 'reject') {
        return finish(result, v.reply ?? rejectReply(rule.name, v.finding));
      }
      if (effective === 'flag') {
        for (const f of all) result.headers.push(`X-Buudien-Policy: ${headerSafe(f)}`);
        if (v.subjectTag && !result.subjectTag) result.subjectTag = v.subjectTag;
        if (v.junk) result.junk = true;
        continue;
      }
      // quarantine: keep going (a later reject still wins), hold at the end.
      quarantine ??= `${rule.name}: ${v.finding}`;
      for (const f of all) result.headers.push(`X-Buudien-Policy: ${headerSafe(f)}`);
    }
    if (quarantine !== null && stage === 'data') {
      // The SMTP layer stores it (store.quarantine with the findings as reason), answers 250, does not deliver.
      result.action = 'quarantine';
      log.info({ reason: quarantine, sender: ctx.sender, direction: ctx.direction }, 'message to be quarantined');
      return result;
    }
    if (stage === 'data' && msg) for (const { rule } of rules) rule.accepted?.(ctx, msg);
    return result;
  }

  return {
    checkMailFrom: (ctx) => run('mail', ctx, null),
    checkRecipient: (ctx, rcpt) => run('rcpt', ctx, null, rcpt),
    checkMessage: (ctx, msg) => run('data', ctx, msg),
    async learn(kind, raw) {
      if (rspamd) await rspamd.learn(kind, raw);
    },
  };
}

function finish(result: PipelineResult, r: PolicyReply): PipelineResult {
  result.reply = r;
  result.action = r.code >= 500 ? 'reject' : 'defer';
  return result;
}

/** No CR/LF (header injection) and bounded. */
function headerSafe(s: string): string {
  return s.replace(/[\r\n\u0000]+/g, ' ').slice(0, 900);
}

export function rejectReply(rule: string, finding: string): PolicyReply {
  return reply(550, '5.7.1', bi(`Thư bị từ chối theo quy tắc ${rule}: ${finding}`, `Message refused by rule ${rule}: ${finding}`));
}

export function deferReply(rule: string): PolicyReply {
  return reply(
    451,
    '4.3.0',
    bi(`Tạm thời chưa kiểm tra được thư (quy tắc ${rule}), vui lòng gửi lại sau`, `The message could not be checked now (rule ${rule}); please try again later`),
  );
}
