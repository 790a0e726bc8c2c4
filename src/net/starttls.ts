/**
 * STARTTLS / STLS on an accepted plain connection:
 *
 *   const { socket: secure, discarded } = await upgradeToTls(socket, reader, '+OK Begin TLS\r\n', { secureContext });
 *   reader = new LineReader(secure, …);
 *
 * Order matters (STARTTLS injection, CVE-2011-0411): the reader is detached FIRST, throwing away
 * every byte the client sent after the STARTTLS command line, then the reply is written, then
 * TLS starts on the raw socket. Bytes arriving after the detach are fed to the TLS layer, where
 * plaintext can only break the handshake, never run as a command inside TLS.
 * Rejects when the handshake fails or takes longer than handshakeTimeoutMs (the caller closes).
 */
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import type { LineReader } from './line-reader.js';

export interface UpgradeOptions {
  secureContext: SecureContext;
  handshakeTimeoutMs?: number;
}

export async function upgradeToTls(
  socket: Socket,
  reader: LineReader,
  reply: string,
  opts: UpgradeOptions,
): Promise<{ socket: TLSSocket; discarded: number }> {
  const discarded = reader.detach();
  await new Promise<void>((resolve, reject) => {
    socket.write(reply, (err) => (err ? reject(err) : resolve()));
  });
  const secure = await startServerTls(socket, opts);
  return { socket: secure, discarded };
}

/** Server-side TLS on an existing socket; resolves after the handshake. */
export function startServerTls(socket: Socket, opts: UpgradeOptions): Promise<TLSSocket> {
  const secure = new TLSSocket(socket, { isServer: true, secureContext: opts.secureContext });
  return new Promise<TLSSocket>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error('TLS handshake timed out')), opts.handshakeTimeoutMs ?? 30_000);
    timer.unref();
    const fail = (err: Error) => {
      clearTimeout(timer);
      secure.off('secure', ok);
      secure.destroy();
      reject(err);
    };
    const ok = () => {
      clearTimeout(timer);
      secure.off('error', fail);
      secure.off('close', closed);
      resolve(secure);
    };
    const closed = () => fail(new Error('connection closed during the TLS handshake'));
    secure.once('secure', ok);
    secure.once('error', fail);
    secure.once('close', closed);
  });
}
