/**
 * `account delete --purge`: an administrator's deletion can remove the mail at once (NB Đ7.1,
 * "removed completely"), also for an account deleted earlier without it; without --purge the
 * mail stays and the output says so.
 */
import { describe, expect, it } from 'vitest';
import { messagesIn, storeParsed } from '../helpers/messages.js';
import { cli, ok, tempSetupPerTest, userError, withStore } from './run.js';

const setup = tempSetupPerTest();
const MAIL = 'From: <a@other.example>\r\nTo: <longnv@nghean.gov.vn>\r\nSubject: Cong van\r\n\r\nNoi dung.\r\n';

async function accountWithMail(config: string): Promise<number> {
  ok(await cli(['org', 'add', '--name', 'Sở Tài chính', '--config', config]));
  ok(await cli(['account', 'add', '--name', 'Nguyễn Văn Long', '--org', 'stc', '--config', config]));
  return withStore(config, async (store) => {
    const a = await store.getAccountByAddress('longnv@nghean.gov.vn');
    if (!a) throw new Error('no account');
    await storeParsed(store, a.id, MAIL);
    await storeParsed(store, a.id, MAIL);
    expect(await messagesIn(store, a.id)).toHaveLength(2);
    return a.id;
  });
}

describe('account delete --purge', () => {
  it('deletes the account and its mail in one step, audited as account.purge', async () => {
    const config = setup();
    const id = await accountWithMail(config);
    const r = ok(await cli(['account', 'delete', 'longnv', '--purge', '--reason', 'nghỉ hưu', '--ref', 'CV-12', '--config', config]));
    expect(r.stdout).toMatch(/^Đã xóa tài khoản và toàn bộ thư \/ deleted, with all its mail: longnv@nghean.gov.vn$/m);
    await withStore(config, async (store) => {
      expect((await store.getAccount(id))?.state).toBe('deleted');
      expect(await store.listMailboxes(id)).toEqual([]);
      expect(await messagesIn(store, id)).toEqual([]);
      const audit = await store.listAudit({ target: 'longnv@nghean.gov.vn' });
      expect(audit.find((e) => e.action === 'account.purge')).toMatchObject({ ref: 'CV-12' });
      expect(audit.find((e) => e.action === 'account.delete')).toMatchObject({ ref: 'CV-12' });
    });
  });

  it('without --purge keeps the mail and says how to remove it; --purge later removes it; a second purge is refused', async () => {
    const config = setup();
    const id = await accountWithMail(config);
    const r = ok(await cli(['account', 'delete', 'longnv', '--config', config]));
    expect(r.stdout).toMatch(/thư vẫn giữ.*--purge/);
    await withStore(config, async (store) => expect(await messagesIn(store, id)).toHaveLength(2));
    userError(await cli(['account', 'delete', 'longnv', '--config', config]), /already deleted/);
    ok(await cli(['account', 'delete', 'longnv', '--purge', '--config', config]));
    await withStore(config, async (store) => {
      expect(await messagesIn(store, id)).toEqual([]);
      expect((await store.listAudit({ target: 'longnv@nghean.gov.vn' })).filter((e) => e.action === 'account.delete')).toHaveLength(1);
    });
    userError(await cli(['account', 'delete', 'longnv', '--purge', '--config', config]), /already purged/);
  });

  it('the last system administrator is neither deleted nor purged', async () => {
    const config = setup();
    await accountWithMail(config);
    userError(await cli(['account', 'delete', 'admin', '--purge', '--config', config]), /administrator/);
    await withStore(config, async (store) => {
      const admin = await store.getAccountByAddress('admin@nghean.gov.vn');
      expect(admin?.state).toBe('active');
      expect((await store.listMailboxes(admin?.id ?? 0)).length).toBeGreaterThan(0);
    });
  });
});
