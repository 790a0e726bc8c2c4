/**
 * Envelope address classification for relay decisions (SECURITY-NOTES: open relay).
 * The disguise checks (%-hack, bang paths, `a@ext@local`, source routes, IP literals, trailing
 * dots, full-width or ideographic dots and look-alikes) live in one place,
 * `parseEnvelopeAddress` in mail/addresses.ts. What is SMTP-specific stays here: the relay
 * path is stricter still (no quoted local parts at all, no single-label domains, no `<>`
 * since smtp-server already stripped them), the address is lower-cased for routing, and it
 * is classed local or remote against the served domains.
 */
import { parseEnvelopeAddress } from '../mail/addresses.js';

export type AddressClass =
  | { kind: 'local'; address: string; localPart: string; domain: string }
  | { kind: 'remote'; address: string; localPart: string; domain: string }
  | { kind: 'invalid'; reason: string };

/** Classify an envelope address ("" is the null sender and is not an address here). */
export function classifyAddress(raw: string, localDomains: ReadonlySet<string>): AddressClass {
  if (raw.length === 0) return { kind: 'invalid', reason: 'empty' };
  // Quoted local parts are never routed, even a plain `"lan"`; angle brackets were the path's;
  // no whitespace anywhere (mail/ trims it).
  if (/[\s"<>]/.test(raw)) return { kind: 'invalid', reason: 'forbidden character' };
  const parsed = parseEnvelopeAddress(raw);
  if (parsed === null) return { kind: 'invalid', reason: 'address' };
  // A relay target is a hostname with at least two labels ("localhost" is not routed).
  if (!parsed.domain.includes('.')) return { kind: 'invalid', reason: 'domain' };
  const localPart = parsed.local.toLowerCase();
  const domain = parsed.domain;
  const address = `${localPart}@${domain}`;
  return localDomains.has(domain) ? { kind: 'local', address, localPart, domain } : { kind: 'remote', address, localPart, domain };
}
