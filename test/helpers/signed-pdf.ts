/**
 * PDFs for R-POL-7 tests, built in code: a small one-page PDF, unsigned or with a signature
 * dictionary holding a CMS SignedData (RFC 5652) over its byte range, as signing tools write it
 * (ISO 32000-1 §12.8). The certificate is a self-signed X.509 made here (RSA or ECDSA key from
 * node:crypto), the DER written by a few lines of TLV encoding, so nothing binary is committed.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, constants, type KeyObject } from 'node:crypto';

// ── DER ──
function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let x = n; x > 0; x = Math.floor(x / 256)) bytes.unshift(x & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, ...parts: Buffer[]): Buffer => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
};
const seq = (...p: Buffer[]): Buffer => tlv(0x30, ...p);
const set = (...p: Buffer[]): Buffer => tlv(0x31, ...p);
const ctx = (n: number, ...p: Buffer[]): Buffer => tlv(0xa0 + n, ...p);
const nul = (): Buffer => Buffer.from([0x05, 0x00]);
const octets = (b: Buffer): Buffer => tlv(0x04, b);
const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));
const utc = (d: Date): Buffer => tlv(0x17, Buffer.from(`${d.toISOString().slice(2, 19).replace(/[-T:]/g, '')}Z`, 'latin1'));
function int(b: Buffer | number): Buffer {
  let v = typeof b === 'number' ? Buffer.from([b]) : b;
  if ((v[0] ?? 0) & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
  return tlv(0x02, v);
}
function oid(s: string): Buffer {
  const [a = 0, b = 0, ...rest] = s.split('.').map(Number);
  const out = [a * 40 + b];
  for (const n of rest) {
    const groups: number[] = [];
    for (let x = n; ; x = Math.floor(x / 128)) {
      groups.unshift(x & 0x7f);
      if (x < 128) break;
    }
    out.push(...groups.map((g, i) => (i < groups.length - 1 ? g | 0x80 : g)));
  }
  return tlv(0x06, Buffer.from(out));
}

const OIDS = {
  sha256: '2.16.840.1.101.3.4.2.1',
  sha1: '1.3.14.3.2.26',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  rsaEncryption: '1.2.840.113549.1.1.1',
  rsaPss: '1.2.840.113549.1.1.10',
  mgf1: '1.2.840.113549.1.1.8',
  ecdsaSha256: '1.2.840.10045.4.3.2',
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  country: '2.5.4.6',
};

export type SignerKind = 'rsa' | 'ecdsa' | 'rsa-pss';

/** A certificate's PEM text from its DER. */
export function certificatePem(der: Buffer): string {
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`;
}

export interface Signer {
  kind: SignerKind;
  key: KeyObject;
  cert: Buffer;
  /** The certificate's subject name (DER), the issuer name of certificates it signs. */
  name: Buffer;
  issuer: Buffer;
  serial: Buffer;
  /** The certificates between this one and its root (the root left out), carried in the CMS. */
  chain: Buffer[];
}

export interface CertificateOptions {
  /** Certified by this signer (an authority) instead of self-signed. */
  issuer?: Signer;
  /** A certification authority (basicConstraints cA). */
  ca?: boolean;
  /** Validity in days from now: [from, to]; default [-1, 365]. */
  validDays?: [number, number];
}

/** A key and a certificate for `commonName` (a unit, say "Văn phòng UBND tỉnh"), self-signed unless an issuer is given. */
export function makeSigner(commonName: string, kind: SignerKind = 'rsa', opts: CertificateOptions = {}): Signer {
  const { privateKey, publicKey } = kind === 'ecdsa' ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const name = seq(set(seq(oid(OIDS.country), tlv(0x13, Buffer.from('VN')))), set(seq(oid(OIDS.organization), utf8('UBND tỉnh'))), set(seq(oid(OIDS.commonName), utf8(commonName))));
  const serial = randomBytes(8);
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x10; // positive, eight octets
  const issuer = opts.issuer;
  const signingKind = issuer?.kind ?? kind;
  const algorithm = signingKind === 'ecdsa' ? seq(oid(OIDS.ecdsaSha256)) : seq(oid(OIDS.sha256WithRsa), nul());
  const now = Date.now();
  const [from, to] = opts.validDays ?? [-1, 365];
  // v3 with basicConstraints for an authority (RFC 5280 §4.2.1.9), v1 otherwise.
  const v3 = opts.ca ? [ctx(0, int(2))] : [];
  const extensions = opts.ca ? [ctx(3, seq(seq(oid('2.5.29.19'), tlv(0x01, Buffer.from([0xff])), octets(seq(tlv(0x01, Buffer.from([0xff])))))))] : [];
  const tbs = seq(...v3, int(serial), algorithm, issuer?.name ?? name, seq(utc(new Date(now + from * 86_400_000)), utc(new Date(now + to * 86_400_000))), name, publicKey.export({ type: 'spki', format: 'der' }), ...extensions);
  const signature = sign('sha256', tbs, issuer?.key ?? privateKey);
  const cert = seq(tbs, algorithm, tlv(0x03, Buffer.from([0]), signature));
  const chain = issuer ? (issuer.issuer.equals(issuer.name) ? [] : [issuer.cert, ...issuer.chain]) : [];
  return { kind, key: privateKey, cert, name, issuer: issuer?.name ?? name, serial, chain };
}

export interface SignOptions {
  /** Change a byte of the page content after signing (the signature no longer holds). */
  tamper?: boolean;
  /** Sign with another key than the certificate's (a signature that does not match its certificate). */
  wrongKey?: KeyObject;
  /** Leave out the signed attributes: the signature is then over the byte ranges themselves. */
  noSignedAttributes?: boolean;
  /** `/SubFilter`; default adbe.pkcs7.detached. */
  subFilter?: string;
  /** Write /Contents before /ByteRange in the signature dictionary. */
  contentsFirst?: boolean;
  /** The signature algorithm's identifier instead of the real one (an algorithm the checker does not know). */
  signatureOid?: string;
  /** The signed signingTime attribute (the signer's own claim); default now. */
  signingTime?: Date;
  /** Name the signer by a subject key identifier ([0]) instead of issuer and serial number. */
  byKeyId?: boolean;
  /** Text put in the widget annotation's dictionary (object 4, just before the signature's object). */
  widgetExtra?: string;
  /** Text put at the end of the page's content stream, before signing (inside the signed bytes). */
  pageExtra?: string;
}

/**
 * An incremental update (ISO 32000-1 §7.5.6) appended to a signed PDF: `objects` maps object
 * numbers to their new text (a number of an existing object redefines it).
 */
export function appendRevision(pdf: Buffer, objects: Record<number, string>): Buffer {
  let out = '';
  for (const [n, text] of Object.entries(objects)) out += `${n} 0 obj\n${text}\nendobj\n`;
  out += `trailer\n<< /Size 20 /Root 1 0 R /Prev 0 >>\nstartxref\n0\n%%EOF\n`;
  return Buffer.concat([pdf, Buffer.from(out, 'latin1')]);
}

const PAGE = 'BT /F1 12 Tf 72 720 Td (CONG VAN SO 123/UBND-VP) Tj ET';

/** The catalog (object 1) as signed. */
export const CATALOG = '<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [4 0 R] /SigFlags 3 >> >>';

function pdfObjects(extra: string[], widgetExtra = ''): string[] {
  return [
    CATALOG,
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 6 0 R /Annots [4 0 R] >>',
    `<< /Type /Annot /Subtype /Widget /FT /Sig /Rect [0 0 0 0] /V 5 0 R /P 3 0 R /T (Chu ky 1)${widgetExtra} >>`,
    ...extra,
  ];
}

function assemble(objects: string[]): Buffer {
  let out = '%PDF-1.7\n%\xe2\xe3\xcf\xd3\n';
  const offsets: number[] = [];
  objects.forEach((o, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

/** A one-page PDF with no signature. */
export function unsignedPdf(): Buffer {
  return assemble(pdfObjects(['<< /Type /Annot >>', `<< /Length ${PAGE.length} >>\nstream\n${PAGE}\nendstream`]));
}

const HOLE = 8192; // bytes of room for the CMS, written as hex

/**
 * A one-page PDF signed by `signer` (see SignOptions for broken ones), or with the CMS a function
 * makes from the bytes the signature covers (another tool's: `openssl cms -sign`).
 */
export function signedPdf(signer: Signer | ((covered: Buffer) => Buffer), opts: SignOptions = {}): Buffer {
  const kind = typeof signer === 'function' ? 'external' : signer.kind;
  const range = '/ByteRange [0 0000000000 0000000000 0000000000]';
  const contents = `/Contents <${'0'.repeat(HOLE * 2)}>`;
  const sigDict = `<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /${opts.subFilter ?? 'adbe.pkcs7.detached'} ${opts.contentsFirst ? `${contents} ${range}` : `${range} ${contents}`} /M (D:20261123100000+07'00') /Name (${kind}) >>`;
  const page = PAGE + (opts.pageExtra ?? '');
  const pdf = assemble(pdfObjects([sigDict, `<< /Length ${page.length} >>\nstream\n${page}\nendstream`], opts.widgetExtra));
  const b = pdf.indexOf('/Contents <', 0, 'latin1') + '/Contents '.length;
  const c = b + HOLE * 2 + 2;
  const d = pdf.length - c;
  const rangeText = `/ByteRange [0 ${String(b).padEnd(10)} ${String(c).padEnd(10)} ${String(d).padEnd(10)}]`;
  pdf.write(rangeText, pdf.indexOf('/ByteRange', 0, 'latin1'), 'latin1');
  const covered = Buffer.concat([pdf.subarray(0, b), pdf.subarray(c)]);
  const cms = typeof signer === 'function' ? signer(covered) : signedData(signer, covered, opts);
  const hex = cms.toString('hex');
  if (hex.length > HOLE * 2) throw new Error('signature too large for the hole');
  pdf.write(hex, b + 1, 'latin1');
  if (opts.tamper) {
    const at = pdf.indexOf('CONG VAN SO 123', 0, 'latin1');
    pdf.write('CONG VAN SO 124', at, 'latin1');
  }
  return pdf;
}

/** A CMS ContentInfo with SignedData over `content`, detached, signed by `signer`. */
function signedData(signer: Signer, content: Buffer, opts: SignOptions): Buffer {
  const digestAlg = seq(oid(OIDS.sha256), nul());
  const key = opts.wrongKey ?? signer.key;
  let attrs: Buffer | null = null;
  let toSign = content;
  if (!opts.noSignedAttributes) {
    const list = [
      seq(oid(OIDS.contentType), set(oid(OIDS.data))),
      seq(oid(OIDS.signingTime), set(utc(opts.signingTime ?? new Date()))),
      seq(oid(OIDS.messageDigest), set(octets(createHash('sha256').update(content).digest()))),
    ];
    toSign = set(...list);
    attrs = ctx(0, ...list);
  }
  const signature =
    signer.kind === 'rsa-pss'
      ? sign('sha256', toSign, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 })
      : sign('sha256', toSign, key);
  const realAlg = signer.kind === 'ecdsa' ? seq(oid(OIDS.ecdsaSha256)) : signer.kind === 'rsa-pss' ? seq(oid(OIDS.rsaPss), seq(ctx(0, digestAlg), ctx(1, seq(oid(OIDS.mgf1), digestAlg)), ctx(2, int(32)))) : seq(oid(OIDS.rsaEncryption), nul());
  const sigAlg = opts.signatureOid ? seq(oid(opts.signatureOid), nul()) : realAlg;
  const sid = opts.byKeyId ? tlv(0x80, createHash('sha1').update(signer.cert).digest()) : seq(signer.issuer, int(signer.serial));
  const signerInfo = seq(int(opts.byKeyId ? 3 : 1), sid, digestAlg, ...(attrs ? [attrs] : []), sigAlg, octets(signature));
  const sd = seq(int(1), set(digestAlg), seq(oid(OIDS.data)), ctx(0, signer.cert, ...signer.chain), set(signerInfo));
  return seq(oid(OIDS.signedData), ctx(0, sd));
}
