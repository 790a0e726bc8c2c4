/**
 * R-POL-4: rspamd's verdict (when config.policy.rspamd is set) as X-Spam-Score / X-Spamd-Result
 * headers; score ≥ junkScore → hit (Junk; flag by default); score ≥ rejectScore → refused
 * whatever the action (escalate). rspamd unreachable → fail closed (451 4.3.0).
 */
import { bi } from '../../lib/errors.js';
import { reply, type RuleFactory } from '../deps.js';
import { rspamdFromConfig, spamdResultHeader } from '../rspamd.js';
import type { RuleVerdict } from '../types.js';

export const spam: RuleFactory = ({ config }) => {
  const client = rspamdFromConfig(config);
  return {
    name: 'spam',
    stages: ['data'],
    async check(ctx, msg): Promise<RuleVerdict> {
      const r = config.policy.rspamd;
      if (!msg || !client || !r) return { kind: 'pass' };
      const v = await client.check(
        msg.raw,
        { ip: ctx.clientIp, from: ctx.sender, rcpt: ctx.recipients, user: ctx.account },
        Math.max(1000, config.policy.ruleTimeoutMs - 500),
      );
      const headers = [`X-Spam-Score: ${v.score.toFixed(2)}`, spamdResultHeader(v)];
      if (v.score < r.junkScore) return { kind: 'pass', headers };
      const over = v.score >= r.rejectScore;
      return {
        kind: 'hit',
        finding: `spam; score=${v.score.toFixed(2)}`,
        junk: true,
        headers: ['X-Spam-Flag: YES', ...headers],
        escalate: over,
        reply: reply(
          550,
          '5.7.1',
          bi(`Thư bị từ chối vì bị đánh giá là thư rác (điểm ${v.score.toFixed(1)}) (quy tắc spam)`, `Message refused as spam (score ${v.score.toFixed(1)}) (rule spam)`),
        ),
      };
    },
  };
};
