/**
 * DKIM for outbound mail: one RSA-2048 key per domain in the store's settings
 * (`dkim:<domain>`), made by `buudien dkim generate DOMAIN`; the queue runner signs with
 * the key of the From header's domain (DMARC alignment), else the envelope sender's.
 */
// The signer alone: mailauth's package entry would load BIMI and VMC too (see authresults.ts).
import { dkimSign } from 'mailauth/lib/dkim/sign.js';
import { loadDkimKey, type DkimKey } from '../delivery/dkim-keys.js';
import type { Store } from '../store/port.js';

export { dkimDnsRecord, dkimSettingKey, generateDkimKey, loadDkimKey, type DkimKey } from '../delivery/dkim-keys.js';

/** The domain of the first address in the top-level From header, lower case, or null. */
export function fromHeaderDomain(raw: Buffer): string | null {
  const end = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, end < 0 ? Math.min(raw.length, 64 * 1024) : end).toString('utf8');
  const m = /^From:((?:.*)(?:\r\n[ \t].*)*)/im.exec(head);
  if (!m || m[1] === undefined) return null;
  const value = m[1].replace(/\r\n[ \t]/g, ' ');
  const angle = /<[^<>@\s]+@([^<>\s]+)>/.exec(value) ?? /(?<![^\s<>",;:@])[^\s<>",;:@]+@([A-Za-z0-9.-]+)/.exec(value);
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
