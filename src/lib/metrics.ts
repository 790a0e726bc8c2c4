/**
 * Prometheus metrics (served by http/ at /metrics). One registry per app instance so tests
 * running several apps do not share counters. Protocol parts receive `Metrics` as a dependency.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  readonly registry: Registry;
  /** Messages accepted, by protocol path: inbound | submission | local | append. */
  messagesIn: Counter<'path'>;
  /** Messages delivered outward (remote SMTP), by result: delivered | deferred | bounced. */
  messagesOut: Counter<'result'>;
  /** Rejections by rule or reason (relay, unknown-recipient, executables, …) and protocol. */
  rejections: Counter<'rule' | 'protocol'>;
  /** Connections accepted, by protocol: smtp | submission | imap | pop3 | http. */
  connections: Counter<'protocol'>;
  /** Connections open now, by protocol. */
  connectionsOpen: Gauge<'protocol'>;
  /** Failed sign-ins by protocol. */
  authFailures: Counter<'protocol'>;
  /** Delivery status notifications given up (still unsent a day after the queue lifetime), by recipient. */
  noticesDropped: Counter;
  /** Filled at scrape time by the app. */
  queueDepth: Gauge;
  storageBytes: Gauge;
}

export function createMetrics(opts: { collectDefaults?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (opts.collectDefaults) collectDefaultMetrics({ register: registry, prefix: 'buudien_' });
  const r = [registry];
  return {
    registry,
    messagesIn: new Counter({ name: 'buudien_messages_in_total', help: 'Messages accepted and stored', labelNames: ['path'], registers: r }),
    messagesOut: new Counter({ name: 'buudien_messages_out_total', help: 'Outbound delivery attempts by result', labelNames: ['result'], registers: r }),
    rejections: new Counter({ name: 'buudien_rejections_total', help: 'Rejections by rule and protocol', labelNames: ['rule', 'protocol'], registers: r }),
    connections: new Counter({ name: 'buudien_connections_total', help: 'Connections accepted by protocol', labelNames: ['protocol'], registers: r }),
    connectionsOpen: new Gauge({ name: 'buudien_connections_open', help: 'Open connections by protocol', labelNames: ['protocol'], registers: r }),
    authFailures: new Counter({ name: 'buudien_auth_failures_total', help: 'Failed sign-ins by protocol', labelNames: ['protocol'], registers: r }),
    noticesDropped: new Counter({ name: 'buudien_notices_dropped_total', help: 'Delivery status notifications given up unsent, by recipient', registers: r }),
    queueDepth: new Gauge({ name: 'buudien_queue_depth', help: 'Messages waiting in the outbound queue', registers: r }),
    storageBytes: new Gauge({ name: 'buudien_storage_bytes', help: 'Bytes used by message blobs', registers: r }),
  };
}
