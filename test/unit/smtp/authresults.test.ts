/** Authentication-Results (RFC 8601) from mailauth's results; SPF/DKIM/DMARC evaluated through a fake resolver. */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { DMARCResult, SPFResult } from 'mailauth';
import { checkAuthentication, composeAuthenticationResults } from '../../../src/smtp/authresults.js';
import { signWithKey } from '../../../src/smtp/dkim.js';

describe('composeAuthenticationResults', () => {
  it('joins the resinfo of each method after the authserv-id, folded, and spots DMARC p=reject', () => {
    const spf = { domain: 'sender.example', 'client-ip': '192.0.2.1', status: { result: 'fail' }, header: '', info: 'spf=fail smtp.mailfrom=a@sender.example' } as unknown as SPFResult;
    const dmarc = { domain: 'sender.example', policy: 'reject', p: 'reject', sp: 'reject', status: { result: 'fail' }, alignment: { spf: { result: false, strict: false }, dkim: { result: false, strict: false } }, info: 'dmarc=fail (p=REJECT arc=none) header.from=sender.example' } as unknown as DMARCResult;
    const v = composeAuthenticationResults('mail.example.gov.vn', {
      spf,
      dkim: { results: [{ signingDomain: 'sender.example', status: { result: 'neutral' }, info: 'dkim=neutral (no key) header.d=sender.example\r\n header.s=x' }] },
      dmarc,
    });
    expect(v.header).toBe(
      'Authentication-Results: mail.example.gov.vn;\r\n spf=fail smtp.mailfrom=a@sender.example;\r\n dkim=neutral (no key) header.d=sender.example header.s=x;\r\n dmarc=fail (p=REJECT arc=none) header.from=sender.example',
    );
    expect(v.dmarcReject).toEqual({ domain: 'sender.example' });
    expect(v.findings).toEqual(['spf=fail', 'dkim=neutral (sender.example)', 'dmarc=fail (p=reject)']);
  });

  it('writes none for methods without a result', () => {
    const v = composeAuthenticationResults('mx', { spf: false, dkim: { results: [] }, dmarc: false });
    expect(v.header).toBe('Authentication-Results: mx;\r\n spf=none;\r\n dkim=none;\r\n dmarc=none');
    expect(v.dmarcReject).toBeNull();
  });
});

describe('checkAuthentication with a fake DNS resolver', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  const txt: Record<string, string> = {
    'sender.example': 'v=spf1 ip4:192.0.2.1 -all',
    's1._domainkey.sender.example': `v=DKIM1; k=rsa; p=${publicKey.toString('base64')}`,
    '_dmarc.sender.example': 'v=DMARC1; p=reject',
  };
  const resolver = async (name: string, type: string): Promise<string[][]> => {
    const v = txt[name.toLowerCase()];
    if (type === 'TXT' && v) return [[v]];
    const e = new Error(`${name} ${type} not found`) as Error & { code: string };
    e.code = type === 'TXT' && !v ? 'ENOTFOUND' : 'ENODATA';
    throw e;
  };
  const msg = Buffer.from('From: Lan <lan@sender.example>\r\nTo: a@example.gov.vn\r\nSubject: Hello\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@sender.example>\r\n\r\nBody\r\n');

  it('passes SPF, DKIM and DMARC for an aligned, signed message from an allowed IP', async () => {
    const signed = await signWithKey(msg, { domain: 'sender.example', selector: 's1', privateKey, publicKey: '', createdAt: '' }, new Date());
    const v = await checkAuthentication({ raw: signed, ip: '192.0.2.1', helo: 'mx.sender.example', sender: 'lan@sender.example', hostname: 'mail.example.gov.vn', resolver });
    expect(v.header).toMatch(/^Authentication-Results: mail\.example\.gov\.vn;\r\n spf=pass /);
    expect(v.header).toMatch(/dkim=pass header\.i=@sender\.example header\.s=s1/);
    expect(v.header).toMatch(/dmarc=pass /);
    expect(v.dmarcReject).toBeNull();
    expect(v.findings).toEqual([]);
  });

  it('fails SPF and DMARC (p=reject) for an unsigned message from another IP', async () => {
    const v = await checkAuthentication({ raw: msg, ip: '203.0.113.9', helo: 'evil.example', sender: 'lan@sender.example', hostname: 'mail.example.gov.vn', resolver });
    expect(v.header).toMatch(/spf=fail /);
    expect(v.header).toMatch(/dkim=none/);
    expect(v.header).toMatch(/dmarc=fail /);
    expect(v.dmarcReject).toEqual({ domain: 'sender.example' });
  });
});
