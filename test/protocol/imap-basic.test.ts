import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import { createUser, deliver, LineClient, message } from './imap-helpers.js';

describe('IMAP transcript basics', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp();
    const user = await createUser(app, 'longnv');
    await deliver(app, user, message({ subject: 'Báo cáo tháng 11' }));
    await deliver(app, user, message({ subject: 'Second' }), 'INBOX', ['\\Seen']);
  });
  afterAll(async () => app?.stop());

  it('greets with capabilities, signs in, selects, fetches', async () => {
    const c = await LineClient.connect(app.port('imap'));
    const cap = await c.cmd('a1', 'CAPABILITY');
    expect(cap[0]).toMatch(/^\* CAPABILITY IMAP4rev1 .*STARTTLS/);
    await c.login('longnv');
    const sel = await c.cmd('a2', 'SELECT INBOX');
    expect(sel).toContain('* 2 EXISTS');
    expect(sel).toContain('* 2 RECENT'); // the first session to select them
    expect(sel.at(-1)).toMatch(/^a2 OK \[READ-WRITE\]/);
    const f = await c.cmd('a3', 'FETCH 1:* (UID FLAGS RFC822.SIZE)');
    expect(f[0]).toMatch(/^\* 1 FETCH \(UID 1 FLAGS \(\\Recent\) RFC822.SIZE \d+\)$/);
    expect(f[1]).toMatch(/^\* 2 FETCH \(UID 2 FLAGS \(\\Seen \\Recent\)/);
    const logout = await c.cmd('a4', 'LOGOUT');
    expect(logout[0]).toMatch(/^\* BYE/);
  });
});
