/**
 * The raw socket underneath every transcript client (SMTP, IMAP, POP3 tests): buffers what
 * the server sends and lets a test wait for a condition on it, or for the close, never sleeping.
 */
import net from 'node:net';
import tls from 'node:tls';

export class SocketReader {
  protected buf = '';
  private waiters: Array<() => void> = [];
  closed = false;

  constructor(public socket: net.Socket) {
    this.attach(socket);
  }

  /** Connect to 127.0.0.1:port, in TLS from the start when `secure` (certificates not checked). */
  static async open(port: number, secure = false): Promise<net.Socket> {
    const socket = secure ? tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }) : net.connect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      socket.once(secure ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    return socket;
  }

  protected attach(socket: net.Socket): void {
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

  /** Resolves on the next data or close. */
  protected nextEvent(): Promise<void> {
    return new Promise<void>((r) => this.waiters.push(r));
  }

  /** Wait until the buffer satisfies `pred`; returns the buffer. Throws if the server closes first. */
  async waitFor(pred: (buf: string) => boolean): Promise<string> {
    while (!pred(this.buf)) {
      if (this.closed) throw new Error(`connection closed; got: ${this.buf}`);
      await this.nextEvent();
    }
    return this.buf;
  }

  /** Take everything read so far. */
  take(): string {
    const b = this.buf;
    this.buf = '';
    return b;
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Resolves when the server has closed the connection. */
  async waitClosed(): Promise<void> {
    while (!this.closed) await this.nextEvent();
  }

  close(): void {
    this.socket.destroy();
  }

  /** Upgrade this connection to TLS (after STARTTLS/STLS was accepted). */
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
}
