/** The durable outbound queue over real sockets: routes to a local sink, retries, bounces, delay notices, restarts, DKIM. */
import { dkimVerify } from 'mailauth';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dkimDnsRecord, generateDkimKey } from '../../src/smtp/dkim.js';
import type { Account } from '../../src/store/port.js';
import { startApp, testDir, type TestApp } from '../helpers/app.js';
import { createUser, nextMessage, PASSWORD, startSink, until, type Sink } from './smtp-helpers.js';

let app: TestApp;
let sink: Sink;
let long: Account;

function send(a: TestApp, to: string, subject: string): Promise<unknown> {
  return nodemailer
    .createTransport({ host: '127.0.0.1', port: a.port('submission'), tls: { rejectUnauthorized: false }, auth: { user: 'longnv', pass: PASSWORD } })
    .sendMail({ from: 'longnv@example.gov.vn', to, subject, text: 'Nội dung thử nghiệm' });
}

beforeAll(async () => {
  sink = await startSink();
  sink.rcpt = (address, attempt) => {
    if (address === 'retry@other.example.com' && attempt === 1) return { code: 451, text: '4.3.0 try again later' };
    if (address === 'nobody@other.example.com') return { code: 550, text: '5.1.1 no such user here' };
    return null;
  };
  app = await startApp({ delivery: { routes: { '*': `127.0.0.1:${sink.port}` }, queuePollMs: 20, retryScheduleMs: [200] } });
  long = await createUser(app.store, 'longnv@example.gov.vn');
}, 30_000);
afterAll(async () => {
  await app?.stop();
  await sink?.close();
});

describe('outbound queue', () => {
  it('retries after a 451 and then delivers', async () => {
    const n = sink.messages.length;
    await send(app, 'retry@other.example.com', 'Thử lại');
    const m = await sink.next(n);
    expect(m.to).toEqual(['retry@other.example.com']);
    const rows = await until(async () => {
      const r = await app.store.searchSendLog({ recipient: 'retry@other.example.com' });
      return r.some((x) => x.outcome === 'delivered') ? r : null;
    });
    const outbound = rows.filter((r) => r.direction === 'outbound').map((r) => r.outcome).sort();
    expect(outbound).toEqual(['deferred', 'delivered']);
    expect(await app.store.queueDepth()).toBe(0);
  });

  it('bounces at once on a 550: an RFC 3464 DSN arrives in the sender INBOX', async () => {
    const dsn = nextMessage(app.store, long.id);
    await send(app, 'nobody@other.example.com', 'Không tới');
    const raw = (await dsn).toString();
    expect(raw).toMatch(/Content-Type: multipart\/report; report-type=delivery-status/);
    expect(raw).toMatch(/Final-Recipient: rfc822; nobody@other\.example\.com\r\nAction: failed\r\nStatus: 5\.1\.1/);
    expect(raw).toContain('Diagnostic-Code: smtp; 550 5.1.1 no such user here');
    expect(raw).toMatch(/Content-Type: text\/rfc822-headers[\s\S]*To: nobody@other\.example\.com/); // original headers returned
    const log = await until(async () => (await app.store.searchSendLog({ recipient: 'nobody@other.example.com' })).find((r) => r.outcome === 'bounced'));
    expect(log.code).toBe(550);
  });

  it('signs outbound mail with the domain DKIM key (verifies with mailauth against the published record)', async () => {
    const key = await generateDkimKey(app.store, 'example.gov.vn', 'buudien', new Date());
    const rec = dkimDnsRecord(key);
    const n = sink.messages.length;
    await send(app, 'signed@other.example.com', 'Có chữ ký');
    const m = await sink.next(n);
    expect(m.raw.toString()).toMatch(/^DKIM-Signature: .*d=example\.gov\.vn/s);
    const resolver = async (name: string, type: string): Promise<string[][]> => {
      if (type === 'TXT' && name === rec.name) return [[rec.value]];
      const e = new Error('not found') as Error & { code: string };
      e.code = 'ENOTFOUND';
      throw e;
    };
    const v = await dkimVerify(m.raw, { resolver });
    expect(v.results[0]?.status.result).toBe('pass');
  });
});

describe('queue lifetime', () => {
  it('sends a delay notice, then bounces with 4.4.7 when delivery.maxQueueAgeMs passes', async () => {
    const slow = await startSink();
    slow.rcpt = () => ({ code: 451, text: '4.7.1 greylisted' });
    const a = await startApp({ delivery: { routes: { '*': `127.0.0.1:${slow.port}` }, queuePollMs: 20, retryScheduleMs: [100], delayNoticeAfterMs: 0, maxQueueAgeMs: 600 } });
    try {
      const u = await createUser(a.store, 'longnv@example.gov.vn');
      const delayed = nextMessage(a.store, u.id);
      await send(a, 'later@other.example.com', 'Chậm');
      const d = (await delayed).toString();
      expect(d).toMatch(/Action: delayed\r\nStatus: 4\.7\.1/);
      const failed = nextMessage(a.store, u.id);
      const f = (await failed).toString();
      expect(f).toMatch(/Action: failed\r\nStatus: 4\.4\.7/);
      await until(async () => (await a.store.queueDepth()) === 0);
    } finally {
      await a.stop();
      await slow.close();
    }
  });

  it('keeps a queued message across a restart (same storage dir)', async () => {
    const dir = testDir();
    const first = await startApp({ delivery: { queuePollMs: 3_600_000 } }, { dir });
    await createUser(first.store, 'longnv@example.gov.vn');
    await send(first, 'after-restart@other.example.com', 'Sau khi khởi động lại');
    expect(await first.store.queueDepth()).toBe(1);
    await first.stop();
    const n = sink.messages.length;
    const second = await startApp({ delivery: { routes: { '*': `127.0.0.1:${sink.port}` }, queuePollMs: 20 } }, { dir });
    try {
      const m = await sink.next(n);
      expect(m.to).toEqual(['after-restart@other.example.com']);
      expect(m.raw.toString()).toMatch(/^Subject: =\?utf-8\?/im);
    } finally {
      await second.stop();
    }
  });
});
