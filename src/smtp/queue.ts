/**
 * The outbound queue runner. Items live in the store (durable, survive restarts); each poll
 * claims the due ones and tries them:
 *   route   delivery.routes[domain] or ["*"], else MX records in preference order, else the
 *           domain's own A/AAAA (RFC 5321 §5.1); a null MX (RFC 7505) fails at once
 *   send    nodemailer's SMTP connection, opportunistic STARTTLS (a handshake that fails after the
 *           peer's 220 is retried once at once on the same hop in plaintext), DKIM-signed per domain
 *   result  2xx delivered; 5xx bounced at once (DSN to the sender); 4xx or a connection error
 *           retried after delivery.retryScheduleMs (the last delay repeats) until
 *           delivery.maxQueueAgeMs, then bounced; a delay notice after delivery.delayNoticeAfterMs.
 *           Each recipient keeps its own RCPT reply: a reply to DATA concerns only those accepted.
 *           A message over the hop's SIZE fails at once, 552 5.3.4 (RFC 1870 §6). Only network
 *           failures without an SMTP reply count as connection errors (try the next hop).
 *           An attempt that throws follows the same schedule and lifetime, keeping the outcomes
 *           it had (a recipient that got a 250 is never sent to again); a lost message blob
 *           fails every recipient at once (5.3.0), the DSN carrying only what the queue knows.
 *           Only a blob that does not exist (NOT_FOUND, ENOENT) is lost: one that cannot be read
 *           (EIO, EMFILE, …) is a temporary failure, and a notice then carries the known headers,
 *           claiming no loss. The outcomes are stored before any notice goes, each recipient a
 *           notice is due for kept as "notice pending" (QueueItem.noticePending) until its notice
 *           went: never sent to again, only the notice is tried again, up to a day
 *           (NOTICE_GRACE_MS) past delivery.maxQueueAgeMs, then dropped with an error logged.
 *   DSN     RFC 3461 as the message came in: NOTIFY decides which notices each recipient gets
 *           (none for NEVER; failure and delay by default; success only when asked: "delivered"
 *           for a local mailbox, "relayed" for a server without DSN). A server that offers DSN
 *           gets RET, ENVID, NOTIFY and ORCPT passed on and reports success itself; recipients
 *           whose NOTIFY/ORCPT differ then go in separate transactions on the one connection.
 *   8-bit   what the next hop's EHLO offers decides what goes (downgrade.ts finds 8-bit bytes):
 *           SMTPUTF8 is needed by non-ASCII envelope addresses and non-ASCII header fields at any
 *           MIME level (RFC 6531 §3.2, RFC 6532); without it those recipients fail at once, 5.6.7
 *           for an address (§3.5), 5.6.9 for the headers. SMTPUTF8 goes on MAIL FROM only when the
 *           message needs it. 8-bit bodies go with BODY=8BITMIME where offered, else converted
 *           to 7-bit (RFC 6152 §3) and signed as converted; a message that cannot be converted
 *           fails with 5.6.3 (RFC 3463). No line over 998 octets goes to any hop (RFC 5321
 *           §4.5.3.1.6): such a body is re-encoded (content unchanged), a header line folded,
 *           a preamble line cut (downgrade.ts); a header line with nowhere to fold is logged
 *           and the message sent as it is.
 * Local recipients in the queue (a temporary local failure next to a success) are retried
 * through delivery/ on the same schedule; each attempt logs one "local" send-log row.
 * stop() does not wait for slow hops (a remote can take minutes per command): the attempts in
 * progress are cut short. No new connection, hop, DNS lookup or transaction starts; a transaction
 * in progress gets SEND_GRACE_MS to end (a 250 to DATA that comes is a delivery), then every
 * outbound connection the runner opened is destroyed. Each recipient not yet answered is a
 * temporary failure, 451 4.3.2, settled like any other (send log, delay notice), which releases
 * the item's claim; the item is due again at once, so the next start tries it without the retry delay. stop() returns after STOP_DEADLINE_MS at most. The runner of
 * `serve` (releaseClaimsAtStart) drops at start the claims a process that died left behind.
 */
import { resolveMx as dnsResolveMx } from 'node:dns/promises';
import net from 'node:net';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { Config } from '../config/schema.js';
import type { Delivery } from '../delivery/index.js';
import type { Clock } from '../lib/clock.js';
import { bi, isMailError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import type { Metrics } from '../lib/metrics.js';
import type { BoundListener, Service } from '../lib/service.js';
import { domainOf } from '../mail/addresses.js';
import { parseMessage } from '../mail/parse.js';
import type { MessageDsn, PendingNotice, QueueItem, RecipientDsn, SendLogEntry, Store } from '../store/port.js';
import { signOutbound } from './dkim.js';
import { inspect8bit, shortenLines, to7bit, type EightBitInfo } from './downgrade.js';
import { createDsnSender, type DsnOriginal, type DsnRecipient } from './dsn.js';
import { wantsNotice } from './dsn-params.js';

export interface MxRecord {
  exchange: string;
  priority: number;
}

export interface QueueDeps {
  config: Readonly<Config>;
  log: Logger;
  clock: Clock;
  store: Store;
  metrics: Metrics;
  delivery: Delivery;
  /** MX lookup (tests and air-gapped sites replace it); default node:dns/promises resolveMx. */
  resolveMx?: (domain: string) => Promise<MxRecord[]>;
  /**
   * start() releases every queue claim first (store.releaseQueueClaims): only for the runner of
   * `buudien serve`, which holds the storage dir's lock, so a claim left is a dead process's.
   */
  releaseClaimsAtStart?: boolean;
}

export interface QueueRunner extends Service {
  /** Process every item due now (one pass); resolves with how many items were tried. */
  runOnce(): Promise<number>;
}

type Outcome =
  /** dsnPassed: the receiving server offered DSN and got the parameters, so it reports success. */
  | { kind: 'delivered'; response: string; host: string; dsnPassed: boolean }
  /** interrupted: cut short by stop(), not refused; tried again as soon as the queue runs again. */
  | { kind: 'temporary'; response: string; host: string | null; status: string; interrupted?: true }
  | { kind: 'permanent'; response: string; host: string | null; status: string };

/** What one attempt has done so far (attemptThrew settles with it). */
interface Attempt {
  /** Outcomes by recipient, each kept as soon as it is known. */
  outcomes: Map<string, Outcome>;
  /** The message, once read. */
  original: Buffer | null;
  /** Its outcomes are in the store (settle's first step): the attempt is not settled again. */
  persisted: boolean;
}

/**
 * How long after delivery.maxQueueAgeMs a notice that cannot be sent (the queue's store refuses
 * it, the sender's mailbox fails) is still tried; then it is dropped, with an error in the log.
 */
const NOTICE_GRACE_MS = 24 * 3600_000;

interface Hop {
  host: string;
  port: number;
}

const ENHANCED = /\b([245]\.\d{1,3}\.\d{1,3})\b/;

function statusOf(response: string, code: number | undefined, fallback: string): string {
  const m = ENHANCED.exec(response);
  if (m?.[1]) return m[1];
  if (code && code >= 500) return '5.0.0';
  if (code && code >= 400) return '4.0.0';
  return fallback;
}

/** BODY=8BITMIME when any byte is outside 7-bit ASCII (nodemailer adds it only where offered). */
function has8bit(raw: Buffer): boolean {
  for (let i = 0; i < raw.length; i++) if ((raw[i] ?? 0) > 0x7f) return true;
  return false;
}

const nonAscii = (address: string): boolean => /[^\x00-\x7f]/.test(address);

/**
 * One message as it may go out: what needs SMTPUTF8 or 8BITMIME, and the DKIM-signed bytes
 * as received or converted to 7-bit (each made once, when a hop first needs it).
 */
interface Payload {
  info: EightBitInfo;
  asIs(): Promise<Buffer>;
  /** The 7-bit form, or why there is none. */
  sevenBit(): Promise<Buffer | string>;
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').trim().slice(0, 500);
}

interface SendErr {
  message?: string;
  /** nodemailer's kind of error: ECONNECTION, EMESSAGE, EENVELOPE, … */
  code?: string;
  /** The SMTP command in flight ("MAIL FROM", "RCPT TO", "DATA", "CONN", "API"). */
  command?: string;
  response?: string;
  responseCode?: number;
  recipient?: string;
  rejectedErrors?: SendErr[];
}

/** nodemailer's codes for a failed network (no SMTP reply to go by): the next hop may do better. */
const NETWORK_ERRORS = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'ETLS', 'EDNS']);

function isConnectionError(e: SendErr): boolean {
  return e.responseCode === undefined && (e.code === undefined || NETWORK_ERRORS.has(e.code));
}

/** The STARTTLS handshake failed after the peer's 220: the hop is tried again without TLS. */
class StartTlsFailed extends Error {}

/** stop() cut the attempt short: nothing more is tried until the next attempt. */
class Interrupted extends Error {
  constructor() {
    super('interrupted: the server is stopping');
  }
}

/** How long stop() waits for the attempts it cut short to be settled; then it returns anyway. */
const STOP_DEADLINE_MS = 3_000;

/** How long a transaction already sent (MAIL … final dot) may still wait for its reply at stop(). */
const SEND_GRACE_MS = 1_500;

/** What a recipient not yet answered gets when stop() cuts the attempt short. */
function interruptedOutcome(host: string | null): Outcome {
  const why = bi('Máy chủ đang dừng; thư sẽ được gửi lại ở lần thử sau', 'The server is stopping; the message will be tried again at the next attempt');
  return { kind: 'temporary', response: `451 4.3.2 ${why}`, host, status: '4.3.2', interrupted: true };
}

/** `p`, or Interrupted as soon as `signal` aborts (what `p` does then is ignored). */
function unlessInterrupted<T>(p: Promise<T>, signal: AbortSignal): Promise<T | Interrupted> {
  if (signal.aborted) return Promise.resolve(new Interrupted());
  return new Promise<T | Interrupted>((resolve, reject) => {
    const onAbort = (): void => resolve(new Interrupted());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Tears a connection down at once: nodemailer's close() ends the socket gracefully (FIN, then up to 5 s). */
function cut(conn: SMTPConnection): void {
  const socket = (conn as unknown as { _socket?: unknown })._socket;
  conn.close();
  if (socket instanceof net.Socket) socket.destroy();
}

/**
 * The RCPT replies nodemailer kept for the transaction in flight. Its error for a refused DATA
 * or message carries none, and the replies are needed to tell who the DATA reply concerns.
 */
function rcptErrorsOf(conn: SMTPConnection): SendErr[] {
  const env = (conn as unknown as { _envelope?: unknown })._envelope;
  const list = env && typeof env === 'object' ? (env as { rejectedErrors?: unknown }).rejectedErrors : undefined;
  return Array.isArray(list) ? (list as SendErr[]) : [];
}

type Envelope = Parameters<SMTPConnection['send']>[0];
type SendInfo = Parameters<Parameters<SMTPConnection['send']>[2]>[1];

/**
 * Did the server's EHLO offer DSN? nodemailer decides the same way whether to send the `dsn`
 * parameters, and keeps the answer in a field of its own (no public accessor).
 */
function offersDsn(conn: SMTPConnection): boolean {
  return extensionsOf(conn).includes('DSN');
}

/** The EHLO keywords nodemailer recognised (DSN, 8BITMIME, SMTPUTF8, SIZE, PIPELINING, …). */
function extensionsOf(conn: SMTPConnection): string[] {
  const ext = (conn as unknown as { _supportedExtensions?: unknown })._supportedExtensions;
  return Array.isArray(ext) ? ext.filter((x): x is string => typeof x === 'string') : [];
}

/**
 * nodemailer adds SMTPUTF8 to MAIL FROM only for non-ASCII addresses; a message whose headers
 * need it (RFC 6531 §3.2) gets it through this hook on the one command writer. False when the
 * hook cannot be set (then such a message is treated as if the server lacked SMTPUTF8).
 */
function hookSmtpUtf8(conn: SMTPConnection, wanted: () => boolean): boolean {
  const c = conn as unknown as { _sendCommand?: unknown };
  if (typeof c._sendCommand !== 'function') return false;
  const send = (c._sendCommand as (str: string, logStr?: string) => void).bind(conn);
  c._sendCommand = (str: string, logStr?: string): void => {
    const add = wanted() && /^MAIL FROM:/i.test(str) && !/ SMTPUTF8(\s|$)/i.test(str);
    send(add ? `${str} SMTPUTF8` : str, logStr);
  };
  return true;
}


/**
 * Recipients that share NOTIFY and ORCPT, in first-seen order: nodemailer's `dsn` option holds
 * one NOTIFY and one ORCPT for a whole envelope, so each set is its own transaction.
 */
function byRecipientDsn(recipients: string[], dsn: Readonly<Record<string, RecipientDsn>>): Array<{ recipients: string[]; dsn: RecipientDsn | null }> {
  const groups = new Map<string, { recipients: string[]; dsn: RecipientDsn | null }>();
  for (const r of recipients) {
    const d = dsn[r] ?? dsn[r.toLowerCase()] ?? null;
    const key = JSON.stringify([d?.notify ?? null, d?.orcpt ?? null]);
    const g = groups.get(key);
    if (g) g.recipients.push(r);
    else groups.set(key, { recipients: [r], dsn: d });
  }
  return [...groups.values()];
}

/** RFC 3461 §5.2.1: what came in goes on, nothing is added. */
function dsnEnvelope(m: MessageDsn, r: RecipientDsn | null): Envelope['dsn'] {
  if (!m.ret && !m.envid && !r) return undefined;
  return { ret: m.ret, envid: m.envid, notify: r?.notify ?? null, orcpt: r?.orcpt ?? null };
}

export function createQueueRunner(deps: QueueDeps): QueueRunner {
  const { config, log, clock, store, metrics, delivery } = deps;
  const localDomains = new Set(config.domains.map((d) => d.toLowerCase()));
  const resolveMx = deps.resolveMx ?? ((d: string) => dnsResolveMx(d));
  const sendDsn = createDsnSender({ config, store, delivery });
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<number> | null = null;
  let stopped = true;
  let healthy = true;
  /** Aborted by stop(): the run in progress is cut short (a new run gets a new one). */
  let interrupt = new AbortController();
  /** Connections whose session is over, waiting for the reply to QUIT: stop() cuts them. */
  const quitting = new Set<SMTPConnection>();

  function parseHop(s: string): Hop {
    const i = s.lastIndexOf(':');
    const host = s.slice(0, i).replace(/^\[(.*)\]$/, '$1');
    return { host, port: Number(s.slice(i + 1)) };
  }

  /** Hops for a domain, or a permanent failure (null MX, domain does not exist). */
  async function route(domain: string, signal: AbortSignal): Promise<Hop[] | Outcome> {
    const override = config.delivery.routes[domain] ?? config.delivery.routes['*'];
    if (override) return [parseHop(override)];
    try {
      const mx = await unlessInterrupted(resolveMx(domain), signal);
      if (mx instanceof Interrupted) return interruptedOutcome(null);
      if (mx.length === 1 && (mx[0]?.exchange === '' || mx[0]?.exchange === '.')) {
        return { kind: 'permanent', response: `556 5.1.10 ${domain} does not accept mail (null MX)`, host: null, status: '5.1.10' };
      }
      if (mx.length > 0) return [...mx].sort((a, b) => a.priority - b.priority).map((m) => ({ host: m.exchange, port: 25 }));
      return [{ host: domain, port: 25 }];
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'ENODATA') return [{ host: domain, port: 25 }]; // no MX: the domain's A/AAAA
      if (code === 'ENOTFOUND') return { kind: 'permanent', response: `550 5.1.2 ${domain}: no such domain`, host: null, status: '5.1.2' };
      return { kind: 'temporary', response: `451 4.4.3 DNS lookup for ${domain} failed (${code ?? 'error'})`, host: null, status: '4.4.3' };
    }
  }

  /**
   * One SMTP session to one hop: per-recipient outcomes, or a connection-level error before
   * anything was sent (try the next hop). Several transactions when the DSN parameters differ.
   * When `signal` aborts (stop()), no step starts any more and the one in progress resolves
   * with Interrupted at once, or, for a transaction already sent, once its reply comes or
   * SEND_GRACE_MS passed: a 250 to DATA that arrives in time is a delivery like any other.
   */
  async function sendVia(hop: Hop, item: QueueItem, recipients: string[], payload: Payload, plaintext: boolean, signal: AbortSignal): Promise<Map<string, Outcome> | Error> {
    if (signal.aborted) return new Interrupted();
    const t = config.delivery.connectTimeoutMs;
    const conn = new SMTPConnection({
      host: hop.host,
      port: hop.port,
      name: config.organization.hostname,
      secure: false,
      opportunisticTLS: !plaintext,
      ignoreTLS: plaintext,
      tls: { rejectUnauthorized: false, minVersion: 'TLSv1.2' },
      connectionTimeout: t,
      greetingTimeout: t,
      socketTimeout: Math.max(t, 60_000),
      logger: false,
    });
    // Each step resolves with its result, or with the connection's error if that comes first.
    let failure: Error | null = null;
    let onFailure: ((e: Error) => void) | null = null;
    conn.on('error', (e: Error) => {
      failure ??= e;
      onFailure?.(e);
    });
    // stop(): the step in progress ends now (a transaction already sent: after the grace).
    let sending = false;
    let grace: NodeJS.Timeout | null = null;
    const stopNow = (): void => {
      const e = new Interrupted();
      failure ??= e;
      onFailure?.(e);
      cut(conn);
    };
    const onAbort = (): void => {
      if (!sending) return stopNow();
      grace = setTimeout(stopNow, SEND_GRACE_MS); // cleared as the session ends
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const step = <T>(start: (done: (v: T) => void) => void): Promise<T | Error> =>
      new Promise((resolve) => {
        if (failure) return resolve(failure);
        if (signal.aborted) return resolve(new Interrupted());
        onFailure = resolve;
        start((v) => {
          onFailure = null;
          resolve(v);
        });
      });
    const classify = (e: SendErr): Outcome => {
      // nodemailer refuses a message over the SIZE the hop advertised before MAIL FROM (no reply).
      if (e.responseCode === undefined && e.code === 'EMESSAGE' && e.command === 'MAIL FROM') {
        const max = /allowed (\d+)/.exec(e.message ?? '')?.[1];
        const vi = `Thư lớn hơn kích thước tối đa${max ? ` (${max} byte)` : ''} mà máy chủ nhận ${hop.host} chấp nhận`;
        const en = `The message is larger than the maximum size${max ? ` (${max} bytes)` : ''} the receiving server ${hop.host} accepts`;
        return { kind: 'permanent', response: `552 5.3.4 ${bi(vi, en)}`, host: hop.host, status: '5.3.4' };
      }
      const response = oneLine(e.response ?? e.message ?? 'error');
      const code = e.responseCode;
      if (code !== undefined && code >= 500) return { kind: 'permanent', response, host: hop.host, status: statusOf(response, code, '5.0.0') };
      return { kind: 'temporary', response, host: hop.host, status: statusOf(response, code, '4.0.0') };
    };
    try {
      const connected = await step<Error | null>((done) => conn.connect((err) => done(err ?? null)));
      if (connected instanceof Interrupted) return connected;
      if (connected instanceof Error) {
        // Opportunistic TLS: a handshake that fails (ETLS, or the socket closed while upgrading).
        const upgrading = (conn as unknown as { upgrading?: unknown }).upgrading === true;
        if (!plaintext && (upgrading || (connected as SendErr).code === 'ETLS')) return new StartTlsFailed(connected.message);
        return connected;
      }
      const dsnPassed = offersDsn(conn);
      const ext = extensionsOf(conn);
      const headersUtf8 = payload.info.headers;
      const utf8Ok = ext.includes('SMTPUTF8') && (!headersUtf8 || hookSmtpUtf8(conn, () => headersUtf8));
      const out = new Map<string, Outcome>();
      const fail = (rs: readonly string[], code: number, status: string, vi: string, en: string): void => {
        const o: Outcome = { kind: 'permanent', response: `${code} ${status} ${bi(vi, en)}`, host: hop.host, status };
        for (const r of rs) out.set(r, o);
      };
      // RFC 6531 §3.2, §3.5: nothing internationalised goes to a server without SMTPUTF8.
      let sendable = recipients;
      if (!utf8Ok) {
        const no = `Máy chủ nhận ${hop.host} không hỗ trợ SMTPUTF8 nên không nhận được`;
        const noEn = `The receiving server ${hop.host} does not support SMTPUTF8 and cannot accept`;
        if (nonAscii(item.sender)) {
          fail(sendable, 550, '5.6.7', `${no} địa chỉ người gửi có ký tự ngoài ASCII`, `${noEn} a non-ASCII sender address`);
          sendable = [];
        }
        const intl = sendable.filter(nonAscii);
        fail(intl, 553, '5.6.7', `${no} địa chỉ người nhận có ký tự ngoài ASCII`, `${noEn} a non-ASCII recipient address`);
        sendable = sendable.filter((r) => !nonAscii(r));
        if (headersUtf8 && sendable.length > 0) {
          fail(sendable, 550, '5.6.9', `${no} thư có phần đầu thư (tiêu đề, tên hiển thị, tên tệp) chứa ký tự ngoài ASCII chưa mã hoá`, `${noEn} a message with raw non-ASCII header fields (Subject, display names, file names)`);
          sendable = [];
        }
      }
      // RFC 6152 §3: 8-bit bodies only with 8BITMIME (or SMTPUTF8 for a message that needs it), else 7-bit.
      let raw: Buffer | null = null;
      if (sendable.length > 0) {
        const convert = payload.info.body && !ext.includes('8BITMIME') && !(utf8Ok && headersUtf8);
        const r = convert ? await payload.sevenBit() : await payload.asIs();
        if (typeof r === 'string') {
          // The converter's reason is technical (English): the log has it, the bilingual DSN does not.
          log.info({ queueId: item.id, host: hop.host, reason: r }, 'message not convertible to 7-bit');
          fail(sendable, 554, '5.6.3', `Máy chủ nhận ${hop.host} không hỗ trợ 8BITMIME và thư không chuyển được sang dạng 7-bit`, `The receiving server ${hop.host} does not support 8BITMIME and the message could not be converted to 7-bit`);
          sendable = [];
        } else raw = r;
      }
      const groups = raw === null ? [] : dsnPassed ? byRecipientDsn(sendable, item.recipientDsn) : [{ recipients: sendable, dsn: null }];
      const giveUpFrom = (i: number, why: string | Interrupted): void => {
        const o: Outcome =
          why instanceof Interrupted ? interruptedOutcome(hop.host) : { kind: 'temporary', response: `451 4.4.2 ${hop.host}: ${oneLine(why)}`, host: hop.host, status: '4.4.2' };
        for (const g of groups.slice(i)) for (const r of g.recipients) out.set(r, o);
      };
      for (let i = 0; i < groups.length && raw !== null; i++) {
        const g = groups[i] as (typeof groups)[number];
        const envelope: Envelope = { from: item.sender === '' ? false : item.sender, to: g.recipients, size: raw.length, use8BitMime: has8bit(raw) };
        const dsn = dsnPassed ? dsnEnvelope(item.dsn, g.dsn) : undefined;
        if (dsn) envelope.dsn = dsn;
        const data = raw;
        sending = true;
        const r = await step<{ err: Error | null; info: SendInfo | undefined }>((done) => conn.send(envelope, data, (err, info) => done({ err: err ?? null, info })));
        sending = false;
        // No SMTP reply at all and a network failure: a connection problem.
        const connErr = r instanceof Error ? r : r.err && isConnectionError(r.err as SendErr) ? r.err : null;
        if (connErr || r instanceof Error) {
          const e = connErr ?? new Error('connection failed');
          if (i === 0 && out.size === 0) return e; // nothing went: the next hop may do better
          giveUpFrom(i, e instanceof Interrupted ? e : e.message); // the rest waits for the next attempt
          break;
        }
        if (r.err) {
          const e = r.err as SendErr;
          // A refused DATA or message concerns only the recipients accepted at RCPT.
          const atRcpt = e.rejectedErrors ?? (e.command === 'DATA' ? rcptErrorsOf(conn) : []);
          for (const re of atRcpt) if (re.recipient) out.set(re.recipient, classify(re));
          for (const x of g.recipients) if (!out.has(x)) out.set(x, classify(e));
          // The transaction may still be open (every RCPT refused): RSET before the next one.
          if (i < groups.length - 1) {
            const resetErr = await step<Error | null>((done) => conn.reset((err) => done(err ?? null)));
            if (resetErr) {
              giveUpFrom(i + 1, resetErr instanceof Interrupted ? resetErr : resetErr.message);
              break;
            }
          }
          continue;
        }
        const info = r.info;
        if (!info) {
          giveUpFrom(i, 'no send result');
          break;
        }
        for (const re of (info.rejectedErrors ?? []) as SendErr[]) if (re.recipient) out.set(re.recipient, classify(re));
        for (const x of info.rejected) if (!out.has(x)) out.set(x, { kind: 'permanent', response: 'rejected', host: hop.host, status: '5.0.0' });
        for (const x of info.accepted) out.set(x, { kind: 'delivered', response: oneLine(info.response), host: hop.host, dsnPassed: dsn !== undefined });
        for (const x of g.recipients) if (!out.has(x)) out.set(x, { kind: 'temporary', response: 'no reply for recipient', host: hop.host, status: '4.0.0' });
      }
      return out;
    } finally {
      signal.removeEventListener('abort', onAbort);
      if (grace) clearTimeout(grace);
      if (signal.aborted) cut(conn);
      else {
        try {
          conn.quit();
        } catch {
          conn.close();
        }
        // Until the reply to QUIT closes it; stop() cuts it meanwhile.
        if (!conn.destroyed) {
          quitting.add(conn);
          conn.once('end', () => quitting.delete(conn));
        }
      }
    }
  }

  async function deliverRemote(domain: string, item: QueueItem, recipients: string[], payload: Payload, signal: AbortSignal): Promise<Map<string, Outcome>> {
    const r = await route(domain, signal);
    const all = (o: Outcome): Map<string, Outcome> => new Map(recipients.map((x) => [x, o]));
    if (!Array.isArray(r)) return all(r);
    let lastErr = 'no route';
    for (const hop of r) {
      let res = await sendVia(hop, item, recipients, payload, false, signal);
      if (res instanceof StartTlsFailed) {
        log.warn({ queueId: item.id, host: hop.host, err: res.message }, 'STARTTLS handshake failed; trying the hop again without TLS');
        res = await sendVia(hop, item, recipients, payload, true, signal);
      }
      if (res instanceof Interrupted) {
        log.info({ queueId: item.id, host: hop.host }, 'outbound attempt interrupted: the server is stopping');
        return all(interruptedOutcome(hop.host));
      }
      if (!(res instanceof Error)) return res;
      lastErr = `${hop.host}:${hop.port}: ${oneLine(res.message)}`;
      log.info({ queueId: item.id, host: hop.host, err: res.message }, 'outbound connection failed');
    }
    return all({ kind: 'temporary', response: `451 4.4.1 ${lastErr}`, host: null, status: '4.4.1' });
  }

  async function deliverLocal(item: QueueItem, recipients: string[], raw: Buffer): Promise<Map<string, Outcome>> {
    const parsed = parseMessage(raw);
    // The rows of recipients not delivered are this attempt's, written below with its outcome.
    const res = await delivery.deliver({ raw, parsed, sender: item.sender, recipients, direction: 'local', clientIp: null, account: item.account, retryPartialFailures: false, logUndelivered: false });
    const out = new Map<string, Outcome>();
    for (const r of res.results) {
      const response = `${r.code} ${r.enhanced} ${r.text}`;
      out.set(
        r.recipient,
        r.outcome === 'delivered'
          ? { kind: 'delivered', response, host: config.organization.hostname, dsnPassed: false }
          : r.code >= 500
            ? { kind: 'permanent', response, host: config.organization.hostname, status: r.enhanced }
            : { kind: 'temporary', response, host: config.organization.hostname, status: r.enhanced },
      );
    }
    return out;
  }

  /** The recipients still to be delivered (not those whose notice alone is pending). */
  const toDeliver = (item: QueueItem): string[] => item.recipients.filter((r) => !Object.hasOwn(item.noticePending, r));

  /** Every recipient still to be delivered with one outcome. */
  const allWith = (item: QueueItem, o: Outcome): Map<string, Outcome> => new Map(toDeliver(item).map((r) => [r, o]));

  /** The header lines the queue knows of a message: its Message-ID, if it has one. */
  function knownHeaders(item: QueueItem): Buffer | null {
    const id = item.messageId?.replace(/[\r\n]+/g, ' ').trim();
    return id ? Buffer.from(`Message-ID: ${id}\r\n`, 'utf8') : null;
  }

  /** What a DSN can say of a message whose blob is gone: its Message-ID, if the queue has one. */
  function lostOriginal(item: QueueItem): DsnOriginal {
    return { lost: true, headers: knownHeaders(item) };
  }

  /** The blob does not exist (the store has no row, or its file is gone): the message is lost. */
  const blobMissing = (e: unknown): boolean => isMailError(e, 'NOT_FOUND') || (e as { code?: unknown } | null)?.code === 'ENOENT';

  async function processItem(item: QueueItem, at: Attempt, signal: AbortSignal): Promise<void> {
    const now = clock.now();
    let original: Buffer;
    try {
      original = await store.readBlob(item.blobId);
    } catch (e) {
      if (!blobMissing(e)) throw e; // unreadable for now (EIO, EMFILE, …): attemptThrew
      // Permanent: no later attempt can find the bytes again.
      log.error({ err: e, queueId: item.id, blobId: item.blobId }, 'queued message data lost; failing every recipient');
      const lost = bi('Dữ liệu thư đã bị mất trên máy chủ nên thư không gửi được', 'The message data was lost on the server, so the message cannot be delivered');
      await settle(item, now, allWith(item, { kind: 'permanent', response: `554 5.3.0 ${lost}`, host: null, status: '5.3.0' }), lostOriginal(item), at);
      return;
    }
    at.original = original;
    const pending = toDeliver(item);
    const local = pending.filter((r) => localDomains.has(domainOf(r)));
    const byDomain = new Map<string, string[]>();
    for (const r of pending) {
      if (localDomains.has(domainOf(r))) continue;
      const d = domainOf(r);
      byDomain.set(d, [...(byDomain.get(d) ?? []), r]);
    }
    // Each outcome is kept in `at` as soon as it is known: should anything throw before settle
    // stores them, attemptThrew settles with them (a recipient that got a 250 is not sent to again).
    const outcomes = at.outcomes;
    if (local.length > 0) for (const [r, o] of await deliverLocal(item, local, original)) outcomes.set(r, o);
    if (byDomain.size > 0) {
      const senderDomain = item.sender === '' ? null : domainOf(item.sender);
      const sign = async (raw: Buffer): Promise<Buffer> => {
        try {
          return await signOutbound(store, raw, senderDomain, now);
        } catch (e) {
          log.error({ err: e, queueId: item.id }, 'DKIM signing failed; sending unsigned');
          return raw;
        }
      };
      let asIs: Promise<Buffer> | null = null;
      let sevenBit: Promise<Buffer | string> | null = null;
      const info = inspect8bit(original);
      const payload: Payload = {
        info,
        asIs: () =>
          (asIs ??= (async () => {
            if (!info.longLines) return sign(original);
            // No line over 998 octets goes out (RFC 5321 §4.5.3.1.6): such bodies are re-encoded.
            const d = shortenLines(original);
            if (!d.ok) log.info({ queueId: item.id, reason: d.reason }, 'lines over 998 octets could not be re-encoded; sending as received');
            return sign(d.ok ? d.raw : original);
          })()),
        sevenBit: () =>
          (sevenBit ??= (async () => {
            const d = to7bit(original);
            return d.ok ? sign(d.raw) : d.reason;
          })()),
      };
      // Every domain runs to its end before a failure of one is thrown: the others' outcomes count.
      const results = await Promise.allSettled(
        [...byDomain].map(async ([d, rs]) => {
          for (const [r, o] of await deliverRemote(d, item, rs, payload, signal)) outcomes.set(r.toLowerCase(), o);
        }),
      );
      const failed = results.find((x): x is PromiseRejectedResult => x.status === 'rejected');
      if (failed) throw failed.reason;
    }
    await settle(item, now, outcomes, original, at);
  }

  /**
   * The end of an attempt, in an order that survives a failure or a crash at any point:
   *  1. store.finishAttempt stores every outcome: delivered and failed recipients leave the
   *     item, or stay as "notice pending" (with their line of the notice) when a notice is due;
   *     temporary failures stay to be tried again. Only then does anything else happen.
   *  2. the final notice (RFC 3461: failed, delivered, relayed), with those of earlier attempts;
   *     then the delay notice.
   *  3. store.noticesSent takes out the recipients whose notice went.
   * A failure at 1 leaves the outcomes in `at` for attemptThrew; a failure after 1 is logged
   * (a notice sent but not marked may go again: a duplicate notice, never a duplicate message).
   * `error` is kept on the item instead of the last recipient's reply.
   */
  async function settle(item: QueueItem, now: Date, outcomes: ReadonlyMap<string, Outcome>, original: DsnOriginal, at: Attempt, error?: string): Promise<void> {
    const age = now.getTime() - item.createdAt.getTime();
    const expired = age >= config.delivery.maxQueueAgeMs;
    // Nobody to tell for the null sender: no recipient waits for a notice (RFC 3461 §6.1).
    const notifies = item.sender !== '';
    // RFC 3461 §5.2.8: one notice for what is final (failed, delivered, relayed), one for delays;
    // each lists only the recipients whose NOTIFY asks for that kind. The final one is made from
    // `pending`: the notices of earlier attempts not yet sent, then this attempt's.
    const pending: Record<string, PendingNotice> = {};
    const delayed: DsnRecipient[] = [];
    const remaining: string[] = [];
    const entries: SendLogEntry[] = [];
    const counted: Array<'delivered' | 'bounced' | 'deferred'> = [];
    let lastError: string | null = null;
    const earlier = Object.entries(item.noticePending);
    if (earlier.length > 0 && now.getTime() >= item.createdAt.getTime() + config.delivery.maxQueueAgeMs + NOTICE_GRACE_MS) {
      // A notice that could not be sent for the whole queue lifetime and a day more is given up.
      log.error(
        { queueId: item.id, sender: item.sender, recipients: earlier.map(([r]) => r), attempts: item.attempts },
        'delivery status notification still not sent a day after the queue lifetime ended; dropped',
      );
      metrics.noticesDropped.inc(earlier.length);
    } else for (const [r, n] of earlier) pending[r] = n;
    for (const r of toDeliver(item)) {
      const o = outcomes.get(r) ?? { kind: 'temporary', response: '451 4.3.0 not attempted', host: null, status: '4.3.0' };
      const local = localDomains.has(domainOf(r));
      const entry: SendLogEntry = {
        at: now,
        // A local recipient's retry never leaves the server.
        direction: local ? 'local' : 'outbound',
        sender: item.sender,
        recipient: r,
        clientIp: null,
        account: item.account,
        messageId: item.messageId,
        size: item.size,
        outcome: 'delivered',
        code: Number(o.response.slice(0, 3)) || null,
        text: o.response,
        findings: [],
      };
      const rd = item.recipientDsn[r];
      const originalRecipient = rd?.orcpt ?? null;
      const lastAttemptAt = now.getTime();
      if (o.kind === 'delivered') {
        counted.push('delivered');
        if (!local) entries.push(entry); // a local delivery logs itself, in the store's commit
        if (notifies && wantsNotice(rd, 'SUCCESS') && !o.dsnPassed) {
          pending[r] = local
            ? { action: 'delivered', status: '2.0.0', diagnostic: null, remoteMta: null, originalRecipient, lastAttemptAt }
            : { action: 'relayed', status: '2.0.0', diagnostic: `smtp; ${o.response}`, remoteMta: o.host, originalRecipient, lastAttemptAt };
        }
        continue;
      }
      lastError = o.response;
      if (o.kind === 'permanent' || expired) {
        const status = o.kind === 'permanent' ? o.status : '4.4.7';
        const diagnostic = o.kind === 'permanent' ? `smtp; ${o.response}` : `smtp; ${o.response} (queue lifetime expired)`;
        if (notifies && wantsNotice(rd, 'FAILURE')) pending[r] = { action: 'failed', status, diagnostic, remoteMta: o.host, originalRecipient, lastAttemptAt };
        counted.push('bounced');
        entries.push({ ...entry, outcome: 'bounced' });
      } else {
        remaining.push(r);
        if (wantsNotice(rd, 'DELAY')) delayed.push({ recipient: r, action: 'delayed', status: o.status, diagnostic: `smtp; ${o.response}`, remoteMta: o.host, originalRecipient });
        counted.push('deferred');
        entries.push({ ...entry, outcome: 'deferred' });
      }
    }

    // 1. The outcomes, stored before any notice goes.
    const schedule = config.delivery.retryScheduleMs;
    const delay = schedule[Math.min(item.attempts, schedule.length - 1)] ?? 60_000;
    const waiting = [...remaining, ...Object.keys(pending)];
    // An attempt the stop cut short was never answered: the next start tries it at once instead
    // of after the retry delay.
    const cutShort = remaining.length > 0 && remaining.every((r) => {
      const o = outcomes.get(r);
      return o?.kind === 'temporary' && o.interrupted === true;
    });
    await store.finishAttempt(item.id, {
      remaining: waiting,
      nextAttemptAt: waiting.length > 0 ? new Date(now.getTime() + (cutShort ? 0 : delay)) : null,
      error: error ?? lastError,
      delayNoticeSent: item.delayNoticeSent,
      noticePending: pending,
    });
    at.persisted = true;
    for (const result of counted) metrics.messagesOut.inc({ result });
    if (entries.length > 0) {
      try {
        await store.logSend(entries);
      } catch (e) {
        log.error({ err: e }, 'send log write failed');
      }
    }

    // 2. The notices.
    const notice = { sender: item.sender, original, arrivalDate: item.createdAt, now, dsn: item.dsn };
    const final: DsnRecipient[] = Object.entries(pending).map(([r, n]) => ({
      recipient: r,
      action: n.action,
      status: n.status,
      diagnostic: n.diagnostic,
      remoteMta: n.remoteMta,
      originalRecipient: n.originalRecipient,
      lastAttemptDate: n.lastAttemptAt === undefined ? null : new Date(n.lastAttemptAt),
    }));
    let sent: string[] = [];
    if (final.length > 0) {
      try {
        await sendDsn({ ...notice, recipients: final });
        sent = Object.keys(pending);
      } catch (e) {
        // Its recipients stay queued, marked as done, so that only the notice is tried again:
        // neither a failed nor a delivered recipient is sent to again.
        log.error({ err: e, queueId: item.id, recipients: Object.keys(pending) }, 'could not send a delivery status notification; its recipients stay queued for the notice alone');
      }
    }
    let delayNoticeSent = item.delayNoticeSent;
    try {
      if (remaining.length > 0 && !delayNoticeSent && age >= config.delivery.delayNoticeAfterMs) {
        await sendDsn({ ...notice, recipients: delayed });
        delayNoticeSent = true;
      }
    } catch (e) {
      log.error({ err: e, queueId: item.id }, 'could not send a delay notification');
    }

    // 3. What went is no longer pending.
    if (sent.length === 0 && delayNoticeSent === item.delayNoticeSent) return;
    try {
      await store.noticesSent(item.id, { recipients: sent, delayNoticeSent });
    } catch (e) {
      log.error({ err: e, queueId: item.id, recipients: sent }, 'notices sent but not marked as sent; they may be sent again at the next attempt');
    }
  }

  /**
   * An attempt that threw: the recipients whose outcome it knows are settled with it (a
   * delivered one is never sent to again); every other one is deferred as by a 4xx, so the item
   * follows the retry schedule and, past delivery.maxQueueAgeMs, bounces with 4.4.7 like any
   * expiry. An attempt whose outcomes are already stored is not settled again.
   */
  async function attemptThrew(item: QueueItem, at: Attempt, e: unknown): Promise<void> {
    const now = clock.now();
    if (at.persisted) {
      log.error({ err: e, queueId: item.id }, 'queue item failed after its outcome was stored; left as stored');
      return;
    }
    log.error({ err: e, queueId: item.id }, 'queue item failed; following the retry schedule');
    const why = bi('Lỗi tạm thời của máy chủ khi gửi thư', 'Temporary server failure while sending the message');
    try {
      // Only a blob that does not exist is lost; one that cannot be read now (EIO, EMFILE, …) is
      // not: the notice then carries the headers the queue knows, returned as headers only.
      let it = item;
      const original =
        at.original ??
        (await store.readBlob(item.blobId).catch((e3: unknown): DsnOriginal => {
          if (blobMissing(e3)) return lostOriginal(item);
          log.warn({ err: e3, queueId: item.id, blobId: item.blobId }, 'queued message data unreadable for now; a notice carries only its known headers');
          it = { ...item, dsn: { ...item.dsn, ret: 'HDRS' } };
          return knownHeaders(item) ?? Buffer.alloc(0); // nothing known: the notice has no third part
        }));
      const temporary: Outcome = { kind: 'temporary', response: `451 4.3.0 ${why}`, host: null, status: '4.3.0' };
      const outcomes = new Map(toDeliver(item).map((r): [string, Outcome] => [r, at.outcomes.get(r) ?? temporary]));
      await settle(it, now, outcomes, original, at, oneLine(String(e)));
    } catch (e2) {
      log.error({ err: e2, queueId: item.id, known: [...at.outcomes.keys()] }, 'could not finish the failed attempt; it is tried again once its claim ends');
    }
  }

  async function runOnce(): Promise<number> {
    if (running) return running;
    if (interrupt.signal.aborted) interrupt = new AbortController();
    const signal = interrupt.signal;
    running = (async () => {
      let total = 0;
      try {
        for (;;) {
          const items = await store.claimDue(clock.now(), config.delivery.concurrency);
          if (items.length === 0) break;
          total += items.length;
          await Promise.all(
            items.map((item) => {
              const at: Attempt = { outcomes: new Map(), original: null, persisted: false };
              return processItem(item, at, signal).catch((e: unknown) => attemptThrew(item, at, e));
            }),
          );
          if (items.length < config.delivery.concurrency || stopped) break;
        }
        healthy = true;
      } catch (e) {
        healthy = false;
        log.error({ err: e }, 'queue poll failed');
      } finally {
        running = null;
      }
      return total;
    })();
    return running;
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      timer = null;
      void runOnce().finally(schedule);
    }, config.delivery.queuePollMs);
    timer.unref();
  }

  return {
    name: 'queue',
    runOnce,
    async start(): Promise<BoundListener[]> {
      if (deps.releaseClaimsAtStart) {
        try {
          const n = await store.releaseQueueClaims();
          if (n > 0) log.info({ items: n }, 'queue claims left by a previous process released');
        } catch (e) {
          log.error({ err: e }, 'could not release the queue claims left by a previous process; they expire on their own');
        }
      }
      stopped = false;
      schedule();
      return [];
    },
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      // Sessions already over need not say goodbye.
      for (const c of quitting) cut(c);
      quitting.clear();
      const run = running;
      if (!run) return;
      // The attempts in progress are cut short, each settled as a temporary failure (claim released).
      interrupt.abort();
      // Not unref'd: the process must not exit before the app has closed the store.
      let deadline: NodeJS.Timeout | undefined;
      const late = await Promise.race([
        run.then(() => false),
        new Promise<boolean>((resolve) => {
          deadline = setTimeout(() => resolve(true), STOP_DEADLINE_MS);
        }),
      ]);
      clearTimeout(deadline);
      if (late) log.warn({ waitedMs: STOP_DEADLINE_MS }, 'queue attempts still settling at stop; any claim left is released at the next start');
      for (const c of quitting) cut(c);
    },
    healthy: () => healthy,
  };
}
