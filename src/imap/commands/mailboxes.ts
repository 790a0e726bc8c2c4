/** CREATE (auto-subscribed, CREATE-SPECIAL-USE), DELETE, RENAME (children move), SUBSCRIBE, UNSUBSCRIBE. */
import { bi, isMailError } from '../../lib/errors.js';
import type { SpecialUse } from '../../store/port.js';
import { no } from '../errors.js';
import { ok } from '../state.js';
import { AUTH, type CommandSpec } from './spec.js';

/**
 * Mailbox names are database keys, never paths: refuse empty levels and control characters
 * (C0, DEL and C1), and the line and paragraph separators (RFC 6855 §3).
 */
/**
 * A name this server can never hold: NO [CANNOT], not BAD — the command parsed, the name is the
 * problem (RFC 9051 §7.1 answers adjacent hierarchy separators exactly so).
 */
export function checkName(name: string): void {
  if (name.length === 0 || name.length > 512) throw no('CANNOT', 'Tên hộp thư không hợp lệ (rỗng hoặc dài quá 512 ký tự)', 'Invalid mailbox name (empty or longer than 512 characters)');
  if (name.startsWith('/') || name.endsWith('/') || name.includes('//')) {
    throw no('CANNOT', 'Tên hộp thư không được bắt đầu, kết thúc bằng "/" hay có hai "/" liền nhau', 'A mailbox name may not start or end with "/" nor hold two "/" in a row');
  }
  if (/[\x00-\x1f\x7f-\x9f\u2028\u2029*%]/.test(name)) throw no('CANNOT', 'Tên hộp thư chứa ký tự không được phép', 'Mailbox name contains forbidden characters');
}

export const createCommand: CommandSpec<'CREATE'> = {
  states: AUTH,
  caps: () => ['CREATE-SPECIAL-USE'],
  async run(s, cmd) {
    const name = cmd.mailbox.name;
    checkName(name);
    if (name.toUpperCase() === 'INBOX') throw no('ALREADYEXISTS', 'Hộp thư đã tồn tại', 'Mailbox already exists');
    if (cmd.specialUse.length > 1) throw no('USEATTR', 'Chỉ một thuộc tính đặc biệt cho mỗi hộp thư', 'Only one special-use attribute per mailbox');
    const store = s.deps.store;
    const accountId = s.acct().id;
    const existing = await store.listMailboxes(accountId);
    const names = new Set(existing.map((m) => m.name));
    if (names.has(name)) throw no('ALREADYEXISTS', 'Hộp thư đã tồn tại', 'Mailbox already exists');
    const specialUse = (cmd.specialUse[0] ?? null) as SpecialUse | null;
    if (specialUse && existing.some((m) => m.specialUse === specialUse)) {
      throw no('USEATTR', 'Thuộc tính đặc biệt này đã được dùng', 'That special-use attribute is already in use');
    }
    // Superior names are created as needed (RFC 9051 §6.3.4), subscribed like every folder (Outlook).
    const levels = name.split('/');
    for (let i = 1; i < levels.length; i++) {
      const parent = levels.slice(0, i).join('/');
      if (!names.has(parent)) {
        await store.createMailbox(accountId, parent, { subscribed: true });
        names.add(parent);
      }
    }
    await store.createMailbox(accountId, name, { specialUse, subscribed: true });
    return ok(bi('Đã tạo hộp thư', 'CREATE completed'));
  },
};

export const deleteCommand: CommandSpec<'DELETE'> = {
  states: AUTH,
  async run(s, cmd) {
    const name = cmd.mailbox.name;
    if (name === 'INBOX') throw no('CANNOT', 'Không thể xóa INBOX', 'INBOX cannot be deleted');
    const store = s.deps.store;
    const mb = await store.getMailbox(s.acct().id, name);
    if (!mb) throw no('NONEXISTENT', 'Không có hộp thư này', 'No such mailbox');
    if (s.selected?.mailbox.id === mb.id) s.unselect();
    await store.deleteMailbox(s.acct().id, name);
    return ok(bi('Đã xóa hộp thư', 'DELETE completed'));
  },
};

export const renameCommand: CommandSpec<'RENAME'> = {
  states: AUTH,
  async run(s, cmd) {
    const from = cmd.from.name;
    const to = cmd.to.name;
    checkName(to);
    const store = s.deps.store;
    const accountId = s.acct().id;
    const names = new Set((await store.listMailboxes(accountId)).map((m) => m.name));
    checkRename(names, from, to);
    // Superior names are created as needed (RFC 9051 §6.3.6), only once every check has passed;
    // if the store still refuses (another session raced us), the ones created here go again.
    const created: string[] = [];
    try {
      const levels = to.split('/');
      for (let i = 1; i < levels.length; i++) {
        const parent = levels.slice(0, i).join('/');
        if (names.has(parent)) continue;
        try {
          await store.createMailbox(accountId, parent, { subscribed: true });
          created.push(parent);
        } catch (e) {
          if (!isMailError(e, 'ALREADY_EXISTS')) throw e; // created meanwhile by another session: not ours
        }
      }
      await store.renameMailbox(accountId, from, to);
    } catch (e) {
      for (const parent of created.reverse()) await store.deleteMailbox(accountId, parent).catch(() => undefined);
      if (isMailError(e, 'INVALID_INPUT')) throw no('CANNOT', 'Không thể đổi tên hộp thư', 'The mailbox cannot be renamed');
      throw e;
    }
    return ok(bi('Đã đổi tên hộp thư', 'RENAME completed'));
  },
};

/**
 * Every refusal the store's renameMailbox would make, checked before anything changes (a failed
 * command has no effect): source missing, target existing, renaming to INBOX, moving a mailbox
 * into itself, a moved child's new name taken. INBOX itself moves only its messages, not children.
 */
function checkRename(names: ReadonlySet<string>, from: string, to: string): void {
  if (!names.has(from)) throw no('NONEXISTENT', 'Không có hộp thư này', 'No such mailbox');
  if (from === to) throw no('ALREADYEXISTS', 'Hộp thư đích đã tồn tại', 'Target mailbox already exists');
  if (to === 'INBOX') throw no('CANNOT', 'Không thể đổi tên thành INBOX', 'Cannot rename to INBOX');
  if (names.has(to)) throw no('ALREADYEXISTS', 'Hộp thư đích đã tồn tại', 'Target mailbox already exists');
  if (from === 'INBOX') return;
  if (to.startsWith(from + '/')) throw no('CANNOT', 'Không thể chuyển hộp thư vào chính nó', 'Cannot move a mailbox into itself');
  for (const name of names) {
    if (!name.startsWith(from + '/')) continue;
    if (names.has(to + name.slice(from.length))) throw no('ALREADYEXISTS', 'Tên mới của một hộp thư con đã tồn tại', "A child mailbox's new name already exists");
  }
}

export const subscribeCommand: CommandSpec<'SUBSCRIBE'> = {
  states: AUTH,
  async run(s, cmd) {
    const mb = await s.deps.store.getMailbox(s.acct().id, cmd.mailbox.name);
    if (!mb) throw no('NONEXISTENT', 'Không có hộp thư này', 'No such mailbox');
    await s.deps.store.setSubscribed(s.acct().id, mb.name, true);
    return ok(bi('Đã đăng ký', 'SUBSCRIBE completed'));
  },
};

export const unsubscribeCommand: CommandSpec<'UNSUBSCRIBE'> = {
  states: AUTH,
  async run(s, cmd) {
    const mb = await s.deps.store.getMailbox(s.acct().id, cmd.mailbox.name);
    if (mb) await s.deps.store.setSubscribed(s.acct().id, mb.name, false);
    return ok(bi('Đã hủy đăng ký', 'UNSUBSCRIBE completed'));
  },
};
