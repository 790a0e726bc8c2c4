/** The shape of one command's entry in the registry, and the state sets commands use. */
import type { CommandOf, ImapCommandType } from '../protocol/types.js';
import type { Session } from '../session.js';
import type { Outcome, SessionState } from '../state.js';

export interface CommandSpec<T extends ImapCommandType> {
  /** States in which the command may run (the session checks, handlers do not). */
  readonly states: readonly SessionState[];
  /** Capabilities this command brings, advertised while the session is in one of `states`. */
  readonly caps?: (s: Session) => readonly string[];
  run(s: Session, cmd: CommandOf<T>): Promise<Outcome>;
}

export const ANY: readonly SessionState[] = ['not-authenticated', 'authenticated', 'selected'];
export const NOT_AUTH: readonly SessionState[] = ['not-authenticated'];
export const AUTH: readonly SessionState[] = ['authenticated', 'selected'];
export const SELECTED: readonly SessionState[] = ['selected'];
