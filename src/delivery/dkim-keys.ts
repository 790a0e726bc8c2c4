/**
 * DKIM keys per domain, kept in the store's settings as `dkim:<domain>` (JSON). Here, not in
 * smtp/, so the CLI (`buudien dkim generate`) may use it; smtp/dkim.ts signs with them.
 */
import { createPrivateKey, generateKeyPair as generateKeyPairCb } from 'node:crypto';
import { promisify } from 'node:util';
import { bi, MailError } from '../lib/errors.js';
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

/**
 * The domain's key, or null if it has none. A record that cannot be read (not JSON, a field
 * missing, a private key that does not parse) throws, naming the domain and the way out: mail
 * is not to go out unsigned without a word in the log.
 */
export async function loadDkimKey(store: Pick<Store, 'getSetting'>, domain: string): Promise<DkimKey | null> {
  const v = await store.getSetting(dkimSettingKey(domain));
  if (!v) return null;
  try {
    const k = JSON.parse(v) as Partial<DkimKey> | null;
    if (typeof k?.privateKey !== 'string' || typeof k.selector !== 'string' || typeof k.publicKey !== 'string') throw new Error('a field is missing');
    createPrivateKey(k.privateKey);
    return { domain: domain.toLowerCase(), selector: k.selector, privateKey: k.privateKey, publicKey: k.publicKey, createdAt: k.createdAt ?? '' };
  } catch (e) {
    const d = domain.toLowerCase();
    throw new MailError(
      'INTERNAL',
      bi(`Khóa DKIM đã lưu của ${d} bị hỏng, thư gửi đi không được ký; tạo khóa mới: buudien dkim generate ${d} --force`, `The stored DKIM key of ${d} is corrupt, outbound mail goes unsigned; make a new one: buudien dkim generate ${d} --force`),
      e,
    );
  }
}
