/**
 * The outbound queue runner. Items live in the store (durable, survive restarts); each poll
 * claims the due ones and tries them:
 *   route   delivery.routes[domain] or ["*"], else MX records in preference order, else the
 *           domain's own A/AAAA (RFC 5321 §5.1); a null MX (RFC 7505) fails at once
 *   send    nodemailer's SMTP connection, opportunistic STARTTLS, DKIM-signed per domain
 *   result  2xx delivered; 5xx bounced at once (DSN to the sender); 4xx or a connection error
 *           retried after delivery.retryScheduleMs (the last delay repeats) until
 *           delivery.maxQueueAgeMs, then bounced; a delay notice after delivery.delayNoticeAfterMs
 * Local recipients in the queue (a temporary local failure next to a success) are retried
 * through delivery/ on the same schedule.
 */
import { resolveMx as dnsResolveMx } from 'node:dns/promises';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { Config } from '../config/schema.js';
import type { Delivery } from '../delivery/index.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/log.js';
import type { Metrics } from '../lib/metrics.js';
import type { BoundListener, Service } from '../lib/service.js';
import { domainOf } from '../mail/addresses.js';
import { parseMessage } from '../mail/parse.js';
import type { QueueItem, SendLogEntry, Store } from '../store/port.js';
import { signOutbound } from './dkim.js';
import { buildDsn, type DsnRecipient } from './dsn.js';

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
}

export interface QueueRunner extends Service {
  /** Process every item due now (one pass); resolves with how many items were tried. */
  runOnce(): Promise<number>;
}

type Outcome =
  | { kind: 'delivered'; response: string; host: string }
  | { kind: 'temporary'; response: string; host: string | null; status: string }
  | { kind: 'permanent'; response: string; host: string | null; status: string };

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

/** BODY=8BITMIME when any byte is outside 7-bit ASCII (SMTPUTF8 is added by nodemailer when the envelope needs it). */
function has8bit(raw: Buffer): boolean {
  for (let i = 0; i < raw.length; i++) if ((raw[i] ?? 0) > 0x7f) return true;
  return false;
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').trim().slice(0, 500);
}

interface SendErr {
  message?: string;
  response?: string;
  responseCode?: number;
  recipient?: string;
  rejectedErrors?: SendErr[];
}

export function createQueueRunner(deps: QueueDeps): QueueRunner {
  const { config, log, clock, store, metrics, delivery } = deps;
  const localDomains = new Set(config.domains.map((d) => d.toLowerCase()));
  const resolveMx = deps.resolveMx ?? ((d: string) => dnsResolveMx(d));
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<number> | null = null;
  let stopped = true;
  let healthy = true;

  function parseHop(s: string): Hop {
    const i = s.lastIndexOf(':');
    const host = s.slice(0, i).replace(/^\[(.*)\]$/, '$1');
    return { host, port: Number(s.slice(i + 1)) };
  }

  /** Hops for a domain, or a permanent failure (null MX, domain does not exist). */
  async function route(domain: string): Promise<Hop[] | Outcome> {
    const override = config.delivery.routes[domain] ?? config.delivery.routes['*'];
    if (override) return [parseHop(override)];
    try {
      const mx = await resolveMx(domain);
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

  /** One SMTP session to one hop: per-recipient outcomes, or a connection-level error (try the next hop). */
  function sendVia(hop: Hop, sender: string, recipients: string[], raw: Buffer): Promise<Map<string, Outcome> | Error> {
    return new Promise((resolve) => {
      const t = config.delivery.connectTimeoutMs;
      const conn = new SMTPConnection({
        host: hop.host,
        port: hop.port,
        name: config.organization.hostname,
        secure: false,
        opportunisticTLS: true,
        tls: { rejectUnauthorized: false, minVersion: 'TLSv1.2' },
        connectionTimeout: t,
        greetingTimeout: t,
        socketTimeout: Math.max(t, 60_000),
        logger: false,
      });
      let settled = false;
      const done = (r: Map<string, Outcome> | Error): void => {
        if (settled) return;
        settled = true;
        try {
          conn.quit();
        } catch {
          conn.close();
        }
        resolve(r);
      };
      conn.once('error', (e: Error) => done(e));
      conn.connect((err) => {
        if (err) return done(err);
        conn.send({ from: sender === '' ? false : sender, to: recipients, size: raw.length, use8BitMime: has8bit(raw) }, raw, (sendErr, info) => {
          const out = new Map<string, Outcome>();
          const classify = (e: SendErr): Outcome => {
            const response = oneLine(e.response ?? e.message ?? 'error');
            const code = e.responseCode;
            if (code !== undefined && code >= 500) return { kind: 'permanent', response, host: hop.host, status: statusOf(response, code, '5.0.0') };
            return { kind: 'temporary', response, host: hop.host, status: statusOf(response, code, '4.0.0') };
          };
          if (sendErr) {
            const e = sendErr as SendErr;
            if (e.responseCode === undefined) return done(sendErr); // no SMTP reply: connection problem
            for (const re of e.rejectedErrors ?? []) if (re.recipient) out.set(re.recipient, classify(re));
            for (const r of recipients) if (!out.has(r)) out.set(r, classify(e));
            return done(out);
          }
          if (!info) return done(new Error('no send result'));
          for (const re of (info.rejectedErrors ?? []) as SendErr[]) if (re.recipient) out.set(re.recipient, classify(re));
          for (const r of info.rejected) if (!out.has(r)) out.set(r, { kind: 'permanent', response: 'rejected', host: hop.host, status: '5.0.0' });
          for (const r of info.accepted) out.set(r, { kind: 'delivered', response: oneLine(info.response), host: hop.host });
          for (const r of recipients) if (!out.has(r)) out.set(r, { kind: 'temporary', response: 'no reply for recipient', host: hop.host, status: '4.0.0' });
          done(out);
        });
      });
    });
  }

  async function deliverRemote(domain: string, item: QueueItem, recipients: string[], raw: Buffer): Promise<Map<string, Outcome>> {
    const r = await route(domain);
    const all = (o: Outcome): Map<string, Outcome> => new Map(recipients.map((x) => [x, o]));
    if (!Array.isArray(r)) return all(r);
    let lastErr = 'no route';
    for (const hop of r) {
      const res = await sendVia(hop, item.sender, recipients, raw);
      if (!(res instanceof Error)) return res;
      lastErr = `${hop.host}:${hop.port}: ${oneLine(res.message)}`;
      log.info({ queueId: item.id, host: hop.host, err: res.message }, 'outbound connection failed');
    }
    return all({ kind: 'temporary', response: `451 4.4.1 ${lastErr}`, host: null, status: '4.4.1' });
  }

  async function deliverLocal(item: QueueItem, recipients: string[], raw: Buffer): Promise<Map<string, Outcome>> {
    const parsed = parseMessage(raw);
    const res = await delivery.deliver({ raw, parsed, sender: item.sender, recipients, direction: 'local', clientIp: null, account: item.account, retryPartialFailures: false });
    const out = new Map<string, Outcome>();
    for (const r of res.results) {
      const response = `${r.code} ${r.enhanced} ${r.text}`;
      out.set(
        r.recipient,
        r.outcome === 'delivered'
          ? { kind: 'delivered', response, host: config.organization.hostname }
          : r.code >= 500
            ? { kind: 'permanent', response, host: config.organization.hostname, status: r.enhanced }
            : { kind: 'temporary', response, host: config.organization.hostname, status: r.enhanced },
      );
    }
    return out;
  }

  /** A DSN goes to a local sender's INBOX, else back into the queue (null sender: no loops). */
  async function sendDsn(item: QueueItem, original: Buffer, recipients: DsnRecipient[], now: Date): Promise<void> {
    if (item.sender === '' || recipients.length === 0) return;
    const raw = buildDsn({
      hostname: config.organization.hostname,
      to: item.sender,
      recipients,
      original,
      arrivalDate: item.createdAt,
      now,
      retryUntil: new Date(item.createdAt.getTime() + config.delivery.maxQueueAgeMs),
    });
    if (localDomains.has(domainOf(item.sender))) {
      const parsed = parseMessage(raw);
      await delivery.deliver({ raw, parsed, sender: '', recipients: [item.sender], direction: 'local', clientIp: null, account: null, retryPartialFailures: false });
    } else {
      await store.enqueue({ sender: '', recipients: [item.sender], raw, account: null, messageId: null, now });
    }
  }

  async function processItem(item: QueueItem): Promise<void> {
    const now = clock.now();
    const original = await store.readBlob(item.blobId);
    const local = item.recipients.filter((r) => localDomains.has(domainOf(r)));
    const byDomain = new Map<string, string[]>();
    for (const r of item.recipients) {
      if (localDomains.has(domainOf(r))) continue;
      const d = domainOf(r);
      byDomain.set(d, [...(byDomain.get(d) ?? []), r]);
    }
    const outcomes = new Map<string, Outcome>();
    if (local.length > 0) for (const [r, o] of await deliverLocal(item, local, original)) outcomes.set(r, o);
    if (byDomain.size > 0) {
      const senderDomain = item.sender === '' ? null : domainOf(item.sender);
      let signed = original;
      try {
        signed = await signOutbound(store, original, senderDomain, now);
      } catch (e) {
        log.error({ err: e, queueId: item.id }, 'DKIM signing failed; sending unsigned');
      }
      const results = await Promise.all([...byDomain].map(([d, rs]) => deliverRemote(d, item, rs, signed)));
      for (const m of results) for (const [r, o] of m) outcomes.set(r.toLowerCase(), o);
    }

    const age = now.getTime() - item.createdAt.getTime();
    const expired = age >= config.delivery.maxQueueAgeMs;
    const failed: DsnRecipient[] = [];
    const delayed: DsnRecipient[] = [];
    const remaining: string[] = [];
    const entries: SendLogEntry[] = [];
    let lastError: string | null = null;
    for (const r of item.recipients) {
      const o = outcomes.get(r) ?? { kind: 'temporary', response: '451 4.3.0 not attempted', host: null, status: '4.3.0' };
      const entry: SendLogEntry = {
        at: now,
        direction: 'outbound',
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
      if (o.kind === 'delivered') {
        metrics.messagesOut.inc({ result: 'delivered' });
        if (!localDomains.has(domainOf(r))) entries.push(entry);
        continue;
      }
      lastError = o.response;
      if (o.kind === 'permanent' || expired) {
        const status = o.kind === 'permanent' ? o.status : '4.4.7';
        const diagnostic = o.kind === 'permanent' ? `smtp; ${o.response}` : `smtp; ${o.response} (queue lifetime expired)`;
        failed.push({ recipient: r, action: 'failed', status: o.kind === 'permanent' ? status : '4.4.7', diagnostic, remoteMta: o.host });
        metrics.messagesOut.inc({ result: 'bounced' });
        entries.push({ ...entry, outcome: 'bounced' });
      } else {
        remaining.push(r);
        delayed.push({ recipient: r, action: 'delayed', status: o.status, diagnostic: `smtp; ${o.response}`, remoteMta: o.host });
        metrics.messagesOut.inc({ result: 'deferred' });
        entries.push({ ...entry, outcome: 'deferred' });
      }
    }

    let delayNoticeSent = item.delayNoticeSent;
    try {
      await sendDsn(item, original, failed, now);
      if (remaining.length > 0 && !delayNoticeSent && age >= config.delivery.delayNoticeAfterMs) {
        await sendDsn(item, original, delayed, now);
        delayNoticeSent = true;
      }
    } catch (e) {
      log.error({ err: e, queueId: item.id }, 'could not send a delivery status notification');
    }

    const schedule = config.delivery.retryScheduleMs;
    const delay = schedule[Math.min(item.attempts, schedule.length - 1)] ?? 60_000;
    await store.finishAttempt(item.id, {
      remaining,
      nextAttemptAt: remaining.length > 0 ? new Date(now.getTime() + delay) : null,
      error: lastError,
      delayNoticeSent,
    });
    if (entries.length > 0) {
      try {
        await store.logSend(entries);
      } catch (e) {
        log.error({ err: e }, 'send log write failed');
      }
    }
  }

  async function runOnce(): Promise<number> {
    if (running) return running;
    running = (async () => {
      let total = 0;
      try {
        for (;;) {
          const items = await store.claimDue(clock.now(), config.delivery.concurrency);
          if (items.length === 0) break;
          total += items.length;
          await Promise.all(
            items.map((item) =>
              processItem(item).catch(async (e: unknown) => {
                log.error({ err: e, queueId: item.id }, 'queue item failed; retrying later');
                const delay = config.delivery.retryScheduleMs[0] ?? 60_000;
                await store
                  .finishAttempt(item.id, { remaining: item.recipients, nextAttemptAt: new Date(clock.now().getTime() + delay), error: String(e) })
                  .catch((e2: unknown) => log.error({ err: e2 }, 'finishAttempt failed'));
              }),
            ),
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
      stopped = false;
      schedule();
      return [];
    },
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      if (running) await running;
    },
    healthy: () => healthy,
  };
}
