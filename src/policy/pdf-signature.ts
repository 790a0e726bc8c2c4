/**
 * R-POL-7: is a PDF digitally signed, and does its signature hold? (ISO 32000-1 §12.8, the
 * signature dictionary; RFC 5652, CMS SignedData.)
 *
 * A signature lives in a signature dictionary written in the file's plain bytes: `/Contents`
 * holds the CMS (PKCS #7) signature as a hex string and `/ByteRange [a b c d]` names the two
 * stretches of the file it covers — everything but that hex string. Because the hole is a byte
 * range of the file itself, the dictionary cannot sit in a compressed object stream, so reading
 * the raw bytes finds every signature. For each one:
 * - the ranges must be well formed: the first starts at 0, the hole between them is exactly the
 *   `<…>` hex string that follows `/Contents`, the second ends inside the file;
 * - the digest of the two ranges must equal the CMS's signed `messageDigest` attribute (else the
 *   document was changed after signing);
 * - the CMS signature must verify with the public key of the signer's certificate, which the
 *   CMS carries (RSA PKCS #1 v1.5, RSA-PSS, ECDSA).
 * A document time stamp (`/SubFilter /ETSI.RFC3161`) is no one's signature and is skipped.
 * Whose certificate it is is judged only against the authorities given (SignatureTrust: a chain
 * to one of them, each certificate valid at signing); revocation (CRL, OCSP) is not checked.
 */
import { createHash, verify, X509Certificate, constants } from 'node:crypto';
import type forge from 'node-forge';
import { matchesOf } from '../lib/regex.js';

/**
 * node-forge (its ASN.1 reader), loaded the first time a PDF holds a signature dictionary: the
 * server does not carry it in memory until a unit sends a signed document.
 */
let F!: typeof forge;

export type PdfSignatureState =
  /** Not a PDF at all (no `%PDF-` header in its first KiB). */
  | { kind: 'not-pdf' }
  /** A PDF with no signature dictionary. */
  | { kind: 'unsigned' }
  /** At least one signature that holds; `signer` is its certificate's subject common name. */
  | { kind: 'signed'; signer: string | null }
  /** Signed with an algorithm not checked here: counted as signed, not verified. */
  | { kind: 'unverified'; detail: string }
  /** The signature holds, but its certificate is not certified by a trusted authority (or is not valid at submission). */
  | { kind: 'untrusted'; signer: string | null; detail: string }
  /** The latest signature does not hold: `detail` says why. */
  | { kind: 'invalid'; detail: string };

export interface SignatureTrust {
  /**
   * Certification authorities (policy.signingAuthorities): when any is given, a signer's
   * certificate must chain to one of them through the certificates the signature carries (or the
   * authorities themselves), each valid at `at`. Revocation is not checked.
   */
  authorities?: readonly X509Certificate[];
  /**
   * When the certificates must be valid: the message's submission (default now). Not the signature's
   * own signingTime, which the signer writes: a back-dated one would let an expired certificate sign.
   */
  at?: Date;
}

/** Signature dictionaries looked at per file; a real document has a few. */
const MAX_SIGNATURES = 16;
/** Places the word `/ByteRange` is looked at, signature or not (a file full of the word stays cheap). */
const MAX_KEYS = 256;
/** Certificates read from one signature (a signer's chain is a few). */
const MAX_CERTIFICATES = 20;
/** A CMS signature's hex string longer than this is not looked at (real ones are under 64 KiB). */
const MAX_CONTENTS_HEX = 2 * 1024 * 1024;

const OID = {
  signedData: '1.2.840.113549.1.7.2',
  messageDigest: '1.2.840.113549.1.9.4',
  rsaEncryption: '1.2.840.113549.1.1.1',
  rsaPss: '1.2.840.113549.1.1.10',
} as const;

/** Digest algorithm OIDs → Node hash names. */
const HASHES: Readonly<Record<string, string>> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
  '2.16.840.1.101.3.4.2.4': 'sha224',
};

/** Signature algorithm OIDs that name the hash too (RSA PKCS #1 v1.5, ECDSA). */
const SIGNATURE_ALGORITHMS: Readonly<Record<string, 'rsa' | 'ecdsa'>> = {
  '1.2.840.113549.1.1.1': 'rsa',
  '1.2.840.113549.1.1.5': 'rsa',
  '1.2.840.113549.1.1.11': 'rsa',
  '1.2.840.113549.1.1.12': 'rsa',
  '1.2.840.113549.1.1.13': 'rsa',
  '1.2.840.113549.1.1.14': 'rsa',
  '1.2.840.10045.2.1': 'ecdsa',
  '1.2.840.10045.4.1': 'ecdsa',
  '1.2.840.10045.4.3.1': 'ecdsa',
  '1.2.840.10045.4.3.2': 'ecdsa',
  '1.2.840.10045.4.3.3': 'ecdsa',
  '1.2.840.10045.4.3.4': 'ecdsa',
};

export function isPdf(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 1024)).includes('%PDF-', 0, 'latin1');
}

/** The state of `bytes`' signatures (see the module comment). */
export async function pdfSignatureState(bytes: Buffer, trust: SignatureTrust = {}): Promise<PdfSignatureState> {
  if (!isPdf(bytes)) return { kind: 'not-pdf' };
  if (!bytes.includes('/ByteRange', 0, 'latin1')) return { kind: 'unsigned' };
  F ??= (await import('node-forge')).default;
  return signatureState(bytes, trust);
}

function signatureState(bytes: Buffer, trust: SignatureTrust): PdfSignatureState {
  // Each hole once: several /ByteRange keys naming the same one are one signature.
  const dicts = new Map<string, SignatureDict>();
  /** Holes already read ("b:c"): the first dictionary naming one is its signature. */
  const holes = new Set<string>();
  let problem: string | null = null;
  let keys = 0;
  let read = 0;
  for (let at = bytes.indexOf('/ByteRange', 0, 'latin1'); at >= 0 && read < MAX_SIGNATURES && keys++ < MAX_KEYS; at = bytes.indexOf('/ByteRange', at + 10, 'latin1')) {
    const sig = signatureAt(bytes, at, holes);
    if (sig === null) continue; // the word in some other place (a placeholder, a comment), or a hole already read
    read++; // good or bad, each one read costs up to MAX_CONTENTS_HEX of text
    if (sig.kind === 'problem') problem ??= sig.detail;
    else if (sig.subFilter !== 'ETSI.RFC3161') dicts.set(`${sig.ranges[1]}:${sig.ranges[2]}`, sig); // a time stamp is no one's signature
  }
  // The verdict is the signature of the latest revision, the one covering the most of the file:
  // an earlier signature that holds says nothing of what was added after it (ISO 32000-1 §7.5.6).
  let last: SignatureDict | null = null;
  for (const d of dicts.values()) if (!last || d.ranges[2] + d.ranges[3] > last.ranges[2] + last.ranges[3]) last = d;
  if (!last) return problem !== null ? { kind: 'invalid', detail: problem } : { kind: 'unsigned' };
  let r: Check;
  try {
    r = checkSignature(bytes, last);
  } catch (e) {
    r = { kind: 'bad', detail: `the signature cannot be read (${e instanceof Error ? e.message : String(e)})` };
  }
  if (r.kind === 'bad') return { kind: 'invalid', detail: r.detail };
  if (r.kind === 'unsupported') return { kind: 'unverified', detail: r.detail };
  if (addedAfter(bytes, last.ranges[2] + last.ranges[3])) return { kind: 'invalid', detail: 'content was added after it was signed' };
  const signer = commonName(r.cert);
  if (trust.authorities && trust.authorities.length > 0) {
    const why = chainProblem(r.cert, [...r.pool, ...trust.authorities], trust.authorities, trust.at ?? new Date());
    if (why) return { kind: 'untrusted', signer, detail: why };
  }
  return { kind: 'signed', signer };
}

/** The subject's common name as written (Node's `subject` text escapes ',', '+', '"'). */
function commonName(cert: X509Certificate): string | null {
  const cn = (cert.toLegacyObject().subject as Record<string, string | string[] | undefined> | undefined)?.CN;
  return (Array.isArray(cn) ? cn[0] : cn) ?? null;
}

/** Intermediate certificates followed from a signer to an authority. */
const MAX_CHAIN = 6;

const issuedBy = (cert: X509Certificate, issuer: X509Certificate): boolean => {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
};
const validAt = (cert: X509Certificate, at: Date): boolean => Date.parse(cert.validFrom) <= at.getTime() && at.getTime() <= Date.parse(cert.validTo);

/**
 * Why `leaf` does not chain to one of `authorities` through `pool` (CA certificates only), each
 * valid `at`; null when it does. The path takes the first issuer that verifies at each step (no
 * backtracking among cross-certificates).
 */
function chainProblem(leaf: X509Certificate, pool: readonly X509Certificate[], authorities: readonly X509Certificate[], at: Date): string | null {
  const name = (c: X509Certificate): string => commonName(c) ?? c.subject.replace(/\n/g, ', ');
  if (leaf.ca && !authorities.some((a) => a.fingerprint256 === leaf.fingerprint256)) return `the signer “${name(leaf)}” is a certification authority's certificate, not a signer's`;
  let cert = leaf;
  for (let depth = 0; depth <= MAX_CHAIN; depth++) {
    if (!validAt(cert, at)) return `the certificate “${name(cert)}” was not valid when the mail was submitted`;
    const current = cert;
    if (authorities.some((a) => a.fingerprint256 === current.fingerprint256)) return null;
    const authority = authorities.find((a) => issuedBy(current, a));
    if (authority) return validAt(authority, at) ? null : `the authority “${name(authority)}” was not valid when the mail was submitted`;
    const next = pool.find((c) => c.fingerprint256 !== current.fingerprint256 && c.ca && issuedBy(current, c));
    if (!next) break;
    cert = next;
  }
  return `the signer “${name(leaf)}” is not certified by a trusted authority`;
}

/**
 * Was something added to the document after the signature that ends at `end`? Anything but PDF
 * white-space and comments is (ISO 32000-1 §7.2.2–7.2.3): an incremental update (§7.5.6) can
 * show a new page, a new content stream or a new form field over the signed ones, and telling a
 * harmless one (long-term validation data, a document time stamp) from those needs a full PDF
 * reader — so those are counted too, as changes after signing.
 */
function addedAfter(bytes: Buffer, end: number): boolean {
  for (let i = end; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (b === 0x25 /* % */) {
      // A comment runs to the end of its line.
      while (i + 1 < bytes.length && bytes[i + 1] !== 0x0a && bytes[i + 1] !== 0x0d) i++;
    } else if (b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09 && b !== 0x0c && b !== 0x00) {
      return true;
    }
  }
  return false;
}

/** An object's definition: "N G obj". */
const OBJ = /(?<![0-9])(\d{1,10})\s+\d{1,5}\s+obj\b/g;

interface SignatureDict {
  kind: 'dict';
  ranges: [number, number, number, number];
  /** The CMS signature's DER (hex decoded, padding left on). */
  der: Buffer;
  subFilter: string | null;
}

type Problem = { kind: 'problem'; detail: string };

const RANGE = /^\s*\[\s*(\d{1,12})\s+(\d{1,12})\s+(\d{1,12})\s+(\d{1,12})\s*\]/;

/**
 * Is `at` inside a comment: after a "%" on its line that is not in a literal string (ISO 32000-1
 * §7.2.3)? A key written in a comment is no signature's, wherever it points.
 */
function inComment(bytes: Buffer, at: number): boolean {
  let start = at;
  while (start > 0 && at - start < 4096 && bytes[start - 1] !== 0x0a && bytes[start - 1] !== 0x0d) start--;
  let depth = 0;
  for (let i = start; i < at; i++) {
    const ch = bytes[i];
    if (ch === 0x5c /* \\ */ && depth > 0) i++;
    else if (ch === 0x28 /* ( */) depth++;
    else if (ch === 0x29 /* ) */ && depth > 0) depth--;
    else if (ch === 0x25 /* % */ && depth === 0) return true;
  }
  return false;
}

/** The signature dictionary whose `/ByteRange` key is at `at`, a problem with it, or null when this is no such key. */
function signatureAt(bytes: Buffer, at: number, holes: Set<string>): SignatureDict | Problem | null {
  const m = RANGE.exec(bytes.toString('latin1', at + 10, Math.min(bytes.length, at + 80)));
  if (!m) return null;
  const [a, b, c, d] = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])];
  // A signature being prepared holds a placeholder range ("[0 0 0 0]" or "/ByteRange [0 ********…]").
  if (b === 0 && c === 0) return null;
  if (holes.has(`${b}:${c}`) || inComment(bytes, at)) return null;
  holes.add(`${b}:${c}`);
  if (a !== 0 || b <= 0 || c <= b || c + d > bytes.length || d < 0) return { kind: 'problem', detail: `byte range [${a} ${b} ${c} ${d}] does not fit the file` };
  if (bytes[b] !== 0x3c /* < */ || bytes[c - 1] !== 0x3e /* > */) return { kind: 'problem', detail: 'the byte range does not leave out exactly the signature' };
  // The hole must be the value of /Contents (the key just before it), not some other string.
  if (!/\/Contents\s*$/.test(bytes.toString('latin1', Math.max(0, b - 64), b))) return { kind: 'problem', detail: 'the byte range does not leave out the signature contents' };
  if (c - b - 2 > MAX_CONTENTS_HEX) return { kind: 'problem', detail: 'signature contents too large' };
  let hex = bytes.toString('latin1', b + 1, c - 1).replace(/\s+/g, '');
  if (!/^[0-9a-fA-F]*$/.test(hex)) return { kind: 'problem', detail: 'signature contents are not a hex string' };
  if (hex.length % 2 !== 0) hex += '0'; // ISO 32000-1 §7.3.4.3: a last odd digit is followed by 0
  // /SubFilter of this dictionary only: from its object's "N G obj" to its "endobj" (a time
  // stamp's dictionary next to it is not this one's).
  const first = Math.min(at, b);
  const lo = Math.max(0, first - 4096);
  let start = lo;
  for (const m of matchesOf(OBJ, bytes.toString('latin1', lo, first))) start = lo + m.index;
  const last = Math.max(at, c);
  const endobj = bytes.indexOf('endobj', last, 'latin1');
  const around = bytes.toString('latin1', start, endobj >= 0 && endobj - last <= 4096 ? endobj : Math.min(bytes.length, last + 4096));
  const sub = /\/SubFilter\s*\/([A-Za-z0-9.#_-]+)/.exec(around);
  return { kind: 'dict', ranges: [a, b, c, d], der: Buffer.from(hex, 'hex'), subFilter: sub?.[1] ?? null };
}

type Check = { kind: 'ok'; cert: X509Certificate; pool: X509Certificate[] } | { kind: 'unsupported'; detail: string } | { kind: 'bad'; detail: string };

function checkSignature(bytes: Buffer, sig: SignatureDict): Check {
  let cms: SignedData;
  try {
    cms = readSignedData(sig.der);
  } catch (e) {
    return { kind: 'bad', detail: `the signature cannot be read (${e instanceof Error ? e.message : String(e)})` };
  }
  const hash = HASHES[cms.digestOid];
  if (!hash) return { kind: 'unsupported', detail: `digest algorithm ${cms.digestOid}` };
  const [, b, c, d] = sig.ranges;
  const ranges = (h: string): Buffer => createHash(h).update(bytes.subarray(0, b)).update(bytes.subarray(c, c + d)).digest();
  // What the CMS signs: the two ranges (detached), or, for adbe.pkcs7.sha1, their SHA-1 digest
  // carried inside the CMS as its content (ISO 32000-1 §12.8.3.3.1).
  let content: Buffer | null = null;
  if (cms.eContent) {
    if (!cms.eContent.equals(ranges('sha1'))) return { kind: 'bad', detail: 'the document was changed after it was signed' };
    content = cms.eContent;
  }
  let signed: Buffer;
  if (cms.signedAttrs) {
    const digest = content ? createHash(hash).update(content).digest() : ranges(hash);
    if (!cms.messageDigest || !digest.equals(cms.messageDigest)) return { kind: 'bad', detail: 'the document was changed after it was signed' };
    signed = cms.signedAttrs;
  } else {
    signed = content ?? Buffer.concat([bytes.subarray(0, b), bytes.subarray(c, c + d)]);
  }
  // The signer's certificate: the one with its serial number (issuer and serial), or, for a signer
  // named by its key identifier, whichever certificate the signature verifies with.
  const serial = cms.serial;
  const candidates = serial === null ? cms.certificates : cms.certificates.filter((x) => sameSerial(x.serialNumber, serial));
  if (candidates.length === 0) return { kind: 'bad', detail: "the signer's certificate is not in the signature" };
  const family = cms.signatureOid === OID.rsaPss ? 'pss' : SIGNATURE_ALGORITHMS[cms.signatureOid];
  if (!family) return { kind: 'unsupported', detail: `signature algorithm ${cms.signatureOid}` };
  const pss = family === 'pss' ? pssHash(cms.signatureParams) : null;
  if (family === 'pss' && !pss) return { kind: 'unsupported', detail: 'RSA-PSS parameters' };
  let failure: string | null = null;
  for (const cert of candidates) {
    try {
      const ok = pss
        ? verify(pss, signed, { key: cert.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, cms.signature)
        : verify(hash, signed, cert.publicKey, cms.signature);
      if (ok) return { kind: 'ok', cert, pool: cms.certificates };
    } catch (e) {
      failure ??= `the signature cannot be checked (${e instanceof Error ? e.message : String(e)})`;
    }
  }
  return { kind: 'bad', detail: failure ?? 'the signature does not match its certificate' };
}

/**
 * The hash of RSASSA-PSS-params (RFC 4055 §3.1: [0] hashAlgorithm, default SHA-1; [1] MGF1 with
 * its own hash, default SHA-1; the salt length is read from the signature), or null when the two
 * hashes differ (Node's verify uses one for both) or one is unknown.
 */
function pssHash(params: Asn1 | undefined): string | null {
  let hashOid = '1.3.14.3.2.26';
  let mgfOid = '1.3.14.3.2.26';
  for (const p of kids(params)) {
    if (isContext(p, 0)) hashOid = oidOf(kids(kids(p)[0])[0]);
    if (isContext(p, 1)) mgfOid = oidOf(kids(kids(kids(p)[0])[1])[0]);
  }
  const hash = HASHES[hashOid];
  return hash && hashOid === mgfOid ? hash : null;
}

const sameSerial = (a: string, b: string): boolean => a.replace(/^0+/, '').toLowerCase() === b.replace(/^0+/, '').toLowerCase();

interface SignedData {
  digestOid: string;
  signatureOid: string;
  /** The signature algorithm's parameters (RSA-PSS needs them). */
  signatureParams: Asn1 | undefined;
  /** The signer's certificate serial number, hex; null when the signer is named by its key identifier. */
  serial: string | null;
  /** The DER of the signed attributes as signed (tagged SET OF), or null when there are none. */
  signedAttrs: Buffer | null;
  messageDigest: Buffer | null;
  /** The encapsulated content (adbe.pkcs7.sha1: the ranges' SHA-1), or null when detached. */
  eContent: Buffer | null;
  signature: Buffer;
  certificates: X509Certificate[];
}

type Asn1 = forge.asn1.Asn1;

const kids = (n: Asn1 | undefined): Asn1[] => (n && Array.isArray(n.value) ? n.value : []);
const bytesOf = (n: Asn1 | undefined): string => (n && typeof n.value === 'string' ? n.value : '');
const oidOf = (n: Asn1 | undefined): string => {
  try {
    return F.asn1.derToOid(bytesOf(n));
  } catch {
    return 'unreadable'; // forge refuses an identifier over 53 bits
  }
};
/** An OCTET STRING's bytes, constructed (BER: a string in pieces) or not. */
const octets = (n: Asn1): string => (typeof n.value === 'string' ? n.value : n.value.map(octets).join(''));
const isContext = (n: Asn1, tag: number): boolean => n.tagClass === F.asn1.Class.CONTEXT_SPECIFIC && n.type === tag;

/**
 * forge's fromDer takes an options object (node-forge ≥ 1.3) that its typings do not list:
 * `parseAllBytes: false` for the zero padding after the DER in /Contents, `decodeBitStrings:
 * false` so certificates re-encode byte for byte.
 */
const fromDer = (bytes: forge.util.ByteStringBuffer, options: { strict: boolean; parseAllBytes: boolean; decodeBitStrings: boolean }): Asn1 =>
  (F.asn1.fromDer as unknown as (b: forge.util.ByteStringBuffer, o: typeof options) => Asn1)(bytes, options);

/** The parts of a CMS ContentInfo holding SignedData (RFC 5652 §5) that checking needs; throws when it is not one. */
function readSignedData(der: Buffer): SignedData {
  const info = fromDer(F.util.createBuffer(der.toString('binary')), { strict: false, parseAllBytes: false, decodeBitStrings: false });
  const [type, explicit] = kids(info);
  if (oidOf(type) !== OID.signedData) throw new Error('not CMS signed data');
  const signedData = kids(explicit)[0];
  const fields = kids(signedData);
  // encapContentInfo: eContentType, [0] EXPLICIT eContent OCTET STRING (absent when detached).
  const eContentNode = kids(kids(fields[2])[1])[0];
  const eContent = eContentNode ? Buffer.from(octets(eContentNode), 'binary') : null;
  const certificates: X509Certificate[] = [];
  let signerInfos: Asn1 | undefined;
  for (const f of fields.slice(3)) {
    if (isContext(f, 0)) {
      for (const c of kids(f).slice(0, MAX_CERTIFICATES)) {
        if (c.tagClass !== F.asn1.Class.UNIVERSAL) continue; // attribute certificates and others
        try {
          certificates.push(new X509Certificate(Buffer.from(F.asn1.toDer(c).getBytes(), 'binary')));
        } catch {
          // a certificate Node cannot read is no signer we can check
        }
      }
    } else if (f.tagClass === F.asn1.Class.UNIVERSAL && f.type === F.asn1.Type.SET) {
      signerInfos = f;
    }
  }
  const signer = kids(signerInfos)[0];
  if (!signer) throw new Error('no signer');
  const s = kids(signer);
  // SignerInfo: version, sid, digestAlgorithm, [0] signedAttrs?, signatureAlgorithm, signature, [1] unsignedAttrs?
  const sid = s[1];
  if (!sid) throw new Error('no signer identifier');
  const serial = isContext(sid, 0) ? null : Buffer.from(bytesOf(kids(sid)[1]), 'binary').toString('hex');
  const digestOid = oidOf(kids(s[2])[0]);
  let i = 3;
  let signedAttrs: Buffer | null = null;
  let messageDigest: Buffer | null = null;
  const attrs = s[3];
  if (attrs && isContext(attrs, 0)) {
    i = 4;
    // RFC 5652 §5.4: the signature covers the DER of the attributes tagged as a SET OF.
    const set = F.asn1.create(F.asn1.Class.UNIVERSAL, F.asn1.Type.SET, true, kids(attrs));
    signedAttrs = Buffer.from(F.asn1.toDer(set).getBytes(), 'binary');
    for (const a of kids(attrs)) {
      const [t, values] = kids(a);
      if (oidOf(t) === OID.messageDigest) messageDigest = Buffer.from(bytesOf(kids(values)[0]), 'binary');
    }
  }
  const signatureOid = oidOf(kids(s[i])[0]);
  const signatureParams = kids(s[i])[1];
  const signature = Buffer.from(bytesOf(s[i + 1]), 'binary');
  if (signature.length === 0) throw new Error('empty signature');
  return { digestOid, signatureOid, signatureParams, serial, signedAttrs, messageDigest, eContent, signature, certificates };
}
