/**
 * Envelope address classification for relay decisions (SECURITY-NOTES: open relay).
 * Relaying is decided on the same parsed address that routing uses, and only a plain
 * `dot-atom@hostname` is ever routed. Everything a lenient parser might re-interpret —
 * %-hack, bang paths, quoted local parts, `a@ext@local`, source routes, IP literals,
 * trailing dots, full-width or ideographic dots — is refused, never "normalised".
 */
import { domainToASCII } from 'node:url';

export type AddressClass =
  | { kind: 'local'; address: string; localPart: string; domain: string }
  | { kind: 'remote'; address: string; localPart: string; domain: string }
  | { kind: 'invalid'; reason: string };

// RFC 5322 atext without "%" and "!" (%-hack, bang paths); UTF-8 letters and digits for SMTPUTF8.
const ATOM = "[\\p{L}\\p{M}\\p{N}#$&'*+/=?^_`{|}~-]+";
const LOCAL_PART = new RegExp(`^${ATOM}(?:\\.${ATOM})*$`, 'u');
const ASCII_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const UNICODE_LABEL = /^[\p{L}\p{M}\p{N}](?:[\p{L}\p{M}\p{N}-]*[\p{L}\p{M}\p{N}])?$/u;

/** A hostname made of LDH labels separated by ASCII dots only (U-labels allowed, converted to A-labels). */
export function normaliseDomain(domain: string): string | null {
  if (domain.length === 0 || domain.length > 253) return null;
  const labels = domain.split('.');
  if (labels.length < 2) return null;
  for (const label of labels) {
    if (!ASCII_LABEL.test(label.toLowerCase()) && !UNICODE_LABEL.test(label)) return null;
  }
  const ascii = domainToASCII(domain.toLowerCase());
  if (!ascii || ascii.endsWith('.')) return null;
  // IDNA must not have changed the label structure (it maps U+3002/U+FF0E to "."):
  if (ascii.split('.').length !== labels.length) return null;
  if (!ascii.split('.').every((l) => ASCII_LABEL.test(l))) return null;
  return ascii;
}

/** Classify an envelope address ("" is the null sender and is not an address here). */
export function classifyAddress(raw: string, localDomains: ReadonlySet<string>): AddressClass {
  if (raw.length === 0) return { kind: 'invalid', reason: 'empty' };
  if (raw.length > 320) return { kind: 'invalid', reason: 'too long' };
  if (/[\s\u0000-\u001f\u007f"\\<>()[\]:;,]/.test(raw)) return { kind: 'invalid', reason: 'forbidden character' };
  const at = raw.indexOf('@');
  if (at <= 0 || at !== raw.lastIndexOf('@')) return { kind: 'invalid', reason: 'one @ expected' };
  const localPart = raw.slice(0, at);
  const domainRaw = raw.slice(at + 1);
  if (localPart.length > 64 || !LOCAL_PART.test(localPart)) return { kind: 'invalid', reason: 'local part' };
  const domain = normaliseDomain(domainRaw);
  if (domain === null) return { kind: 'invalid', reason: 'domain' };
  const lp = localPart.toLowerCase();
  const address = `${lp}@${domain}`;
  return localDomains.has(domain) ? { kind: 'local', address, localPart: lp, domain } : { kind: 'remote', address, localPart: lp, domain };
}

/** Domain part of a clean address (lower case), or null. */
export function domainOf(address: string): string | null {
  const at = address.lastIndexOf('@');
  return at < 0 ? null : address.slice(at + 1).toLowerCase();
}
