/**
 * Grammar: one assembled command (see reader.ts) → a typed ImapCommand.
 * ABNF from RFC 9051 §9, RFC 3501 §9 and the extension RFCs named on each parser.
 */

import { bi } from '../../lib/errors.js';
import { withoutTrailing } from '../../lib/regex.js';
import { ParseFailure, Reader, syntax } from './reader.js';
import type { Literal, ReaderLimits } from './reader.js';
import type {
  AppendMessage,
  FetchItem,
  Flag,
  ImapCommand,
  ImapDate,
  ImapDateTime,
  ListPattern,
  ListReturn,
  ListSelection,
  MailboxName,
  PartialRange,
  QresyncParams,
  SearchKey,
  SearchReturnOption,
  Section,
  SectionText,
  SequenceSet,
  SortCriterion,
  SortKey,
  SpecialUseAttr,
  StatusItem,
} from './types.js';
import { decodeMailboxUtf7 } from './utf7.js';

export interface GrammarContext extends ReaderLimits {
  readonly utf8: boolean;
}

/** Parse the text after "tag SP" (i.e. starting at the command name). */
export function parseCommandText(text: Buffer, start: number, literals: readonly Literal[], ctx: GrammarContext): ImapCommand {
  const r = new Reader(text, literals, ctx);
  r.pos = start;
  const p = new Grammar(r, ctx.utf8);
  const cmd = p.command();
  r.end();
  return cmd;
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];

const SYSTEM_FLAGS: Record<string, Flag> = {
  '\\SEEN': '\\Seen',
  '\\ANSWERED': '\\Answered',
  '\\FLAGGED': '\\Flagged',
  '\\DELETED': '\\Deleted',
  '\\DRAFT': '\\Draft',
  '\\RECENT': '\\Recent',
};

const SPECIAL_USE: Record<string, SpecialUseAttr> = {
  '\\SENT': '\\Sent',
  '\\DRAFTS': '\\Drafts',
  '\\TRASH': '\\Trash',
  '\\JUNK': '\\Junk',
  '\\ARCHIVE': '\\Archive',
  '\\ALL': '\\All',
  '\\FLAGGED': '\\Flagged',
};

const STATUS_ITEMS: ReadonlySet<string> = new Set<StatusItem>([
  'MESSAGES',
  'RECENT',
  'UIDNEXT',
  'UIDVALIDITY',
  'UNSEEN',
  'DELETED',
  'SIZE',
  'HIGHESTMODSEQ',
  'APPENDLIMIT',
]);

const SORT_KEYS: ReadonlySet<string> = new Set<SortKey>(['ARRIVAL', 'CC', 'DATE', 'FROM', 'SIZE', 'SUBJECT', 'TO', 'DISPLAYFROM', 'DISPLAYTO']);
const SEARCH_RETURN: ReadonlySet<string> = new Set<SearchReturnOption>(['MIN', 'MAX', 'ALL', 'COUNT', 'SAVE']);
const CHARSETS: ReadonlySet<string> = new Set(['UTF-8', 'US-ASCII', 'UTF8']);

/** Simple flag keys of SEARCH: key → [flag, set]. */
const FLAG_KEYS: Record<string, readonly [Flag, boolean]> = {
  ANSWERED: ['\\Answered', true],
  DELETED: ['\\Deleted', true],
  DRAFT: ['\\Draft', true],
  FLAGGED: ['\\Flagged', true],
  SEEN: ['\\Seen', true],
  UNANSWERED: ['\\Answered', false],
  UNDELETED: ['\\Deleted', false],
  UNDRAFT: ['\\Draft', false],
  UNFLAGGED: ['\\Flagged', false],
  UNSEEN: ['\\Seen', false],
};
const HEADER_KEYS: Record<string, string> = { FROM: 'from', TO: 'to', CC: 'cc', BCC: 'bcc', SUBJECT: 'subject' };
const DATE_KEYS: Record<string, readonly ['internal' | 'sent', 'before' | 'on' | 'since']> = {
  BEFORE: ['internal', 'before'],
  ON: ['internal', 'on'],
  SINCE: ['internal', 'since'],
  SENTBEFORE: ['sent', 'before'],
  SENTON: ['sent', 'on'],
  SENTSINCE: ['sent', 'since'],
};

class Grammar {
  constructor(
    private readonly r: Reader,
    private readonly utf8: boolean,
  ) {}

  command(): ImapCommand {
    const r = this.r;
    const name = r.keyword();
    switch (name) {
      case 'CAPABILITY':
      case 'NOOP':
      case 'LOGOUT':
      case 'STARTTLS':
      case 'NAMESPACE':
      case 'IDLE':
      case 'CHECK':
      case 'CLOSE':
      case 'UNSELECT':
        return { type: name };
      case 'EXPUNGE':
        return { type: 'EXPUNGE', uid: false, uidSet: null };
      case 'LOGIN': {
        r.sp();
        const username = r.userid();
        r.sp();
        const password = r.astring();
        return { type: 'LOGIN', username, password };
      }
      case 'AUTHENTICATE':
        return this.authenticate();
      case 'ID':
        return this.id();
      case 'ENABLE': {
        const capabilities: string[] = [];
        r.sp();
        do {
          r.item();
          capabilities.push(r.keyword());
        } while (r.trySp());
        return { type: 'ENABLE', capabilities };
      }
      case 'COMPRESS':
        r.sp();
        return { type: 'COMPRESS', mechanism: r.keyword() };
      case 'SELECT':
      case 'EXAMINE':
        return this.select(name);
      case 'CREATE':
        return this.create();
      case 'DELETE':
      case 'SUBSCRIBE':
      case 'UNSUBSCRIBE':
        r.sp();
        return { type: name, mailbox: this.mailbox() };
      case 'RENAME': {
        r.sp();
        const from = this.mailbox();
        r.sp();
        const to = this.mailbox();
        return { type: 'RENAME', from, to };
      }
      case 'LIST':
        return this.list();
      case 'LSUB': {
        r.sp();
        const reference = this.mailbox(false);
        r.sp();
        return { type: 'LSUB', reference, pattern: this.pattern() };
      }
      case 'STATUS': {
        r.sp();
        const mailbox = this.mailbox();
        r.sp();
        return { type: 'STATUS', mailbox, items: this.statusItems() };
      }
      case 'APPEND':
        return this.append();
      case 'GETQUOTA':
        r.sp();
        return { type: 'GETQUOTA', root: r.astring() };
      case 'GETQUOTAROOT':
        r.sp();
        return { type: 'GETQUOTAROOT', mailbox: this.mailbox() };
      case 'SETQUOTA':
        return this.setquota();
      case 'FETCH':
      case 'STORE':
      case 'COPY':
      case 'MOVE':
      case 'SEARCH':
      case 'SORT':
      case 'THREAD':
        return this.selected(name, false);
      case 'UID': {
        r.sp();
        const sub = r.keyword();
        if (sub === 'EXPUNGE') {
          r.sp();
          return { type: 'EXPUNGE', uid: true, uidSet: r.sequenceSet() };
        }
        if (sub === 'FETCH' || sub === 'STORE' || sub === 'COPY' || sub === 'MOVE' || sub === 'SEARCH' || sub === 'SORT' || sub === 'THREAD') {
          return this.selected(sub, true);
        }
        throw new ParseFailure(bi(`Lệnh UID ${sub} không được hỗ trợ`, `Unknown UID command ${sub}`));
      }
      default:
        throw new ParseFailure(bi(`Lệnh không được hỗ trợ: ${name}`, `Unknown command: ${name}`));
    }
  }

  private selected(name: 'FETCH' | 'STORE' | 'COPY' | 'MOVE' | 'SEARCH' | 'SORT' | 'THREAD', uid: boolean): ImapCommand {
    const r = this.r;
    switch (name) {
      case 'FETCH':
        return this.fetch(uid);
      case 'STORE':
        return this.store(uid);
      case 'COPY':
      case 'MOVE': {
        r.sp();
        const set = r.sequenceSet();
        r.sp();
        return { type: name, uid, set, mailbox: this.mailbox() };
      }
      case 'SEARCH':
        return this.search(uid);
      case 'SORT':
        return this.sort(uid);
      case 'THREAD':
        return this.thread(uid);
    }
  }

  // ── strings and names ──

  mailbox(normaliseInbox = true): MailboxName {
    const raw = this.r.astring();
    return { raw, name: this.decodeName(raw, normaliseInbox) };
  }

  private decodeName(raw: string, normaliseInbox: boolean): string {
    let name: string;
    if (this.utf8) {
      name = raw;
    } else {
      const d = decodeMailboxUtf7(raw);
      if (d === null) {
        throw new ParseFailure(bi('Tên hộp thư không đúng mã UTF-7 cải biên', 'Mailbox name is not valid modified UTF-7'));
      }
      name = d;
    }
    // The store keeps names in NFC; clients (macOS, some Vietnamese input methods) may send NFD.
    // Normalised once here, every command compares names as the store does.
    name = name.normalize('NFC');
    if (normaliseInbox && name.length >= 5 && name.slice(0, 5).toUpperCase() === 'INBOX' && (name.length === 5 || name[5] === '/')) {
      name = 'INBOX' + name.slice(5);
    }
    return name;
  }

  private pattern(): ListPattern {
    const raw = this.r.listMailbox();
    return { raw, pattern: this.decodeName(raw, true) };
  }

  private flag(allowRecent: boolean): Flag {
    const r = this.r;
    if (r.tryChar('\\')) {
      const name = r.atom();
      const sys = SYSTEM_FLAGS['\\' + name.toUpperCase()];
      if (sys === '\\Recent' && !allowRecent) throw syntax('không thể đặt cờ \\Recent', '\\Recent cannot be set');
      // RFC 9051 §2.3.2: other "\\" flags are flag-extensions a future standard may define; the
      // server must never send one back, so it takes none.
      if (!sys) throw syntax(`cờ hệ thống không tồn tại: \\${name}`, `no such system flag: \\${name}`);
      return sys;
    }
    const keyword = r.atom();
    // Keywords are atoms: 7-bit only, also after ENABLE UTF8=ACCEPT (RFC 6855 changes strings, not atoms).
    if (!/^[\x21-\x7e]+$/.test(keyword)) throw syntax('từ khóa (cờ) chỉ gồm ký tự ASCII', 'keywords (flags) are ASCII only');
    return keyword;
  }

  private flagList(): Flag[] {
    return this.r.list(() => this.flag(false), true);
  }

  // ── commands ──

  private authenticate(): ImapCommand {
    const r = this.r;
    r.sp();
    const mechanism = r.keyword();
    let initialResponse: Buffer | null = null;
    if (r.trySp()) {
      const tok = r.atom();
      initialResponse = tok === '=' ? Buffer.alloc(0) : decodeBase64Strict(tok);
    }
    return { type: 'AUTHENTICATE', mechanism, initialResponse };
  }

  private id(): ImapCommand {
    const r = this.r;
    r.sp();
    if (r.peekNil()) {
      r.pos += 3;
      return { type: 'ID', params: null };
    }
    r.open();
    const params: Array<readonly [string, string | null]> = [];
    if (r.peek() !== 0x29) {
      for (;;) {
        r.item();
        const key = r.string();
        r.sp();
        const value = r.nstring();
        params.push([key, value]);
        if (!r.trySp()) break;
      }
    }
    r.close();
    return { type: 'ID', params };
  }

  private select(type: 'SELECT' | 'EXAMINE'): ImapCommand {
    const r = this.r;
    r.sp();
    const mailbox = this.mailbox();
    let condstore = false;
    let qresync: QresyncParams | null = null;
    if (r.trySp()) {
      r.list(() => {
        const p = r.keyword();
        if (p === 'CONDSTORE') {
          condstore = true;
        } else if (p === 'QRESYNC') {
          r.sp();
          qresync = this.qresync();
        } else {
          throw syntax(`tham số SELECT lạ ${p}`, `unknown SELECT parameter ${p}`);
        }
        return p;
      });
    }
    return { type, mailbox, condstore, qresync };
  }

  /** RFC 7162: "(" uidvalidity SP mod-sequence-value [SP known-uids] [SP seq-match-data] ")". */
  private qresync(): QresyncParams {
    const r = this.r;
    r.open();
    const uidValidity = r.nzNumber();
    r.sp();
    const modseq = r.modseq(false);
    let knownUids: SequenceSet | null = null;
    let seqMatch: QresyncParams['seqMatch'] = null;
    if (r.trySp()) {
      if (r.peek() !== 0x28) {
        knownUids = r.sequenceSet();
        if (knownUids.kind === 'saved') throw syntax('"$" không dùng được ở đây', '"$" not allowed here');
        if (r.trySp()) seqMatch = this.seqMatch();
      } else {
        seqMatch = this.seqMatch();
      }
    }
    r.close();
    return { uidValidity, modseq, knownUids, seqMatch };
  }

  private seqMatch(): { seqs: SequenceSet; uids: SequenceSet } {
    const r = this.r;
    r.open();
    const seqs = r.sequenceSet();
    r.sp();
    const uids = r.sequenceSet();
    r.close();
    if (seqs.kind === 'saved' || uids.kind === 'saved') throw syntax('"$" không dùng được ở đây', '"$" not allowed here');
    return { seqs, uids };
  }

  private create(): ImapCommand {
    const r = this.r;
    r.sp();
    let mailbox = this.mailbox();
    if (mailbox.name.length > 1 && mailbox.name.endsWith('/')) {
      mailbox = { raw: mailbox.raw, name: withoutTrailing(mailbox.name, '/') };
    }
    const specialUse: SpecialUseAttr[] = [];
    if (r.trySp()) {
      r.list(() => {
        const p = r.keyword();
        if (p !== 'USE') throw syntax(`tham số CREATE lạ ${p}`, `unknown CREATE parameter ${p}`);
        r.sp();
        r.list(() => {
          r.expect('\\');
          const a = SPECIAL_USE['\\' + r.keyword()];
          if (a === undefined) throw new ParseFailure('[USEATTR] ' + bi('Thuộc tính đặc biệt không được hỗ trợ', 'Unsupported special-use attribute'), 'NO');
          specialUse.push(a);
          return a;
        });
        return p;
      });
    }
    return { type: 'CREATE', mailbox, specialUse };
  }

  private statusItems(): StatusItem[] {
    const r = this.r;
    return r.list(() => {
      const k = r.keyword();
      if (!STATUS_ITEMS.has(k)) throw syntax(`mục STATUS lạ ${k}`, `unknown STATUS item ${k}`);
      return k as StatusItem;
    });
  }

  /** RFC 5258: LIST [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]. */
  private list(): ImapCommand {
    const r = this.r;
    r.sp();
    let extended = false;
    const sel = { subscribed: false, remote: false, recursiveMatch: false, specialUse: false };
    if (r.peek() === 0x28) {
      extended = true;
      r.list(() => {
        const o = r.keyword();
        if (o === 'SUBSCRIBED') sel.subscribed = true;
        else if (o === 'REMOTE') sel.remote = true;
        else if (o === 'RECURSIVEMATCH') sel.recursiveMatch = true;
        else if (o === 'SPECIAL-USE') sel.specialUse = true;
        else throw syntax(`tùy chọn LIST lạ ${o}`, `unknown LIST selection option ${o}`);
        return o;
      }, true);
      if (sel.recursiveMatch && !sel.subscribed && !sel.specialUse) {
        throw syntax('RECURSIVEMATCH cần kèm tùy chọn khác', 'RECURSIVEMATCH needs another selection option');
      }
      r.sp();
    }
    const reference = this.mailbox(false);
    r.sp();
    let patterns: ListPattern[];
    if (r.peek() === 0x28) {
      extended = true;
      patterns = r.list(() => this.pattern());
    } else {
      patterns = [this.pattern()];
    }
    const ret = { subscribed: false, children: false, specialUse: false, status: null as StatusItem[] | null };
    if (r.trySp()) {
      if (r.keyword() !== 'RETURN') throw syntax('cần RETURN', 'expected RETURN');
      extended = true;
      r.sp();
      r.list(() => {
        const o = r.keyword();
        if (o === 'SUBSCRIBED') ret.subscribed = true;
        else if (o === 'CHILDREN') ret.children = true;
        else if (o === 'SPECIAL-USE') ret.specialUse = true;
        else if (o === 'STATUS') {
          r.sp();
          ret.status = this.statusItems();
        } else throw syntax(`tùy chọn RETURN lạ ${o}`, `unknown LIST return option ${o}`);
        return o;
      }, true);
    }
    const selection: ListSelection = sel;
    const returnOptions: ListReturn = ret;
    return { type: 'LIST', reference, patterns, selection, returnOptions, extended };
  }

  /** RFC 4466/3502/6855/3516: APPEND mailbox 1*(SP [flag-list SP] [date-time SP] append-data). */
  private append(): ImapCommand {
    const r = this.r;
    r.sp();
    const mailbox = this.mailbox();
    const messages: AppendMessage[] = [];
    while (r.trySp()) {
      r.item();
      let flags: Flag[] = [];
      let internalDate: ImapDateTime | null = null;
      if (r.peek() === 0x28) {
        flags = this.flagList();
        r.sp();
      }
      if (r.peek() === 0x22) {
        internalDate = parseDateTime(r.quoted());
        r.sp();
      }
      let form: AppendMessage['form'];
      let data: Buffer;
      if (r.isLiteral()) {
        const l = r.literal(true);
        form = l.binary ? 'binary' : 'literal';
        data = l.data;
      } else {
        const w = r.keyword();
        if (w !== 'UTF8') throw syntax('cần literal của thư', 'expected the message literal');
        if (!this.utf8) throw syntax('cần ENABLE UTF8=ACCEPT trước', 'UTF8 APPEND needs ENABLE UTF8=ACCEPT first');
        r.sp();
        r.open();
        const l = r.literal(true);
        if (!l.binary) throw syntax('UTF8 cần literal8 ~{n}', 'UTF8 needs a literal8 ~{n}');
        r.close();
        form = 'utf8';
        data = l.data;
      }
      messages.push({ flags, internalDate, data, form });
    }
    if (messages.length === 0) throw syntax('thiếu thư', 'missing message');
    return { type: 'APPEND', mailbox, messages };
  }

  private setquota(): ImapCommand {
    const r = this.r;
    r.sp();
    const root = r.astring();
    r.sp();
    r.open();
    const limits: Array<{ resource: string; limit: number }> = [];
    if (r.peek() !== 0x29) {
      for (;;) {
        r.item();
        const resource = r.keyword();
        r.sp();
        limits.push({ resource, limit: r.number(Number.MAX_SAFE_INTEGER) });
        if (!r.trySp()) break;
      }
    }
    r.close();
    return { type: 'SETQUOTA', root, limits };
  }

  // ── FETCH ──

  private fetch(uid: boolean): ImapCommand {
    const r = this.r;
    r.sp();
    const set = r.sequenceSet();
    r.sp();
    let items: FetchItem[];
    if (r.peek() === 0x28) {
      items = r.list(() => this.fetchAtt());
    } else {
      const save = r.pos;
      const w = r.word('[<');
      if (w === 'ALL') items = [{ kind: 'FLAGS' }, { kind: 'INTERNALDATE' }, { kind: 'RFC822.SIZE' }, { kind: 'ENVELOPE' }];
      else if (w === 'FAST') items = [{ kind: 'FLAGS' }, { kind: 'INTERNALDATE' }, { kind: 'RFC822.SIZE' }];
      else if (w === 'FULL') items = [{ kind: 'FLAGS' }, { kind: 'INTERNALDATE' }, { kind: 'RFC822.SIZE' }, { kind: 'ENVELOPE' }, { kind: 'BODY' }];
      else {
        r.pos = save;
        items = [this.fetchAtt()];
      }
    }
    let changedSince: number | null = null;
    let vanished = false;
    if (r.trySp()) {
      r.list(() => {
        const m = r.keyword();
        if (m === 'CHANGEDSINCE') {
          r.sp();
          changedSince = r.modseq(true);
        } else if (m === 'VANISHED') {
          vanished = true;
        } else throw syntax(`tham số FETCH lạ ${m}`, `unknown FETCH modifier ${m}`);
        return m;
      });
      if (vanished && (!uid || changedSince === null)) {
        throw syntax('VANISHED cần UID FETCH và CHANGEDSINCE', 'VANISHED needs UID FETCH and CHANGEDSINCE');
      }
    }
    return { type: 'FETCH', uid, set, items, changedSince, vanished };
  }

  private fetchAtt(): FetchItem {
    const r = this.r;
    const name = r.word('[<');
    switch (name) {
      case 'UID':
      case 'FLAGS':
      case 'INTERNALDATE':
      case 'RFC822.SIZE':
      case 'ENVELOPE':
      case 'BODYSTRUCTURE':
      case 'MODSEQ':
      case 'RFC822':
      case 'RFC822.HEADER':
      case 'RFC822.TEXT':
        return { kind: name };
      case 'BODY':
        if (r.peek() !== 0x5b) return { kind: 'BODY' };
        return this.bodySection(false);
      case 'BODY.PEEK':
        return this.bodySection(true);
      case 'BINARY':
      case 'BINARY.PEEK': {
        const part = this.binarySection();
        return { kind: 'BINARY[]', peek: name === 'BINARY.PEEK', part, partial: this.partial() };
      }
      case 'BINARY.SIZE':
        return { kind: 'BINARY.SIZE', part: this.binarySection() };
      default:
        throw syntax(`mục FETCH lạ ${name}`, `unknown FETCH item ${name}`);
    }
  }

  private bodySection(peek: boolean): FetchItem {
    const section = this.section();
    return { kind: 'BODY[]', peek, section, partial: this.partial() };
  }

  /** "[" [section-part ["." section-text] / section-msgtext] "]". */
  private section(): Section {
    const r = this.r;
    r.expect('[');
    const part: number[] = [];
    let text: SectionText = { kind: 'all' };
    if (r.peek() !== 0x5d) {
      let needText = true;
      if (isDigit(r.peek())) {
        needText = false;
        for (;;) {
          r.item();
          part.push(r.nzNumber());
          if (!r.tryChar('.')) break;
          if (!isDigit(r.peek())) {
            needText = true;
            break;
          }
        }
      }
      if (needText) {
        const w = r.word('[]');
        if (w === 'HEADER') text = { kind: 'header' };
        else if (w === 'TEXT') text = { kind: 'text' };
        else if (w === 'MIME' && part.length > 0) text = { kind: 'mime' };
        else if (w === 'HEADER.FIELDS' || w === 'HEADER.FIELDS.NOT') {
          r.sp();
          const fields = r.list(() => r.astring());
          text = { kind: 'header.fields', not: w === 'HEADER.FIELDS.NOT', fields };
        } else throw syntax(`phần thư lạ ${w}`, `unknown section ${w}`);
      }
    }
    r.expect(']');
    return { part, text };
  }

  private binarySection(): number[] {
    const r = this.r;
    r.expect('[');
    const part: number[] = [];
    if (r.peek() !== 0x5d) {
      for (;;) {
        r.item();
        part.push(r.nzNumber());
        if (!r.tryChar('.')) break;
      }
    }
    r.expect(']');
    return part;
  }

  /** "<" number "." nz-number ">". */
  private partial(): PartialRange | null {
    const r = this.r;
    if (!r.tryChar('<')) return null;
    const offset = r.number();
    r.expect('.');
    const length = r.nzNumber();
    r.expect('>');
    return { offset, length };
  }

  // ── STORE ──

  private store(uid: boolean): ImapCommand {
    const r = this.r;
    r.sp();
    const set = r.sequenceSet();
    r.sp();
    let unchangedSince: number | null = null;
    if (r.peek() === 0x28) {
      r.list(() => {
        const m = r.keyword();
        if (m !== 'UNCHANGEDSINCE') throw syntax(`tham số STORE lạ ${m}`, `unknown STORE modifier ${m}`);
        r.sp();
        unchangedSince = r.modseq(true);
        return m;
      });
      r.sp();
    }
    const op = r.keyword();
    const m = /^([+-]?)FLAGS(\.SILENT)?$/.exec(op);
    if (!m) throw syntax(`thao tác STORE lạ ${op}`, `unknown STORE operation ${op}`);
    const operation = m[1] === '+' ? 'add' : m[1] === '-' ? 'remove' : 'set';
    r.sp();
    let flags: Flag[];
    if (r.peek() === 0x28) {
      flags = this.flagList();
    } else {
      flags = [];
      do {
        r.item();
        flags.push(this.flag(false));
      } while (r.trySp());
    }
    return { type: 'STORE', uid, set, unchangedSince, operation, silent: m[2] !== undefined, flags };
  }

  // ── SEARCH / SORT / THREAD ──

  private returnOptions(): SearchReturnOption[] {
    const r = this.r;
    r.sp();
    return r.list(() => {
      const o = r.keyword();
      if (!SEARCH_RETURN.has(o)) throw syntax(`tùy chọn RETURN lạ ${o}`, `unknown RETURN option ${o}`);
      return o as SearchReturnOption;
    }, true);
  }

  private charset(): string {
    const c = this.r.astring().toUpperCase();
    if (!CHARSETS.has(c)) {
      throw new ParseFailure(bi('[BADCHARSET (UTF-8 US-ASCII)] Bảng mã không được hỗ trợ', 'Unsupported charset'), 'NO');
    }
    return c === 'UTF8' ? 'UTF-8' : c;
  }

  private search(uid: boolean): ImapCommand {
    const r = this.r;
    r.sp();
    let returnOptions: SearchReturnOption[] | null = null;
    let charset: string | null = null;
    if (r.peekWord() === 'RETURN') {
      r.keyword();
      returnOptions = this.returnOptions();
      r.sp();
    }
    if (r.peekWord() === 'CHARSET') {
      // RFC 6855 §3: after ENABLE UTF8=ACCEPT a client must not name a charset (strings are UTF-8).
      if (this.utf8) throw syntax('đã bật UTF8=ACCEPT: SEARCH không nhận CHARSET', 'UTF8=ACCEPT is enabled: SEARCH takes no CHARSET');
      r.keyword();
      r.sp();
      charset = this.charset();
      r.sp();
    }
    return { type: 'SEARCH', uid, returnOptions, charset, criteria: this.searchKeys() };
  }

  private sort(uid: boolean): ImapCommand {
    const r = this.r;
    r.sp();
    let returnOptions: SearchReturnOption[] | null = null;
    if (r.peekWord() === 'RETURN') {
      r.keyword();
      returnOptions = this.returnOptions();
      r.sp();
    }
    const sort = r.list((): SortCriterion => {
      let k = r.keyword();
      let reverse = false;
      if (k === 'REVERSE') {
        reverse = true;
        r.sp();
        k = r.keyword();
      }
      if (!SORT_KEYS.has(k)) throw syntax(`khóa sắp xếp lạ ${k}`, `unknown sort key ${k}`);
      return { key: k as SortKey, reverse };
    });
    r.sp();
    const charset = this.charset();
    r.sp();
    return { type: 'SORT', uid, returnOptions, sort, charset, criteria: this.searchKeys() };
  }

  private thread(uid: boolean): ImapCommand {
    const r = this.r;
    r.sp();
    const algorithm = r.keyword();
    if (algorithm !== 'REFERENCES' && algorithm !== 'ORDEREDSUBJECT') {
      throw syntax(`thuật toán THREAD lạ ${algorithm}`, `unknown THREAD algorithm ${algorithm}`);
    }
    r.sp();
    const charset = this.charset();
    r.sp();
    return { type: 'THREAD', uid, algorithm, charset, criteria: this.searchKeys() };
  }

  /** 1*(SP search-key) at top level (the first SP already consumed): an implicit AND. */
  private searchKeys(): SearchKey {
    const keys: SearchKey[] = [];
    do {
      keys.push(this.searchKey());
    } while (this.r.trySp());
    return keys.length === 1 ? (keys[0] as SearchKey) : { op: 'and', keys };
  }

  private searchKey(): SearchKey {
    const r = this.r;
    r.item();
    if (r.peek() === 0x28) {
      const keys = r.list(() => this.searchKey());
      return keys.length === 1 ? (keys[0] as SearchKey) : { op: 'and', keys };
    }
    if (r.peekSequenceSet()) return { op: 'seq', set: r.sequenceSet() };
    const k = r.keyword();
    const flagKey = FLAG_KEYS[k];
    if (flagKey) return { op: 'flag', flag: flagKey[0], set: flagKey[1] };
    const headerKey = HEADER_KEYS[k];
    if (headerKey) {
      r.sp();
      return { op: 'header', field: headerKey, value: r.astring() };
    }
    const dateKey = DATE_KEYS[k];
    if (dateKey) {
      r.sp();
      return { op: 'date', field: dateKey[0], cmp: dateKey[1], date: this.searchDate() };
    }
    switch (k) {
      case 'ALL':
        return { op: 'all' };
      case 'RECENT':
        return { op: 'recent' };
      case 'NEW':
        return { op: 'and', keys: [{ op: 'recent' }, { op: 'flag', flag: '\\Seen', set: false }] };
      case 'OLD':
        return { op: 'not', key: { op: 'recent' } };
      case 'KEYWORD':
      case 'UNKEYWORD':
        r.sp();
        return { op: 'flag', flag: this.flag(true), set: k === 'KEYWORD' };
      case 'BODY':
      case 'TEXT':
        r.sp();
        return { op: 'text', where: k === 'BODY' ? 'body' : 'text', value: r.astring() };
      case 'HEADER': {
        r.sp();
        const field = r.astring().toLowerCase();
        r.sp();
        return { op: 'header', field, value: r.astring() };
      }
      case 'LARGER':
      case 'SMALLER':
        r.sp();
        return { op: 'size', cmp: k === 'LARGER' ? 'larger' : 'smaller', bytes: r.number(Number.MAX_SAFE_INTEGER) };
      case 'UID':
        r.sp();
        return { op: 'uid', set: r.sequenceSet() };
      case 'OLDER':
      case 'YOUNGER':
        r.sp();
        return { op: 'within', cmp: k === 'OLDER' ? 'older' : 'younger', seconds: r.nzNumber() };
      case 'NOT': {
        r.sp();
        r.enter();
        const key = this.searchKey();
        r.leave();
        return { op: 'not', key };
      }
      case 'OR': {
        r.sp();
        r.enter();
        const left = this.searchKey();
        r.sp();
        const right = this.searchKey();
        r.leave();
        return { op: 'or', left, right };
      }
      case 'MODSEQ': {
        r.sp();
        let entry: { name: string; type: 'priv' | 'shared' | 'all' } | null = null;
        if (r.peek() === 0x22 || r.isLiteral()) {
          const name = r.string();
          r.sp();
          const t = r.keyword().toLowerCase();
          if (t !== 'priv' && t !== 'shared' && t !== 'all') throw syntax('loại mục MODSEQ lạ', 'unknown MODSEQ entry type');
          entry = { name, type: t };
          r.sp();
        }
        return { op: 'modseq', modseq: r.modseq(true), entry };
      }
      default:
        throw syntax(`khóa tìm kiếm lạ ${k}`, `unknown search key ${k}`);
    }
  }

  /** date = date-text / DQUOTE date-text DQUOTE; date-text = date-day "-" date-month "-" date-year. */
  private searchDate(): ImapDate {
    const r = this.r;
    const text = r.peek() === 0x22 ? r.quoted() : r.atom();
    const m = /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(text);
    const d = m ? makeDate(Number(m[3]), MONTHS.indexOf((m[2] as string).toUpperCase()) + 1, Number(m[1])) : null;
    if (!d) throw syntax('ngày không hợp lệ', 'invalid date');
    return d;
  }
}

function isDigit(b: number): boolean {
  return b >= 0x30 && b <= 0x39;
}

function makeDate(year: number, month: number, day: number): ImapDate | null {
  if (month < 1 || day < 1 || year < 1) return null;
  const dim = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day > dim) return null;
  return { year, month, day };
}

/** date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE. */
export function parseDateTime(text: string): ImapDateTime {
  const m = /^ ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(text);
  if (!m) throw syntax('ngày giờ không hợp lệ', 'invalid date-time');
  const [, dd, mon, yyyy, hh, mi, ss, sign, zh, zm] = m as unknown as string[];
  const date = makeDate(Number(yyyy), MONTHS.indexOf((mon as string).toUpperCase()) + 1, Number(dd));
  const h = Number(hh);
  const min = Number(mi);
  const s = Number(ss);
  const zoneH = Number(zh);
  const zoneM = Number(zm);
  if (!date || h > 23 || min > 59 || s > 60 || zoneH > 23 || zoneM > 59) throw syntax('ngày giờ không hợp lệ', 'invalid date-time');
  const offsetMinutes = (sign === '-' ? -1 : 1) * (zoneH * 60 + zoneM);
  const utc = Date.UTC(date.year, date.month - 1, date.day, h, min, Math.min(s, 59)) - offsetMinutes * 60_000;
  return { date: new Date(utc), offsetMinutes };
}

/** Strict base64 (SASL responses): standard alphabet, padding required to a multiple of 4. */
export function decodeBase64Strict(text: string): Buffer {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
    throw new ParseFailure(bi('Dữ liệu base64 không hợp lệ', 'Invalid base64 data'));
  }
  return Buffer.from(text, 'base64');
}
