/**
 * Audit fixes, over raw bytes: FETCH responses stay whole when an item fails (RFC 3516 §4.2),
 * no NUL in a `{n}` literal (RFC 9051 §4.3.1), the LIST response of SELECT under IMAP4rev2
 * (RFC 9051 §6.3.2), LIST (SPECIAL-USE) with RETURN options (RFC 5258 §3, RFC 5819 §2) and
 * VANISHED (EARLIER) for `UID FETCH 1:*` (RFC 7162 §3.2.6).
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/store/port.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { createUser, deliver, PASSWORD } from './imap-helpers.js';

/** A client that keeps the bytes exactly as sent (latin1 strings: one char per octet). */
class ByteClient {
  private buf = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  private closed = false;
  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
  }

  static async connect(port: number, user: string): Promise<ByteClient> {
    const socket = net.connect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const c = new ByteClient(socket);
    await c.until(/^\* OK .*\r\n/m);
    const r = await c.cmd('L1', `LOGIN ${user}@example.gov.vn "${PASSWORD}"`);
    if (!r.includes('L1 OK')) throw new Error(r);
    return c;
  }

  /** Everything up to and including the first match of `re` (as latin1). */
  private async until(re: RegExp): Promise<string> {
    for (;;) {
      const text = this.buf.toString('latin1');
      const m = re.exec(text);
      if (m) {
        const end = m.index + m[0].length;
        this.buf = this.buf.subarray(end);
        return text.slice(0, end);
      }
      if (this.closed) throw new Error(`closed; got ${text.slice(-300)}`);
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  /** Send `tag command`; the reply up to the tagged line, as latin1. */
  async cmd(tag: string, command: string): Promise<string> {
    this.socket.write(`${tag} ${command}\r\n`);
    return this.until(new RegExp(`(^|\\r\\n)${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n`));
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * Split a reply into its responses, literals taken whole by their announced size. Throws when a
 * response is cut short (a literal running past the end, or no CRLF).
 */
function responses(reply: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < reply.length) {
    let cur = '';
    for (;;) {
      const eol = reply.indexOf('\r\n', i);
      if (eol < 0) throw new Error(`unterminated response: ${JSON.stringify(reply.slice(i, i + 80))}`);
      const line = reply.slice(i, eol);
      cur += line + '\r\n';
      i = eol + 2;
      const lit = /~?\{(\d+)\}$/.exec(line);
      if (!lit) break;
      const n = Number(lit[1]);
      if (i + n > reply.length) throw new Error('literal runs past the reply');
      cur += reply.slice(i, i + n);
      i += n;
    }
    out.push(cur);
  }
  return out;
}

/** True when every FETCH response is closed with ")" before its CRLF. */
function fetchesWhole(rs: readonly string[]): boolean {
  return rs.filter((r) => /^\* \d+ FETCH \(/.test(r)).every((r) => r.endsWith(')\r\n'));
}

const BIG = Buffer.concat([Buffer.from('Subject: big\r\n\r\n'), Buffer.from(`${'x'.repeat(76)}\r\n`.repeat(1500))]); // ~117 KB
const UUENCODED = Buffer.from('Subject: uu\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 a\r\n#86)C\r\n`\r\nend\r\n');
const WITH_NUL = Buffer.from('From: x@other.example\r\nTo: an@example.gov.vn\r\nSubject: nul\r\n\r\nab\x00cd\r\n', 'latin1');
// Over the size FETCH streams (256 KiB): the NUL sits in a streamed chunk.
const BIG_NUL = Buffer.concat([Buffer.from('Subject: bignul\r\n\r\n'), Buffer.from(`${'y'.repeat(76)}\r\n`.repeat(4000)), Buffer.from('z\x00z\r\n', 'latin1')]);

describe('IMAP audit fixes', () => {
  let app: TestApp;
  let user: Account;
  let c: ByteClient;

  beforeAll(async () => {
    app = await startApp();
    user = await createUser(app, 'fixfetch');
    await app.store.createMailbox(user.id, 'Fail');
    await deliver(app, user, BIG, 'Fail');
    await deliver(app, user, UUENCODED, 'Fail');
    await app.store.createMailbox(user.id, 'Nul');
    await deliver(app, user, WITH_NUL, 'Nul');
    await deliver(app, user, BIG_NUL, 'Nul');
    c = await ByteClient.connect(app.port('imap'), 'fixfetch');
  });
  afterAll(async () => {
    c?.close();
    await app?.stop();
  });

  it('a failing BINARY.SIZE after a large BODY[] leaves no unfinished FETCH response (RFC 3516 §4.2)', async () => {
    await c.cmd('s', 'SELECT Fail');
    const r = await c.cmd('f2', 'FETCH 1 (BODY.PEEK[] BINARY.SIZE[3])');
    const rs = responses(r);
    expect(rs.at(-1)).toMatch(/^f2 NO \[NONEXISTENT\]/);
    expect(fetchesWhole(rs)).toBe(true);
    expect(rs.some((x) => x.startsWith('* 1 FETCH'))).toBe(false);
  });

  it('an unknown CTE on message 2 answers NO [UNKNOWN-CTE] after message 1 in full', async () => {
    await c.cmd('s', 'SELECT Fail');
    const r = await c.cmd('f3', 'FETCH 1:2 (BODY.PEEK[] BINARY.PEEK[1])');
    const rs = responses(r);
    expect(rs.at(-1)).toMatch(/^f3 NO \[UNKNOWN-CTE\]/);
    expect(fetchesWhole(rs)).toBe(true);
    const one = rs.find((x) => x.startsWith('* 1 FETCH')) ?? '';
    expect(one).toContain(`BODY[] {${BIG.length}}\r\n`);
    expect(one).toMatch(/BINARY\[1\] \{\d+\}\r\n/);
    expect(rs.some((x) => x.startsWith('* 2 FETCH'))).toBe(false);
    // The session is still in step.
    expect(await c.cmd('n', 'NOOP')).toMatch(/n OK/);
  });

  it('sends NUL in {n} literals as 0x80, size kept; BINARY[] keeps it in a literal8 (RFC 9051 §4.3.1)', async () => {
    await c.cmd('s', 'SELECT Nul');
    const r = await c.cmd('g', 'FETCH 1 (RFC822.SIZE BODY.PEEK[TEXT] BODY.PEEK[]<0.70> RFC822.TEXT BINARY.PEEK[1])');
    const [one] = responses(r);
    expect(one).toContain('BODY[TEXT] {7}\r\nab\x80cd\r\n');
    expect(one).toContain('RFC822.TEXT {7}\r\nab\x80cd\r\n');
    expect(one).toContain('BINARY[1] ~{7}\r\nab\x00cd\r\n');
    const size = Number(/RFC822\.SIZE (\d+)/.exec(one ?? '')?.[1]);
    expect(size).toBe(WITH_NUL.length);
    const part = /BODY\[\]<0> \{(\d+)\}\r\n/.exec(one ?? '');
    expect(Number(part?.[1])).toBe(WITH_NUL.length);
    // Without BINARY, no NUL anywhere in the reply.
    const plain = await c.cmd('h', 'FETCH 1 (BODY.PEEK[] BODY.PEEK[1]<2.3> RFC822.HEADER)');
    expect(plain.includes('\x00')).toBe(false);
    expect(plain).toContain('BODY[1]<2> {3}\r\n\x80cd');
  });

  it('streams a large body with NUL as 0x80 at the same size', async () => {
    await c.cmd('s', 'SELECT Nul');
    const r = await c.cmd('b', 'FETCH 2 (BODY.PEEK[])');
    const [one] = responses(r);
    expect(one).toContain(`BODY[] {${BIG_NUL.length}}\r\n`);
    expect(one?.includes('\x00')).toBe(false);
    expect(one).toContain('z\x80z\r\n)');
  });

  it('SELECT and EXAMINE send the LIST response under IMAP4rev2 only (RFC 9051 §6.3.2)', async () => {
    const d = await ByteClient.connect(app.port('imap'), 'fixfetch');
    try {
      expect(await d.cmd('s0', 'SELECT INBOX')).not.toContain('* LIST');
      await d.cmd('e', 'ENABLE IMAP4rev2');
      expect(await d.cmd('s1', 'SELECT INBOX')).toContain('* LIST (\\HasNoChildren) "/" "INBOX"\r\n');
      expect(await d.cmd('s2', 'EXAMINE Sent')).toContain('* LIST (\\HasNoChildren \\Sent) "/" "Sent"\r\n');
    } finally {
      d.close();
    }
  });

  it('LIST (SPECIAL-USE) applies RETURN (STATUS SUBSCRIBED) (RFC 5258 §3, RFC 5819 §2)', async () => {
    await c.cmd('u', 'SUBSCRIBE Sent');
    const r = await c.cmd('l', 'LIST (SPECIAL-USE) "" "Sent" RETURN (STATUS (MESSAGES) SUBSCRIBED)');
    expect(r).toContain('* LIST (\\HasNoChildren \\Subscribed \\Sent) "/" "Sent"\r\n* STATUS "Sent" (MESSAGES 0)\r\n');
    const all = await c.cmd('l2', 'LIST (SPECIAL-USE) "" "*"');
    expect(all).not.toMatch(/"(INBOX|Fail|Nul)"/);
    expect(all).toContain('\\Sent) "/" "Sent"');
    // An extended LIST treats "" as a pattern (matching nothing), not as the separator query.
    expect(await c.cmd('l3', 'LIST (SPECIAL-USE) "" ""')).not.toContain('* LIST');
  });

  it('UID FETCH 1:* (CHANGEDSINCE m VANISHED) reports expunges above the highest UID left (RFC 7162 §3.2.6)', async () => {
    await c.cmd('c', 'CREATE Van');
    for (let i = 0; i < 5; i++) await deliver(app, user, Buffer.from(`Subject: v${i}\r\n\r\nbody\r\n`), 'Van');
    await c.cmd('q', 'ENABLE QRESYNC');
    const sel = await c.cmd('s', 'SELECT Van');
    const hms = Number(/HIGHESTMODSEQ (\d+)/.exec(sel)?.[1]);
    await c.cmd('st', 'UID STORE 2,4,5 +FLAGS.SILENT (\\Deleted)');
    await c.cmd('x', 'EXPUNGE');
    expect(await c.cmd('f', `UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${hms} VANISHED)`)).toContain('* VANISHED (EARLIER) 2,4:5\r\n');
    expect(await c.cmd('g', `UID FETCH 1:5 (FLAGS) (CHANGEDSINCE ${hms} VANISHED)`)).toContain('* VANISHED (EARLIER) 2,4:5\r\n');
    expect(await c.cmd('h', `UID FETCH 5:* (FLAGS) (CHANGEDSINCE ${hms} VANISHED)`)).toContain('* VANISHED (EARLIER) 5\r\n');
    expect(await c.cmd('i', `UID FETCH 1:3 (FLAGS) (CHANGEDSINCE ${hms} VANISHED)`)).toContain('* VANISHED (EARLIER) 2\r\n');
  });
});
