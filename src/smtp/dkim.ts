/**
 * DKIM for outbound mail: one RSA-2048 key per domain in the store's settings
 * (`dkim:<domain>`), made by `buudien dkim generate DOMAIN`; the queue runner signs with
 * the key of the From header's domain, or of the served domain it is a subdomain of
 * (a DSN's MAILER-DAEMON@<organization.hostname>), both aligned under DMARC's relaxed
 * alignment; else with the envelope sender's.
 */
import { sign } from 'node:crypto';
import { createRequire } from 'node:module';
import { loadDkimKey, type DkimKey } from '../delivery/dkim-keys.js';
import type { Store } from '../store/port.js';
import { relaxedLine } from './mailauth-fix.js';

export { dkimDnsRecord, dkimSettingKey, generateDkimKey, loadDkimKey, type DkimKey } from '../delivery/dkim-keys.js';

// mailauth's signer signs each header present whose name it is given, once: it cannot list a
// name more times than it occurs (over-signing). Its canonicalization, header selection (the
// verifier's) and formatting are used here with our own h=; its modules alone, not the package
// entry, which would load BIMI and VMC too (see authresults.ts).
interface HeaderRow { key: string | null; line: Buffer }
const load = createRequire(import.meta.url);
const tools = load('mailauth/lib/tools.js') as {
  parseHeaders(head: Buffer): { parsed: HeaderRow[] };
  getSigningHeaderLines(rows: HeaderRow[], names: string, verify: true): { headers: HeaderRow[] };
  formatSignatureHeaderLine(type: 'DKIM', values: Record<string, unknown>, folded: true): string;
};
const { relaxedHeaders } = load('mailauth/lib/dkim/header/relaxed.js') as {
  relaxedHeaders(type: 'DKIM', lines: { keys: string; headers: HeaderRow[] }, opts: Record<string, unknown>): { canonicalizedHeader: Buffer; dkimHeaderOpts: Record<string, unknown> };
};
const { dkimBody } = load('mailauth/lib/dkim/body/index.js') as {
  dkimBody(canonicalization: 'relaxed', hash: 'sha256', maxLength: false): { update(b: Buffer): void; digest(enc: 'base64'): string };
};

/** The fields signed (h=): what a reader sees and what threads a message. Absent ones are listed once, so adding one breaks the signature. */
const SIGNED = ['From', 'Subject', 'Date', 'To', 'Cc', 'Reply-To', 'Sender', 'Message-ID', 'MIME-Version', 'Content-Type', 'Content-Transfer-Encoding', 'In-Reply-To', 'References'];
/** Listed once more than they occur (RFC 6376 §5.4.2, §8.15): a second From added above the signed one breaks it too. */
const OVERSIGNED = new Set(['From', 'Subject', 'Reply-To', 'To', 'Cc', 'Sender', 'Date']);

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

/**
 * The message with a DKIM-Signature made with `key` prepended (relaxed/relaxed, rsa-sha256).
 * A message of header fields alone (RFC 5322 §3.5) gets an empty body first: what is sent is
 * what was signed.
 */
export async function signWithKey(raw: Buffer, key: DkimKey, now: Date): Promise<Buffer> {
  const message = raw.includes('\r\n\r\n') ? raw : Buffer.concat([raw, Buffer.from(raw.subarray(-2).toString() === '\r\n' ? '\r\n' : '\r\n\r\n')]);
  const split = message.indexOf('\r\n\r\n') + 2;
  const rows = tools.parseHeaders(message.subarray(0, split)).parsed;
  const h = SIGNED.flatMap((name) => {
    const n = rows.filter((r) => r.key === name.toLowerCase()).length;
    return Array<string>(n + (n === 0 || OVERSIGNED.has(name) ? 1 : 0)).fill(name);
  }).join(': ');
  const body = dkimBody('relaxed', 'sha256', false);
  body.update(message.subarray(split + 2));
  // mailauth makes and canonicalizes the DKIM-Signature field (ASCII); the message's fields are
  // canonicalized with relaxedLine (mailauth-fix.ts: mailauth's own mangles UTF-8 fields).
  const { canonicalizedHeader: signatureField, dkimHeaderOpts } = relaxedHeaders(
    'DKIM',
    { keys: h, headers: [] },
    { signingDomain: key.domain, selector: key.selector, algorithm: 'rsa-sha256', canonicalization: 'relaxed/relaxed', bodyHash: body.digest('base64'), signTime: now },
  );
  const fields = tools.getSigningHeaderLines(rows, h, true).headers.map((r) => relaxedLine(r.line, '\r\n'));
  const b = sign('sha256', Buffer.concat([...fields, signatureField]), key.privateKey).toString('base64');
  return Buffer.concat([Buffer.from(`${tools.formatSignatureHeaderLine('DKIM', { ...dkimHeaderOpts, b }, true)}\r\n`, 'utf8'), message]);
}

/** The key of `domain`, else of the nearest parent domain that has one (mail.nghean.gov.vn → nghean.gov.vn). */
async function keyFor(store: Pick<Store, 'getSetting'>, domain: string): Promise<DkimKey | null> {
  for (let d = domain; d.includes('.'); d = d.slice(d.indexOf('.') + 1)) {
    const key = await loadDkimKey(store, d);
    if (key) return key;
  }
  return null;
}

/**
 * Sign with the From domain's key (or its parent's), else the sender domain's; unchanged when we
 * hold none. A stored key that cannot be read throws, naming its domain (the queue logs it and
 * sends unsigned).
 */
export async function signOutbound(store: Pick<Store, 'getSetting'>, raw: Buffer, senderDomain: string | null, now: Date): Promise<Buffer> {
  for (const d of [fromHeaderDomain(raw), senderDomain]) {
    const key = d ? await keyFor(store, d) : null;
    if (key) return signWithKey(raw, key, now);
  }
  return raw;
}
