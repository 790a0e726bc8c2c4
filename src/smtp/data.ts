/**
 * Reading the DATA stream: collect the bytes (bounded), detect bare CR and bare LF.
 *
 * SMTP smuggling (CVE-2023-51764/5/6): only <CRLF>.<CRLF> ends DATA (smtp-server gets that
 * right), but a message carrying `<LF>.<LF>` or `<CR>.<CR>` would be split in two by a
 * lenient next hop when we relay it. RFC 5321 §2.3.8 says CR and LF appear only together as
 * CRLF in SMTP, so a message with a bare CR or LF is REJECTED (550 5.6.0), never stored or
 * relayed, and never normalised (normalising would change signed content silently).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, stat, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { findHeaderFields, stripRawHeaders } from '../delivery/headers.js';

/** Stateful scanner for bare CR / bare LF across chunk boundaries (a whole buffer: mail/line-endings.ts hasBareLineEnding). */
export class LineEndingScanner {
  private lastWasCr = false;
  bare = false;

  push(chunk: Buffer): void {
    if (this.bare || chunk.length === 0) return;
    // A CR at the end of the previous chunk must be followed by LF now.
    if (this.lastWasCr && chunk[0] !== 0x0a) {
      this.bare = true;
      return;
    }
    let i = chunk.indexOf(0x0a, this.lastWasCr ? 1 : 0);
    while (i >= 0) {
      if (i === 0 ? !this.lastWasCr : chunk[i - 1] !== 0x0d) {
        this.bare = true;
        return;
      }
      i = chunk.indexOf(0x0a, i + 1);
    }
    let j = chunk.indexOf(0x0d);
    while (j >= 0 && j < chunk.length - 1) {
      if (chunk[j + 1] !== 0x0a) {
        this.bare = true;
        return;
      }
      j = chunk.indexOf(0x0d, j + 1);
    }
    this.lastWasCr = chunk[chunk.length - 1] === 0x0d;
  }

  /** At the end of the data a pending CR is bare. */
  finish(): boolean {
    if (this.lastWasCr) this.bare = true;
    return this.bare;
  }
}

/**
 * Bytes that messages being received may hold in memory past their own share, shared by all
 * connections: a few big messages stay in memory (no spool file written and read back), while
 * fifty arriving at once still go to disk.
 */
export class MemoryBudget {
  private used = 0;
  constructor(private readonly max: number) {}
  tryTake(n: number): boolean {
    if (this.used + n > this.max) return false;
    this.used += n;
    return true;
  }
  give(n: number): void {
    this.used = Math.max(0, this.used - n);
  }
  get inUse(): number {
    return this.used;
  }
}

/** Where readData spools a message that outgrows its in-memory share. */
export interface SpoolOptions {
  /** Directory for the spool files (storage.dir/tmp, created 0700 by prepareSpoolDir). */
  dir: string;
  /** Bytes of one message always kept in memory before it may go to a file instead. */
  memoryBytes: number;
  /** Past memoryBytes, a message stays in memory while this shared budget has room; then it is spooled. */
  budget?: MemoryBudget;
}

export interface DataResult {
  /** Bytes received (also past the limit). */
  size: number;
  /** Bytes of the message that were kept: `size`, or 0 when the limit was exceeded. */
  length: number;
  sizeExceeded: boolean;
  /** A CR not followed by LF, or an LF not preceded by CR. */
  bareLineEnding: boolean;
  /** The spool file holding the message, null when it stayed in memory. */
  file: string | null;
  /** The whole message (read back from the spool file if it has one; empty past the limit). */
  bytes(): Promise<Buffer>;
  /** Removes the spool file, if any; safe to call more than once. Callers call it in a finally. */
  discard(): Promise<void>;
}

const SPOOL_PREFIX = 'smtp-';
/** Once spooling, at most this many received bytes wait for the file write before the stream is paused. */
const SPOOL_QUEUE_BYTES = 256 * 1024;

/**
 * Collects one DATA stream. Fifty connections each sending a 2 MB message at once used to hold
 * all of it (plus the Buffer.concat copy) in memory before the processing gate (server.ts
 * ByteGate) let any of it through; with `spool`, a message keeps `memoryBytes` in memory, more
 * while the shared `budget` has room, and otherwise the rest goes to a file (with backpressure:
 * the stream pauses while the file write lags), read back whole only once the gate admits it.
 * Small messages never touch disk, nor do a few big ones at a time.
 * The bare line ending scan and the size limit see every byte, in or out of memory.
 */
export function readData(stream: Readable & { sizeExceeded?: boolean }, maxBytes: number, spool?: SpoolOptions): Promise<DataResult> {
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = [];
    let size = 0;
    let kept = 0;
    let exceeded = false;
    const scanner = new LineEndingScanner();
    // Spooling state: the file, the bytes waiting for it, one write in flight at a time.
    let file: string | null = null;
    let fh: FileHandle | null = null;
    let queue: Buffer[] = [];
    let queued = 0;
    let writing: Promise<void> | null = null;
    let writeError: unknown = null;
    // Declared before writeLoop uses it (both are closures over the state above).
    let fail: (e: unknown) => void = () => undefined;
    let paused = false;
    let settled = false;
    /** Bytes of spool.budget this message holds (its in-memory bytes past memoryBytes). */
    let borrowed = 0;
    const giveBack = (): void => {
      spool?.budget?.give(borrowed);
      borrowed = 0;
    };

    const removeFile = async (): Promise<void> => {
      const f = file;
      const h = fh;
      fh = null;
      if (h) await h.close().catch(() => undefined);
      if (f) await unlink(f).catch(() => undefined);
    };

    const writeLoop = async (): Promise<void> => {
      while (queue.length > 0 && writeError === null && !exceeded) {
        const batch = queue;
        const n = queued;
        queue = [];
        queued = 0;
        if (paused) {
          paused = false;
          stream.resume();
        }
        try {
          if (!fh) fh = await open(file ?? '', 'wx', 0o600);
          const { bytesWritten } = await fh.writev(batch);
          if (bytesWritten !== n) throw new Error(`spool: short write (${bytesWritten} of ${n} bytes)`);
        } catch (e) {
          writeError = e;
          fail(e);
        }
      }
    };
    const enqueue = (chunk: Buffer): void => {
      queue.push(chunk);
      queued += chunk.length;
      if (!writing) writing = writeLoop().finally(() => (writing = null));
      if (queued >= SPOOL_QUEUE_BYTES && !paused) {
        paused = true;
        stream.pause();
      }
    };

    fail = (e: unknown): void => {
      if (settled) return;
      settled = true;
      chunks = [];
      giveBack();
      if (paused) stream.resume();
      void (async () => {
        await writing;
        await removeFile();
        reject(e instanceof Error ? e : new Error(String(e)));
      })();
    };

    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (exceeded || settled) return;
      if (size > maxBytes) {
        // Past the limit the message is refused: nothing more is kept, in memory or on disk.
        exceeded = true;
        chunks = [];
        giveBack();
        queue = [];
        queued = 0;
        return;
      }
      scanner.push(chunk);
      kept += chunk.length;
      if (file === null) {
        chunks.push(chunk);
        if (spool && kept > spool.memoryBytes) {
          const need = kept - spool.memoryBytes - borrowed;
          if (spool.budget?.tryTake(need)) {
            borrowed += need;
            return;
          }
          file = path.join(spool.dir, `${SPOOL_PREFIX}${process.pid}-${randomBytes(8).toString('hex')}`);
          const first = Buffer.concat(chunks, kept);
          chunks = [];
          giveBack();
          enqueue(first);
        }
      } else {
        enqueue(chunk);
      }
    });
    stream.once('error', fail);
    // A stream destroyed without an error (the client went away) closes without 'end'.
    stream.once('close', () => {
      if (!stream.readableEnded) fail(new Error('DATA stream closed before its end'));
    });
    stream.once('end', () => {
      if (settled) return;
      settled = true;
      void (async () => {
        while (writing) await writing;
        if (writeError !== null) {
          giveBack();
          await removeFile();
          reject(writeError instanceof Error ? writeError : new Error(String(writeError)));
          return;
        }
        const h = fh;
        fh = null;
        if (h) await h.close();
        const sizeExceeded = exceeded || size > maxBytes || stream.sizeExceeded === true;
        if (sizeExceeded) await removeFile();
        const memory = sizeExceeded || file !== null ? null : Buffer.concat(chunks, kept);
        chunks = [];
        if (!memory) giveBack();
        const spoolFile = sizeExceeded ? null : file;
        let discarded = false;
        resolve({
          size,
          length: sizeExceeded ? 0 : kept,
          sizeExceeded,
          bareLineEnding: scanner.finish(),
          file: spoolFile,
          bytes: async () => {
            if (memory) return memory;
            if (spoolFile === null || discarded) return Buffer.alloc(0);
            return readFile(spoolFile);
          },
          discard: async () => {
            giveBack(); // an in-memory message's share goes back to the budget (the processing gate bounds it from here)
            if (discarded || spoolFile === null) return;
            discarded = true;
            await unlink(spoolFile).catch(() => undefined);
          },
        });
      })().catch(fail);
    });
  });
}

/**
 * Creates the spool directory (0700: messages are private) and removes files left by an earlier
 * process: those of a process that no longer runs, and those of our own pid older than this
 * process (a restarted container often gets the same pid again).
 */
export async function prepareSpoolDir(dir: string): Promise<number> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const startedAt = Date.now() - process.uptime() * 1000;
  let removed = 0;
  for (const name of await readdir(dir)) {
    const m = /^smtp-(\d+)-/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    const p = path.join(dir, name);
    try {
      const stale = pid === process.pid ? (await stat(p)).mtimeMs < startedAt : !processAlive(pid);
      if (stale) {
        await unlink(p);
        removed++;
      }
    } catch {
      // gone already
    }
  }
  return removed;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Header section problems: its size, and the longest header line (RFC 5322 §2.1.1: 998). */
export function headerLimits(raw: Buffer, maxHeaderBytes: number, maxLineBytes: number): 'header-too-large' | 'line-too-long' | null {
  const end = raw.indexOf('\r\n\r\n');
  const headerEnd = end < 0 ? raw.length : end + 2;
  if (headerEnd > maxHeaderBytes) return 'header-too-large';
  let pos = 0;
  while (pos < headerEnd) {
    let eol = raw.indexOf(0x0a, pos);
    if (eol < 0 || eol > headerEnd) eol = headerEnd;
    if (eol - pos - 1 > maxLineBytes) return 'line-too-long';
    pos = eol + 1;
  }
  return null;
}

export interface IncomingHeaders {
  /** The message without the dropped fields (the same buffer when none was dropped). */
  raw: Buffer;
  /** Top-level Received fields (loop detection, RFC 5321 §6.3). */
  received: number;
  /** Top-level From fields (RFC 5322 §3.6: exactly one). */
  from: number;
  /** Top-level Sender fields (RFC 5322 §3.6: at most one). */
  sender: number;
}

/**
 * One pass over the top-level header section of an arriving message: drops the fields nobody
 * outside may set (`drop(name)`: incoming X-Buudien-*), and those `dropByValue(name, value)`
 * refuses (Authentication-Results bearing our own authserv-id, RFC 8601 §5), and counts the
 * Received and From fields. `byValue` names the fields whose value `dropByValue` must see.
 */
export function scanIncomingHeaders(
  raw: Buffer,
  rules: { drop: (nameLower: string) => boolean; byValue: (nameLower: string) => boolean; dropByValue: (nameLower: string, value: string) => boolean },
): IncomingHeaders {
  const crlf = raw.indexOf('\r\n\r\n');
  const headerEnd = crlf < 0 ? raw.length : crlf + 2;
  let received = 0;
  let from = 0;
  let sender = 0;
  const names: string[] = [];
  const ranges = findHeaderFields(raw, headerEnd, (n) => {
    if (n === 'received') received++;
    else if (n === 'from') from++;
    else if (n === 'sender') sender++;
    const hit = rules.drop(n) || rules.byValue(n);
    if (hit) names.push(n);
    return hit;
  });
  // Which of the fields read by value go: their ordinals among those fields, in header order.
  const byValue = new Set<number>();
  let dropAny = false;
  let k = -1;
  ranges.forEach((r, i) => {
    const name = names[i] ?? '';
    if (rules.drop(name)) {
      dropAny = true;
      return;
    }
    k++;
    const field = raw.subarray(r[0], r[1]).toString('utf8');
    if (rules.dropByValue(name, field.slice(field.indexOf(':') + 1))) {
      byValue.add(k);
      dropAny = true;
    }
  });
  if (!dropAny) return { raw, received, from, sender };
  let j = -1;
  const out = stripRawHeaders(raw, (n) => rules.drop(n) || (rules.byValue(n) && byValue.has(++j)));
  return { raw: out, received, from, sender };
}
