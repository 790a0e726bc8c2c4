/**
 * Helpers for IMAP protocol tests: accounts and messages put in through the store (as SMTP
 * delivery would), a transcript client over a raw socket, and imapflow clients.
 */
import net from 'node:net';
import tls from 'node:tls';
import { ImapFlow } from 'imapflow';
import type { Account } from '../../src/store/port.js';
import { createTestAccount, PASSWORD } from '../helpers/accounts.js';
import type { TestApp } from '../helpers/app.js';
import { storeParsed } from '../helpers/messages.js';

export { PASSWORD };

export async function createUser(app: TestApp, local: string, opts: { quotaBytes?: number } = {}): Promise<Account> {
  return createTestAccount(app.store, `${local}@example.gov.vn`, opts);
}

export function message(opts: { subject?: string; from?: string; to?: string; body?: string; date?: string; extra?: string } = {}): Buffer {
  return Buffer.from(
    [
      `From: ${opts.from ?? 'Nguyễn Văn An <an@example.gov.vn>'}`,
      `To: ${opts.to ?? 'user@example.gov.vn'}`,
      `Subject: ${opts.subject ?? 'Hello'}`,
      `Date: ${opts.date ?? 'Mon, 16 Nov 2026 09:00:00 +0700'}`,
      `Message-ID: <${Math.random().toString(36).slice(2)}@example.gov.vn>`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      ...(opts.extra ? [opts.extra] : []),
      '',
      opts.body ?? 'Xin chào',
      '',
    ].join('\r\n'),
  );
}

let arrivals = 0;

/** Put a message into a mailbox as delivery would (parsed once, stored once); arrivals a second apart. */
export async function deliver(app: TestApp, account: Account, raw: Buffer, mailbox = 'INBOX', flags: string[] = []): Promise<number> {
  return storeParsed(app.store, account.id, raw, { mailbox, flags, internalDate: new Date(Date.UTC(2026, 10, 16, 2, 0, arrivals++)) });
}

/** A transcript client: write lines, read until the tagged reply. */
export class LineClient {
  private buf = '';
  private waiters: Array<() => void> = [];
  closed = false;
  greeting = '';

  private constructor(public socket: net.Socket) {
    this.attach(socket);
  }

  private attach(socket: net.Socket): void {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buf += d;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  static async connect(port: number, secure = false): Promise<LineClient> {
    const socket = secure
      ? tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false })
      : net.connect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      socket.once(secure ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    const c = new LineClient(socket);
    await c.waitFor((b) => b.includes('\r\n'));
    c.greeting = c.take();
    return c;
  }

  /** Wait until the buffer satisfies `pred`; returns the buffer. */
  async waitFor(pred: (buf: string) => boolean): Promise<string> {
    while (!pred(this.buf)) {
      if (this.closed) throw new Error(`connection closed; got: ${this.buf}`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
    return this.buf;
  }

  /** Take everything read so far. */
  take(): string {
    const b = this.buf;
    this.buf = '';
    return b;
  }

  write(s: string | Buffer): void {
    this.socket.write(s);
  }

  /** Send `tag command` and return every line up to and including the tagged one. */
  async cmd(tag: string, command: string): Promise<string[]> {
    this.write(`${tag} ${command}\r\n`);
    return this.until(tag);
  }

  async until(tag: string): Promise<string[]> {
    const re = new RegExp(`(^|\\r\\n)${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n`);
    await this.waitFor((b) => re.test(b));
    const b = this.buf;
    const m = re.exec(b) as RegExpExecArray;
    const end = m.index + m[0].length;
    this.buf = b.slice(end);
    return b.slice(0, end).split('\r\n').filter((l) => l.length > 0);
  }

  async startTls(): Promise<void> {
    const secure = tls.connect({ socket: this.socket, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket.removeAllListeners('data');
    this.socket = secure;
    this.attach(secure);
  }

  async login(user: string, password = PASSWORD): Promise<void> {
    const r = await this.cmd('L1', `LOGIN ${user} "${password}"`);
    if (!r.at(-1)?.startsWith('L1 OK')) throw new Error(`login failed: ${r.join('\n')}`);
  }

  close(): void {
    this.socket.destroy();
  }
}

export function flow(app: TestApp, user: string, opts: { secure?: boolean; password?: string } = {}): ImapFlow {
  return new ImapFlow({
    host: '127.0.0.1',
    port: app.port(opts.secure ? 'imaps' : 'imap'),
    secure: opts.secure ?? false,
    doSTARTTLS: false,
    auth: { user, pass: opts.password ?? PASSWORD },
    logger: false,
    tls: { rejectUnauthorized: false },
  });
}
