/**
 * A correction to mailauth 4.13's DKIM "relaxed" header canonicalization (RFC 6376 §3.4.2),
 * which signing (dkim.ts) and checking (authresults.ts) both use. mailauth collapses runs of
 * JavaScript's `\s` on the field read as bytes, and `\s` takes byte 0xA0 too: the second byte of
 * "à", "Ơ", "Ạ" in UTF-8. A raw UTF-8 field (RFC 6532) such as "Subject: Họp tại Hà Nội" was
 * then signed as something other verifiers (Gmail, OpenDKIM, dkimpy) do not compute, and their
 * correct signatures failed here. Only SP and HTAB are whitespace (WSP, RFC 5234).
 *
 * mailauth's modules take the function from tools.js when they first load, so this module must
 * run before any of them does: authresults.ts imports it first (in the server nothing else loads
 * mailauth). Where something loaded mailauth's checker earlier (a test's own verifier), the
 * correction cannot reach it and `fixApplied` says so. The signer (dkim.ts) canonicalizes the
 * fields it signs with relaxedLine itself, whatever the order.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** One header field (with its line breaks), canonicalized "relaxed", byte for byte, then `suffix`. */
export function relaxedLine(line: Buffer | string | null | undefined, suffix = ''): Buffer {
  const s = (Buffer.isBuffer(line) ? line.toString('latin1') : String(line ?? '')).replace(/\r?\n/g, '');
  const colon = s.indexOf(':');
  const name = colon < 0 ? '' : s.slice(0, colon).replace(/[ \t]+/g, '').toLowerCase();
  const value = (colon < 0 ? s : s.slice(colon + 1)).replace(/[ \t]+/g, ' ').replace(/^ /, '').replace(/ $/, '');
  return Buffer.from(`${colon < 0 ? '' : `${name}:`}${value}${suffix}`, 'latin1');
}

/** Whether mailauth's checker will canonicalize with relaxedLine (false: it had loaded before this module). */
export const fixApplied = require.cache[require.resolve('mailauth/lib/dkim/header/relaxed.js')] === undefined;
(require('mailauth/lib/tools.js') as { formatRelaxedLine: typeof relaxedLine }).formatRelaxedLine = relaxedLine;
