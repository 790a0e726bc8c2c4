/**
 * The outbound queue when things go wrong, driven one attempt at a time (a ManualClock and
 * runOnce) against a scripted SMTP server over a real socket: an attempt that throws, a lost
 * message blob, a DATA refusal next to RCPT replies, the next hop's SIZE, a STARTTLS handshake
 * that fails, a DSN to a local sender over quota, and a DSN that cannot be sent.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createDelivery } from '../../src/delivery/index.js';
import { ManualClock } from '../../src/lib/clock.js';
import { bi, MailError } from '../../src/lib/errors.js';
import { createQueueRunner, type QueueRunner } from '../../src/smtp/queue.js';
import type { Store } from '../../src/store/port.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { createUser, messagesIn } from './smtp-helpers.js';

/** What the scripted server does: each hook returns a reply line, or null for the default. */
interface Script {
  ehlo?: string[];
  rcpt?: (address: string) => string | null;
  /** The reply after the message's final dot. */
  dataEnd?: () => string;
  /** After "220" to STARTTLS: the socket is the script's (default: junk, then close). */
  startTls?: (s: net.Socket) => void;
}

interface Transaction {
  from: string;
  to: string[];
  data: string;
}

interface ScriptedSink {
  port: number;
  /** Every command line received, in order. */
  lines: string[];
  /** Messages whose DATA ended, whatever the reply. */
  messages: Transaction[];
  close(): Promise<void>;
}

async function scriptedSink(script: Script): Promise<ScriptedSink> {
  const lines: string[] = [];
  const messages: Transaction[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let buf = '';
    let tx: Transaction = { from: '', to: [], data: '' };
    let inData = false;
    const reply = (l: string): boolean => s.write(`${l}\r\n`);
    const onData = (d: Buffer): void => {
      buf += d.toString('latin1');
      for (;;) {
        if (inData) {
          const end = `\r\n${buf}`.indexOf('\r\n.\r\n');
          if (end < 0) return;
          tx.data = buf.slice(0, Math.max(0, end));
          buf = buf.slice(end + 3);
          inData = false;
          messages.push(tx);
          reply(script.dataEnd?.() ?? '250 2.0.0 ok');
          continue;
        }
        const i = buf.indexOf('\r\n');
        if (i < 0) return;
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        lines.push(line);
        const u = line.toUpperCase();
        if (u.startsWith('EHLO')) {
          const ext = ['sink', ...(script.ehlo ?? ['PIPELINING', '8BITMIME'])];
          s.write(ext.map((e, n) => `250${n === ext.length - 1 ? ' ' : '-'}${e}\r\n`).join(''));
        } else if (u === 'STARTTLS') {
          reply('220 2.0.0 go ahead');
          s.off('data', onData);
          (script.startTls ?? ((x: net.Socket) => x.end('this is not TLS\r\n')))(s);
          return;
        } else if (u.startsWith('MAIL')) {
          tx = { from: /<([^>]*)>/.exec(line)?.[1] ?? '', to: [], data: '' };
          reply('250 2.1.0 ok');
        } else if (u.startsWith('RCPT')) {
          const to = /<([^>]*)>/.exec(line)?.[1] ?? '';
          const r = script.rcpt?.(to) ?? '250 2.1.5 ok';
          if (r.startsWith('2')) tx.to.push(to);
          reply(r);
        } else if (u === 'DATA') {
          if (tx.to.length === 0) reply('554 5.5.1 no valid recipients');
          else {
            inData = true;
            reply('354 go ahead');
          }
        } else if (u === 'QUIT') s.end('221 2.0.0 bye\r\n');
        else reply('250 2.0.0 ok');
      }
    };
    s.on('data', onData);
    reply('220 sink ESMTP');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    lines,
    messages,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

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

const SENDER = 'longnv@example.gov.vn';
const MINUTE = 60_000;

interface Rig {
  app: TestApp;
  sink: ScriptedSink;
  clock: ManualClock;
  queue: QueueRunner;
  /** The store the queue runner sees (with any overrides). */
  store: Store;
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
async function rig(script: Script, delivery: Record<string, unknown> = {}, over: (s: Store) => Partial<Store> = () => ({})): Promise<Rig> {
  const sink = await scriptedSink(script);
  const clock = new ManualClock(new Date('2026-11-23T00:00:00Z'));
  const app = await startApp({ delivery: { routes: { '*': `127.0.0.1:${sink.port}` }, queuePollMs: 3_600_000, retryScheduleMs: [MINUTE], ...delivery } }, { clock });
  const store = withOverrides(app.store, over(app.store));
  const dlv = createDelivery({ store, config: app.config, log: app.log, clock });
  const queue = createQueueRunner({ config: app.config, log: app.log, clock, store, metrics: app.metrics, delivery: dlv });
  const r = { app, sink, clock, queue, store };
  rigs.push(r);
  return r;
}

function message(to: string, extra = ''): Buffer {
  return Buffer.from(
    `From: <${SENDER}>\r\nTo: <${to}>\r\nSubject: test\r\nMessage-ID: <fault-${Math.random().toString(36).slice(2)}@example.gov.vn>\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\n${extra}\r\nthe body text\r\n`,
  );
}

async function enqueue(r: Rig, recipients: string[], opts: { sender?: string; raw?: Buffer } = {}): Promise<{ id: number; blobId: string; messageId: string | null }> {
  const raw = opts.raw ?? message(recipients[0] ?? '');
  const messageId = /^Message-ID: (.*)$/m.exec(raw.toString())?.[1]?.trim() ?? null;
  return r.store.enqueue({ sender: opts.sender ?? SENDER, recipients, raw, account: null, messageId, now: r.clock.now() });
}

/** Final-Recipient, Action and Status of each recipient of a DSN. */
function reported(dsn: Buffer | string): string[] {
  return [...dsn.toString().matchAll(/Final-Recipient: rfc822; (\S+)\r\nAction: (\w+)\r\nStatus: ([\d.]+)/g)].map((m) => `${m[1]} ${m[2]} ${m[3]}`).sort();
}

describe('an attempt that throws', () => {
  it('follows delivery.retryScheduleMs by attempt count, then bounces with 4.4.7 once past delivery.maxQueueAgeMs', async () => {
    let blobId = '';
    const r = await rig({}, { retryScheduleMs: [MINUTE, 10 * MINUTE], maxQueueAgeMs: 30 * MINUTE }, (s) => ({
      readBlob: async (id, range) => {
        if (id === blobId) throw Object.assign(new Error('I/O error (simulated)'), { code: 'EIO' });
        return s.readBlob(id, range);
      },
    }));
    const u = await createUser(r.app.store, SENDER);
    blobId = (await enqueue(r, ['far@other.example.com'])).blobId;
    const start = r.clock.now().getTime();

    await r.queue.runOnce();
    let [item] = await r.app.store.listQueue();
    expect(item?.nextAttemptAt.getTime()).toBe(start + MINUTE);
    r.clock.advance(MINUTE);
    await r.queue.runOnce();
    [item] = await r.app.store.listQueue();
    expect(item?.nextAttemptAt.getTime()).toBe(start + MINUTE + 10 * MINUTE); // the second delay
    expect(item?.lastError).toContain('I/O error (simulated)');
    expect(await messagesIn(r.app.store, u.id)).toHaveLength(0);

    r.clock.advance(30 * MINUTE);
    await r.queue.runOnce();
    expect(await r.app.store.listQueue()).toEqual([]);
    const dsns = await messagesIn(r.app.store, u.id);
    expect(dsns).toHaveLength(1);
    expect(reported(dsns[0] as Buffer)).toEqual(['far@other.example.com failed 4.4.7']);
    expect(r.sink.lines.filter((l) => l.startsWith('MAIL'))).toEqual([]);
  });

  it('fails every recipient at once with 5.3.0 when the message blob is lost; the DSN has only its Message-ID', async () => {
    let blobId = '';
    const r = await rig({}, {}, (s) => ({
      readBlob: async (id, range) => {
        if (id === blobId) throw new MailError('NOT_FOUND', bi('Không tìm thấy dữ liệu thư', 'Blob not found'));
        return s.readBlob(id, range);
      },
    }));
    const u = await createUser(r.app.store, SENDER);
    const item = await enqueue(r, ['a@other.example.com', 'b@third.example.org']);
    blobId = item.blobId;

    await r.queue.runOnce();
    expect(await r.app.store.listQueue()).toEqual([]);
    const [dsn] = await messagesIn(r.app.store, u.id);
    const text = dsn?.toString() ?? '';
    expect(reported(text)).toEqual(['a@other.example.com failed 5.3.0', 'b@third.example.org failed 5.3.0']);
    expect(text).toContain('Diagnostic-Code: smtp; 554 5.3.0 The message data was lost on the server');
    expect(text).toMatch(new RegExp(`Content-Type: text/rfc822-headers\\r\\n[^]*Message-ID: ${item.messageId ?? 'none'}`));
    expect(text).not.toContain('the body text');
    expect(text).not.toContain('Subject: test');
    expect(r.sink.lines.filter((l) => l.startsWith('MAIL'))).toEqual([]);
    const log = await r.app.store.searchSendLog({ recipient: 'a@other.example.com' });
    expect(log.map((x) => `${x.outcome} ${x.code ?? ''}`)).toEqual(['bounced 554']);
  });
});

describe('per-recipient outcomes', () => {
  it.each([
    ['with PIPELINING', ['PIPELINING', '8BITMIME']],
    ['without PIPELINING', ['8BITMIME']],
  ])('a refused DATA concerns only the recipients accepted at RCPT (%s)', async (_name, ehlo) => {
    const r = await rig({
      ehlo,
      rcpt: (a) => (a.startsWith('later') ? '451 4.2.1 mailbox busy, try later' : a.startsWith('gone') ? '550 5.1.1 no such user' : null),
      dataEnd: () => '554 5.6.0 content rejected',
    });
    const u = await createUser(r.app.store, SENDER);
    await enqueue(r, ['later@other.example.com', 'gone@other.example.com', 'ok@other.example.com']);

    await r.queue.runOnce();
    expect((await r.app.store.listQueue()).map((x) => x.recipients)).toEqual([['later@other.example.com']]);
    const [dsn] = await messagesIn(r.app.store, u.id);
    expect(reported(dsn ?? '')).toEqual(['gone@other.example.com failed 5.1.1', 'ok@other.example.com failed 5.6.0']);
    const log = (await r.app.store.searchSendLog({})).filter((x) => x.direction === 'outbound').map((x) => `${x.recipient} ${x.outcome} ${x.code ?? ''}`);
    expect(log.sort()).toEqual(['gone@other.example.com bounced 550', 'later@other.example.com deferred 451', 'ok@other.example.com bounced 554']);
  });

  it('a 4xx after DATA does not retry a recipient refused with 5xx at RCPT', async () => {
    const r = await rig({ rcpt: (a) => (a.startsWith('gone') ? '550 5.1.1 no such user' : null), dataEnd: () => '451 4.3.0 try again later' });
    const u = await createUser(r.app.store, SENDER);
    await enqueue(r, ['gone@other.example.com', 'ok@other.example.com']);

    await r.queue.runOnce();
    expect((await r.app.store.listQueue()).map((x) => x.recipients)).toEqual([['ok@other.example.com']]);
    const [dsn] = await messagesIn(r.app.store, u.id);
    expect(reported(dsn ?? '')).toEqual(['gone@other.example.com failed 5.1.1']);
  });
});

describe('the next hop', () => {
  it('a message over the SIZE it advertises fails at once with 552 5.3.4 (RFC 1870), not as a connection error', async () => {
    const r = await rig({ ehlo: ['PIPELINING', 'SIZE 200'] });
    const u = await createUser(r.app.store, SENDER);
    await enqueue(r, ['big@other.example.com'], { raw: message('big@other.example.com', `X-Pad: ${'a'.repeat(400)}\r\n`) });

    await r.queue.runOnce();
    expect(await r.app.store.listQueue()).toEqual([]);
    const [dsn] = await messagesIn(r.app.store, u.id);
    expect(reported(dsn ?? '')).toEqual(['big@other.example.com failed 5.3.4']);
    expect(dsn?.toString()).toContain('Diagnostic-Code: smtp; 552 5.3.4 The message is larger than the maximum size (200 bytes)');
    expect(r.sink.lines.filter((l) => l.startsWith('MAIL'))).toEqual([]);
  });

  it('a STARTTLS handshake that fails after 220 is retried at once on the same hop without TLS', async () => {
    const r = await rig({ ehlo: ['PIPELINING', 'STARTTLS'] });
    await createUser(r.app.store, SENDER);
    await enqueue(r, ['tls@other.example.com']);

    await r.queue.runOnce();
    expect(await r.app.store.listQueue()).toEqual([]);
    expect(r.sink.lines.filter((l) => !l.startsWith('EHLO'))).toEqual(['STARTTLS', `MAIL FROM:<${SENDER}>`, 'RCPT TO:<tls@other.example.com>', 'DATA', 'QUIT']);
    expect(r.sink.messages.map((m) => m.to)).toEqual([['tls@other.example.com']]);
    const log = await r.app.store.searchSendLog({ recipient: 'tls@other.example.com' });
    expect(log.map((x) => x.outcome)).toEqual(['delivered']);
  });
});

describe('delivery status notifications', () => {
  it('a DSN to a local sender whose mailbox is over quota is queued and delivered once there is room', async () => {
    const r = await rig({ rcpt: () => '550 5.1.1 no such user' });
    const u = await createUser(r.app.store, SENDER, { quotaBytes: 10 });
    await enqueue(r, ['gone@other.example.com']);

    await r.queue.runOnce();
    const queued = await r.app.store.listQueue();
    expect(queued.map((x) => [x.sender, x.recipients])).toEqual([['', [SENDER]]]);
    expect(await messagesIn(r.app.store, u.id)).toHaveLength(0);

    await r.app.store.updateAccount(u.id, { quotaBytes: null }, null);
    r.clock.advance(MINUTE);
    await r.queue.runOnce();
    expect(await r.app.store.listQueue()).toEqual([]);
    const [dsn] = await messagesIn(r.app.store, u.id);
    expect(reported(dsn ?? '')).toEqual(['gone@other.example.com failed 5.1.1']);
  });

  it('a failure DSN that cannot be sent keeps its recipients queued and goes at the next attempt, once', async () => {
    let failEnqueue = false;
    const r = await rig({ rcpt: (a) => (a.startsWith('gone') ? '550 5.1.1 no such user' : null) }, {}, (s) => ({
      enqueue: async (item) => {
        if (failEnqueue) throw new Error('disk full (simulated)');
        return s.enqueue(item);
      },
    }));
    const far = 'far@remote.example.net';
    await enqueue(r, ['gone@other.example.com', 'ok@other.example.com'], { sender: far });

    failEnqueue = true;
    await r.queue.runOnce();
    // ok@ was delivered and is not tried again; gone@ waits for its notice.
    expect((await r.app.store.listQueue()).map((x) => [x.sender, x.recipients])).toEqual([[far, ['gone@other.example.com']]]);

    failEnqueue = false;
    r.clock.advance(MINUTE);
    await r.queue.runOnce();
    await r.queue.runOnce(); // the DSN itself, queued by the attempt before
    expect(await r.app.store.listQueue()).toEqual([]);
    const bounces = r.sink.messages.filter((m) => m.from === '');
    expect(bounces.map((m) => m.to)).toEqual([[far]]);
    expect(reported(bounces[0]?.data ?? '')).toEqual(['gone@other.example.com failed 5.1.1']);
    expect(r.sink.messages.filter((m) => m.to.includes('ok@other.example.com'))).toHaveLength(1);
  });
});
