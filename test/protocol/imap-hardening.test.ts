/**
 * IMAP input the server must refuse or normalise (RFC 9051, RFC 6855, RFC 4959), and the
 * sign-in deadline; over a raw socket to the real server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import { createUser, LineClient } from './imap-helpers.js';

let app: TestApp;
beforeAll(async () => {
  app = await startApp({ imap: { loginTimeoutMs: 1500 } });
  await createUser(app, 'an');
});
afterAll(async () => app.stop());

async function signedIn(): Promise<LineClient> {
  const c = await LineClient.connect(app.port('imap'));
  await c.login('an@example.gov.vn');
  return c;
}

/** APPEND `raw` to INBOX with a synchronising literal; the tagged reply line. */
async function append(c: LineClient, tag: string, raw: Buffer, flags = ''): Promise<string> {
  c.write(`${tag} APPEND INBOX ${flags ? `(${flags}) ` : ''}{${raw.length}}\r\n`);
  await c.waitFor((b) => b.includes('+ '));
  c.take();
  c.write(Buffer.concat([raw, Buffer.from('\r\n')]));
  return (await c.until(tag)).at(-1) ?? '';
}

describe('APPEND of a message with bare LF line ends', () => {
  it('is stored with CRLF: HEADER.FIELDS returns only the field asked for, and sizes count the CRs', async () => {
    const c = await signedIn();
    const raw = Buffer.from('Subject: lf\nFrom: a@b.example\n\nline1\nline2\n');
    expect(await append(c, 'a1', raw)).toMatch(/^a1 OK \[APPENDUID \d+ \d+\]/);
    await c.cmd('s1', 'SELECT INBOX');
    const r = (await c.cmd('f1', 'FETCH * (RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])')).join('\r\n');
    expect(r).toContain(`RFC822.SIZE ${raw.length + 5}`);
    // "Subject: lf" CRLF, then the blank line: 15 bytes (the transcript drops empty lines).
    expect(r).toMatch(/BODY\[HEADER\.FIELDS \(SUBJECT\)\] \{15\}\r\nSubject: lf\r\n/);
    expect(r).not.toContain('From: a@b.example');
    c.close();
  });
});

describe('flags', () => {
  it('a made-up system flag or an 8-bit keyword is BAD, for STORE and APPEND; real ones still work', async () => {
    const c = await signedIn();
    expect(await append(c, 'a1', Buffer.from('Subject: f\r\n\r\nx\r\n'))).toMatch(/^a1 OK/);
    await c.cmd('s1', 'SELECT INBOX');
    expect((await c.cmd('t1', 'STORE 1 +FLAGS (\\Foo)')).at(-1)).toMatch(/^t1 BAD .*\\Foo/);
    c.write(Buffer.concat([Buffer.from('t2 STORE 1 +FLAGS ('), Buffer.from('Việt', 'utf8'), Buffer.from(')\r\n')]));
    expect((await c.until('t2')).at(-1)).toMatch(/^t2 BAD/);
    expect((await c.cmd('t3', 'STORE 1 +FLAGS (\\Flagged $Forwarded)')).join('\n')).toMatch(/FLAGS \(\\Flagged \$Forwarded[^)]*\)[\s\S]*t3 OK/);
    c.write('a2 APPEND INBOX (\\Foo) {5+}\r\nx\r\n\r\n\r\n');
    expect((await c.until('a2')).at(-1)).toMatch(/^a2 BAD/);
    c.close();
  });
});

describe('mailbox names', () => {
  it.each([
    ['a C1 control (U+0085)', 'x&AIU-x'],
    ['the line separator (U+2028)', 'x&ICg-y'],
    ['the paragraph separator (U+2029)', 'x&ICk-y'],
  ])('with %s are refused (RFC 6855 §3)', async (_label, name) => {
    const c = await signedIn();
    expect((await c.cmd('c1', `CREATE "${name}"`)).at(-1)).toMatch(/^c1 NO \[CANNOT\]/);
    expect((await c.cmd('l1', `LIST "" "${name}"`)).some((l) => l.startsWith('* LIST'))).toBe(false);
    c.close();
  });

  it.each([['two slashes in a row', 'a//b'], ['a leading slash', '/a'], ['a wildcard', 'a*b']])(
    'with %s answer NO [CANNOT] on CREATE and RENAME (RFC 9051 §7.1), and the session goes on',
    async (_label, name) => {
      const c = await signedIn();
      expect((await c.cmd('c1', `CREATE "${name}"`)).at(-1)).toMatch(/^c1 NO \[CANNOT\] .+ \/ /);
      expect((await c.cmd('c2', 'CREATE Tam')).at(-1)).toMatch(/^c2 OK/);
      expect((await c.cmd('c3', `RENAME Tam "${name}"`)).at(-1)).toMatch(/^c3 NO \[CANNOT\]/);
      expect((await c.cmd('c4', 'DELETE Tam')).at(-1)).toMatch(/^c4 OK/);
      c.close();
    },
  );

  it('a Vietnamese name is still fine', async () => {
    const c = await signedIn();
    expect((await c.cmd('c1', 'CREATE "C&APQ-ng v&AQM-n"')).at(-1)).toMatch(/^c1 OK/);
    c.close();
  });
});

describe('LSUB with "%" (RFC 3501 §6.3.9)', () => {
  it('lists an unsubscribed parent of a subscribed mailbox with \\Noselect, once, and not for "*"', async () => {
    const c = await signedIn();
    expect((await c.cmd('c1', 'CREATE "Cha/Con"')).at(-1)).toMatch(/^c1 OK/);
    expect((await c.cmd('u1', 'UNSUBSCRIBE "Cha"')).at(-1)).toMatch(/^u1 OK/);
    const pct = (await c.cmd('l1', 'LSUB "" "Ch%"')).filter((l) => l.startsWith('* LSUB'));
    expect(pct).toEqual(['* LSUB (\\Noselect) "/" "Cha"']);
    const star = (await c.cmd('l2', 'LSUB "" "Cha*"')).filter((l) => l.startsWith('* LSUB'));
    expect(star).toEqual(['* LSUB () "/" "Cha/Con"']);
    expect((await c.cmd('s1', 'SUBSCRIBE "Cha"')).at(-1)).toMatch(/^s1 OK/);
    expect((await c.cmd('l3', 'LSUB "" "Ch%"')).filter((l) => l.startsWith('* LSUB'))).toEqual(['* LSUB () "/" "Cha"']);
    c.close();
  });
});

describe('APPEND before sign-in', () => {
  it('is refused BAD, without [TOOBIG] (it is not about size), and no "+" is sent', async () => {
    const c = await LineClient.connect(app.port('imap'));
    c.write('a1 APPEND INBOX {10}\r\n');
    const r = await c.until('a1');
    expect(r.at(-1)).toMatch(/^a1 BAD/);
    expect(r.at(-1)).not.toContain('TOOBIG');
    expect(r.some((l) => l.startsWith('+'))).toBe(false);
    c.close();
  });
});

describe('after ENABLE UTF8=ACCEPT, bytes that are not UTF-8 are BAD (RFC 6855 §3)', () => {
  it('in a mailbox name and in a search string; nothing is created', async () => {
    const c = await signedIn();
    expect((await c.cmd('e1', 'ENABLE UTF8=ACCEPT')).join('\n')).toContain('* ENABLED UTF8=ACCEPT');
    c.write(Buffer.concat([Buffer.from('c1 CREATE "bad'), Buffer.from([0xff, 0xfe]), Buffer.from('"\r\n')]));
    expect((await c.until('c1')).at(-1)).toMatch(/^c1 BAD .*UTF-8/);
    expect((await c.cmd('l1', 'LIST "" "bad*"')).some((l) => l.startsWith('* LIST'))).toBe(false);
    await c.cmd('s1', 'SELECT INBOX');
    c.write(Buffer.concat([Buffer.from('q1 SEARCH SUBJECT "'), Buffer.from([0xc3, 0x28]), Buffer.from('abc"\r\n')]));
    expect((await c.until('q1')).at(-1)).toMatch(/^q1 BAD/);
    c.write(Buffer.concat([Buffer.from('q2 SEARCH SUBJECT "'), Buffer.from('tiếng Việt', 'utf8'), Buffer.from('"\r\n')]));
    expect((await c.until('q2')).at(-1)).toMatch(/^q2 OK/);
    // §3: with UTF8=ACCEPT enabled, a SEARCH naming a charset is BAD (conflicting labels).
    expect((await c.cmd('q3', 'SEARCH CHARSET UTF-8 SUBJECT "x"')).at(-1)).toMatch(/^q3 BAD .*CHARSET/);
    c.close();
  });
});

describe('sign-in', () => {
  it('AUTHENTICATE PLAIN with the empty initial response "=" is processed (RFC 4959 §3), not prompted for again', async () => {
    const c = await LineClient.connect(app.port('imap'));
    c.write('a1 AUTHENTICATE PLAIN =\r\n');
    const r = await c.until('a1');
    expect(r.at(-1)).toMatch(/^a1 (NO|BAD)/);
    expect(r.some((l) => l.startsWith('+'))).toBe(false);
    c.close();
  });

  it('imap.loginTimeoutMs is a deadline from connecting: a client that keeps sending NOOP without signing in is dropped', async () => {
    const c = await LineClient.connect(app.port('imap'));
    let sent = 0;
    // 1.5 s deadline; NOOP every 250 ms would keep an idle timer from ever firing. Up to 8 s of it.
    while (!c.closed && sent < 32) {
      c.write(`n${sent++} NOOP\r\n`);
      await Promise.race([c.waitClosed(), new Promise((r) => setTimeout(r, 250))]);
    }
    expect(c.closed).toBe(true);
    expect(c.take()).toMatch(/\* BYE .*Sign-in timeout/);
  }, 15_000);

  it('signing in before the deadline keeps the session past it', async () => {
    const c = await signedIn();
    await new Promise((r) => setTimeout(r, 1800));
    expect((await c.cmd('n1', 'NOOP')).at(-1)).toMatch(/^n1 OK/);
    c.close();
  });
});
