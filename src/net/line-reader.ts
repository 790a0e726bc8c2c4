/**
 * A CRLF line reader with byte limits, for IMAP and POP3 sessions (pull-based, one reader per
 * connection, one pending read at a time):
 *
 *   const reader = new LineReader(socket, { maxLineBytes: 512 });
 *   const r = await reader.next();      // { kind: 'line', line } | { kind: 'too-long', bytes } | { kind: 'end' }
 *   const lit = await reader.readBytes(n); // literal mode: exactly n bytes, or null at end
 *   const dropped = reader.detach();     // STARTTLS: stop reading, DISCARD everything buffered
 *
 * Lines end at LF; a CR before it is removed ("bare LF" is accepted as a line end). A line
 * longer than maxLineBytes (counting its CRLF) is never buffered whole: the reader returns
 * 'too-long' as soon as the limit is passed and skips the rest of that line. Pipelined input
 * is buffered up to maxBufferedBytes, then the socket is paused (backpressure) until the
 * session catches up, so memory per connection stays bounded.
 */
import type { Duplex } from 'node:stream';

export type ReadResult =
  | { kind: 'line'; line: Buffer }
  | { kind: 'too-long'; bytes: number }
  | { kind: 'end' };

export interface LineReaderOptions {
  /** Longest line accepted, CRLF included. */
  maxLineBytes: number;
  /** Pause the socket when this much unread input is waiting (default 64 × maxLineBytes, at least 64 KiB). */
  maxBufferedBytes?: number;
}

type Waiter = { want: 'line'; resolve: (r: ReadResult) => void } | { want: number; resolve: (b: Buffer | null) => void };

export class LineReader {
  private chunks: Buffer[] = [];
  private length = 0;
  /** Bytes at the head already searched for LF. */
  private scanned = 0;
  /** Skipping the rest of a too-long line. */
  private discarding = false;
  private ended = false;
  private detached = false;
  private waiter: Waiter | null = null;
  private readonly maxBuffered: number;
  private readonly onData = (chunk: Buffer) => this.push(chunk);
  private readonly onEnd = () => {
    this.ended = true;
    this.pump();
  };

  constructor(
    private readonly socket: Duplex,
    private readonly opts: LineReaderOptions,
  ) {
    this.maxBuffered = opts.maxBufferedBytes ?? Math.max(64 * opts.maxLineBytes, 64 * 1024);
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onEnd);
  }

  /** Bytes received and not yet consumed. */
  get buffered(): number {
    return this.length;
  }

  next(): Promise<ReadResult> {
    if (this.waiter) throw new Error('LineReader: one read at a time');
    return new Promise<ReadResult>((resolve) => {
      this.waiter = { want: 'line', resolve };
      this.pump();
    });
  }

  /** Exactly n bytes (an IMAP literal), or null if the connection ends first. The caller bounds n. */
  readBytes(n: number): Promise<Buffer | null> {
    if (this.waiter) throw new Error('LineReader: one read at a time');
    return new Promise<Buffer | null>((resolve) => {
      this.waiter = { want: n, resolve };
      this.pump();
    });
  }

  /**
   * Stop reading and throw away whatever was received but not consumed (STARTTLS injection,
   * SECURITY-NOTES). The socket is left paused, so bytes that arrive later stay in it for the
   * TLS layer. A pending read resolves as 'end'. Returns the number of bytes discarded.
   */
  detach(): number {
    const dropped = this.length;
    this.detached = true;
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onEnd);
    this.socket.pause();
    this.chunks = [];
    this.length = 0;
    this.scanned = 0;
    this.ended = true;
    this.pump();
    return dropped;
  }

  private push(chunk: Buffer): void {
    if (this.detached) return;
    let data = chunk;
    if (this.discarding && !(this.waiter && typeof this.waiter.want === 'number')) {
      const lf = data.indexOf(10);
      if (lf === -1) return;
      this.discarding = false;
      data = data.subarray(lf + 1);
      if (data.length === 0) return;
    }
    this.chunks.push(data);
    this.length += data.length;
    const want = this.waiter && typeof this.waiter.want === 'number' ? this.waiter.want : 0;
    if (this.length > Math.max(this.maxBuffered, want)) this.socket.pause();
    this.pump();
  }

  private head(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.length)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  private consume(n: number): Buffer {
    const buf = this.head();
    const out = buf.subarray(0, n);
    const rest = buf.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.length = rest.length;
    this.scanned = 0;
    return out;
  }

  private pump(): void {
    const w = this.waiter;
    if (!w) return;
    if (w.want === 'line') {
      const r = this.tryLine();
      if (r) {
        this.waiter = null;
        w.resolve(r);
      }
    } else if (this.length >= w.want) {
      this.waiter = null;
      w.resolve(Buffer.from(this.takeBytes(w.want)));
    } else if (this.ended) {
      this.waiter = null;
      w.resolve(null);
    }
    if (!this.detached && !this.ended && this.socket.isPaused() && this.length <= this.maxBuffered) this.socket.resume();
  }

  private takeBytes(n: number): Buffer {
    // Avoid concatenating everything when the head chunk alone is enough.
    const first = this.chunks[0];
    if (first && first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.length -= n;
      this.scanned = 0;
      return out;
    }
    const parts: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const c = this.chunks.shift() as Buffer;
      if (c.length <= need) {
        parts.push(c);
        need -= c.length;
      } else {
        parts.push(c.subarray(0, need));
        this.chunks.unshift(c.subarray(need));
        need = 0;
      }
    }
    this.length -= n;
    this.scanned = 0;
    return Buffer.concat(parts, n);
  }

  private tryLine(): ReadResult | null {
    if (this.length > 0) {
      const buf = this.head();
      const lf = buf.indexOf(10, this.scanned);
      if (lf !== -1) {
        if (lf + 1 > this.opts.maxLineBytes) {
          this.consume(lf + 1);
          return { kind: 'too-long', bytes: lf + 1 };
        }
        const raw = this.consume(lf + 1);
        const end = lf > 0 && raw[lf - 1] === 13 ? lf - 1 : lf;
        return { kind: 'line', line: raw.subarray(0, end) };
      }
      this.scanned = buf.length;
      if (buf.length >= this.opts.maxLineBytes) {
        const bytes = buf.length;
        this.consume(bytes);
        this.discarding = true;
        return { kind: 'too-long', bytes };
      }
    }
    return this.ended ? { kind: 'end' } : null;
  }
}
