/** STATUS (with SIZE, HIGHESTMODSEQ, APPENDLIMIT, DELETED); also used by LIST-STATUS. */
import { no } from '../errors.js';
import { findMailbox } from '../mailbox-lookup.js';
import type { StatusItem } from '../protocol/types.js';
import type { Session } from '../session.js';
import type { Mailbox } from '../../store/port.js';
import { ok } from '../state.js';
import { AUTH, type CommandSpec } from './spec.js';

/** `* STATUS` for a mailbox; `asName` is the name the client used (an alias such as "Sent Items"). */
export async function statusLine(s: Session, mb: Mailbox, items: readonly StatusItem[], asName = mb.name): Promise<string> {
  const store = s.deps.store;
  const st = await store.mailboxStatus(mb.id);
  const parts: string[] = [];
  for (const item of items) {
    switch (item) {
      case 'MESSAGES':
        parts.push(`MESSAGES ${st.messages}`);
        break;
      case 'RECENT':
        parts.push(`RECENT ${st.recent}`);
        break;
      case 'UIDNEXT':
        parts.push(`UIDNEXT ${st.uidNext}`);
        break;
      case 'UIDVALIDITY':
        parts.push(`UIDVALIDITY ${st.uidValidity}`);
        break;
      case 'UNSEEN':
        parts.push(`UNSEEN ${st.unseen}`);
        break;
      case 'DELETED': {
        const all = await store.listMessages(mb.id);
        parts.push(`DELETED ${all.filter((m) => m.flags.includes('\\Deleted')).length}`);
        break;
      }
      case 'SIZE':
        parts.push(`SIZE ${st.size}`);
        break;
      case 'HIGHESTMODSEQ':
        s.condstore = true;
        parts.push(`HIGHESTMODSEQ ${st.highestModseq}`);
        break;
      case 'APPENDLIMIT':
        parts.push(`APPENDLIMIT ${s.deps.config.limits.maxMessageBytes}`);
        break;
    }
  }
  return `STATUS ${s.mailboxName(asName)} (${parts.join(' ')})`;
}

export const statusCommand: CommandSpec<'STATUS'> = {
  states: AUTH,
  caps: () => ['STATUS=SIZE'],
  async run(s, cmd) {
    const mb = await findMailbox(s.deps.store, s.acct().id, cmd.mailbox.name);
    if (!mb) throw no('NONEXISTENT', 'Không có hộp thư này', 'No such mailbox');
    await s.untagged(await statusLine(s, mb, cmd.items, cmd.mailbox.name));
    return ok();
  },
};
