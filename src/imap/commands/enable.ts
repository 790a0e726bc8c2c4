/** ENABLE (RFC 5161): CONDSTORE, QRESYNC (implies CONDSTORE), UTF8=ACCEPT, IMAP4rev2. */
import { ok } from '../state.js';
import { AUTH, type CommandSpec } from './spec.js';

const KNOWN = new Set(['CONDSTORE', 'QRESYNC', 'UTF8=ACCEPT', 'IMAP4REV2']);

export const enableCommand: CommandSpec<'ENABLE'> = {
  states: AUTH,
  caps: () => ['ENABLE', 'CONDSTORE', 'QRESYNC', 'UTF8=ACCEPT'],
  async run(s, cmd) {
    const now: string[] = [];
    for (const c of cmd.capabilities) {
      if (!KNOWN.has(c) || s.enabled.has(c)) continue;
      s.enabled.add(c);
      now.push(c === 'IMAP4REV2' ? 'IMAP4rev2' : c);
      if (c === 'QRESYNC' && !s.enabled.has('CONDSTORE')) s.enabled.add('CONDSTORE');
      // IMAP4rev2 has no \Recent (RFC 9051 appendix E): stop showing what this selection claimed.
      if (c === 'IMAP4REV2') s.selected?.view.clearRecent();
    }
    if (s.enabled.has('CONDSTORE')) s.condstore = true;
    await s.untagged(`ENABLED${now.length ? ' ' + now.join(' ') : ''}`);
    return ok();
  },
};
