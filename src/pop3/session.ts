/**
 * One POP3 connection: AUTHORIZATION → TRANSACTION → UPDATE (RFC 1939), with CAPA (RFC 2449),
 * STLS (RFC 2595), AUTH PLAIN with initial response (RFC 5034) and RFC 3206 response codes.
 *
 * One gate: `dispatch` checks the state table, the bad-command count and the line limit once;
 * handlers only do their command. Commands are handled one at a time in arrival order, so
 * pipelined commands (PIPELINING) are answered in order. Deletions take effect only on QUIT;
 * a connection that drops, times out or is shut down deletes nothing.
 */
import type { Socket } from 'node:net';
import type { SecureContext, TLSSocket } from 'node:tls';
import type { AuthService } from '../auth/service.js';
import { decodeSaslPlain } from '../auth/sasl.js';
import { currentSignIn, SIGN_IN_GONE, type SignInCredential } from '../auth/sign-in-holds.js';
import { bi } from '../lib/errors.js';
import { many } from '../lib/count.js';
import type { Logger } from '../lib/log.js';
import { LineReader } from '../net/line-reader.js';
import type { ConnectionCounter } from '../net/limits.js';
import type { Connection } from '../net/listener.js';
import { upgradeToTls } from '../net/starttls.js';
import type { Account, Store } from '../store/port.js';
import { err, errorReply, ok, signInCode } from './errors.js';
import { Maildrop } from './maildrop.js';
import { MessageEncoder, multiline, parseCommand, type Pop3Command } from './protocol.js';

/** The POP3 subset of the store. */
export type Pop3Store = Pick<Store, 'getMailbox' | 'listMessages' | 'readBlob' | 'streamBlob' | 'expunge' | 'setFlags' | 'getAccount' | 'listAppPasswords' | 'listDelegatedTo'>;

/** Messages up to this size are read whole and sent in one write; larger ones are streamed. */
const WHOLE_MAX_BYTES = 256 * 1024;

/** A whole RETR/TOP reply in one buffer: the status line, the encoded message, the terminator. */
function encodeWhole(head: string, lines: number | null, data: Buffer): Buffer {
  const enc = new MessageEncoder(lines);
  const body = enc.push(data);
  return Buffer.concat([Buffer.from(head), body, enc.end()]);
}

export interface Pop3Limits {
  maxLineBytes: number;
  maxBadCommands: number;
  idleTimeoutMs: number;
  loginTimeoutMs: number;
  signInCheckMs: number;
}

/** One POP3 session per account holds its maildrop (RFC 1939 §8: exclusive-access lock). */
export class MaildropLocks {
  private readonly held = new Map<number, string>();
  tryLock(accountId: number, owner: string): boolean {
    if (this.held.has(accountId)) return false;
    this.held.set(accountId, owner);
    return true;
  }
  unlock(accountId: number, owner: string): void {
    if (this.held.get(accountId) === owner) this.held.delete(accountId);
  }
  isLocked(accountId: number): boolean {
    return this.held.has(accountId);
  }
}

export interface SessionDeps {
  store: Pop3Store;
  auth: AuthService;
  limits: Pop3Limits;
  hostname: string;
  log: Logger;
  /** For STLS; null = STLS not offered. */
  tls: SecureContext | null;
  locks: MaildropLocks;
  accountConnections: ConnectionCounter;
}

type State =
  | { kind: 'authorization'; user: string | null }
  | { kind: 'transaction'; account: Account; drop: Maildrop; credential: SignInCredential; checkedAt: number }
  | { kind: 'closed' };

type StateKind = Exclude<State['kind'], 'closed'>;

/** Where each command is allowed (the one gate). */
const ALLOWED: Record<Pop3Command['name'], readonly StateKind[]> = {
  CAPA: ['authorization', 'transaction'],
  QUIT: ['authorization', 'transaction'],
  USER: ['authorization'],
  PASS: ['authorization'],
  AUTH: ['authorization'],
  STLS: ['authorization'],
  STAT: ['transaction'],
  LIST: ['transaction'],
  RETR: ['transaction'],
  DELE: ['transaction'],
  NOOP: ['transaction'],
  RSET: ['transaction'],
  TOP: ['transaction'],
  UIDL: ['transaction'],
};

const T = {
  noSuchMessage: bi('Không có thư này', 'No such message'),
  wrongState: bi('Lệnh không dùng được ở bước này', 'Command not valid in this state'),
  unknown: bi('Lệnh không hợp lệ', 'Unknown or malformed command'),
  tooMany: bi('Quá nhiều lệnh sai; đóng kết nối', 'Too many bad commands; closing'),
  tooLong: bi('Dòng lệnh quá dài', 'Command line too long'),
  userFirst: bi('Hãy gửi USER trước', 'Send USER first'),
  noTls: bi('STLS không dùng được ở đây', 'STLS is not available here'),
  mechanism: bi('Chỉ hỗ trợ cơ chế PLAIN', 'Only the PLAIN mechanism is supported'),
  cancelled: bi('Đã hủy xác thực', 'Authentication cancelled'),
  badSasl: bi('Dữ liệu xác thực không hợp lệ', 'Malformed authentication data'),
  inUse: bi('Hộp thư đang được một phiên POP3 khác sử dụng', 'The maildrop is locked by another POP3 session'),
  tooManyConns: bi('Tài khoản đang có quá nhiều kết nối', 'Too many connections for this account'),
  idle: bi('Quá thời gian chờ; đóng kết nối', 'Idle timeout; closing'),
  loginTimeout: bi('Hết thời gian đăng nhập; đóng kết nối', 'Sign-in timeout; closing'),
  shutdown: bi('Máy chủ đang dừng; hãy kết nối lại sau', 'Server shutting down; reconnect later'),
  noInbox: bi('Không mở được hộp thư', 'Cannot open the maildrop'),
  gone: bi('Thư này không còn nữa', 'This message no longer exists'),
  expungeFailed: bi('Một số thư đã đánh dấu chưa xóa được do lỗi tạm thời của máy chủ; hãy thử lại sau', 'Some deleted messages were not removed (a temporary server error); try again later'),
};

class Closed extends Error {}

export class Pop3Session {
  private socket: Socket | TLSSocket;
  private reader: LineReader;
  private secure: boolean;
  private state: State = { kind: 'authorization', user: null };
  private bad = 0;
  /** The next message's RETR reply, prepared ahead (see readAhead). */
  private ahead: { n: number; reply: Promise<Buffer | null> } | null = null;
  private releaseAccount: (() => void) | null = null;
  private loginTimer: NodeJS.Timeout | null = null;
  private readonly log: Logger;

  constructor(
    private readonly conn: Connection,
    private readonly deps: SessionDeps,
  ) {
    this.socket = conn.socket;
    this.secure = conn.secure;
    this.reader = new LineReader(this.socket, { maxLineBytes: deps.limits.maxLineBytes });
    this.log = deps.log.child({ session: conn.id, ip: conn.ip });
    conn.raw.setTimeout(deps.limits.idleTimeoutMs);
    conn.raw.on('timeout', () => {
      this.log.debug('idle timeout');
      this.close(err(T.idle));
    });
    conn.raw.on('error', (e) => this.log.debug({ err: e }, 'socket error'));
    this.socket.on('error', (e) => this.log.debug({ err: e }, 'socket error'));
    // A deadline for signing in, not an idle timer: a client that keeps sending CAPA or NOOP
    // without signing in is still dropped when it passes (SECURITY-NOTES, Floods).
    if (deps.limits.loginTimeoutMs > 0) {
      this.loginTimer = setTimeout(() => {
        if (this.state.kind !== 'authorization') return;
        this.log.info('POP3 sign-in timeout');
        this.close(err(T.loginTimeout));
      }, deps.limits.loginTimeoutMs);
      this.loginTimer.unref();
    }
  }

  /** Runs until the connection ends; never throws. */
  async run(): Promise<void> {
    try {
      await this.write(ok(bi(`${this.deps.hostname} buudien POP3 sẵn sàng`, `${this.deps.hostname} buudien POP3 ready`)));
      while (this.state.kind !== 'closed') {
        const r = await this.reader.next();
        if (r.kind === 'end') break;
        if (r.kind === 'too-long') {
          await this.badCommand(T.tooLong, 'line too long');
          continue;
        }
        await this.dispatch(r.line.toString('utf8'));
      }
    } catch (e) {
      if (!(e instanceof Closed)) this.log.error({ err: e }, 'POP3 session failed');
    } finally {
      this.cleanup();
    }
  }

  /** Server shutdown: say so and close; nothing is deleted. */
  shutdown(): void {
    this.close(err(T.shutdown, 'SYS/TEMP'));
  }

  /** The one way into the closed state: a maildrop this session locked is unlocked (RFC 1939 §6: the lock ends with the session, however it ends). */
  private leave(): void {
    this.stopLoginTimer();
    if (this.state.kind === 'transaction') this.deps.locks.unlock(this.state.account.id, this.conn.id);
    this.state = { kind: 'closed' };
  }

  private stopLoginTimer(): void {
    if (this.loginTimer) clearTimeout(this.loginTimer);
    this.loginTimer = null;
  }

  private cleanup(): void {
    this.leave();
    this.releaseAccount?.();
    this.releaseAccount = null;
    // A reply written with end() is left to flush (close() set a timer); anything else is cut now.
    if (!this.socket.writableEnded) {
      this.socket.destroy();
      this.conn.raw.destroy();
    }
  }

  private close(last?: string): void {
    this.leave();
    this.reader.detach();
    // Keep reading (and dropping) so the peer's FIN is seen and the socket closes promptly.
    this.socket.on('data', () => undefined);
    this.socket.resume();
    if (last && !this.socket.destroyed && this.socket.writable) this.socket.end(last);
    else this.socket.destroy();
    // A peer that never reads must not keep the socket.
    setTimeout(() => this.conn.raw.destroy(), 5000).unref();
  }

  private write(data: string | Buffer): Promise<void> {
    const s = this.socket;
    if (s.destroyed || !s.writable) return Promise.reject(new Closed());
    if (s.write(data)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        s.off('drain', done);
        s.off('close', gone);
        resolve();
      };
      const gone = () => {
        s.off('drain', done);
        reject(new Closed());
      };
      s.once('drain', done);
      s.once('close', gone);
    });
  }

  /** A refusal that is no protocol error: logged (never the command's arguments), then answered. */
  private refuse(reply: string, reason: string, account?: string): Promise<void> {
    this.log.warn({ ip: this.conn.ip, reason, ...(account ? { account } : {}) }, 'POP3 refused');
    return this.write(reply);
  }

  private async badCommand(text: string, reason: string): Promise<void> {
    this.log.info({ ip: this.conn.ip, reason }, 'POP3 bad command');
    this.bad++;
    if (this.bad >= this.deps.limits.maxBadCommands) {
      this.log.info({ bad: this.bad }, 'too many bad commands');
      this.close(err(T.tooMany));
      return;
    }
    await this.write(err(text));
  }

  private async dispatch(line: string): Promise<void> {
    const parsed = parseCommand(line);
    if (!parsed.ok) return this.badCommand(T.unknown, parsed.error);
    const cmd = parsed.command;
    const state = this.state;
    if (state.kind === 'closed') return;
    if (!ALLOWED[cmd.name].includes(state.kind)) return this.badCommand(T.wrongState, `${cmd.name} in the ${state.kind} state`);
    if (state.kind === 'transaction' && !(await this.signInHolds(state, cmd.name === 'QUIT'))) {
      // Not QUIT's UPDATE state: messages marked for deletion stay (RFC 1939 §6).
      this.log.warn({ account: state.account.address, command: cmd.name }, 'POP3 session ended: its sign-in no longer holds');
      return this.close(err(SIGN_IN_GONE, 'AUTH'));
    }
    try {
      await this.handle(cmd, state);
    } catch (e) {
      if (e instanceof Closed) throw e;
      this.log.error({ err: e, command: cmd.name }, 'POP3 command failed');
      await this.write(errorReply(e));
    }
  }

  /**
   * Whether the sign-in still holds (auth/sign-in-holds.ts): checked when the last check is older
   * than pop3.signInCheckMs, and always before QUIT deletes. A failed read keeps the session.
   */
  private async signInHolds(state: Extract<State, { kind: 'transaction' }>, always: boolean): Promise<boolean> {
    const now = Date.now();
    if (!always && now - state.checkedAt < this.deps.limits.signInCheckMs) return true;
    try {
      const fresh = await currentSignIn(this.deps.store, state.credential);
      state.checkedAt = now;
      return fresh !== null;
    } catch (e) {
      this.log.warn({ err: e }, 'POP3: could not check the sign-in');
      return true;
    }
  }

  private plaintextOk(): boolean {
    return this.deps.auth.plaintextAllowed(this.conn.ip, this.secure);
  }

  private async handle(cmd: Pop3Command, state: Exclude<State, { kind: 'closed' }>): Promise<void> {
    switch (cmd.name) {
      case 'CAPA':
        return this.write(multiline(bi('Danh sách khả năng', 'Capability list follows'), this.capabilities()));
      case 'QUIT':
        return this.quit(state);
      case 'USER': {
        if (state.kind !== 'authorization') return;
        if (!this.plaintextOk()) return this.refuse(err(this.deps.auth.failureMessage('plaintext-refused'), 'AUTH'), 'plaintext sign-in without TLS');
        state.user = cmd.user;
        return this.write(ok(bi('Hãy gửi mật khẩu', 'Send the password')));
      }
      case 'PASS': {
        if (state.kind !== 'authorization') return;
        if (state.user === null) return this.badCommand(T.userFirst, 'PASS before USER');
        const user = state.user;
        state.user = null;
        return this.signIn(user, cmd.password);
      }
      case 'AUTH':
        return this.authenticate(cmd.mechanism, cmd.initial);
      case 'STLS':
        return this.stls();
      case 'STAT': {
        if (state.kind !== 'transaction') return;
        const s = state.drop.stat();
        return this.write(ok(`${s.count} ${s.size}`));
      }
      case 'LIST':
      case 'UIDL': {
        if (state.kind !== 'transaction') return;
        const { drop } = state;
        const item = (n: number): string => {
          const m = drop.messages[n - 1];
          if (!m) return '';
          return cmd.name === 'LIST' ? `${n} ${m.size}` : `${n} ${drop.uidl(m)}`;
        };
        if (cmd.msg !== null) return this.write(drop.get(cmd.msg) ? ok(item(cmd.msg)) : err(T.noSuchMessage));
        const live = drop.live();
        const s = drop.stat();
        await this.write(`+OK ${cmd.name === 'LIST' ? bi(`${s.count} thư (${s.size} byte)`, `${many(s.count, 'message')} (${s.size} octets)`) : bi('Danh sách UID', 'Unique-ID listing follows')}\r\n`);
        for (let i = 0; i < live.length; i += 1000) {
          await this.write(live.slice(i, i + 1000).map((n) => `${item(n)}\r\n`).join(''));
        }
        return this.write('.\r\n');
      }
      case 'RETR':
        return this.send(state, cmd.msg, null);
      case 'TOP':
        return this.send(state, cmd.msg, cmd.lines);
      case 'DELE': {
        if (state.kind !== 'transaction') return;
        if (!state.drop.dele(cmd.msg)) return this.write(err(T.noSuchMessage));
        return this.write(ok(bi(`Đã đánh dấu xóa thư ${cmd.msg}`, `Message ${cmd.msg} deleted`)));
      }
      case 'NOOP':
        return this.write(ok(''));
      case 'RSET': {
        if (state.kind !== 'transaction') return;
        state.drop.rset();
        const s = state.drop.stat();
        return this.write(ok(bi(`Hộp thư có ${s.count} thư (${s.size} byte)`, `Maildrop has ${many(s.count, 'message')} (${s.size} octets)`)));
      }
    }
  }

  private capabilities(): string[] {
    const caps = ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', 'EXPIRE NEVER'];
    if (this.state.kind === 'authorization') {
      if (this.plaintextOk()) caps.push('USER', 'SASL PLAIN');
      if (!this.secure && this.deps.tls) caps.push('STLS');
    }
    caps.push('IMPLEMENTATION buudien');
    return caps;
  }

  private async authenticate(mechanism: string | null, initial: string | null): Promise<void> {
    if (mechanism === null) {
      // RFC 5034 §4 (and the older AUTH-without-argument habit of clients): list mechanisms.
      return this.write(multiline(bi('Các cơ chế xác thực', 'Supported mechanisms'), this.plaintextOk() ? ['PLAIN'] : []));
    }
    if (mechanism !== 'PLAIN') return this.write(err(T.mechanism));
    if (!this.plaintextOk()) return this.refuse(err(this.deps.auth.failureMessage('plaintext-refused'), 'AUTH'), 'plaintext sign-in without TLS');
    let response = initial;
    if (response === null) {
      await this.write('+ \r\n');
      const r = await this.reader.next();
      if (r.kind === 'end') throw new Closed();
      if (r.kind === 'too-long') return this.write(err(T.badSasl));
      response = r.line.toString('utf8');
    }
    if (response.trim() === '*') return this.write(err(T.cancelled));
    const creds = response === '=' ? null : decodeSaslPlain(response);
    if (!creds) return this.badCommand(T.badSasl, 'malformed SASL PLAIN');
    // An authorization identity names a unit mailbox to open as its delegate (R-ACC-6); the auth module decides.
    return this.signIn(creds.authcid, creds.password, creds.authzid);
  }

  private async signIn(username: string, password: string, authzid = ''): Promise<void> {
    const r = await this.deps.auth.signIn({ username, password, authzid, protocol: 'pop3', ip: this.conn.ip, secure: this.secure });
    if (this.state.kind !== 'authorization') return; // closed while waiting
    if (!r.ok) {
      this.bad++;
      if (this.bad >= this.deps.limits.maxBadCommands) return this.close(err(r.message, signInCode(r.kind)));
      return this.write(err(r.message, signInCode(r.kind)));
    }
    const account = r.account;
    const release = this.deps.accountConnections.acquire(String(account.id));
    if (!release) return this.refuse(err(T.tooManyConns, 'SYS/TEMP'), 'too many connections for the account', account.address);
    if (!this.deps.locks.tryLock(account.id, this.conn.id)) {
      release();
      return this.refuse(err(T.inUse, 'IN-USE'), 'maildrop locked by another session', account.address);
    }
    try {
      const inbox = await this.deps.store.getMailbox(account.id, 'INBOX');
      if (!inbox) throw new Error(`no INBOX for ${account.address}`);
      const messages = await this.deps.store.listMessages(inbox.id);
      const drop = new Maildrop(inbox, messages);
      // Closed while the maildrop was read (a timeout, a shutdown): the catch below gives the lock back.
      if (this.socket.destroyed || this.state.kind !== 'authorization') throw new Closed();
      this.releaseAccount = release;
      this.state = { kind: 'transaction', account, drop, credential: r.credential, checkedAt: Date.now() };
      this.stopLoginTimer();
      const s = drop.stat();
      this.log.info({ account: account.address, ...(r.delegate ? { delegate: r.delegate.address } : {}), messages: s.count }, 'POP3 maildrop opened');
      await this.write(ok(bi(`${account.address} có ${s.count} thư (${s.size} byte)`, `${account.address} has ${many(s.count, 'message')} (${s.size} octets)`)));
    } catch (e) {
      if (this.state.kind !== 'transaction') {
        this.deps.locks.unlock(account.id, this.conn.id);
        release();
      }
      if (e instanceof Closed) throw e;
      this.log.error({ err: e, account: account.address }, 'could not open the maildrop');
      await this.write(err(T.noInbox, 'SYS/TEMP'));
    }
  }

  private async stls(): Promise<void> {
    if (this.secure || !this.deps.tls || this.state.kind !== 'authorization') return this.write(err(T.noTls));
    const raw = this.conn.raw;
    try {
      const { socket, discarded } = await upgradeToTls(raw, this.reader, ok(bi('Bắt đầu TLS', 'Begin TLS negotiation')), {
        secureContext: this.deps.tls,
      });
      if (discarded > 0) this.log.warn({ discarded }, 'STLS: discarded bytes sent before the TLS handshake');
      socket.on('error', (e) => this.log.debug({ err: e }, 'socket error'));
      this.socket = socket;
      this.secure = true;
      this.reader = new LineReader(socket, { maxLineBytes: this.deps.limits.maxLineBytes });
      // RFC 2595 §4: the client must discard what it knew; so does the server (no USER carried over).
      this.state = { kind: 'authorization', user: null };
    } catch (e) {
      this.log.info({ err: e }, 'STLS handshake failed');
      this.leave();
      raw.destroy();
      throw new Closed();
    }
  }

  private async send(state: Exclude<State, { kind: 'closed' }>, n: number, lines: number | null): Promise<void> {
    if (state.kind !== 'transaction') return;
    const m = state.drop.get(n);
    if (!m) return this.write(err(T.noSuchMessage));
    const head = ok(lines === null ? `${m.size} octets` : bi('Phần đầu thư', 'Top of message follows'));
    if (m.size <= WHOLE_MAX_BYTES) {
      // Small messages (most mail): one read, one write — no stream machinery per RETR.
      const ahead = this.ahead;
      this.ahead = null;
      let reply = lines === null && ahead?.n === n ? await ahead.reply : null;
      if (!reply) {
        try {
          reply = encodeWhole(head, lines, await this.deps.store.readBlob(m.blobId));
        } catch (e) {
          this.log.warn({ err: e, uid: m.uid }, 'RETR: message bytes unavailable');
          return this.write(err(T.gone));
        }
      }
      await this.write(reply);
      if (lines === null) {
        state.drop.retrieved.add(n);
        this.readAhead(state.drop, n + 1);
      }
      return;
    }
    const enc = new MessageEncoder(lines);
    let stream: ReturnType<Pop3Store['streamBlob']> | null = null;
    let first: IteratorResult<Buffer>;
    let it: AsyncIterator<Buffer>;
    try {
      stream = this.deps.store.streamBlob(m.blobId);
      it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
      first = await it.next();
    } catch (e) {
      stream?.destroy();
      this.log.warn({ err: e, uid: m.uid }, 'RETR: message bytes unavailable');
      return this.write(err(T.gone));
    }
    try {
      await this.write(head);
      let r = first;
      while (!r.done) {
        const out = enc.push(r.value);
        if (out.length) await this.write(out);
        if (enc.done) break;
        r = await it.next();
      }
    } catch (e) {
      // After "+OK" the reply cannot be taken back: drop the connection (nothing is deleted; the
      // maildrop is unlocked, so the client can sign in again at once).
      if (!(e instanceof Closed)) this.log.error({ err: e, uid: m.uid }, 'RETR failed mid-message');
      this.leave();
      this.conn.raw.destroy();
      throw new Closed();
    } finally {
      // The file is closed however the reply ends (a peer gone before the status line too).
      stream.destroy();
    }
    await this.write(enc.end());
    if (lines === null) state.drop.retrieved.add(n);
  }

  /**
   * Clients download in order (RETR 1, RETR 2, …): once a RETR is sent, the next message's reply
   * is prepared while the client reads this one, so the next RETR is answered without a store
   * read. At most one small message per session is held; a failed read-ahead is dropped and the
   * RETR reads again (and reports the error).
   */
  private readAhead(drop: Maildrop, n: number): void {
    const m = drop.get(n);
    if (!m || m.size > WHOLE_MAX_BYTES) return;
    const reply = this.deps.store.readBlob(m.blobId).then(
      (data) => encodeWhole(ok(`${m.size} octets`), null, data),
      () => null,
    );
    this.ahead = { n, reply };
  }

  private async quit(state: Exclude<State, { kind: 'closed' }>): Promise<void> {
    const host = this.deps.hostname;
    if (state.kind === 'authorization') return this.close(ok(bi(`${host} tạm biệt`, `${host} signing off`)));
    // UPDATE state (RFC 1939 §6).
    const { drop, account } = state;
    const deleted = drop.deletedUids();
    let reply: string;
    try {
      if (deleted.length) await this.deps.store.expunge(drop.mailbox.id, deleted, { origin: this });
      reply = ok(bi(`${host} tạm biệt (đã xóa ${deleted.length} thư)`, `${host} signing off (${many(deleted.length, 'message')} deleted)`));
    } catch (e) {
      this.log.error({ err: e, account: account.address }, 'POP3 UPDATE: expunge failed');
      reply = err(T.expungeFailed, 'SYS/TEMP');
    }
    const seen = drop.seenUids();
    if (seen.length) {
      try {
        await this.deps.store.setFlags(drop.mailbox.id, seen, 'add', ['\\Seen'], { origin: this });
      } catch (e) {
        this.log.warn({ err: e }, 'POP3 UPDATE: could not set \\Seen');
      }
    }
    this.log.info({ account: account.address, deleted: deleted.length }, 'POP3 session ended');
    this.close(reply);
  }
}
