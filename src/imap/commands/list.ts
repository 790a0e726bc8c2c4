/** LIST (LIST-EXTENDED, SPECIAL-USE, LIST-STATUS) and LSUB. */
import type { Mailbox } from '../../store/port.js';
import type { Session } from '../session.js';
import { ok } from '../state.js';
import { AUTH, type CommandSpec } from './spec.js';
import { statusLine } from './status.js';

/** A LIST pattern as a RegExp: '*' matches anything, '%' anything but the separator. */
export function patternRegExp(pattern: string): RegExp {
  let re = '';
  for (const ch of pattern) {
    if (ch === '*') re += '.*';
    else if (ch === '%') re += '[^/]*';
    else re += ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  // INBOX is case-insensitive (RFC 9051 §5.1).
  return new RegExp(`^${re}$`, 'su');
}

function matches(name: string, res: RegExp[]): boolean {
  return res.some((r) => r.test(name));
}

function inboxFold(p: string): string {
  return /^inbox(\/|$)/i.test(p) ? 'INBOX' + p.slice(5) : p;
}

async function list(
  s: Session,
  reference: string,
  patterns: readonly string[],
  opts: { subscribedOnly: boolean; returnSubscribed: boolean; status: Parameters<typeof statusLine>[2] | null; lsub: boolean; recursive: boolean },
): Promise<void> {
  if (patterns.length === 1 && patterns[0] === '') {
    await s.untagged(`${opts.lsub ? 'LSUB' : 'LIST'} (\\Noselect) "/" ""`);
    return;
  }
  const all = await s.deps.store.listMailboxes(s.acct().id);
  const res = patterns.map((p) => patternRegExp(inboxFold(reference + p)));
  const hasChildren = (name: string): boolean => all.some((m) => m.name.startsWith(name + '/'));
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
    if (!mb) {
      if (opts.lsub || opts.subscribedOnly) continue;
      lines.push(`* LIST (\\Noselect \\HasChildren) "/" ${s.mailboxName(name)}\r\n`);
      continue;
    }
    const childInfo = opts.recursive && opts.subscribedOnly && !mb.subscribed && subscribedChild(mb.name);
    if (opts.subscribedOnly && !mb.subscribed && !childInfo) continue;
    const attrs: string[] = [];
    if (!opts.lsub) attrs.push(hasChildren(mb.name) ? '\\HasChildren' : '\\HasNoChildren');
    if ((opts.returnSubscribed || opts.subscribedOnly) && mb.subscribed && !opts.lsub) attrs.push('\\Subscribed');
    if (mb.specialUse && !opts.lsub) attrs.push(mb.specialUse);
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
    const specialOnly = sel.specialUse;
    if (specialOnly) {
      // LIST (SPECIAL-USE): only mailboxes with a special-use attribute.
      const all = await s.deps.store.listMailboxes(s.acct().id);
      const res = cmd.patterns.map((p) => patternRegExp(inboxFold(cmd.reference.name + p.pattern)));
      const lines: string[] = [];
      for (const mb of all) {
        if (!mb.specialUse || !matches(mb.name, res)) continue;
        const kids = all.some((m) => m.name.startsWith(mb.name + '/'));
        lines.push(`* LIST (${kids ? '\\HasChildren' : '\\HasNoChildren'} ${mb.specialUse}) "/" ${s.mailboxName(mb.name)}\r\n`);
      }
      await s.writeMany(lines);
      return ok();
    }
    await list(
      s,
      cmd.reference.name,
      cmd.patterns.map((p) => p.pattern),
      {
        subscribedOnly: sel.subscribed,
        returnSubscribed: cmd.returnOptions.subscribed,
        status: cmd.returnOptions.status,
        lsub: false,
        recursive: sel.recursiveMatch,
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
      returnSubscribed: false,
      status: null,
      lsub: true,
      recursive: false,
    });
    return ok();
  },
};
