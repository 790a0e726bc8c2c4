/**
 * RFC 3461 DSN parameters end to end, sent with Python's smtplib (mail_options/rcpt_options, or
 * mail()/rcpt() for options per recipient): kept through the queue, honoured in our own notices
 * (NOTIFY, RET, ENVID → Original-Envelope-Id, ORCPT → Original-Recipient), passed on to a server
 * that offers DSN, and refused with 501 5.5.4 when malformed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/store/port.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { createUser, messagesIn, nextMessage, PASSWORD, run, SmtpLineClient, startSink, until, which, type Sink, type SinkMessage } from './smtp-helpers.js';

let app: TestApp;
let dsnSink: Sink; // offers DSN
let plainSink: Sink; // does not
let long: Account;
let hoa: Account;
let hasPython = false;

/** One SMTP session in Python; prints the replies as JSON. */
const PY = String.raw`
import json, smtplib, ssl, sys
cfg = json.loads(sys.argv[1])
s = smtplib.SMTP('127.0.0.1', cfg['port'], timeout=20)
s.ehlo('client.example.com')
if cfg.get('user'):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s.starttls(context=ctx)
    s.ehlo('client.example.com')
    s.login(cfg['user'], cfg['password'])
out = {'dsn': s.has_extn('dsn')}
data = cfg['data'].encode('utf-8')
if 'rcpt_options' in cfg:
    # sendmail() gives every recipient the same options
    refused = s.sendmail(cfg['from'], [r['to'] for r in cfg['rcpts']], data, mail_options=cfg.get('mail_options', []), rcpt_options=cfg['rcpt_options'])
    out['refused'] = {k: [v[0], v[1].decode()] for k, v in refused.items()}
else:
    code, msg = s.mail(cfg['from'], cfg.get('mail_options', []))
    out['mail'] = [code, msg.decode()]
    out['rcpt'] = []
    for r in cfg['rcpts']:
        code, msg = s.rcpt(r['to'], r.get('options', []))
        out['rcpt'].append([code, msg.decode()])
    if any(c == 250 for c, _ in out['rcpt']):
        code, msg = s.data(data)
        out['data'] = [code, msg.decode()]
s.quit()
print(json.dumps(out))
`;

interface PyResult {
  dsn: boolean;
  refused?: Record<string, [number, string]>;
  mail?: [number, string];
  rcpt?: Array<[number, string]>;
  data?: [number, string];
}

interface PySend {
  port?: number;
  /** Sign in as longnv over STARTTLS (submission); default true. */
  submission?: boolean;
  from?: string;
  rcpts: Array<{ to: string; options?: string[] }>;
  mail_options?: string[];
  /** Same options for every recipient, through sendmail(). */
  rcpt_options?: string[];
  data: string;
}

async function py(a: TestApp, s: PySend): Promise<PyResult> {
  const submission = s.submission ?? true;
  const cfg = {
    port: s.port ?? a.port(submission ? 'submission' : 'smtp'),
    ...(submission ? { user: 'longnv', password: PASSWORD } : {}),
    from: s.from ?? 'longnv@example.gov.vn',
    rcpts: s.rcpts,
    ...(s.mail_options ? { mail_options: s.mail_options } : {}),
    ...(s.rcpt_options ? { rcpt_options: s.rcpt_options } : {}),
    data: s.data,
  };
  const r = await run('python3', ['-c', PY, JSON.stringify(cfg)]);
  if (r.code !== 0) throw new Error(`python3 failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as PyResult;
}

function msg(subject: string, body: string, from = 'longnv@example.gov.vn'): string {
  return [`From: <${from}>`, 'To: undisclosed-recipients:;', `Subject: ${subject}`, `Message-ID: <${subject.replace(/\W/g, '')}@test>`, 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', body, ''].join('\r\n');
}

/** The message/delivery-status part of a DSN. */
function statusPart(raw: string): string {
  const m = /Content-Type: message\/delivery-status\r\n(?:[^\r\n]+\r\n)*\r\n([\s\S]*?)\r\n--=_buudien_/.exec(raw);
  if (!m?.[1]) throw new Error(`no delivery-status part in:\n${raw}`);
  return m[1];
}

async function bouncedOrDelivered(recipient: string, outcome: 'bounced' | 'delivered'): Promise<void> {
  await until(async () => (await app.store.searchSendLog({ recipient })).some((r) => r.direction === 'outbound' && r.outcome === outcome));
}

/** Messages the sink got from now on until every recipient in `to` was seen. */
async function sinkGot(sink: Sink, from: number, to: string[]): Promise<SinkMessage[]> {
  const got: SinkMessage[] = [];
  let i = from;
  while (!to.every((t) => got.some((m) => m.to.includes(t)))) got.push(await sink.next(i++));
  return got;
}

const refuseNobody = (address: string): { code: number; text: string } | null =>
  address.startsWith('nobody') ? { code: 550, text: '5.1.1 no such user here' } : null;

beforeAll(async () => {
  hasPython = await which('python3');
  dsnSink = await startSink();
  plainSink = await startSink({ hideDSN: true });
  dsnSink.rcpt = refuseNobody;
  plainSink.rcpt = refuseNobody;
  app = await startApp({
    delivery: { routes: { 'dsn.example.com': `127.0.0.1:${dsnSink.port}`, '*': `127.0.0.1:${plainSink.port}` }, queuePollMs: 20, retryScheduleMs: [200] },
  });
  long = await createUser(app.store, 'longnv@example.gov.vn');
  hoa = await createUser(app.store, 'hoa@example.gov.vn');
}, 30_000);
afterAll(async () => {
  await app?.stop();
  await dsnSink?.close();
  await plainSink?.close();
});

describe('DSN parameters with Python smtplib', () => {
  it('NOTIFY=NEVER: a 550 from the sink gives no bounce for that recipient (the send log still says bounced)', async (ctx) => {
    if (!hasPython) return ctx.skip();
    const before = (await messagesIn(app.store, long.id)).length;
    // Two recipients refused; only the one without NOTIFY=NEVER is reported.
    const dsn = nextMessage(app.store, long.id);
    const r = await py(app, {
      rcpts: [{ to: 'nobody1@plain.example.com', options: ['NOTIFY=NEVER'] }, { to: 'nobody2@plain.example.com' }],
      data: msg('Never one', 'x'),
    });
    expect(r.rcpt).toEqual([[250, expect.any(String) as unknown], [250, expect.any(String) as unknown]]);
    const status = statusPart((await dsn).toString());
    expect(status).toContain('Final-Recipient: rfc822; nobody2@plain.example.com\r\nAction: failed\r\nStatus: 5.1.1');
    expect(status).not.toContain('nobody1');
    await bouncedOrDelivered('nobody1@plain.example.com', 'bounced');

    // Only NOTIFY=NEVER recipients: nothing at all. The DSN would be stored before the send-log row.
    await py(app, { rcpts: [{ to: 'nobody3@plain.example.com' }], rcpt_options: ['NOTIFY=NEVER'], data: msg('Never two', 'x') });
    await bouncedOrDelivered('nobody3@plain.example.com', 'bounced');
    expect((await messagesIn(app.store, long.id)).length).toBe(before + 1);
    expect(await app.store.queueDepth()).toBe(0);
  });

  it('ENVID and ORCPT come back as Original-Envelope-Id and Original-Recipient; RET=HDRS returns headers only', async (ctx) => {
    if (!hasPython) return ctx.skip();
    const dsn = nextMessage(app.store, long.id);
    await py(app, {
      mail_options: ['RET=HDRS', 'ENVID=QD99+2B2025-07'],
      rcpts: [{ to: 'nobody4@plain.example.com', options: ['ORCPT=rfc822;NoBody4@plain.example.com'] }],
      data: msg('Headers only', 'BODY-MARKER-HDRS'),
    });
    const raw = (await dsn).toString();
    const status = statusPart(raw);
    // RFC 3464 §2.2/2.3: the xtext is decoded and the case kept; each comes first in its group.
    expect(status).toMatch(/^Original-Envelope-Id: QD99\+2025-07\r\nReporting-MTA: dns; mail\.example\.gov\.vn\r\n/);
    expect(status).toContain('Original-Recipient: rfc822;NoBody4@plain.example.com\r\nFinal-Recipient: rfc822; nobody4@plain.example.com\r\nAction: failed\r\nStatus: 5.1.1');
    expect(raw).toMatch(/Content-Type: text\/rfc822-headers[\s\S]*Subject: Headers only/);
    expect(raw).not.toContain('message/rfc822');
    expect(raw).not.toContain('BODY-MARKER-HDRS');
  });

  it('RET=FULL returns the whole message as message/rfc822 with a failure', async (ctx) => {
    if (!hasPython) return ctx.skip();
    const dsn = nextMessage(app.store, long.id);
    await py(app, { mail_options: ['RET=FULL'], rcpts: [{ to: 'nobody5@plain.example.com' }], data: msg('Whole message', 'BODY-MARKER-FULL') });
    const raw = (await dsn).toString();
    expect(raw).toMatch(/Content-Type: message\/rfc822\r\nContent-Description: Undelivered message\r\n\r\n[\s\S]*Subject: Whole message[\s\S]*BODY-MARKER-FULL/);
    expect(statusPart(raw)).not.toContain('Original-Envelope-Id'); // no ENVID given: none reported
  });

  it('NOTIFY=SUCCESS to a local mailbox: a "delivered" DSN in the sender INBOX (headers only); no NOTIFY, no DSN', async (ctx) => {
    if (!hasPython) return ctx.skip();
    const before = (await messagesIn(app.store, long.id)).length;
    const arrived = nextMessage(app.store, hoa.id);
    const dsn = nextMessage(app.store, long.id);
    const r = await py(app, {
      rcpts: [{ to: 'hoa@example.gov.vn' }],
      mail_options: ['RET=FULL', 'ENVID=tx-0001'],
      rcpt_options: ['NOTIFY=SUCCESS', 'ORCPT=rfc822;hoa@example.gov.vn'],
      data: msg('Success please', 'BODY-MARKER-SUCCESS'),
    });
    expect(r.refused).toEqual({});
    expect((await arrived).toString()).toContain('BODY-MARKER-SUCCESS');
    const raw = (await dsn).toString();
    expect(raw).toMatch(/^From: .*<MAILER-DAEMON@mail\.example\.gov\.vn>/m);
    const status = statusPart(raw);
    expect(status).toMatch(/^Original-Envelope-Id: tx-0001\r\n/);
    expect(status).toContain('Original-Recipient: rfc822;hoa@example.gov.vn\r\nFinal-Recipient: rfc822; hoa@example.gov.vn\r\nAction: delivered\r\nStatus: 2.0.0');
    // RFC 3461 §4.3: RET applies to failures only; a success returns the headers.
    expect(raw).toMatch(/Content-Type: text\/rfc822-headers[\s\S]*Subject: Success please/);
    expect(raw).not.toContain('BODY-MARKER-SUCCESS');
    expect((await messagesIn(app.store, long.id)).length).toBe(before + 1);

    // Without NOTIFY: delivered, no notice (the DSN would have been stored before the 250).
    const again = nextMessage(app.store, hoa.id);
    await py(app, { rcpts: [{ to: 'hoa@example.gov.vn' }], data: msg('No notice', 'x') });
    await again;
    expect((await messagesIn(app.store, long.id)).length).toBe(before + 1);
  });

  it('NOTIFY=SUCCESS on the MX from a remote sender: the "delivered" DSN goes back through the queue with the null sender', async (ctx) => {
    if (!hasPython) return ctx.skip();
    const n = plainSink.messages.length;
    const r = await py(app, {
      submission: false,
      from: 'sender@plain.example.com',
      rcpts: [{ to: 'hoa@example.gov.vn', options: ['NOTIFY=SUCCESS,FAILURE'] }],
      mail_options: ['ENVID=remote-7'],
      data: msg('From afar', 'x', 'sender@plain.example.com'),
    });
    expect(r.dsn).toBe(true);
    expect(r.data?.[0]).toBe(250);
    const back = await plainSink.next(n);
    expect(back.from).toBe('');
    expect(back.to).toEqual(['sender@plain.example.com']);
    const status = statusPart(back.raw.toString());
    expect(status).toMatch(/^Original-Envelope-Id: remote-7\r\n/);
    expect(status).toContain('Final-Recipient: rfc822; hoa@example.gov.vn\r\nAction: delivered\r\nStatus: 2.0.0');
  });

  it('NOTIFY=SUCCESS to a server without DSN: the parameters are not sent and a "relayed" DSN comes back', async (ctx) => {
    if (!hasPython) return ctx.skip();
    const n = plainSink.messages.length;
    const dsn = nextMessage(app.store, long.id);
    await py(app, { rcpts: [{ to: 'ok1@plain.example.com', options: ['NOTIFY=SUCCESS', 'ORCPT=rfc822;ok1@plain.example.com'] }], mail_options: ['ENVID=rel-1'], data: msg('Relayed', 'x') });
    const m = await plainSink.next(n);
    expect(m.to).toEqual(['ok1@plain.example.com']);
    expect(m.mailArgs).not.toHaveProperty('ENVID');
    expect(m.rcptArgs['ok1@plain.example.com']).toEqual({});
    const status = statusPart((await dsn).toString());
    expect(status).toMatch(/^Original-Envelope-Id: rel-1\r\n/);
    expect(status).toMatch(/Original-Recipient: rfc822;ok1@plain\.example\.com\r\nFinal-Recipient: rfc822; ok1@plain\.example\.com\r\nAction: relayed\r\nStatus: 2\.0\.0\r\nRemote-MTA: dns; 127\.0\.0\.1\r\nDiagnostic-Code: smtp; 250 /);
  });

  it('to a server that offers DSN: RET, ENVID, NOTIFY and ORCPT reach it per recipient, and we send no success DSN ourselves', async (ctx) => {
    if (!hasPython) return ctx.skip();
    const before = (await messagesIn(app.store, long.id)).length;
    const n = dsnSink.messages.length;
    await py(app, {
      mail_options: ['RET=HDRS', 'ENVID=env+2B42'],
      rcpts: [
        { to: 'a1@dsn.example.com', options: ['NOTIFY=SUCCESS,DELAY', 'ORCPT=rfc822;A1@dsn.example.com'] },
        { to: 'a2@dsn.example.com', options: ['NOTIFY=NEVER'] },
        { to: 'a3@dsn.example.com' },
        { to: 'a4@dsn.example.com', options: ['NOTIFY=SUCCESS,DELAY', 'ORCPT=rfc822;A4@dsn.example.com'] },
      ],
      data: msg('Passed on', 'x'),
    });
    const got = await sinkGot(dsnSink, n, ['a1@dsn.example.com', 'a2@dsn.example.com', 'a3@dsn.example.com', 'a4@dsn.example.com']);
    // One transaction per distinct NOTIFY/ORCPT: nodemailer's dsn option is per envelope.
    expect(got).toHaveLength(4);
    const rcptArgs = Object.assign({}, ...got.map((m) => m.rcptArgs)) as SinkMessage['rcptArgs'];
    expect(rcptArgs).toEqual({
      'a1@dsn.example.com': { NOTIFY: 'SUCCESS,DELAY', ORCPT: 'rfc822;A1@dsn.example.com' },
      'a2@dsn.example.com': { NOTIFY: 'NEVER' },
      'a3@dsn.example.com': {}, // RFC 3461 §5.2.1(c): no NOTIFY given, none sent
      'a4@dsn.example.com': { NOTIFY: 'SUCCESS,DELAY', ORCPT: 'rfc822;A4@dsn.example.com' },
    });
    for (const m of got) expect(m.mailArgs).toMatchObject({ RET: 'HDRS', ENVID: 'env+42' });
    for (const a of ['a1', 'a2', 'a3', 'a4']) await bouncedOrDelivered(`${a}@dsn.example.com`, 'delivered');
    expect((await messagesIn(app.store, long.id)).length).toBe(before);
  });

  it('a 550 at RCPT from a server that offers DSN still gives our failure DSN (NOTIFY=FAILURE)', async (ctx) => {
    if (!hasPython) return ctx.skip();
    const dsn = nextMessage(app.store, long.id);
    await py(app, { rcpts: [{ to: 'nobody6@dsn.example.com', options: ['NOTIFY=FAILURE', 'ORCPT=rfc822;nobody6@dsn.example.com'] }], data: msg('Refused there', 'x') });
    expect(statusPart((await dsn).toString())).toContain('Original-Recipient: rfc822;nobody6@dsn.example.com\r\nFinal-Recipient: rfc822; nobody6@dsn.example.com\r\nAction: failed');
  });
});

describe('DSN parameter syntax', () => {
  async function client(): Promise<SmtpLineClient> {
    const c = await SmtpLineClient.connect(app.port('smtp'));
    expect((await c.read()).code).toBe(220);
    expect((await c.cmd('EHLO sender.example.com')).lines.some((l) => /^250[- ]DSN$/.test(l))).toBe(true);
    return c;
  }
  const VI_EN = /^5\.5\.4 [^/]*[^\x00-\x7f][^/]* \/ [\x20-\x7e]+$/; // Vietnamese first, then English

  it('refuses a bad NOTIFY, NOTIFY=NEVER with others, bad ORCPT and repeated parameters at RCPT with 501 5.5.4, bilingual', async () => {
    const c = await client();
    expect((await c.cmd('MAIL FROM:<a@sender.example.com>')).code).toBe(250);
    const cases: Array<[string, RegExp]> = [
      ['NOTIFY=BOGUS', /Tham số NOTIFY không hợp lệ.* \/ Invalid NOTIFY parameter/],
      ['NOTIFY=NEVER,SUCCESS', /NOTIFY=NEVER không được kết hợp .* \/ NOTIFY=NEVER cannot be combined with other values/],
      ['NOTIFY=SUCCESS,,DELAY', /Invalid NOTIFY parameter/],
      ['NOTIFY=', /NOTIFY .*\/ The NOTIFY parameter requires a value/],
      ['ORCPT=lan@example.gov.vn', /Invalid ORCPT parameter/], // no addr-type
      ['ORCPT=rfc822;a+2b@example.gov.vn', /Invalid ORCPT parameter/], // hexchar must be upper case
      ['ORCPT=rfc822;a=b@example.gov.vn', /Invalid ORCPT parameter/], // "=" is not xtext
      ['ORCPT=rfc822;+0D+0Ax@example.gov.vn', /Invalid ORCPT parameter|Tham số/], // control characters
      [`ORCPT=rfc822;${'a'.repeat(500)}@example.gov.vn`, /Invalid ORCPT parameter/],
      ['NOTIFY=SUCCESS NOTIFY=FAILURE', /Duplicate NOTIFY parameter/],
    ];
    for (const [params, text] of cases) {
      const r = await c.cmd(`RCPT TO:<hoa@example.gov.vn> ${params}`);
      expect([r.code, r.text], params).toEqual([501, expect.stringMatching(text)]);
      expect(r.text, params).toMatch(VI_EN);
    }
    // Still usable: keywords in any case, a valid ORCPT with a hexchar.
    expect((await c.cmd('RCPT TO:<hoa@example.gov.vn> NOTIFY=success,Delay ORCPT=rfc822;hoa+2Btag@example.gov.vn')).code).toBe(250);
    c.close();
  });

  it('refuses a bad RET or ENVID at MAIL FROM with 501 5.5.4, bilingual', async () => {
    const c = await client();
    const cases: Array<[string, RegExp]> = [
      ['RET=BODY', /Tham số RET không hợp lệ .* \/ Invalid RET parameter/],
      ['ENVID=a=b', /Tham số ENVID không hợp lệ .* \/ Invalid ENVID parameter/],
      ['ENVID=abc+zz', /Invalid ENVID parameter/],
      [`ENVID=${'x'.repeat(101)}`, /Invalid ENVID parameter/],
      ['RET=HDRS RET=FULL', /Duplicate RET parameter/],
    ];
    for (const [params, text] of cases) {
      const r = await c.cmd(`MAIL FROM:<a@sender.example.com> ${params}`);
      expect([r.code, r.text], params).toEqual([501, expect.stringMatching(text)]);
      expect(r.text, params).toMatch(VI_EN);
    }
    expect((await c.cmd(`MAIL FROM:<a@sender.example.com> RET=hdrs ENVID=${'x'.repeat(100)}`)).code).toBe(250);
    c.close();
  });
});

describe('delay notices follow NOTIFY', () => {
  it('only recipients whose NOTIFY includes DELAY (or who gave none) are in the delay notice; the final bounce follows NOTIFY=FAILURE', async (ctx) => {
    if (!hasPython) return ctx.skip();
    const slow = await startSink();
    slow.rcpt = () => ({ code: 451, text: '4.7.1 greylisted' });
    const a = await startApp({ delivery: { routes: { '*': `127.0.0.1:${slow.port}` }, queuePollMs: 20, retryScheduleMs: [100], delayNoticeAfterMs: 0, maxQueueAgeMs: 800 } });
    try {
      const u = await createUser(a.store, 'longnv@example.gov.vn');
      const delayed = nextMessage(a.store, u.id);
      await py(a, {
        rcpts: [
          { to: 'd1@slow.example.com', options: ['NOTIFY=FAILURE'] },
          { to: 'd2@slow.example.com', options: ['NOTIFY=DELAY'] },
          { to: 'd3@slow.example.com' },
          { to: 'd4@slow.example.com', options: ['NOTIFY=NEVER'] },
        ],
        data: msg('Slow', 'x'),
      });
      const d = statusPart((await delayed).toString());
      expect(d.match(/^Final-Recipient: .*$/gm)).toEqual(['Final-Recipient: rfc822; d2@slow.example.com', 'Final-Recipient: rfc822; d3@slow.example.com']);
      expect(d).toMatch(/Action: delayed\r\nStatus: 4\.7\.1/);
      await until(async () => (await a.store.queueDepth()) === 0);
      const all = await messagesIn(a.store, u.id);
      expect(all).toHaveLength(2);
      const failed = statusPart(all[1]?.toString() ?? '');
      expect(failed.match(/^Final-Recipient: .*$/gm)).toEqual(['Final-Recipient: rfc822; d1@slow.example.com', 'Final-Recipient: rfc822; d3@slow.example.com']);
      expect(failed).toMatch(/Action: failed\r\nStatus: 4\.4\.7/);
    } finally {
      await a.stop();
      await slow.close();
    }
  });
});
