/** Python's imaplib (scripts, monitoring, migration tools) against the real server. */
import { has } from '../helpers/tools.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import { createUser, deliver, message, PASSWORD } from './imap-helpers.js';

const run = promisify(execFile);

const SCRIPT = String.raw`
import imaplib, json, ssl, sys, time
port, sport, password = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
out = {}
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE

m = imaplib.IMAP4('127.0.0.1', port)
out['starttls'] = m.starttls(ssl_context=ctx)[0]
out['login'] = m.login('thuvt', password)[0]
out['caps'] = m.capability()[1][0].decode().split()
typ, data = m.list()
out['list'] = [d.decode() for d in data]
typ, data = m.select('INBOX')
out['exists'] = int(data[0])
typ, data = m.search(None, 'ALL')
out['search_all'] = data[0].decode()
m.literal = 'Hà Nội'.encode()
typ, data = m.search('UTF-8', 'SUBJECT')
out['search_utf8'] = data[0].decode()
typ, data = m.fetch('1', '(RFC822)')
out['rfc822_len'] = len(data[0][1])
typ, data = m.fetch('1', '(BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
out['subject_header'] = data[0][1].decode()
typ, data = m.store('1', '+FLAGS', '(\\Flagged)')
out['store'] = data[0].decode()
typ, data = m.append('Sent', '(\\Seen)', imaplib.Time2Internaldate(time.time()), b'Subject: sent\r\n\r\nbody\r\n')
out['append'] = data[0].decode()
typ, data = m.copy('1', 'Archive')
out['copy'] = data[0].decode() if data[0] else typ
m.store('2', '+FLAGS', '(\\Deleted)')
typ, data = m.expunge()
out['expunge'] = [d.decode() for d in data if d]
typ, data = m.status('Sent', '(MESSAGES UNSEEN)')
out['status'] = data[0].decode()
typ, data = m.namespace()
out['namespace'] = data[0].decode()
typ, data = m.getquotaroot('INBOX')
out['quota'] = [d.decode() if isinstance(d, bytes) else str(d) for d in data[1]]
out['create'] = m.create('"B&AOE-o c&AOE-o"')[0]
out['rename'] = m.rename('"B&AOE-o c&AOE-o"', '"B&AOE-o c&AOE-o 2026"')[0]
out['delete'] = m.delete('"B&AOE-o c&AOE-o 2026"')[0]
out['close'] = m.close()[0]
out['logout'] = m.logout()[0]

s = imaplib.IMAP4_SSL('127.0.0.1', sport, ssl_context=ctx)
out['ssl_login'] = s.login('thuvt@example.gov.vn', password)[0]
s.logout()
print(json.dumps(out))
`;

const hasPython = has('python3');
if (!hasPython) console.warn('SKIPPED: python3 is not installed; the imaplib tests do not run');

describe.skipIf(!hasPython)('Python imaplib', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp();
    const u = await createUser(app, 'thuvt');
    await deliver(app, u, message({ subject: 'Họp ở Hà Nội' }));
    await deliver(app, u, message({ subject: 'Other' }));
  });
  afterAll(async () => app?.stop());

  it('runs the everyday commands a script uses', async () => {
    const { stdout } = await run('python3', ['-c', SCRIPT, String(app.port('imap')), String(app.port('imaps')), PASSWORD]);
    const out = JSON.parse(stdout) as Record<string, unknown>;
    expect(out.starttls).toBe('OK');
    expect(out.login).toBe('OK');
    expect(out.caps).toEqual(expect.arrayContaining(['IMAP4rev1', 'IDLE', 'UIDPLUS', 'MOVE', 'SPECIAL-USE', 'QUOTA']));
    expect((out.list as string[]).some((l) => l.includes('\\Sent') && l.endsWith('"Sent"'))).toBe(true);
    expect(out.exists).toBe(2);
    expect(out.search_all).toBe('1 2');
    expect(out.search_utf8).toBe('1');
    expect(out.rfc822_len).toBeGreaterThan(100);
    expect(out.subject_header).toContain('Subject: Họp ở Hà Nội');
    expect(out.store).toBe('1 (FLAGS (\\Seen \\Flagged \\Recent))'); // the RFC822 fetch set \Seen; SELECT claimed \Recent
    expect(out.append).toMatch(/^\[APPENDUID \d+ 1\]/);
    expect(out.copy).toMatch(/COPYUID \d+ 1 1/);
    expect(out.expunge).toEqual(['2']);
    expect(out.status).toBe('"Sent" (MESSAGES 1 UNSEEN 0)');
    expect(out.namespace).toBe('(("" "/")) NIL NIL');
    expect((out.quota as string[]).join(' ')).toMatch(/STORAGE \d+ 2097152/);
    expect([out.create, out.rename, out.delete, out.close, out.logout, out.ssl_login]).toEqual(['OK', 'OK', 'OK', 'OK', 'BYE', 'OK']);
  });
});
