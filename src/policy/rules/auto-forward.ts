/**
 * R-POL-5 both ways.
 * - Inbound: a message that is an automatic forward (Auto-Submitted: auto-forwarded, Resent-*
 *   headers, X-Forwarded-For / X-Forwarded-To) coming from outside the allowlist → hit
 *   (flag by default, reject by config).
 * - Submission: a message our user's mail program forwards automatically (a rule or filter that
 *   marks it: Auto-Submitted: auto-forwarded, Exchange's AutoForwarded) to a recipient outside
 *   the allowlist → hit at DATA, refused even under `flag` (R-POL-5 forbids it; `off` and
 *   `quarantine` still apply). Resent-* and X-Forwarded-* are no mark here: a user redirecting by
 *   hand (Thunderbird's Redirect) keeps the headers of the message as it came in, which another
 *   service's forwarding may have stamped. A forward that a program sends as a new message, with
 *   no mark, cannot be told from one typed.
 * - Forwarding by the server itself (direction `forward`; buudien has no forwarding rules yet): a
 *   recipient outside the allowlist → hit at RCPT.
 */
import { bi } from '../../lib/errors.js';
import { refusal, reply, type RuleFactory } from '../deps.js';
import { domainOf, forwardAllowed } from '../forward.js';
import { headerFields } from '../mime.js';
import type { RuleVerdict } from '../types.js';

function firstAddress(v: string): string | null {
  // The bare form starts only where a run starts: tried from inside a long run it rescanned the rest each time (quadratic; review).
  const m = /<([^<>\s]+@[^<>\s]+)>/.exec(v) ?? /(?<![^\s<>,;:"])([^\s<>,;:"]+@[^\s<>,;:"]+)/.exec(v);
  return m ? (m[1] as string) : null;
}

export const autoForward: RuleFactory = ({ config }) => ({
  name: 'auto-forward',
  stages: ['rcpt', 'data'],
  async check(ctx, msg, rcpt): Promise<RuleVerdict> {
    if (rcpt !== undefined) {
      if (ctx.direction !== 'forward') return { kind: 'pass' };
      const d = domainOf(rcpt);
      if (forwardAllowed(d, config)) return { kind: 'pass' };
      return {
        kind: 'hit',
        finding: `auto-forward-out; to="${d}"`,
        reply: reply(
          550,
          '5.7.1',
          bi(
            `Không được tự động chuyển tiếp thư công vụ tới ${d} (quy tắc auto-forward)`,
            `Official mail may not be forwarded automatically to ${d} (rule auto-forward)`,
          ),
        ),
      };
    }
    if (!msg || (ctx.direction !== 'inbound' && ctx.direction !== 'submission')) return { kind: 'pass' };
    const fields = headerFields(msg.raw, msg.parsed.structure, 256 * 1024);
    const get = (n: string): string[] => fields.filter(([k]) => k === n).map(([, v]) => v);
    const autoSubmitted = get('auto-submitted').some((v) => /^\s*auto-forwarded\b/i.test(v));
    const resent = fields.some(([k]) => k.startsWith('resent-'));
    const xfwd = get('x-forwarded-for').length > 0 || get('x-forwarded-to').length > 0;
    if (ctx.direction === 'submission') {
      const exchange = get('x-ms-exchange-organization-autoforwarded').some((v) => /^\s*true\b/i.test(v));
      if (!autoSubmitted && !exchange) return { kind: 'pass' };
      const outside = [...new Set(ctx.recipients.map(domainOf))].filter((d) => !forwardAllowed(d, config)).sort();
      if (outside.length === 0) return { kind: 'pass' };
      const to = outside.slice(0, 5).join(', ') + (outside.length > 5 ? ', …' : '');
      return {
        kind: 'hit',
        finding: `auto-forward-out; to="${to}"; by=${autoSubmitted ? 'auto-submitted' : 'exchange'}`,
        escalate: true,
        reply: reply(
          550,
          '5.7.1',
          bi(
            `Không được tự động chuyển tiếp thư công vụ tới hộp thư ngoài cơ quan nhà nước (${to}) (quy tắc auto-forward)`,
            `Official mail may not be forwarded automatically to mailboxes outside state agencies (${to}) (rule auto-forward)`,
          ),
        ),
      };
    }
    if (!autoSubmitted && !resent && !xfwd) return { kind: 'pass' };
    // Who forwarded it: Resent-From/Resent-Sender, else the envelope sender, else From.
    const forwarder = firstAddress(get('resent-sender')[0] ?? get('resent-from')[0] ?? '') ?? (ctx.sender || null) ?? firstAddress(msg.parsed.from);
    const d = forwarder ? domainOf(forwarder) : '';
    if (d && forwardAllowed(d, config)) return { kind: 'pass' };
    const how = autoSubmitted ? 'auto-submitted' : resent ? 'resent' : 'x-forwarded';
    return {
      kind: 'hit',
      finding: `auto-forward; from="${d || 'unknown'}"; by=${how}`,
      reply: refusal('auto-forward', `thư tự động chuyển tiếp từ hộp thư ngoài cơ quan nhà nước (${d || 'không rõ'})`, `automatically forwarded from a mailbox outside state agencies (${d || 'unknown'})`),
    };
  },
});
