/**
 * ClamAV clamd client: zINSTREAM over a Unix socket or TCP. The stream is sent in chunks, each
 * prefixed by its length as a 4-byte big-endian integer, ended by a zero-length chunk; clamd
 * answers `stream: OK`, `stream: <Signature> FOUND` or `… ERROR`.
 */
import net from 'node:net';

export type ClamdResult = { kind: 'clean' } | { kind: 'infected'; signature: string } | { kind: 'error'; detail: string };

export interface ClamdTarget {
  socket?: string;
  host?: string;
  port?: number;
}

const CHUNK = 64 * 1024;

export function clamdScan(target: ClamdTarget, data: Buffer, timeoutMs: number): Promise<ClamdResult> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: ClamdResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const sock = target.socket ? net.createConnection({ path: target.socket }) : net.createConnection({ host: target.host ?? '127.0.0.1', port: target.port ?? 3310 });
    const timer = setTimeout(() => done({ kind: 'error', detail: `clamd: no answer in ${timeoutMs} ms` }), timeoutMs);
    const replies: Buffer[] = [];
    sock.on('error', (e) => done({ kind: 'error', detail: `clamd: ${e.message}` }));
    sock.on('data', (d) => {
      replies.push(d);
      const text = Buffer.concat(replies).toString('utf8');
      if (text.includes('\0')) done(parseReply(text.slice(0, text.indexOf('\0'))));
    });
    sock.on('end', () => done(parseReply(Buffer.concat(replies).toString('utf8').replace(/\0.*$/s, ''))));
    sock.on('connect', () => {
      sock.write('zINSTREAM\0');
      for (let off = 0; off < data.length; off += CHUNK) {
        const chunk = data.subarray(off, off + CHUNK);
        const len = Buffer.alloc(4);
        len.writeUInt32BE(chunk.length);
        sock.write(len);
        sock.write(chunk);
      }
      sock.write(Buffer.alloc(4));
    });
  });
}

export function parseReply(text: string): ClamdResult {
  const t = text.trim();
  if (!t) return { kind: 'error', detail: 'clamd: empty reply' };
  const found = /^(?:stream|[^:]*):\s*(.+)\s+FOUND$/.exec(t);
  if (found) return { kind: 'infected', signature: (found[1] as string).trim() };
  if (/:\s*OK$/.test(t)) return { kind: 'clean' };
  return { kind: 'error', detail: `clamd: ${t.slice(0, 200)}` };
}
