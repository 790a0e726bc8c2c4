/**
 * The typed command registry (DESIGN.md, after WildDuck): each command's allowed states,
 * the capabilities it brings, and its handler, one file per command. The mapped type makes
 * the registry exhaustive over ImapCommand, and CAPABILITY is derived from it.
 */
import type { ImapCommandType } from '../protocol/types.js';
import type { Session } from '../session.js';
import type { CommandSpec } from './spec.js';
import { appendCommand } from './append.js';
import { authenticateCommand, loginCommand } from './login.js';
import { capabilityCommand, idCommand, logoutCommand, noopCommand } from './basic.js';
import { checkCommand, closeCommand, unselectCommand } from './close.js';
import { compressCommand } from './compress.js';
import { copyCommand, moveCommand } from './copy.js';
import { enableCommand } from './enable.js';
import { expungeCommand } from './expunge.js';
import { fetchCommand } from './fetch.js';
import { idleCommand } from './idle.js';
import { listCommand, lsubCommand } from './list.js';
import { createCommand, deleteCommand, renameCommand, subscribeCommand, unsubscribeCommand } from './mailboxes.js';
import { namespaceCommand } from './namespace.js';
import { getQuotaCommand, getQuotaRootCommand, setQuotaCommand } from './quota.js';
import { searchCommand } from './search.js';
import { examineCommand, selectCommand } from './select.js';
import { sortCommand, threadCommand } from './sort.js';
import { starttlsCommand } from './starttls.js';
import { statusCommand } from './status.js';
import { storeCommand } from './store.js';

export type { CommandSpec } from './spec.js';

export type Registry = { readonly [T in ImapCommandType]: CommandSpec<T> };

export const registry: Registry = {
  CAPABILITY: capabilityCommand,
  NOOP: noopCommand,
  LOGOUT: logoutCommand,
  ID: idCommand,
  STARTTLS: starttlsCommand,
  LOGIN: loginCommand,
  AUTHENTICATE: authenticateCommand,
  ENABLE: enableCommand,
  COMPRESS: compressCommand,
  SELECT: selectCommand,
  EXAMINE: examineCommand,
  CREATE: createCommand,
  DELETE: deleteCommand,
  RENAME: renameCommand,
  SUBSCRIBE: subscribeCommand,
  UNSUBSCRIBE: unsubscribeCommand,
  LIST: listCommand,
  LSUB: lsubCommand,
  NAMESPACE: namespaceCommand,
  STATUS: statusCommand,
  APPEND: appendCommand,
  IDLE: idleCommand,
  GETQUOTA: getQuotaCommand,
  GETQUOTAROOT: getQuotaRootCommand,
  SETQUOTA: setQuotaCommand,
  CHECK: checkCommand,
  CLOSE: closeCommand,
  UNSELECT: unselectCommand,
  EXPUNGE: expungeCommand,
  FETCH: fetchCommand,
  STORE: storeCommand,
  COPY: copyCommand,
  MOVE: moveCommand,
  SEARCH: searchCommand,
  SORT: sortCommand,
  THREAD: threadCommand,
};

/** The capability list for this session now, derived from the registry. */
export function capabilities(s: Session): string[] {
  const out = ['IMAP4rev1', 'IMAP4rev2', 'LITERAL+'];
  // Signed in, everything usable in the authenticated or selected state is advertised.
  const states = s.state === 'authenticated' || s.state === 'selected' ? ['authenticated', 'selected'] : ['not-authenticated'];
  for (const spec of Object.values(registry) as Array<CommandSpec<ImapCommandType>>) {
    if (!spec.caps || !spec.states.some((st) => states.includes(st))) continue;
    for (const c of spec.caps(s)) if (!out.includes(c)) out.push(c);
  }
  return out;
}
