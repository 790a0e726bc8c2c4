/**
 * R-STORE-1 at RCPT: a local recipient whose mailbox is already full is refused early with
 * 452 4.2.2 (the store refuses again, authoritatively, at delivery: OVER_QUOTA).
 */
import { formatBytes } from '../../lib/bytes.js';
import { bi } from '../../lib/errors.js';
import { reply, type RuleFactory } from '../deps.js';
import { effectiveQuotaBytes } from '../../store/port.js';
import type { RuleVerdict } from '../types.js';

export const quota: RuleFactory = ({ store, config }) => ({
  name: 'quota',
  stages: ['rcpt'],
  async check(_ctx, _msg, rcpt): Promise<RuleVerdict> {
    if (!rcpt) return { kind: 'pass' };
    const at = rcpt.lastIndexOf('@');
    if (at < 0 || !config.domains.includes(rcpt.slice(at + 1).toLowerCase())) return { kind: 'pass' };
    const account = await store.resolveAddress(rcpt.toLowerCase());
    if (!account) return { kind: 'pass' };
    const limit = effectiveQuotaBytes(account, config.quota);
    const used = await store.usage(account.id);
    if (used < limit) return { kind: 'pass' };
    return {
      kind: 'hit',
      finding: `over-quota; rcpt="${rcpt.replace(/["\r\n]/g, '')}"`,
      reply: reply(
        452,
        '4.2.2',
        bi(
          `Hộp thư của người nhận đã đầy (${formatBytes(used)} / ${formatBytes(limit)}) (quy tắc quota)`,
          `The recipient's mailbox is full (${formatBytes(used)} / ${formatBytes(limit)}) (rule quota)`,
        ),
      ),
    };
  },
});
