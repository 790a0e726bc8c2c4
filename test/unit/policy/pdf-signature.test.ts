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
    const fake = Buffer.concat([pdf.subarray(0, -6), Buffer.from('<< /ByteRange [0 10 99999999 5] >>\n%%EOF\n')]);
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

  it('any update appended after the signature is a change — long-term validation data, hidden or odd object headers alike', async () => {
    const pdf = signedPdf(rsa);
    const dss = { 1: CATALOG.replace(/ >>$/, ' /DSS 7 0 R >>'), 7: '<< /Type /DSS /Certs [8 0 R] >>', 8: '<< /Length 3 >>\nstream\nabc\nendstream' };
    const changed = { kind: 'invalid', detail: 'content was added after it was signed' };
    expect(await pdfSignatureState(appendRevision(pdf, dss))).toEqual(changed);
    // A new catalog and page tree named by the trailer only, a redefinition written "006 0 obj" or with a comment in its header.
    expect(await pdfSignatureState(appendRevision(pdf, { 9: '<< /Type /Catalog /Pages 10 0 R >>' }))).toEqual(changed);
    expect(await pdfSignatureState(Buffer.concat([pdf, Buffer.from('% /DSS\n006 0 obj\n<< /Length 2 >>\nstream\nXX\nendstream\nendobj\n')]))).toEqual(changed);
    expect(await pdfSignatureState(Buffer.concat([pdf, Buffer.from('6 0 %c\nobj\n<< >>\nendobj\n')]))).toEqual(changed);
    // NUL, form feed and tab are white-space; comments run to the end of the line.
    expect(await pdfSignatureState(Buffer.concat([pdf, Buffer.from('\x00\x0c\t\r\n% 6 0 obj << >> endobj\r%%EOF')]))).toEqual({ kind: 'signed', signer: 'Văn phòng UBND tỉnh' });
  });

  it('a signature algorithm it does not know is unverified, not signed', async () => {
    expect(await pdfSignatureState(signedPdf(rsa, { signatureOid: '1.2.3.4' }))).toEqual({ kind: 'unverified', detail: 'signature algorithm 1.2.3.4' });
  });

  it('reads a signer named by its key identifier; white-space in the hex string; a time stamp next to the signature is not its SubFilter', async () => {
    expect(await pdfSignatureState(signedPdf(rsa, { byKeyId: true }))).toEqual({ kind: 'signed', signer: 'Văn phòng UBND tỉnh' });
    const pdf = signedPdf(rsa);
    const close = pdf.indexOf('>', pdf.indexOf('/Contents <', 0, 'latin1'), 'latin1');
    expect(pdf.toString('latin1', close - 1, close)).toBe('0'); // padding
    pdf.write(' ', close - 1, 'latin1'); // white-space in the string, and an odd count of digits (the padding's last 0 implied)
    expect(await pdfSignatureState(pdf)).toEqual({ kind: 'signed', signer: 'Văn phòng UBND tỉnh' });
    expect(await pdfSignatureState(signedPdf(rsa, { widgetExtra: ' /X << /Type /DocTimeStamp /SubFilter /ETSI.RFC3161 >>' }))).toEqual({ kind: 'signed', signer: 'Văn phòng UBND tỉnh' });
  });

  it('the first dictionary naming a hole is its signature: a key in a comment after it naming the same hole with another range changes nothing', async () => {
    const pdf = signedPdf(rsa);
    const m = /\/ByteRange \[0 (\d+)\s+(\d+)\s+(\d+)/.exec(pdf.toString('latin1')) ?? [];
    const fake = Buffer.concat([pdf, Buffer.from(`% /ByteRange [0 ${m[1]} ${m[2]} ${Number(m[3]) - 7}]\n`)]);
    expect(await pdfSignatureState(fake)).toEqual({ kind: 'signed', signer: 'Văn phòng UBND tỉnh' });
    // Nor does a whole fake signature in a comment ending at the end of the file, while "%" in a string starts no comment.
    const tail = Buffer.from('% << /ByteRange [0 0000000001 0000000002 0000000004] /Contents <00> >>\n');
    const withFake = Buffer.concat([pdf, tail]);
    const end = withFake.length; // the fake's hole is its "<00>", and its range runs to the end of the file
    withFake.write(String(end - 8).padStart(10, '0'), pdf.length + '% << /ByteRange [0 '.length, 'latin1');
    withFake.write(String(end - 4).padStart(10, '0'), pdf.length + '% << /ByteRange [0 0000000001 '.length, 'latin1');
    expect(await pdfSignatureState(withFake)).toEqual({ kind: 'signed', signer: 'Văn phòng UBND tỉnh' });
    const uncommented = Buffer.from(withFake);
    uncommented.write(' ', pdf.length, 'latin1'); // the same dictionary out of the comment is read, and fails
    expect(await pdfSignatureState(uncommented)).toMatchObject({ kind: 'invalid', detail: expect.stringMatching(/^the signature cannot be read/) });
    const inString = Buffer.concat([unsignedPdf().subarray(0, -6), Buffer.from('<< /Reason (100% dong y) /ByteRange [0 10 99999999 5] >>\n%%EOF\n')]);
    expect(await pdfSignatureState(inString)).toEqual({ kind: 'invalid', detail: 'byte range [0 10 99999999 5] does not fit the file' });
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

  it('judges validity at submission, not at the signature’s own signingTime: a back-dated signature by an expired certificate is untrusted', async () => {
    const expired = makeSigner('Sở Xây dựng', 'rsa', { issuer: intermediate, validDays: [-400, -30] });
    const backDated = signedPdf(expired, { signingTime: new Date(Date.now() - 60 * 86_400_000) });
    expect(await pdfSignatureState(backDated, { authorities })).toMatchObject({ kind: 'untrusted', detail: 'the certificate “Sở Xây dựng” was not valid when the mail was submitted' });
    const valid = makeSigner('Sở Công Thương', 'rsa', { issuer: intermediate, validDays: [-10, 10] });
    expect(await pdfSignatureState(signedPdf(valid), { authorities, at: new Date(Date.now() + 20 * 86_400_000) })).toMatchObject({ kind: 'untrusted' });
  });

  it('an issuer must have signed the certificate, not only share its name; an authority out of validity certifies nothing', async () => {
    const fakeRoot = makeSigner('Ban Cơ yếu Chính phủ Root CA', 'rsa', { ca: true, validDays: [-3650, 3650] });
    const fakeIntermediate = makeSigner('CA phục vụ các cơ quan Đảng, Nhà nước', 'rsa', { ca: true, issuer: fakeRoot });
    expect(await pdfSignatureState(signedPdf(makeSigner('Kẻ mạo danh', 'rsa', { issuer: fakeIntermediate })), { authorities })).toMatchObject({ kind: 'untrusted' });
    const oldRoot = makeSigner('Root CA cũ', 'rsa', { ca: true, validDays: [-3650, -1] });
    const underOld = makeSigner('Sở Nội vụ', 'rsa', { issuer: oldRoot, validDays: [-10, 10] });
    expect(await pdfSignatureState(signedPdf(underOld), { authorities: [new X509Certificate(oldRoot.cert)] })).toEqual({ kind: 'untrusted', signer: 'Sở Nội vụ', detail: 'the authority “Root CA cũ” was not valid when the mail was submitted' });
  });

  it('an intermediate given only among the authorities completes the chain; an authority’s own certificate is no signer; names read unescaped', async () => {
    const leaf = makeSigner('Sở Giáo dục và Đào tạo, tỉnh Nghệ An', 'rsa', { issuer: intermediate });
    const withoutChain = signedPdf({ ...leaf, chain: [] });
    expect(await pdfSignatureState(withoutChain, { authorities })).toMatchObject({ kind: 'untrusted' });
    expect(await pdfSignatureState(withoutChain, { authorities: [...authorities, new X509Certificate(intermediate.cert)] })).toEqual({ kind: 'signed', signer: 'Sở Giáo dục và Đào tạo, tỉnh Nghệ An' });
    expect(await pdfSignatureState(signedPdf(intermediate), { authorities })).toEqual({
      kind: 'untrusted',
      signer: 'CA phục vụ các cơ quan Đảng, Nhà nước',
      detail: 'the signer “CA phục vụ các cơ quan Đảng, Nhà nước” is a certification authority\'s certificate, not a signer\'s',
    });
  });

  it('a certificate out of its validity when it signed is untrusted; an intermediate that is no CA does not certify', async () => {
    const expired = makeSigner('Sở Y tế', 'rsa', { issuer: intermediate, validDays: [-400, -30] });
    expect(await pdfSignatureState(signedPdf(expired), { authorities })).toEqual({ kind: 'untrusted', signer: 'Sở Y tế', detail: 'the certificate “Sở Y tế” was not valid when the mail was submitted' });
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
