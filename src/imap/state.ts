/** Session states and what a command handler returns (shared by session.ts and commands/). */
import type { Mailbox } from '../store/port.js';
import type { MailboxView } from './view.js';

export type SessionState = 'not-authenticated' | 'authenticated' | 'selected' | 'logout';

/**
 * How a handler finished. The session writes pending untagged notifications and then the
 * tagged response, so handlers never order those themselves.
 *  - ok: tagged OK with an optional response code ("APPENDUID 38505 3955") and text; `then`
 *    switches the byte stream after the OK is written (STARTTLS, COMPRESS) or closes (LOGOUT).
 *  - line: the handler wrote a continuation ("+ idling"); the next raw line goes to `onLine`.
 *  - no: tagged NO without throwing (e.g. a STORE with UNCHANGEDSINCE conflicts is still OK;
 *    this is for expected refusals that are not errors).
 */
export type Outcome =
  | { readonly kind: 'ok'; readonly code?: string; readonly text?: string; readonly then?: 'starttls' | 'compress' | 'close' }
  | { readonly kind: 'no'; readonly code?: string; readonly text: string; readonly bad?: boolean }
  | { readonly kind: 'line'; readonly onLine: (text: string) => Promise<Outcome> };

export function ok(text?: string, code?: string): Outcome {
  return { kind: 'ok', ...(code ? { code } : {}), ...(text ? { text } : {}) };
}

export interface Selected {
  readonly mailbox: Mailbox;
  readonly view: MailboxView;
  readonly unwatch: () => void;
}
