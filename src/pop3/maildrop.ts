/**
 * The maildrop of one POP3 session: a snapshot of INBOX taken at sign-in (RFC 1939: message
 * numbers do not change during a session), deletion marks, and what was retrieved.
 *
 * UIDL is `${uidValidity}.${uid}`: stable across sessions and the same identity IMAP uses.
 * Messages that IMAP marked \Deleted but did not expunge are still listed: POP3 has no such
 * notion, and hiding them would make a later IMAP undelete look like new mail to POP3 clients.
 * Messages expunged by IMAP during the session stay in the snapshot; retrieving one whose
 * bytes are gone gets "-ERR" and DELE of it is harmless (the expunge skips it).
 */
import type { Mailbox, MessageMeta } from '../store/port.js';

export interface DropMessage {
  uid: number;
  size: number;
  blobId: string;
}

export class Maildrop {
  private readonly deleted = new Set<number>();
  readonly retrieved = new Set<number>();
  readonly messages: readonly DropMessage[];

  constructor(
    readonly mailbox: Pick<Mailbox, 'id' | 'uidValidity' | 'name'>,
    messages: readonly Pick<MessageMeta, 'uid' | 'size' | 'blobId'>[],
  ) {
    this.messages = messages.map((m) => ({ uid: m.uid, size: m.size, blobId: m.blobId }));
  }

  /** Message n (1-based) unless out of range or marked deleted. */
  get(n: number): DropMessage | null {
    if (!Number.isInteger(n) || n < 1 || n > this.messages.length || this.deleted.has(n)) return null;
    return this.messages[n - 1] ?? null;
  }

  isDeleted(n: number): boolean {
    return this.deleted.has(n);
  }

  dele(n: number): boolean {
    if (!this.get(n)) return false;
    this.deleted.add(n);
    return true;
  }

  rset(): void {
    this.deleted.clear();
  }

  stat(): { count: number; size: number } {
    let count = 0;
    let size = 0;
    this.messages.forEach((m, i) => {
      if (!this.deleted.has(i + 1)) {
        count++;
        size += m.size;
      }
    });
    return { count, size };
  }

  uidl(m: DropMessage): string {
    return `${this.mailbox.uidValidity}.${m.uid}`;
  }

  /** Numbers of the messages not marked deleted, in order. */
  live(): number[] {
    const out: number[] = [];
    for (let n = 1; n <= this.messages.length; n++) if (!this.deleted.has(n)) out.push(n);
    return out;
  }

  deletedUids(): number[] {
    return [...this.deleted].sort((a, b) => a - b).map((n) => (this.messages[n - 1] as DropMessage).uid);
  }

  /** Retrieved and kept: these get \Seen at QUIT. */
  seenUids(): number[] {
    return [...this.retrieved]
      .filter((n) => !this.deleted.has(n))
      .sort((a, b) => a - b)
      .map((n) => (this.messages[n - 1] as DropMessage).uid);
  }
}
