/**
 * The IMAP protocol contract: every command a client may send, fully parsed into typed
 * arguments (RFC 3501, RFC 9051 and the extensions of issue 4), and the incremental parser API.
 *
 * Handlers never see raw tokens. Conventions used throughout:
 *  - Command names, status items, fetch attributes, search keys, capability names are
 *    upper-cased by the parser; flags are canonicalised (`\seen` → `\Seen`), keywords kept as sent.
 *  - Mailbox names arrive as {@link MailboxName}: the raw wire string and the decoded name
 *    (modified UTF-7 decoded unless UTF8=ACCEPT is enabled, normalised to NFC; any case of "INBOX" → "INBOX").
 *  - MODSEQ values are plain numbers (the store's type); the parser refuses values above
 *    Number.MAX_SAFE_INTEGER, so no precision is ever lost.
 *  - Strings (astring, quoted, literal) are decoded as UTF-8; only APPEND message bodies
 *    stay Buffers.
 */

// ───────────────────────────── shared argument types ─────────────────────────────

/** One end of a sequence range: a number ≥ 1, or '*' (the largest number in use). */
export type SeqNumber = number | '*';

/** `a:b` (also a single number `a`, then from === to). Order as sent: `5:2` means 2..5. */
export interface SeqRange {
  readonly from: SeqNumber;
  readonly to: SeqNumber;
}

/**
 * A sequence set or UID set. `'$'` (RFC 5182 SEARCHRES, part of IMAP4rev2) refers to the
 * result saved by the last `SEARCH RETURN (SAVE)`.
 */
export type SequenceSet =
  | { readonly kind: 'ranges'; readonly ranges: readonly SeqRange[] }
  | { readonly kind: 'saved' };

/** A mailbox name as sent on the wire and as decoded (see module comment). */
export interface MailboxName {
  /** Exactly as the client sent it (after string unquoting). */
  readonly raw: string;
  /** Decoded: modified UTF-7 → Unicode (unless UTF8=ACCEPT is on), then NFC as the store keeps names; "inbox" in any case → "INBOX". */
  readonly name: string;
}

/** A LIST/LSUB pattern: may contain the wildcards `*` and `%`. Decoded like a mailbox name. */
export interface ListPattern {
  readonly raw: string;
  readonly pattern: string;
}

/** System flags are canonicalised; anything else is a keyword exactly as sent (atom). */
export type SystemFlag = '\\Seen' | '\\Answered' | '\\Flagged' | '\\Deleted' | '\\Draft' | '\\Recent';
/** A flag: system flag, keyword (atom), or another `\Extension` flag as sent. */
export type Flag = string;

/** RFC 6154 special-use attributes (CREATE-SPECIAL-USE); the store knows the same set. */
export type SpecialUseAttr = '\\Sent' | '\\Drafts' | '\\Trash' | '\\Junk' | '\\Archive' | '\\All' | '\\Flagged';

/** An IMAP date-time (APPEND): the instant, and the zone offset the client gave. */
export interface ImapDateTime {
  readonly date: Date;
  /** Zone offset in minutes east of UTC (`+0700` → 420). */
  readonly offsetMinutes: number;
}

/** A calendar date from SEARCH (`1-Feb-1994`), without time or zone. */
export interface ImapDate {
  readonly year: number;
  /** 1..12 */
  readonly month: number;
  /** 1..31 */
  readonly day: number;
}

// ───────────────────────────── FETCH ─────────────────────────────

/**
 * The text part of a BODY[...] section (RFC 3501 §6.4.5 / RFC 9051 §6.4.5).
 * `all` = no text specifier (`BODY[]`, `BODY[1.2]`).
 */
export type SectionText =
  | { readonly kind: 'all' }
  | { readonly kind: 'header' }
  | { readonly kind: 'text' }
  | { readonly kind: 'mime' }
  /** Field names exactly as requested (match case-insensitively; echo them as sent, see encode.sectionText). */
  | { readonly kind: 'header.fields'; readonly not: boolean; readonly fields: readonly string[] };

export interface Section {
  /** Part path, e.g. [1, 2] for `1.2`; [] for the whole message. */
  readonly part: readonly number[];
  readonly text: SectionText;
}

/** `<offset.length>` on a BODY[]/BINARY[] fetch. */
export interface PartialRange {
  readonly offset: number;
  readonly length: number;
}

export type FetchItem =
  | { readonly kind: 'UID' }
  | { readonly kind: 'FLAGS' }
  | { readonly kind: 'INTERNALDATE' }
  | { readonly kind: 'RFC822.SIZE' }
  | { readonly kind: 'ENVELOPE' }
  /** BODYSTRUCTURE, with extension data. */
  | { readonly kind: 'BODYSTRUCTURE' }
  /** BODY without a section: the non-extensible body structure. */
  | { readonly kind: 'BODY' }
  /** RFC 7162 CONDSTORE. */
  | { readonly kind: 'MODSEQ' }
  /** IMAP4rev1 RFC822 forms (= BODY[], BODY.PEEK[HEADER], BODY[TEXT]; RFC822 and RFC822.TEXT set \Seen). */
  | { readonly kind: 'RFC822' }
  | { readonly kind: 'RFC822.HEADER' }
  | { readonly kind: 'RFC822.TEXT' }
  /** BODY[section]<partial> and BODY.PEEK[...] (peek: do not set \Seen). */
  | { readonly kind: 'BODY[]'; readonly peek: boolean; readonly section: Section; readonly partial: PartialRange | null }
  /** RFC 3516 BINARY[part]<partial> and BINARY.PEEK[...]: decoded content transfer encoding. */
  | { readonly kind: 'BINARY[]'; readonly peek: boolean; readonly part: readonly number[]; readonly partial: PartialRange | null }
  /** RFC 3516 BINARY.SIZE[part]. */
  | { readonly kind: 'BINARY.SIZE'; readonly part: readonly number[] };

export type FetchItemKind = FetchItem['kind'];

// ───────────────────────────── SEARCH ─────────────────────────────

/**
 * A search key tree. The top-level criteria list and any parenthesised list are `and`.
 * Sugar is removed by the parser:
 *  ANSWERED/DELETED/DRAFT/FLAGGED/SEEN/KEYWORD x → flag (set: true);
 *  UNANSWERED/.../UNKEYWORD x → flag (set: false); NEW → and(recent, flag \Seen unset);
 *  OLD → not(recent); FROM/TO/CC/BCC/SUBJECT/HEADER → header (field lower-cased);
 *  a bare sequence set → seq.
 */
export type SearchKey =
  | { readonly op: 'all' }
  | { readonly op: 'and'; readonly keys: readonly SearchKey[] }
  | { readonly op: 'or'; readonly left: SearchKey; readonly right: SearchKey }
  | { readonly op: 'not'; readonly key: SearchKey }
  | { readonly op: 'flag'; readonly flag: Flag; readonly set: boolean }
  | { readonly op: 'recent' }
  /**
   * Header substring match. For from/to/cc/bcc/subject the full-text index (diacritic
   * folding) applies; `value` '' with HEADER means "has this header".
   */
  | { readonly op: 'header'; readonly field: string; readonly value: string }
  /** BODY (body only) or TEXT (headers and body): full-text index. */
  | { readonly op: 'text'; readonly where: 'body' | 'text'; readonly value: string }
  /** BEFORE/ON/SINCE (internal date) and SENTBEFORE/SENTON/SENTSINCE (Date: header). */
  | { readonly op: 'date'; readonly field: 'internal' | 'sent'; readonly cmp: 'before' | 'on' | 'since'; readonly date: ImapDate }
  /** LARGER n (size > n) / SMALLER n (size < n), RFC822.SIZE. */
  | { readonly op: 'size'; readonly cmp: 'larger' | 'smaller'; readonly bytes: number }
  | { readonly op: 'seq'; readonly set: SequenceSet }
  | { readonly op: 'uid'; readonly set: SequenceSet }
  /** RFC 7162 MODSEQ [entry-name entry-type] n: messages with modseq ≥ n. */
  | {
      readonly op: 'modseq';
      readonly modseq: number;
      readonly entry: { readonly name: string; readonly type: 'priv' | 'shared' | 'all' } | null;
    }
  /** RFC 5032 OLDER n / YOUNGER n (seconds, internal date). */
  | { readonly op: 'within'; readonly cmp: 'older' | 'younger'; readonly seconds: number };

/** ESEARCH (RFC 4731 / RFC 9051) RETURN options, SAVE from RFC 5182. */
export type SearchReturnOption = 'MIN' | 'MAX' | 'ALL' | 'COUNT' | 'SAVE';

/** RFC 5256 sort keys, DISPLAYFROM/DISPLAYTO from RFC 5957. */
export type SortKey = 'ARRIVAL' | 'CC' | 'DATE' | 'FROM' | 'SIZE' | 'SUBJECT' | 'TO' | 'DISPLAYFROM' | 'DISPLAYTO';
export interface SortCriterion {
  readonly key: SortKey;
  readonly reverse: boolean;
}
export type ThreadAlgorithm = 'REFERENCES' | 'ORDEREDSUBJECT';

// ───────────────────────────── STATUS / LIST / SELECT / APPEND ─────────────────────────────

/** STATUS items: RFC 3501/9051, HIGHESTMODSEQ (RFC 7162), SIZE (RFC 8438 STATUS=SIZE), APPENDLIMIT (RFC 7889). */
export type StatusItem =
  | 'MESSAGES'
  | 'RECENT'
  | 'UIDNEXT'
  | 'UIDVALIDITY'
  | 'UNSEEN'
  | 'DELETED'
  | 'SIZE'
  | 'HIGHESTMODSEQ'
  | 'APPENDLIMIT';

/** RFC 5258 LIST-EXTENDED selection options (SPECIAL-USE from RFC 6154). */
export interface ListSelection {
  readonly subscribed: boolean;
  readonly remote: boolean;
  readonly recursiveMatch: boolean;
  readonly specialUse: boolean;
}

/** RFC 5258 return options, STATUS from RFC 5819 LIST-STATUS, SPECIAL-USE from RFC 6154. */
export interface ListReturn {
  readonly subscribed: boolean;
  readonly children: boolean;
  readonly specialUse: boolean;
  /** RETURN (STATUS (...)): the items to send as `* STATUS` per listed mailbox; null when not asked. */
  readonly status: readonly StatusItem[] | null;
}

/** RFC 7162 §3.2.5 SELECT/EXAMINE (QRESYNC (uidvalidity modseq [known-uids [(seqs uids)]])). */
export interface QresyncParams {
  readonly uidValidity: number;
  readonly modseq: number;
  readonly knownUids: SequenceSet | null;
  readonly seqMatch: { readonly seqs: SequenceSet; readonly uids: SequenceSet } | null;
}

/**
 * One message of APPEND (several for MULTIAPPEND, RFC 3502).
 * `form`: 'literal' = `{n}`/`{n+}`; 'binary' = `~{n}` literal8 (RFC 3516);
 * 'utf8' = `UTF8 (~{n})` (RFC 6855, Thunderbird; only parsed when UTF8=ACCEPT is enabled).
 */
export interface AppendMessage {
  readonly flags: readonly Flag[];
  readonly internalDate: ImapDateTime | null;
  readonly data: Buffer;
  readonly form: 'literal' | 'binary' | 'utf8';
}

// ───────────────────────────── the command union ─────────────────────────────

/** A STORE operation: FLAGS (replace), +FLAGS (add), -FLAGS (remove), each optionally .SILENT. */
export type StoreOperation = 'set' | 'add' | 'remove';

export type ImapCommand =
  // any state
  | { readonly type: 'CAPABILITY' }
  | { readonly type: 'NOOP' }
  | { readonly type: 'LOGOUT' }
  /** RFC 2971: null for `ID NIL`; values may be null (NIL). Keys as sent. */
  | { readonly type: 'ID'; readonly params: ReadonlyArray<readonly [string, string | null]> | null }
  // not authenticated
  | { readonly type: 'STARTTLS' }
  | { readonly type: 'LOGIN'; readonly username: string; readonly password: string }
  /**
   * AUTHENTICATE mechanism [initial-response] (RFC 4959 SASL-IR). `initialResponse` is the
   * decoded base64 (empty Buffer for `=`), null when absent. Mechanism upper-cased.
   */
  | { readonly type: 'AUTHENTICATE'; readonly mechanism: string; readonly initialResponse: Buffer | null }
  // authenticated
  /** RFC 5161; capability names upper-cased (e.g. 'CONDSTORE', 'QRESYNC', 'UTF8=ACCEPT', 'IMAP4REV2'). */
  | { readonly type: 'ENABLE'; readonly capabilities: readonly string[] }
  /** RFC 4978 (mechanism upper-cased; only DEFLATE exists). */
  | { readonly type: 'COMPRESS'; readonly mechanism: string }
  | {
      readonly type: 'SELECT' | 'EXAMINE';
      readonly mailbox: MailboxName;
      /** (CONDSTORE) parameter given — it also enables CONDSTORE (RFC 7162 §3.1). */
      readonly condstore: boolean;
      readonly qresync: QresyncParams | null;
    }
  /** CREATE name [(USE (\Sent ...))] (RFC 6154 CREATE-SPECIAL-USE). A trailing "/" is removed from name.name. */
  | { readonly type: 'CREATE'; readonly mailbox: MailboxName; readonly specialUse: readonly SpecialUseAttr[] }
  | { readonly type: 'DELETE'; readonly mailbox: MailboxName }
  | { readonly type: 'RENAME'; readonly from: MailboxName; readonly to: MailboxName }
  | { readonly type: 'SUBSCRIBE'; readonly mailbox: MailboxName }
  | { readonly type: 'UNSUBSCRIBE'; readonly mailbox: MailboxName }
  /**
   * LIST [(selection)] reference (pattern | (patterns)) [RETURN (options)].
   * `extended` is true when any LIST-EXTENDED syntax was used (then the response uses
   * extended data such as CHILDINFO). `LIST "" ""` (separator query) has patterns [{ raw: '' }].
   */
  | {
      readonly type: 'LIST';
      readonly reference: MailboxName;
      readonly patterns: readonly ListPattern[];
      readonly selection: ListSelection;
      readonly returnOptions: ListReturn;
      readonly extended: boolean;
    }
  | { readonly type: 'LSUB'; readonly reference: MailboxName; readonly pattern: ListPattern }
  | { readonly type: 'NAMESPACE' }
  | { readonly type: 'STATUS'; readonly mailbox: MailboxName; readonly items: readonly StatusItem[] }
  /** One message, or several (MULTIAPPEND, RFC 3502: all or none). */
  | { readonly type: 'APPEND'; readonly mailbox: MailboxName; readonly messages: readonly AppendMessage[] }
  /** RFC 2177. After this command the parser pauses; call expectLine() to receive DONE. */
  | { readonly type: 'IDLE' }
  /** RFC 9208 QUOTA. */
  | { readonly type: 'GETQUOTA'; readonly root: string }
  | { readonly type: 'GETQUOTAROOT'; readonly mailbox: MailboxName }
  /** RFC 9208 SETQUOTA (resource names upper-cased); servers may refuse it. */
  | {
      readonly type: 'SETQUOTA';
      readonly root: string;
      readonly limits: ReadonlyArray<{ readonly resource: string; readonly limit: number }>;
    }
  // selected
  | { readonly type: 'CHECK' }
  | { readonly type: 'CLOSE' }
  /** RFC 3691. */
  | { readonly type: 'UNSELECT' }
  /** EXPUNGE, or UID EXPUNGE set (RFC 4315 UIDPLUS): uidSet non-null exactly when uid. */
  | { readonly type: 'EXPUNGE'; readonly uid: boolean; readonly uidSet: SequenceSet | null }
  /**
   * [UID] FETCH set items [(CHANGEDSINCE n [VANISHED])].
   * Macros are expanded: ALL = FLAGS INTERNALDATE RFC822.SIZE ENVELOPE; FAST = FLAGS
   * INTERNALDATE RFC822.SIZE; FULL = ALL + BODY. For UID FETCH the parser does NOT add UID to
   * `items` (the renderer must always include UID for UID FETCH, RFC 9051 §6.4.9).
   */
  | {
      readonly type: 'FETCH';
      readonly uid: boolean;
      readonly set: SequenceSet;
      readonly items: readonly FetchItem[];
      readonly changedSince: number | null;
      /** RFC 7162 QRESYNC: VANISHED modifier (only valid with UID FETCH and CHANGEDSINCE). */
      readonly vanished: boolean;
    }
  /** [UID] STORE set [(UNCHANGEDSINCE n)] (+|-)FLAGS[.SILENT] (flags). */
  | {
      readonly type: 'STORE';
      readonly uid: boolean;
      readonly set: SequenceSet;
      readonly unchangedSince: number | null;
      readonly operation: StoreOperation;
      readonly silent: boolean;
      readonly flags: readonly Flag[];
    }
  | { readonly type: 'COPY' | 'MOVE'; readonly uid: boolean; readonly set: SequenceSet; readonly mailbox: MailboxName }
  /**
   * [UID] SEARCH [RETURN (opts)] [CHARSET c] criteria.
   * `returnOptions` null = no RETURN given (IMAP4rev1 `* SEARCH` reply unless IMAP4rev2 is
   * enabled); [] = `RETURN ()` (same as ALL). `charset` upper-cased, null if absent; the parser
   * accepts only US-ASCII and UTF-8 (others → NO [BADCHARSET]).
   */
  | {
      readonly type: 'SEARCH';
      readonly uid: boolean;
      readonly returnOptions: readonly SearchReturnOption[] | null;
      readonly charset: string | null;
      readonly criteria: SearchKey;
    }
  /** RFC 5256 [UID] SORT [RETURN (opts)] (criteria) charset search; RETURN is ESORT (RFC 5267). */
  | {
      readonly type: 'SORT';
      readonly uid: boolean;
      readonly returnOptions: readonly SearchReturnOption[] | null;
      readonly sort: readonly SortCriterion[];
      readonly charset: string;
      readonly criteria: SearchKey;
    }
  /** RFC 5256 [UID] THREAD algorithm charset search. */
  | {
      readonly type: 'THREAD';
      readonly uid: boolean;
      readonly algorithm: ThreadAlgorithm;
      readonly charset: string;
      readonly criteria: SearchKey;
    };

export type ImapCommandType = ImapCommand['type'];
/** The variant of ImapCommand for one command type, e.g. CommandOf<'FETCH'>. */
export type CommandOf<T extends ImapCommandType> = Extract<ImapCommand, { readonly type: T }>;

// ───────────────────────────── the parser API ─────────────────────────────

export interface ParserLimits {
  /** Longest line (and total non-literal bytes of one command); 64 KiB (config imap.maxLineBytes). */
  readonly maxLineBytes: number;
  /**
   * Largest literal (= the message size limit). Over it, before any "+": APPEND → `NO [TOOBIG]`
   * (synchronising) or `BAD [TOOBIG]` (non-synchronising, RFC 7888 §5, its bytes swallowed);
   * other commands → BAD.
   */
  readonly maxLiteralBytes: number;
  /** Deepest parenthesis nesting (config imap.maxNestingDepth). */
  readonly maxNestingDepth: number;
  /** Most items in one command: list elements, search keys, sequence ranges, literals (imap.maxItemsPerCommand). */
  readonly maxItems: number;
  /** True once ENABLE UTF8=ACCEPT succeeded: mailbox names are UTF-8, UTF8 APPEND form allowed. */
  readonly utf8Enabled?: () => boolean;
  /**
   * True once signed in. Before that (SECURITY-NOTES: "never send + before authentication
   * except for AUTHENTICATE") a synchronising literal is refused with BAD unless
   * `syncLiteralsBeforeAuth` is set, and a non-synchronising one (LOGIN {n+} with a UTF-8
   * password) is limited to `maxPreAuthLiteralBytes` (a larger one closes the connection
   * instead of being swallowed). Absent: always treated as signed in.
   */
  readonly authenticated?: () => boolean;
  /** Default 8 KiB. */
  readonly maxPreAuthLiteralBytes?: number;
  /** Default false: see `authenticated`. When true, pre-auth synchronising literals up to maxPreAuthLiteralBytes get "+". */
  readonly syncLiteralsBeforeAuth?: boolean;
  /** Sum of the literals of one command (MULTIAPPEND); default 2 × maxLiteralBytes. */
  readonly maxCommandLiteralBytes?: number;
  /**
   * Largest non-synchronising literal `{n+}`; default maxLiteralBytes (LITERAL+). Set 4096 when
   * advertising LITERAL- (RFC 7888 §5; a server must not advertise both).
   */
  readonly maxNonSyncLiteralBytes?: number;
  /**
   * A refused non-synchronising literal up to this size is swallowed (counted, not stored) and
   * the command answered BAD; a larger one is a fatal error (BYE). Default 2 × maxCommandLiteralBytes.
   */
  readonly maxSwallowBytes?: number;
  /**
   * Optional last word on a literal that passed the limits, asked before "+" is sent (or, for a
   * non-synchronising literal, before its bytes are stored): e.g. refuse an APPEND that would
   * exceed the quota with `{ response: 'NO', text: '[OVERQUOTA] …' }`. Return null to accept.
   * `command` is the upper-cased command name (for UID commands the word after UID).
   */
  readonly checkLiteral?: (info: {
    readonly tag: string | null;
    readonly command: string | null;
    readonly size: number;
    readonly sync: boolean;
  }) => { readonly response: 'BAD' | 'NO'; readonly text: string } | null;
}

/**
 * What the parser produces. The session writes responses for each, in order:
 *  - command  → run it (the parser is now paused, see CommandParser).
 *  - continue → write `+ <text>\r\n` now: a synchronising literal was accepted and the parser
 *               waits for its bytes.
 *  - error    → write `<tag or *> <response> <text>\r\n`; if `fatal`, then `* BYE` and close.
 *               `text` is bilingual and may start with a response code, e.g. `[TOOBIG] ...`.
 *  - line     → a raw line in line mode (after expectLine()): an AUTHENTICATE response or
 *               IDLE's DONE, without CRLF. The parser is paused after it.
 */
export type ParseEvent =
  | { readonly kind: 'command'; readonly tag: string; readonly command: ImapCommand }
  | { readonly kind: 'continue'; readonly text: string }
  | {
      readonly kind: 'error';
      readonly tag: string | null;
      readonly response: 'BAD' | 'NO';
      readonly text: string;
      readonly fatal: boolean;
    }
  | { readonly kind: 'line'; readonly text: string };

/**
 * Incremental parser for one connection.
 *
 * Flow control: after emitting a `command` or a `line` event, the parser PAUSES — it keeps
 * later bytes buffered unparsed — because the next command may depend on the outcome of this
 * one (LOGIN/ENABLE change literal limits and name decoding, STARTTLS/COMPRESS change the
 * byte stream, IDLE/AUTHENTICATE switch to line mode). When the session has finished with the
 * command it calls `resume()` (next thing is a command) or `expectLine()` (next line is raw:
 * after sending `+ idling` for IDLE or a `+ <challenge>` for AUTHENTICATE), and handles the
 * events those return, exactly as for push(). push() while paused only buffers.
 * So a session loop is: `handle(parser.push(chunk))`, and after each command completes
 * `handle(parser.resume())`.
 *
 * After STARTTLS, call `takeBuffered()` and DISCARD the result (bytes pipelined before the TLS
 * handshake must never be executed). After COMPRESS, `takeBuffered()` returns compressed bytes
 * that must go through the inflater and back into push().
 */
export interface CommandParser {
  // Created by createCommandParser(limits: ParserLimits) in ./parser.js.
  push(chunk: Buffer): ParseEvent[];
  resume(): ParseEvent[];
  expectLine(): ParseEvent[];
  takeBuffered(): Buffer;
  /**
   * Bytes held (unparsed input + the command being assembled). Bounded: while assembling, by
   * maxLineBytes + maxCommandLiteralBytes; while paused, input beyond that is a fatal error
   * (the session should stop reading the socket while `paused`).
   */
  readonly bufferedBytes: number;
  /** True between a command/line event and resume()/expectLine(): the session may stop reading the socket. */
  readonly paused: boolean;
  /** True after a fatal error: the session must close. */
  readonly closed: boolean;
}
