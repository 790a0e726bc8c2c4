/**
 * DKIM with another implementation: dkimpy (Debian's python3-dkim, installed by .ci/run), whose
 * "relaxed" header canonicalization is RFC 6376 §3.4.2's. Raw UTF-8 header fields (RFC 6532)
 * whose bytes include 0xA0 ("à" is C3 A0, "Ạ" E1 BA A0) are where mailauth's own
 * canonicalization went wrong (mailauth-fix.ts):
 * - what we sign, dkimpy verifies;
 * - what dkimpy signs, our inbound check (authresults.ts) finds to pass.
 * Skipped, loudly, when python3-dkim is missing.
 */
// The server's modules first, as in the server: the correction must precede mailauth's loading.
import { checkAuthentication } from '../../src/smtp/authresults.js';
import { signWithKey } from '../../src/smtp/dkim.js';
import { fixApplied } from '../../src/smtp/mailauth-fix.js';
import { dkimDnsRecord, generateDkimKey, type DkimKey } from '../../src/delivery/dkim-keys.js';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const PYTHON = '/usr/bin/python3';
const HAS_DKIMPY = spawnSync(PYTHON, ['-c', 'import dkim'], { stdio: 'ignore' }).status === 0;
if (!HAS_DKIMPY) console.warn('SKIP dkim-interop: python3-dkim is not installed (apt-get install python3-dkim); DKIM was not checked against another implementation');

/** Runs `script` with the message on stdin, the key's record in DKIM_RECORD and the key in DKIM_KEY; its stdout. */
function python(script: string, message: Buffer, key: DkimKey): Buffer {
  const r = spawnSync(PYTHON, ['-c', script], { input: message, env: { ...process.env, DKIM_RECORD: dkimDnsRecord(key).value, DKIM_KEY: key.privateKey } });
  if (r.status !== 0) throw new Error(r.stderr.toString());
  return r.stdout;
}

const VERIFY = `
import dkim, os, sys
record = os.environ['DKIM_RECORD'].encode()
print(dkim.verify(sys.stdin.buffer.read(), dnsfunc=lambda name, timeout=5: record))
`;
const SIGN = `
import dkim, os, sys
m = sys.stdin.buffer.read()
sig = dkim.sign(m, b'interop', b'example.gov.vn', os.environ['DKIM_KEY'].encode(), canonicalize=(b'relaxed', b'relaxed'), include_headers=[b'from', b'to', b'subject', b'date'])
sys.stdout.buffer.write(sig + m)
`;

const MESSAGES: Array<[string, string]> = [
  ['a raw UTF-8 subject with "à" and "ạ"', 'From: <ha@example.gov.vn>\r\nTo: <a@other.example>\r\nSubject: Thư mời họp tại Hà Nội ngày mạ\r\n\r\nNoi dung.\r\n'],
  ['a raw UTF-8 display name', 'From: Nguyễn Thị Hà <ha@example.gov.vn>\r\nTo: Phạm Văn Bá <a@other.example>\r\nSubject: Hop\r\n\r\nNoi dung.\r\n'],
  ['folding, tabs and trailing spaces', 'From:   <ha@example.gov.vn> \t\r\nTo: <a@other.example>,\r\n\t<b@other.example>\r\nSubject:  Báo   cáo \t\r\n\r\nNoi dung.  \r\n\r\n'],
];

describe.skipIf(!HAS_DKIMPY)('DKIM against dkimpy', () => {
  const keyOnce = generateDkimKey({ setSetting: async () => undefined }, 'example.gov.vn', 'interop', new Date());

  it('the correction reached mailauth before it loaded', () => {
    expect(fixApplied).toBe(true);
  });

  it.each(MESSAGES)('what we sign verifies at dkimpy: %s', async (_name, raw) => {
    const key = await keyOnce;
    const signed = await signWithKey(Buffer.from(raw, 'utf8'), key, new Date());
    expect(python(VERIFY, signed, key).toString().trim()).toBe('True');
  });

  it.each(MESSAGES)('what dkimpy signs passes our inbound check: %s', async (_name, raw) => {
    const key = await keyOnce;
    const signed = python(SIGN, Buffer.from(raw, 'utf8'), key);
    const rec = dkimDnsRecord(key);
    const resolver = async (name: string, type: string): Promise<string[][]> => {
      if (type === 'TXT' && name === rec.name) return [[rec.value]];
      throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    };
    const v = await checkAuthentication({ raw: signed, ip: '192.0.2.1', helo: 'mx.other.example', sender: 'ha@example.gov.vn', hostname: 'mail.test', fromDomains: ['example.gov.vn'], resolver });
    expect(v.header).toMatch(/dkim=pass/);
  });
});
