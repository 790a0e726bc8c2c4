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
 * smtp-server joins the 4 bytes it held back to each new chunk, a copy of the whole message
 * 64 KB at a time. Here that join is made only when a line starting with "." may begin in
 * those bytes (an LF "." at most one byte into the chunk), at the start of the data, or for a
 * chunk under 4 bytes; otherwise (feedAfterHeld) the held bytes are written ahead of the chunk
 * and the chunk is searched alone: every LF "." found there lies wholly inside it.
 */
export function feedDataStream(this: SMTPStream, input: Buffer, done: Done): void {
  const out = this._dataStream;
  if (!out) return done();
  const held = this._lastBytes && this._lastBytes.length ? this._lastBytes : null;
  if (held && !this._atDataStart && input.length >= 4 && !lineStartsAtJoin(held, input)) {
    feedAfterHeld.call(this, out, held, input, done);
    return;
  }
  let chunk = input;
  if (held) {
    chunk = Buffer.concat([held, chunk], held.length + chunk.length);
    this._lastBytes = false;
  }
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
  const len = chunk.length;
  // Each LF "." with room after it for a CRLF (dot < len - 2): the end mark, a transparency dot,
  // or (neither) content to pass over.
  for (let lf = chunk.indexOf(LF_DOT, 1); lf !== -1 && lf + 1 < len - 2; lf = chunk.indexOf(LF_DOT, lf + 1)) {
    const dot = lf + 1;
    if (chunk[dot - 2] === 0x0d && chunk[dot + 1] === 0x0d && chunk[dot + 2] === 0x0a) {
      // The message is everything before the ".", its last CRLF included.
      const body = chunk.subarray(0, dot);
      this._countDataBytes(body.length);
      this._endDataMode(body, chunk.subarray(dot + 3), done);
      return;
    }
    if (chunk[dot + 1] === 0x2e) {
      // Emit up to the transparency dot, then go on after it in the next turn.
      const body = chunk.subarray(0, dot);
      this._lastBytes = false;
      this._countDataBytes(body.length);
      if (out.writable) out.write(body);
      const rest = chunk.subarray(dot + 1);
      setImmediate(() => this._feedDataStream(rest, done));
      return;
    }
  }
  // The last 4 bytes wait for the next chunk: they may begin an end mark or a transparency dot.
  const keep = chunk.length < 4 ? chunk : chunk.subarray(chunk.length - 4);
  this._lastBytes = keep;
  if (keep.length >= chunk.length) return done();
  const body = chunk.subarray(0, chunk.length - keep.length);
  this._countDataBytes(body.length);
  if (!out.writable) return done();
  if (out.write(body) || out.destroyed) return done();
  afterDrain(out, done);
}

/** Backpressure: go on once the reader drained (or went away: a destroyed stream never drains). */
function afterDrain(out: NonNullable<SMTPStream['_dataStream']>, done: Done): void {
  const resume = (): void => {
    out.removeListener('drain', resume);
    out.removeListener('close', resume);
    done();
  };
  out.once('drain', resume);
  out.once('close', resume);
}

/**
 * Is there an LF "." whose LF is one of the held bytes or the chunk's first byte, in the
 * joined bytes from index 1 (where smtp-server's search begins)? Such a line start needs bytes
 * from both sides; any later one lies inside the chunk.
 */
function lineStartsAtJoin(held: Buffer, input: Buffer): boolean {
  const at = (i: number): number | undefined => (i < held.length ? held[i] : input[i - held.length]);
  for (let lf = 1; lf <= held.length; lf++) if (at(lf) === 0x0a && at(lf + 1) === 0x2e) return true;
  return false;
}

/**
 * feedDataStream's search over `held` + `input` when no line start spans the two
 * (lineStartsAtJoin false, input ≥ 4 bytes, past the data's start): the same hits in the same
 * order, the held bytes written ahead of whatever the joined search would have written.
 */
function feedAfterHeld(this: SMTPStream, out: NonNullable<SMTPStream['_dataStream']>, held: Buffer, input: Buffer, done: Done): void {
  this._lastBytes = false;
  const len = input.length;
  for (let lf = input.indexOf(LF_DOT, 1); lf !== -1 && lf + 1 < len - 2; lf = input.indexOf(LF_DOT, lf + 1)) {
    const dot = lf + 1;
    if (input[dot - 2] === 0x0d && input[dot + 1] === 0x0d && input[dot + 2] === 0x0a) {
      this._countDataBytes(held.length + dot);
      if (out.writable) out.write(held);
      this._endDataMode(input.subarray(0, dot), input.subarray(dot + 3), done);
      return;
    }
    if (input[dot + 1] === 0x2e) {
      this._countDataBytes(held.length + dot);
      if (out.writable) {
        out.write(held);
        out.write(input.subarray(0, dot));
      }
      const rest = input.subarray(dot + 1);
      setImmediate(() => this._feedDataStream(rest, done));
      return;
    }
  }
  this._lastBytes = input.subarray(len - 4);
  const body = input.subarray(0, len - 4);
  this._countDataBytes(held.length + body.length);
  if (!out.writable) return done();
  const flowing = out.write(held);
  if ((body.length === 0 ? flowing : out.write(body)) || out.destroyed) return done();
  afterDrain(out, done);
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
