/**
 * The three SMTP listeners, each its own smtp-server instance with its own hooks:
 *   smtp         MX inbound: no AUTH, mail only for local recipients, SPF/DKIM/DMARC checked
 *   submission   port 587 style: STARTTLS, AUTH (PLAIN, LOGIN) only after TLS unless
 *                security.allowPlaintextAuth allows it, then local delivery or the queue
 *   submissions  implicit TLS, otherwise as submission
 * Replies come from reply.ts (bilingual, RFC 3463 codes); storage through delivery/.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { SMTPServer, type SMTPServerAddress, type SMTPServerDataStream, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import type { AuthService } from '../auth/index.js';
import { credentialOf, currentSignIn, type SignInCredential } from '../auth/sign-in-holds.js';
import type { Config } from '../config/schema.js';
import type { Delivery } from '../delivery/index.js';
import { findHeaderFields, prependHeaders, replaceSubject } from '../delivery/index.js';
import type { Clock } from '../lib/clock.js';
import { bi } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { matchesOf } from '../lib/regex.js';
import { listenError, normalizeIp } from '../net/index.js';
import type { Metrics } from '../lib/metrics.js';
import type { BoundListener, Service } from '../lib/service.js';
import { parseAddressListStrict, type AddressAnomalies, type AddressList } from '../mail/addresses.js';
import { decodeWords, encodeHeaderValue, getHeader, parseHeaderBlock } from '../mail/headers.js';
import { parseMessage } from '../mail/parse.js';
import type { EnvelopeAddress, ParsedMessage } from '../mail/types.js';
import type { Pipeline, PipelineResult, PolicyContext, PolicyReply } from '../policy/types.js';
import type { Account, MessageDsn, RecipientDsn, SendDirection, SendOutcome, Store } from '../store/port.js';
import { classifyAddress } from './address.js';
import { checkAuthentication, isOwnAuthResults, type AuthVerdict, type DnsResolver } from './authresults.js';
import { installDataScanner, SCANNED_VERSION } from './data-scan.js';
import { headerLimits, MemoryBudget, prepareSpoolDir, readData, scanIncomingHeaders, type DataResult } from './data.js';
import { createDsnSender, type DsnRecipient } from './dsn.js';
import { mailDsn, rcptDsn, wantsNotice, type RawEsmtpParams } from './dsn-params.js';
import { receivedHeader, rfc5322Date, withProtocol } from './received.js';
import { hookError, replies, replyForError, reply, type SmtpReply } from './reply.js';
import { installReplyWriter } from './wire.js';

export type SmtpMode = 'smtp' | 'submission' | 'submissions';

export interface SmtpDeps {
  config: Readonly<Config>;
  log: Logger;
  clock: Clock;
  store: Store;
  metrics: Metrics;
  auth: Pick<AuthService, 'signIn' | 'plaintextAllowed'>;
  delivery: Delivery;
  /** Certificate for STARTTLS and implicit TLS (net/loadTlsOptions). */
  tls: { key: string | Buffer; cert: string | Buffer; minVersion?: 'TLSv1.2' | 'TLSv1.3' };
  /** The policy pipeline; absent = policy disabled (no checks). */
  pipeline?: Pipeline;
  /** DNS for SPF/DKIM/DMARC (tests pass a fake); default: the system resolver. */
  dnsResolver?: DnsResolver;
}

/** The parts of smtp-server's connection object the time limits use (smtp-connection.js). */
interface Link {
  session: SMTPServerSession;
  _closing: boolean;
  _closed: boolean;
  _handlerPending: boolean;
  _dataStream: unknown;
  _parser: { _dataMode: boolean; _remainder: string } | false;
  _onCommand(command: Buffer, callback: () => void): void;
  send(code: number, data: string): void;
}

/** Per-connection state next to smtp-server's session. */
interface Conn {
  ip: string;
  mode: SmtpMode;
  sessionId: string;
  /** Transactions begun on this connection: each gets its own id (`<session id>-<n>`). */
  txCount: number;
  /** Time limits (performance.now()): when the session began, commands read, a partial command line seen. */
  startedAt: number;
  commands: number;
  partialSince: number | null;
  partialCommands: number;
  link: Link | null;
  bad: number;
  account: Account | null;
  /** What the sign-in rested on: each transaction checks it still holds (currentSignIn). */
  credential: SignInCredential | null;
  /** Addresses a signed-in user may send as (own, aliases, delegated unit mailboxes and their aliases). */
  senders: Set<string>;
  tx: Tx | null;
  counted: boolean;
}

interface Tx {
  /** This transaction's id: in the 250 reply and the Received header. */
  id: string;
  /** MAIL FROM carried SMTPUTF8 (RFC 6531). */
  utf8: boolean;
  sender: string;
  declaredSize: number;
  /** Accepted recipients, clean lower-case addresses, in RCPT order. */
  recipients: string[];
  resolved: Map<string, Account>;
  findings: string[];
  headers: string[];
  subjectTag: string | null;
  junk: boolean;
  /** MAIL FROM RET= and ENVID= (RFC 3461). */
  dsn: MessageDsn;
  /** RCPT TO NOTIFY= and ORCPT= of the recipients that gave them. */
  rcptDsn: Map<string, RecipientDsn>;
}

/** The parameters as sent, next to smtp-server's decoded `args` (wire.ts). */
const rawParams = (a: SMTPServerAddress): RawEsmtpParams | undefined => (a as SMTPServerAddress & { esmtpRaw?: RawEsmtpParams }).esmtpRaw;

/** MAIL FROM parameters of the extensions we advertise: SIZE (RFC 1870), BODY (RFC 6152), SMTPUTF8 (RFC 6531), RET and ENVID (RFC 3461). */
const MAIL_PARAMS = new Set(['SIZE', 'BODY', 'SMTPUTF8', 'RET', 'ENVID']);
/** RCPT TO parameters: NOTIFY and ORCPT (RFC 3461). */
const RCPT_PARAMS = new Set(['NOTIFY', 'ORCPT']);

/**
 * The first parameter of no extension we advertise, or null (RFC 5321 §4.1.1.11: 555; RFC 1869:
 * a server must refuse a parameter it does not recognise). REQUIRETLS is not advertised either.
 */
function unknownParam(a: SMTPServerAddress, allowed: ReadonlySet<string>, auth: boolean): string | null {
  const raw = rawParams(a);
  const keys = raw ? Object.keys(raw) : a.args && typeof a.args === 'object' ? Object.keys(a.args) : [];
  for (const k of keys) {
    const key = k.toUpperCase();
    if (!allowed.has(key) && !(auth && key === 'AUTH')) return key;
  }
  return null;
}

/** A character outside US-ASCII (RFC 6531: such an address needs SMTPUTF8). */
const NON_ASCII = /[^\x00-\x7f]/;

/** Something shaped like an address inside a display name (from where a run starts: from inside one it was quadratic; review). */
const ADDRESS_IN_NAME = /(?<![^\s<>()[\]"',;:@])[^\s<>()[\]"',;:@]+@[^\s<>()[\]"',;:@]+/g;

/**
 * A display name or comment text as a reader may take it: encoded words decoded, NFKC (a
 * full-width "＠" U+FF20 or small "﹫" U+FE6B becomes "@", full-width letters and dots ASCII),
 * and white space around each "@" removed ("hoa @ example.gov.vn" reads as an address). Split
 * and trimmed rather than replacing `\s*@\s*` (quadratic on a long run of spaces).
 */
function asShown(text: string): string {
  const parts = decodeWords(text).normalize('NFKC').split('@');
  const last = parts.length - 1;
  return parts
    .map((p, i) => {
      const q = i > 0 ? p.trimStart() : p;
      return i < last ? q.trimEnd() : q;
    })
    .join('@');
}

/**
 * Display-name or comment text that misleads: one showing an e-mail address that is not among
 * `own` (a reader sees "binh@…" and parsers disagree on which address the field holds), or
 * holding control characters (NUL included). Read as shown (asShown) first.
 */
function misleadingText(text: string, own: ReadonlySet<string>): boolean {
  if (text === '') return false;
  const plain = decodeWords(text).normalize('NFKC');
  if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(plain)) return true;
  const foreign = (a: string): boolean => !own.has(a.toLowerCase().replace(/\.$/, ''));
  for (const m of matchesOf(ADDRESS_IN_NAME, plain)) if (foreign(m[0])) return true;
  // With the spaces around "@" taken out, only what is written like an address counts: an ASCII
  // local part and a dotted domain, in lower case as addresses are written, or one of the user's
  // own domains however written. "hoa @ example.gov.vn" does; an "at" in a name does not:
  // "Phòng Kế toán @ Sở Tài chính", "Hỗ trợ @ so.gov.vn" (not an ASCII local part), "Lan @ P.KT"
  // (an office's abbreviation in capitals).
  const ownDomains = new Set([...own].map((a) => a.slice(a.lastIndexOf('@') + 1)));
  for (const m of matchesOf(ADDRESS_IN_NAME, asShown(text))) {
    const at = m[0].lastIndexOf('@');
    const localPart = m[0].slice(0, at);
    const domain = m[0].slice(at + 1).replace(/\.$/, '');
    if (!/^[\x21-\x7e]+$/.test(localPart) || !domain.includes('.')) continue;
    if ((domain === domain.toLowerCase() || ownDomains.has(domain.toLowerCase())) && foreign(m[0])) return true;
  }
  return false;
}

function misleadingName(a: EnvelopeAddress, own: ReadonlySet<string>): boolean {
  return a.name !== null && misleadingText(a.name, own);
}

/**
 * RFC 5322 §3.6.2 allows several authors in From (then Sender names the one who sent it); a
 * signed-in user needs a few (own address, an alias, a unit mailbox), never hundreds. More are
 * refused with 550 5.7.1: a local submission policy (the field itself is well formed, so not
 * 5.6.x), permanent, with the limit in the text.
 */
const MAX_AUTHORS = 10;

/** A From or Sender list read differently by other parsers (AddressAnomalies) or not read to its end. */
function ambiguous(l: AddressList & { anomalies: AddressAnomalies }): boolean {
  return l.truncated || l.anomalies.afterAngle || l.anomalies.emptyElement;
}

/** A From or Sender field holding a control character (NUL included) other than folding white space. */
function controlInFromOrSender(raw: Buffer): boolean {
  const end = raw.indexOf('\r\n\r\n');
  const fields = findHeaderFields(raw, end < 0 ? raw.length : end + 2, (n) => n === 'from' || n === 'sender');
  return fields.some(([a, b]) => {
    for (let i = a; i < b; i++) {
      const x = raw[i] ?? 0;
      if ((x < 0x20 && x !== 0x09 && x !== 0x0a && x !== 0x0d) || x === 0x7f) return true;
    }
    return false;
  });
}

function localPartMatches(a: EnvelopeAddress): string | null {
  if (!a.mailbox || !a.host) return null;
  return `${a.mailbox}@${a.host}`.toLowerCase();
}

function policyReply(r: PolicyReply | null, fallback: SmtpReply): SmtpReply {
  return r ? reply(r.code, r.enhanced, r.text) : fallback;
}

/**
 * Bounds the bytes of messages being parsed, checked and stored at once: fifty 2 MB messages
 * arriving together are processed a few at a time (parse structures, text and copies of each
 * cost several times its size), while small messages still share group commits. One message
 * is always let through, whatever its size.
 */
class ByteGate {
  private used = 0;
  private waiting: Array<() => void> = [];
  constructor(private readonly max: number) {}
  async acquire(n: number): Promise<void> {
    while (this.used > 0 && this.used + n > this.max) await new Promise<void>((r) => this.waiting.push(r));
    this.used += n;
  }
  release(n: number): void {
    this.used -= n;
    const w = this.waiting;
    this.waiting = [];
    for (const f of w) f();
  }
}

/** In-flight processing budget (see ByteGate). */
const PROCESSING_BUDGET_BYTES = 16 * 1024 * 1024;
/** Bytes of one arriving message kept in memory; the rest is spooled to storage.dir/tmp (data.ts). */
const SPOOL_MEMORY_BYTES = 256 * 1024;

export function createSmtpService(deps: SmtpDeps): Service {
  installReplyWriter();
  const { config, log, store, metrics, delivery, pipeline } = deps;
  if (!installDataScanner()) log.warn({ expected: SCANNED_VERSION }, 'smtp-server is not the version the fast DATA scanner was checked against: its own scanner is used');
  const localDomains = new Set(config.domains.map((d) => d.toLowerCase()));
  const { maxReceivedHeaders: maxReceived, commandTimeoutMs, maxSessionMs } = config.smtp;
  const ownHostname = config.organization.hostname;
  const parseLimits = {
    maxDepth: config.limits.maxMimeDepth,
    maxParts: config.limits.maxMimeParts,
    maxHeaderBytes: config.limits.maxHeaderBytes,
    maxAddresses: config.limits.maxAddressesPerHeader,
  };
  const sendDsn = createDsnSender({ config, store, delivery });
  const conns = new Map<string, Conn>();
  const gate = new ByteGate(PROCESSING_BUDGET_BYTES);
  // Past SPOOL_MEMORY_BYTES each, arriving messages share this much memory (data.ts MemoryBudget).
  const dataBudget = new MemoryBudget(config.smtp.receiveMemoryBytes);
  const spoolDir = path.join(path.resolve(config.storage.dir), 'tmp');
  const perIp = new Map<string, number>();
  const servers: Array<{ mode: SmtpMode; server: SMTPServer; host: string; port: number }> = [];
  let failed = false;

  const ipOf = (session: SMTPServerSession): string => normalizeIp(session.remoteAddress);

  const connOf = (session: SMTPServerSession, mode: SmtpMode): Conn => {
    let c = conns.get(session.id);
    if (!c) {
      c = {
        ip: ipOf(session),
        mode,
        sessionId: session.id,
        txCount: 0,
        startedAt: performance.now(),
        commands: 0,
        partialSince: null,
        partialCommands: 0,
        link: null,
        bad: 0,
        account: null,
        credential: null,
        senders: new Set(),
        tx: null,
        counted: false,
      };
      conns.set(session.id, c);
    }
    return c;
  };

  const direction = (mode: SmtpMode): SendDirection => (mode === 'smtp' ? 'inbound' : 'submission');

  /** A refused command; after smtp.maxBadCommands the connection is closed with 421. */
  function bad(c: Conn, r: SmtpReply): Error {
    c.bad++;
    if (c.bad >= config.smtp.maxBadCommands) {
      metrics.rejections.inc({ rule: 'bad-commands', protocol: c.mode });
      return hookError(replies.tooManyBadCommands());
    }
    return hookError(r);
  }

  function ctxOf(c: Conn): PolicyContext {
    return {
      direction: c.mode === 'smtp' ? 'inbound' : 'submission',
      clientIp: c.ip,
      account: c.account?.address ?? null,
      sender: c.tx?.sender ?? '',
      recipients: c.tx ? [...c.tx.recipients] : [],
    };
  }

  function absorb(tx: Tx, r: PipelineResult): void {
    tx.findings.push(...r.findings);
    tx.headers.push(...r.headers);
    if (r.subjectTag) tx.subjectTag = r.subjectTag;
    if (r.junk) tx.junk = true;
  }

  async function loadSenders(account: Account): Promise<Set<string>> {
    const s = new Set<string>([account.address.toLowerCase()]);
    for (const a of await store.listAliases(account.id)) s.add(a.toLowerCase());
    for (const unit of await store.listDelegatedTo(account.id)) {
      // A suspended unit mailbox still receives (R-ACC-3) but nobody sends as it until restored.
      if (unit.state !== 'active') continue;
      s.add(unit.address.toLowerCase());
      for (const a of await store.listAliases(unit.id)) s.add(a.toLowerCase());
    }
    return s;
  }

  /** Send-log rows, one per recipient, for a message this connection did not deliver. */
  function logNotDelivered(
    c: Conn,
    sender: string,
    recipients: readonly string[],
    o: { messageId: string | null; size: number | null; outcome: SendOutcome; code: number; text: string; findings: string[] },
  ): Promise<void> {
    return delivery.logRefused(recipients.map((recipient) => ({ direction: direction(c.mode), sender, recipient, clientIp: c.ip, account: c.account?.address ?? null, ...o })));
  }

  /** The send-log outcome of a refusal reply: 5xx rejected, 4xx deferred. */
  function refusalOf(r: SmtpReply): { outcome: SendOutcome; code: number; text: string } {
    return { outcome: r.code >= 500 ? 'rejected' : 'deferred', code: r.code, text: `${r.enhanced} ${r.text}` };
  }

  async function refuse(c: Conn, recipient: string, r: SmtpReply, findings: string[] = []): Promise<void> {
    metrics.rejections.inc({ rule: r.enhanced === '5.1.1' ? 'unknown-recipient' : r.enhanced === '5.7.1' ? 'relay' : `smtp-${r.code}`, protocol: c.mode });
    await logNotDelivered(c, c.tx?.sender ?? '', [recipient], { messageId: null, size: null, ...refusalOf(r), findings });
  }

  // ── hooks ──

  function onConnect(mode: SmtpMode, session: SMTPServerSession): Error | null {
    const c = connOf(session, mode);
    const n = perIp.get(c.ip) ?? 0;
    if (n >= config.smtp.maxConnectionsPerIp) {
      metrics.rejections.inc({ rule: 'connections-per-ip', protocol: mode });
      return hookError(replies.tooManyConnections());
    }
    perIp.set(c.ip, n + 1);
    c.counted = true;
    metrics.connections.inc({ protocol: mode === 'smtp' ? 'smtp' : 'submission' });
    metrics.connectionsOpen.inc({ protocol: mode === 'smtp' ? 'smtp' : 'submission' });
    // 'loopback' mode: no AUTH offered on a plaintext connection from elsewhere (re-enabled by TLS).
    if (mode === 'submission' && !session.secure && !deps.auth.plaintextAllowed(c.ip, false)) {
      session.disabledCommands = ['AUTH'];
    }
    return null;
  }

  function onClose(session: SMTPServerSession): void {
    const c = conns.get(session.id);
    conns.delete(session.id);
    if (!c || !c.counted) return;
    const n = (perIp.get(c.ip) ?? 1) - 1;
    if (n <= 0) perIp.delete(c.ip);
    else perIp.set(c.ip, n);
    metrics.connectionsOpen.dec({ protocol: c.mode === 'smtp' ? 'smtp' : 'submission' });
  }

  async function onAuth(c: Conn, session: SMTPServerSession, username: string, password: string, authzid: string): Promise<string> {
    if (!session.secure && !deps.auth.plaintextAllowed(c.ip, false)) throw hookError(replies.tlsRequired());
    // An authorization identity (or the name UNIT*DELEGATE) opens a unit mailbox delegated to the
    // user (R-ACC-6); RFC 4616 §2: any other makes the authentication fail (not-delegated).
    const r = await deps.auth.signIn({ username, password, authzid, protocol: 'smtp', ip: c.ip, secure: session.secure });
    if (!r.ok) {
      switch (r.kind) {
        case 'throttled':
          throw hookError(reply(454, '4.7.0', r.message));
        case 'plaintext-refused':
          throw hookError(reply(530, '5.7.0', r.message));
        case 'not-delegated':
          metrics.rejections.inc({ rule: 'authzid', protocol: c.mode });
          throw bad(c, reply(535, '5.7.8', r.message));
        default:
          throw bad(c, reply(535, '5.7.8', r.message));
      }
    }
    // Submission acts for the person who signed in: a delegate sends as the unit mailbox through
    // its delegation (loadSenders), checked again before each transaction, and the send log names
    // the delegate (R-LOG-1: who sent), whichever mailbox the client asked to open.
    const person = r.delegate ?? r.account;
    c.account = person;
    c.credential = credentialOf(person, r.appPasswordId);
    c.senders = await loadSenders(person);
    return person.address;
  }

  async function onMailFrom(c: Conn, address: SMTPServerAddress): Promise<void> {
    c.tx = null;
    if (c.mode !== 'smtp' && !c.account) throw hookError(replies.authRequired());
    const unknown = unknownParam(address, MAIL_PARAMS, c.mode !== 'smtp');
    if (unknown !== null) throw bad(c, replies.unknownParameter(unknown));
    if (c.account && c.credential) {
      // Rights can change while a session stays signed in (suspension, deletion, a reset or
      // password change, two-factor turned on, the app password removed, a delegation or an alias
      // removed, from another process too): read them again for each transaction. A sign-in that
      // no longer holds ends the session (421): smtp-server allows no second AUTH on it, and the
      // client's next connection meets the new state at AUTH.
      const fresh = await currentSignIn(store, c.credential);
      if (!fresh) {
        log.warn({ session: c.sessionId, ip: c.ip, account: c.account.address }, 'smtp: session ended, its sign-in no longer holds');
        c.account = null;
        c.credential = null;
        c.senders = new Set();
        metrics.rejections.inc({ rule: 'sign-in-gone', protocol: c.mode });
        throw hookError(replies.signInGone());
      }
      c.account = fresh;
      c.senders = await loadSenders(fresh);
    }
    const raw = address.address;
    const declared = address.args && typeof address.args.SIZE === 'string' ? Number(address.args.SIZE) : 0;
    if (Number.isFinite(declared) && declared > config.limits.maxMessageBytes) throw hookError(replies.tooLarge(config.limits.maxMessageBytes));
    const dsn = mailDsn(rawParams(address), address.args);
    if (!dsn.ok) throw bad(c, dsn.reply);
    let sender = '';
    // RFC 6531 §3.5: a non-ASCII address only with SMTPUTF8 on this MAIL command.
    const utf8 = address.args !== false && address.args.SMTPUTF8 === true;
    if (!utf8 && NON_ASCII.test(raw)) throw bad(c, replies.utf8SenderWithoutSmtputf8());
    if (raw !== '') {
      const cls = classifyAddress(raw, localDomains);
      if (cls.kind === 'invalid') throw bad(c, replies.badSenderSyntax());
      sender = cls.address;
    }
    if (c.mode !== 'smtp' && (sender === '' || !c.senders.has(sender))) {
      metrics.rejections.inc({ rule: 'sender-ownership', protocol: c.mode });
      log.warn({ session: c.sessionId, ip: c.ip, account: c.account?.address ?? null, sender: raw }, 'smtp: envelope sender refused, not one of the account addresses');
      throw bad(c, replies.senderNotOwned());
    }
    c.txCount++;
    const tx: Tx = {
      id: `${c.sessionId}-${c.txCount}`,
      utf8,
      sender,
      declaredSize: Number.isFinite(declared) ? declared : 0,
      recipients: [],
      resolved: new Map(),
      findings: [],
      headers: [],
      subjectTag: null,
      junk: false,
      dsn: dsn.value,
      rcptDsn: new Map(),
    };
    c.tx = tx;
    if (pipeline) {
      const r = await pipeline.checkMailFrom(ctxOf(c));
      if (r.action === 'reject' || r.action === 'defer') {
        c.tx = null;
        const rep = policyReply(r.reply, r.action === 'reject' ? replyForError(null) : replies.temporary());
        // The rule may log its own line (sending-limits does, without the client): this one says who and from where.
        log.warn({ session: c.sessionId, ip: c.ip, account: c.account?.address ?? null, sender, code: rep.code, enhanced: rep.enhanced, findings: r.findings }, 'smtp: MAIL refused by policy');
        throw hookError(rep);
      }
      absorb(tx, r);
    }
  }

  async function onRcptTo(c: Conn, address: SMTPServerAddress): Promise<void> {
    const tx = c.tx;
    if (!tx) throw hookError(reply(503, '5.5.1', bi('Cần lệnh MAIL trước', 'Need MAIL command')));
    const max = config.limits.maxRecipientsPerMessage;
    if (tx.recipients.length >= max) throw hookError(replies.tooManyRecipients(max));
    const unknown = unknownParam(address, RCPT_PARAMS, false);
    if (unknown !== null) {
      const r = replies.unknownParameter(unknown);
      await refuse(c, address.address, r);
      throw bad(c, r);
    }
    const dsn = rcptDsn(rawParams(address), address.args);
    if (!dsn.ok) {
      await refuse(c, address.address, dsn.reply);
      throw bad(c, dsn.reply);
    }
    const keepDsn = (r: string): void => {
      if (dsn.value) tx.rcptDsn.set(r, dsn.value);
      else tx.rcptDsn.delete(r);
    };
    // RFC 5321 §4.1.1.3: the domainless <postmaster> is accepted; it means the primary domain's.
    const rcpt = address.address.toLowerCase() === 'postmaster' ? `postmaster@${config.domains[0] ?? ''}` : address.address;
    const cls = classifyAddress(rcpt, localDomains);
    if (cls.kind !== 'local' && c.mode === 'smtp') {
      await refuse(c, address.address, replies.relayDenied());
      throw bad(c, replies.relayDenied());
    }
    if (cls.kind === 'invalid') {
      await refuse(c, address.address, replies.badRecipientSyntax());
      throw bad(c, replies.badRecipientSyntax());
    }
    if (!tx.utf8 && NON_ASCII.test(rcpt)) {
      await refuse(c, address.address, replies.utf8RecipientWithoutSmtputf8());
      throw bad(c, replies.utf8RecipientWithoutSmtputf8());
    }
    if (tx.recipients.includes(cls.address)) {
      keepDsn(cls.address); // a repeated RCPT replaces the earlier one, as in smtp-server's envelope
      return;
    }
    if (cls.kind === 'local') {
      // postmaster@ any served domain always has someone (RFC 5321 §4.5.1; delivery/resolveRecipient).
      const account = await delivery.resolveRecipient(cls.address);
      if (!account) {
        await refuse(c, cls.address, replies.unknownUser());
        // On the MX an unknown recipient counts toward smtp.maxBadCommands (slows address
        // harvesting). A signed-in user's stale address-book entries must not end the session
        // (421) and lose the message for the recipients that exist: 550 5.1.1, not counted.
        if (c.mode !== 'smtp' && c.account) throw hookError(replies.unknownUser());
        throw bad(c, replies.unknownUser());
      }
      // Quota at RCPT, so the reply is per recipient (452 4.2.2 is temporary: the sender retries).
      const used = await store.usage(account.id);
      if (used + tx.declaredSize > delivery.quotaFor(account)) {
        await refuse(c, cls.address, replies.overQuota());
        throw hookError(replies.overQuota());
      }
      tx.resolved.set(cls.address, account);
    }
    if (pipeline) {
      const r = await pipeline.checkRecipient(ctxOf(c), cls.address);
      if (r.action === 'reject' || r.action === 'defer') {
        const rep = policyReply(r.reply, r.action === 'reject' ? reply(550, '5.7.1', bi('Bị từ chối theo chính sách', 'Rejected by policy')) : replies.temporary());
        await refuse(c, cls.address, rep, r.findings);
        throw hookError(rep);
      }
      absorb(tx, r);
    }
    tx.recipients.push(cls.address);
    keepDsn(cls.address);
  }

  async function refuseAll(c: Conn, tx: Tx, r: SmtpReply, size: number | null, messageId: string | null, findings: string[]): Promise<Error> {
    metrics.rejections.inc({ rule: `data-${r.enhanced}`, protocol: c.mode });
    await logNotDelivered(c, tx.sender, tx.recipients, { messageId, size, ...refusalOf(r), findings });
    return hookError(r);
  }

  async function onData(c: Conn, session: SMTPServerSession, stream: SMTPServerDataStream): Promise<string> {
    // A big message waits on disk (data.ts), not in memory, until the gate admits it.
    const data = await readData(stream, config.limits.maxMessageBytes, { dir: spoolDir, memoryBytes: SPOOL_MEMORY_BYTES, budget: dataBudget });
    try {
      const weight = data.length;
      await gate.acquire(weight);
      try {
        return await processData(c, session, data);
      } finally {
        gate.release(weight);
      }
    } finally {
      await data.discard();
    }
  }

  async function processData(c: Conn, session: SMTPServerSession, data: DataResult): Promise<string> {
    const max = config.limits.maxMessageBytes;
    const tx = c.tx;
    if (!tx || tx.recipients.length === 0) throw hookError(reply(503, '5.5.1', bi('Cần lệnh RCPT trước', 'Need RCPT command')));
    if (data.sizeExceeded) throw await refuseAll(c, tx, replies.tooLarge(max), data.size, null, []);
    if (data.bareLineEnding) throw await refuseAll(c, tx, replies.bareLineEnding(), data.size, null, ['smtp: bare CR or LF']);
    const received = await data.bytes();
    // The spool file is not needed once read back: free the disk now rather than after delivery.
    await data.discard();
    const headerProblem = headerLimits(received, config.limits.maxHeaderBytes, config.limits.maxHeaderLineBytes);
    if (headerProblem === 'header-too-large') throw await refuseAll(c, tx, replies.headerTooLarge(config.limits.maxHeaderBytes), data.size, null, []);
    if (headerProblem === 'line-too-long') throw await refuseAll(c, tx, replies.headerLineTooLong(config.limits.maxHeaderLineBytes), data.size, null, []);

    // Nobody pre-labels mail: incoming X-Buudien-* headers, and Authentication-Results fields
    // claiming to be ours (RFC 8601 §5: an MTA MUST delete them, on MX and submission alike), are
    // dropped before the one parse; the same pass counts Received and From fields.
    // On submission Bcc and Resent-Bcc go too (RFC 5322 §3.6.3, §3.6.6): no copy, inside or
    // outside, shows who else was sent the message blind.
    const scan = scanIncomingHeaders(received, {
      drop: (n) => n.startsWith('x-buudien-') || (c.mode !== 'smtp' && (n === 'bcc' || n === 'resent-bcc')),
      byValue: (n) => n === 'authentication-results',
      dropByValue: (_n, value) => isOwnAuthResults(value, ownHostname),
    });
    // RFC 5321 §6.3: servers MUST detect and stop trivial loops; a message that has passed more
    // than smtp.maxReceivedHeaders hops is refused rather than passed on once more.
    if (scan.received > maxReceived) {
      metrics.rejections.inc({ rule: 'mail-loop', protocol: c.mode });
      throw await refuseAll(c, tx, replies.mailLoop(maxReceived), data.size, null, [`smtp: ${scan.received} Received headers`]);
    }
    // RFC 5322 §3.6: exactly one From. The parser reads the first only, so a second one would
    // escape the ownership check below on submission, and on the MX the DMARC check (RFC 7489
    // §6.6.1: such messages are typically refused): a message with two is refused as malformed.
    if (scan.from > 1) {
      metrics.rejections.inc({ rule: 'from-ownership', protocol: c.mode });
      throw await refuseAll(c, tx, replies.multipleFrom(), data.size, null, []);
    }
    const stripped = scan.raw;
    let parsed: ParsedMessage = parseMessage(stripped, parseLimits);
    let raw = stripped;
    const findings = [...tx.findings];
    const headers: string[] = [];

    if (c.mode !== 'smtp') {
      // The From header must be one of the signed-in user's addresses too, and so must Sender
      // (RFC 5322 §3.6.2: the mailbox of the agent that sent it; the parser reads the first of
      // several, so more than one is refused). The envelope's sender is From when Sender is absent.
      // Both are read strictly here (parseAddressListStrict), the same addresses as the envelope's
      // but with what the lenient reading drops: a field that other parsers could read as another
      // author (tokens after ">", an element that is only a comment, a list cut at
      // limits.maxAddressesPerHeader with the rest unchecked) is not shown to be the user's.
      // The MX keeps the lenient reading: inbound mail is taken as it comes.
      const isOwned = (list: EnvelopeAddress[]): boolean =>
        list.length > 0 &&
        list.every((a) => {
          const addr = localPartMatches(a);
          return addr !== null && c.senders.has(addr);
        });
      const top = parseHeaderBlock(stripped, 0, stripped.length, config.limits.maxHeaderBytes).fields;
      const strict = (name: string): (AddressList & { anomalies: AddressAnomalies }) | null => {
        const v = getHeader(top, name);
        return v === null ? null : parseAddressListStrict(v, config.limits.maxAddressesPerHeader);
      };
      const from = strict('from') ?? parseAddressListStrict('');
      const sf = strict('sender');
      // As in the envelope, a Sender holding no mailbox counts as absent; unless it held
      // something (a comment) another parser may show as the sender: then it is refused.
      const senderField = sf && (sf.addresses.length > 0 || ambiguous(sf)) ? sf : from;
      const problem =
        from.addresses.length > MAX_AUTHORS
          ? replies.tooManyAuthors(MAX_AUTHORS)
          : ambiguous(from) || !isOwned(from.addresses)
            ? replies.fromNotOwned()
            : scan.sender > 1
              ? replies.multipleSender()
              : ambiguous(senderField) || !isOwned(senderField.addresses)
                ? replies.senderHeaderNotOwned()
                : [...from.addresses, ...senderField.addresses].some((a) => misleadingName(a, c.senders)) ||
                    [...from.anomalies.comments, ...senderField.anomalies.comments].some((t) => misleadingText(t, c.senders)) ||
                    controlInFromOrSender(stripped)
                  ? replies.misleadingDisplayName()
                  : null;
      if (problem) {
        metrics.rejections.inc({ rule: 'from-ownership', protocol: c.mode });
        throw await refuseAll(c, tx, problem, data.size, parsed.messageId, []);
      }
      // RFC 6409 §8.2, §8.3: the submission server adds the Date and Message-ID a mail program
      // left out (receivers refuse mail without a Message-ID; the send log and replies need it).
      const missing = [
        ...(getHeader(top, 'date') === null ? [`Date: ${rfc5322Date(deps.clock.now())}`] : []),
        ...(getHeader(top, 'message-id') === null ? [`Message-ID: <${randomUUID()}@${ownHostname}>`] : []),
      ];
      if (missing.length > 0) {
        raw = prependHeaders(raw, parsed, missing).raw;
        parsed = parseMessage(raw, parseLimits);
      }
    }

    if (c.mode === 'smtp' && config.smtp.checkAuthentication) {
      let verdict: AuthVerdict;
      try {
        verdict = await checkAuthentication({
          raw: received,
          ip: c.ip,
          helo: session.hostNameAppearsAs || c.ip,
          sender: tx.sender,
          hostname: config.organization.hostname,
          fromDomains: (parsed.envelope.from ?? []).flatMap((a) => (a.host !== null && a.mailbox !== null ? [a.host] : [])),
          ...(deps.dnsResolver ? { resolver: deps.dnsResolver } : {}),
        });
      } catch (e) {
        log.warn({ err: e }, 'SPF/DKIM/DMARC check failed');
        verdict = { header: `Authentication-Results: ${config.organization.hostname}; none`, dmarcReject: null, findings: ['auth: temperror'] };
      }
      headers.push(verdict.header);
      findings.push(...verdict.findings);
      if (verdict.dmarcReject) {
        if (config.smtp.dmarcRejectAction === 'reject') {
          throw await refuseAll(c, tx, replies.dmarcReject(verdict.dmarcReject.domain), data.size, parsed.messageId, findings);
        }
        headers.push(`X-Buudien-Policy: dmarc-fail; domain="${verdict.dmarcReject.domain.replace(/[^a-z0-9.-]/gi, '')}"`);
      }
    }

    let junk = tx.junk;
    let subjectTag = tx.subjectTag;
    headers.push(...tx.headers);
    if (pipeline) {
      const r = await pipeline.checkMessage({ ...ctxOf(c), recipients: [...tx.recipients] }, { raw, parsed });
      findings.push(...r.findings);
      if (r.action === 'reject' || r.action === 'defer') {
        const rep = policyReply(r.reply, r.action === 'reject' ? reply(550, '5.7.1', bi('Bị từ chối theo chính sách', 'Rejected by policy')) : replies.temporary());
        throw await refuseAll(c, tx, rep, data.size, parsed.messageId, findings);
      }
      headers.push(...r.headers);
      if (r.subjectTag) subjectTag = r.subjectTag;
      if (r.junk) junk = true;
      if (r.action === 'quarantine') {
        await store.quarantine({ at: deps.clock.now(), sender: tx.sender, recipients: [...tx.recipients], reason: r.findings.join('; '), direction: direction(c.mode), raw });
        await logNotDelivered(c, tx.sender, tx.recipients, { messageId: parsed.messageId, size: data.size, outcome: 'quarantined', code: 250, text: bi('Đã cách ly', 'Quarantined'), findings });
        return `2.0.0 ${bi('Đã nhận thư', 'Message accepted')}`;
      }
    }

    const tlsInfo = session.tlsOptions ? { protocol: session.tlsOptions.version ?? 'TLS', cipher: session.tlsOptions.name } : null;
    headers.unshift(
      receivedHeader({
        helo: session.hostNameAppearsAs || 'unknown',
        utf8: tx.utf8,
        clientHostname: session.clientHostname || null,
        ip: c.ip,
        hostname: config.organization.hostname,
        protocol: withProtocol(session.transmissionType || (c.mode === 'smtp' ? 'ESMTP' : 'ESMTPA'), tx.utf8),
        tls: tlsInfo,
        id: tx.id,
        recipient: tx.recipients.length === 1 ? (tx.recipients[0] ?? null) : null,
        date: deps.clock.now(),
      }),
    );
    // Submitted mail leaves for outside recipients without the policy's marks (they are for
    // colleagues' copies): the Received header goes, the X-Buudien-* headers and the subject tag do not.
    const marks = headers.filter((h) => /^x-buudien-/i.test(h));
    const queueCopy = c.mode !== 'smtp' && (marks.length > 0 || subjectTag) ? { raw, parsed, prepend: headers.filter((h) => !marks.includes(h)) } : undefined;
    if (subjectTag && !parsed.subject.startsWith(subjectTag)) {
      const decoded = `${subjectTag} ${parsed.subject}`.trim();
      ({ raw, parsed } = replaceSubject(raw, parsed, encodeHeaderValue(decoded), decoded));
    }
    // The trace and policy headers go on in delivery's one copy of the message (with Return-Path).
    const result = await delivery.deliver({
      raw,
      parsed,
      prepend: headers,
      sender: tx.sender,
      recipients: tx.recipients,
      direction: direction(c.mode),
      clientIp: c.ip,
      account: c.account?.address ?? null,
      junk,
      findings,
      resolved: tx.resolved,
      dsn: tx.dsn,
      recipientDsn: tx.rcptDsn,
      ...(queueCopy ? { queueCopy } : {}),
    });
    const ok = result.results.filter((r) => r.outcome === 'delivered' || r.outcome === 'queued');
    if (ok.length === 0) {
      // Nothing stored. A temporary failure of any recipient is the message's answer (451 4.3.0
      // when storing or queueing failed, 452 4.3.1 when the disk is full): the client retries the
      // whole message, and a recipient refused meanwhile is refused again at RCPT — a 5xx here
      // would bounce the others too.
      const first =
        result.results.find((r) => r.enhanced.startsWith('4.3.')) ?? result.results.find((r) => r.outcome === 'deferred') ?? result.results[0];
      throw hookError(first ? reply(first.code, first.enhanced, first.text) : replies.temporary());
    }
    // RFC 3461 §5.2.3: a "delivered" DSN for local mailboxes whose recipient asked NOTIFY=SUCCESS;
    // a recipient lost since RCPT (account deleted) is a failure reported the same way, and so is
    // one left deferred but not queued next to successes (only when a caller turned the local
    // retry off; delivery otherwise commits the copies and the queue item together, so a failed
    // queue write fails the whole message above): the 250 covers the message, so the sender must
    // hear of it (RFC 5321 §6.1).
    // Queued recipients are reported by the queue runner.
    const notices: DsnRecipient[] = [];
    for (const r of result.results) {
      const d = tx.rcptDsn.get(r.recipient);
      const originalRecipient = d?.orcpt ?? null;
      if (r.outcome === 'delivered' && wantsNotice(d, 'SUCCESS')) {
        notices.push({ recipient: r.recipient, action: 'delivered', status: '2.0.0', diagnostic: null, remoteMta: null, originalRecipient });
      } else if ((r.outcome === 'rejected' || r.outcome === 'deferred') && wantsNotice(d, 'FAILURE')) {
        // Nothing will try a deferred recipient again: it failed, with a permanent status.
        const status = r.outcome === 'deferred' ? r.enhanced.replace(/^4\./, '5.') : r.enhanced;
        notices.push({ recipient: r.recipient, action: 'failed', status, diagnostic: `smtp; ${r.code} ${r.enhanced} ${r.text}`, remoteMta: null, originalRecipient });
      }
    }
    if (notices.length > 0) {
      const now = deps.clock.now();
      await sendDsn({ sender: tx.sender, original: prependHeaders(raw, parsed, headers).raw, arrivalDate: now, now, dsn: tx.dsn, recipients: notices }).catch((e: unknown) =>
        log.error({ err: e, session: session.id, id: tx.id }, 'could not send a delivery status notification'),
      );
    }
    return `2.0.0 ${bi(`Đã nhận thư, mã ${tx.id}`, `Message accepted, id ${tx.id}`)}`;
  }

  // ── time limits ──
  // The idle timeout (smtp.idleTimeoutMs) is reset by every byte, so a client dripping one byte
  // at a time could keep one command line, or the whole session, open for ever (SECURITY-NOTES
  // "Floods": idle and total-session timeouts, per-command timeouts). One timer for the service
  // checks every connection; the commands themselves cost one counter increment.

  /** 421 4.4.2 and close (smtp-server's send() closes the connection after a 421). */
  function expire(c: Conn, r: SmtpReply, rule: string): void {
    const l = c.link;
    if (!l || l._closing || l._closed) return;
    metrics.rejections.inc({ rule, protocol: c.mode });
    log.info({ ip: c.ip, session: c.sessionId, rule }, 'smtp connection closed by a time limit');
    l.send(r.code, `${r.enhanced} ${r.text}`);
  }

  /** Binds smtp-server's connection object of `session` to our state, counting its commands. */
  function track(server: SMTPServer, c: Conn, session: SMTPServerSession): void {
    for (const l of (server as unknown as { connections: Set<Link> }).connections) {
      if (l.session !== session) continue;
      c.link = l;
      const onCommand = l._onCommand;
      // The parser calls this._onCommand at each line (also after STARTTLS, with a new parser).
      l._onCommand = function (this: Link, command: Buffer, callback: () => void): void {
        c.commands++;
        c.partialSince = null;
        if (performance.now() - c.startedAt > maxSessionMs) return expire(c, replies.sessionTimeout(), 'session-time');
        onCommand.call(this, command, callback);
      };
      return;
    }
  }

  function sweep(): void {
    const now = performance.now();
    for (const c of conns.values()) {
      const l = c.link;
      if (!l || l._closing || l._closed) continue;
      const p = l._parser;
      // While a hook runs or the message is being processed, the client waits for us.
      if (l._handlerPending || (l._dataStream && p && !p._dataMode)) {
        c.partialSince = null;
        continue;
      }
      if (now - c.startedAt > maxSessionMs) {
        expire(c, replies.sessionTimeout(), 'session-time');
        continue;
      }
      // A command line begun (bytes buffered, no line end yet) and still the same command.
      if (!p || p._dataMode || p._remainder.length === 0) {
        c.partialSince = null;
      } else if (c.partialSince === null || c.partialCommands !== c.commands) {
        c.partialSince = now;
        c.partialCommands = c.commands;
      } else if (now - c.partialSince >= commandTimeoutMs) {
        expire(c, replies.commandTimeout(), 'command-time');
      }
    }
  }
  let sweeper: NodeJS.Timeout | null = null;

  // ── servers ──

  function build(mode: SmtpMode): SMTPServer {
    const plaintextMode = config.security.allowPlaintextAuth;
    const options: SMTPServerOptions & { buudienMaxBadCommands: number } = {
      // Read by wire.ts: unrecognized commands close the connection at smtp.maxBadCommands.
      buudienMaxBadCommands: config.smtp.maxBadCommands,
      name: config.organization.hostname,
      banner: 'buudien',
      heloResponse: '%s xin chào / hello %s',
      secure: mode === 'submissions',
      key: deps.tls.key,
      cert: deps.tls.cert,
      minVersion: deps.tls.minVersion ?? config.tls.minVersion,
      size: config.limits.maxMessageBytes,
      hideSize: false,
      hidePIPELINING: false,
      hide8BITMIME: false,
      hideSMTPUTF8: false,
      hideENHANCEDSTATUSCODES: false,
      hideDSN: false,
      hideREQUIRETLS: true,
      authMethods: ['PLAIN', 'LOGIN'],
      authOptional: mode === 'smtp',
      allowInsecureAuth: mode !== 'smtp' && plaintextMode !== 'never',
      disabledCommands: mode === 'smtp' ? ['AUTH'] : [],
      disableReverseLookup: true,
      logger: false,
      maxClients: config.security.maxConnectionsTotal,
      socketTimeout: config.smtp.idleTimeoutMs,
      closeTimeout: 5000,
      maxCommandLength: config.smtp.maxCommandLineBytes,
      // Before AUTH a submission client needs a handful of commands (EHLO, STARTTLS, EHLO, AUTH).
      maxAllowedUnauthenticatedCommands: mode === 'smtp' ? false : 20,
      onConnect(session, cb) {
        const refused = onConnect(mode, session);
        if (!refused) track(server, connOf(session, mode), session);
        cb(refused);
      },
      onSecure(_socket, session, cb) {
        // TLS is up: AUTH may be offered now ('loopback' mode disabled it on plaintext).
        if (mode !== 'smtp') session.disabledCommands = [];
        cb();
      },
      onClose(session, cb) {
        onClose(session);
        cb();
      },
      onAuth(auth, session, cb) {
        const c = connOf(session, mode);
        // smtp-server falls back to the authzid as the user name when the authcid is empty
        // (sasl.js PLAIN_token); only a separate authzid is an authorization identity.
        const authzid = auth.method === 'PLAIN' && auth.authcid ? (auth.authzid ?? '') : '';
        onAuth(c, session, auth.username ?? '', auth.password ?? '', authzid).then(
          (user) => cb(null, { user }),
          (e: unknown) => cb(e instanceof Error ? e : hookError(replies.temporary())),
        );
      },
      onMailFrom(address, session, cb) {
        const c = connOf(session, mode);
        onMailFrom(c, address).then(
          () => cb(),
          (e: unknown) => cb(asHookError(e)),
        );
      },
      onRcptTo(address, session, cb) {
        const c = connOf(session, mode);
        onRcptTo(c, address).then(
          () => cb(),
          (e: unknown) => cb(asHookError(e)),
        );
      },
      onData(stream, session, cb) {
        const c = connOf(session, mode);
        onData(c, session, stream).then(
          (msg) => {
            c.tx = null;
            cb(null, msg);
          },
          (e: unknown) => {
            c.tx = null;
            stream.resume();
            cb(asHookError(e));
          },
        );
      },
    };
    const server = new SMTPServer(options);
    // Replies are small separate writes (250, 250, 354 for a pipelined envelope): without
    // TCP_NODELAY, Nagle plus the client's delayed ACK stalls each transaction by ~40 ms.
    server.server.on('connection', (socket: { setNoDelay?: (v: boolean) => void }) => socket.setNoDelay?.(true));
    server.on('error', (err: Error) => log.warn({ err, listener: mode }, 'smtp connection error'));
    return server;
  }

  function asHookError(e: unknown): Error {
    if (e instanceof Error && typeof (e as { responseCode?: unknown }).responseCode === 'number') return e;
    log.error({ err: e }, 'smtp hook failed');
    return hookError(replyForError(e));
  }

  return {
    name: 'smtp',
    async start(): Promise<BoundListener[]> {
      const swept = await prepareSpoolDir(spoolDir);
      if (swept > 0) log.info({ files: swept, dir: spoolDir }, 'removed stale SMTP spool files');
      const bound: BoundListener[] = [];
      for (const mode of ['smtp', 'submission', 'submissions'] as const) {
        const l = config.listeners[mode];
        if (!l.enabled) continue;
        const server = build(mode);
        const port = await new Promise<number>((resolve, reject) => {
          const onError = (e: Error): void => reject(listenError(mode, l.host, l.port, e));
          server.server.once('error', onError);
          server.listen(l.port, l.host, () => {
            server.server.off('error', onError);
            const a = server.server.address();
            resolve(typeof a === 'object' && a ? a.port : l.port);
          });
        });
        server.server.on('error', (e: Error) => {
          failed = true;
          log.error({ err: e, listener: mode }, 'smtp listener failed');
        });
        servers.push({ mode, server, host: l.host, port });
        bound.push({ name: mode, host: l.host, port });
      }
      if (servers.length > 0 && !sweeper) {
        // A quarter of the shorter limit, between 200 ms and 5 s: a limit is enforced within that much.
        const tick = Math.min(5000, Math.max(200, Math.min(commandTimeoutMs, maxSessionMs) / 4));
        sweeper = setInterval(sweep, tick);
        sweeper.unref();
      }
      return bound;
    },
    async stop(): Promise<void> {
      if (sweeper) clearInterval(sweeper);
      sweeper = null;
      const all = servers.splice(0);
      await Promise.all(all.map(({ server }) => new Promise<void>((resolve) => server.close(() => resolve()))));
    },
    healthy(): boolean {
      return !failed;
    },
  };
}
