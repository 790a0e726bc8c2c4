/** LIST (LIST-EXTENDED, SPECIAL-USE, LIST-STATUS) and LSUB. */
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
  const sorted = [...all].sort((a, b) => (a.name === 'INBOX' ? -1 : b.name === 'INBOX' ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const lines: string[] = [];
  for (const mb of sorted) {
    if (!matches(mb.name, res)) continue;
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
