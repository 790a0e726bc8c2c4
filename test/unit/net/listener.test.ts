import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/lib/log.js';
import { ConnectionCounter, createListenerCounters, createTcpListener, LineReader, loadTlsOptions, upgradeToTls, type Connection, type TcpListener, type TlsMaterial } from '../../../src/net/index.js';

let dir = '';
let tls: TlsMaterial;
const log = silentLogger();

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'buudien-net-'));
  tls = loadTlsOptions({ tls: { certFile: null, keyFile: null, minVersion: 'TLSv1.2' }, organization: { hostname: 'mail.example.gov.vn' } }, dir, log);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}
function firstData(s: Socket | TLSSocket): Promise<string> {
  return new Promise((resolve) => s.once('data', (d: Buffer) => resolve(d.toString())));
}
function closed(s: Socket): Promise<void> {
  return new Promise((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));
}

describe('loadTlsOptions', () => {
  it('makes a self-signed pair once under <dir>/tls and re-uses it', () => {
    expect(tls.selfSigned).toBe(true);
    expect(tls.minVersion).toBe('TLSv1.2');
    expect(tls.cert).toMatch(/BEGIN CERTIFICATE/);
    expect(statSync(tls.keyFile).mode & 0o777).toBe(0o600);
    const again = loadTlsOptions({ tls: { certFile: null, keyFile: null, minVersion: 'TLSv1.3' } }, dir, log);
    expect(again.cert).toBe(tls.cert);
    expect(again.minVersion).toBe('TLSv1.3');
  });
  it('reads configured files, and refuses half a configuration', () => {
    const own = loadTlsOptions({ tls: { certFile: tls.certFile, keyFile: tls.keyFile, minVersion: 'TLSv1.2' } }, '/nonexistent', log);
    expect(own.selfSigned).toBe(false);
    expect(own.key).toBe(readFileSync(tls.keyFile, 'utf8'));
    expect(() => loadTlsOptions({ tls: { certFile: tls.certFile, keyFile: null, minVersion: 'TLSv1.2' } }, dir, log)).toThrow(/both/);
    expect(() => loadTlsOptions({ tls: { certFile: '/nope.crt', keyFile: '/nope.key', minVersion: 'TLSv1.2' } }, dir, log)).toThrow();
  });
});

describe('createTcpListener', () => {
  it('caps connections per IP (plain: writes the refusal) and frees the slot on close', async () => {
    const conns: Connection[] = [];
    const l = createTcpListener({
      name: 'test', host: '127.0.0.1', port: 0, tls: null, maxConnectionsPerIp: 2, maxConnectionsTotal: 100, log,
      refusal: (why) => `-ERR ${why}\r\n`,
      onConnection: (c) => {
        conns.push(c);
        c.socket.write('+OK hi\r\n');
      },
    });
    const { port } = await l.listen();
    const a = await open(port);
    expect(await firstData(a)).toBe('+OK hi\r\n');
    const b = await open(port);
    expect(await firstData(b)).toBe('+OK hi\r\n');
    const c = await open(port);
    expect(await firstData(c)).toBe('-ERR per-ip\r\n');
    await closed(c);
    expect(conns.map((x) => x.ip)).toEqual(['127.0.0.1', '127.0.0.1']);
    a.destroy();
    await closed(conns[0]?.raw as Socket);
    const d = await open(port);
    expect(await firstData(d)).toBe('+OK hi\r\n');
    expect(l.open).toBe(2);
    b.destroy();
    d.destroy();
    await l.close(100);
  });

  it('sibling listeners sharing counters count one client once across both', async () => {
    const counters = createListenerCounters(1, 100);
    const make = (name: string) =>
      createTcpListener({
        name, host: '127.0.0.1', port: 0, tls: null, maxConnectionsPerIp: 1, maxConnectionsTotal: 100, counters, log,
        refusal: () => 'NO\r\n',
        onConnection: (c) => c.socket.write('hi\r\n'),
      });
    const one = make('one');
    const two = make('two');
    const p1 = (await one.listen()).port;
    const p2 = (await two.listen()).port;
    const a = await open(p1);
    expect(await firstData(a)).toBe('hi\r\n');
    const b = await open(p2);
    expect(await firstData(b)).toBe('NO\r\n');
    a.destroy();
    await Promise.all([one.close(100), two.close(100)]);
  });

  it('caps the total', async () => {
    const l = createTcpListener({
      name: 'test', host: '127.0.0.1', port: 0, tls: null, maxConnectionsPerIp: 10, maxConnectionsTotal: 1, log,
      refusal: (why) => `BYE ${why}\r\n`,
      onConnection: (c) => c.socket.write('hello\r\n'),
    });
    const { port } = await l.listen();
    const a = await open(port);
    expect(await firstData(a)).toBe('hello\r\n');
    const b = await open(port);
    expect(await firstData(b)).toBe('BYE total\r\n');
    a.destroy();
    await l.close(100);
  });

  it('implicit TLS: the session starts after the handshake; TLS 1.1 is refused', async () => {
    const l = createTcpListener({
      name: 'tls', host: '127.0.0.1', port: 0, tls: tls.secureContext, maxConnectionsPerIp: 10, maxConnectionsTotal: 10, log,
      onConnection: (c) => c.socket.write(`secure=${c.secure}\r\n`),
    });
    const { port } = await l.listen();
    const s = tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false });
    expect(await firstData(s)).toBe('secure=true\r\n');
    expect(s.getProtocol()).toMatch(/TLSv1\.[23]/);
    s.destroy();
    const old = tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false, maxVersion: 'TLSv1.1', minVersion: 'TLSv1' });
    const err = await new Promise<Error>((resolve) => old.once('error', resolve));
    expect(err.message).toMatch(/version|protocol|alert/i);
    await l.close(100);
  });

  it('STARTTLS: commands pipelined after the upgrade command are discarded, never run inside TLS', async () => {
    const seen: string[] = [];
    let upgraded: Promise<void> = Promise.resolve();
    const l = createTcpListener({
      name: 'plain', host: '127.0.0.1', port: 0, tls: null, maxConnectionsPerIp: 10, maxConnectionsTotal: 10, log,
      onConnection: (c) => {
        upgraded = (async () => {
          const reader = new LineReader(c.socket, { maxLineBytes: 100 });
          const first = await reader.next();
          seen.push(first.kind === 'line' ? first.line.toString() : first.kind);
          const { socket, discarded } = await upgradeToTls(c.raw, reader, '+OK begin TLS\r\n', { secureContext: tls.secureContext });
          seen.push(`discarded ${discarded}`);
          const secureReader = new LineReader(socket, { maxLineBytes: 100 });
          const next = await secureReader.next();
          seen.push(next.kind === 'line' ? next.line.toString() : next.kind);
          socket.end('+OK bye\r\n');
        })();
      },
    });
    const { port } = await l.listen();
    const raw = await open(port);
    // The injection: the attacker's commands ride in the same packet as STLS.
    raw.write('STLS\r\nUSER injected\r\n');
    expect(await firstData(raw)).toBe('+OK begin TLS\r\n');
    const s = tlsConnect({ socket: raw, rejectUnauthorized: false });
    await new Promise<void>((resolve) => s.once('secureConnect', () => resolve()));
    s.write('CAPA\r\n');
    expect(await firstData(s)).toBe('+OK bye\r\n');
    await upgraded;
    expect(seen).toEqual(['STLS', `discarded ${'USER injected\r\n'.length}`, 'CAPA']);
    await l.close(100);
  });

  it('close() stops accepting and destroys lingering sockets after the grace time', async () => {
    let l: TcpListener | null = null;
    l = createTcpListener({
      name: 'x', host: '127.0.0.1', port: 0, tls: null, maxConnectionsPerIp: 10, maxConnectionsTotal: 10, log,
      onConnection: (c) => c.socket.write('hi\r\n'),
    });
    const { port } = await l.listen();
    const a = await open(port);
    await firstData(a);
    const done = closed(a);
    await l.close(10);
    await done;
    await expect(open(port)).rejects.toThrow();
  });
});

describe('ConnectionCounter', () => {
  it('acquire up to the cap; release is idempotent', () => {
    const c = new ConnectionCounter(2);
    const r1 = c.acquire('42');
    const r2 = c.acquire('42');
    expect(c.acquire('42')).toBeNull();
    expect(c.acquire('7')).not.toBeNull();
    r1?.();
    r1?.();
    expect(c.count('42')).toBe(1);
    expect(c.acquire('42')).not.toBeNull();
    r2?.();
  });
});
