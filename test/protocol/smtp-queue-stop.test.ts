/**
 * Stopping while the outbound queue is in the middle of an attempt, over real sockets: stop()
 * cuts the attempt short (the remote's connection is destroyed, no further transaction or hop
 * starts), records it as a temporary failure and releases the item's claim, so the app started
 * again on the same storage dir delivers at its next run. A 250 to DATA that comes within the
 * grace is a delivery. The runner of `serve` drops, as it starts, the claims a dead process left.
 */
import { rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createDelivery } from '../../src/delivery/index.js';
import { createQueueRunner } from '../../src/smtp/queue.js';
import type { RecipientDsn } from '../../src/store/port.js';
import { startApp, testDir, type TestApp } from '../helpers/app.js';
import { createUser, startSink, until, type Sink } from './smtp-helpers.js';

const SENDER = 'longnv@example.gov.vn';

/** A remote that misbehaves: never greets, or never (or late) answers the final dot. */
interface StallingRemote {
  port: number;
  /** Connections accepted, and how many of them have closed. */
  accepted: number;
  closed: number;
  /** Command lines received, in order (the message text excluded). */
  lines: string[];
  /** Final dots received. */
  dots: number;
  close(): Promise<void>;
}

async function stallingRemote(opts: { greet: boolean; dotReply?: (n: number) => { line: string; afterMs: number } | null }): Promise<StallingRemote> {
  const sockets = new Set<net.Socket>();
  const remote: StallingRemote = { port: 0, accepted: 0, closed: 0, lines: [], dots: 0, close: async () => undefined };
  const server = net.createServer((s) => {
    remote.accepted++;
    sockets.add(s);
    s.on('close', () => {
      remote.closed++;
      sockets.delete(s);
    });
    s.on('error', () => undefined);
    if (!opts.greet) return; // accepts, then says nothing
    let buf = '';
    let inData = false;
    const reply = (l: string): void => {
      if (!s.destroyed) s.write(`${l}\r\n`);
    };
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (;;) {
        if (inData) {
          const end = `\r\n${buf}`.indexOf('\r\n.\r\n');
          if (end < 0) return;
          buf = buf.slice(end + 3);
          inData = false;
          const r = opts.dotReply?.(++remote.dots) ?? null;
          if (r) setTimeout(() => reply(r.line), r.afterMs);
          continue;
        }
        const i = buf.indexOf('\r\n');
        if (i < 0) return;
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        remote.lines.push(line);
        const u = line.toUpperCase();
        if (u.startsWith('EHLO')) s.write('250-remote\r\n250-DSN\r\n250-8BITMIME\r\n250 PIPELINING\r\n');
        else if (u === 'DATA') {
          inData = true;
          reply('354 go ahead');
        } else if (u === 'QUIT') s.end('221 2.0.0 bye\r\n');
        else reply('250 2.0.0 ok');
      }
    });
    reply('220 remote ESMTP');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  remote.port = (server.address() as net.AddressInfo).port;
  remote.close = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
  return remote;
}

/** What `buudien serve` killed by SIGKILL would leave: the queue row as stored. */
function queueRows(dir: string): Array<{ recipients: string; attempts: number; last_error: string | null; claimed_until: number | null; next_attempt_at: number }> {
  const db = new Database(path.join(dir, 'buudien.db'), { readonly: true });
  try {
    return db.prepare('SELECT recipients, attempts, last_error, claimed_until, next_attempt_at FROM queue ORDER BY id').all() as Array<{
      recipients: string;
      attempts: number;
      last_error: string | null;
      claimed_until: number | null;
      next_attempt_at: number;
    }>;
  } finally {
    db.close();
  }
}

async function enqueue(app: TestApp, recipients: string[], recipientDsn: Record<string, RecipientDsn> = {}): Promise<void> {
  const raw = Buffer.from(
    `From: <${SENDER}>\r\nTo: <${recipients[0] ?? ''}>\r\nSubject: stop test\r\nMessage-ID: <stop-${Math.random().toString(36).slice(2)}@example.gov.vn>\r\n\r\nthe body text\r\n`,
  );
  await app.store.enqueue({ sender: SENDER, recipients, raw, account: null, messageId: null, now: new Date(), recipientDsn });
}

/** 'stopped' when `p` resolves within 10 s, else 'hung' (the attempt's own timeouts are 30 s and more). */
async function within10s(p: Promise<void>): Promise<'stopped' | 'hung'> {
  let t: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((r) => (t = setTimeout(() => r('hung'), 10_000)));
  try {
    return await Promise.race([p.then(() => 'stopped' as const), hung]);
  } finally {
    clearTimeout(t);
  }
}

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await Promise.resolve(f()).catch(() => undefined);
  cleanup = [];
});

describe('stop() during an outbound attempt', () => {
  it.each([
    ['never greets', { greet: false }],
    ['greets, then never answers the final dot', { greet: true, dotReply: () => null }],
  ])('a remote that %s: stop() resolves, the connection is destroyed, the attempt is a temporary failure, and the next start delivers', async (_name, behaviour) => {
    const remote = await stallingRemote(behaviour);
    const sink = await startSink();
    const dir = testDir();
    cleanup.push(() => remote.close(), () => sink.close(), () => rmSync(dir, { recursive: true, force: true }));
    // The retry delay is an hour: only an interrupted attempt's "due at once" lets the next start deliver.
    const delivery = { queuePollMs: 20, retryScheduleMs: [3_600_000] };
    const first = await startApp({ delivery: { ...delivery, routes: { '*': `127.0.0.1:${remote.port}` } } }, { dir });
    let firstStopped = false;
    cleanup.push(() => (firstStopped ? undefined : first.stop()));
    await createUser(first.store, SENDER);
    await enqueue(first, ['far@other.example.com']);
    await until(async () => (behaviour.greet ? remote.dots === 1 : remote.accepted === 1));

    expect(await within10s(first.stop())).toBe('stopped');
    firstStopped = true;
    await until(async () => remote.closed === 1); // the remote saw its connection go
    expect(remote.accepted).toBe(1); // nothing tried again, no other hop

    // The attempt is stored as a temporary failure, its claim released.
    const [row] = queueRows(dir);
    expect(row?.attempts).toBe(1);
    expect(row?.last_error).toMatch(/^451 4\.3\.2 /);
    expect(row?.claimed_until).toBeNull();
    expect(row?.next_attempt_at).toBeLessThanOrEqual(Date.now()); // due at once, not after the retry delay

    // Started again (not as serve: no claim is released at start), it delivers at its next run.
    const second = await startApp({ delivery: { ...delivery, routes: { '*': `127.0.0.1:${sink.port}` } } }, { dir });
    cleanup.push(() => second.stop());
    const m = await sink.next(0);
    expect(m.to).toEqual(['far@other.example.com']);
    const log = await until(async () => {
      const rows = await second.store.searchSendLog({ recipient: 'far@other.example.com' });
      return rows.length === 2 ? rows : null;
    });
    expect(log.map((x) => `${x.outcome} ${x.code ?? ''}`).sort()).toEqual(['deferred 451', 'delivered 250']);
    expect(log.find((x) => x.outcome === 'deferred')?.text).toContain('4.3.2');
    expect(await second.store.queueDepth()).toBe(0);
  }, 60_000);

  it('a 250 to DATA within the grace is a delivery; the next transaction is not started', async () => {
    // Two transactions on one connection (different NOTIFY): the first dot is answered late.
    const remote = await stallingRemote({ greet: true, dotReply: (n) => (n === 1 ? { line: '250 2.0.0 queued as A1', afterMs: 300 } : { line: '250 2.0.0 ok', afterMs: 0 }) });
    const dir = testDir();
    cleanup.push(() => remote.close(), () => rmSync(dir, { recursive: true, force: true }));
    const app = await startApp({ delivery: { queuePollMs: 20, retryScheduleMs: [300], routes: { '*': `127.0.0.1:${remote.port}` } } }, { dir });
    let stopped = false;
    cleanup.push(() => (stopped ? undefined : app.stop()));
    await createUser(app.store, SENDER);
    await enqueue(app, ['first@other.example.com', 'second@other.example.com'], {
      'first@other.example.com': { notify: ['SUCCESS'], orcpt: null },
      'second@other.example.com': { notify: ['FAILURE'], orcpt: null },
    });
    await until(async () => remote.dots === 1);

    expect(await within10s(app.stop())).toBe('stopped');
    stopped = true;
    expect(remote.dots).toBe(1);
    const [row] = queueRows(dir);
    expect(JSON.parse(row?.recipients ?? '[]')).toEqual(['second@other.example.com']);
    expect(row?.last_error).toMatch(/^451 4\.3\.2 /);
    expect(row?.claimed_until).toBeNull();
    // The send log, read by the app started again (it does not poll).
    const again = await startApp({ delivery: { queuePollMs: 3_600_000 } }, { dir });
    cleanup.push(() => again.stop());
    const log = await again.store.searchSendLog({});
    expect(log.map((x) => `${x.recipient} ${x.outcome} ${x.code ?? ''}`).sort()).toEqual(['first@other.example.com delivered 250', 'second@other.example.com deferred 451']);
    expect(remote.lines.filter((l) => l.toUpperCase().startsWith('MAIL'))).toHaveLength(1);
    await until(async () => remote.closed === 1);
  }, 60_000);
});

describe('claims left by a process that died', () => {
  let sink: Sink;

  it("are released when serve's runner starts; no other runner releases them", async () => {
    sink = await startSink();
    cleanup.push(() => sink.close());
    const app = await startApp({ delivery: { queuePollMs: 3_600_000, retryScheduleMs: [300], routes: { '*': `127.0.0.1:${sink.port}` } } });
    cleanup.push(() => app.stop());
    await createUser(app.store, SENDER);
    await enqueue(app, ['far@other.example.com']);
    // Claimed by a runner whose process then died (SIGKILL): the claim would hold for 10 minutes.
    expect(await app.store.claimDue(new Date(), 10)).toHaveLength(1);

    const deps = { config: app.config, log: app.log, clock: app.clock, store: app.store, metrics: app.metrics, delivery: createDelivery({ store: app.store, config: app.config, log: app.log, clock: app.clock, metrics: app.metrics }) };
    const other = createQueueRunner(deps);
    await other.start();
    cleanup.push(() => other.stop());
    expect(await other.runOnce()).toBe(0); // still claimed

    const serve = createQueueRunner({ ...deps, releaseClaimsAtStart: true });
    await serve.start();
    cleanup.push(() => serve.stop());
    expect(await serve.runOnce()).toBe(1);
    expect((await sink.next(0)).to).toEqual(['far@other.example.com']);
    expect(await app.store.queueDepth()).toBe(0);
  }, 60_000);
});
