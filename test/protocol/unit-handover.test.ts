/**
 * R-ACC-6 through the real protocols: a clerk opens the unit mailbox it is delegated to with its
 * own credentials — IMAP LOGIN and POP3 USER as "UNIT*CLERK", IMAP AUTHENTICATE PLAIN and SMTP
 * AUTH PLAIN with the unit mailbox as authorization identity (RFC 4616 §2) — and a handover
 * passes that access to the next clerk without a password changing hands: the old clerk's open
 * session ends, its sign-ins and the unit mailbox's old password stop working, and both
 * histories say who opened what (R-AUTH-5). Clients: imapflow, Python's poplib, nodemailer.
 */
import { execFile } from 'node:child_process';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { superActor } from '../../src/accounts/service.js';
import { createAppPassword } from '../../src/auth/app-passwords.js';
import { encodeSaslPlain } from '../../src/auth/sasl.js';
import type { Account } from '../../src/store/port.js';
import { createTestAccount, PASSWORD } from '../helpers/accounts.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { deliver, Pop3Client, simpleMessage } from '../helpers/pop3-fixtures.js';
import { imapSignsIn, LineClient } from './imap-helpers.js';

const root = superActor('cli:test');
const audit = { actor: 'test', action: 'setup', target: 'x' };
let app: TestApp;
let unit: Account;
let vanlt: Account;
let hoa: Account;
let local: string;

beforeAll(async () => {
  app = await startApp({ imap: { signInCheckMs: 50 }, pop3: { signInCheckMs: 50 } });
  const u = await app.accounts.addUnit({ name: 'Văn phòng Sở' }, root);
  local = u.address;
  unit = await createTestAccount(app.store, `${local}@example.gov.vn`, { kind: 'unit', unitId: u.id });
  vanlt = await createTestAccount(app.store, 'vanlt@example.gov.vn', { unitId: u.id });
  await createTestAccount(app.store, 'thutt@example.gov.vn', { unitId: u.id });
  hoa = await createTestAccount(app.store, 'hoa@example.gov.vn', { unitId: u.id });
  await app.accounts.delegate(local, 'vanlt', root);
  await deliver(app.store, unit, simpleMessage('Cong van den so 12', 'Noi dung\r\n', 'so@example.gov.vn', `${local}@example.gov.vn`));
});
afterAll(async () => app?.stop());

function imap(auth: { user: string; pass: string; authzid?: string }): ImapFlow {
  const client = new ImapFlow({
    host: '127.0.0.1',
    port: app.port('imap'),
    secure: false,
    auth: auth.authzid ? { ...auth, loginMethod: 'AUTH=PLAIN' } : auth,
    logger: false,
    tls: { rejectUnauthorized: false },
  });
  client.on('error', () => undefined);
  return client;
}

/** The subjects in the INBOX the sign-in opened. */
async function inboxSubjects(client: ImapFlow): Promise<string[]> {
  await client.connect();
  const lock = await client.getMailboxLock('INBOX');
  const subjects: string[] = [];
  try {
    for await (const m of client.fetch('1:*', { envelope: true })) subjects.push(m.envelope?.subject ?? '');
  } finally {
    lock.release();
  }
  await client.logout();
  return subjects;
}

/** poplib: USER/PASS, then STAT; prints the replies (a child process: the server runs in this one). */
function poplib(user: string, pass: string): Promise<string> {
  const py = `
import poplib, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=20)
p.user(sys.argv[2])
try:
    print("pass:" + p.pass_(sys.argv[3]).decode())
    print("stat:%d %d" % p.stat())
    p.quit()
except poplib.error_proto as e:
    print("error:" + e.args[0].decode())
`;
  return new Promise((resolve, reject) =>
    execFile('python3', ['-c', py, String(app.port('pop3')), user, pass], { encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`poplib: ${err.message} ${stderr}`)) : resolve(stdout),
    ),
  );
}

describe('a delegate opens the unit mailbox with its own credentials (R-ACC-6)', () => {
  it('IMAP LOGIN as UNIT*CLERK and AUTHENTICATE PLAIN with the unit as authzid: the unit INBOX, not the clerk’s', async () => {
    expect(await inboxSubjects(imap({ user: `${local}*vanlt`, pass: PASSWORD }))).toEqual(['Cong van den so 12']);
    expect(await inboxSubjects(imap({ user: 'vanlt@example.gov.vn', pass: PASSWORD, authzid: `${local}@example.gov.vn` }))).toEqual(['Cong van den so 12']);
    // The clerk's own sign-in still opens its own (empty) mailbox.
    expect(await inboxSubjects(imap({ user: 'vanlt', pass: PASSWORD }))).toEqual([]);
  });

  it('POP3 USER UNIT*CLERK (poplib) and AUTH PLAIN with authzid open the unit maildrop', async () => {
    const out = await poplib(`${local}@example.gov.vn*vanlt@example.gov.vn`, PASSWORD);
    expect(out).toMatch(new RegExp(`^pass:\\+OK ${local}@example\\.gov\\.vn .* / ${local}@example\\.gov\\.vn has 1 message `, 'm'));
    expect(out).toMatch(/^stat:1 \d+$/m);
    const c = await Pop3Client.open(app.port('pop3'));
    await c.line();
    expect(await c.cmd(`AUTH PLAIN ${encodeSaslPlain('vanlt', PASSWORD, local)}`)).toMatch(new RegExp(`^\\+OK ${local}@example\\.gov\\.vn .* / ${local}@example\\.gov\\.vn has 1 message `));
    await c.cmd('QUIT');
  });

  it('SMTP AUTH as UNIT*CLERK (nodemailer) sends as the unit mailbox; the send log names the clerk', async () => {
    const t = nodemailer.createTransport({
      host: '127.0.0.1',
      port: app.port('submission'),
      requireTLS: true,
      tls: { rejectUnauthorized: false },
      auth: { user: `${local}*vanlt`, pass: PASSWORD },
    });
    const info = await t.sendMail({ from: `${local}@example.gov.vn`, to: 'hoa@example.gov.vn', subject: 'Tra loi', text: 'Da nhan' });
    expect(info.accepted).toEqual(['hoa@example.gov.vn']);
    const log = await app.store.searchSendLog({ sender: `${local}@example.gov.vn` });
    expect(log[0]).toMatchObject({ direction: 'submission', account: 'vanlt@example.gov.vn', recipient: 'hoa@example.gov.vn' });
  });

  it('an account that is not a delegate is refused as such, over each protocol; a wrong password stays a wrong password', async () => {
    const byName = await imapSignsIn(app, `${local}*hoa`, PASSWORD);
    expect(byName.ok).toBe(false);
    expect(byName.text).toMatch(/not delegated to open this mailbox/);
    const raw = await LineClient.connect(app.port('imap'));
    expect((await raw.cmd('a1', `AUTHENTICATE PLAIN ${encodeSaslPlain('hoa', PASSWORD, local)}`)).at(-1)).toMatch(/^a1 NO \[AUTHORIZATIONFAILED\] .+ \/ Your account is not delegated/);
    // A wrong password says nothing about delegations.
    expect((await raw.cmd('a2', `AUTHENTICATE PLAIN ${encodeSaslPlain('vanlt', 'Sai-mat-khau#1', local)}`)).at(-1)).toMatch(/^a2 NO \[AUTHENTICATIONFAILED\] .+ \/ Wrong user name or password/);
    raw.close();
    expect(await poplib(`${local}*hoa`, PASSWORD)).toMatch(/^error:-ERR \[AUTH\] .+ \/ Your account is not delegated/m);
    const t = nodemailer.createTransport({ host: '127.0.0.1', port: app.port('submission'), requireTLS: true, tls: { rejectUnauthorized: false }, auth: { user: `${local}*hoa`, pass: PASSWORD } });
    await expect(t.sendMail({ from: `${local}@example.gov.vn`, to: 'vanlt@example.gov.vn', text: 'x' })).rejects.toMatchObject({ responseCode: 535 });
    // Not even the unit mailbox's own account: a mailbox is opened only by a delegate of it.
    expect((await imapSignsIn(app, `hoa*${local}`, PASSWORD)).ok).toBe(false);
  });

  it('a delegate with two-factor sign-in opens the unit mailbox with its app password, not its main password', async () => {
    const a = await createTestAccount(app.store, 'haiplop@example.gov.vn');
    await app.store.updateAccount(a.id, { totpSecret: 'JBSWY3DPEHPK3PXP' }, audit);
    await app.store.addDelegation(unit.id, a.id, audit);
    const main = await imapSignsIn(app, `${local}*haiplop`, PASSWORD);
    expect(main.ok).toBe(false);
    expect(main.text).toMatch(/app password/);
    const { secret } = await createAppPassword(app.store, a.id, 'Thunderbird', { audit: () => audit });
    expect(await inboxSubjects(imap({ user: `${local}*haiplop`, pass: secret }))).toEqual(['Cong van den so 12']);
    await app.store.removeDelegation(unit.id, a.id, audit);
  });

  it('a POP3 session opened as a delegate ends once the delegation is removed, deleting nothing', async () => {
    const a = await createTestAccount(app.store, 'taman@example.gov.vn');
    await app.store.addDelegation(unit.id, a.id, audit);
    const inbox = await app.store.getMailbox(unit.id, 'INBOX');
    const before = (await app.store.listMessages(inbox!.id)).length;
    const c = await Pop3Client.open(app.port('pop3'));
    await c.line();
    expect(await c.login(`${local}*taman`, PASSWORD)).toMatch(new RegExp(`^\\+OK ${local}@example\\.gov\\.vn `));
    expect(await c.cmd('DELE 1')).toMatch(/^\+OK/);
    await app.store.removeDelegation(unit.id, a.id, audit);
    // QUIT always checks the sign-in before it deletes.
    expect(await c.cmd('QUIT')).toMatch(/^-ERR \[AUTH\] .* \/ Your sign-in no longer holds/);
    await c.waitClosed();
    expect((await app.store.listMessages(inbox!.id)).length).toBe(before);
  });

  it('a suspended unit mailbox is not opened by its delegate (it still receives, R-ACC-3)', async () => {
    await app.store.updateAccount(unit.id, { state: 'suspended', stateReason: 'test' }, audit);
    try {
      const r = await imapSignsIn(app, `${local}*vanlt`, PASSWORD);
      expect(r.ok).toBe(false);
      expect(r.text).toMatch(/The unit mailbox is suspended/);
    } finally {
      await app.store.updateAccount(unit.id, { state: 'active', stateReason: null }, audit);
    }
  });

  it('both sign-in histories say who opened what (R-AUTH-5)', async () => {
    const unitRows = await app.store.listSignIns(unit.id, { ok: true });
    expect(unitRows.some((r) => r.via === 'vanlt@example.gov.vn' && r.protocol === 'imap')).toBe(true);
    expect(unitRows.some((r) => r.via === 'vanlt@example.gov.vn' && r.protocol === 'pop3')).toBe(true);
    const clerkRows = await app.store.listSignIns(vanlt.id, { ok: true });
    expect(clerkRows.some((r) => r.opened === `${local}@example.gov.vn` && r.protocol === 'imap')).toBe(true);
    // The clerk's own sign-in to its own mailbox opened nothing else.
    expect(clerkRows.some((r) => r.opened === null && r.protocol === 'imap')).toBe(true);
    const refused = await app.store.listSignIns(hoa.id, { ok: false });
    expect(refused.some((r) => r.reason === 'not-delegated')).toBe(true);
    // The security pages show it: the unit mailbox's own history on its delegate's page (nobody
    // signs in to the unit mailbox itself, not even with a password of its own set earlier).
    const post = (username: string) =>
      fetch(`http://127.0.0.1:${app.port('http')}/portal/security`, { method: 'POST', body: new URLSearchParams({ username, password: PASSWORD, action: 'show' }) });
    const page = async (username: string): Promise<string> => {
      const res = await post(username);
      expect(res.status).toBe(200);
      return res.text();
    };
    const direct = await post(unit.address);
    expect(direct.status).toBe(401);
    expect(await direct.text()).toContain(`The unit mailbox ${local}@example.gov.vn is not signed in to on the web; sign in with your own account`);
    const own = await page('vanlt');
    expect(own).toContain(`opened the unit mailbox ${local}@example.gov.vn`);
    expect(own.slice(own.indexOf(`Recent sign-ins to the unit mailbox ${local}@example.gov.vn`))).toContain('signed in by the delegate vanlt@example.gov.vn with its own credentials');
    const hoaPage = await page('hoa');
    expect(hoaPage).toContain('không được ủy quyền mở hộp thư đã nêu');
    // The name asked for is shown, escaped.
    expect(hoaPage).toContain(`mailbox: ${local}`);
  });
});

describe('unit mailbox handover', () => {
  it("the old clerk's session ends and its sign-ins stop; the new clerk signs in as itself; no password changes hands", async () => {
    // The old clerk reads the unit mailbox as its delegate.
    const open = await LineClient.connect(app.port('imap'));
    // IMAP quotes a name with a star (RFC 3501 §9: list-wildcards are atom-specials), as clients do.
    await open.login(`"${local}*vanlt"`);
    expect((await open.cmd('s1', 'SELECT INBOX')).join('\n')).toMatch(/\* \d+ EXISTS[\s\S]*s1 OK/);
    // Even someone who knows the unit mailbox's own password (one set before this rule) cannot sign
    // in with it: the answer says how its delegate signs in (R-ACC-6).
    const own = await imapSignsIn(app, unit.address, PASSWORD);
    expect(own.ok).toBe(false);
    expect(own.text).toContain(`Hộp thư đơn vị ${local}@example.gov.vn không đăng nhập bằng mật khẩu riêng`);
    expect(own.text).toContain(`a delegate signs in as "${local}@example.gov.vn*<your user name>" with their own password`);

    const r = await app.accounts.handover(local, 'vanlt', 'thutt', root, 'QĐ-9');
    expect(r.signInName).toBe(`${local}@example.gov.vn*thutt@example.gov.vn`);
    // The open delegated session ends at its next sign-in check.
    await new Promise((res) => setTimeout(res, 200));
    open.write('s2 NOOP\r\n');
    expect(await open.waitFor((b) => b.includes('* BYE'))).toMatch(/\* BYE .* \/ Your sign-in no longer holds/);
    open.close();
    // New sign-ins of the old clerk, and with the unit's old password, are refused.
    expect((await imapSignsIn(app, `${local}*vanlt`, PASSWORD)).text).toMatch(/not delegated/);
    expect((await imapSignsIn(app, unit.address, PASSWORD)).ok).toBe(false);
    // The new clerk opens it with its own password, by the name the handover printed (the
    // mailbox also holds the notice of its password reset by now).
    expect(await inboxSubjects(imap({ user: r.signInName, pass: PASSWORD }))).toContain('Cong van den so 12');
    // Nobody knows the unit's password now: its history is on its delegate's security page, the old clerk's sign-ins included.
    const res = await fetch(`http://127.0.0.1:${app.port('http')}/portal/security`, { method: 'POST', body: new URLSearchParams({ username: 'thutt', password: PASSWORD, action: 'show' }) });
    const html = await res.text();
    expect(html).toContain(`Recent sign-ins to the unit mailbox ${local}@example.gov.vn (delegated to you)`);
    const section = html.slice(html.indexOf(`Recent sign-ins to the unit mailbox ${local}@example.gov.vn`));
    expect(section).toContain('signed in by the delegate vanlt@example.gov.vn with its own credentials');
    expect(section).toContain('signed in by the delegate thutt@example.gov.vn with its own credentials');
    // The old clerk no longer sees it.
    const old = await fetch(`http://127.0.0.1:${app.port('http')}/portal/security`, { method: 'POST', body: new URLSearchParams({ username: 'vanlt', password: PASSWORD, action: 'show' }) });
    expect(await old.text()).not.toContain('(delegated to you)');
  });
});
