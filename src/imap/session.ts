/**
 * One IMAP connection: THE gate (DESIGN.md "one gate per session"). Every command passes
 * here: state check against the registry, timeouts, the error translation, the moment
 * untagged notifications may be sent (never an EXPUNGE during FETCH/STORE/SEARCH, RFC 9051
 * §7.5.1), IDLE and line modes, STARTTLS and COMPRESS switches, and shutdown.
 */
import type { Readable } from 'node:stream';
import { currentSignIn, SIGN_IN_GONE, type SignInCredential } from '../auth/sign-in-holds.js';
import { bi } from '../lib/errors.js';
import type { Account, Mailbox, MailboxStatus } from '../store/port.js';
import { registry, capabilities, type CommandSpec } from './commands/registry.js';
import type { ConnectionCounter } from '../net/index.js';
import type { Conn } from './conn.js';
import type { ImapDeps } from './deps.js';
import { no, toImapFailure } from './errors.js';
import { flagList, seqSet, str } from './format.js';
import type { MailboxHub } from './hub.js';
import { createCommandParser } from './protocol/parser.js';
import type { CommandParser, ImapCommand, ImapCommandType, ParseEvent } from './protocol/types.js';
import { encodeMailboxUtf7 } from './protocol/utf7.js';
import type { Outcome, Selected, SessionState } from './state.js';
import { MailboxView } from './view.js';

/** What every session of one service shares. */
export interface ServerShared {
  readonly deps: ImapDeps;
  readonly hub: MailboxHub;
  /** Open authenticated sessions per account (security.maxConnectionsPerAccount). */
  readonly perAccount: ConnectionCounter;
  readonly sessions: Set<Session>;
}

/**
 * Commands whose non-UID form must not see EXPUNGE responses (RFC 9051 §7.5.1; SORT and THREAD
 * answer with sequence numbers like SEARCH). Not COPY: RFC 2180 §4.4 ("Pending EXPUNGE
 * response(s) MUST be returned to the COPY command"); commands/copy.ts answers NO for a COPY
 * naming an expunged message, after those EXPUNGEs.
 */
const NO_EXPUNGE: ReadonlySet<ImapCommandType> = new Set(['FETCH', 'STORE', 'SEARCH', 'SORT', 'THREAD']);

/**
 * Does the command work on (or wait on) the selected mailbox? When that mailbox has been deleted
 * elsewhere, such a command is answered with BYE (endIfSelectedGone): FETCH, STORE, SEARCH, SORT,
 * THREAD, COPY, MOVE, EXPUNGE and their UID forms, CHECK, IDLE, and NOOP (in the selected state a
 * client's way of polling the mailbox: answering it OK would leave the client on a mailbox that
 * is gone, never told). The others do not depend on it and run as usual (an APPEND to another
 * folder, LIST, STATUS, LOGOUT...); SELECT/EXAMINE leave the gone mailbox for the new one, and
 * CLOSE/UNSELECT just leave it (commands/close.ts does not expunge a gone mailbox). A record, so
 * that a new command must be classified here.
 */
const ON_SELECTED: Readonly<Record<ImapCommandType, boolean>> = {
  CAPABILITY: false,
  NOOP: true,
  LOGOUT: false,
  ID: false,
  STARTTLS: false,
  LOGIN: false,
  AUTHENTICATE: false,
  ENABLE: false,
  COMPRESS: false,
  SELECT: false,
  EXAMINE: false,
  CREATE: false,
  DELETE: false,
  RENAME: false,
  SUBSCRIBE: false,
  UNSUBSCRIBE: false,
  LIST: false,
  LSUB: false,
  NAMESPACE: false,
  STATUS: false,
  APPEND: false,
  IDLE: true,
  GETQUOTA: false,
  GETQUOTAROOT: false,
  SETQUOTA: false,
  CHECK: true,
  CLOSE: false,
  UNSELECT: false,
  EXPUNGE: true,
  FETCH: true,
  STORE: true,
  COPY: true,
  MOVE: true,
  SEARCH: true,
  SORT: true,
  THREAD: true,
};

export class Session {
  state: SessionState = 'not-authenticated';
  account: Account | null = null;
  selected: Selected | null = null;
  /** ENABLEd extensions (CONDSTORE, QRESYNC, UTF8=ACCEPT, IMAP4REV2). */
  readonly enabled = new Set<string>();
  /** CONDSTORE is on (ENABLE, SELECT (CONDSTORE), or a MODSEQ-using command). */
  condstore = false;
  idling = false;
  /** Result saved by SEARCH RETURN (SAVE), as UIDs ("$"). */
  savedSearch: number[] = [];
  private parser: CommandParser;
  private queue: ParseEvent[] = [];
  private busy = false;
  private pumping: Promise<void> = Promise.resolve();
  private lineHandler: ((text: string) => Promise<Outcome>) | null = null;
  private currentTag = '*';
  private timer: NodeJS.Timeout | null = null;
  private keepalive: NodeJS.Timeout | null = null;
  private idleFlushing: Promise<void> = Promise.resolve();
  private releaseAccount: (() => void) | null = null;
  /** What the sign-in rested on (currentSignIn compares the account with it). */
  private credential: SignInCredential | null = null;
  private signInCheck: NodeJS.Timeout | null = null;
  readonly id: string;
  readonly deps: ImapDeps;
  /** When the connection opened: imap.loginTimeoutMs counts from here, not from the last command. */
  private readonly openedAt = Date.now();

  constructor(
    readonly shared: ServerShared,
    readonly conn: Conn,
    readonly listener: string,
  ) {
    this.deps = shared.deps;
    this.id = Math.random().toString(36).slice(2, 10);
    this.parser = this.newParser();
    conn.setDataHandler((chunk) => this.onData(chunk));
    conn.onClose(() => this.cleanup());
  }

  /** Tag of the command being run (ESEARCH responses carry it). */
  get tag(): string {
    return this.currentTag;
  }

  get secure(): boolean {
    return this.conn.secure;
  }

  get ip(): string {
    return this.conn.remoteAddress;
  }

  get utf8(): boolean {
    return this.enabled.has('UTF8=ACCEPT');
  }

  private newParser(): CommandParser {
    const c = this.deps.config;
    return createCommandParser({
      maxLineBytes: c.imap.maxLineBytes,
      maxLiteralBytes: c.limits.maxMessageBytes,
      maxNestingDepth: c.imap.maxNestingDepth,
      maxItems: c.imap.maxItemsPerCommand,
      utf8Enabled: () => this.utf8,
      authenticated: () => this.state !== 'not-authenticated',
    });
  }

  async start(): Promise<void> {
    this.armTimer();
    await this.conn.write(`* OK [CAPABILITY ${capabilities(this).join(' ')}] ${bi('Bưu Điện IMAP sẵn sàng', 'buudien IMAP ready')}\r\n`);
  }

  // ───────────── output ─────────────

  untagged(text: string): Promise<void> {
    return this.conn.write(`* ${text}\r\n`);
  }

  write(data: Buffer | string): Promise<void> {
    return this.conn.write(data);
  }

  writeMany(parts: Array<Buffer | string>): Promise<void> {
    this.armTimer(); // a long response to a slow reader is activity, not idleness
    return this.conn.writeMany(parts);
  }

  pipeFrom(src: Readable): Promise<number> {
    return this.conn.pipeFrom(src);
  }

  /** A mailbox name as this client wants it: modified UTF-7 unless UTF8=ACCEPT is enabled. */
  mailboxName(name: string): string {
    return str(this.utf8 ? name : encodeMailboxUtf7(name), this.utf8);
  }

  // ───────────── input ─────────────

  private onData(chunk: Buffer): void {
    this.armTimer();
    let events: ParseEvent[];
    try {
      events = this.parser.push(chunk);
    } catch (err) {
      this.deps.log.error({ err }, 'imap parser failed');
      void this.bye(bi('Lỗi máy chủ', 'Internal server error'));
      return;
    }
    if (this.parser.paused) this.conn.pause();
    this.queue.push(...events);
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    let done: () => void = () => undefined;
    this.pumping = new Promise<void>((r) => (done = r));
    try {
      while (this.queue.length > 0 && !this.conn.closed) {
        const ev = this.queue.shift() as ParseEvent;
        await this.handleEvent(ev);
      }
    } catch (err) {
      this.deps.log.error({ err }, 'imap session failed');
      this.conn.close();
    } finally {
      this.busy = false;
      done();
      // Told during a command that does not need the mailbox (its tagged response was written),
      // or while bytes were still coming: end now if that is between commands.
      this.endIfGoneBetweenCommands();
    }
  }

  private async handleEvent(ev: ParseEvent): Promise<void> {
    switch (ev.kind) {
      case 'continue':
        await this.conn.write(`+ ${ev.text}\r\n`);
        return;
      case 'error':
        await this.conn.write(`${ev.tag ?? '*'} ${ev.response} ${ev.text}\r\n`);
        if (ev.fatal || this.parser.closed) {
          await this.bye(bi('Quá nhiều lỗi cú pháp', 'Too many protocol errors'));
          return;
        }
        this.afterParserEvent();
        return;
      case 'line': {
        const h = this.lineHandler;
        this.lineHandler = null;
        if (!h) {
          this.afterParserEvent();
          return;
        }
        await this.finish(this.currentTag, null, () => h(ev.text));
        return;
      }
      case 'command':
        this.currentTag = ev.tag;
        // Nothing more runs against a selected mailbox that is gone (see endIfSelectedGone);
        // commands that do not need it run (ON_SELECTED).
        if (await this.endIfSelectedGone(ev.command)) return;
        await this.finish(ev.tag, ev.command, () => this.run(ev.command));
        return;
    }
  }

  /** After an event that did not pause the parser (errors), keep reading. */
  private afterParserEvent(): void {
    if (this.parser.paused) this.queue.push(...this.parser.resume());
    this.conn.resume();
  }

  private async run(cmd: ImapCommand): Promise<Outcome> {
    const spec = registry[cmd.type] as CommandSpec<ImapCommandType>;
    if (!spec.states.includes(this.state)) {
      const text =
        this.state === 'not-authenticated'
          ? bi('Hãy đăng nhập trước', 'Sign in first')
          : this.state === 'authenticated' && spec.states.includes('selected')
            ? bi('Chưa chọn hộp thư', 'No mailbox selected')
            : bi('Lệnh không hợp lệ ở trạng thái này', 'Command not valid in this state');
      return { kind: 'no', bad: true, text };
    }
    return spec.run(this, cmd as never);
  }

  /** Run a handler, then notifications, then the tagged response; then switch modes. */
  private async finish(tag: string, cmd: ImapCommand | null, fn: () => Promise<Outcome>): Promise<void> {
    let outcome: Outcome;
    try {
      outcome = await fn();
    } catch (e) {
      const f = toImapFailure(e);
      if (f.internal) this.deps.log.error({ err: e, command: cmd?.type, session: this.id }, 'imap command failed');
      await this.notify(cmd);
      if (await this.endIfSelectedGone(cmd)) return;
      await this.conn.write(`${tag} ${f.status} ${f.code ? `[${f.code}] ` : ''}${f.text}\r\n`);
      this.next();
      return;
    }
    switch (outcome.kind) {
      case 'line':
        this.lineHandler = outcome.onLine;
        this.queue.push(...this.parser.expectLine());
        this.conn.resume();
        return;
      case 'no': {
        await this.notify(cmd);
        if (await this.endIfSelectedGone(cmd)) return;
        await this.conn.write(`${tag} ${outcome.bad ? 'BAD' : 'NO'} ${outcome.code ? `[${outcome.code}] ` : ''}${outcome.text}\r\n`);
        this.next();
        return;
      }
      case 'ok': {
        if (outcome.then !== 'close') {
          await this.notify(cmd);
          if (await this.endIfSelectedGone(cmd)) return;
        }
        const text = outcome.text ?? bi('Xong', 'Completed');
        await this.conn.write(`${tag} OK ${outcome.code ? `[${outcome.code}] ` : ''}${text}\r\n`);
        if (outcome.then === 'close') {
          await this.conn.end();
          return;
        }
        if (outcome.then === 'starttls') {
          // Bytes pipelined before the handshake must never run (SECURITY-NOTES: STARTTLS injection).
          this.parser.takeBuffered();
          this.parser = this.newParser();
          try {
            await this.conn.startTls(this.deps.tls);
          } catch {
            this.conn.close();
            return;
          }
          this.conn.resume();
          return;
        }
        if (outcome.then === 'compress') {
          const rest = this.parser.takeBuffered();
          this.conn.startCompression();
          this.parser = this.newParser();
          if (rest.length > 0) this.conn.feedCompressed(rest);
          this.conn.resume();
          return;
        }
        this.next();
        return;
      }
    }
  }

  private next(): void {
    this.queue.push(...this.parser.resume());
    if (!this.parser.paused) this.conn.resume();
  }

  // ───────────── notifications ─────────────

  /** Where views pull changes from: the hub, which shares one query between sessions. */
  private readonly changeSource = { changesSince: (id: number, since: number) => this.shared.hub.changes(id, since) };

  /**
   * Bring the selected view up to date and announce what changed, as the command allows. Runs
   * before every tagged response in the selected state, so a change made by another process (a
   * CLI import, a quarantine release: no store event reaches this one) is told at the client's
   * next command (RFC 9051 §5.2), not only at NOOP or in IDLE (syncSelected).
   */
  async notify(cmd: ImapCommand | null, force = false): Promise<void> {
    const sel = this.selected;
    if (!sel) return;
    await this.syncSelected(force);
    if (sel.view.hasPending()) {
      const allowExpunge = cmd === null || !NO_EXPUNGE.has(cmd.type) || ('uid' in cmd && cmd.uid === true);
      await this.announce(sel.view, allowExpunge);
    }
    // RFC 7162 §3.2: while an EXPUNGE/VANISHED is held back (this command may not carry it), the
    // MODSEQs of FETCH responses (this command's, or the flag updates above) may be above its
    // MODSEQ; a client saving the highest it saw would skip the expunge when it resyncs. "The
    // server MUST send the HIGHESTMODSEQ response code with a lower value than the EXPUNGE's
    // mod-sequence" (and the client MUST use it even when it saw higher ones, §6).
    if (this.condstore && this.selected === sel) {
      const floor = sel.view.heldBackModseq();
      if (floor !== null) await this.conn.write(`* OK [HIGHESTMODSEQ ${floor}] ${bi('Có thư đã bị xóa, sẽ báo sau', 'An expunge is still to be announced')}\r\n`);
    }
  }

  /**
   * Pull the selected mailbox's changes when there may be some: `force`, a change event of this
   * process (view.dirty), or the store's HIGHESTMODSEQ above what the view pulled — one look-up
   * by primary key, the only way to learn of another process's changes outside IDLE (the hub
   * polls for idling sessions only). A mailbox the store no longer has is marked gone (the
   * session then ends, see endIfSelectedGone).
   */
  async syncSelected(force = false): Promise<void> {
    const sel = this.selected;
    if (!sel) return;
    const view = sel.view;
    if (!force && !view.dirty) {
      let moved = false;
      try {
        const mb = await this.deps.store.getMailboxById(view.mailboxId);
        if (!mb) view.gone = true;
        else moved = mb.highestModseq > view.syncedModseq;
      } catch (err) {
        this.deps.log.warn({ err, session: this.id }, 'imap: checking the selected mailbox failed');
      }
      if (!moved) return;
    }
    await view.sync(this.changeSource);
  }

  async announce(view: MailboxView, allowExpunge: boolean): Promise<void> {
    const r = view.flush(allowExpunge);
    const lines: string[] = [];
    if (this.enabled.has('QRESYNC')) {
      if (r.vanished.length > 0) lines.push(`* VANISHED ${seqSet(r.vanished)}\r\n`);
    } else {
      for (const seq of r.expunged) lines.push(`* ${seq} EXPUNGE\r\n`);
    }
    if (r.exists !== null) {
      lines.push(`* ${r.exists} EXISTS\r\n`);
      // New messages: this session claims those no other session was told of (after the flush,
      // so the claim covers every message just added), and says how many it now holds (RFC 3501 §7.3.2).
      if (!this.enabled.has('IMAP4REV2')) {
        await this.learnRecent(view);
        lines.push(`* ${view.recentCount()} RECENT\r\n`);
      }
    }
    for (const f of r.flags) {
      lines.push(`* ${f.seq} FETCH (UID ${f.uid} FLAGS ${flagList(view.shownFlags(f.uid, f.flags))}${this.condstore ? ` MODSEQ (${f.modseq})` : ''})\r\n`);
    }
    if (lines.length > 0) await this.conn.writeMany(lines);
  }

  /**
   * \Recent (RFC 3501 §2.3.2): a read-write session claims the messages above the mailbox's mark
   * (one atomic store update, so of the sessions told of a new message exactly one gets it); a
   * read-only one (EXAMINE) only looks and leaves them recent for the next. IMAP4rev2 sessions
   * neither claim nor show \Recent (RFC 9051 appendix E), leaving the messages to IMAP4rev1 ones.
   * The session keeps the claimed UID ranges, not a set of messages.
   */
  private async learnRecent(view: MailboxView): Promise<void> {
    if (this.enabled.has('IMAP4REV2')) return;
    try {
      const r = await this.deps.store.claimRecent(view.mailboxId, { peek: view.readOnly });
      view.addRecent(r.first, r.last);
    } catch (err) {
      // Best effort: a failed claim leaves the messages recent for some other session.
      this.deps.log.warn({ err, session: this.id }, 'imap: claiming \\Recent messages failed');
    }
  }

  /** IDLE: changes are announced as soon as they happen. */
  startIdle(): void {
    this.idling = true;
    const ms = this.deps.config.imap.idleKeepaliveMs;
    if (ms > 0) {
      this.keepalive = setInterval(() => void this.conn.write(`* OK ${bi('Vẫn đang kết nối', 'Still here')}\r\n`), ms);
      this.keepalive.unref();
    }
    this.mailboxChanged();
  }

  stopIdle(): Promise<void> {
    this.idling = false;
    if (this.keepalive) clearInterval(this.keepalive);
    this.keepalive = null;
    return this.idleFlushing;
  }

  /** Called by the hub. */
  mailboxChanged(): void {
    const sel = this.selected;
    if (!sel) return;
    sel.view.dirty = true;
    if (!this.idling) return;
    this.idleFlushing = this.idleFlushing
      .then(async () => {
        if (!this.idling || this.selected !== sel) return;
        await sel.view.sync(this.changeSource);
        if (await this.endIfSelectedGone()) return;
        if (this.idling && sel.view.hasPending()) await this.announce(sel.view, true);
      })
      .catch((err: unknown) => this.deps.log.warn({ err }, 'imap idle update failed'));
  }

  /**
   * The hub found the selected mailbox deleted (another session's DELETE, an admin deleting it or
   * purging its account; in another process, the IDLE poll). In IDLE, or between commands, the
   * session ends at once; during a command that needs the mailbox, in place of that command's
   * tagged response (finish), so the BYE never lands inside a response; during one that does not,
   * after its tagged response. Never while the client is partway through sending a command (an
   * APPEND's literal): that command arrives whole first, and runs if it does not need the mailbox.
   */
  private selectedGone(view: MailboxView): void {
    if (this.selected?.view !== view) return;
    view.gone = true;
    if (this.idling) {
      this.idleFlushing = this.idleFlushing
        .then(async () => {
          await this.endIfSelectedGone();
        })
        .catch((err: unknown) => this.deps.log.warn({ err }, 'imap: ending a session failed'));
      return;
    }
    this.endIfGoneBetweenCommands();
  }

  /**
   * Between commands, with nothing of the next one received (no partial command in the parser, no
   * command waiting to run), end the session now if its selected mailbox is gone. Otherwise the
   * next command decides (handleEvent): it runs if it does not need the mailbox.
   */
  private endIfGoneBetweenCommands(): void {
    if (!this.selected?.view.gone || this.busy || this.idling || this.lineHandler !== null) return;
    if (this.queue.length > 0 || this.parser.bufferedBytes > 0) return;
    void this.endIfSelectedGone();
  }

  /**
   * End the session when its selected mailbox no longer exists: untagged BYE, then close.
   * RFC 9051 gives a server no way to take a client out of the selected state on its own (the
   * CLOSED response code only bounds a SELECT), and a deleted mailbox can never be used again (its
   * id is not reused, so answering NO to every command would leave the client stuck on it);
   * RFC 2180 §3.3 describes exactly this: "disconnect all other clients who have the mailbox
   * accessed by sending a untagged BYE response" (Dovecot does the same). Thunderbird and Outlook
   * take a BYE like any dropped connection: they reconnect and LIST, and the folder is gone. A
   * RENAME keeps the mailbox's id, so sessions on it carry on (RFC 2180 §3.4); the session that
   * DELETEs its own selected mailbox unselects it first (commands/mailboxes.ts) and stays.
   */
  private async endIfSelectedGone(cmd: ImapCommand | null = null): Promise<boolean> {
    const sel = this.selected;
    if (!sel?.view.gone || this.conn.closed) return false;
    // A command that does not need the selected mailbox runs and is answered (cmd null: IDLE's DONE).
    if (cmd !== null && !ON_SELECTED[cmd.type]) return false;
    this.deps.log.info({ session: this.id, account: this.account?.address, mailbox: sel.mailbox.id }, 'imap session ended: its selected mailbox was deleted');
    await this.bye(bi(`Hộp thư đang mở (${sel.mailbox.name}) đã bị xóa; hãy kết nối lại`, `The selected mailbox (${sel.mailbox.name}) was deleted; please reconnect`));
    return true;
  }

  // ───────────── selection, sign-in ─────────────

  async select(mailbox: Mailbox, readOnly: boolean): Promise<{ view: MailboxView; status: MailboxStatus }> {
    this.unselect();
    const status = await this.deps.store.mailboxStatus(mailbox.id);
    const listing = await this.shared.hub.listing(mailbox.id, status);
    const view = new MailboxView({ mailboxId: mailbox.id, readOnly, modseq: Math.max(status.highestModseq, listing.modseq), messages: listing });
    const unwatch = this.shared.hub.watch(mailbox.id, view.highestModseq, {
      changed: () => {
        if (this.selected?.view === view) this.mailboxChanged();
      },
      idling: () => this.idling,
      gone: () => {
        // Marked even before `selected` is set (below): a deletion told while the check runs.
        view.gone = true;
        this.selectedGone(view);
      },
    }, mailbox.accountId);
    // A DELETE committed after the status read and before the watch was told to no one: look
    // again now that deletions reach this view (or another process deleted it meanwhile).
    let stillThere = false;
    try {
      stillThere = Boolean(await this.deps.store.getMailboxById(mailbox.id)) && !view.gone;
    } catch (e) {
      unwatch();
      throw e;
    }
    if (!stillThere) {
      unwatch();
      throw no('NONEXISTENT', 'Không có hộp thư này', 'No such mailbox');
    }
    this.selected = { mailbox, view, unwatch };
    this.state = 'selected';
    this.savedSearch = [];
    // After the listing: a message stored meanwhile is claimed too, and arrives with the next sync.
    await this.learnRecent(view);
    return { view, status };
  }

  unselect(): void {
    if (this.selected) this.selected.unwatch();
    this.selected = null;
    if (this.state === 'selected') this.state = 'authenticated';
  }

  /** Count the session against its account's connection limit; false when over it. */
  signedIn(account: Account, credential: SignInCredential | null): boolean {
    const release = this.shared.perAccount.acquire(String(account.id));
    if (!release) return false;
    this.releaseAccount = release;
    this.account = account;
    this.credential = credential;
    this.state = 'authenticated';
    this.armTimer();
    const every = this.deps.config.imap.signInCheckMs;
    if (every > 0) {
      this.signInCheck = setInterval(() => void this.endIfSignInGone(), every);
      this.signInCheck.unref();
    }
    return true;
  }

  private async endIfSignInGone(): Promise<boolean> {
    let holds = true;
    try {
      holds = this.credential === null || (await currentSignIn(this.deps.store, this.credential)) !== null;
    } catch (e) {
      this.deps.log.warn({ err: e, session: this.id }, 'imap: could not check the sign-in');
    }
    if (holds || this.conn.closed) return false;
    this.deps.log.info({ session: this.id, account: this.account?.address }, 'imap session ended: its sign-in no longer holds');
    await this.shutdown(SIGN_IN_GONE);
    return true;
  }

  /** The signed-in account (handlers run only in states where there is one). */
  acct(): Account {
    if (!this.account) throw new Error('no account');
    return this.account;
  }

  sel(): Selected {
    if (!this.selected) throw new Error('no mailbox selected');
    return this.selected;
  }

  // ───────────── timeouts, shutdown ─────────────

  private armTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    const { loginTimeoutMs, idleTimeoutMs } = this.deps.config.imap;
    if (this.state === 'not-authenticated') {
      // A deadline for signing in, not an idle timer: a client that keeps talking (NOOP every
      // few seconds) without signing in is still dropped when it passes (SECURITY-NOTES, Floods).
      if (loginTimeoutMs <= 0) return;
      const left = Math.max(0, this.openedAt + loginTimeoutMs - Date.now());
      this.timer = setTimeout(() => void this.bye(bi('Hết thời gian đăng nhập', 'Sign-in timeout')), left);
    } else {
      if (idleTimeoutMs <= 0) return;
      this.timer = setTimeout(() => void this.bye(bi('Hết thời gian chờ', 'Idle timeout')), idleTimeoutMs);
    }
    this.timer.unref();
  }

  /** Server shutdown: let the command in progress finish (bounded), so BYE never lands inside a response. */
  async shutdown(text: string, graceMs = 1000): Promise<void> {
    if (this.busy) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.pumping, new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
    }
    await this.bye(text);
  }

  async bye(text: string): Promise<void> {
    if (this.conn.closed) return;
    this.state = 'logout';
    await this.conn.write(`* BYE ${text}\r\n`);
    await this.conn.end();
  }

  private cleanup(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.keepalive) clearInterval(this.keepalive);
    if (this.signInCheck) clearInterval(this.signInCheck);
    this.signInCheck = null;
    this.timer = null;
    this.keepalive = null;
    this.idling = false;
    this.unselect();
    this.releaseAccount?.();
    this.releaseAccount = null;
    this.shared.sessions.delete(this);
  }
}
