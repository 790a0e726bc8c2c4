/**
 * The TLS material every listener shares:
 *
 *   const tls = loadTlsOptions(config, config.storage.dir, log);
 *   tls.secureContext   // for implicit-TLS listeners and STARTTLS/STLS upgrades
 *   tls.key, tls.cert   // PEM, for libraries that want them (smtp-server)
 *
 * With tls.certFile and tls.keyFile set, both are read (an unreadable file throws: the server
 * must not start without its certificate). With neither, a self-signed pair is made once under
 * <dir>/tls/ (RSA 2048, SHA-256, 10 years, CN = organization.hostname) and re-used on later
 * starts; a warning says clients will complain. minVersion defaults to TLSv1.2.
 * (net/ may not import config/: the config is taken by shape.)
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import type Selfsigned from 'selfsigned';
import type { Logger } from '../lib/log.js';

export interface TlsConfigShape {
  tls: { certFile: string | null; keyFile: string | null; minVersion: 'TLSv1.2' | 'TLSv1.3' };
  organization?: { hostname: string };
}

export interface TlsMaterial {
  key: string;
  cert: string;
  minVersion: 'TLSv1.2' | 'TLSv1.3';
  secureContext: SecureContext;
  selfSigned: boolean;
  certFile: string;
  keyFile: string;
}

export function loadTlsOptions(config: TlsConfigShape, dir: string, log: Logger): TlsMaterial {
  const { certFile, keyFile, minVersion } = config.tls;
  if ((certFile === null) !== (keyFile === null)) {
    throw new Error('tls: expected both certFile and keyFile, or neither');
  }
  let material: { key: string; cert: string; certFile: string; keyFile: string; selfSigned: boolean };
  if (certFile !== null && keyFile !== null) {
    material = { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8'), certFile, keyFile, selfSigned: false };
  } else {
    material = selfSignedPair(path.join(dir, 'tls'), config.organization?.hostname ?? 'localhost', log);
  }
  const secureContext = createSecureContext({ key: material.key, cert: material.cert, minVersion });
  return { ...material, minVersion, secureContext };
}

function selfSignedPair(tlsDir: string, hostname: string, log: Logger) {
  const certFile = path.join(tlsDir, 'self-signed.crt');
  const keyFile = path.join(tlsDir, 'self-signed.key');
  if (existsSync(certFile) && existsSync(keyFile)) {
    return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8'), certFile, keyFile, selfSigned: true };
  }
  mkdirSync(tlsDir, { recursive: true, mode: 0o700 });
  // Node makes the key natively (fast); selfsigned only builds and signs the certificate.
  const pair = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  // Loaded only here, on the one start that makes the pair: it brings node-forge (about 10 MB
  // of memory) that a server with its certificate, or with the pair already made, never needs.
  const selfsigned = createRequire(import.meta.url)('selfsigned') as typeof Selfsigned;
  // selfsigned 2.x accepts `keyPair` (PEM) though its typings omit it.
  const options: NonNullable<Parameters<typeof Selfsigned.generate>[1]> & { keyPair: { privateKey: string; publicKey: string } } = {
    days: 3650,
    algorithm: 'sha256',
    keyPair: { privateKey: pair.privateKey, publicKey: pair.publicKey },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: hostname }, { type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
    ],
  };
  const made = selfsigned.generate([{ name: 'commonName', value: hostname }], options);
  writeFileSync(keyFile, made.private, { mode: 0o600 });
  writeFileSync(certFile, made.cert, { mode: 0o644 });
  log.warn(
    { certFile, keyFile, hostname },
    'tls: no certFile/keyFile configured; made a self-signed certificate (clients will warn). Set tls.certFile and tls.keyFile for production',
  );
  return { key: made.private, cert: made.cert, certFile, keyFile, selfSigned: true };
}
