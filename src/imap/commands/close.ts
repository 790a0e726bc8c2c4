/** CHECK, CLOSE (expunges silently), UNSELECT (RFC 3691). */
import { bi } from '../../lib/errors.js';
import { ok } from '../state.js';
import { SELECTED, type CommandSpec } from './spec.js';

export const checkCommand: CommandSpec<'CHECK'> = {
  states: SELECTED,
  async run(s) {
    s.sel().view.dirty = true;
    return ok(bi('Xong', 'CHECK completed'));
  },
};

export const closeCommand: CommandSpec<'CLOSE'> = {
  states: SELECTED,
  async run(s) {
    const { mailbox, view } = s.sel();
    s.unselect();
    // RFC 9051 §6.4.1: no untagged EXPUNGE responses for CLOSE.
    if (!view.readOnly) await s.deps.store.expunge(mailbox.id, undefined, { origin: s.id });
    return ok(bi('Đã đóng hộp thư', 'CLOSE completed'));
  },
};

export const unselectCommand: CommandSpec<'UNSELECT'> = {
  states: SELECTED,
  caps: () => ['UNSELECT'],
  async run(s) {
    s.unselect();
    return ok(bi('Đã bỏ chọn hộp thư', 'UNSELECT completed'));
  },
};
