/**
 * R-POL-7: reading a PDF's digital signatures (policy/pdf-signature.ts) on PDFs built and signed
 * here (test/helpers/signed-pdf.ts): RSA, RSA-PSS and ECDSA signatures hold; a document changed
 * after signing, a signature made with another key, a byte range that leaves out the wrong bytes
 * and garbage in /Contents do not; a placeholder being prepared and a time stamp are no signature.
 */
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pdfSignatureState } from '../../../src/policy/pdf-signature.js';
import { certificatePem, makeSigner, signedPdf, unsignedPdf, type Signer } from '../../helpers/signed-pdf.js';

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

describe.skipIf(!OPENSSL)('pdfSignatureState on signatures made by openssl cms', () => {
  it('reads them (RSA and ECDSA, with openssl’s own signed attributes; RSA-PSS), and sees a change after signing', async () => {
    expect(await pdfSignatureState(signedPdf(opensslSigner(rsa)))).toEqual({ kind: 'signed', signer: 'Văn phòng UBND tỉnh' });
    const ec = makeSigner('UBND huyện Nam Đàn', 'ecdsa');
    expect(await pdfSignatureState(signedPdf(opensslSigner(ec)))).toEqual({ kind: 'signed', signer: 'UBND huyện Nam Đàn' });
    expect(await pdfSignatureState(signedPdf(opensslSigner(rsa, ['-keyopt', 'rsa_padding_mode:pss'])))).toEqual({ kind: 'signed', signer: 'Văn phòng UBND tỉnh' });
    expect(await pdfSignatureState(signedPdf(opensslSigner(rsa), { tamper: true }))).toEqual({ kind: 'invalid', detail: 'the document was changed after it was signed' });
  });
});
