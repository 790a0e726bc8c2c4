/**
 * \Recent (RFC 3501 §2.3.2, §6.3.1–2, §6.3.10, §6.4.4, §7.3.2): a message is recent to exactly
 * one session, the first to learn of it with the mailbox selected read-write; EXAMINE and
 * STATUS count without claiming; IMAP4rev2 sessions see none of it (RFC 9051 appendix E).
 * Python's imaplib (scripts, monitoring) and transcripts over real sockets, mail over SMTP.
 */
import { has } from '../helpers/tools.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import { createUser, deliver, LineClient, message, PASSWORD } from './imap-helpers.js';
import { sendRaw, SmtpLineClient } from './smtp-helpers.js';

const run = promisify(execFile);

let app: TestApp;
beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => app?.stop());

/** One message to `local`@example.gov.vn through the MX listener, as mail from outside arrives. */
async function smtpDeliver(local: string, subject: string): Promise<void> {
  const c = await SmtpLineClient.connect(app.port('smtp'));
  try {
    expect((await c.read()).code).toBe(220);
    expect((await c.cmd('EHLO sender.example.com')).code).toBe(250);
    const to = `${local}@example.gov.vn`;
    const r = await sendRaw(c, 'someone@sender.example.com', [to], message({ from: 'someone@sender.example.com', to, subject }));
    expect(r.code).toBe(250);
  } finally {
    c.close();
  }
}

async function session(user: string): Promise<LineClient> {
  const c = await LineClient.connect(app.port('imap'));
  await c.login(user);
  return c;
}

/** Untagged lines of a reply that match `re`. */
function lines(reply: string[], re: RegExp): string[] {
  return reply.filter((l) => l.startsWith('* ') && re.test(l));
}

const SCRIPT = String.raw`
import imaplib, json, smtplib, sys
port, smtp_port, password = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
out = {}

def conn():
    m = imaplib.IMAP4('127.0.0.1', port)
    m.login('recent', password)
    return m

def recent(m):
    # imaplib keeps the untagged responses of the last command; RECENT absent -> None
    v = m.untagged_responses.pop('RECENT', None)
    return None if v is None else [int(x) for x in v]

def flags(m, which):
    typ, data = m.fetch(which, '(FLAGS)')
    return [d.decode() for d in data if d]

def search(m, *key):
    return m.search(None, *key)[1][0].decode()

s = conn()
out['status_before'] = s.status('INBOX', '(MESSAGES RECENT)')[1][0].decode()

ex = conn()
ex.select('INBOX', readonly=True)
out['examine_recent'] = recent(ex)
out['examine_flags'] = flags(ex, '1:*')
ex.close()
out['status_after_examine'] = s.status('INBOX', '(RECENT)')[1][0].decode()

a = conn()
a.select('INBOX')
out['a_recent'] = recent(a)
out['a_flags'] = flags(a, '1:*')
a.store('1', '+FLAGS', '(\\Seen)')
out['a_search_recent'] = search(a, 'RECENT')
out['a_search_new'] = search(a, 'NEW')
out['a_search_old'] = search(a, 'OLD')
out['a_search_not_recent'] = search(a, 'NOT', 'RECENT')
out['status_after_select'] = s.status('INBOX', '(MESSAGES RECENT)')[1][0].decode()

b = conn()
b.select('INBOX')
out['b_recent'] = recent(b)
out['b_flags'] = flags(b, '1:*')
out['b_search_recent'] = search(b, 'RECENT')
out['b_search_old'] = search(b, 'OLD')

ex2 = conn()
ex2.select('INBOX', readonly=True)
out['examine_after_select'] = recent(ex2)

r2 = conn()
# ENABLE is advertised after sign-in; imaplib only read the capabilities of the greeting.
r2.capabilities = tuple(r2.capability()[1][0].decode().upper().split())
r2.enable('IMAP4rev2')
r2.select('INBOX')
out['rev2_recent'] = recent(r2)

# New mail over SMTP while a and b are selected: b asks first, so b is the first to learn of it.
smtp = smtplib.SMTP('127.0.0.1', smtp_port)
smtp.ehlo('sender.example.com')
smtp.sendmail('someone@sender.example.com', ['recent@example.gov.vn'],
              b'From: someone@sender.example.com\r\nTo: recent@example.gov.vn\r\nSubject: new\r\n\r\nbody\r\n')
smtp.quit()
out['smtp_status'] = s.status('INBOX', '(MESSAGES RECENT)')[1][0].decode()
b.untagged_responses.clear()  # imaplib keeps SELECT's EXISTS otherwise
b.noop()
out['b_noop_exists'] = [int(x) for x in b.untagged_responses.pop('EXISTS', [])]
out['b_noop_recent'] = recent(b)
out['b_new_flags'] = flags(b, '4')
out['b_search_recent_after'] = search(b, 'RECENT')
a.untagged_responses.clear()  # imaplib keeps SELECT's EXISTS otherwise
a.noop()
out['a_noop_exists'] = [int(x) for x in a.untagged_responses.pop('EXISTS', [])]
out['a_noop_recent'] = recent(a)
out['a_new_flags'] = flags(a, '4')
r2.untagged_responses.clear()  # imaplib keeps SELECT's EXISTS otherwise
r2.noop()
out['rev2_noop_exists'] = [int(x) for x in r2.untagged_responses.pop('EXISTS', [])]
out['rev2_noop_recent'] = recent(r2)
for m in (s, a, b, ex2, r2):
    m.logout()
print(json.dumps(out))
`;

const hasPython = has('python3');
if (!hasPython) console.warn('SKIPPED: python3 is not installed; the imaplib \\Recent test does not run');

describe.skipIf(!hasPython)('\\Recent with Python imaplib', () => {
  beforeAll(async () => {
    const u = await createUser(app, 'recent');
    for (let i = 1; i <= 3; i++) await deliver(app, u, message({ subject: `Thư ${i}` }));
  });

  it('SELECT claims, EXAMINE and STATUS only count, SEARCH RECENT/NEW/OLD, new mail goes to one session', async () => {
    const { stdout } = await run('python3', ['-c', SCRIPT, String(app.port('imap')), String(app.port('smtp')), PASSWORD]);
    const out = JSON.parse(stdout) as Record<string, unknown>;
    // Nobody selected the mailbox yet: all three are recent, to whoever selects it first.
    expect(out.status_before).toBe('"INBOX" (MESSAGES 3 RECENT 3)');
    // EXAMINE sees them as recent (\Recent in FLAGS too) and leaves them so (§6.3.2).
    expect(out.examine_recent).toEqual([3]);
    expect(out.examine_flags).toEqual(['1 (FLAGS (\\Recent))', '2 (FLAGS (\\Recent))', '3 (FLAGS (\\Recent))']);
    expect(out.status_after_examine).toBe('"INBOX" (RECENT 3)');
    // The first SELECT gets them.
    expect(out.a_recent).toEqual([3]);
    expect(out.a_flags).toEqual(['1 (FLAGS (\\Recent))', '2 (FLAGS (\\Recent))', '3 (FLAGS (\\Recent))']);
    expect(out.a_search_recent).toBe('1 2 3');
    expect(out.a_search_new).toBe('2 3'); // 1 is \Seen now
    expect(out.a_search_old).toBe('');
    expect(out.a_search_not_recent).toBe('');
    expect(out.status_after_select).toBe('"INBOX" (MESSAGES 3 RECENT 0)');
    // Any later session: none recent.
    expect(out.b_recent).toEqual([0]);
    expect(out.b_flags).toEqual(['1 (FLAGS (\\Seen))', '2 (FLAGS ())', '3 (FLAGS ())']);
    expect(out.b_search_recent).toBe('');
    expect(out.b_search_old).toBe('1 2 3');
    expect(out.examine_after_select).toEqual([0]);
    // IMAP4rev2: no RECENT response at all.
    expect(out.rev2_recent).toBeNull();
    // New mail: counted by STATUS until a session learns of it; b asked first and got it.
    expect(out.smtp_status).toBe('"INBOX" (MESSAGES 4 RECENT 1)');
    expect(out.b_noop_exists).toEqual([4]);
    expect(out.b_noop_recent).toEqual([1]);
    expect(out.b_new_flags).toEqual(['4 (FLAGS (\\Recent))']);
    expect(out.b_search_recent_after).toBe('4');
    // a learns of it later: EXISTS, and RECENT still counts only its own three.
    expect(out.a_noop_exists).toEqual([4]);
    expect(out.a_noop_recent).toEqual([3]);
    expect(out.a_new_flags).toEqual(['4 (FLAGS ())']);
    expect(out.rev2_noop_exists).toEqual([4]);
    expect(out.rev2_noop_recent).toBeNull();
  });
});

describe('\\Recent in transcripts', () => {
  it('mail arriving over SMTP during IDLE is \\Recent to the idling session, with "* 1 RECENT"', async () => {
    const u = await createUser(app, 'recent-idle');
    await deliver(app, u, message({ subject: 'old' }));
    const first = await session('recent-idle');
    expect(lines(await first.cmd('s', 'SELECT INBOX'), /RECENT$/)).toEqual(['* 1 RECENT']);
    const idler = await session('recent-idle');
    expect(lines(await idler.cmd('s', 'SELECT INBOX'), /RECENT$/)).toEqual(['* 0 RECENT']);
    idler.write('i IDLE\r\n');
    await idler.waitFor((b) => b.includes('+ '));
    idler.take();

    await smtpDeliver('recent-idle', 'Thư mới');
    // Told at once, in IDLE: the new message is this session's.
    await idler.waitFor((b) => b.includes('* 2 EXISTS\r\n* 1 RECENT\r\n'));
    idler.write('DONE\r\n');
    expect((await idler.until('i')).at(-1)).toMatch(/^i OK/);
    const f = await idler.cmd('f', 'FETCH 1:* (UID FLAGS)');
    expect(lines(f, /FETCH/)).toEqual(['* 1 FETCH (UID 1 FLAGS ())', '* 2 FETCH (UID 2 FLAGS (\\Recent))']);
    expect(lines(await idler.cmd('r', 'SEARCH RECENT'), /SEARCH/)).toEqual(['* SEARCH 2']);
    expect(lines(await idler.cmd('n', 'SEARCH NEW'), /SEARCH/)).toEqual(['* SEARCH 2']);
    expect(lines(await idler.cmd('o', 'SEARCH OLD'), /SEARCH/)).toEqual(['* SEARCH 1']);
    // STORE answers keep \Recent (the client cannot change it, RFC 3501 §6.4.6).
    expect(lines(await idler.cmd('t', 'STORE 2 FLAGS (\\Seen)'), /FETCH/)).toEqual(['* 2 FETCH (FLAGS (\\Seen \\Recent))']);
    expect((await idler.cmd('t2', 'STORE 2 +FLAGS (\\Recent)')).at(-1)).toMatch(/^t2 BAD/);
    expect(lines(await idler.cmd('n2', 'SEARCH NEW'), /SEARCH/)).toEqual(['* SEARCH']);

    // The other session learns of it afterwards: EXISTS, and its own count (message 1) unchanged.
    const noop = await first.cmd('n', 'NOOP');
    expect(lines(noop, /EXISTS|RECENT/)).toEqual(['* 2 EXISTS', '* 1 RECENT']);
    expect(lines(await first.cmd('f', 'FETCH 1:* (FLAGS)'), /FETCH/)).toEqual(['* 1 FETCH (FLAGS (\\Recent))', '* 2 FETCH (FLAGS (\\Seen))']);
    // Expunging a recent message: the count follows.
    await first.cmd('d', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
    expect(lines(await first.cmd('e', 'EXPUNGE'), /EXPUNGE/)).toEqual(['* 1 EXPUNGE']);
    expect(lines(await first.cmd('r', 'SEARCH RECENT'), /SEARCH/)).toEqual(['* SEARCH']);
    // Re-selecting: what this session had is no longer recent to anyone.
    expect(lines(await idler.cmd('s2', 'SELECT INBOX'), /RECENT$/)).toEqual(['* 0 RECENT']);
    first.close();
    idler.close();
  });

  it('two sessions idling on one mailbox: exactly one gets each new message', async () => {
    const u = await createUser(app, 'recent-race');
    const a = await session('recent-race');
    const b = await session('recent-race');
    await a.cmd('s', 'SELECT INBOX');
    await b.cmd('s', 'SELECT INBOX');
    for (const c of [a, b]) {
      c.write('i IDLE\r\n');
      await c.waitFor((x) => x.includes('+ '));
      c.take();
    }
    for (let n = 1; n <= 5; n++) {
      await deliver(app, u, message({ subject: `race ${n}` }));
      const seen = await Promise.all([a, b].map((c) => c.waitFor((x) => new RegExp(`\\* ${n} EXISTS\\r\\n\\* \\d+ RECENT\\r\\n`).test(x))));
      // Each session's RECENT is its own total: together they always account for n messages.
      const counts = seen.map((x) => Number(new RegExp(`\\* ${n} EXISTS\\r\\n\\* (\\d+) RECENT`).exec(x)?.[1]));
      expect((counts[0] ?? 0) + (counts[1] ?? 0)).toBe(n);
    }
    const recentTo: number[][] = [];
    for (const c of [a, b]) {
      c.write('DONE\r\n');
      await c.until('i');
      const r = await c.cmd('r', 'UID SEARCH RECENT');
      recentTo.push((lines(r, /SEARCH/)[0] ?? '').replace('* SEARCH', '').trim().split(' ').filter(Boolean).map(Number));
    }
    expect([...(recentTo[0] ?? []), ...(recentTo[1] ?? [])].sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5]);
    a.close();
    b.close();
  });

  it('EXAMINE and STATUS count without claiming; a read-only session does not take new mail from others', async () => {
    const u = await createUser(app, 'recent-ro');
    await deliver(app, u, message({ subject: 'one' }));
    await deliver(app, u, message({ subject: 'two' }));
    const ro = await session('recent-ro');
    const ex = await ro.cmd('x', 'EXAMINE INBOX');
    expect(lines(ex, /RECENT$/)).toEqual(['* 2 RECENT']);
    expect(ex.at(-1)).toMatch(/^x OK \[READ-ONLY\]/);
    expect(lines(await ro.cmd('r', 'SEARCH RECENT'), /SEARCH/)).toEqual(['* SEARCH 1 2']);
    const rw = await session('recent-ro');
    expect(lines(await rw.cmd('st', 'STATUS INBOX (RECENT UNSEEN)'), /STATUS/)).toEqual(['* STATUS "INBOX" (RECENT 2 UNSEEN 2)']);
    expect(lines(await rw.cmd('s', 'SELECT INBOX'), /RECENT$/)).toEqual(['* 2 RECENT']);
    expect(lines(await rw.cmd('st2', 'STATUS INBOX (RECENT)'), /STATUS/)).toEqual(['* STATUS "INBOX" (RECENT 0)']);

    // New mail: the read-only session notices it first but leaves it to the read-write one.
    await deliver(app, u, message({ subject: 'three' }));
    expect(lines(await ro.cmd('n', 'NOOP'), /EXISTS|RECENT/)).toEqual(['* 3 EXISTS', '* 3 RECENT']);
    expect(lines(await rw.cmd('n', 'NOOP'), /EXISTS|RECENT/)).toEqual(['* 3 EXISTS', '* 3 RECENT']);
    expect(lines(await rw.cmd('st3', 'STATUS INBOX (RECENT)'), /STATUS/)).toEqual(['* STATUS "INBOX" (RECENT 0)']);
    ro.close();
    rw.close();
  });

  it('IMAP4rev2 sessions get no RECENT and no \\Recent, and leave new mail recent for IMAP4rev1 sessions', async () => {
    const u = await createUser(app, 'recent-rev2');
    await deliver(app, u, message({ subject: 'one' }));
    const c = await session('recent-rev2');
    await c.cmd('e', 'ENABLE IMAP4rev2');
    const sel = await c.cmd('s', 'SELECT INBOX');
    expect(sel.some((l) => /RECENT/.test(l))).toBe(false);
    expect(lines(await c.cmd('f', 'FETCH 1 (FLAGS)'), /FETCH/)).toEqual(['* 1 FETCH (FLAGS ())']);
    await smtpDeliver('recent-rev2', 'two');
    const noop = await c.cmd('n', 'NOOP');
    expect(lines(noop, /EXISTS/)).toEqual(['* 2 EXISTS']);
    expect(noop.some((l) => /RECENT/.test(l))).toBe(false);
    expect(lines(await c.cmd('f2', 'FETCH 1:* (FLAGS)'), /FETCH/)).toEqual(['* 1 FETCH (FLAGS ())', '* 2 FETCH (FLAGS ())']);
    // Nothing was claimed: an IMAP4rev1 client selecting now finds both recent.
    const old = await session('recent-rev2');
    expect(lines(await old.cmd('s', 'SELECT INBOX'), /RECENT$/)).toEqual(['* 2 RECENT']);
    c.close();
    old.close();
  });

  it('APPEND and COPY into the selected mailbox: the new messages are recent to the session that sees them', async () => {
    await createUser(app, 'recent-append');
    const c = await session('recent-append');
    expect(lines(await c.cmd('s', 'SELECT INBOX'), /RECENT$/)).toEqual(['* 0 RECENT']);
    const body = 'Subject: appended\r\n\r\nhi\r\n';
    c.write(`a APPEND INBOX {${body.length}+}\r\n${body}\r\n`);
    const ap = await c.until('a');
    expect(lines(ap, /EXISTS|RECENT/)).toEqual(['* 1 EXISTS', '* 1 RECENT']);
    await c.cmd('cp', 'COPY 1 INBOX');
    expect(lines(await c.cmd('f', 'FETCH 1:* (FLAGS)'), /FETCH/)).toEqual(['* 1 FETCH (FLAGS (\\Recent))', '* 2 FETCH (FLAGS (\\Recent))']);
    c.close();
  });
});
