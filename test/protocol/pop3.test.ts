/**
 * POP3 transcripts over real sockets against the real app (startApp): every command, the
 * maildrop lock, DELE at QUIT (seen by the IMAP side of the store), dropped connections,
 * STLS / pop3s, AUTH PLAIN, UIDL stability, refusals with RFC 3206 codes, limits, 20 MB RETR.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { encodeSaslPlain } from '../../src/auth/sasl.js';
import type { Account, StoreEvent } from '../../src/store/port.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { keptLog } from '../helpers/kept-log.js';
import { deliver, makeAccount, PASSWORD, Pop3Client, simpleMessage } from '../helpers/pop3-fixtures.js';

const FAST = { security: { authFailureDelayMs: 1, authFailureMaxDelayMs: 2 } };

describe('POP3 transcript', () => {
  let app: TestApp;
  let user: Account;
  const raws: string[] = [];
  const uids: number[] = [];

  beforeAll(async () => {
    app = await startApp({ ...FAST, pop3: { maxBadCommands: 6, maxLineBytes: 512 } });
    user = await makeAccount(app.store, 'longnv@example.gov.vn');
    raws.push(simpleMessage('Mot', 'Dong 1\r\nDong 2\r\nDong 3\r\nDong 4\r\n'));
    raws.push(simpleMessage('Hai', '.bat dau bang dau cham\r\n..hai cham\r\n.\r\nxong\r\n'));
    raws.push(simpleMessage('Ba', 'ba\r\n'));
    for (const r of raws) uids.push(await deliver(app.store, user, r));
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('greets, advertises capabilities before sign-in, and refuses transaction commands', async () => {
    const c = await Pop3Client.open(app.port('pop3'));
    expect(await c.line()).toMatch(/^\+OK .*sẵn sàng \/ .*ready$/);
    expect(await c.cmd('CAPA')).toMatch(/^\+OK /);
    const caps = await c.lines();
    expect(caps).toEqual(expect.arrayContaining(['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', 'USER', 'SASL PLAIN', 'STLS']));
    expect(await c.cmd('STAT')).toMatch(/^-ERR Lệnh không dùng được ở bước này \/ Command not valid in this state$/);
    expect(await c.cmd('PASS x')).toMatch(/^-ERR .*Send USER first/);
    expect(await c.cmd('QUIT')).toMatch(/^\+OK /);
    await c.waitClosed();
  });

  it('USER/PASS: wrong password is -ERR [AUTH] bilingual; then every transaction command', async () => {
    const c = await Pop3Client.open(app.port('pop3'));
    await c.line();
    expect(await c.login('longnv', 'wrong')).toBe('-ERR [AUTH] Sai tên đăng nhập hoặc mật khẩu / Wrong user name or password');
    const total = raws.reduce((n, r) => n + Buffer.byteLength(r), 0);
    expect(await c.login('longnv')).toBe(`+OK longnv@example.gov.vn có 3 thư (${total} byte) / longnv@example.gov.vn has 3 messages (${total} octets)`);
    expect(await c.cmd('STAT')).toBe(`+OK 3 ${total}`);
    expect(await c.cmd('LIST')).toMatch(/^\+OK 3 /);
    expect(await c.lines()).toEqual(raws.map((r, i) => `${i + 1} ${Buffer.byteLength(r)}`));
    expect(await c.cmd('LIST 2')).toBe(`+OK 2 ${Buffer.byteLength(raws[1] as string)}`);
    expect(await c.cmd('LIST 9')).toMatch(/^-ERR Không có thư này \/ No such message$/);
    const inbox = await app.store.getMailbox(user.id, 'INBOX');
    expect(await c.cmd('UIDL')).toMatch(/^\+OK /);
    expect(await c.lines()).toEqual(uids.map((u, i) => `${i + 1} ${inbox?.uidValidity}.${u}`));
    expect(await c.cmd('UIDL 3')).toBe(`+OK 3 ${inbox?.uidValidity}.${uids[2]}`);
    // RETR: exact bytes after unstuffing; the dot-stuffed lines went over the wire doubled.
    expect(await c.cmd('RETR 2')).toBe(`+OK ${Buffer.byteLength(raws[1] as string)} octets`);
    expect((await c.body()).toString()).toBe(`${raws[1]}`);
    // TOP: header, blank line, n body lines.
    expect(await c.cmd('TOP 1 2')).toMatch(/^\+OK /);
    const top = (await c.body()).toString();
    expect(top).toBe(`${(raws[0] as string).split('\r\n\r\n')[0]}\r\n\r\nDong 1\r\nDong 2\r\n`);
    expect(await c.cmd('TOP 1 0')).toMatch(/^\+OK /);
    expect((await c.body()).toString()).toBe(`${(raws[0] as string).split('\r\n\r\n')[0]}\r\n\r\n`);
    expect(await c.cmd('DELE 1')).toMatch(/^\+OK Đã đánh dấu xóa thư 1 \/ Message 1 deleted$/);
    expect(await c.cmd('DELE 1')).toMatch(/^-ERR /);
    expect(await c.cmd('RETR 1')).toMatch(/^-ERR /);
    expect(await c.cmd('STAT')).toBe(`+OK 2 ${total - Buffer.byteLength(raws[0] as string)}`);
    const left = total - Buffer.byteLength(raws[0] as string);
    expect(await c.cmd('LIST')).toBe(`+OK 2 thư (${left} byte) / 2 messages (${left} octets)`);
    expect((await c.lines()).map((l) => l.split(' ')[0])).toEqual(['2', '3']);
    expect(await c.cmd('RSET')).toMatch(/^\+OK .*Maildrop has 3 messages/);
    expect(await c.cmd('NOOP')).toMatch(/^\+OK/);
    expect(await c.cmd('CAPA')).toMatch(/^\+OK /);
    const caps = await c.lines();
    expect(caps).not.toContain('USER');
    expect(caps).not.toContain('STLS');
    expect(await c.cmd('USER longnv')).toMatch(/^-ERR /);
    expect(await c.cmd('RETR 0')).toMatch(/^-ERR /);
    expect(await c.cmd('TOP 1')).toMatch(/^-ERR /);
    expect(await c.cmd('QUIT')).toMatch(/^\+OK .*đã xóa 0 thư/);
    await c.waitClosed();
    // Nothing was deleted (RSET), but RETR'd message 2 is now \Seen for IMAP.
    const msgs = await app.store.listMessages(inbox?.id as number);
    expect(msgs.map((m) => m.uid)).toEqual(uids);
    expect(msgs.find((m) => m.uid === uids[1])?.flags).toContain('\\Seen');
    expect(msgs.find((m) => m.uid === uids[0])?.flags ?? []).not.toContain('\\Seen');
  });

  it('RETR reads the next message ahead; DELE, TOP and RSET around it still get the right message', async () => {
    const inbox = await app.store.getMailbox(user.id, 'INBOX');
    const blobs = (await app.store.listMessages(inbox?.id as number)).map((m) => m.blobId);
    const c = await Pop3Client.open(app.port('pop3'));
    await c.line();
    expect(await c.login('longnv')).toMatch(/^\+OK /);
    const reads = vi.spyOn(app.store, 'readBlob');
    try {
      expect(await c.cmd('RETR 1')).toMatch(/^\+OK /);
      expect((await c.body()).toString()).toBe(raws[0]);
      // Message 2 was read while the client was still reading message 1.
      expect(reads.mock.calls.map((a) => a[0])).toEqual([blobs[0], blobs[1]]);
      expect(await c.cmd('DELE 2')).toMatch(/^\+OK /);
      expect(await c.cmd('RETR 2')).toMatch(/^-ERR /);
      expect(await c.cmd('TOP 3 0')).toMatch(/^\+OK /);
      expect((await c.body()).toString()).toBe(`${(raws[2] as string).split('\r\n\r\n')[0]}\r\n\r\n`);
      expect(await c.cmd('RETR 3')).toMatch(/^\+OK /);
      expect((await c.body()).toString()).toBe(raws[2]);
      expect(await c.cmd('RSET')).toMatch(/^\+OK /);
      expect(await c.cmd('RETR 2')).toBe(`+OK ${Buffer.byteLength(raws[1] as string)} octets`);
      expect((await c.body()).toString()).toBe(raws[1]);
      expect(await c.cmd('RETR 3')).toMatch(/^\+OK /);
      expect((await c.body()).toString()).toBe(raws[2]);
    } finally {
      reads.mockRestore();
    }
    expect(await c.cmd('QUIT')).toMatch(/^\+OK .*đã xóa 0 thư/);
    await c.waitClosed();
  });

  it('pipelined commands are answered in order (PIPELINING)', async () => {
    const c = await Pop3Client.open(app.port('pop3'));
    await c.line();
    c.write(`USER longnv\r\nPASS ${PASSWORD}\r\nSTAT\r\nUIDL 1\r\nNOOP\r\nQUIT\r\n`);
    const replies: string[] = [];
    for (let i = 0; i < 6; i++) replies.push((await c.line()) ?? 'closed');
    expect(replies.map((r) => r.slice(0, 3))).toEqual(['+OK', '+OK', '+OK', '+OK', '+OK', '+OK']);
    expect(replies[2]).toMatch(/^\+OK 3 \d+$/);
  });

  it('one POP3 session per maildrop: the second gets -ERR [IN-USE] until the first quits', async () => {
    const a = await Pop3Client.open(app.port('pop3'));
    await a.line();
    expect(await a.login('longnv')).toMatch(/^\+OK/);
    const b = await Pop3Client.open(app.port('pop3s'), { tls: true });
    await b.line();
    expect(await b.login('longnv@example.gov.vn')).toBe(
      '-ERR [IN-USE] Hộp thư đang được một phiên POP3 khác sử dụng / The maildrop is locked by another POP3 session',
    );
    expect(await a.cmd('QUIT')).toMatch(/^\+OK/);
    await a.waitClosed();
    expect(await b.login('longnv')).toMatch(/^\+OK/);
    expect(await b.cmd('QUIT')).toMatch(/^\+OK/);
  });

  it('a dropped connection deletes nothing and frees the lock', async () => {
    const c = await Pop3Client.open(app.port('pop3'));
    await c.line();
    expect(await c.login('longnv')).toMatch(/^\+OK/);
    expect(await c.cmd('DELE 1')).toMatch(/^\+OK/);
    expect(await c.cmd('DELE 2')).toMatch(/^\+OK/);
    c.destroy();
    await c.waitClosed();
    // The next session can sign in (the lock is released when the server sees the close) and still sees 3.
    let reply = '';
    for (let i = 0; i < 50; i++) {
      const d = await Pop3Client.open(app.port('pop3'));
      await d.line();
      reply = await d.login('longnv');
      if (reply.startsWith('+OK')) {
        expect(await d.cmd('STAT')).toMatch(/^\+OK 3 /);
        await d.cmd('QUIT');
        break;
      }
      d.destroy();
      await new Promise((r) => setImmediate(r));
    }
    expect(reply).toMatch(/^\+OK .* 3 thư/);
    const inbox = await app.store.getMailbox(user.id, 'INBOX');
    expect((await app.store.listMessages(inbox?.id as number)).map((m) => m.uid)).toEqual(uids);
  });

  it('UIDL is stable across sessions (pop3 then pop3s)', async () => {
    const first = await Pop3Client.open(app.port('pop3'));
    await first.line();
    await first.login('longnv');
    await first.cmd('UIDL');
    const before = (await first.lines()).map((l) => l.split(' ')[1]);
    await first.cmd('QUIT');
    const second = await Pop3Client.open(app.port('pop3s'), { tls: true });
    await second.line();
    await second.login('longnv');
    await second.cmd('UIDL');
    const after = (await second.lines()).map((l) => l.split(' ')[1]);
    await second.cmd('QUIT');
    expect(after).toEqual(before);
    expect(before.every((u) => /^\d+\.\d+$/.test(u ?? ''))).toBe(true);
  });

  it('AUTH PLAIN: initial response, continuation, cancel, malformed', async () => {
    const c = await Pop3Client.open(app.port('pop3'));
    await c.line();
    expect(await c.cmd('AUTH')).toMatch(/^\+OK/);
    expect(await c.lines()).toEqual(['PLAIN']);
    expect(await c.cmd('AUTH CRAM-MD5')).toMatch(/^-ERR .*PLAIN/);
    expect(await c.cmd('AUTH PLAIN')).toBe('+ ');
    expect(await c.cmd('*')).toMatch(/^-ERR .*cancelled/);
    expect(await c.cmd('AUTH PLAIN !!!')).toMatch(/^-ERR .*Malformed/);
    expect(await c.cmd(`AUTH PLAIN ${encodeSaslPlain('longnv', 'wrong')}`)).toMatch(/^-ERR \[AUTH\] /);
    expect(await c.cmd(`AUTH PLAIN ${encodeSaslPlain('longnv', PASSWORD, 'someone')}`)).toMatch(/^-ERR \[AUTH\] .*not delegated to open this mailbox/);
    expect(await c.cmd('AUTH PLAIN')).toBe('+ ');
    expect(await c.cmd(encodeSaslPlain('longnv', PASSWORD))).toMatch(/^\+OK longnv@example.gov.vn/);
    expect(await c.cmd('QUIT')).toMatch(/^\+OK/);
    const d = await Pop3Client.open(app.port('pop3'));
    await d.line();
    expect(await d.cmd(`AUTH PLAIN ${encodeSaslPlain('longnv@example.gov.vn', PASSWORD)}`)).toMatch(/^\+OK/);
    await d.cmd('QUIT');
  });

  it('STLS: upgrade, injected commands discarded, CAPA changes, sign-in over TLS', async () => {
    const c = await Pop3Client.open(app.port('pop3'));
    await c.line();
    // Injection attempt: a command pipelined after STLS must not run inside TLS.
    c.write('STLS\r\nUSER longnv\r\n');
    expect(await c.line()).toMatch(/^\+OK .*Begin TLS/);
    await c.startTls();
    // Had "USER longnv" survived, PASS would work now; it must say USER first.
    expect(await c.cmd(`PASS ${PASSWORD}`)).toMatch(/^-ERR .*Send USER first/);
    expect(await c.cmd('CAPA')).toMatch(/^\+OK/);
    const caps = await c.lines();
    expect(caps).not.toContain('STLS');
    expect(caps).toContain('USER');
    expect(await c.cmd('STLS')).toMatch(/^-ERR /);
    expect(await c.login('longnv')).toMatch(/^\+OK/);
    expect(await c.cmd('QUIT')).toMatch(/^\+OK/);
  });

  it('limits: an over-long line is refused; too many bad commands close the connection', async () => {
    const c = await Pop3Client.open(app.port('pop3'));
    await c.line();
    expect(await c.cmd(`USER ${'x'.repeat(2000)}`)).toMatch(/^-ERR .*too long/);
    expect(await c.cmd('NOOP')).toMatch(/^-ERR /); // wrong state
    expect(await c.cmd('BOGUS')).toMatch(/^-ERR .*Unknown/);
    expect(await c.cmd('LIST x')).toMatch(/^-ERR .*Unknown or malformed/);
    expect(await c.cmd('\u0000')).toMatch(/^-ERR /);
    expect(await c.cmd('BOGUS')).toMatch(/^-ERR .*Too many bad commands/);
    await c.waitClosed();
    expect(c.closed).toBe(true);
  });

  it('DELE takes effect at QUIT: the store (and IMAP sessions through its events) see the expunge', async () => {
    const events: StoreEvent[] = [];
    const off = app.store.onEvent((e) => events.push(e));
    const c = await Pop3Client.open(app.port('pop3'));
    await c.line();
    await c.login('longnv');
    expect(await c.cmd('DELE 1')).toMatch(/^\+OK/);
    const inbox = await app.store.getMailbox(user.id, 'INBOX');
    expect((await app.store.listMessages(inbox?.id as number)).map((m) => m.uid)).toEqual(uids);
    expect(await c.cmd('QUIT')).toBe('+OK mail.example.gov.vn tạm biệt (đã xóa 1 thư) / mail.example.gov.vn signing off (1 message deleted)');
    await c.waitClosed();
    off();
    expect((await app.store.listMessages(inbox?.id as number)).map((m) => m.uid)).toEqual(uids.slice(1));
    // The survivors keep their UIDLs (renumbered, same ids).
    const d = await Pop3Client.open(app.port('pop3'));
    await d.line();
    await d.login('longnv');
    await d.cmd('UIDL');
    expect((await d.lines()).map((l) => l.split(' ')[1])).toEqual(uids.slice(1).map((u) => `${inbox?.uidValidity}.${u}`));
    await d.cmd('QUIT');
    expect(events.some((e) => e.kind === 'expunged' && e.uids.includes(uids[0] as number))).toBe(true);
  });
});

describe('POP3 account states and the plaintext rule', () => {
  let app: TestApp;
  const kept = keptLog();
  beforeAll(async () => {
    app = await startApp({
      ...FAST,
      security: { ...FAST.security, allowPlaintextAuth: 'never' },
      passwords: { changeUrl: 'https://portal.example.gov.vn' },
      pop3: { idleTimeoutMs: 2000, loginTimeoutMs: 1500 },
    }, { log: kept.log });
    const s = await makeAccount(app.store, 'tam@example.gov.vn');
    await app.store.updateAccount(s.id, { state: 'suspended' }, null);
    await makeAccount(app.store, 'moi@example.gov.vn', { mustChangePassword: true });
    await makeAccount(app.store, 'ok@example.gov.vn');
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('allowPlaintextAuth never: CAPA hides USER/SASL, USER and AUTH are refused with "use TLS", STLS then works', async () => {
    const c = await Pop3Client.open(app.port('pop3'));
    await c.line();
    await c.cmd('CAPA');
    const caps = await c.lines();
    expect(caps).toContain('STLS');
    expect(caps).not.toContain('USER');
    expect(caps).not.toContain('SASL PLAIN');
    expect(await c.cmd('USER ok')).toMatch(/^-ERR \[AUTH\] Không được gửi mật khẩu trên kết nối chưa mã hóa.* \/ .*use TLS/);
    expect(await c.cmd(`AUTH PLAIN ${encodeSaslPlain('ok', PASSWORD)}`)).toMatch(/^-ERR \[AUTH\] .*use TLS/);
    // Both refusals are logged, without what was sent (the password in AUTH PLAIN's response).
    const refusals = kept.lines.filter((l) => l.msg === 'POP3 refused' && l.reason === 'plaintext sign-in without TLS');
    expect(refusals).toHaveLength(2);
    expect(JSON.stringify(kept.lines)).not.toContain(encodeSaslPlain('ok', PASSWORD));
    expect(await c.cmd('STLS')).toMatch(/^\+OK/);
    await c.startTls();
    expect(await c.login('ok')).toMatch(/^\+OK/);
    await c.cmd('QUIT');
  });

  it('suspended and must-change: -ERR [SYS/PERM] with the bilingual reason (and the portal URL)', async () => {
    const c = await Pop3Client.open(app.port('pop3s'), { tls: true });
    await c.line();
    expect(await c.login('tam')).toMatch(/^-ERR \[SYS\/PERM\] Tài khoản đang bị tạm khóa.* \/ The account is suspended/);
    expect(await c.login('moi')).toMatch(/^-ERR \[SYS\/PERM\] Bạn phải đổi mật khẩu.*https:\/\/portal\.example\.gov\.vn.* \/ You must change/);
    expect(await c.login('tam', 'wrong')).toMatch(/^-ERR \[AUTH\] /);
    await c.cmd('QUIT');
  });

  it('pop3.loginTimeoutMs is a deadline from connecting: a client that keeps sending CAPA without signing in is dropped; a signed-in one is not', async () => {
    const slow = await Pop3Client.open(app.port('pop3s'), { tls: true });
    const quick = await Pop3Client.open(app.port('pop3s'), { tls: true });
    await slow.line();
    await quick.line();
    expect(await quick.login('ok')).toMatch(/^\+OK/);
    const started = Date.now();
    let last: string | null = '';
    // Every 300 ms, under the 2 s idle timeout: only the sign-in deadline can end this.
    while (Date.now() - started < 5000) {
      slow.write('CAPA\r\n');
      last = await slow.line();
      if (last === null || !last.startsWith('+OK')) break;
      await slow.lines();
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(last).toBe('-ERR Hết thời gian đăng nhập; đóng kết nối / Sign-in timeout; closing');
    expect(Date.now() - started).toBeLessThan(4000);
    await slow.waitClosed();
    expect(kept.lines.some((l) => l.msg === 'POP3 sign-in timeout')).toBe(true);
    // The signed-in session outlived the deadline and still answers.
    expect(await quick.cmd('STAT')).toMatch(/^\+OK /);
    await quick.cmd('QUIT');
  });

  it('an idle client is told and disconnected (pop3.idleTimeoutMs)', async () => {
    const c = await Pop3Client.open(app.port('pop3s'), { tls: true });
    await c.line();
    expect(await c.login('ok')).toMatch(/^\+OK/);
    expect(await c.line()).toMatch(/^-ERR Quá thời gian chờ; đóng kết nối \/ Idle timeout; closing$/);
    await c.waitClosed();
  });
});

describe('POP3 large message and connection caps', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp({ security: { ...FAST.security, maxConnectionsPerIp: 2 } });
  });
  afterAll(async () => {
    await app?.stop();
  });

  // First in this app: no connection of an earlier test may still be open on the server side.
  it('a third connection from one IP over security.maxConnectionsPerIp is refused with -ERR [SYS/TEMP]', async () => {
    const a = await Pop3Client.open(app.port('pop3'));
    const b = await Pop3Client.open(app.port('pop3s'), { tls: true });
    expect(await a.line()).toMatch(/^\+OK/);
    expect(await b.line()).toMatch(/^\+OK/);
    const c = await Pop3Client.open(app.port('pop3'));
    expect(await c.line()).toBe('-ERR [SYS/TEMP] Quá nhiều kết nối từ địa chỉ này / Too many connections from this address');
    await c.waitClosed();
    await a.cmd('QUIT');
    await b.cmd('QUIT');
    await a.waitClosed();
    await b.waitClosed();
  });

  it('RETR of a 20 MB message is byte-exact (dot-stuffing undone, bare LF as CRLF)', async () => {
    const user = await makeAccount(app.store, 'lon@example.gov.vn');
    const lines: string[] = [];
    let size = 0;
    for (let i = 0; size < 20 * 1024 * 1024; i++) {
      const l = i % 50 === 0 ? `.dong ${i} bat dau bang dau cham` : `dong ${i} ${'x'.repeat(60)}`;
      lines.push(l);
      size += l.length + 2;
    }
    const raw = Buffer.from(simpleMessage('Lon', lines.join('\r\n') + '\r\n'));
    await deliver(app.store, user, raw);
    const c = await Pop3Client.open(app.port('pop3'));
    await c.line();
    await c.login('lon');
    expect(await c.cmd('RETR 1')).toBe(`+OK ${raw.length} octets`);
    const got = await c.body();
    expect(got.length).toBe(raw.length);
    expect(got.equals(raw)).toBe(true);
    await c.cmd('QUIT');
  });

  it('a connection lost in the middle of a large RETR (streamed) frees the lock and closes the message file', async () => {
    const user = await makeAccount(app.store, 'mat@example.gov.vn');
    // Over the 256 KiB read-whole size and over the socket buffers: the server is mid-stream when the client goes.
    const raw = Buffer.from(simpleMessage('Lon', `${'dong dai '.repeat(100)}\r\n`.repeat(4000)));
    await deliver(app.store, user, raw);
    const blobFds = (): number =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`).startsWith(path.join(app.dir, 'blobs'));
        } catch {
          return false;
        }
      }).length;
    // Earlier tests' message files may still be closing: start from none open.
    await vi.waitFor(() => expect(blobFds()).toBe(0), { timeout: 5000 });
    for (const cut of ['after the status line', 'before the status line']) {
      const c = await Pop3Client.open(app.port('pop3'));
      await c.line();
      expect(await c.login('mat')).toMatch(/^\+OK/);
      if (cut === 'after the status line') {
        expect(await c.cmd('RETR 1')).toBe(`+OK ${raw.length} octets`);
      } else {
        c.send('RETR 1');
        c.end(); // half-closed: the server's first write may already fail
      }
      c.destroy();
      await c.waitClosed();
      // The lock ends with the session: the next sign-in gets the maildrop (was -ERR [IN-USE] until a restart).
      let reply = '';
      for (let i = 0; i < 50 && !reply.startsWith('+OK'); i++) {
        const d = await Pop3Client.open(app.port('pop3'));
        await d.line();
        reply = await d.login('mat');
        if (reply.startsWith('+OK')) expect(await d.cmd('QUIT')).toMatch(/^\+OK/);
        else d.destroy();
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(reply, cut).toMatch(/^\+OK mat@example\.gov\.vn có 1 thư/);
    }
    // Neither cut leaves the message file open.
    await vi.waitFor(() => expect(blobFds()).toBe(0), { timeout: 5000 });
  });

  it('messages IMAP marked \\Deleted (not expunged) are still listed: POP3 has no such notion', async () => {
    const user = await makeAccount(app.store, 'del@example.gov.vn');
    const uid = await deliver(app.store, user, simpleMessage('Xoa', 'x\r\n'));
    await deliver(app.store, user, simpleMessage('Giu', 'y\r\n'));
    const inbox = await app.store.getMailbox(user.id, 'INBOX');
    await app.store.setFlags(inbox?.id as number, [uid], 'add', ['\\Deleted']);
    const c = await Pop3Client.open(app.port('pop3'));
    await c.line();
    expect(await c.login('del')).toMatch(/ 2 thư/);
    await c.cmd('QUIT');
  });

  it('bare LF in a stored message goes out as CRLF; a missing final newline is added', async () => {
    const user = await makeAccount(app.store, 'lf@example.gov.vn');
    await deliver(app.store, user, Buffer.from('Subject: lf\n\nmot\n.hai\nba'));
    const c = await Pop3Client.open(app.port('pop3'));
    await c.line();
    await c.login('lf');
    await c.cmd('RETR 1');
    expect((await c.body()).toString()).toBe('Subject: lf\r\n\r\nmot\r\n.hai\r\nba\r\n');
    await c.cmd('QUIT');
  });
});
