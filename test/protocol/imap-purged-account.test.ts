/**
 * An IMAP session of an account whose deletion purged its mail (`account delete --purge`): the
 * session with the INBOX selected gets BYE at once; one with nothing selected, until its next
 * sign-in check, cannot make a mailbox and so cannot store mail again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { superActor } from '../../src/accounts/service.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { createUser, deliver, LineClient, message } from './imap-helpers.js';

let app: TestApp;
beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => {
  await app?.stop();
});

describe('a purged account', () => {
  it('its open sessions can store nothing: BYE for the selected mailbox, NO to CREATE', async () => {
    const u = await createUser(app, 'longnv');
    await deliver(app, u, message({ subject: 'truoc khi xoa' }));
    const idle = await LineClient.connect(app.port('imap'));
    await idle.login('longnv');
    const selected = await LineClient.connect(app.port('imap'));
    await selected.login('longnv');
    await selected.cmd('S1', 'SELECT INBOX');

    await app.accounts.delete('longnv@example.gov.vn', 'nghỉ hưu', superActor('test'), null, { purge: true });
    expect(await app.store.listMailboxes(u.id)).toEqual([]);

    await selected.waitFor((b) => b.includes('* BYE'));
    const created = await idle.cmd('C1', 'CREATE Kept');
    expect(created.at(-1)).toMatch(/^C1 NO /);
    expect(created.at(-1)).toMatch(/đã bị xóa \/ The account longnv@example\.gov\.vn is deleted/);
    expect(await app.store.listMailboxes(u.id)).toEqual([]);
    idle.close();
    selected.close();
  });
});
