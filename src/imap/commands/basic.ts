/** CAPABILITY, NOOP, LOGOUT, ID: valid in every state. */
import { bi } from '../../lib/errors.js';
import { nstr } from '../format.js';
import { ok } from '../state.js';
import { capabilities } from './registry.js';
import { ANY, type CommandSpec } from './spec.js';

export const capabilityCommand: CommandSpec<'CAPABILITY'> = {
  states: ANY,
  async run(s) {
    await s.untagged(`CAPABILITY ${capabilities(s).join(' ')}`);
    return ok();
  },
};

export const noopCommand: CommandSpec<'NOOP'> = {
  states: ANY,
  async run(s) {
    // Pull changes made by other processes too (the hub only watches this one).
    if (s.selected) s.selected.view.dirty = true;
    return ok(bi('Xong', 'NOOP completed'));
  },
};

export const logoutCommand: CommandSpec<'LOGOUT'> = {
  states: ANY,
  async run(s) {
    s.state = 'logout';
    await s.untagged(`BYE ${bi('Tạm biệt', 'Logging out')}`);
    return { kind: 'ok', text: bi('Đã đăng xuất', 'LOGOUT completed'), then: 'close' };
  },
};

export const idCommand: CommandSpec<'ID'> = {
  states: ANY,
  caps: () => ['ID'],
  async run(s, cmd) {
    if (cmd.params) {
      const client = Object.fromEntries(cmd.params.slice(0, 30).map(([k, v]) => [k.slice(0, 64), (v ?? '').slice(0, 256)]));
      s.deps.log.debug({ session: s.id, client }, 'imap client id');
    }
    await s.untagged(`ID ("name" "buudien" "vendor" ${nstr(s.deps.config.organization.name)} "support-url" ${nstr(s.deps.config.passwords.changeUrl)})`);
    return ok();
  },
};
