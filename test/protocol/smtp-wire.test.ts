/**
 * smtp-server's own replies, as our wire layer (src/smtp/wire.ts) sends them: bilingual,
 * Vietnamese first; EXPN answered 252 like VRFY; a command with two paths refused (501); the
 * library's joke commands, XCLIENT and XFORWARD unknown. Over a raw socket to the real MX listener.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import { createUser, SmtpLineClient } from './smtp-helpers.js';

let app: TestApp;
beforeAll(async () => {
  app = await startApp();
  await createUser(app.store, 'longnv@example.gov.vn');
});
afterAll(async () => app.stop());

async function mx(ehlo = true): Promise<SmtpLineClient> {
  const c = await SmtpLineClient.connect(app.port('smtp'));
  expect((await c.read()).code).toBe(220);
  if (ehlo) expect((await c.cmd('EHLO mx.sender.example')).code).toBe(250);
  return c;
}

/** "<vi> / <en>": Vietnamese (a letter outside ASCII) before " / ", English (ASCII) after it. */
const BILINGUAL = /^(?:\d\.\d{1,3}\.\d{1,3} )?[^ ].*[^\x00-\x7f].* \/ [\x20-\x7e]+$/;

/** Send each line; each reply has its code and a bilingual text. */
async function expectBilingual(c: SmtpLineClient, cases: Array<[string, number]>): Promise<void> {
  for (const [line, code] of cases) {
    const r = await c.cmd(line);
    expect(r.code, line).toBe(code);
    expect(r.text, line).toMatch(BILINGUAL);
  }
}

describe('smtp-server replies are bilingual, Vietnamese first', () => {
  it('before EHLO, and to malformed HELO/EHLO', async () => {
    const c = await mx(false);
    await expectBilingual(c, [
      ['MAIL FROM:<a@example.org>', 503],
      ['HELO', 501],
      ['EHLO', 501],
    ]);
    c.close();
  });

  it('NOOP, RSET, HELP, VRFY without an argument, bad SIZE and BODY, STARTTLS with an argument, unknown AUTH', async () => {
    const c = await mx();
    await expectBilingual(c, [
      ['NOOP', 250],
      ['RSET', 250],
      ['HELP', 214],
      ['VRFY', 501],
      ['MAIL FROM:<a@example.org> SIZE=abc', 501],
      ['MAIL FROM:<a@example.org> BODY=BINARYMIME', 501],
      ['STARTTLS now', 501],
    ]);
    c.close();
  });

  it('an over-long command line: 421, bilingual, and the connection closes', async () => {
    const c = await mx();
    const r = await c.cmd(`NOOP ${'x'.repeat(5000)}`);
    expect(r.code).toBe(421);
    expect(r.text).toMatch(BILINGUAL);
    await c.waitClosed();
  });

  it('AUTH on submission: unknown mechanism, bad data and abort are bilingual', async () => {
    const c = await SmtpLineClient.connect(app.port('submissions'), { tls: true });
    await c.read();
    await c.cmd('EHLO client.example');
    const unknown = await c.cmd('AUTH XYZ');
    expect(unknown.code).toBe(504);
    expect(unknown.text).toMatch(BILINGUAL);
    const bad = await c.cmd('AUTH PLAIN !!!!');
    expect(bad.code).toBe(501);
    expect(bad.text).toMatch(BILINGUAL);
    expect((await c.cmd('AUTH LOGIN')).code).toBe(334);
    const aborted = await c.cmd('*');
    expect(aborted.code).toBe(501);
    expect(aborted.text).toMatch(BILINGUAL);
    c.close();
  });
});

describe('EXPN and unknown commands', () => {
  it('EXPN gets 252 (neither confirms nor denies, RFC 5321 §7.3) and is not a bad command', async () => {
    const c = await mx();
    for (let i = 0; i < 12; i++) {
      const r = await c.cmd('EXPN staff');
      expect(r.code).toBe(252);
      expect(r.text).toMatch(BILINGUAL);
    }
    expect((await c.cmd('NOOP')).code).toBe(250);
    c.close();
  });

  it("smtp-server's joke commands (WIZ, SHELL, KILL) are unknown commands", async () => {
    const c = await mx();
    for (const line of ['WIZ', 'SHELL', 'KILL']) {
      const r = await c.cmd(line);
      expect(r.code, line).toBe(500);
      expect(r.text, line).toMatch(/Lệnh không hợp lệ \/ Command not recognized/);
    }
    c.close();
  });

  it('XCLIENT and XFORWARD are unknown commands on the MX and on submission (not an English "550 5.7.0 Error: Not allowed")', async () => {
    const sub = await SmtpLineClient.connect(app.port('submission'));
    expect((await sub.read()).code).toBe(220);
    expect((await sub.cmd('EHLO client.example')).code).toBe(250);
    const subs = await SmtpLineClient.connect(app.port('submissions'), { tls: true });
    expect((await subs.read()).code).toBe(220);
    expect((await subs.cmd('EHLO client.example')).code).toBe(250);
    for (const c of [await mx(), sub, subs]) {
      for (const line of ['XCLIENT ADDR=192.0.2.1 NAME=spoof.example', 'XFORWARD ADDR=192.0.2.1']) {
        const r = await c.cmd(line);
        expect(r.code, line).toBe(500);
        expect(r.text, line).toMatch(BILINGUAL);
        expect(r.text, line).toMatch(/Lệnh không hợp lệ \/ Command not recognized/);
      }
      expect((await c.cmd('NOOP')).code).toBe(250);
      c.close();
    }
  });
});

describe('one path per MAIL or RCPT command (RFC 5321 §4.1.1.2-3)', () => {
  it.each([
    ['MAIL FROM:<x@example.org> <y@example.org>', 'MAIL'],
    ['RCPT TO:<longnv@example.gov.vn>,<a@ext.example>', 'RCPT'],
    ['RCPT TO:<longnv@example.gov.vn> <a@ext.example>', 'RCPT'],
    ['RCPT TO:<longnv@example.gov.vn>\r<a@ext.example>', 'RCPT'],
  ])('%s → 501, nothing accepted', async (line, verb) => {
    const c = await mx();
    if (verb === 'RCPT') expect((await c.cmd('MAIL FROM:<x@example.org>')).code).toBe(250);
    const r = await c.cmd(line);
    expect(r.code).toBe(501);
    expect(r.text).toMatch(BILINGUAL);
    if (verb === 'RCPT') expect((await c.cmd('DATA')).code).toBe(503); // no recipient was taken
    c.close();
  });

  it('a single path with parameters is still fine, "<>" in a parameter value included', async () => {
    const c = await mx();
    expect((await c.cmd('MAIL FROM:<x@example.org> SIZE=100')).code).toBe(250);
    expect((await c.cmd('RSET')).code).toBe(250);
    // RFC 4954 §5: AUTH=<> says the sender is not trusted to have signed in; not a second path.
    expect((await c.cmd('MAIL FROM:<x@example.org> AUTH=<>')).code).not.toBe(501);
    expect((await c.cmd('RSET')).code).toBe(250);
    expect((await c.cmd('MAIL FROM:<x@example.org>')).code).toBe(250);
    expect((await c.cmd('RCPT TO:<longnv@example.gov.vn> NOTIFY=FAILURE ORCPT=rfc822;longnv@example.gov.vn')).code).toBe(250);
    c.close();
  });
});
