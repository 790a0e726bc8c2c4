/**
 * A faster DATA scanner for smtp-server's SMTPStream, installed once per process.
 *
 * In DATA mode smtp-server looks at every byte of the message in a JavaScript loop to find a "."
 * at the start of a line: the end mark CRLF "." CRLF, or a transparency dot to remove
 * (RFC 5321 §4.5.2). That loop was a third of the main thread's time for a 2 MB message. Here
 * the same search is Buffer.indexOf for LF "." (native, vectorised), and what is done at each
 * hit is unchanged: the rules, the order and the state kept between chunks are smtp-server's, so
 * smuggling behaviour is too. test/unit/smtp/data-scan.test.ts feeds random messages, cut at
 * random places, through both and requires the same commands, messages and byte counts.
 *
 * Installed only over the smtp-server version it was checked against (SCANNED_VERSION);
 * another version keeps its own scanner.
 */
import { createRequire } from 'node:module';
import { SMTPStream } from 'smtp-server/lib/smtp-stream.js';

/** The smtp-server release whose SMTPStream state this scanner was checked against. */
export const SCANNED_VERSION = '3.21.6';

const LF_DOT = Buffer.from('\n.');

type Done = (err?: Error | null) => void;

/**
 * SMTPStream.prototype._feedDataStream, searching with indexOf.
 *
 * smtp-server joins the 4 bytes it held back to each new chunk (Buffer.concat: a copy of the
 * whole message, 64 KB at a time). Here they are joined only when a line start may span the
 * join (lineStartsAtJoin), at the start of the data, or to a chunk under 4 bytes. Otherwise the
 * chunk is searched alone, and the held bytes are written ahead of the first bytes it gives out:
 * every LF "." smtp-server's search of the joined bytes can find then lies inside the chunk, so
 * the hits, the bytes written and the counts are the same. The writes are corked together, so
 * write() reports backpressure as one write of the joined bytes would. One difference remains:
 * a 'data' listener may get the held bytes as an event of their own (readData only collects).
 */
export function feedDataStream(this: SMTPStream, input: Buffer, done: Done): void {
  const out = this._dataStream;
  if (!out) return done();
  let held = this._lastBytes && this._lastBytes.length ? this._lastBytes : null;
  this._lastBytes = false;
  let chunk = input;
  if (held && (this._atDataStart || input.length < 4 || lineStartsAtJoin(held, input))) {
    chunk = Buffer.concat([held, input], held.length + input.length);
    held = null;
  }
  // From here `held` (when set) goes out ahead of whatever `chunk` gives out.
  if (this._atDataStart) {
    // "." CRLF as the first line: the message is empty and ends here.
    if (chunk.length >= 3 && chunk[0] === 0x2e && chunk[1] === 0x0d && chunk[2] === 0x0a) {
      this._endDataMode(false, chunk.subarray(3), done);
      return;
    }
    // The first line's transparency dot. From here a leading "." is content.
    if (chunk.length >= 2 && chunk[0] === 0x2e && chunk[1] === 0x2e) {
      chunk = chunk.subarray(1);
      this._atDataStart = false;
    }
  }
  const heldBytes = held?.length ?? 0;
  const len = chunk.length;
  // Each LF "." with room after it for a CRLF (dot < len - 2): the end mark, a transparency dot,
  // or (neither) content to pass over.
  for (let lf = chunk.indexOf(LF_DOT, 1); lf !== -1 && lf + 1 < len - 2; lf = chunk.indexOf(LF_DOT, lf + 1)) {
    const dot = lf + 1;
    if (chunk[dot - 2] === 0x0d && chunk[dot + 1] === 0x0d && chunk[dot + 2] === 0x0a) {
      // The message is everything before the ".", its last CRLF included.
      this._countDataBytes(heldBytes + dot);
      if (held && out.writable) out.write(held);
      this._endDataMode(chunk.subarray(0, dot), chunk.subarray(dot + 3), done);
      return;
    }
    if (chunk[dot + 1] === 0x2e) {
      // Emit up to the transparency dot, then go on after it in the next turn.
      this._countDataBytes(heldBytes + dot);
      if (out.writable) writeAll(out, held, chunk.subarray(0, dot));
      const rest = chunk.subarray(dot + 1);
      setImmediate(() => this._feedDataStream(rest, done));
      return;
    }
  }
  // The last 4 bytes wait for the next chunk: they may begin an end mark or a transparency dot.
  // (A chunk searched alone has at least 4: what waits is always its own.)
  const keep = len < 4 ? chunk : chunk.subarray(len - 4);
  this._lastBytes = keep;
  const body = chunk.subarray(0, len - keep.length);
  if (heldBytes + body.length === 0) return done();
  this._countDataBytes(heldBytes + body.length);
  if (!out.writable) return done();
  if (writeAll(out, held, body) || out.destroyed) return done();
  // Backpressure: go on once the reader drained (or went away: a destroyed stream never drains).
  const resume = (): void => {
    out.removeListener('drain', resume);
    out.removeListener('close', resume);
    done();
  };
  out.once('drain', resume);
  out.once('close', resume);
}

/**
 * Is there an LF "." in the joined bytes whose LF is one of the held bytes or the chunk's first
 * byte (the dot at most the chunk's second)? Only such a line start needs the held bytes to be
 * seen; any later one lies wholly inside the chunk. The search, like smtp-server's, starts at
 * index 1 (held[0] is never an LF it acts on).
 */
function lineStartsAtJoin(held: Buffer, input: Buffer): boolean {
  const at = (i: number): number | undefined => (i < held.length ? held[i] : input[i - held.length]);
  for (let lf = 1; lf <= held.length; lf++) if (at(lf) === 0x0a && at(lf + 1) === 0x2e) return true;
  return false;
}

/** Write `held` (if any) and `body` as one: corked, so the answer is that of one write of both. */
function writeAll(out: NonNullable<SMTPStream['_dataStream']>, held: Buffer | null, body: Buffer): boolean {
  if (!held) return out.write(body);
  out.cork();
  let flowing = out.write(held);
  if (body.length > 0) flowing = out.write(body);
  out.uncork();
  return flowing;
}

let installed = false;

/** Puts feedDataStream in place if smtp-server is SCANNED_VERSION; returns whether it did. */
export function installDataScanner(): boolean {
  if (installed) return true;
  const version = (createRequire(import.meta.url)('smtp-server/package.json') as { version?: string }).version;
  if (version !== SCANNED_VERSION) return false;
  SMTPStream.prototype._feedDataStream = feedDataStream;
  installed = true;
  return true;
}
