/**
 * Per-account sending limits, so a compromised account cannot spray (submission only):
 * - at MAIL FROM, and again at DATA: more than policy.maxMessagesPerHour accepted messages in the
 *   last hour. At DATA a message under way counts too, from its check until the pipeline has
 *   decided it (sessions in parallel all pass MAIL FROM before any of them is accepted); one that
 *   another rule refuses does not count;
 * - at RCPT: more than policy.maxRecipientsPerMessage recipients (below limits.maxRecipientsPerMessage,
 *   the protocol's hard cap, which answers 452 4.5.3 for everyone).
 * Both → 451 4.7.1, a log event, and (once per account per hour) a notice to the unit's
 * administrators (R-ACC-7), or to the super-administrators when the unit has none.
 * Counts are kept in memory; an account's first check in a process reads its messages of the last
 * hour from the send log, so a restart does not reset the limit.
 */
import { bi } from '../../lib/errors.js';
import { reply, type PolicyDeps, type RuleFactory } from '../deps.js';
import { deliverNotice } from '../notice.js';
import type { RuleVerdict } from '../types.js';

const HOUR = 3600_000;

/** A message under way counts at most this long (a safety net: the pipeline settles every message it checks). */
const PENDING_MS = 5 * 60_000;

export const sendingLimits: RuleFactory = (deps) => {
  const { config, clock, log } = deps;
  const sent = new Map<string, number[]>();
  const noticed = new Map<string, number>();
  /** Messages past their DATA check and not yet decided, per account: a number each, with the time of the check. */
  const pending = new Map<string, Map<number, number>>();
  /** Which reservation a message holds (weakly: the message's bytes are not kept alive by it). */
  const reservation = new WeakMap<object, { account: string; id: number }>();
  let nextId = 0;
  /** Accounts whose last hour was read from the send log in this process. */
  const seeded = new Set<string>();

  /** Before an account's first count in this process: its messages of the last hour, from the send log. */
  const seed = async (account: string): Promise<void> => {
    if (seeded.has(account)) return;
    const since = new Date(clock.now().getTime() - HOUR);
    const times = await Promise.resolve()
      .then(() => deps.store.submissionTimes(account, since))
      .catch((e: unknown) => {
      log.error({ err: e, account }, 'sending limits: the send log could not be read; counting from now');
      return [];
    });
    // Every message is checked (and waits here) before it can be accepted and counted, so no
    // message of this process is in both the send log's times and the list.
    if (seeded.has(account)) return;
    seeded.add(account);
    sent.set(account, [...times, ...(sent.get(account) ?? [])]);
  };

  const underWay = (account: string): Map<number, number> => {
    const now = clock.now().getTime();
    const m = pending.get(account) ?? new Map<number, number>();
    for (const [k, t] of m) if (now - t >= PENDING_MS) m.delete(k);
    if (m.size === 0) pending.delete(account);
    return m;
  };

  const recent = (account: string): number[] => {
    const now = clock.now().getTime();
    const list = (sent.get(account) ?? []).filter((t) => now - t < HOUR);
    if (list.length === 0) sent.delete(account);
    else sent.set(account, list);
    return list;
  };

  const tell = (account: string, what: string): void => {
    const now = clock.now().getTime();
    const last = noticed.get(account);
    if (last !== undefined && now - last < HOUR) return;
    noticed.set(account, now);
    void notifyAdmins(deps, account, what).catch((e: unknown) => log.error({ err: e, account }, 'sending-limit notice not delivered'));
  };

  return {
    name: 'sending-limits',
    stages: ['mail', 'rcpt', 'data'],
    async check(ctx, msg, rcpt): Promise<RuleVerdict> {
      if (ctx.direction !== 'submission' || !ctx.account) return { kind: 'pass' };
      const account = ctx.account.toLowerCase();
      if (rcpt === undefined) {
        await seed(account);
        const max = config.policy.maxMessagesPerHour;
        // No await between the count and the reservation: parallel DATA checks take turns.
        const mine = msg ? underWay(account) : null;
        const n = recent(account).length + (mine?.size ?? 0);
        if (n < max) {
          if (msg && mine) {
            const id = nextId++;
            mine.set(id, clock.now().getTime());
            pending.set(account, mine);
            reservation.set(msg, { account, id });
          }
          return { kind: 'pass' };
        }
        log.warn({ event: 'sending-limit', account, messages: n, limit: max }, 'sending limit reached: messages per hour');
        tell(account, `${n} thư trong một giờ (giới hạn ${max}) / ${n} messages in one hour (limit ${max})`);
        return {
          kind: 'hit',
          finding: `sending-limit; messages-per-hour=${max}`,
          reply: reply(
            451,
            '4.7.1',
            bi(
              `Tài khoản đã gửi quá ${max} thư trong một giờ; vui lòng thử lại sau (quy tắc sending-limits)`,
              `This account has sent more than ${max} messages in an hour; try again later (rule sending-limits)`,
            ),
          ),
        };
      }
      const maxR = config.policy.maxRecipientsPerMessage;
      if (ctx.recipients.length < maxR) return { kind: 'pass' };
      log.warn({ event: 'sending-limit', account, recipients: ctx.recipients.length + 1, limit: maxR }, 'sending limit reached: recipients per message');
      tell(account, `quá ${maxR} người nhận trong một thư / more than ${maxR} recipients in one message`);
      return {
        kind: 'hit',
        finding: `sending-limit; recipients-per-message=${maxR}`,
        reply: reply(
          451,
          '4.7.1',
          bi(
            `Một thư được gửi tới tối đa ${maxR} người nhận (quy tắc sending-limits)`,
            `At most ${maxR} recipients per message (rule sending-limits)`,
          ),
        ),
      };
    },
    settled(_ctx, msg) {
      const r = reservation.get(msg);
      if (!r) return;
      reservation.delete(msg);
      const m = pending.get(r.account);
      m?.delete(r.id);
      if (m?.size === 0) pending.delete(r.account);
    },
    accepted(ctx) {
      if (ctx.direction !== 'submission' || !ctx.account) return;
      const account = ctx.account.toLowerCase();
      const list = recent(account);
      list.push(clock.now().getTime());
      sent.set(account, list);
    },
  };
};

async function notifyAdmins(deps: PolicyDeps, address: string, what: string): Promise<void> {
  const { store } = deps;
  const acct = await store.getAccountByAddress(address);
  let admins = acct?.unitId != null ? (await store.listAccounts({ unitId: acct.unitId, state: 'active' })).filter((a) => a.role === 'unit') : [];
  if (admins.length === 0) admins = (await store.listAccounts({ state: 'active' })).filter((a) => a.role === 'super');
  for (const admin of admins) {
    await deliverNotice(deps, admin, {
      subject: `Cảnh báo: tài khoản ${address} vượt giới hạn gửi thư / Warning: ${address} reached its sending limit`,
      body:
        `Tài khoản ${address} đã chạm giới hạn gửi thư: ${what}.\n` +
        `Thư tiếp theo tạm thời bị từ chối (451 4.7.1). Nếu đây không phải hoạt động bình thường, tài khoản có thể đã bị chiếm quyền: hãy đổi mật khẩu hoặc tạm khóa tài khoản.\n\n` +
        `The account ${address} reached its sending limit: ${what}.\n` +
        `Further mail is deferred (451 4.7.1). If this is not normal activity the account may be compromised: reset its password or suspend it.\n`,
    });
  }
}
