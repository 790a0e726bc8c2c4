/**
 * DKIM for outbound mail: one RSA-2048 key per domain in the store's settings
 * (`dkim:<domain>`), made by `buudien dkim generate DOMAIN`; the queue runner signs with
 * the key of the From header's domain (DMARC alignment), else the envelope sender's.
 */
import { generateKeyPair as generateKeyPairCb } from 'node:crypto';
import { promisify } from 'node:util';
import { dkimSign } from 'mailauth';
import type { Store } from '../store/port.js';

const generateKeyPair = promisify(generateKeyPairCb);

export interface DkimKey {
  domain: string;
  selector: string;
  /** PKCS#8 PEM. */
  privateKey: string;
  /** Base64 DER (SubjectPublicKeyInfo), the p= value. */
  publicKey: string;
  createdAt: string;
}

export const dkimSettingKey = (domain: string): string => `dkim:${domain.toLowerCase()}`;

/** The DNS TXT record to publish: name and value. */
export function dkimDnsRecord(key: Pick<DkimKey, 'domain' | 'selector' | 'publicKey'>): { name: string; value: string } {
  return { name: `${key.selector}._domainkey.${key.domain}`, value: `v=DKIM1; k=rsa; p=${key.publicKey}` };
}

/** Create (or replace) the domain's RSA-2048 key and store it. */
export async function generateDkimKey(store: Pick<Store, 'setSetting'>, domain: string, selector: string, now: Date): Promise<DkimKey> {
  const { publicKey, privateKey } = await generateKeyPair('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const key: DkimKey = { domain: domain.toLowerCase(), selector, privateKey, publicKey: publicKey.toString('base64'), createdAt: now.toISOString() };
  await store.setSetting(dkimSettingKey(domain), JSON.stringify(key));
  return key;
}

export async function loadDkimKey(store: Pick<Store, 'getSetting'>, domain: string): Promise<DkimKey | null> {
  const v = await store.getSetting(dkimSettingKey(domain));
  if (!v) return null;
  try {
    const k = JSON.parse(v) as Partial<DkimKey>;
    if (typeof k.privateKey !== 'string' || typeof k.selector !== 'string' || typeof k.publicKey !== 'string') return null;
    return { domain: domain.toLowerCase(), selector: k.selector, privateKey: k.privateKey, publicKey: k.publicKey, createdAt: k.createdAt ?? '' };
  } catch {
    return null;
  }
}

/** The domain of the first address in the top-level From header, lower case, or null. */
export function fromHeaderDomain(raw: Buffer): string | null {
  const end = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, end < 0 ? Math.min(raw.length, 64 * 1024) : end).toString('utf8');
  const m = /^From:((?:.*)(?:\r\n[ \t].*)*)/im.exec(head);
  if (!m || m[1] === undefined) return null;
  const value = m[1].replace(/\r\n[ \t]/g, ' ');
  const angle = /<[^<>@\s]+@([^<>\s]+)>/.exec(value) ?? /[^\s<>",;:@]+@([A-Za-z0-9.-]+)/.exec(value);
  return angle?.[1] ? angle[1].toLowerCase().replace(/\.$/, '') : null;
}

/** Prepend a DKIM-Signature made with `key` (relaxed/relaxed, rsa-sha256). */
export async function signWithKey(raw: Buffer, key: DkimKey, now: Date): Promise<Buffer> {
  const one = { signingDomain: key.domain, selector: key.selector, privateKey: key.privateKey, canonicalization: 'relaxed/relaxed', algorithm: 'rsa-sha256' };
  // mailauth signs the entries of signatureData (top-level keys alone produce no signature).
  const r = await dkimSign(raw, { ...one, signTime: now, signatureData: [one] });
  if (r.errors.length > 0 || !/^DKIM-Signature:/i.test(r.signatures)) throw r.errors[0] ?? new Error('DKIM signing produced no signature');
  const sig = r.signatures.endsWith('\r\n') ? r.signatures : `${r.signatures}\r\n`;
  return Buffer.concat([Buffer.from(sig, 'utf8'), raw]);
}

/** Sign with the From domain's key (else the sender domain's); unchanged when we hold neither. */
export async function signOutbound(store: Pick<Store, 'getSetting'>, raw: Buffer, senderDomain: string | null, now: Date): Promise<Buffer> {
  for (const d of [fromHeaderDomain(raw), senderDomain]) {
    if (!d) continue;
    const key = await loadDkimKey(store, d);
    if (key) return signWithKey(raw, key, now);
  }
  return raw;
}
