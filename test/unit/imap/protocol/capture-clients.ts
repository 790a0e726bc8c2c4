/**
 * Dev tool (not a test): records the exact bytes real IMAP clients send, for transcripts.test.ts.
 * A minimal scripted IMAP responder on 127.0.0.1 (its own tiny framer, independent of the
 * parser under test) answers just enough for imapflow and Python's imaplib to go through a
 * typical session; every byte they send is recorded.
 *
 *   npx tsx test/unit/imap/protocol/capture-clients.ts > test/unit/imap/protocol/fixtures/clients.json
 */
import { execFile } from 'node:child_process';
import net from 'node:net';
import { ImapFlow } from 'imapflow';

const CAPS = 'IMAP4rev1 LITERAL+ SASL-IR AUTH=PLAIN ENABLE IDLE UTF8=ACCEPT CONDSTORE QRESYNC MOVE UIDPLUS SPECIAL-USE ID NAMESPACE LIST-EXTENDED LIST-STATUS';

let onIdle: () => void = () => undefined;

function responder(caps: string, record: Buffer[]): Promise<net.Server> {
  const server = net.createServer((sock) => {
    let buf = Buffer.alloc(0);
    let literal = 0;
    let line = '';
    let idleTag: string | null = null;
    let authTag: string | null = null;
    sock.write(`* OK [CAPABILITY ${caps}] capture ready\r\n`);
    sock.on('data', (d: Buffer) => {
      record.push(Buffer.from(d));
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (literal > 0) {
          if (buf.length < literal) return;
          line += buf.subarray(0, literal).toString('latin1');
          buf = buf.subarray(literal);
          literal = 0;
        }
        const lf = buf.indexOf(0x0a);
        if (lf < 0) return;
        const part = buf.subarray(0, lf + 1).toString('latin1');
        buf = buf.subarray(lf + 1);
        const m = /\{(\d+)(\+?)\}\r\n$/.exec(part);
        line += part;
        if (m) {
          literal = Number(m[1]);
          if (m[2] !== '+') sock.write('+ go\r\n');
          continue;
        }
        answer(sock, line.trimEnd());
        line = '';
      }
    });
    function answer(s: net.Socket, l: string): void {
      if (authTag !== null) {
        s.write(`${authTag} OK [CAPABILITY ${caps}] signed in\r\n`);
        authTag = null;
        return;
      }
      if (idleTag !== null) {
        s.write(`${idleTag} OK IDLE done\r\n`);
        idleTag = null;
        return;
      }
      const [tag = '*', rawCmd = '', sub = ''] = l.split(' ');
      const cmd = rawCmd.toUpperCase() === 'UID' ? sub.toUpperCase() : rawCmd.toUpperCase();
      const ok = (text = 'done'): void => {
        s.write(`${tag} OK ${text}\r\n`);
      };
      switch (cmd) {
        case 'CAPABILITY':
          s.write(`* CAPABILITY ${caps}\r\n`);
          return ok();
        case 'LOGIN':
          return ok(`[CAPABILITY ${caps}] signed in`);
        case 'AUTHENTICATE':
          if (l.split(' ').length > 3) return ok(`[CAPABILITY ${caps}] signed in`);
          authTag = tag;
          s.write('+ \r\n');
          return;
        case 'ENABLE':
          s.write('* ENABLED CONDSTORE UTF8=ACCEPT QRESYNC\r\n');
          return ok();
        case 'ID':
          s.write('* ID ("name" "capture")\r\n');
          return ok();
        case 'NAMESPACE':
          s.write('* NAMESPACE (("" "/")) NIL NIL\r\n');
          return ok();
        case 'LIST':
        case 'LSUB':
          s.write(`* ${cmd} (\\HasNoChildren) "/" INBOX\r\n* ${cmd} (\\HasNoChildren \\Sent) "/" Sent\r\n`);
          return ok();
        case 'SELECT':
        case 'EXAMINE':
          s.write('* 2 EXISTS\r\n* 0 RECENT\r\n* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] ok\r\n');
          s.write('* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 3] ok\r\n* OK [HIGHESTMODSEQ 10] ok\r\n');
          return ok('[READ-WRITE] selected');
        case 'STATUS':
          s.write('* STATUS INBOX (MESSAGES 2 UNSEEN 1 UIDNEXT 3 UIDVALIDITY 7)\r\n');
          return ok();
        case 'FETCH':
          s.write('* 1 FETCH (UID 1 FLAGS (\\Seen) MODSEQ (5))\r\n');
          return ok();
        case 'SEARCH':
          s.write('* SEARCH 1 2\r\n');
          return ok();
        case 'APPEND':
          return ok('[APPENDUID 7 3] appended');
        case 'IDLE':
          idleTag = tag;
          s.write('+ idling\r\n');
          onIdle();
          return;
        case 'LOGOUT':
          s.write('* BYE bye\r\n');
          ok();
          s.end();
          return;
        default:
          return ok();
      }
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function captureImapflow(): Promise<string> {
  const record: Buffer[] = [];
  const server = await responder(CAPS, record);
  const port = (server.address() as net.AddressInfo).port;
  const c = new ImapFlow({ host: '127.0.0.1', port, secure: false, doSTARTTLS: false, auth: { user: 'nv.an@so.gov.vn', pass: 'Mật khẩu "khó" \\ 123' }, logger: false, qresync: true, disableAutoIdle: true });
  const attempt = async (f: () => Promise<unknown>): Promise<void> => {
    try {
      await f();
    } catch {
      // the responder is minimal; only the bytes sent matter
    }
  };
  await c.connect();
  const lock = await c.getMailboxLock('INBOX');
  await attempt(() => c.fetchOne('*', { envelope: true, bodyStructure: true, flags: true, uid: true, size: true, internalDate: true }));
  await attempt(async () => {
    for await (const _m of c.fetch('1:*', { uid: true, flags: true, headers: ['from', 'subject'], bodyParts: ['1'] }, { uid: true, changedSince: 1n })) void _m;
  });
  await attempt(() => c.search({ from: 'Nguyễn', seen: false, since: new Date('2024-01-01T00:00:00Z') }, { uid: true }));
  await attempt(() => c.messageFlagsAdd('1:2', ['\\Seen', '$Label1'], { uid: true }));
  await attempt(() => c.messageMove('1', 'Lưu trữ', { uid: true }));
  await attempt(() => c.append('Sent', Buffer.from('From: an@so.gov.vn\r\nSubject: Báo cáo tháng\r\n\r\nNội dung\r\n'), ['\\Seen'], new Date('2026-11-20T08:00:00+07:00')));
  await attempt(() => c.mailboxCreate('Lưu trữ/2026'));
  await attempt(() => c.status('INBOX', { messages: true, unseen: true, uidNext: true }));
  const idling = new Promise<void>((resolve) => {
    onIdle = resolve;
  });
  const idle = c.idle();
  await idling;
  await attempt(() => c.noop()); // makes imapflow send DONE first
  await attempt(() => idle);
  lock.release();
  await attempt(() => c.logout());
  server.close();
  return Buffer.concat(record).toString('utf8');
}

async function captureImaplib(): Promise<string> {
  const record: Buffer[] = [];
  // imaplib speaks IMAP4rev1 with synchronising literals.
  const server = await responder('IMAP4rev1 IDLE UIDPLUS MOVE', record);
  const port = (server.address() as net.AddressInfo).port;
  const script = `
import imaplib, time
M = imaplib.IMAP4('127.0.0.1', ${port})
M.login('bob', 'pa ss"w')
M.select('INBOX')
M.search(None, '(FROM "x" SINCE 1-Feb-2024)')
M.uid('SEARCH', 'UNSEEN')
M.fetch('1:2', '(UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)])')
M.store('1', '+FLAGS', '(\\\\Deleted)')
M.append('Sent', '(\\\\Seen)', imaplib.Time2Internaldate(time.mktime((2026, 11, 20, 8, 0, 0, 0, 0, -1))), b'Subject: x\\r\\n\\r\\nbody\\r\\n')
M.expunge()
M.logout()
`;
  await new Promise<void>((resolve, reject) => {
    execFile('python3', ['-c', script], { env: { ...process.env, TZ: 'Asia/Ho_Chi_Minh' }, timeout: 20_000 }, (err) => (err ? reject(err) : resolve()));
  });
  server.close();
  return Buffer.concat(record).toString('utf8');
}

const out = { imapflow: await captureImapflow(), imaplib: await captureImaplib() };
process.stdout.write(JSON.stringify(out, null, 2) + '\n');
