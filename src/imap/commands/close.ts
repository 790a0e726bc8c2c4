/** CHECK, CLOSE (expunges silently), UNSELECT (RFC 3691). */
import { bi, isMailError } from '../../lib/errors.js';
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
    // RFC 9051 §6.4.1: no untagged EXPUNGE responses for CLOSE. A mailbox deleted elsewhere
    // (view.gone, or found gone by the store now) has nothing left to expunge: CLOSE just leaves it.
    if (!view.readOnly && !view.gone) {
      try {
        await s.deps.store.expunge(mailbox.id, undefined, { origin: s.id });
      } catch (e) {
        if (!isMailError(e, 'NOT_FOUND')) throw e;
      }
    }
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
