/** Network helpers for IMAP and POP3 (SMTP uses smtp-server's own). See each file's header. */
export { createListenerCounters, createTcpListener, listenError, type Connection, type ListenerCounters, type RefusalReason, type TcpListener, type TcpListenerOptions } from './listener.js';
export { LineReader, type LineReaderOptions, type ReadResult } from './line-reader.js';
export { ConnectionCounter, normalizeIp } from './limits.js';
export { startServerTls, upgradeToTls, type UpgradeOptions } from './starttls.js';
export { loadTlsOptions, type TlsConfigShape, type TlsMaterial } from './tls.js';
