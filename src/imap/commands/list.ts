/** LIST (LIST-EXTENDED, SPECIAL-USE, LIST-STATUS) and LSUB. */
import type { Mailbox } from '../../store/port.js';
import type { Session } from '../session.js';
import { ok } from '../state.js';
import { AUTH, type CommandSpec } from './spec.js';
import { statusLine } from './status.js';

/** A LIST pattern's test: '*' matches anything, '%' anything but the separator "/" (RFC 9051 §6.3.9). */
export type ListPattern = (name: string) => boolean;

/**
 * The test of a LIST pattern, reading the name once per pattern character: the set of name
 * positions the pattern so far can end at, carried along. (As a regular expression, "*a*a*a*b"
 * became `^.*a.*a.*a.*b$`, whose backtracking took 3 s on a 300-character name, and 195 s for one
 * more "*a"; review.)
 */
export function listPattern(pattern: string): ListPattern {
  return (name) => {
    const n = name.length;
    let at = new Uint8Array(n + 1);
    at[0] = 1;
    for (let k = 0; k < pattern.length; k++) {
      const p = pattern[k];
      const next = new Uint8Array(n + 1);
      if (p === '*' || p === '%') {
        // From each reachable position on, over any characters ('%': up to the next "/").
        let open = false;
        for (let i = 0; i <= n; i++) {
          if (at[i]) open = true;
          if (open) next[i] = 1;
          if (p === '%' && name[i] === '/') open = false;
        }
      } else {
        for (let i = 0; i < n; i++) if (at[i] && name[i] === p) next[i + 1] = 1;
      }
      at = next;
    }
    return at[n] === 1;
  };
}

function matches(name: string, patterns: ListPattern[]): boolean {
  return patterns.some((test) => test(name));
}

function inboxFold(p: string): string {
  return /^inbox(\/|$)/i.test(p) ? 'INBOX' + p.slice(5) : p;
}

/** The attributes plain LIST gives a mailbox: children (RFC 5258 §4) and special use (RFC 6154). */
function baseAttrs(all: readonly Mailbox[], mb: Mailbox): string[] {
  const attrs = [all.some((m) => m.name.startsWith(mb.name + '/')) ? '\\HasChildren' : '\\HasNoChildren'];
  if (mb.specialUse) attrs.push(mb.specialUse);
  return attrs;
}

/** `* LIST (attributes) "/" name` for one mailbox, as LIST gives it (SELECT under IMAP4rev2). */
export async function listLine(s: Session, mb: Mailbox): Promise<string> {
  const all = await s.deps.store.listMailboxes(s.acct().id);
  return `* LIST (${baseAttrs(all, mb).join(' ')}) "/" ${s.mailboxName(mb.name)}\r\n`;
}

async function list(
  s: Session,
  reference: string,
  patterns: readonly string[],
  opts: {
    subscribedOnly: boolean;
    /** Selection option SPECIAL-USE: only mailboxes with a special-use attribute (RFC 6154 §3). */
    specialOnly: boolean;
    returnSubscribed: boolean;
    status: Parameters<typeof statusLine>[2] | null;
    lsub: boolean;
    recursive: boolean;
    /** LIST-EXTENDED syntax was used: "" is then an ordinary pattern, matching nothing (RFC 5258 §3). */
    extended: boolean;
  },
): Promise<void> {
  if (!opts.extended && patterns.length === 1 && patterns[0] === '') {
    await s.untagged(`${opts.lsub ? 'LSUB' : 'LIST'} (\\Noselect) "/" ""`);
    return;
  }
  const all = await s.deps.store.listMailboxes(s.acct().id);
  const res = patterns.map((p) => listPattern(inboxFold(reference + p)));
  const subscribedChild = (name: string): boolean => all.some((m) => m.subscribed && m.name.startsWith(name + '/'));
  // Levels that exist only as parents of other mailboxes are listed \Noselect (RFC 9051 §6.3.9).
  const names = new Set(all.map((m) => m.name));
  const virtual = new Set<string>();
  for (const m of all) {
    const levels = m.name.split('/');
    for (let i = 1; i < levels.length; i++) {
      const parent = levels.slice(0, i).join('/');
      if (!names.has(parent)) virtual.add(parent);
    }
  }
  const entries: Array<{ name: string; mb: Mailbox | null }> = [...all.map((mb) => ({ name: mb.name, mb })), ...[...virtual].map((name) => ({ name, mb: null }))];
  entries.sort((a, b) => (a.name === 'INBOX' ? -1 : b.name === 'INBOX' ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const lines: string[] = [];
  for (const { name, mb } of entries) {
    if (!matches(name, res)) continue;
    if (opts.lsub && !mb?.subscribed) {
      // RFC 3501 §6.3.9: a level that is not subscribed but has subscribed mailboxes below it,
      // none of which the pattern reaches ("%"), is listed with \Noselect.
      const below = all.filter((m) => m.subscribed && m.name.startsWith(name + '/'));
      if (below.length > 0 && !below.some((m) => matches(m.name, res))) lines.push(`* LSUB (\\Noselect) "/" ${s.mailboxName(name)}\r\n`);
      continue;
    }
    if (!mb) {
      if (opts.lsub || opts.subscribedOnly || opts.specialOnly) continue;
      lines.push(`* LIST (\\Noselect \\HasChildren) "/" ${s.mailboxName(name)}\r\n`);
      continue;
    }
    if (opts.specialOnly && !mb.specialUse) continue;
    const childInfo = opts.recursive && opts.subscribedOnly && !mb.subscribed && subscribedChild(mb.name);
    if (opts.subscribedOnly && !mb.subscribed && !childInfo) continue;
    const attrs: string[] = opts.lsub ? [] : baseAttrs(all, mb);
    if ((opts.returnSubscribed || opts.subscribedOnly) && mb.subscribed && !opts.lsub) attrs.splice(1, 0, '\\Subscribed');
    const ext = childInfo ? ' ("CHILDINFO" ("SUBSCRIBED"))' : '';
    lines.push(`* ${opts.lsub ? 'LSUB' : 'LIST'} (${attrs.join(' ')}) "/" ${s.mailboxName(mb.name)}${ext}\r\n`);
    if (opts.status) {
      await s.writeMany(lines.splice(0));
      await s.untagged(await statusLine(s, mb, opts.status));
    }
  }
  await s.writeMany(lines);
}

export const listCommand: CommandSpec<'LIST'> = {
  states: AUTH,
  caps: () => ['SPECIAL-USE', 'LIST-EXTENDED', 'LIST-STATUS'],
  async run(s, cmd) {
    const sel = cmd.selection;
    // Return options (SUBSCRIBED, CHILDREN, SPECIAL-USE, STATUS) apply whatever the selection
    // options (RFC 5258 §3, RFC 5819 §2, RFC 6154 §3); CHILDREN and SPECIAL-USE are always sent.
    await list(
      s,
      cmd.reference.name,
      cmd.patterns.map((p) => p.pattern),
      {
        subscribedOnly: sel.subscribed,
        specialOnly: sel.specialUse,
        returnSubscribed: cmd.returnOptions.subscribed,
        status: cmd.returnOptions.status,
        lsub: false,
        recursive: sel.recursiveMatch,
        extended: cmd.extended,
      },
    );
    return ok();
  },
};

export const lsubCommand: CommandSpec<'LSUB'> = {
  states: AUTH,
  async run(s, cmd) {
    await list(s, cmd.reference.name, [cmd.pattern.pattern], {
      subscribedOnly: true,
      specialOnly: false,
      returnSubscribed: false,
      status: null,
      lsub: true,
      recursive: false,
      extended: false,
    });
    return ok();
  },
};
