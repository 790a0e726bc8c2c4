/**
 * SPF, DKIM and DMARC on inbound mail (mailauth), written as one Authentication-Results
 * header (RFC 8601) and a verdict for DMARC p=reject (config smtp.dmarcRejectAction).
 */
import { authenticate, type AuthenticateOptions, type DKIMVerifyResult, type DMARCResult, type SPFResult } from 'mailauth';

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

export type DnsResolver = NonNullable<AuthenticateOptions['resolver']>;

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
}

/** Evaluate SPF/DKIM/DMARC (DNS through `resolver` when given) and compose the header. */
export async function checkAuthentication(input: CheckInput): Promise<AuthVerdict> {
  const opts: AuthenticateOptions = {
    ip: input.ip,
    helo: input.helo,
    sender: input.sender,
    mta: input.hostname,
    disableArc: true,
    disableBimi: true,
  };
  if (input.resolver) opts.resolver = input.resolver;
  const r = await authenticate(input.raw, opts);
  return composeAuthenticationResults(input.hostname, { spf: r.spf, dkim: r.dkim, dmarc: r.dmarc });
}
