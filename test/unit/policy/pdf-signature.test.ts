/**
 * R-POL-7: reading a PDF's digital signatures (policy/pdf-signature.ts) on PDFs built and signed
 * here (test/helpers/signed-pdf.ts): RSA, RSA-PSS and ECDSA signatures hold; a document changed
 * after signing, a signature made with another key, a byte range that leaves out the wrong bytes
 * and garbage in /Contents do not; a placeholder being prepared and a time stamp are no signature.
 */
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pdfSignatureState } from '../../../src/policy/pdf-signature.js';
import { noSummary } from '../../../src/policy/rules/official-documents.js';
import { appendRevision, CATALOG, certificatePem, makeSigner, signedPdf, unsignedPdf, type Signer } from '../../helpers/signed-pdf.js';

const OPENSSL = spawnSync('openssl', ['version']).status === 0;
if (!OPENSSL) console.warn('SKIP pdf-signature (openssl): openssl is not installed (apt-get install openssl); the signature made by another tool was not checked');

/** `openssl cms -sign` over the covered bytes: a CMS written by another implementation than ours. */
function opensslSigner(signer: Signer, extra: string[] = []): (covered: Buffer) => Buffer {
  return (covered) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'buudien-cms-'));
    try {
      writeFileSync(path.join(dir, 'in.bin'), covered);
      writeFileSync(path.join(dir, 'cert.pem'), certificatePem(signer.cert));
      writeFileSync(path.join(dir, 'key.pem'), signer.key.export({ type: 'pkcs8', format: 'pem' }));
      const r = spawnSync('openssl', ['cms', '-sign', '-binary', '-md', 'sha256', '-in', 'in.bin', '-signer', 'cert.pem', '-inkey', 'key.pem', '-outform', 'DER', '-out', 'out.p7s', ...extra], { cwd: dir });
      if (r.status !== 0) throw new Error(`openssl cms -sign: ${r.stderr.toString()}`);
      return readFileSync(path.join(dir, 'out.p7s'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

const rsa = makeSigner('Văn phòng UBND tỉnh');

describe('pdfSignatureState', () => {
  it('reads RSA, RSA-PSS and ECDSA signatures, with and without signed attributes, the keys in either order', async () => {
    expect(await pdfSignatureState(signedPdf(rsa))).toEqual({ kind: 'signed', signer: 'Văn phòng UBND tỉnh' });
    expect(await pdfSignatureState(signedPdf(makeSigner('Sở Nội vụ', 'ecdsa')))).toEqual({ kind: 'signed', signer: 'Sở Nội vụ' });
    expect(await pdfSignatureState(signedPdf(makeSigner('Sở Tài chính', 'rsa-pss')))).toEqual({ kind: 'signed', signer: 'Sở Tài chính' });
    expect(await pdfSignatureState(signedPdf(rsa, { noSignedAttributes: true }))).toEqual({ kind: 'signed', signer: 'Văn phòng UBND tỉnh' });
    expect(await pdfSignatureState(signedPdf(rsa, { contentsFirst: true }))).toEqual({ kind: 'signed', signer: 'Văn phòng UBND tỉnh' });
  });

  it('says unsigned for a PDF without a signature, and not-pdf for other bytes', async () => {
    expect(await pdfSignatureState(unsignedPdf())).toEqual({ kind: 'unsigned' });
    expect(await pdfSignatureState(Buffer.from('PK\x03\x04 a Word file'))).toEqual({ kind: 'not-pdf' });
  });

  it('says invalid when the document was changed after signing', async () => {
    expect(await pdfSignatureState(signedPdf(rsa, { tamper: true }))).toEqual({ kind: 'invalid', detail: 'the document was changed after it was signed' });
    // Without signed attributes the change shows in the signature itself.
    expect(await pdfSignatureState(signedPdf(rsa, { tamper: true, noSignedAttributes: true }))).toEqual({ kind: 'invalid', detail: 'the signature does not match its certificate' });
  });

  it('says invalid for a signature made with a key other than its certificate’s', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    expect(await pdfSignatureState(signedPdf(rsa, { wrongKey: other }))).toEqual({ kind: 'invalid', detail: 'the signature does not match its certificate' });
  });

  it('says invalid when the byte range does not leave out exactly the signature, or /Contents is no CMS', async () => {
    const pdf = signedPdf(rsa);
    const at = pdf.indexOf('/ByteRange [0 ', 0, 'latin1') + '/ByteRange [0 '.length;
    const shifted = Buffer.from(pdf);
    shifted.write(String(Number(pdf.toString('latin1', at, at + 10)) - 5).padEnd(10), at, 'latin1');
    expect(await pdfSignatureState(shifted)).toMatchObject({ kind: 'invalid', detail: 'the byte range does not leave out exactly the signature' });
    const garbage = Buffer.from(pdf);
    const hex = garbage.indexOf('/Contents <', 0, 'latin1') + '/Contents <'.length;
    garbage.write('3082ffff0102', hex, 'latin1');
    expect(await pdfSignatureState(garbage)).toMatchObject({ kind: 'invalid', detail: expect.stringMatching(/^the signature cannot be read/) });
  });

  it('a range pointing past the end of the file is invalid; a placeholder being prepared is no signature', async () => {
    const pdf = unsignedPdf();
    const fake = Buffer.concat([pdf.subarray(0, -6), Buffer.from('% /ByteRange [0 10 99999999 5]\n%%EOF\n')]);
    expect(await pdfSignatureState(fake)).toEqual({ kind: 'invalid', detail: 'byte range [0 10 99999999 5] does not fit the file' });
    const placeholder = Buffer.concat([pdf.subarray(0, -6), Buffer.from('<< /Type /Sig /ByteRange [0 0 0 0] /Contents <00> >>\n%%EOF\n')]);
    expect(await pdfSignatureState(placeholder)).toEqual({ kind: 'unsigned' });
  });

  it('a document time stamp alone is no signature', async () => {
    expect(await pdfSignatureState(signedPdf(rsa, { subFilter: 'ETSI.RFC3161' }))).toEqual({ kind: 'unsigned' });
  });
});

describe('pdfSignatureState after signing, and on hostile signatures', () => {
  it('a revision appended after the signature that changes the page makes it invalid; whitespace and comments do not', async () => {
    const pdf = signedPdf(rsa);
    const changed = appendRevision(pdf, { 6: '<< /Length 44 >>\nstream\nBT /F1 12 Tf 72 720 Td (SO 999/UBND) Tj ET\nendstream' });
    expect(await pdfSignatureState(changed)).toEqual({ kind: 'invalid', detail: 'content was added after it was signed' });
    expect(await pdfSignatureState(Buffer.concat([pdf, Buffer.from('\r\n%%EOF\n  \n')]))).toEqual({ kind: 'signed', signer: 'Văn phòng UBND tỉnh' });
    expect(await pdfSignatureState(Buffer.concat([pdf, Buffer.from('1 0 obj\n<< /Type /Catalog >>\nendobj\n')]))).toEqual({ kind: 'invalid', detail: 'content was added after it was signed' });
  });

  it('long-term validation data added after signing (a /DSS revision) keeps the signature; a page slipped in with it does not', async () => {
    const pdf = signedPdf(rsa);
    const dss = { 1: CATALOG.replace(/ >>$/, ' /DSS 7 0 R >>'), 7: '<< /Type /DSS /Certs [8 0 R] >>', 8: '<< /Length 3 >>\nstream\nabc\nendstream' };
    expect(await pdfSignatureState(appendRevision(pdf, dss))).toEqual({ kind: 'signed', signer: 'Văn phòng UBND tỉnh' });
    expect(await pdfSignatureState(appendRevision(pdf, { ...dss, 6: '<< /Length 2 >>\nstream\nXX\nendstream' }))).toEqual({ kind: 'invalid', detail: 'content was added after it was signed' });
    // The catalog may gain /DSS only: a new page tree with it is an addition.
    expect(await pdfSignatureState(appendRevision(pdf, { ...dss, 1: '<< /Type /Catalog /Pages 9 0 R /DSS 7 0 R >>' }))).toEqual({ kind: 'invalid', detail: 'content was added after it was signed' });
  });

  it('a signature algorithm it does not know is unverified, not signed', async () => {
    expect(await pdfSignatureState(signedPdf(rsa, { signatureOid: '1.2.3.4' }))).toEqual({ kind: 'unverified', detail: 'signature algorithm 1.2.3.4' });
  });

  it('reads a signer named by its key identifier; odd-length hex; a time stamp next to the signature is not its SubFilter', async () => {
    expect(await pdfSignatureState(signedPdf(rsa, { byKeyId: true }))).toEqual({ kind: 'signed', signer: 'Văn phòng UBND tỉnh' });
    const pdf = signedPdf(rsa);
    const close = pdf.indexOf('>', pdf.indexOf('/Contents <', 0, 'latin1'), 'latin1');
    expect(pdf.toString('latin1', close - 1, close)).toBe('0'); // padding
    pdf.write(' ', close - 1, 'latin1'); // 16,383 digits: the last one is followed by an implied 0
    expect(await pdfSignatureState(pdf)).toEqual({ kind: 'signed', signer: 'Văn phòng UBND tỉnh' });
    expect(await pdfSignatureState(signedPdf(rsa, { widgetExtra: ' /X << /Type /DocTimeStamp /SubFilter /ETSI.RFC3161 >>' }))).toEqual({ kind: 'signed', signer: 'Văn phòng UBND tỉnh' });
  });

  it('many /ByteRange words naming the same hole, or none, are read once and stay cheap', async () => {
    const pdf = signedPdf(rsa);
    const at = pdf.indexOf('/ByteRange', 0, 'latin1');
    const key = pdf.toString('latin1', at, pdf.indexOf(']', at, 'latin1') + 1);
    const many = signedPdf(rsa, { pageExtra: ` % ${'/ByteRange [0 0 0 0] '.repeat(2000)}` });
    expect(await pdfSignatureState(many)).toEqual({ kind: 'signed', signer: 'Văn phòng UBND tỉnh' });
    // 16 more keys naming the real hole, in a comment after it: one signature, checked once (a comment is no addition).
    const dup = Buffer.concat([pdf, Buffer.from(`% ${`${key} `.repeat(16)}\n%%EOF\n`)]);
    expect(await pdfSignatureState(dup)).toEqual({ kind: 'signed', signer: 'Văn phòng UBND tỉnh' });
  });

  it('noSummary: empty, reply words only, or a file name as it stands; the name without its extension is a summary', () => {
    const files = ['scan0012.pdf', 'Kế hoạch chuyển đổi số năm 2027.pdf'];
    expect(['', 'Fwd:', 'TL: Re:', 'Fwd: scan0012.pdf', 'SCAN0012.PDF'].map((s) => noSummary(s, files))).toEqual([true, true, true, true, true]);
    expect(['Kế hoạch chuyển đổi số năm 2027', 'Công văn 123/UBND-VP', 'TL: V/v họp giao ban'].map((s) => noSummary(s, files))).toEqual([false, false, false]);
  });
});

describe('pdfSignatureState with trusted authorities (policy.signingAuthorities)', () => {
  const root = makeSigner('Ban Cơ yếu Chính phủ Root CA', 'rsa', { ca: true, validDays: [-3650, 3650] });
  const intermediate = makeSigner('CA phục vụ các cơ quan Đảng, Nhà nước', 'ecdsa', { ca: true, issuer: root, validDays: [-1000, 2000] });
  const authorities = [new X509Certificate(root.cert)];

  it('a signer certified through the intermediate the signature carries is signed; a self-signed one is untrusted', async () => {
    const unit = makeSigner('UBND huyện Nam Đàn', 'rsa', { issuer: intermediate });
    expect(await pdfSignatureState(signedPdf(unit), { authorities })).toEqual({ kind: 'signed', signer: 'UBND huyện Nam Đàn' });
    expect(await pdfSignatureState(signedPdf(rsa), { authorities })).toEqual({ kind: 'untrusted', signer: 'Văn phòng UBND tỉnh', detail: 'the signer “Văn phòng UBND tỉnh” is not certified by a trusted authority' });
    // Without authorities any certificate the signature holds with counts.
    expect(await pdfSignatureState(signedPdf(rsa))).toEqual({ kind: 'signed', signer: 'Văn phòng UBND tỉnh' });
  });

  it('a certificate out of its validity when it signed is untrusted; an intermediate that is no CA does not certify', async () => {
    const expired = makeSigner('Sở Y tế', 'rsa', { issuer: intermediate, validDays: [-400, -30] });
    expect(await pdfSignatureState(signedPdf(expired), { authorities })).toEqual({ kind: 'untrusted', signer: 'Sở Y tế', detail: 'the certificate “Sở Y tế” was not valid when the document was signed' });
    const notCa = makeSigner('Phòng Tư pháp', 'rsa', { issuer: root, validDays: [-10, 100] });
    const underNotCa = makeSigner('Xã Nam Anh', 'rsa', { issuer: notCa });
    expect(await pdfSignatureState(signedPdf(underNotCa), { authorities })).toMatchObject({ kind: 'untrusted', detail: 'the signer “Xã Nam Anh” is not certified by a trusted authority' });
  });
});

describe.skipIf(!OPENSSL)('pdfSignatureState on signatures made by openssl cms', () => {
  it('reads them (RSA and ECDSA, with openssl’s own signed attributes; RSA-PSS), and sees a change after signing', async () => {
    expect(await pdfSignatureState(signedPdf(opensslSigner(rsa)))).toEqual({ kind: 'signed', signer: 'Văn phòng UBND tỉnh' });
    const ec = makeSigner('UBND huyện Nam Đàn', 'ecdsa');
    expect(await pdfSignatureState(signedPdf(opensslSigner(ec)))).toEqual({ kind: 'signed', signer: 'UBND huyện Nam Đàn' });
    expect(await pdfSignatureState(signedPdf(opensslSigner(rsa, ['-keyopt', 'rsa_padding_mode:pss'])))).toEqual({ kind: 'signed', signer: 'Văn phòng UBND tỉnh' });
    expect(await pdfSignatureState(signedPdf(opensslSigner(rsa), { tamper: true }))).toEqual({ kind: 'invalid', detail: 'the document was changed after it was signed' });
  });
});
