/**
 * Conn (src/imap/conn.ts) writing to a slow reader: every write that waits for 'drain' registers a
 * close handler, and must take it off again once drained; otherwise a long FETCH to a slow client
 * collects one per wait until the connection closes.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Conn } from '../../src/imap/conn.js';

const sockets: net.Socket[] = [];
const servers: net.Server[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) s.close();
});

async function pair(): Promise<{ conn: Conn; client: net.Socket; server: net.Socket }> {
  const srv = net.createServer();
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  const accepted = new Promise<net.Socket>((r) => srv.once('connection', r));
  const client = net.connect(port, '127.0.0.1');
  const server = await accepted;
  sockets.push(client, server);
  return { conn: new Conn(server, false, '127.0.0.1'), client, server };
}

describe('Conn writes to a slow reader', () => {
  it('keeps the close handlers bounded over many writes that wait for drain', async () => {
    const { conn, client, server } = await pair();
    let closed = 0;
    conn.onClose(() => closed++);
    const base = conn.closeHandlerCount;
    client.pause();
    // The reader takes a little now and then.
    const reader = setInterval(() => {
      client.resume();
      setImmediate(() => client.pause());
    }, 1);
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let drains = 0;
    server.on('drain', () => drains++);
    let most = 0;
    try {
      for (let i = 0; i < 400; i++) {
        await conn.write(chunk);
        most = Math.max(most, conn.closeHandlerCount);
      }
    } finally {
      clearInterval(reader);
    }
    expect(drains).toBeGreaterThan(2); // the writes really did wait for drain
    expect(most).toBeLessThanOrEqual(base + 1);
    expect(conn.closeHandlerCount).toBe(base);
    expect(server.listenerCount('drain')).toBe(1); // the test's own counter only
    // The session's own close handler still runs.
    conn.close();
    expect(closed).toBe(1);
  });

  it('a write waiting for drain when the connection closes is released', async () => {
    const { conn, client } = await pair();
    client.pause();
    const chunk = Buffer.alloc(1024 * 1024, 'y');
    let pending: Promise<void> = Promise.resolve();
    for (let i = 0; i < 16; i++) {
      pending = conn.write(chunk);
      if (conn.closeHandlerCount > 0) break;
    }
    expect(conn.closeHandlerCount).toBe(1);
    conn.close();
    await pending;
    expect(conn.closeHandlerCount).toBe(0);
  });
});
