/**
 * SMTP hardening found by an audit: every From of a submitted message, rights re-read at each
 * MAIL, forged Authentication-Results, loop detection, one id per transaction, SMTPUTF8 trace
 * fields, unknown MAIL/RCPT parameters, the PLAIN authorization identity, and time limits on
 * a command line and on the whole session. From a later review: From and Sender read as other
 * parsers read them, the author cap, unknown local recipients on submission, refusals logged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/store/port.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { keptLog } from '../helpers/kept-log.js';
import { failInserts } from '../helpers/sqlite-faults.js';
import { createUser, messagesIn, nextMessage, PASSWORD, sendRaw, SmtpLineClient, until } from './smtp-helpers.js';

let app: TestApp;
let long: Account;
let mai: Account;
let unit: Account;
const audit = { actor: 'test', action: 'setup', target: 'x' };

beforeAll(async () => {
  app = await startApp();
  long = await createUser(app.store, 'longnv@example.gov.vn');
  mai = await createUser(app.store, 'maitt@example.gov.vn');
  unit = await createUser(app.store, 'vanphong@example.gov.vn', { kind: 'unit' });
  await app.store.addDelegation(unit.id, long.id, audit);
}, 30_000);
afterAll(async () => {
  await app?.stop();
});

const plain = (authzid: string, authcid: string, password = PASSWORD): string => Buffer.from(`${authzid}\0${authcid}\0${password}`, 'utf8').toString('base64');

async function mx(helo = 'mx.sender.example'): Promise<SmtpLineClient> {
  const c = await SmtpLineClient.connect(app.port('smtp'));
  await c.read();
  expect((await c.cmd(`EHLO ${helo}`)).code).toBe(250);
  return c;
}

/** Signed in on implicit TLS (465 style). */
async function submission(user = 'longnv'): Promise<SmtpLineClient> {
  const c = await SmtpLineClient.connect(app.port('submissions'), { tls: true });
  await c.read();
  await c.cmd('EHLO client.example');
  const r = await c.cmd(`AUTH PLAIN ${plain('', user)}`);
  expect(r.code).toBe(235);
  return c;
}

const body = (from: string, subject: string, extra: string[] = []): string =>
  [...extra, `From: ${from}`, 'To: <maitt@example.gov.vn>', `Subject: ${subject}`, 'Date: Sun, 22 Nov 2026 10:00:00 +0000', `Message-ID: <${Math.random()}@test>`, '', 'x', ''].join('\r\n');

describe('submission: From headers', () => {
  it('refuses a second From header (RFC 5322 §3.6), also when both are the sender own, with 550 5.6.0', async () => {
    const c = await submission();
    const r = await sendRaw(c, 'longnv@example.gov.vn', ['maitt@example.gov.vn'], body('longnv@example.gov.vn', 'two-from', ['From: "Giam doc" <maitt@example.gov.vn>']));
    expect(r.code).toBe(550);
    expect(r.text).toMatch(/^5\.6\.0 .+ \/ .*more than one From/);
    const own = await sendRaw(c, 'longnv@example.gov.vn', ['maitt@example.gov.vn'], body('longnv@example.gov.vn', 'two-own', ['From: vanphong@example.gov.vn']));
    expect(own.code).toBe(550);
    const arrived = nextMessage(app.store, mai.id);
    expect((await sendRaw(c, 'longnv@example.gov.vn', ['maitt@example.gov.vn'], body('longnv@example.gov.vn', 'one-from'))).code).toBe(250);
    expect((await arrived).toString()).toContain('Subject: one-from');
    c.close();
  });
});

describe('submission: Sender headers and display names', () => {
  const withHeaders = (headers: string[], subject: string): string =>
    [...headers, 'To: <maitt@example.gov.vn>', `Subject: ${subject}`, 'Date: Sun, 22 Nov 2026 10:00:00 +0000', `Message-ID: <${Math.random()}@test>`, '', 'x', ''].join('\r\n');

  it('refuses a Sender that is not the user own (553 5.7.1) and a second Sender (550 5.6.0); the user own Sender under a delegated From passes', async () => {
    const c = await submission();
    const other = await sendRaw(c, 'longnv@example.gov.vn', ['maitt@example.gov.vn'], withHeaders(['From: longnv@example.gov.vn', 'Sender: maitt@example.gov.vn'], 'sender-other'));
    expect(other.code).toBe(553);
    expect(other.text).toMatch(/^5\.7\.1 .+ \/ The Sender header is not one of your addresses/);
    const two = await sendRaw(c, 'longnv@example.gov.vn', ['maitt@example.gov.vn'], withHeaders(['From: longnv@example.gov.vn', 'Sender: longnv@example.gov.vn', 'Sender: maitt@example.gov.vn'], 'sender-two'));
    expect(two.code).toBe(550);
    expect(two.text).toMatch(/^5\.6\.0 .+ \/ .*more than one Sender/);
    const arrived = nextMessage(app.store, mai.id);
    const own = await sendRaw(c, 'vanphong@example.gov.vn', ['maitt@example.gov.vn'], withHeaders(['From: "Van phong" <vanphong@example.gov.vn>', 'Sender: longnv@example.gov.vn'], 'sender-own'));
    expect(own.code).toBe(250);
    expect((await arrived).toString()).toContain('Subject: sender-own');
    c.close();
  });

  it('refuses a display name showing another address, in clear or encoded, or holding a NUL (553 5.7.1); one showing the user own address passes', async () => {
    const c = await submission();
    const spoofs = [
      'From: maitt@example.gov.vn <longnv@example.gov.vn>',
      'From: "maitt@example.gov.vn" <longnv@example.gov.vn>',
      `From: =?utf-8?B?${Buffer.from('maitt@example.gov.vn <maitt@example.gov.vn>,').toString('base64')}?= <longnv@example.gov.vn>`,
      'From: Long\u0000 <longnv@example.gov.vn>',
    ];
    for (const from of spoofs) {
      const r = await sendRaw(c, 'longnv@example.gov.vn', ['maitt@example.gov.vn'], withHeaders([from], 'display-spoof'));
      expect(r.code, from).toBe(553);
      expect(r.text, from).toMatch(/^5\.7\.1 .+ \/ The display name in From or Sender shows another address/);
    }
    const arrived = nextMessage(app.store, mai.id);
    const fine = await sendRaw(c, 'longnv@example.gov.vn', ['maitt@example.gov.vn'], withHeaders(['From: "Long (longnv@example.gov.vn)" <longnv@example.gov.vn>'], 'display-own'));
    expect(fine.code).toBe(250);
    expect((await arrived).toString()).toContain('Subject: display-own');
    expect((await messagesIn(app.store, mai.id)).filter((m) => m.toString().includes('Subject: display-spoof'))).toHaveLength(0);
    c.close();
  });

  it('a suspended unit mailbox cannot be sent as by its delegates (553 5.7.1); it still receives', async () => {
    const paused = await createUser(app.store, 'tamdung@example.gov.vn', { kind: 'unit' });
    await app.store.addDelegation(paused.id, long.id, audit);
    await app.store.updateAccount(paused.id, { state: 'suspended' }, audit);
    const c = await submission();
    const r = await c.cmd('MAIL FROM:<tamdung@example.gov.vn>');
    expect(r.code).toBe(553);
    expect(r.text).toMatch(/^5\.7\.1 /);
    await c.cmd('RSET');
    const arrived = nextMessage(app.store, paused.id);
    expect((await sendRaw(c, 'longnv@example.gov.vn', ['tamdung@example.gov.vn'], withHeaders(['From: longnv@example.gov.vn'], 'to-paused'))).code).toBe(250);
    expect((await arrived).toString()).toContain('Subject: to-paused');
    c.close();
  });
});

describe('submission: From and Sender read as other parsers read them (RFC 5322 §3.4)', () => {
  const headed = (headers: string[], subject: string): string =>
    [...headers, 'To: <maitt@example.gov.vn>', `Subject: ${subject}`, 'Date: Sun, 22 Nov 2026 10:00:00 +0000', `Message-ID: <${Math.random()}@test>`, '', 'x', ''].join('\r\n');
  const FROM_NOT_OWNED = /^5\.7\.1 .+ \/ The From header is not one of your addresses$/;
  const SENDER_NOT_OWNED = /^5\.7\.1 .+ \/ The Sender header is not one of your addresses$/;
  const MISLEADING = /^5\.7\.1 .+ \/ The display name in From or Sender shows another address/;
  // Each is the user's own address to this server's lenient parser, and another author
  // (maitt@) to Python's email, mailparser or a mail client's display.
  const tricks: Array<[string[], RegExp]> = [
    [['From: maitt @ example.gov.vn <longnv@example.gov.vn>'], MISLEADING],
    [['From: "maitt @ EXAMPLE.GOV.VN" <longnv@example.gov.vn>'], MISLEADING],
    [['From: <longnv@example.gov.vn> maitt@example.gov.vn'], FROM_NOT_OWNED],
    [['From: <longnv@example.gov.vn> <maitt@example.gov.vn>'], FROM_NOT_OWNED],
    [['From: "Long" <longnv@example.gov.vn> "maitt@example.gov.vn"'], FROM_NOT_OWNED],
    [['From: "x" <longnv@example.gov.vn (maitt@example.gov.vn)>'], MISLEADING],
    [['From: Long (maitt@example.gov.vn) <longnv@example.gov.vn>'], MISLEADING],
    [['From: Long <longnv@example.gov.vn> (maitt @ example.gov.vn)'], MISLEADING],
    [['From: longnv@example.gov.vn, (maitt@example.gov.vn)'], FROM_NOT_OWNED],
    [['From: longnv@example.gov.vn, <>'], FROM_NOT_OWNED],
    [['From: longnv@example.gov.vn', 'Sender: (maitt@example.gov.vn)'], SENDER_NOT_OWNED],
    [['From: "maitt\uFF20example.gov.vn" <longnv@example.gov.vn>'], MISLEADING],
    [['From: "maitt\uFE6Bexample.gov.vn" <longnv@example.gov.vn>'], MISLEADING],
  ];

  it('refuses, with 553 5.7.1, a From or Sender another parser reads as another author; the user own forms pass', async () => {
    const c = await submission();
    for (const [headers, want] of tricks) {
      const r = await sendRaw(c, 'longnv@example.gov.vn', ['maitt@example.gov.vn'], headed(headers, 'author-trick'));
      expect(r.code, headers.join(' | ')).toBe(553);
      expect(r.text, headers.join(' | ')).toMatch(want);
    }
    const fine: string[][] = [
      ['From: longnv@example.gov.vn (Nguyễn Văn Long)'],
      ['From: "Nguyễn Văn Long" <longnv@example.gov.vn> (Sở KH&ĐT)'],
      ['From: Long <longnv@example.gov.vn (longnv @ example.gov.vn)>'],
      ['From: longnv@example.gov.vn,'],
      // An "at" in a name, with no domain after it, is no address.
      ['From: "Phòng Kế toán @ Sở Tài chính" <longnv@example.gov.vn>'],
      ['From: "Hỗ trợ @ example.gov.vn" <longnv@example.gov.vn>'],
      ['From: "Lan @ P.KT" <longnv@example.gov.vn>'],
      ['From: =?UTF-8?B?' + Buffer.from('Long @ Văn phòng').toString('base64') + '?= <longnv@example.gov.vn>'],
      ['From: longnv@example.gov.vn, "Van phong" <vanphong@example.gov.vn>', 'Sender: longnv@example.gov.vn'],
    ];
    for (const headers of fine) {
      const arrived = nextMessage(app.store, mai.id);
      const r = await sendRaw(c, 'longnv@example.gov.vn', ['maitt@example.gov.vn'], headed(headers, 'author-own'));
      expect(r.code, headers.join(' | ')).toBe(250);
      expect((await arrived).toString()).toContain('Subject: author-own');
    }
    expect((await messagesIn(app.store, mai.id)).filter((m) => m.toString().includes('Subject: author-trick'))).toHaveLength(0);
    c.close();
  });

  it('leaves the MX as it was: the same fields arriving from outside are accepted', async () => {
    const c = await mx();
    for (const [headers] of tricks) {
      const r = await sendRaw(c, 'someone@sender.example', ['maitt@example.gov.vn'], headed(headers, 'author-inbound'));
      expect(r.code, headers.join(' | ')).toBe(250);
    }
    c.close();
  });

  it('refuses more than 10 authors (550 5.7.1) and a From or Sender cut at limits.maxAddressesPerHeader (553 5.7.1)', async () => {
    const c = await submission();
    const own = (n: number): string => Array.from({ length: n }, (_, i) => (i % 2 ? 'vanphong@example.gov.vn' : 'longnv@example.gov.vn')).join(',\r\n ');
    const eleven = await sendRaw(c, 'longnv@example.gov.vn', ['maitt@example.gov.vn'], headed([`From: ${own(11)}`, 'Sender: longnv@example.gov.vn'], 'authors-11'));
    expect(eleven.code).toBe(550);
    expect(eleven.text).toMatch(/^5\.7\.1 .+ \/ The From header names too many authors \(at most 10\)$/);
    // The cap holds back the other author hidden past limits.maxAddressesPerHeader (1000) in From.
    const hiddenFrom = await sendRaw(c, 'longnv@example.gov.vn', ['maitt@example.gov.vn'], headed([`From: ${own(1000)},\r\n maitt@example.gov.vn`], 'authors-hidden'));
    expect(hiddenFrom.code).toBe(550);
    // Sender has no such cap: its cut is what refuses it.
    const hiddenSender = await sendRaw(
      c,
      'longnv@example.gov.vn',
      ['maitt@example.gov.vn'],
      headed(['From: longnv@example.gov.vn', `Sender: ${own(1000)},\r\n maitt@example.gov.vn`], 'authors-hidden'),
    );
    expect(hiddenSender.code).toBe(553);
    expect(hiddenSender.text).toMatch(SENDER_NOT_OWNED);
    const arrived = nextMessage(app.store, mai.id);
    const ten = await sendRaw(c, 'longnv@example.gov.vn', ['maitt@example.gov.vn'], headed([`From: ${own(10)}`, 'Sender: longnv@example.gov.vn'], 'authors-10'));
    expect(ten.code).toBe(250);
    expect((await arrived).toString()).toContain('Subject: authors-10');
    expect((await messagesIn(app.store, mai.id)).filter((m) => /Subject: authors-(11|hidden)/.test(m.toString()))).toHaveLength(0);
    c.close();
  });
});

describe('submission: unknown local recipients', () => {
  it('are answered 550 5.1.1 without counting as bad commands: the message still goes to the others; the MX still closes at smtp.maxBadCommands', async () => {
    const c = await submission();
    expect((await c.cmd('MAIL FROM:<longnv@example.gov.vn>')).code).toBe(250);
    expect((await c.cmd('RCPT TO:<maitt@example.gov.vn>')).code).toBe(250);
    for (let i = 1; i <= 12; i++) {
      const r = await c.cmd(`RCPT TO:<da.nghi${i}@example.gov.vn>`);
      expect(r.code, `rcpt ${i}`).toBe(550);
      expect(r.text).toMatch(/^5\.1\.1 .+ \/ No such mailbox$/);
    }
    expect((await c.cmd('DATA')).code).toBe(354);
    const arrived = nextMessage(app.store, mai.id);
    c.write(body('longnv@example.gov.vn', 'stale-recipients') + '.\r\n');
    expect((await c.read()).code).toBe(250);
    expect((await arrived).toString()).toContain('Subject: stale-recipients');
    c.close();

    const m = await mx();
    expect((await m.cmd('MAIL FROM:<someone@sender.example>')).code).toBe(250);
    for (let i = 1; i < 10; i++) expect((await m.cmd(`RCPT TO:<da.nghi${i}@example.gov.vn>`)).code).toBe(550);
    expect((await m.cmd('RCPT TO:<da.nghi10@example.gov.vn>')).code).toBe(421);
    m.close();
  });
});

describe('submission: refusals at MAIL are logged', () => {
  let logged: TestApp;
  const kept = keptLog();
  beforeAll(async () => {
    logged = await startApp({ policy: { maxMessagesPerHour: 1 } }, { log: kept.log });
    await createUser(logged.store, 'longnv@example.gov.vn');
    await createUser(logged.store, 'maitt@example.gov.vn');
  });
  afterAll(async () => {
    await logged?.stop();
  });

  it('names the account, the client address and the sender tried: another user, and a sending limit', async () => {
    const c = await SmtpLineClient.connect(logged.port('submissions'), { tls: true });
    await c.read();
    await c.cmd('EHLO client.example');
    expect((await c.cmd(`AUTH PLAIN ${plain('', 'longnv')}`)).code).toBe(235);
    const warnings = (): Array<Record<string, unknown>> => kept.lines.filter((l) => l.level === 40 && typeof l.msg === 'string' && l.msg.startsWith('smtp:'));

    expect((await c.cmd('MAIL FROM:<maitt@example.gov.vn>')).code).toBe(553);
    await until(async () => (warnings().length > 0 ? true : null));
    expect(warnings()[0]).toMatchObject({ account: 'longnv@example.gov.vn', ip: '127.0.0.1', sender: 'maitt@example.gov.vn' });
    await c.cmd('RSET');

    expect((await sendRaw(c, 'longnv@example.gov.vn', ['maitt@example.gov.vn'], body('longnv@example.gov.vn', 'first'))).code).toBe(250);
    const limited = await c.cmd('MAIL FROM:<longnv@example.gov.vn>');
    expect(limited.code).toBe(451);
    await until(async () => (warnings().length > 1 ? true : null));
    expect(warnings()[1]).toMatchObject({ account: 'longnv@example.gov.vn', ip: '127.0.0.1', sender: 'longnv@example.gov.vn', code: 451 });
    c.close();
  });
});

describe('a message some of whose recipients could not be queued', () => {
  // It used to be answered 250 with those recipients failed (and a failure DSN that went through
  // the queue that had just failed): now the local copies and the queue item commit together, so
  // the whole message is refused temporarily and the client's retry reaches everyone once.
  it('is refused whole with 451 4.3.0 (no local copy kept); the retry delivers each copy once', async () => {
    const c = await submission();
    const before = (await messagesIn(app.store, mai.id)).length;
    const restore = failInserts(app.dir, 'queue');
    let r: Awaited<ReturnType<typeof sendRaw>>;
    try {
      r = await sendRaw(c, 'longnv@example.gov.vn', ['maitt@example.gov.vn', 'far@other.example'], body('longnv@example.gov.vn', 'half-queued'));
    } finally {
      restore();
    }
    expect(r.code).toBe(451);
    expect(r.text).toMatch(/^4\.3\.0 /);
    expect(await messagesIn(app.store, mai.id)).toHaveLength(before);
    const again = await sendRaw(c, 'longnv@example.gov.vn', ['maitt@example.gov.vn', 'far@other.example'], body('longnv@example.gov.vn', 'half-queued'));
    expect(again.code).toBe(250);
    const got = (await messagesIn(app.store, mai.id)).map((m) => m.toString()).filter((m) => m.includes('Subject: half-queued'));
    expect(got).toHaveLength(1);
    c.close();
  });
});

describe('non-ASCII addresses without SMTPUTF8 (RFC 6531 §3.5)', () => {
  it('MAIL: 550 5.6.7; RCPT: 553 5.6.7; the same addresses pass with SMTPUTF8', async () => {
    const c = await mx();
    const m = await c.cmd('MAIL FROM:<người@ext.example>');
    expect(m.code).toBe(550);
    expect(m.text).toMatch(/^5\.6\.7 .+ \/ Non-ASCII sender address without the SMTPUTF8 parameter$/);
    expect((await c.cmd('MAIL FROM:<người@ext.example> SMTPUTF8')).code).toBe(250);
    await c.cmd('RSET');
    expect((await c.cmd('MAIL FROM:<a@ext.example>')).code).toBe(250);
    const r = await c.cmd('RCPT TO:<ngườidùng@example.gov.vn>');
    expect(r.code).toBe(553);
    expect(r.text).toMatch(/^5\.6\.7 /);
    // A relay attempt is still answered as one (554 5.7.1), with or without non-ASCII.
    expect((await c.cmd('RCPT TO:<người@other.example>')).code).toBe(554);
    c.close();
  });

  it('a quoted local part with a space, or a space before ">", is an address problem, not an unknown parameter (never 555)', async () => {
    const s = await submission();
    expect((await s.cmd('MAIL FROM:<longnv@example.gov.vn>')).code).toBe(250);
    const quoted = await s.cmd('RCPT TO:<"x y"@ext.example>');
    expect(quoted.code).not.toBe(555);
    s.close();
    const c = await mx();
    expect((await c.cmd('MAIL FROM:<a@ext.example>')).code).toBe(250);
    const spaced = await c.cmd('RCPT TO:<maitt@example.gov.vn >');
    expect(spaced.code).not.toBe(555);
    expect(spaced.text).not.toMatch(/Parameter/);
    c.close();
  });
});

describe('submission: rights re-read at each MAIL FROM', () => {
  it('a delegation removed while signed in stops sending as the unit; a suspension ends the session (421 4.7.0)', async () => {
    const lan = await createUser(app.store, 'lando@example.gov.vn');
    await app.store.addDelegation(unit.id, lan.id, audit);
    const c = await submission('lando');
    expect((await c.cmd('MAIL FROM:<vanphong@example.gov.vn>')).code).toBe(250);
    await c.cmd('RSET');
    await app.store.removeDelegation(unit.id, lan.id, audit);
    const r = await c.cmd('MAIL FROM:<vanphong@example.gov.vn>');
    expect(r.code).toBe(553);
    expect(r.text).toMatch(/^5\.7\.1 /);
    expect((await c.cmd('MAIL FROM:<lando@example.gov.vn>')).code).toBe(250);
    await c.cmd('RSET');
    await app.store.updateAccount(lan.id, { state: 'suspended' }, audit);
    const s = await c.cmd('MAIL FROM:<lando@example.gov.vn>');
    expect(s.code).toBe(421);
    expect(s.text).toMatch(/^4\.7\.0 .+ \/ Your sign-in no longer holds/);
    expect((await c.read()).code).toBe(0); // the server closed the connection
  });
});

describe('Authentication-Results bearing our own authserv-id', () => {
  const forged = [
    'Authentication-Results: mail.example.gov.vn; spf=pass smtp.mailfrom=example.gov.vn; dmarc=pass header.from=example.gov.vn',
    'Authentication-Results: (forged) MAIL.Example.GOV.VN. ;\r\n dkim=pass header.d=example.gov.vn',
    'Authentication-Results: "mail.example.gov.vn"; dkim=pass',
    'Authentication-Results: other.example; spf=pass smtp.mailfrom=partner.example',
  ];

  it('are removed on the MX; those of other hosts stay', async () => {
    const c = await mx();
    const arrived = nextMessage(app.store, mai.id);
    expect((await sendRaw(c, 'giamdoc@partner.example', ['maitt@example.gov.vn'], body('giamdoc@partner.example', 'forged-mx', forged))).code).toBe(250);
    const raw = (await arrived).toString();
    expect(raw).not.toMatch(/mail\.example\.gov\.vn.?"?\s*;\s*(spf|dkim)=pass/i);
    expect(raw).not.toContain('(forged)');
    expect(raw).toContain('Authentication-Results: other.example; spf=pass smtp.mailfrom=partner.example');
    c.close();
  });

  it('are removed on submission too', async () => {
    const c = await submission();
    const arrived = nextMessage(app.store, mai.id);
    expect((await sendRaw(c, 'longnv@example.gov.vn', ['maitt@example.gov.vn'], body('longnv@example.gov.vn', 'forged-sub', forged))).code).toBe(250);
    const raw = (await arrived).toString();
    expect(raw.match(/^Authentication-Results:/gm)).toHaveLength(1);
    expect(raw).toContain('Authentication-Results: other.example;');
    c.close();
  });
});

describe('mail loops (RFC 5321 §6.3)', () => {
  const hops = (n: number): string[] => Array.from({ length: n }, (_v, i) => `Received: from h${i}.test by h${i + 1}.test; Sun, 22 Nov 2026 09:00:00 +0000`);

  it('refuses more than 100 Received headers with 554 5.4.6 on the MX and on submission; 100 pass', async () => {
    const c = await mx();
    const r = await sendRaw(c, 'x@partner.example', ['maitt@example.gov.vn'], body('x@partner.example', 'loop', hops(101)));
    expect(r.code).toBe(554);
    expect(r.text).toMatch(/^5\.4\.6 .+ \/ Mail loop detected/);
    const arrived = nextMessage(app.store, mai.id);
    expect((await sendRaw(c, 'x@partner.example', ['maitt@example.gov.vn'], body('x@partner.example', 'hundred', hops(100)))).code).toBe(250);
    expect((await arrived).toString()).toContain('Subject: hundred');
    c.close();
    const s = await submission();
    const sr = await sendRaw(s, 'longnv@example.gov.vn', ['maitt@example.gov.vn'], body('longnv@example.gov.vn', 'loop', hops(150)));
    expect(sr.code).toBe(554);
    expect(sr.text).toMatch(/^5\.4\.6 /);
    s.close();
  });
});

describe('transaction ids', () => {
  it('gives each message of a session its own id, the same in the reply and in Received', async () => {
    const c = await mx();
    const ids: string[] = [];
    for (const n of [1, 2]) {
      const arrived = nextMessage(app.store, mai.id);
      const r = await sendRaw(c, 'x@partner.example', ['maitt@example.gov.vn'], body('x@partner.example', `id ${n}`));
      expect(r.code).toBe(250);
      const id = /id (\S+)$/.exec(r.text)?.[1] ?? '';
      expect(r.text).toContain(`mã ${id}`);
      expect((await arrived).toString()).toMatch(new RegExp(`\\r\\n id ${id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\r\\n|;)`));
      ids.push(id);
    }
    expect(ids[0]).not.toBe(ids[1]);
    c.close();
  });
});

describe('trace fields of internationalised mail', () => {
  /** One message to maitt with MAIL FROM … SMTPUTF8. */
  async function sendUtf8(c: SmtpLineClient, from: string, subject: string): Promise<{ code: number }> {
    for (const [line, code] of [[`MAIL FROM:<${from}> SMTPUTF8`, 250], ['RCPT TO:<maitt@example.gov.vn>', 250], ['DATA', 354]] as const) {
      const r = await c.cmd(line);
      if (r.code !== code) return r;
    }
    c.write(`${body(from, subject)}.\r\n`);
    return c.read();
  }

  it('records SMTPUTF8 as UTF8SMTP and the EHLO name as presented', async () => {
    const c = await mx('máy.việt.vn');
    const arrived = nextMessage(app.store, mai.id);
    expect((await sendUtf8(c, 'mai@ví-dụ.vn', 'utf8 plain')).code).toBe(250);
    const raw = (await arrived).toString('utf8');
    expect(raw).toMatch(/^Received: from máy\.việt\.vn \(\[127\.0\.0\.1\]\)\r\n by mail\.example\.gov\.vn \(buudien\) with UTF8SMTP\r\n/m);
    c.close();
  });

  it('records the EHLO name as its A-label outside SMTPUTF8, and UTF8SMTPS after STARTTLS', async () => {
    const c = await mx('máy.việt.vn');
    let arrived = nextMessage(app.store, mai.id);
    expect((await sendRaw(c, 'x@partner.example', ['maitt@example.gov.vn'], body('x@partner.example', 'ascii'))).code).toBe(250);
    expect((await arrived).toString()).toMatch(/^Received: from xn--my-[a-z0-9-]+\.xn--vit-[a-z0-9-]+\.vn \(\[127\.0\.0\.1\]\)\r\n by \S+ \(buudien\) with ESMTP\r\n/m);
    expect((await c.cmd('STARTTLS')).code).toBe(220);
    await c.startTls();
    await c.cmd('EHLO x.test');
    arrived = nextMessage(app.store, mai.id);
    expect((await sendUtf8(c, 'x@partner.example', 'tls')).code).toBe(250);
    expect((await arrived).toString()).toMatch(/ with UTF8SMTPS \(TLS/);
    c.close();
  });

  it('records UTF8SMTPSA on submission, and never a different name for unsafe characters', async () => {
    const c = await submission();
    await c.cmd('EHLO a(b);c');
    let arrived = nextMessage(app.store, mai.id);
    expect((await sendUtf8(c, 'longnv@example.gov.vn', 'sa')).code).toBe(250);
    let raw = (await arrived).toString();
    expect(raw).toMatch(/ with UTF8SMTPSA \(TLS/);
    expect(raw).toMatch(/^Received: from a\?b\?\?c \(\[/m);
    arrived = nextMessage(app.store, mai.id);
    expect((await sendRaw(c, 'longnv@example.gov.vn', ['maitt@example.gov.vn'], body('longnv@example.gov.vn', 'sa2'))).code).toBe(250);
    raw = (await arrived).toString();
    expect(raw).toMatch(/ with ESMTPSA \(TLS/);
    c.close();
  });
});

describe('MAIL and RCPT parameters (RFC 5321 §4.1.1.11)', () => {
  it('refuses parameters of extensions we do not advertise with 555 5.5.4', async () => {
    const c = await mx();
    let r = await c.cmd('MAIL FROM:<x@ext.test> FOO=bar');
    expect(r.code).toBe(555);
    expect(r.text).toMatch(/^5\.5\.4 Tham số FOO .+ \/ Parameter FOO not recognized/);
    expect((await c.cmd('MAIL FROM:<x@ext.test> NOTIFY=SUCCESS')).code).toBe(555);
    expect((await c.cmd('MAIL FROM:<x@ext.test> AUTH=x@ext.test')).code).toBe(555); // no AUTH on the MX
    expect((await c.cmd('MAIL FROM:<x@ext.test> SIZE=100 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=abc')).code).toBe(250);
    r = await c.cmd('RCPT TO:<maitt@example.gov.vn> FOO=bar');
    expect(r.code).toBe(555);
    expect(r.text).toMatch(/^5\.5\.4 /);
    expect((await c.cmd('RCPT TO:<maitt@example.gov.vn> RET=FULL')).code).toBe(555);
    expect((await c.cmd('RCPT TO:<maitt@example.gov.vn> NOTIFY=FAILURE ORCPT=rfc822;maitt@example.gov.vn')).code).toBe(250);
    c.close();
  });

  it('accepts AUTH= on MAIL on submission, where AUTH is advertised', async () => {
    const c = await submission();
    // (AUTH=<> itself is refused by wire.ts's second-path check, 501: not this layer's.)
    expect((await c.cmd('MAIL FROM:<longnv@example.gov.vn> AUTH=longnv@example.gov.vn')).code).toBe(250);
    await c.cmd('RSET');
    expect((await c.cmd('MAIL FROM:<longnv@example.gov.vn> FOO')).code).toBe(555);
    c.close();
  });
});

describe('AUTH PLAIN authorization identity (RFC 4616 §2)', () => {
  it('fails with 535 5.7.8 when the authzid is someone else; the user own name is fine', async () => {
    for (const [authzid, code] of [
      ['maitt', 535],
      ['maitt@example.gov.vn', 535],
      ['admin@example.gov.vn', 535],
      ['longnv@other.example', 535],
      ['longnv', 235],
      ['LongNV@example.gov.vn', 235],
      ['', 235],
    ] as const) {
      const c = await SmtpLineClient.connect(app.port('submissions'), { tls: true });
      await c.read();
      await c.cmd('EHLO client.example');
      const r = await c.cmd(`AUTH PLAIN ${plain(authzid, 'longnv')}`);
      expect([authzid, r.code]).toEqual([authzid, code]);
      if (code === 535) {
        expect(r.text).toMatch(/^5\.7\.8 .+ \/ Your account is not delegated to open this mailbox/);
        expect((await c.cmd('MAIL FROM:<maitt@example.gov.vn>')).code).toBe(530);
      }
      c.close();
    }
  });
});

describe('time limits', () => {
  const apps: TestApp[] = [];
  afterAll(async () => {
    for (const a of apps) await a.stop();
  });

  /** A server of its own with small smtp.commandTimeoutMs / smtp.maxSessionMs; its MX port. */
  async function limited(limits: { commandTimeoutMs: number; maxSessionMs: number }): Promise<number> {
    const a = await startApp({ smtp: { idleTimeoutMs: 10_000, ...limits } });
    apps.push(a);
    return a.port('smtp');
  }

  it('closes with 421 4.4.2 a command line dripped one byte at a time past the command limit', async () => {
    const port = await limited({ commandTimeoutMs: 800, maxSessionMs: 60_000 });
    const c = await SmtpLineClient.connect(port);
    await c.read();
    expect((await c.cmd('EHLO x.test')).code).toBe(250);
    const started = Date.now();
    const drip = setInterval(() => c.write('N'), 150);
    try {
      const r = await c.read();
      expect(r.code).toBe(421);
      expect(r.text).toMatch(/^4\.4\.2 .+ \/ Command not completed in time/);
      expect(Date.now() - started).toBeLessThan(3000);
      await c.waitClosed();
    } finally {
      clearInterval(drip);
    }
  });

  it('lets complete commands and pauses between them run; ends the session at the limit with 421 4.4.2', async () => {
    const port = await limited({ commandTimeoutMs: 800, maxSessionMs: 2500 });
    const c = await SmtpLineClient.connect(port);
    await c.read();
    const started = Date.now();
    expect((await c.cmd('EHLO x.test')).code).toBe(250);
    // Slow but complete commands, each well within the command limit.
    let r = await c.cmd('NOOP');
    while (r.code === 250 && Date.now() - started < 10_000) {
      await new Promise((res) => setTimeout(res, 300));
      r = await c.cmd('NOOP');
    }
    expect(r.code).toBe(421);
    expect(r.text).toMatch(/^4\.4\.2 .+ \/ Session time limit reached/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2400);
    await c.waitClosed();
    // An idle session is closed by the timer as well.
    const idle = await SmtpLineClient.connect(port);
    await idle.read();
    const t = Date.now();
    const last = await idle.read();
    expect(last.code).toBe(421);
    expect(last.text).toMatch(/^4\.4\.2 /);
    expect(Date.now() - t).toBeLessThan(5000);
  });
});
