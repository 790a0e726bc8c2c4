/**
 * The indexOf DATA scanner (src/smtp/data-scan.ts) against smtp-server's own: random sessions
 * (commands, messages full of dots, CRs, LFs and end-mark look-alikes, smuggling attempts) cut
 * into random chunks must give the same commands, the same message bytes and the same byte
 * counts through both.
 */
import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { SMTPStream } from 'smtp-server/lib/smtp-stream.js';
import { feedDataStream, installDataScanner, SCANNED_VERSION } from '../../../src/smtp/data-scan.js';

/** smtp-server's scanner, kept before anything replaces it. */
const original = SMTPStream.prototype._feedDataStream;

interface Trace {
  events: string[];
}

/** One SMTPStream with the given scanner, fed `chunks` in order; what came out of it. */
async function run(scan: typeof original, chunks: Buffer[]): Promise<Trace> {
  const events: string[] = [];
  const s = new SMTPStream();
  s._feedDataStream = scan;
  s.oncommand = (line: Buffer, next?: () => void) => {
    const cmd = line.toString('latin1');
    events.push(`C:${cmd}`);
    if (cmd === 'DATA') {
      const ds = s.startDataMode(1 << 20);
      const parts: Buffer[] = [];
      ds.on('data', (b: Buffer) => parts.push(b));
      ds.on('end', () => {
        events.push(`M:${JSON.stringify(Buffer.concat(parts).toString('latin1'))} bytes=${s.dataBytes} len=${ds.byteLength}`);
        // smtp-server's continue() clears its callback after calling it, so a second message
        // ended inside that call (sent without waiting for 354) would never resume the parser.
        // This harness resumes the way continue() means to; the scanners are what is compared.
        setImmediate(() => {
          const resume = s._continueCallback;
          if (typeof resume !== 'function') {
            s._continueCallback = true;
            return;
          }
          s._continueCallback = false;
          resume();
        });
      });
    }
    next?.();
  };
  const step = (f: (cb: () => void) => void, what: string) =>
    Promise.race([new Promise<void>((resolve) => f(resolve)), new Promise<void>((resolve) => setTimeout(() => (events.push(`stuck: ${what}`), resolve()), 500))]);
  for (const c of chunks) await step((cb) => s.write(c, cb), 'write');
  await step((cb) => s.end(cb), 'end');
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  return { events };
}

let seed = 12345;
function rnd(n: number): number {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed % n;
}

const PIECES = ['a', 'b', '.', '..', '\r', '\n', '\r\n', '\r\n.', '.\r\n', '\r\n.\r\n', '\n.\n', '\r.\r', '\r\n..\r\n', 'QUIT', 'MAIL FROM:<x@y>'];

function randomSession(): Buffer {
  let s = '';
  const messages = 1 + rnd(3);
  for (let m = 0; m < messages; m++) {
    s += 'DATA\r\n';
    const n = rnd(30);
    for (let i = 0; i < n; i++) s += PIECES[rnd(PIECES.length)];
    s += rnd(4) === 0 ? '' : '\r\n.\r\n';
    s += rnd(2) === 0 ? 'NOOP\r\n' : '';
  }
  s += 'QUIT\r\n';
  return Buffer.from(s, 'latin1');
}

function cut(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at < buf.length) {
    const n = 1 + rnd(rnd(3) === 0 ? 4 : 40);
    out.push(buf.subarray(at, at + n));
    at += n;
  }
  return out;
}

describe('DATA scanner (indexOf) against smtp-server', () => {
  it('is installed over the smtp-server version it was checked against', () => {
    const version = (createRequire(import.meta.url)('smtp-server/package.json') as { version: string }).version;
    // Upgrading smtp-server: re-read its _feedDataStream, run this file, then move SCANNED_VERSION.
    expect(version).toBe(SCANNED_VERSION);
  });

  it('the same commands, messages and byte counts on 3,000 random sessions cut at random places', async () => {
    for (let k = 0; k < 3000; k++) {
      const session = randomSession();
      const chunks = cut(session);
      const [a, b] = [await run(original, chunks), await run(feedDataStream, chunks)];
      expect(b, JSON.stringify(session.toString('latin1'))).toEqual(a);
      expect(a.events.filter((e) => e.startsWith('stuck'))).toEqual([]);
    }
  });

  it('known cases: the end mark across chunks, a leading dot line, smuggling look-alikes', async () => {
    const cases: Array<[string, number[]]> = [
      ['DATA\r\nabc\r\n.\r\nQUIT\r\n', [8, 3, 2]],
      ['DATA\r\n..\r\nx\r\n.\r\nQUIT\r\n', [6, 2, 1]],
      ['DATA\r\n.\r\nQUIT\r\n', [6]],
      ['DATA\r\nhi\n.\nMAIL FROM:<e@v>\r\n\r.\rRCPT TO:<x@y>\r\n.\r\nQUIT\r\n', [7, 1, 1]],
      ['DATA\r\n' + 'x'.repeat(5000) + '\r\n..dot\r\n' + 'y'.repeat(70000) + '\r\n.\r\nQUIT\r\n', [65536]],
    ];
    for (const [text, sizes] of cases) {
      const buf = Buffer.from(text, 'latin1');
      const chunks: Buffer[] = [];
      let at = 0;
      for (const n of sizes) {
        chunks.push(buf.subarray(at, at + n));
        at += n;
      }
      if (at < buf.length) chunks.push(buf.subarray(at));
      const a = await run(original, chunks);
      expect(await run(feedDataStream, chunks)).toEqual(a);
      // Exactly one message each, QUIT seen after it: nothing was smuggled out of the data.
      expect(a.events.filter((e) => e.startsWith('M:'))).toHaveLength(1);
      expect(a.events.at(-1)).toBe('C:QUIT');
    }
  });

  it('the same on every way of cutting the data of short sessions around end marks and dots, near each chunk join', async () => {
    // The scanner searches a chunk alone when no line start spans its join with the 4 bytes held
    // from the chunk before: every cut of these data regions (up to 12 bytes) into chunks puts
    // held bytes of 1–4 and "\r\n.", "\r\n.." or "..." on each side of a join.
    const bodies = ['ab\r\n.\r\n', 'abcd\r\n.\r\n', 'x\r\n..\r\n.\r\n', 'xyzw\r\n...\r\n.\r\n', '..x\r\n.\r\n', '\r\n..\r\n.\r\n', 'a\n.\r\n.\r\n', 'ab\r.\r\n\r\n.\r\n'];
    let runs = 0;
    for (const body of bodies) {
      const session = Buffer.from(`DATA\r\n${body}NOOP\r\nQUIT\r\n`, 'latin1');
      const region = Math.min(12, body.length + 2);
      for (let mask = 0; mask < 1 << (region - 1); mask++) {
        const chunks = [session.subarray(0, 6)];
        let last = 6;
        for (let k = 1; k <= region; k++) {
          if (k < region && !(mask & (1 << (k - 1)))) continue;
          chunks.push(session.subarray(last, 6 + k));
          last = 6 + k;
        }
        chunks.push(session.subarray(last));
        const a = await run(original, chunks);
        expect(await run(feedDataStream, chunks), `${JSON.stringify(body)} cut ${chunks.map((c) => c.length).join(',')}`).toEqual(a);
        runs++;
      }
    }
    expect(runs).toBeGreaterThan(5000);
  });

  it('a paused reader stops the writer at the same chunk as smtp-server does (TLS-record-sized chunks too)', async () => {
    const stallsAt = async (scan: typeof original, size: number): Promise<number> => {
      const s = new SMTPStream();
      s._feedDataStream = scan;
      let ds: ReturnType<SMTPStream['startDataMode']> | undefined;
      s.oncommand = (_line: Buffer, next?: () => void) => {
        ds = s.startDataMode(1 << 30);
        ds.on('data', () => undefined);
        next?.();
      };
      await new Promise<void>((r) => s.write(Buffer.from('DATA\r\n'), () => r()));
      await new Promise<void>((r) => s.write(Buffer.alloc(100, 0x78), () => r()));
      await new Promise((r) => setTimeout(r, 5));
      ds?.pause();
      for (let k = 0; k < 8; k++) {
        const written = await Promise.race([new Promise<boolean>((r) => s.write(Buffer.alloc(size, 0x78), () => r(true))), new Promise<boolean>((r) => setTimeout(() => r(false), 50))]);
        if (!written) return k;
      }
      return -1;
    };
    for (const size of [16380, 16384, 16387, 16388, 65536]) expect(await stallsAt(feedDataStream, size), `chunks of ${size}`).toBe(await stallsAt(original, size));
  });

  it('installDataScanner puts it on SMTPStream', () => {
    expect(installDataScanner()).toBe(true);
    expect(SMTPStream.prototype._feedDataStream).toBe(feedDataStream);
    SMTPStream.prototype._feedDataStream = original;
  });
});
