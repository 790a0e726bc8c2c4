/**
 * R-POL-7 over SMTP submission (nodemailer): documents a unit sends — from its unit mailbox, or
 * by a delegate writing as the unit — go out as digitally signed PDFs under a subject that is the
 * document's summary. By default (flag) an unsigned PDF, a broken signature or a subject with no
 * summary is delivered with the finding in `X-Buudien-Policy` and the send log; with `reject` it
 * is refused (550 5.7.1, Vietnamese first) and nothing is stored. A properly signed document, and
 * a person's own mail with an unsigned PDF, pass untouched.
 */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFrom } from '../../src/config/load.js';
import { policyConfigProblems } from '../../src/policy/pipeline.js';
import { startApp, testDir, type TestApp } from '../helpers/app.js';
import { createTestAccount } from '../helpers/accounts.js';
import { appendRevision, certificatePem, makeSigner, signedPdf, unsignedPdf } from '../helpers/signed-pdf.js';
import type { Account } from '../../src/store/port.js';
import { mimeMessage } from '../unit/policy/fixtures.js';
import { addUser, headersOf, mailboxMessages, send } from './policy-helpers.js';

const subject = (s: string) => `=?UTF-8?B?${Buffer.from(s).toString('base64')}?=`;
const SUMMARY = subject('V/v triển khai kế hoạch chuyển đổi số năm 2027');
const signer = makeSigner('Văn phòng UBND tỉnh');

/** A document from the unit mailbox vp@ to lanht@, submitted as `login`. */
function documentMail(pdf: Buffer, opts: { subject?: string; from?: string; name?: string } = {}): Buffer {
  return mimeMessage({
    from: opts.from ?? 'vp@example.gov.vn',
    to: 'lanht@example.gov.vn',
    subject: opts.subject ?? SUMMARY,
    attachments: [{ name: opts.name ?? '123-UBND-VP.pdf', contentType: 'application/pdf', data: pdf }],
  });
}

const policyHeaders = (raw: string) => headersOf(raw).filter((h) => h.startsWith('X-Buudien-Policy: official-documents'));

describe('R-POL-7 official documents (default: flag)', () => {
  let app: TestApp;
  let vp: Account;
  let lanht: Account;
  beforeAll(async () => {
    app = await startApp();
    vp = await createTestAccount(app.store, 'vp@example.gov.vn', { kind: 'unit' });
    lanht = await addUser(app.store, 'lanht@example.gov.vn');
    const clerk = await addUser(app.store, 'vanthu@example.gov.vn');
    await app.store.addDelegation(vp.id, clerk.id, { actor: 'test', action: 'delegation.add', target: 'vp@example.gov.vn' });
  });
  afterAll(async () => app?.stop());

  // The clerk opens the unit mailbox as its delegate (R-ACC-6: nobody signs in with the mailbox's own password).
  const submit = (raw: Buffer, login = 'vp*vanthu', from = 'vp@example.gov.vn') => send(app, raw, { submission: login, from, to: ['lanht@example.gov.vn'] });

  it('delivers a signed PDF under a summary subject with no finding', async () => {
    expect((await submit(documentMail(signedPdf(signer)))).code).toBe(250);
    const [raw] = await mailboxMessages(app.store, lanht.id);
    expect(headersOf(raw ?? '')).toContain(`Subject: ${SUMMARY}`);
    expect(policyHeaders(raw ?? '')).toEqual([]);
  });

  it('flags an unsigned PDF from the unit mailbox: header on the delivered copy, finding in the send log', async () => {
    const r = await submit(documentMail(unsignedPdf(), { subject: subject('Kế hoạch số 45/KH-UBND về cải cách hành chính') }));
    expect(r.code).toBe(250);
    const all = await mailboxMessages(app.store, lanht.id);
    expect(policyHeaders(all.at(-1) ?? '')).toEqual(['X-Buudien-Policy: official-documents; file="123-UBND-VP.pdf"; problem=unsigned']);
    const log = await app.store.searchSendLog({ sender: 'vp@example.gov.vn' });
    expect(log[0]?.findings).toEqual(['official-documents: flag official-documents; file="123-UBND-VP.pdf"; problem=unsigned']);
  });

  it('flags a PDF changed after signing, and a subject that is only "Fwd:" and the file name', async () => {
    expect((await submit(documentMail(signedPdf(signer, { tamper: true })))).code).toBe(250);
    expect(policyHeaders((await mailboxMessages(app.store, lanht.id)).at(-1) ?? '')).toEqual([
      'X-Buudien-Policy: official-documents; file="123-UBND-VP.pdf"; problem=signature-invalid; detail="the document was changed after it was signed"',
    ]);
    expect((await submit(documentMail(signedPdf(signer), { subject: 'Fwd: 123-UBND-VP.pdf' }))).code).toBe(250);
    expect(policyHeaders((await mailboxMessages(app.store, lanht.id)).at(-1) ?? '')).toEqual(['X-Buudien-Policy: official-documents; problem=no-summary']);
  });

  it('checks a delegate writing as the unit, not a person writing as themself', async () => {
    expect((await submit(documentMail(unsignedPdf()), 'vanthu', 'vanthu@example.gov.vn')).code).toBe(250);
    expect(policyHeaders((await mailboxMessages(app.store, lanht.id)).at(-1) ?? '')).toEqual(['X-Buudien-Policy: official-documents; file="123-UBND-VP.pdf"; problem=unsigned']);
    expect((await submit(documentMail(unsignedPdf(), { from: 'vanthu@example.gov.vn' }), 'vanthu', 'vanthu@example.gov.vn')).code).toBe(250);
    expect(policyHeaders((await mailboxMessages(app.store, lanht.id)).at(-1) ?? '')).toEqual([]);
  });

  it('flags a page changed after signing, a .pdf that is no PDF, and a signature it cannot check', async () => {
    const added = appendRevision(signedPdf(signer), { 6: '<< /Length 2 >>\nstream\nXX\nendstream' });
    expect((await submit(documentMail(added))).code).toBe(250);
    expect(policyHeaders((await mailboxMessages(app.store, lanht.id)).at(-1) ?? '')).toEqual([
      'X-Buudien-Policy: official-documents; file="123-UBND-VP.pdf"; problem=signature-invalid; detail="content was added after it was signed"',
    ]);
    expect((await submit(documentMail(Buffer.from('Bien ban hop, not a PDF')))).code).toBe(250);
    expect(policyHeaders((await mailboxMessages(app.store, lanht.id)).at(-1) ?? '')).toEqual(['X-Buudien-Policy: official-documents; file="123-UBND-VP.pdf"; problem=not-pdf']);
    expect((await submit(documentMail(signedPdf(signer, { signatureOid: '1.2.3.4' })))).code).toBe(250);
    expect(policyHeaders((await mailboxMessages(app.store, lanht.id)).at(-1) ?? '')).toEqual([
      'X-Buudien-Policy: official-documents; file="123-UBND-VP.pdf"; problem=signature-unverified; detail="signature algorithm 1.2.3.4"',
    ]);
  });

  it('finds a PDF sent under another name and type by its first bytes', async () => {
    const raw = mimeMessage({ from: 'vp@example.gov.vn', to: 'lanht@example.gov.vn', subject: SUMMARY, attachments: [{ name: 'van-ban', data: unsignedPdf() }] });
    expect((await submit(raw)).code).toBe(250);
    expect(policyHeaders((await mailboxMessages(app.store, lanht.id)).at(-1) ?? '')).toEqual(['X-Buudien-Policy: official-documents; file="van-ban"; problem=unsigned']);
  });
});

describe('R-POL-7 with action reject', () => {
  let app: TestApp;
  let lanht: Account;
  beforeAll(async () => {
    app = await startApp({ policy: { rules: [{ name: 'official-documents', action: 'reject' }] } });
    const vp = await createTestAccount(app.store, 'vp@example.gov.vn', { kind: 'unit' });
    lanht = await addUser(app.store, 'lanht@example.gov.vn');
    const clerk = await addUser(app.store, 'vanthu@example.gov.vn');
    await app.store.addDelegation(vp.id, clerk.id, { actor: 'test', action: 'delegation.add', target: 'vp@example.gov.vn' });
  });
  afterAll(async () => app?.stop());

  it('refuses an unsigned or broken document and a subject with no summary, saying what to fix; stores nothing', async () => {
    const submit = (raw: Buffer) => send(app, raw, { submission: 'vp*vanthu', from: 'vp@example.gov.vn', to: ['lanht@example.gov.vn'] });
    const unsigned = await submit(documentMail(unsignedPdf()));
    expect(unsigned.code).toBe(550);
    expect(unsigned.response).toMatch(/^550 5\.7\.1 Thư bị từ chối: văn bản gửi từ hộp thư đơn vị phải là tệp PDF đã ký số; tệp "123-UBND-VP\.pdf" chưa được ký số \(quy tắc official-documents\) \/ Message refused: documents sent from a unit mailbox must be digitally signed PDF files; file "123-UBND-VP\.pdf" is not signed/);
    const broken = await submit(documentMail(signedPdf(signer, { tamper: true })));
    expect(broken.response).toContain('chữ ký số của tệp "123-UBND-VP.pdf" không hợp lệ');
    const noSummary = await submit(documentMail(signedPdf(signer), { subject: 'TL:' }));
    expect(noSummary.response).toContain('thư gửi văn bản phải có tiêu đề là trích yếu nội dung văn bản');
    expect(await mailboxMessages(app.store, lanht.id)).toEqual([]);
    expect((await submit(documentMail(signedPdf(signer)))).code).toBe(250);
    expect(await mailboxMessages(app.store, lanht.id)).toHaveLength(1);
  });

  it('keeps the reply within one SMTP line (512 octets) for a long Vietnamese file name, cut on a character', async () => {
    const name = `${'ữ'.repeat(60)}.pdf`;
    const r = await send(app, documentMail(unsignedPdf(), { name }), { submission: 'vp*vanthu', from: 'vp@example.gov.vn', to: ['lanht@example.gov.vn'] });
    expect(r.code).toBe(550);
    expect(Buffer.byteLength(`${r.response}\r\n`)).toBeLessThanOrEqual(512);
    expect(r.response).toContain(`tệp "${'ữ'.repeat(19)}…" chưa được ký số`);
  });
});

describe('R-POL-7 with policy.signingAuthorities', () => {
  const dir = testDir('buudien-ca-');
  const root = makeSigner('Ban Cơ yếu Chính phủ Root CA', 'rsa', { ca: true, validDays: [-3650, 3650] });
  const ca = makeSigner('CA phục vụ các cơ quan Đảng, Nhà nước', 'rsa', { ca: true, issuer: root, validDays: [-1000, 2000] });
  const rootFile = path.join(dir, 'root-ca.pem');
  writeFileSync(rootFile, certificatePem(root.cert));
  let app: TestApp;
  let lanht: Account;
  beforeAll(async () => {
    app = await startApp({ policy: { signingAuthorities: [rootFile] } });
    const vp = await createTestAccount(app.store, 'vp@example.gov.vn', { kind: 'unit' });
    lanht = await addUser(app.store, 'lanht@example.gov.vn');
    const clerk = await addUser(app.store, 'vanthu@example.gov.vn');
    await app.store.addDelegation(vp.id, clerk.id, { actor: 'test', action: 'delegation.add', target: 'vp@example.gov.vn' });
  });
  afterAll(async () => {
    await app?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a document signed with a certificate the authority issued passes; a self-signed one is flagged untrusted-signer', async () => {
    const submit = (raw: Buffer) => send(app, raw, { submission: 'vp*vanthu', from: 'vp@example.gov.vn', to: ['lanht@example.gov.vn'] });
    expect((await submit(documentMail(signedPdf(makeSigner('Văn phòng UBND tỉnh', 'rsa', { issuer: ca }))))).code).toBe(250);
    expect(policyHeaders((await mailboxMessages(app.store, lanht.id)).at(-1) ?? '')).toEqual([]);
    expect((await submit(documentMail(signedPdf(signer)))).code).toBe(250);
    expect(policyHeaders((await mailboxMessages(app.store, lanht.id)).at(-1) ?? '')).toEqual([
      'X-Buudien-Policy: official-documents; file="123-UBND-VP.pdf"; problem=untrusted-signer; detail="the signer “Văn phòng UBND tỉnh” is not certified by a trusted authority"',
    ]);
  });

  it('a file that is not there or holds no certificate is a config error at start and in `config check`', async () => {
    const bad = path.join(dir, 'not-a-cert.pem');
    writeFileSync(bad, 'hello');
    const config = configFrom({ domains: ['example.gov.vn'], policy: { signingAuthorities: [rootFile, bad, path.join(dir, 'missing.pem')] } });
    const problems = policyConfigProblems(config);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^policy\.signingAuthorities\.1: expected a readable file of PEM certificates, got ".*not-a-cert\.pem" \(no PEM certificate in it\)$/);
    expect(problems[1]).toMatch(/^policy\.signingAuthorities\.2: expected a readable file of PEM certificates, got ".*missing\.pem" \(ENOENT/);
    await expect(startApp({ policy: { signingAuthorities: [bad] } })).rejects.toThrow(/policy\.signingAuthorities\.0: expected a readable file of PEM certificates/);
  });
});
