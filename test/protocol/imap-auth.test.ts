/** Sign-in over IMAP: STARTTLS, implicit TLS, LOGINDISABLED, SASL PLAIN (SASL-IR), refusals with response codes. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeSaslPlain } from '../../src/auth/sasl.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { keptLog } from '../helpers/kept-log.js';
import { createUser, LineClient, PASSWORD } from './imap-helpers.js';

describe('IMAP sign-in', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp({ security: { authFailureDelayMs: 0, authFailureMaxDelayMs: 0 } });
    await createUser(app, 'longnv');
    const suspended = await createUser(app, 'tamkhoa');
    await app.store.updateAccount(suspended.id, { state: 'suspended' }, null);
    const fresh = await createUser(app, 'moitao');
    await app.store.updateAccount(fresh.id, { mustChangePassword: true }, null);
  });
  afterAll(async () => app?.stop());

  it('STARTTLS upgrades, drops STARTTLS from the capabilities, and never runs pipelined plaintext commands', async () => {
    const c = await LineClient.connect(app.port('imap'));
    expect(c.greeting).toContain('STARTTLS');
    // A command injected after STARTTLS in the same packet must be thrown away.
    c.write('t1 STARTTLS\r\nt2 CAPABILITY\r\n');
    const r = await c.until('t1');
    expect(r.at(-1)).toMatch(/^t1 OK/);
    await c.startTls();
    const cap = await c.cmd('t3', 'CAPABILITY');
    expect(cap.join('\n')).not.toContain('t2 ');
    expect(cap[0]).not.toContain('STARTTLS');
    await c.login('longnv');
    c.close();
  });

  it('implicit TLS on imaps', async () => {
    const c = await LineClient.connect(app.port('imaps'), true);
    expect(c.greeting).not.toContain('STARTTLS');
    await c.login('longnv@example.gov.vn');
    c.close();
  });

  it('AUTHENTICATE PLAIN with an initial response (SASL-IR) and with a continuation', async () => {
    const c = await LineClient.connect(app.port('imap'));
    expect(c.greeting).toContain('AUTH=PLAIN');
    expect(c.greeting).toContain('SASL-IR');
    const r = await c.cmd('p1', `AUTHENTICATE PLAIN ${encodeSaslPlain('longnv', PASSWORD)}`);
    expect(r.at(-1)).toMatch(/^p1 OK \[CAPABILITY .*IDLE/);
    c.close();
    const d = await LineClient.connect(app.port('imap'));
    d.write('p2 AUTHENTICATE PLAIN\r\n');
    await d.waitFor((b) => b.startsWith('+'));
    d.take();
    d.write(`${encodeSaslPlain('longnv', PASSWORD)}\r\n`);
    const r2 = await d.until('p2');
    expect(r2.at(-1)).toMatch(/^p2 OK/);
    d.close();
  });

  it('refuses with AUTHENTICATIONFAILED, CONTACTADMIN and EXPIRED (CONTRACT.md)', async () => {
    const c = await LineClient.connect(app.port('imap'));
    const bad = await c.cmd('x1', 'LOGIN longnv "wrong-Password1!"');
    expect(bad.at(-1)).toMatch(/^x1 NO \[AUTHENTICATIONFAILED\]/);
    const susp = await c.cmd('x2', `LOGIN tamkhoa "${PASSWORD}"`);
    expect(susp.at(-1)).toMatch(/^x2 NO \[CONTACTADMIN\]/);
    const exp = await c.cmd('x3', `LOGIN moitao "${PASSWORD}"`);
    expect(exp.at(-1)).toMatch(/^x3 NO \[EXPIRED\] .*http/);
    c.close();
  });

  it('commands that need sign-in are refused before it, and nothing but LOGIN works pre-auth', async () => {
    const c = await LineClient.connect(app.port('imap'));
    const r = await c.cmd('n1', 'SELECT INBOX');
    expect(r.at(-1)).toMatch(/^n1 (BAD|NO)/);
    // A big literal before sign-in is refused before any "+" (SECURITY-NOTES).
    c.write('n2 LOGIN {100000}\r\n');
    const lit = await c.until('n2');
    expect(lit.join('\n')).not.toMatch(/^\+/m);
    c.close();
  });
});

describe('IMAP with plaintext sign-in disabled', () => {
  let app: TestApp;
  const kept = keptLog();
  beforeAll(async () => {
    app = await startApp({ security: { allowPlaintextAuth: 'never' } }, { log: kept.log });
    await createUser(app, 'longnv');
  });
  afterAll(async () => app?.stop());

  it('advertises LOGINDISABLED and refuses LOGIN until STARTTLS', async () => {
    const c = await LineClient.connect(app.port('imap'));
    expect(c.greeting).toContain('LOGINDISABLED');
    expect(c.greeting).not.toContain('AUTH=PLAIN');
    const r = await c.cmd('a', `LOGIN longnv "${PASSWORD}"`);
    expect(r.at(-1)).toMatch(/^a NO \[PRIVACYREQUIRED\]/);
    // The refusal is logged (every rejection is), without the password.
    expect(kept.lines.filter((l) => l.msg === 'imap sign-in refused' && l.reason === 'plaintext sign-in without TLS')).toHaveLength(1);
    expect(JSON.stringify(kept.lines)).not.toContain(PASSWORD);
    await c.cmd('b', 'STARTTLS');
    await c.startTls();
    const cap = await c.cmd('c', 'CAPABILITY');
    expect(cap[0]).not.toContain('LOGINDISABLED');
    await c.login('longnv');
    c.close();
  });
});

describe('IMAP connection limits', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp({ security: { maxConnectionsPerAccount: 2 } });
    await createUser(app, 'longnv');
  });
  afterAll(async () => app?.stop());

  it('refuses a sign-in over security.maxConnectionsPerAccount with NO [LIMIT], and frees the slot on logout', async () => {
    const a = await LineClient.connect(app.port('imap'));
    const b = await LineClient.connect(app.port('imap'));
    const c = await LineClient.connect(app.port('imap'));
    await a.login('longnv');
    await b.login('longnv');
    const r = await c.cmd('x', `LOGIN longnv "${PASSWORD}"`);
    expect(r.at(-1)).toMatch(/^x NO \[LIMIT\]/);
    await a.cmd('o', 'LOGOUT');
    await a.waitFor(() => a.closed).catch(() => undefined);
    const r2 = await c.cmd('y', `LOGIN longnv "${PASSWORD}"`);
    expect(r2.at(-1)).toMatch(/^y OK/);
    b.close();
    c.close();
  });
});
