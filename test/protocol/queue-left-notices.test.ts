/**
 * What the outbound queue leaves behind when a notice cannot go, driven one attempt at a time
 * (a ManualClock and runOnce) against a local sink reached through delivery.routes:
 *  - a recipient that failed (5xx, or its queue lifetime expired) but whose failure DSN could not
 *    be queued waits for the notice alone: it is never sent to again;
 *  - the same for a success notice (NOTIFY=SUCCESS) that could not be queued;
 *  - a message blob that cannot be read for a moment (EIO, EMFILE) is not "lost": the attempt
 *    follows the retry schedule and the notice at expiry does not say the message was lost;
 *    only a blob that does not exist (ENOENT) is, and it fails every recipient at once (5.3.0);
 *  - the outcomes are stored before any notice goes: a store that fails (or a restart) between
 *    the steps neither sends a recipient the message twice nor sends the notice twice;
 *  - a notice that can never be sent is dropped a day after the queue lifetime, with an error;
 *  - a notice sent late gives each recipient the time of its attempt (Last-Attempt-Date).
 */
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createDelivery } from '../../src/delivery/index.js';
import { ManualClock } from '../../src/lib/clock.js';
import { createLogger } from '../../src/lib/log.js';
import { createQueueRunner, type QueueRunner } from '../../src/smtp/queue.js';
import type { NewQueueItem, Store } from '../../src/store/port.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { createUser, messagesIn, startSink, type Sink } from './smtp-helpers.js';

const SENDER = 'longnv@example.gov.vn';
const FAR = 'far@remote.example.net';
const MINUTE = 60_000;
const LOST_TEXT = 'was lost on the server';

/** The store with some methods replaced (the rest bound to the real one). */
function withOverrides(store: Store, over: Partial<Store>): Store {
  return new Proxy(store, {
    get(target, p) {
      const own = (over as Record<string | symbol, unknown>)[p];
      if (own !== undefined) return own;
      const v: unknown = Reflect.get(target, p, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

interface Rig {
  app: TestApp;
  sink: Sink;
  clock: ManualClock;
  queue: QueueRunner;
  /** The store the queue runner sees (with any overrides). */
  store: Store;
  /** RCPT TO addresses the sink was given, in order, over every attempt. */
  rcpts: string[];
  /** What the queue runner logged (pino JSON lines, parsed). */
  logs: Array<{ level: number; msg: string; [k: string]: unknown }>;
}

let rigs: Rig[] = [];
afterEach(async () => {
  for (const r of rigs) {
    await r.app.stop();
    await r.sink.close();
  }
  rigs = [];
});

/** The app, a queue runner of our own (the app's never polls) and the sink every domain routes to. */
async function rig(opts: { hideDSN?: boolean; delivery?: Record<string, unknown>; over?: (s: Store) => Partial<Store> } = {}): Promise<Rig> {
  const sink = await startSink({ hideDSN: opts.hideDSN ?? false });
  const rcpts: string[] = [];
  const clock = new ManualClock(new Date('2026-11-23T00:00:00Z'));
  const app = await startApp({ delivery: { routes: { '*': `127.0.0.1:${sink.port}` }, queuePollMs: 3_600_000, retryScheduleMs: [MINUTE], ...opts.delivery } }, { clock });
  const store = withOverrides(app.store, opts.over?.(app.store) ?? {});
  const dlv = createDelivery({ store, config: app.config, log: app.log, clock });
  const logs: Rig['logs'] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) logs.push(JSON.parse(line) as Rig['logs'][number]);
      done();
    },
  });
  const log = createLogger({ level: 'info', destination });
  const queue = createQueueRunner({ config: app.config, log, clock, store, metrics: app.metrics, delivery: dlv });
  const r: Rig = { app, sink, clock, queue, store, rcpts, logs };
  rigs.push(r);
  return r;
}

function message(to: string): Buffer {
  return Buffer.from(
    `From: <${SENDER}>\r\nTo: <${to}>\r\nSubject: left behind\r\nMessage-ID: <left-${Math.random().toString(36).slice(2)}@example.gov.vn>\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\n\r\nthe body text\r\n`,
  );
}

async function enqueue(r: Rig, recipients: string[], extra: Partial<NewQueueItem> = {}): Promise<{ id: number; blobId: string; messageId: string | null }> {
  const raw = message(recipients[0] ?? '');
  const messageId = /^Message-ID: (.*)$/m.exec(raw.toString())?.[1]?.trim() ?? null;
  return r.store.enqueue({ sender: SENDER, recipients, raw, account: null, messageId, now: r.clock.now(), ...extra });
}

/** Final-Recipient, Action and Status of each recipient of a DSN. */
function reported(dsn: Buffer | string): string[] {
  return [...dsn.toString().matchAll(/Final-Recipient: rfc822; (\S+)\r\nAction: (\w+)\r\nStatus: ([\d.]+)/g)].map((m) => `${m[1]} ${m[2]} ${m[3]}`).sort();
}

/** The DSN's human-readable part (base64 in the message), decoded. */
function humanText(dsn: Buffer | string): string {
  const b64 = /Content-Description: Notification\r\n\r\n([A-Za-z0-9+/=\r\n]+?)\r\n--/.exec(dsn.toString())?.[1];
  if (!b64) throw new Error('no notification part');
  return Buffer.from(b64.replace(/\r\n/g, ''), 'base64').toString('utf8');
}

/** Notices (null sender) the sink received, and the other messages. */
const bounces = (r: Rig) => r.sink.messages.filter((m) => m.from === '');
const mail = (r: Rig) => r.sink.messages.filter((m) => m.from !== '');

/** Fails the queue's store.enqueue (where a DSN to a remote sender goes) while `on` is set. */
function failingEnqueue(): { on: boolean; over: (s: Store) => Partial<Store> } {
  const f = {
    on: false,
    over: (s: Store): Partial<Store> => ({
      enqueue: async (item) => {
        if (f.on) throw new Error('disk full (simulated)');
        return s.enqueue(item);
      },
    }),
  };
  return f;
}

describe('a recipient whose failure notice could not be sent', () => {
  it('is not sent to again after a 5xx: only its DSN is tried at the next attempt, then the item is done', async () => {
    const f = failingEnqueue();
    const r = await rig({ over: f.over });
    // gone@ is refused once; were it tried again it would be accepted (and get the message after its bounce).
    r.sink.rcpt = (a, n) => {
      r.rcpts.push(a);
      return a.startsWith('gone') && n === 1 ? { code: 550, text: '5.1.1 no such user' } : null;
    };
    await enqueue(r, ['gone@other.example.com', 'ok@other.example.com'], { sender: FAR });
    const attemptAt = r.clock.now().getTime();

    f.on = true;
    await r.queue.runOnce();
    const [left] = await r.app.store.listQueue();
    expect(left?.recipients).toEqual(['gone@other.example.com']);

    f.on = false;
    r.clock.advance(MINUTE);
    await r.queue.runOnce();
    expect(r.rcpts.filter((a) => a === 'gone@other.example.com')).toHaveLength(1); // never again
    await r.queue.runOnce(); // the DSN itself, queued by the attempt before
    expect(await r.app.store.listQueue()).toEqual([]);
    expect(mail(r).map((m) => m.to)).toEqual([['ok@other.example.com']]);
    expect(bounces(r).map((m) => m.to)).toEqual([[FAR]]);
    const dsn = bounces(r)[0]?.raw.toString() ?? '';
    expect(reported(dsn)).toEqual(['gone@other.example.com failed 5.1.1']);
    expect(dsn).toContain('Diagnostic-Code: smtp; 550 5.1.1 no such user');
    // RFC 3464 §2.3.7: the time of the attempt, not of the notice a minute later.
    expect(dsn).toContain('Last-Attempt-Date: Mon, 23 Nov 2026 00:00:00 +0000');
    expect(dsn).toContain('Date: Mon, 23 Nov 2026 00:01:00 +0000');
    // The bounce was logged once, at the attempt that failed.
    const log = await r.app.store.searchSendLog({ recipient: 'gone@other.example.com' });
    expect(log.map((x) => x.outcome)).toEqual(['bounced']);
    // How it waited: marked as failed, with its line of the notice as first made.
    expect(left?.noticePending).toEqual({
      'gone@other.example.com': {
        action: 'failed',
        status: '5.1.1',
        diagnostic: expect.stringContaining('550 5.1.1 no such user') as unknown,
        remoteMta: '127.0.0.1',
        originalRecipient: null,
        lastAttemptAt: attemptAt,
      },
    });
  });

  it('is not sent to again after its queue lifetime expired (4.4.7)', async () => {
    const f = failingEnqueue();
    const r = await rig({ over: f.over, delivery: { maxQueueAgeMs: 30 * MINUTE, delayNoticeAfterMs: 24 * 60 * MINUTE } });
    let busy = true;
    r.sink.rcpt = (a) => {
      r.rcpts.push(a);
      return busy ? { code: 451, text: '4.2.1 mailbox busy, try later' } : null;
    };
    await enqueue(r, ['slow@other.example.com'], { sender: FAR });

    await r.queue.runOnce(); // deferred
    r.clock.advance(30 * MINUTE);
    f.on = true;
    await r.queue.runOnce(); // expired: bounced, but the DSN cannot be queued
    const [left] = await r.app.store.listQueue();
    expect(r.rcpts.filter((a) => a === 'slow@other.example.com')).toHaveLength(2);

    f.on = false;
    busy = false; // were it tried again, it would now be delivered after its bounce
    r.clock.advance(MINUTE);
    await r.queue.runOnce();
    await r.queue.runOnce();
    expect(r.rcpts.filter((a) => a === 'slow@other.example.com')).toHaveLength(2);
    expect(mail(r)).toEqual([]);
    expect(await r.app.store.listQueue()).toEqual([]);
    expect(bounces(r).map((m) => reported(m.raw))).toEqual([['slow@other.example.com failed 4.4.7']]);
    expect(left?.noticePending).toMatchObject({ 'slow@other.example.com': { action: 'failed', status: '4.4.7' } });
  });

  it('a success notice (NOTIFY=SUCCESS) that could not be sent is tried again, without a second delivery', async () => {
    const f = failingEnqueue();
    const r = await rig({ over: f.over, hideDSN: true });
    r.sink.rcpt = (a) => {
      r.rcpts.push(a);
      return null;
    };
    await enqueue(r, ['ok@other.example.com'], { sender: FAR, recipientDsn: { 'ok@other.example.com': { notify: ['SUCCESS'], orcpt: null } } });

    f.on = true;
    await r.queue.runOnce();
    const [left] = await r.app.store.listQueue();

    f.on = false;
    r.clock.advance(MINUTE);
    await r.queue.runOnce();
    await r.queue.runOnce();
    expect(await r.app.store.listQueue()).toEqual([]);
    expect(r.rcpts).toEqual(['ok@other.example.com', FAR]);
    expect(mail(r).map((m) => m.to)).toEqual([['ok@other.example.com']]);
    expect(bounces(r).map((m) => reported(m.raw))).toEqual([['ok@other.example.com relayed 2.0.0']]);
    expect(left?.noticePending).toMatchObject({ 'ok@other.example.com': { action: 'relayed', status: '2.0.0' } });
  });
});

describe('a message blob that cannot be read', () => {
  const ioError = (code: string) => Object.assign(new Error(`${code}: read failed (simulated)`), { code });

  it.each(['EIO', 'EMFILE', 'EACCES'])('(%s) follows the retry schedule and is not called lost in the expiry DSN', async (code) => {
    let blobId = '';
    const r = await rig({
      delivery: { retryScheduleMs: [MINUTE, 10 * MINUTE], maxQueueAgeMs: 30 * MINUTE },
      over: (s) => ({
        readBlob: async (id, range) => {
          if (id === blobId) throw ioError(code);
          return s.readBlob(id, range);
        },
      }),
    });
    const u = await createUser(r.app.store, SENDER);
    // RET=FULL: what little the queue knows still goes back as headers, not as a message.
    const item = await enqueue(r, ['far@other.example.com'], { dsn: { ret: 'FULL', envid: null } });
    blobId = item.blobId;
    const start = r.clock.now().getTime();

    await r.queue.runOnce();
    let [left] = await r.app.store.listQueue();
    expect(left?.nextAttemptAt.getTime()).toBe(start + MINUTE);
    r.clock.advance(MINUTE);
    await r.queue.runOnce();
    [left] = await r.app.store.listQueue();
    expect(left?.nextAttemptAt.getTime()).toBe(start + 11 * MINUTE);
    expect(await messagesIn(r.app.store, u.id)).toHaveLength(0);

    r.clock.advance(30 * MINUTE);
    await r.queue.runOnce();
    expect(await r.app.store.listQueue()).toEqual([]);
    const dsns = await messagesIn(r.app.store, u.id);
    expect(dsns).toHaveLength(1);
    const text = dsns[0]?.toString() ?? '';
    expect(reported(text)).toEqual(['far@other.example.com failed 4.4.7']);
    expect(humanText(text)).not.toContain(LOST_TEXT);
    expect(humanText(text)).toContain('Temporary server failure while sending the message (queue lifetime expired)');
    expect(text).not.toContain('5.3.0');
    expect(text).not.toContain('Content-Type: message/rfc822');
    expect(text).toMatch(new RegExp(`Content-Type: text/rfc822-headers\\r\\n[^]*Message-ID: ${item.messageId ?? 'none'}`));
    expect(r.sink.messages).toEqual([]);
  });

  it('(ENOENT: its file is gone) is lost: every recipient fails at once with 5.3.0 and the DSN says so', async () => {
    let blobId = '';
    const r = await rig({
      delivery: { maxQueueAgeMs: 30 * MINUTE },
      over: (s) => ({
        readBlob: async (id, range) => {
          if (id === blobId) throw ioError('ENOENT');
          return s.readBlob(id, range);
        },
      }),
    });
    const u = await createUser(r.app.store, SENDER);
    blobId = (await enqueue(r, ['far@other.example.com'])).blobId;

    await r.queue.runOnce(); // no retry schedule: no later attempt can find the file again
    expect(await r.app.store.listQueue()).toEqual([]);
    const [dsn] = await messagesIn(r.app.store, u.id);
    expect(reported(dsn ?? '')).toEqual(['far@other.example.com failed 5.3.0']);
    expect(dsn?.toString()).toContain('Diagnostic-Code: smtp; 554 5.3.0 The message data was lost on the server');
    expect(humanText(dsn ?? '')).toContain(LOST_TEXT);
    expect(r.sink.messages).toEqual([]);
  });

  it('(EIO) of a message without a Message-ID: the expiry DSN has no empty headers part', async () => {
    let blobId = '';
    const r = await rig({
      delivery: { maxQueueAgeMs: 30 * MINUTE },
      over: (s) => ({
        readBlob: async (id, range) => {
          if (id === blobId) throw ioError('EIO');
          return s.readBlob(id, range);
        },
      }),
    });
    const u = await createUser(r.app.store, SENDER);
    blobId = (await enqueue(r, ['far@other.example.com'], { messageId: null })).blobId;

    await r.queue.runOnce();
    r.clock.advance(30 * MINUTE);
    await r.queue.runOnce();
    expect(await r.app.store.listQueue()).toEqual([]);
    const [dsn] = await messagesIn(r.app.store, u.id);
    const text = dsn?.toString() ?? '';
    expect(reported(text)).toEqual(['far@other.example.com failed 4.4.7']);
    expect(humanText(text)).not.toContain(LOST_TEXT);
    // Nothing is known of the message: the optional third part (RFC 3464 §2) is left out.
    expect(text).not.toContain('text/rfc822-headers');
    expect(text).not.toContain('message/rfc822');
    const boundary = /boundary="([^"]+)"/.exec(text)?.[1] ?? 'none';
    expect(text.split(`--${boundary}\r\n`)).toHaveLength(3); // preamble, notification, delivery-status
    expect(text).toMatch(new RegExp(`Content-Type: message/delivery-status\\r\\n[^]*Last-Attempt-Date: [^\\r]+\\r\\n\\r\\n--${boundary}--\\r\\n$`));
  });
});

describe('the outcomes are stored before any notice goes', () => {
  it('a finishAttempt that fails once: nobody is sent to twice and one bounce goes', async () => {
    let failures = 1;
    const r = await rig({
      over: (s) => ({
        finishAttempt: async (id, res) => {
          if (failures-- > 0) throw Object.assign(new Error('SQLITE_BUSY: database is locked (simulated)'), { code: 'SQLITE_BUSY' });
          return s.finishAttempt(id, res);
        },
      }),
    });
    r.sink.rcpt = (a) => {
      r.rcpts.push(a);
      return a.startsWith('gone') ? { code: 550, text: '5.1.1 no such user' } : null;
    };
    await enqueue(r, ['gone@other.example.com', 'ok@other.example.com'], { sender: FAR });

    await r.queue.runOnce(); // the attempt, whose first store write fails; the second stores it
    for (let i = 0; i < 3; i++) {
      r.clock.advance(MINUTE);
      await r.queue.runOnce(); // the bounce, queued once; nothing else
    }
    expect(await r.app.store.listQueue()).toEqual([]);
    expect(r.rcpts).toEqual(['gone@other.example.com', 'ok@other.example.com', FAR]);
    expect(mail(r).map((m) => m.to)).toEqual([['ok@other.example.com']]);
    expect(bounces(r).map((m) => reported(m.raw))).toEqual([['gone@other.example.com failed 5.1.1']]);
    expect(await r.app.store.searchSendLog({ recipient: 'ok@other.example.com' })).toHaveLength(1);
  });

  it('a finishAttempt that stored the outcomes but reported a failure: no second delivery, no second bounce', async () => {
    let failures = 1;
    const r = await rig({
      over: (s) => ({
        finishAttempt: async (id, res) => {
          await s.finishAttempt(id, res);
          if (failures-- > 0) throw Object.assign(new Error('disk I/O error after commit (simulated)'), { code: 'SQLITE_IOERR' });
        },
      }),
    });
    // later@ is busy once, so the item stays queued after the attempt.
    r.sink.rcpt = (a, n) => {
      r.rcpts.push(a);
      if (a.startsWith('later') && n === 1) return { code: 451, text: '4.2.1 mailbox busy, try later' };
      return a.startsWith('gone') ? { code: 550, text: '5.1.1 no such user' } : null;
    };
    await enqueue(r, ['gone@other.example.com', 'ok@other.example.com', 'later@other.example.com'], { sender: FAR });

    await r.queue.runOnce();
    for (let i = 0; i < 3; i++) {
      r.clock.advance(MINUTE);
      await r.queue.runOnce();
    }
    expect(await r.app.store.listQueue()).toEqual([]);
    expect([...r.rcpts].sort()).toEqual([FAR, 'gone@other.example.com', 'later@other.example.com', 'later@other.example.com', 'ok@other.example.com']);
    expect(mail(r).map((m) => m.to)).toEqual([['ok@other.example.com'], ['later@other.example.com']]);
    expect(bounces(r).map((m) => reported(m.raw))).toEqual([['gone@other.example.com failed 5.1.1']]);
  });

  it('a crash (kill -9) after the attempt, before its notice went: after the restart only the notice goes', async () => {
    // The notice never returns: the runner is as good as dead from there on.
    let hang = false;
    const r = await rig({
      over: (s) => ({
        enqueue: (item) => (hang ? new Promise<never>(() => undefined) : s.enqueue(item)),
      }),
    });
    r.sink.rcpt = (a) => {
      r.rcpts.push(a);
      return a.startsWith('gone') ? { code: 550, text: '5.1.1 no such user' } : null;
    };
    await enqueue(r, ['gone@other.example.com', 'ok@other.example.com'], { sender: FAR });
    hang = true;
    void r.queue.runOnce(); // never settles
    for (let i = 0; i < 100 && r.rcpts.length < 2; i++) await new Promise((ok) => setTimeout(ok, 20));
    await new Promise((ok) => setTimeout(ok, 200));
    const [left] = await r.app.store.listQueue();
    expect(left?.recipients).toEqual(['gone@other.example.com']);
    expect(left?.noticePending).toMatchObject({ 'gone@other.example.com': { action: 'failed', status: '5.1.1' } });

    // The restart: a new runner on the same store, past any claim the dead one held.
    hang = false;
    const restarted = createQueueRunner({ config: r.app.config, log: r.app.log, clock: r.clock, store: r.app.store, metrics: r.app.metrics, delivery: createDelivery({ store: r.app.store, config: r.app.config, log: r.app.log, clock: r.clock }) });
    for (let i = 0; i < 3; i++) {
      r.clock.advance(15 * MINUTE);
      await restarted.runOnce();
    }
    expect(await r.app.store.listQueue()).toEqual([]);
    expect(r.rcpts).toEqual(['gone@other.example.com', 'ok@other.example.com', FAR]);
    expect(mail(r).map((m) => m.to)).toEqual([['ok@other.example.com']]);
    expect(bounces(r).map((m) => reported(m.raw))).toEqual([['gone@other.example.com failed 5.1.1']]);
  });
});

describe('a notice that can never be sent', () => {
  it('is dropped a day after the queue lifetime ended, with an error logged', async () => {
    const f = failingEnqueue();
    const r = await rig({ over: f.over, delivery: { maxQueueAgeMs: 30 * MINUTE, retryScheduleMs: [60 * MINUTE] } });
    r.sink.rcpt = (a) => {
      r.rcpts.push(a);
      return a.startsWith('gone') ? { code: 550, text: '5.1.1 no such user' } : null;
    };
    const start = r.clock.now().getTime();
    const { id } = await enqueue(r, ['gone@other.example.com'], { sender: FAR });
    f.on = true;
    await r.queue.runOnce();
    // Until a day past the 30-minute lifetime the notice is tried again at every attempt.
    while (r.clock.now().getTime() < start + 30 * MINUTE + 24 * 60 * MINUTE - 60 * MINUTE) {
      r.clock.advance(60 * MINUTE);
      await r.queue.runOnce();
    }
    const [left] = await r.app.store.listQueue();
    expect(left?.id).toBe(id);
    expect(left?.noticePending).toHaveProperty(['gone@other.example.com']);
    expect(r.logs.some((l) => /dropped/.test(l.msg))).toBe(false);

    r.clock.advance(60 * MINUTE); // 24h30 past its arrival: the grace is over
    await r.queue.runOnce();
    expect(await r.app.store.listQueue()).toEqual([]);
    expect(r.rcpts).toEqual(['gone@other.example.com']); // never sent to again meanwhile
    expect(bounces(r)).toEqual([]);
    const dropped = r.logs.filter((l) => l.msg.includes('not sent a day after the queue lifetime ended; dropped'));
    expect(dropped).toHaveLength(1);
    expect(dropped[0]).toMatchObject({ level: 50, queueId: id, recipients: ['gone@other.example.com'] });
    expect((await r.app.metrics.noticesDropped.get()).values[0]?.value).toBe(1);
  });
});
