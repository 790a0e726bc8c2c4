/** QUOTA (RFC 9208): one root "" per account, resource STORAGE in KiB. */
import { bi } from '../../lib/errors.js';
import { effectiveQuotaBytes, type Account } from '../../store/port.js';
import { no } from '../errors.js';
import { findMailbox } from '../mailbox-lookup.js';
import type { Session } from '../session.js';
import { ok } from '../state.js';
import { AUTH, type CommandSpec } from './spec.js';

/**
 * The account's quota in bytes (account override, else the config default for its kind), read
 * from the store now: an administrator may have changed it since the session signed in, and
 * sessions last for days.
 */
export async function quotaBytes(s: Session, account: Account): Promise<number> {
  const now = (await s.deps.store.getAccount(account.id)) ?? account;
  return effectiveQuotaBytes(now, s.deps.config.quota);
}

/**
 * R-STORE-3 after APPEND and COPY, which fill a mailbox as deliveries do (Outlook's sent copies, a
 * migration): the warning mail once a threshold is crossed. In the background: the command's
 * answer does not wait for it.
 */
export function warnAboutQuota(s: Session, account: Account): void {
  const { quotaWarnings, log } = s.deps;
  void quotaWarnings?.(account.id).catch((e: unknown) => log.warn({ err: e, account: account.address }, 'quota warning not delivered'));
}

async function quotaLine(s: Session): Promise<string> {
  const account = s.acct();
  const used = await s.deps.store.usage(account.id);
  return `QUOTA "" (STORAGE ${Math.ceil(used / 1024)} ${Math.floor((await quotaBytes(s, account)) / 1024)})`;
}

export const getQuotaCommand: CommandSpec<'GETQUOTA'> = {
  states: AUTH,
  caps: () => ['QUOTA', 'QUOTA=RES-STORAGE'],
  async run(s, cmd) {
    if (cmd.root !== '') throw no('NONEXISTENT', 'Không có gốc hạn mức này', 'No such quota root');
    await s.untagged(await quotaLine(s));
    return ok();
  },
};

export const getQuotaRootCommand: CommandSpec<'GETQUOTAROOT'> = {
  states: AUTH,
  async run(s, cmd) {
    const mb = await findMailbox(s.deps.store, s.acct().id, cmd.mailbox.name);
    if (!mb) throw no('NONEXISTENT', 'Không có hộp thư này', 'No such mailbox');
    await s.untagged(`QUOTAROOT ${s.mailboxName(cmd.mailbox.name)} ""`);
    await s.untagged(await quotaLine(s));
    return ok();
  },
};

export const setQuotaCommand: CommandSpec<'SETQUOTA'> = {
  states: AUTH,
  async run() {
    return { kind: 'no', code: 'NOPERM', text: bi('Hạn mức do quản trị viên đặt', 'Quotas are set by the administrator') };
  },
};
