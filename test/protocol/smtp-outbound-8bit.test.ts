/**
 * Outbound delivery and what the next hop offers (RFC 6152 8BITMIME, RFC 6531 SMTPUTF8): raw
 * socket sinks that advertise one set of extensions each and record the exact MAIL FROM line
 * and the bytes received. Also: a local recipient retried from the queue logs one row per attempt.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { dkimVerify } from 'mailauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBody } from '../../src/mail/decode.js';
import { allParts, parseMessage } from '../../src/mail/parse.js';
import { dkimDnsRecord, generateDkimKey } from '../../src/smtp/dkim.js';
import type { Account } from '../../src/store/port.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { createUser, nextMessage, PASSWORD, run, until } from './smtp-helpers.js';

interface Transaction {
  mailFrom: string;
  rcpts: string[];
  data: Buffer;
}

interface RawSink {
  port: number;
  /** Every MAIL FROM line, whether or not a message followed. */
  mailLines: string[];
  transactions: Transaction[];
  close(): Promise<void>;
}

const CRLF = Buffer.from('\r\n');
const END = Buffer.from('\r\n.\r\n');

/** A minimal SMTP server: EHLO offers exactly `extensions`; everything is accepted and recorded byte for byte. */
async function startRawSink(extensions: string[]): Promise<RawSink> {
  const sink: RawSink = { port: 0, mailLines: [], transactions: [], close: () => Promise.resolve() };
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    let inData = false;
    let tx: Transaction | null = null;
    const reply = (s: string): void => void socket.write(`${s}\r\n`);
    socket.write('220 sink ESMTP\r\n');
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        if (inData) {
          const withLead = Buffer.concat([CRLF, buf]);
          const at = withLead.indexOf(END);
          if (at < 0) return;
          const body = at === 0 ? Buffer.alloc(0) : withLead.subarray(2, at + 2);
          buf = withLead.subarray(at + END.length);
          // Undo dot-stuffing (RFC 5321 §4.5.2).
          const unstuffed = Buffer.from(body.toString('latin1').replace(/^\.\./gm, '.'), 'latin1');
          if (tx) sink.transactions.push({ ...tx, data: unstuffed });
          tx = null;
          inData = false;
          reply('250 2.0.0 ok');
          continue;
        }
        const nl = buf.indexOf(CRLF);
        if (nl < 0) return;
        const line = buf.subarray(0, nl).toString('utf8');
        buf = buf.subarray(nl + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') {
          const lines = ['sink', ...extensions];
          socket.write(lines.map((l, i) => `250${i === lines.length - 1 ? ' ' : '-'}${l}\r\n`).join(''));
        } else if (verb === 'HELO' || verb === 'NOOP') reply('250 ok');
        else if (verb === 'RSET') {
          tx = null;
          reply('250 ok');
        } else if (verb === 'MAIL') {
          sink.mailLines.push(line);
          tx = { mailFrom: line, rcpts: [], data: Buffer.alloc(0) };
          reply('250 2.1.0 ok');
        } else if (verb === 'RCPT') {
          tx?.rcpts.push(line);
          reply('250 2.1.5 ok');
        } else if (verb === 'DATA') {
          inData = true;
          reply('354 go on');
        } else if (verb === 'QUIT') {
          reply('221 bye');
          socket.end();
          return;
        } else reply('502 5.5.1 not implemented');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const a = server.address();
  sink.port = typeof a === 'object' && a ? a.port : 0;
  sink.close = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
  return sink;
}

const crlf = (lines: string[]): Buffer => Buffer.from(lines.join('\r\n'), 'utf8');
const has8bit = (b: Buffer): boolean => b.some((x) => x > 0x7f);

let app: TestApp;
let plain: RawSink; // SIZE only, like the auditor's sink
let mime8: RawSink; // 8BITMIME, no SMTPUTF8
let rich: RawSink; // 8BITMIME and SMTPUTF8
let long: Account;

beforeAll(async () => {
  plain = await startRawSink(['SIZE 50000000']);
  mime8 = await startRawSink(['SIZE 50000000', '8BITMIME']);
  rich = await startRawSink(['SIZE 50000000', '8BITMIME', 'SMTPUTF8']);
  app = await startApp({
    delivery: {
      routes: { 'plain.test': `127.0.0.1:${plain.port}`, 'mime8.test': `127.0.0.1:${mime8.port}`, 'rich.test': `127.0.0.1:${rich.port}` },
      queuePollMs: 20,
      retryScheduleMs: [200],
    },
  });
  long = await createUser(app.store, 'longnv@example.gov.vn');
}, 30_000);
afterAll(async () => {
  await app?.stop();
  await Promise.all([plain, mime8, rich].map((s) => s?.close()));
});

async function enqueue(recipients: string[], raw: Buffer, sender = 'longnv@example.gov.vn'): Promise<void> {
  await app.store.enqueue({ sender, recipients, raw, account: 'longnv@example.gov.vn', messageId: null, now: new Date() });
}

async function received(sink: RawSink, marker: string): Promise<Transaction> {
  return until(async () => sink.transactions.find((t) => t.data.includes(marker)));
}

/** The DSN's human-readable part, decoded. */
function humanPart(dsn: Buffer): string {
  const p = parseMessage(dsn);
  const part = allParts(p.structure).find((x) => x.type === 'text' && x.subtype === 'plain');
  return part ? decodeBody(dsn, part).toString('utf8') : '';
}

const eightBitBody = (subject: string): Buffer =>
  crlf([
    'From: longnv@example.gov.vn',
    `Subject: ${subject}`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="zz"',
    '',
    '--zz',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    'Nội dung tiếng Việt',
    '--zz',
    'Content-Type: application/octet-stream; name="x.bin"',
    'Content-Transfer-Encoding: binary',
    '',
    'b\u00e9n',
    '--zz--',
    '',
  ]);

describe('8-bit bodies (RFC 6152)', () => {
  it('converts to 7-bit for a server without 8BITMIME, structure kept, DKIM signed over what was sent', async () => {
    const key = await generateDkimKey(app.store, 'example.gov.vn', 'sel8', new Date());
    const rec = dkimDnsRecord(key);
    await enqueue(['a@plain.test'], eightBitBody('r02-8bit-plain'));
    const t = await received(plain, 'r02-8bit-plain');
    expect(t.mailFrom).toMatch(/^MAIL FROM:<longnv@example\.gov\.vn> SIZE=\d+$/);
    expect(has8bit(t.data)).toBe(false);
    const s = t.data.toString('latin1');
    expect(s).not.toMatch(/Content-Transfer-Encoding: (8bit|binary)/i);
    expect(s).toContain('Content-Transfer-Encoding: quoted-printable\r\n\r\nN=E1=BB=99i dung ti=E1=BA=BFng Vi=E1=BB=87t\r\n--zz');
    expect(s).toMatch(/name="x\.bin"\r\nContent-Transfer-Encoding: base64\r\n/);
    const parts = allParts(parseMessage(t.data).structure).filter((p) => p.children.length === 0);
    expect(parts.map((p) => decodeBody(t.data, p).toString('utf8'))).toEqual(['Nội dung tiếng Việt', 'b\u00e9n']);
    // SIZE is the size of what went.
    expect(Number(/SIZE=(\d+)/.exec(t.mailFrom)?.[1])).toBeGreaterThanOrEqual(t.data.length);
    expect(s).toMatch(/^DKIM-Signature: .*d=example\.gov\.vn/s);
    const resolver = async (name: string, type: string): Promise<string[][]> => {
      if (type === 'TXT' && name === rec.name) return [[rec.value]];
      throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    };
    const v = await dkimVerify(t.data, { resolver });
    expect(v.results.find((r) => r.signingDomain === 'example.gov.vn')?.status.result).toBe('pass');
  });

  it('sends 8-bit as it is, with BODY=8BITMIME, to a server that offers 8BITMIME', async () => {
    await enqueue(['a@mime8.test'], eightBitBody('r02-8bit-mime8'));
    const t = await received(mime8, 'r02-8bit-mime8');
    expect(t.mailFrom).toMatch(/^MAIL FROM:<longnv@example\.gov\.vn> BODY=8BITMIME SIZE=\d+$/);
    expect(t.data.includes(Buffer.from('Nội dung tiếng Việt', 'utf8'))).toBe(true);
  });

  it('puts no BODY=8BITMIME or SMTPUTF8 on a 7-bit message', async () => {
    await enqueue(['a@rich.test'], crlf(['From: longnv@example.gov.vn', 'Subject: r02-ascii', '', 'plain ascii', '']));
    const t = await received(rich, 'r02-ascii');
    expect(t.mailFrom).toMatch(/^MAIL FROM:<longnv@example\.gov\.vn> SIZE=\d+$/);
  });

  it('fails with 5.6.3 when an 8-bit message cannot be converted', async () => {
    const dsn = nextMessage(app.store, long.id);
    await enqueue(['uu@plain.test'], crlf(['From: longnv@example.gov.vn', 'Subject: r02-uu', 'MIME-Version: 1.0', 'Content-Transfer-Encoding: x-uuencode', '', 'Nội dung', '']));
    const d = await dsn;
    expect(d.toString('latin1')).toMatch(/Final-Recipient: rfc822; uu@plain\.test\r\nAction: failed\r\nStatus: 5\.6\.3/);
    expect(humanPart(d)).toContain('không hỗ trợ 8BITMIME');
    expect(plain.transactions.some((t) => t.data.includes('r02-uu'))).toBe(false);
  });
});

describe('lines over 998 octets (RFC 5321 §4.5.3.1.6)', () => {
  const longLine = `${'Kính gửi các đơn vị trực thuộc. '.repeat(80)}Hết.`;
  const maxLine = (b: Buffer): number => Math.max(...b.toString('latin1').split(/\r?\n/).map((l) => l.length));

  it('a submitted body line over 998 octets goes out re-encoded to every hop, the text unchanged', async () => {
    // Python's smtplib sends the message as given (nodemailer would encode it itself).
    const py = `
import smtplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=20)
s.starttls(context=ctx)
s.login('longnv', sys.argv[2])
msg = ('From: longnv@example.gov.vn\\r\\nTo: a@mime8.test, a@plain.test\\r\\nSubject: long-line-r998\\r\\n'
       'MIME-Version: 1.0\\r\\nContent-Type: text/plain; charset=utf-8\\r\\nContent-Transfer-Encoding: 8bit\\r\\n\\r\\n'
       + sys.argv[3] + '\\r\\n').encode('utf-8')
r = s.sendmail('longnv@example.gov.vn', ['a@mime8.test', 'a@plain.test'], msg)
print('refused', r)
s.quit()
`;
    const r = await run('python3', ['-c', py, String(app.port('submission')), PASSWORD, longLine]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('refused {}');
    expect(Buffer.byteLength(longLine)).toBeGreaterThan(998);
    for (const sink of [mime8, plain]) {
      const t = await received(sink, 'long-line-r998');
      expect(maxLine(t.data)).toBeLessThanOrEqual(998);
      expect(t.data.toString('latin1')).toContain('Content-Transfer-Encoding: quoted-printable');
      const part = parseMessage(t.data).structure;
      expect(decodeBody(t.data, part).toString('utf8')).toBe(`${longLine}\r\n`);
    }
  });
});

describe('internationalised mail (RFC 6531)', () => {
  it('does not send UTF-8 headers to a server without SMTPUTF8: 5.6.9, bilingual DSN to the sender', async () => {
    const dsn = nextMessage(app.store, long.id);
    const lines = plain.mailLines.length;
    await enqueue(['b@plain.test'], crlf(['From: Nguyễn Văn Long <longnv@example.gov.vn>', 'Subject: Tiêu đề r02-utf8-hdr', '', 'x', '']));
    const d = await dsn;
    expect(d.toString('latin1')).toMatch(/Final-Recipient: rfc822; b@plain\.test\r\nAction: failed\r\nStatus: 5\.6\.9/);
    expect(d.toString('latin1')).toMatch(/Diagnostic-Code: smtp; 550 5\.6\.9 The receiving server 127\.0\.0\.1 does not support SMTPUTF8/);
    const human = humanPart(d);
    expect(human).toContain('không hỗ trợ SMTPUTF8');
    expect(human.indexOf('không hỗ trợ SMTPUTF8')).toBeLessThan(human.indexOf('does not support SMTPUTF8'));
    expect(plain.mailLines.length).toBe(lines); // nothing was even begun
    await until(async () => (await app.store.queueDepth()) === 0);
  });

  it('fails only the non-ASCII recipient (5.6.7) and delivers the rest to a server without SMTPUTF8', async () => {
    const dsn = nextMessage(app.store, long.id);
    await enqueue(['người@plain.test', 'c@plain.test'], crlf(['From: longnv@example.gov.vn', 'Subject: r02-utf8-rcpt', '', 'x', '']));
    const t = await received(plain, 'r02-utf8-rcpt');
    expect(t.rcpts).toEqual(['RCPT TO:<c@plain.test>']);
    expect(t.mailFrom).not.toMatch(/SMTPUTF8/);
    const d = (await dsn).toString('utf8');
    // RFC 6533 §3: message/delivery-status stays ASCII; the address goes as utf-8-addr-xtext.
    expect(d).toContain('Final-Recipient: utf-8; ng\\x{1B0}\\x{1EDD}i@plain.test\r\nAction: failed\r\nStatus: 5.6.7');
    expect(d).not.toMatch(/c@plain\.test\r\nAction: failed/);
    expect(plain.mailLines.some((l) => has8bit(Buffer.from(l)))).toBe(false);
  });

  it('sends SMTPUTF8 on MAIL FROM for UTF-8 headers or addresses where offered', async () => {
    await enqueue(['d@rich.test'], crlf(['From: Nguyễn Văn Long <longnv@example.gov.vn>', 'Subject: Tiêu đề r02-utf8-rich', '', 'x', '']));
    const t = await received(rich, 'r02-utf8-rich');
    expect(t.mailFrom).toMatch(/^MAIL FROM:<longnv@example\.gov\.vn> .*\bSMTPUTF8\b/);
    expect(t.mailFrom).toMatch(/BODY=8BITMIME/);
    expect(t.data.includes(Buffer.from('Tiêu đề r02-utf8-rich', 'utf8'))).toBe(true);

    await enqueue(['người@rich.test'], crlf(['From: longnv@example.gov.vn', 'Subject: r02-utf8-rcpt-rich', '', 'x', '']));
    const u = await received(rich, 'r02-utf8-rcpt-rich');
    expect(u.mailFrom).toMatch(/ SMTPUTF8\b/);
    expect(u.rcpts).toEqual(['RCPT TO:<người@rich.test>']);
  });
});

describe('send log of a local retry', () => {
  it('logs one "local" row per attempt (nothing goes out)', async () => {
    await createUser(app.store, 'binhl@example.gov.vn', { quotaBytes: 10 });
    const raw = crlf(['From: x@ext.test', 'Subject: r13', 'Message-ID: <r13@ext.test>', '', 'x'.repeat(200), '']);
    await app.store.enqueue({ sender: 'x@ext.test', recipients: ['binhl@example.gov.vn'], raw, account: null, messageId: '<r13@ext.test>', now: new Date() });
    const rows = await until(async () => {
      const r = await app.store.searchSendLog({ recipient: 'binhl@example.gov.vn' });
      return r.length >= 4 ? r : null;
    });
    expect(rows.map((r) => r.direction)).toEqual(rows.map(() => 'local'));
    expect(rows.every((r) => r.outcome === 'deferred' && r.code === 452)).toBe(true);
    // One row per attempt: no two rows of the same attempt.
    const times = rows.map((r) => r.at.getTime());
    expect(new Set(times).size).toBe(times.length);
  });
});
