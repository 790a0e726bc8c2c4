/**
 * One client connection's byte streams: writes with backpressure, the STARTTLS upgrade
 * (whatever was buffered before it is thrown away) and COMPRESS=DEFLATE on both directions.
 */
import type { Socket } from 'node:net';
import { Writable, type Readable } from 'node:stream';
import { TLSSocket, type SecureContext } from 'node:tls';
import zlib from 'node:zlib';

export class Conn {
  private socket: Socket;
  private deflate: zlib.DeflateRaw | null = null;
  private inflate: zlib.InflateRaw | null = null;
  private onData: (chunk: Buffer) => void = () => undefined;
  private closedFlag = false;
  private closeHandlers = new Set<() => void>();
  readonly remoteAddress: string;
  secure: boolean;

  constructor(socket: Socket, secure: boolean, ip: string) {
    this.socket = socket;
    this.secure = secure;
    this.remoteAddress = ip;
    this.attach(socket);
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  get compressed(): boolean {
    return this.deflate !== null;
  }

  /** The socket (for tests and limits); do not write to it directly. */
  get raw(): Socket {
    return this.socket;
  }

  private readonly handlers = {
    data: (c: Buffer): void => {
      if (this.inflate) this.inflate.write(c);
      else this.onData(c);
    },
    gone: (): void => this.markClosed(),
  };

  private attach(s: Socket): void {
    s.on('data', this.handlers.data);
    s.on('error', this.handlers.gone);
    s.on('close', this.handlers.gone);
  }

  /** Remove only our own listeners (the listener's per-IP accounting stays on the raw socket). */
  private detach(s: Socket): void {
    s.off('data', this.handlers.data);
    s.off('error', this.handlers.gone);
    s.off('close', this.handlers.gone);
  }

  private markClosed(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    const handlers = [...this.closeHandlers];
    this.closeHandlers.clear();
    for (const h of handlers) h();
  }

  /** Run `h` when the connection closes (at once if it is closed); returns what takes it off again. */
  onClose(h: () => void): () => void {
    if (this.closedFlag) {
      h();
      return () => undefined;
    }
    this.closeHandlers.add(h);
    return () => {
      this.closeHandlers.delete(h);
    };
  }

  /** How many close handlers are registered (tests: writes waiting for drain must not leave theirs behind). */
  get closeHandlerCount(): number {
    return this.closeHandlers.size;
  }

  setDataHandler(h: (chunk: Buffer) => void): void {
    this.onData = h;
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  private target(): NodeJS.WritableStream & { writableNeedDrain?: boolean } {
    return this.deflate ?? this.socket;
  }

  /** Write, waiting for the kernel (or the compressor) to take it when buffers are full. */
  async write(data: Buffer | string): Promise<void> {
    if (this.closedFlag) return;
    const t = this.target();
    const ok = t.write(data);
    if (this.deflate) this.deflate.flush(zlib.constants.Z_SYNC_FLUSH);
    if (!ok) await this.drained(t);
  }

  /** Several pieces as one write burst (one deflate flush). */
  async writeMany(parts: Array<Buffer | string>): Promise<void> {
    if (this.closedFlag || parts.length === 0) return;
    const t = this.target();
    let ok = true;
    // Corked: the pieces (response text and body slices, not copied) leave in one writev.
    const w = parts.length > 1 && t instanceof Writable ? t : null;
    w?.cork();
    for (const p of parts) ok = t.write(p) && ok;
    w?.uncork();
    if (this.deflate) this.deflate.flush(zlib.constants.Z_SYNC_FLUSH);
    if (!ok) await this.drained(t);
  }

  /** Copy a stream (a message body slice) to the client with backpressure. */
  async pipeFrom(src: Readable): Promise<number> {
    let n = 0;
    for await (const chunk of src) {
      const b = chunk as Buffer;
      n += b.length;
      if (this.closedFlag) {
        src.destroy();
        break;
      }
      const t = this.target();
      if (!t.write(b)) await this.drained(t);
    }
    return n;
  }

  private drained(t: NodeJS.WritableStream): Promise<void> {
    return new Promise((resolve) => {
      if (this.closedFlag) return resolve();
      // Each side takes the other off: a connection with many waits for drain (a big FETCH to a
      // slow reader) must not collect a close handler per wait until it closes.
      let offClose: () => void = () => undefined;
      const done = (): void => {
        t.removeListener('drain', done);
        offClose();
        resolve();
      };
      t.once('drain', done);
      offClose = this.onClose(done);
    });
  }

  /** Upgrade to TLS (after the tagged OK to STARTTLS was written). */
  startTls(context: SecureContext): Promise<void> {
    const plain = this.socket;
    this.detach(plain);
    plain.on('error', () => undefined);
    plain.once('close', this.handlers.gone);
    return new Promise((resolve, reject) => {
      const tlsSocket = new TLSSocket(plain, { isServer: true, secureContext: context });
      this.socket = tlsSocket;
      tlsSocket.once('secure', () => {
        this.secure = true;
        resolve();
      });
      tlsSocket.once('error', (e) => reject(e));
      this.attach(tlsSocket);
    });
  }

  /** Switch on COMPRESS=DEFLATE (RFC 4978) after the tagged OK was written. */
  startCompression(): void {
    const deflate = zlib.createDeflateRaw({ level: 6 });
    const inflate = zlib.createInflateRaw();
    deflate.on('data', (c: Buffer) => {
      if (!this.socket.write(c)) {
        deflate.pause();
        this.socket.once('drain', () => deflate.resume());
      }
    });
    deflate.on('error', () => this.close());
    inflate.on('data', (c: Buffer) => this.onData(c));
    inflate.on('error', () => this.close());
    this.deflate = deflate;
    this.inflate = inflate;
  }

  /** Compressed bytes that arrived before the switch (already read from the socket). */
  feedCompressed(data: Buffer): void {
    this.inflate?.write(data);
  }

  /** Flush and close. */
  async end(): Promise<void> {
    if (this.closedFlag) return;
    if (this.deflate) {
      const d = this.deflate;
      await new Promise<void>((r) => d.flush(zlib.constants.Z_SYNC_FLUSH, () => r()));
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.socket.destroy();
        resolve();
      }, 2000);
      timer.unref();
      this.socket.end(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.socket.destroy();
    this.markClosed();
  }

  close(): void {
    this.socket.destroy();
    this.markClosed();
  }
}
