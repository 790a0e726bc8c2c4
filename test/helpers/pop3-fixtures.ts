/**
 * POP3 test fixtures: accounts (helpers/accounts.ts) with the POP3 tests' password, messages put
 * into INBOX as delivery would (helpers/messages.ts), and a POP3 line client.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { Account, Store } from '../../src/store/port.js';
import { createTestAccount } from './accounts.js';
import { storeParsed } from './messages.js';

/** POP3 tests sign in with their own password (not accounts.ts's PASSWORD). */
export const PASSWORD = 'Mat-Khau#2026';

export async function makeAccount(store: Store, address: string, opts: { password?: string; mustChangePassword?: boolean } = {}): Promise<Account> {
  return createTestAccount(store, address, { password: opts.password ?? PASSWORD, mustChangePassword: opts.mustChangePassword ?? false });
}

/** Put raw bytes into the account's INBOX; returns the UID. */
export async function deliver(store: Store, account: Account, raw: Buffer | string, flags: string[] = []): Promise<number> {
  return storeParsed(store, account.id, raw, { flags });
}

export function simpleMessage(subject: string, body: string, from = 'sender@example.gov.vn', to = 'user@example.gov.vn'): string {
  return [
    `From: ${from}`,
    `To: ${to}`,
    `Subject: ${subject}`,
    'Date: Mon, 02 Nov 2026 09:00:00 +0700',
    `Message-ID: <${subject.replace(/\W/g, '')}.${Math.random().toString(36).slice(2)}@example.gov.vn>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    body,
  ].join('\r\n');
}

// ───────────── a small POP3 line client over a real socket (plain, implicit TLS, STLS) ─────────────

export class Pop3Client {
  private chunks: Buffer[] = [];
  private waiters: Array<() => void> = [];
  private ended = false;

  private constructor(private socket: Socket | TLSSocket) {
    this.attach(socket);
  }

  static async open(port: number, opts: { tls?: boolean } = {}): Promise<Pop3Client> {
    const socket = await new Promise<Socket | TLSSocket>((resolve, reject) => {
      const s = opts.tls
        ? tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false }, () => resolve(s))
        : netConnect(port, '127.0.0.1', () => resolve(s));
      s.once('error', reject);
    });
    return new Pop3Client(socket);
  }

  private attach(s: Socket | TLSSocket): void {
    s.on('data', (d: Buffer) => {
      this.chunks.push(d);
      this.wake();
    });
    s.on('close', () => {
      this.ended = true;
      this.wake();
    });
    s.on('error', () => undefined);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private more(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private flat(): Buffer {
    if (this.chunks.length !== 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] as Buffer;
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Raw bytes, no CRLF added. */
  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  send(line: string): void {
    this.socket.write(`${line}\r\n`);
  }

  /** One reply line without CRLF; null when the server closed the connection. */
  async line(): Promise<string | null> {
    for (;;) {
      const buf = this.flat();
      const i = buf.indexOf('\r\n');
      if (i !== -1) {
        this.chunks = [buf.subarray(i + 2)];
        return buf.subarray(0, i).toString('utf8');
      }
      if (this.ended) return null;
      await this.more();
    }
  }

  async cmd(line: string): Promise<string> {
    this.send(line);
    const r = await this.line();
    if (r === null) throw new Error(`connection closed after ${line}`);
    return r;
  }

  /**
   * The body of a multi-line reply (after its +OK line), dot-unstuffed, without the final ".".
   * Scans each chunk once (with a 4-byte overlap), so a 20 MB body costs linear time.
   */
  async body(): Promise<Buffer> {
    const parts: Buffer[] = [];
    let tail = Buffer.from('\r\n'); // a virtual line end before the body, so an empty body (".") matches
    for (;;) {
      while (this.chunks.length) {
        const c = this.chunks.shift() as Buffer;
        const probe = Buffer.concat([tail, c]);
        const idx = probe.indexOf('\r\n.\r\n');
        if (idx !== -1) {
          const cut = Math.max(0, idx + 2 - tail.length);
          parts.push(c.subarray(0, cut));
          const rest = c.subarray(idx + 5 - tail.length);
          if (rest.length) this.chunks.unshift(rest);
          return unstuff(Buffer.concat(parts));
        }
        parts.push(c);
        tail = probe.subarray(Math.max(0, probe.length - 4));
      }
      if (this.ended) throw new Error('closed inside a multi-line reply');
      await this.more();
    }
  }

  async lines(): Promise<string[]> {
    const b = (await this.body()).toString('utf8');
    return b === '' ? [] : b.replace(/\r\n$/, '').split('\r\n');
  }

  /** After "+OK" to STLS: start TLS on the same socket. */
  async startTls(): Promise<void> {
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('close');
    const raw = this.socket as Socket;
    const secure = await new Promise<TLSSocket>((resolve, reject) => {
      const s = tlsConnect({ socket: raw, rejectUnauthorized: false }, () => resolve(s));
      s.once('error', reject);
    });
    this.socket = secure;
    this.chunks = [];
    this.attach(secure);
  }

  async login(user: string, password = PASSWORD): Promise<string> {
    const u = await this.cmd(`USER ${user}`);
    if (!u.startsWith('+OK')) return u;
    return this.cmd(`PASS ${password}`);
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Half-close: no more commands (the server may still write). */
  end(): void {
    this.socket.end();
  }

  async waitClosed(): Promise<void> {
    while (!this.ended) await this.more();
  }
}

/** Undo dot-stuffing: a line "..x" is ".x". */
export function unstuff(b: Buffer): Buffer {
  const parts: Buffer[] = [];
  let lineStart = 0;
  while (lineStart < b.length) {
    const lf = b.indexOf(10, lineStart);
    const end = lf === -1 ? b.length : lf + 1;
    parts.push(b[lineStart] === 0x2e ? b.subarray(lineStart + 1, end) : b.subarray(lineStart, end));
    lineStart = end;
  }
  return Buffer.concat(parts);
}
