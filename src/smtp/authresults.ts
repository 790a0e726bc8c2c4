/**
 * SPF, DKIM and DMARC on inbound mail (mailauth), written as one Authentication-Results
 * header (RFC 8601) and a verdict for DMARC p=reject (config smtp.dmarcRejectAction).
 *
 * mailauth's three checks are imported one by one, not through its package entry: the entry
 * also loads BIMI and VMC (an HTTP client, X.509 and XML parsers), which we never run; they
 * cost the server about 12 MB of memory.
 */
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
// First: mailauth's relaxed canonicalization, corrected before its modules load (mailauth-fix.ts).
import './mailauth-fix.js';
import type { DKIMVerifyResult, DMARCResult, DNSResolver, SPFOptions, SPFResult } from 'mailauth';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { dmarc } from 'mailauth/lib/dmarc/index.js';
import { spf } from 'mailauth/lib/spf/index.js';
import { stripComments } from '../mail/headers.js';

/** The part of mailauth's result the header is composed from. */
export interface AuthCheckResults {
  spf: SPFResult | false;
  dkim: Pick<DKIMVerifyResult, 'results'>;
  dmarc: DMARCResult | false;
}

export interface AuthVerdict {
  /** The complete header line (folded with CRLF + space), without the trailing CRLF. */
  header: string;
  /** Set when the From domain publishes p=reject and the message fails DMARC. */
  dmarcReject: { domain: string } | null;
  /** Short lines for the send log, e.g. "spf=fail", "dmarc=fail (p=reject)". */
  findings: string[];
}

export type DnsResolver = DNSResolver;

// A result token or property value must not carry line breaks or a ";" that would end the resinfo.
function clean(s: string | undefined): string {
  if (s === undefined) return '';
  return s.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
}

function resinfo(info: string | undefined, fallback: string): string {
  const v = clean(info ?? '');
  return v.length > 0 ? v : fallback;
}

/** RFC 8601 header from mailauth's results: `Authentication-Results: host; spf=…; dkim=…; dmarc=…`. */
export function composeAuthenticationResults(hostname: string, r: AuthCheckResults): AuthVerdict {
  const parts: string[] = [];
  const findings: string[] = [];
  if (r.spf) {
    parts.push(resinfo(r.spf.info, `spf=${r.spf.status.result}`));
    if (r.spf.status.result !== 'pass') findings.push(`spf=${r.spf.status.result}`);
  } else {
    parts.push('spf=none');
  }
  const sigs = r.dkim.results ?? [];
  if (sigs.length === 0) parts.push('dkim=none');
  for (const s of sigs) {
    const d = clean(s.signingDomain ?? '');
    parts.push(resinfo(s.info, d ? `dkim=${s.status.result} header.d=${d}` : `dkim=${s.status.result}`));
    if (s.status.result !== 'pass' && s.status.result !== 'none') findings.push(d ? `dkim=${s.status.result} (${d})` : `dkim=${s.status.result}`);
  }
  let dmarcReject: { domain: string } | null = null;
  if (r.dmarc) {
    parts.push(resinfo(r.dmarc.info, `dmarc=${r.dmarc.status.result}`));
    if (r.dmarc.status.result === 'fail') {
      const policy = r.dmarc.policy || r.dmarc.p;
      findings.push(`dmarc=fail (p=${clean(policy ?? 'none')})`);
      if (policy === 'reject') dmarcReject = { domain: r.dmarc.domain };
    }
  } else {
    parts.push('dmarc=none');
  }
  const header = `Authentication-Results: ${clean(hostname)};\r\n ${parts.join(';\r\n ')}`;
  return { header, dmarcReject, findings };
}

export interface CheckInput {
  raw: Buffer;
  ip: string;
  helo: string;
  /** Envelope sender ("" for the null sender). */
  sender: string;
  hostname: string;
  resolver?: DnsResolver;
  /**
   * The domains of every address in the From field, group members included, as our parser read
   * them. mailauth's DMARC check takes exactly one address and gives no result otherwise; with
   * these, each domain is checked and the strictest failure counts (RFC 7489 §6.6.1).
   */
  fromDomains?: readonly string[];
}

/** At most this many From domains are looked up (each is a DNS query for its policy). */
const MAX_FROM_DOMAINS = 10;

/** Which of several DMARC results to report: a failure under p=reject, else any failure, else the first. */
function strictest(results: DMARCResult[]): DMARCResult | false {
  const failed = results.filter((r) => r.status.result === 'fail');
  return failed.find((r) => (r.policy || r.p) === 'reject') ?? failed[0] ?? results[0] ?? false;
}

/**
 * Evaluate DKIM, then SPF, then DMARC over the two (DNS through `resolver` when given), and
 * compose the header. DMARC (RFC 7489 §4.2) passes on an SPF pass for the MAIL FROM domain or a
 * DKIM pass, either aligned with the From domain; mailauth's dmarc() checks the alignment.
 */
export async function checkAuthentication(input: CheckInput): Promise<AuthVerdict> {
  const resolver = input.resolver;
  const dkim = await dkimVerify(input.raw, { sender: input.sender, ...(resolver ? { resolver } : {}) });
  // RFC 7208 §2.3: with no HELO name the check uses the IP; an address literal goes in brackets.
  const helo = input.helo || input.ip;
  const spfOpts: SPFOptions = { ip: input.ip, helo: isIP(helo) ? `[${helo}]` : helo, sender: input.sender, mta: input.hostname };
  if (resolver) spfOpts.resolver = resolver;
  const spfResult = await spf(spfOpts);
  const spfDomains = spfResult.status.result === 'pass' && spfResult.domain ? [spfResult.domain] : [];
  const dkimDomains = (dkim.results ?? [])
    .filter((r) => r.status.result === 'pass')
    .map((r) => ({ domain: r.signingDomain, ...(r.id !== undefined ? { id: r.id } : {}), ...(r.status.underSized !== undefined ? { underSized: r.status.underSized } : {}) }));
  const check = (headerFrom: string | string[]): Promise<DMARCResult | false> => dmarc({ headerFrom, spfDomains, dkimDomains, ...(resolver ? { resolver } : {}) });
  const domains = [...new Set((input.fromDomains ?? []).map((d) => d.toLowerCase().replace(/\.$/, '')).filter((d) => d !== ''))];
  let dmarcResult: DMARCResult | false = false;
  if (domains.length > 1 || (domains.length === 1 && dkim.headerFrom?.length !== 1)) {
    // Several From domains (or a group, which mailauth does not read): each is checked; a
    // spoofed address next to an innocent one must not slip past the spoofed domain's policy.
    const results: DMARCResult[] = [];
    for (const d of domains.slice(0, MAX_FROM_DOMAINS)) {
      const r = await check(`postmaster@${d}`);
      if (r) results.push(r);
    }
    dmarcResult = strictest(results);
  } else if (dkim.headerFrom) {
    dmarcResult = await check(dkim.headerFrom);
  }
  return composeAuthenticationResults(input.hostname, { spf: spfResult, dkim, dmarc: dmarcResult });
}

/**
 * The authserv-id of an Authentication-Results field value (RFC 8601 §2.2: `[CFWS] authserv-id`,
 * a token or a quoted string), lower-cased and without a trailing dot; null when there is none.
 */
export function authservIdOf(raw: string): string | null {
  const value = stripComments(raw).trimStart();
  let i = 0;
  let id = '';
  if (value[i] === '"') {
    for (i++; i < value.length && value[i] !== '"'; i++) {
      if (value[i] === '\\') i++;
      id += value[i] ?? '';
    }
  } else {
    // RFC 2045 token: up to white space, a control or a tspecial ("/" starts no authres-version
    // without CFWS, but a lenient reader would stop there too, so it ends the id here as well).
    const m = /^[^\s\p{Cc}()<>@,;:\\"/[\]?=]+/u.exec(value.slice(i));
    id = m ? m[0] : '';
  }
  id = id.trim().toLowerCase().replace(/\.$/, '');
  return id.length > 0 ? id : null;
}

/**
 * RFC 8601 §5: an MTA MUST delete an incoming Authentication-Results field that claims to come
 * from itself (its authserv-id is ours), or the recipient's client would trust a forged verdict.
 * Compared case-insensitively, without a trailing dot, and as A-labels for an internationalised name.
 */
export function isOwnAuthResults(value: string, hostname: string): boolean {
  const id = authservIdOf(value);
  if (id === null) return false;
  const ours = hostname.trim().toLowerCase().replace(/\.$/, '');
  if (id === ours) return true;
  const a = domainToASCII(id);
  return a !== '' && a === domainToASCII(ours);
}
