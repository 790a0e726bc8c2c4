/**
 * DKIM keys per domain, kept in the store's settings as `dkim:<domain>` (JSON). Here, not in
 * smtp/, so the CLI (`buudien dkim generate`) may use it; smtp/dkim.ts signs with them.
 */
import { generateKeyPair as generateKeyPairCb } from 'node:crypto';
import { promisify } from 'node:util';
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

