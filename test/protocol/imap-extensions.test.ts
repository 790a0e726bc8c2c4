/** Extensions over raw transcripts: CONDSTORE, QRESYNC, UTF8=ACCEPT, BINARY, MULTIAPPEND, ESEARCH, SORT, THREAD, QUOTA, COMPRESS … */
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/store/port.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { encodeMailboxUtf7 } from '../../src/imap/protocol/utf7.js';
import { createUser, deliver, LineClient, message } from './imap-helpers.js';

const MULTIPART = Buffer.from(
  [
    'From: a@example.gov.vn',
    'To: b@example.gov.vn',
    'Subject: =?utf-8?B?VMOgaSBsaeG7h3U=?=',
    'Date: Tue, 17 Nov 2026 10:00:00 +0700',
    'Message-ID: <m1@example.gov.vn>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="xx"',
    '',
    '--xx',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'Xin ch=C3=A0o',
    '--xx',
    'Content-Type: application/octet-stream; name="a.bin"',
    'Content-Transfer-Encoding: base64',
    'Content-Disposition: attachment; filename="a.bin"',
    '',
    Buffer.from([0, 1, 2, 3, 255]).toString('base64'),
    '--xx--',
    '',
  ].join('\r\n'),
);

describe('IMAP extensions', () => {
  let app: TestApp;
  let user: Account;
  let c: LineClient;

  beforeAll(async () => {
    app = await startApp();
    user = await createUser(app, 'minhpt');
    await deliver(app, user, message({ subject: 'Re: Báo cáo', date: 'Wed, 18 Nov 2026 10:00:00 +0700', extra: 'In-Reply-To: <m1@example.gov.vn>\r\nReferences: <m1@example.gov.vn>' }));
    await deliver(app, user, MULTIPART);
    await deliver(app, user, message({ subject: 'Báo cáo', from: 'Zed <zed@example.gov.vn>', date: 'Mon, 16 Nov 2026 10:00:00 +0700' }));
    c = await LineClient.connect(app.port('imap'));
    await c.login('minhpt');
  });
  afterAll(async () => {
    c?.close();
    await app?.stop();
  });

  it('NAMESPACE has an empty personal prefix and "/" (Outlook ignores NAMESPACE)', async () => {
    const r = await c.cmd('n', 'NAMESPACE');
    expect(r[0]).toBe('* NAMESPACE (("" "/")) NIL NIL');
  });

  it('ID answers with the server name', async () => {
    const r = await c.cmd('i', 'ID ("name" "test")');
    expect(r[0]).toMatch(/^\* ID \("name" "buudien"/);
  });

  it('CONDSTORE: HIGHESTMODSEQ on SELECT, MODSEQ in FETCH, UNCHANGEDSINCE conflicts → MODIFIED', async () => {
    const en = await c.cmd('e', 'ENABLE CONDSTORE');
    expect(en[0]).toBe('* ENABLED CONDSTORE');
    const sel = await c.cmd('s', 'SELECT INBOX');
    const hm = /HIGHESTMODSEQ (\d+)/.exec(sel.join('\n'));
    expect(hm).toBeTruthy();
    const f = await c.cmd('f', 'FETCH 1 (MODSEQ)');
    const ms = Number(/MODSEQ \((\d+)\)/.exec(f[0] ?? '')?.[1]);
    expect(ms).toBeGreaterThan(0);
    const st = await c.cmd('u', `STORE 1 (UNCHANGEDSINCE ${ms}) +FLAGS (\\Seen)`);
    expect(st.at(-1)).toMatch(/^u OK/);
    const st2 = await c.cmd('v', `STORE 1 (UNCHANGEDSINCE ${ms}) +FLAGS (\\Answered)`);
    expect(st2.at(-1)).toMatch(/^v OK \[MODIFIED 1\]/);
    const since = await c.cmd('w', `UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${hm?.[1] ?? 0})`);
    expect(since.filter((l) => l.startsWith('*'))).toHaveLength(1);
  });

  it('BINARY and BINARY.SIZE decode the transfer encoding', async () => {
    await c.cmd('s', 'SELECT INBOX');
    const r = await c.cmd('b', 'FETCH 2 (BINARY.SIZE[2] BINARY.PEEK[2] BINARY.PEEK[1])');
    const text = r.join('\r\n');
    expect(text).toContain('BINARY.SIZE[2] 5');
    expect(text).toContain('BINARY[2] ~{5}');
    expect(text).toContain('BINARY[1] {9}');
    expect(text).toContain('Xin chào');
  });

  it('BODY[section] parts, HEADER.FIELDS, MIME and partial fetches are byte slices', async () => {
    const r = await c.cmd('h', 'FETCH 2 (BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[1.MIME] BODY.PEEK[1] BODY.PEEK[]<0.4>)');
    const text = r.join('\r\n');
    const want = 'Subject: =?utf-8?B?VMOgaSBsaeG7h3U=?=\r\n\r\n';
    // (the transcript drops empty lines, so the blank line ending the header block is counted, not seen)
    expect(text).toContain(`BODY[HEADER.FIELDS (SUBJECT)] {${want.length}}\r\n${want.trimEnd()}`);
    expect(text).toContain('BODY[1.MIME] {');
    expect(text).toContain('BODY[1] {13}\r\nXin ch=C3=A0o');
    expect(text).toContain('BODY[]<0> {4}\r\nFrom');
  });

  it('ESEARCH return options and SEARCHRES ($)', async () => {
    const r = await c.cmd('e1', 'SEARCH RETURN (MIN MAX COUNT ALL) ALL');
    expect(r[0]).toBe('* ESEARCH (TAG "e1") MIN 1 MAX 3 ALL 1:3 COUNT 3');
    const u = await c.cmd('e2', 'UID SEARCH RETURN (SAVE) SUBJECT "bao cao"');
    expect(u.filter((l) => l.startsWith('*'))).toHaveLength(0);
    const f = await c.cmd('e3', 'UID FETCH $ (UID)');
    expect(f.filter((l) => l.startsWith('*')).map((l) => /UID (\d+)/.exec(l)?.[1])).toEqual(['1', '3']);
  });

  it('SORT by date, subject, from (and reverse) and ESORT', async () => {
    const byDate = await c.cmd('o1', 'SORT (DATE) UTF-8 ALL');
    expect(byDate[0]).toBe('* SORT 3 2 1');
    const rev = await c.cmd('o2', 'SORT (REVERSE ARRIVAL) UTF-8 ALL');
    expect(rev[0]).toBe('* SORT 3 2 1');
    const subj = await c.cmd('o3', 'SORT (SUBJECT DATE) UTF-8 ALL');
    expect(subj[0]).toBe('* SORT 3 1 2');
  });

  it('THREAD ORDEREDSUBJECT and REFERENCES', async () => {
    const os = await c.cmd('t1', 'THREAD ORDEREDSUBJECT UTF-8 ALL');
    expect(os[0]).toBe('* THREAD (3 (1))(2)');
    const refs = await c.cmd('t2', 'THREAD REFERENCES UTF-8 ALL');
    expect(refs[0]).toBe('* THREAD (3)(2 1)');
  });

  it('MULTIAPPEND returns every new UID; APPEND to a missing folder says TRYCREATE', async () => {
    const a = message({ subject: 'one' });
    const b = message({ subject: 'two' });
    c.write(`m1 APPEND Drafts (\\Draft) {${a.length}+}\r\n`);
    c.write(a);
    c.write(` {${b.length}+}\r\n`);
    c.write(b);
    c.write('\r\n');
    const r = await c.until('m1');
    expect(r.at(-1)).toMatch(/^m1 OK \[APPENDUID \d+ 1:2\]/);
    c.write(`m2 APPEND NoSuch {${a.length}+}\r\n`);
    c.write(a);
    c.write('\r\n');
    const r2 = await c.until('m2');
    expect(r2.at(-1)).toMatch(/^m2 NO \[TRYCREATE\]/);
  });

  it('modified UTF-7 names without UTF8=ACCEPT; UTF-8 names and UTF8 APPEND after it (Thunderbird)', async () => {
    const cr = await c.cmd('u1', 'CREATE "&AMk-tudes/D&AOk-p&AMQ-t"');
    expect(cr.at(-1)).toMatch(/^u1 OK/);
    const names = (await app.store.listMailboxes(user.id)).map((m) => m.name);
    expect(names).toContain('Études/DépÄt');
    const bad = await c.cmd('u2', 'CREATE "&Jjo"');
    expect(bad.at(-1)).toMatch(/^u2 (BAD|NO)/);
    const c2 = await LineClient.connect(app.port('imap'));
    await c2.login('minhpt');
    await c2.cmd('c', `CREATE "${encodeMailboxUtf7('Văn bản đến')}"`);
    const list = await c2.cmd('l', 'LIST "" "V*"');
    expect(list[0]).toBe(`* LIST (\\HasNoChildren) "/" "${encodeMailboxUtf7('Văn bản đến')}"`);
    expect(list[0]).toMatch(/^[\x20-\x7e]*$/);
    const en = await c2.cmd('e', 'ENABLE UTF8=ACCEPT');
    expect(en[0]).toBe('* ENABLED UTF8=ACCEPT');
    const list2 = await c2.cmd('l2', 'LIST "" "V*"');
    expect(list2[0]).toBe('* LIST (\\HasNoChildren) "/" "Văn bản đến"');
    const raw = message({ subject: 'Tiêu đề UTF-8' });
    c2.write(`ap APPEND "Văn bản đến" UTF8 (~{${raw.length}+}\r\n`);
    c2.write(raw);
    c2.write(')\r\n');
    const ap = await c2.until('ap');
    expect(ap.at(-1)).toMatch(/^ap OK \[APPENDUID \d+ 1\]/);
    c2.close();
  });

  it('STATUS with SIZE, HIGHESTMODSEQ, APPENDLIMIT and LIST-STATUS', async () => {
    const st = await c.cmd('st', 'STATUS INBOX (MESSAGES UNSEEN SIZE HIGHESTMODSEQ APPENDLIMIT UIDNEXT UIDVALIDITY DELETED)');
    expect(st[0]).toMatch(/^\* STATUS "INBOX" \(MESSAGES 3 UNSEEN 2 SIZE \d+ HIGHESTMODSEQ \d+ APPENDLIMIT \d+ UIDNEXT 4 UIDVALIDITY \d+ DELETED 0\)$/);
    const ls = await c.cmd('ls', 'LIST "" "INBOX" RETURN (STATUS (MESSAGES))');
    expect(ls).toContain('* STATUS "INBOX" (MESSAGES 3)');
  });

  it('LIST-EXTENDED selection (SUBSCRIBED, SPECIAL-USE) and CREATE-SPECIAL-USE', async () => {
    const cr = await c.cmd('x1', `CREATE "${encodeMailboxUtf7('Lưu trữ 2025')}" (USE (\\Archive))`);
    expect(cr.at(-1)).toMatch(/^x1 NO \[USEATTR\]/); // one \Archive per account already exists
    const ok2 = await c.cmd('x2', 'CREATE "Flagged view" (USE (\\Flagged))');
    expect(ok2.at(-1)).toMatch(/^x2 OK/);
    await c.cmd('x3', 'UNSUBSCRIBE Junk');
    const subs = await c.cmd('x4', 'LIST (SUBSCRIBED) "" "*"');
    const names = subs.filter((l) => l.startsWith('* LIST')).map((l) => l.slice(l.lastIndexOf(' ') + 1));
    expect(names).not.toContain('"Junk"');
    expect(names).toContain('"INBOX"');
    expect(subs.every((l) => !l.startsWith('* LIST') || l.includes('\\Subscribed'))).toBe(true);
    const special = await c.cmd('x5', 'LIST (SPECIAL-USE) "" "*"');
    const uses = special.filter((l) => l.startsWith('* LIST')).map((l) => /\\(Sent|Drafts|Trash|Junk|Archive|Flagged)\b/.exec(l)?.[1]);
    expect(uses.sort()).toEqual(['Archive', 'Drafts', 'Flagged', 'Junk', 'Sent', 'Trash']);
    const ret = await c.cmd('x6', 'LIST "" "Sent" RETURN (SPECIAL-USE SUBSCRIBED CHILDREN)');
    expect(ret[0]).toBe('* LIST (\\HasNoChildren \\Subscribed \\Sent) "/" "Sent"');
    await c.cmd('x7', 'SUBSCRIBE Junk');
  });

  it('a parent deleted before its children stays in LIST as \\Noselect \\HasChildren (RFC 9051 §6.3.9)', async () => {
    await c.cmd('p1', 'CREATE "Cha/Con"');
    await c.cmd('p2', 'DELETE "Cha"');
    const top = await c.cmd('p3', 'LIST "" "%"');
    expect(top).toContain('* LIST (\\Noselect \\HasChildren) "/" "Cha"');
    const sel = await c.cmd('p4', 'SELECT "Cha"');
    expect(sel.at(-1)).toMatch(/^p4 NO/);
    const kids = await c.cmd('p5', 'LIST "" "Cha/%"');
    expect(kids[0]).toBe('* LIST (\\HasNoChildren) "/" "Cha/Con"');
  });

  it('GETQUOTAROOT reports STORAGE in KiB', async () => {
    const q = await c.cmd('q', 'GETQUOTAROOT INBOX');
    expect(q[0]).toBe('* QUOTAROOT "INBOX" ""');
    expect(q[1]).toMatch(/^\* QUOTA "" \(STORAGE \d+ 2097152\)$/);
  });

  it('UNSELECT and CLOSE leave the selected state; CLOSE expunges silently', async () => {
    await c.cmd('s', 'SELECT Drafts');
    await c.cmd('d', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
    const cl = await c.cmd('c', 'CLOSE');
    expect(cl.some((l) => l.includes('EXPUNGE'))).toBe(false);
    const st = await c.cmd('t', 'STATUS Drafts (MESSAGES)');
    expect(st[0]).toBe('* STATUS "Drafts" (MESSAGES 1)');
    await c.cmd('s2', 'EXAMINE Drafts');
    const un = await c.cmd('u', 'UNSELECT');
    expect(un.at(-1)).toMatch(/^u OK/);
    const f = await c.cmd('f', 'FETCH 1 FLAGS');
    expect(f.at(-1)).toMatch(/^f (BAD|NO)/);
  });

  it('QRESYNC: SELECT with known modseq gets VANISHED (EARLIER) and changed flags', async () => {
    const q = await LineClient.connect(app.port('imap'));
    await q.login('minhpt');
    await q.cmd('e', 'ENABLE QRESYNC');
    const sel = await q.cmd('s', 'SELECT INBOX');
    const uv = /UIDVALIDITY (\d+)/.exec(sel.join('\n'))?.[1];
    const hm = /HIGHESTMODSEQ (\d+)/.exec(sel.join('\n'))?.[1];
    await q.cmd('d', 'UID STORE 3 +FLAGS.SILENT (\\Deleted)');
    const ex = await q.cmd('x', 'UID EXPUNGE 3');
    expect(ex).toContain('* VANISHED 3');
    await q.cmd('f', 'UID STORE 1 +FLAGS.SILENT (\\Flagged)');
    await q.cmd('u', 'UNSELECT');
    const re = await q.cmd('r', `SELECT INBOX (QRESYNC (${uv} ${hm} 1:3))`);
    expect(re).toContain('* VANISHED (EARLIER) 3');
    expect(re.some((l) => /^\* 1 FETCH \(UID 1 FLAGS \(.*\\Flagged.*\) MODSEQ \(\d+\)\)$/.test(l))).toBe(true);
    q.close();
  });

  it('COMPRESS=DEFLATE compresses both directions', async () => {
    const z = await LineClient.connect(app.port('imap'));
    await z.login('minhpt');
    const r = await z.cmd('z', 'COMPRESS DEFLATE');
    expect(r.at(-1)).toMatch(/^z OK/);
    const deflate = zlib.createDeflateRaw();
    const inflate = zlib.createInflateRaw();
    let text = '';
    z.socket.removeAllListeners('data');
    z.socket.setEncoding('binary' as BufferEncoding);
    z.socket.on('data', (d: string) => inflate.write(Buffer.from(d, 'binary')));
    inflate.on('data', (d: Buffer) => (text += d.toString('utf8')));
    deflate.on('data', (d: Buffer) => z.socket.write(d));
    const got = new Promise<void>((resolve) => inflate.on('data', () => text.includes('n1 OK') && resolve()));
    deflate.write('n1 NAMESPACE\r\n');
    deflate.flush(zlib.constants.Z_SYNC_FLUSH);
    await got;
    expect(text).toContain('* NAMESPACE (("" "/")) NIL NIL');
    z.close();
  });
});

describe('IMAP quota', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp();
    const u = await createUser(app, 'dayhop', { quotaBytes: 2000 });
    await deliver(app, u, message({ body: 'x'.repeat(1200) }));
  });
  afterAll(async () => app?.stop());

  it('APPEND and COPY beyond the quota → NO [OVERQUOTA] (R-STORE-1)', async () => {
    const c = await LineClient.connect(app.port('imap'));
    await c.login('dayhop');
    const big = message({ body: 'y'.repeat(1500) });
    c.write(`a APPEND INBOX {${big.length}+}\r\n`);
    c.write(big);
    c.write('\r\n');
    const r = await c.until('a');
    expect(r.at(-1)).toMatch(/^a NO \[OVERQUOTA\]/);
    await c.cmd('s', 'SELECT INBOX');
    const cp = await c.cmd('c', 'COPY 1 Archive');
    expect(cp.at(-1)).toMatch(/^c NO \[OVERQUOTA\]/);
    c.close();
  });

  it('APPEND that fills a mailbox past 80 % brings the quota warning mail (R-STORE-3), once', async () => {
    const u = await createUser(app, 'daydan', { quotaBytes: 100_000 });
    const inbox = await app.store.getMailbox(u.id, 'INBOX');
    const c = await LineClient.connect(app.port('imap'));
    await c.login('daydan');
    let off: () => void = () => undefined;
    const warned = new Promise<void>((resolve) => {
      off = app.store.onEvent((e) => {
        if (e.kind === 'added' && e.mailboxId === inbox?.id) resolve();
      });
    });
    for (const tag of ['a1', 'a2']) {
      const sent = message({ body: 'y'.repeat(41_000) });
      c.write(`${tag} APPEND Sent {${sent.length}+}\r\n`);
      c.write(sent);
      c.write('\r\n');
      expect((await c.until(tag)).at(-1)).toMatch(new RegExp(`^${tag} OK`));
    }
    await warned;
    off();
    const s = await c.cmd('s', 'SELECT INBOX');
    expect(s).toContain('* 1 EXISTS');
    const f = await c.cmd('f', 'FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]');
    expect(f.join('\n')).toContain('=?UTF-8?');
    expect(await app.store.getSetting(`quota-warning:${u.id}`)).toBe('80');
    c.close();
  });

  it('a quota changed while a session is open holds for that session at once (APPEND, COPY, GETQUOTA)', async () => {
    const u = await createUser(app, 'doihanmuc', { quotaBytes: 100_000 });
    await deliver(app, u, message({ body: 'x'.repeat(1200) }));
    const c = await LineClient.connect(app.port('imap'));
    await c.login('doihanmuc');
    expect((await c.cmd('q1', 'GETQUOTAROOT INBOX'))[1]).toMatch(/^\* QUOTA "" \(STORAGE \d+ 97\)$/);
    // The administrator cuts the quota under the session.
    await app.store.updateAccount(u.id, { quotaBytes: 3000 }, null);
    expect((await c.cmd('q2', 'GETQUOTAROOT INBOX'))[1]).toMatch(/^\* QUOTA "" \(STORAGE \d+ 2\)$/);
    const big = message({ body: 'y'.repeat(2500) });
    c.write(`a APPEND INBOX {${big.length}+}\r\n`);
    c.write(big);
    c.write('\r\n');
    expect((await c.until('a')).at(-1)).toMatch(/^a NO \[OVERQUOTA\]/);
    await c.cmd('s', 'SELECT INBOX');
    await app.store.updateAccount(u.id, { quotaBytes: 2000 }, null);
    expect((await c.cmd('c', 'COPY 1 Archive')).at(-1)).toMatch(/^c NO \[OVERQUOTA\]/);
    c.close();
  });
});

describe('IMAP4rev2 and size limits', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp({ limits: { maxAttachmentBytes: 1000, maxMessageBytes: 70_000 } });
    const u = await createUser(app, 'rev2');
    await deliver(app, u, message({ subject: 'một' }));
    await deliver(app, u, message({ subject: 'hai' }));
  });
  afterAll(async () => app?.stop());

  it('ENABLE IMAP4rev2: no RECENT on SELECT, SEARCH answers with ESEARCH; ESORT returns', async () => {
    const c = await LineClient.connect(app.port('imap'));
    await c.login('rev2');
    expect((await c.cmd('e', 'ENABLE IMAP4rev2'))[0]).toBe('* ENABLED IMAP4rev2');
    const sel = await c.cmd('s', 'SELECT INBOX');
    expect(sel.some((l) => l.endsWith('RECENT'))).toBe(false);
    const se = await c.cmd('q', 'SEARCH ALL');
    expect(se[0]).toBe('* ESEARCH (TAG "q") ALL 1:2');
    const so = await c.cmd('o', 'SORT RETURN (MIN MAX COUNT) (SUBJECT) UTF-8 ALL');
    expect(so[0]).toBe('* ESEARCH (TAG "o") MIN 2 MAX 1 COUNT 2');
    c.close();
  });

  it('refuses an APPEND over the message size limit with NO [TOOBIG] before any "+" (APPENDLIMIT)', async () => {
    const c = await LineClient.connect(app.port('imap'));
    await c.login('rev2');
    const cap = await c.cmd('c', 'CAPABILITY');
    expect(cap[0]).toContain('APPENDLIMIT=70000');
    c.write('a APPEND INBOX {100000}\r\n');
    const r = await c.until('a');
    expect(r.some((l) => l.startsWith('+'))).toBe(false);
    expect(r.at(-1)).toMatch(/^a NO \[TOOBIG\]/);
    const n = await c.cmd('n', 'NOOP');
    expect(n.at(-1)).toMatch(/^n OK/);
    c.close();
  });
});

describe('THREAD REFERENCES gathers by subject', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp();
    const u = await createUser(app, 'luong');
    await deliver(app, u, message({ subject: 'Họp giao ban', date: 'Mon, 16 Nov 2026 08:00:00 +0700' }));
    await deliver(app, u, message({ subject: 'Re: Họp giao ban', date: 'Mon, 16 Nov 2026 09:00:00 +0700' }));
    await deliver(app, u, message({ subject: 'Lịch trực', date: 'Mon, 16 Nov 2026 10:00:00 +0700' }));
    await deliver(app, u, message({ subject: 'Lịch trực', date: 'Mon, 16 Nov 2026 11:00:00 +0700' }));
  });
  afterAll(async () => app?.stop());

  it('a reply without References joins its subject\'s thread; equal subjects share a dummy parent (RFC 5256 §3)', async () => {
    const c = await LineClient.connect(app.port('imap'));
    await c.login('luong');
    await c.cmd('s', 'SELECT INBOX');
    const r = await c.cmd('t', 'THREAD REFERENCES UTF-8 ALL');
    expect(r[0]).toBe('* THREAD (1 2)((3)(4))');
    const u = await c.cmd('u', 'UID THREAD REFERENCES UTF-8 NOT SUBJECT "lich"');
    expect(u[0]).toBe('* THREAD (1 2)');
    c.close();
  });
});

describe('THREAD REFERENCES prunes containers of messages not in the mailbox (RFC 5256 §3 step 2)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp();
    const u = await createUser(app, 'tieuban');
    const day = (h: number): string => `Tue, 17 Nov 2026 ${String(h).padStart(2, '0')}:00:00 +0700`;
    // <b> (the middle of A's thread) and <x>, <y> (above E) were never delivered here.
    await deliver(app, u, message({ subject: 'Dự thảo quy chế', messageId: 'a@vp.gov.vn', date: day(8) }));
    await deliver(app, u, message({ subject: 'Re: Dự thảo quy chế', messageId: 'c@vp.gov.vn', extra: 'References: <a@vp.gov.vn> <b@vp.gov.vn>', date: day(9) }));
    await deliver(app, u, message({ subject: 'Re: Dự thảo quy chế', messageId: 'd@vp.gov.vn', extra: 'References: <a@vp.gov.vn> <b@vp.gov.vn>', date: day(10) }));
    await deliver(app, u, message({ subject: 'Re: Kế hoạch năm', messageId: 'e@vp.gov.vn', extra: 'References: <x@vp.gov.vn> <y@vp.gov.vn>', date: day(11) }));
    await deliver(app, u, message({ subject: 'Thông báo nghỉ lễ', messageId: 'f@vp.gov.vn', date: day(12) }));
  });
  afterAll(async () => app?.stop());

  it('the missing middle message gives its replies to the grandparent; a chain of missing ones gives way to its message', async () => {
    const c = await LineClient.connect(app.port('imap'));
    await c.login('tieuban');
    await c.cmd('s', 'SELECT INBOX');
    const r = await c.cmd('t', 'THREAD REFERENCES UTF-8 ALL');
    expect(r[0]).toBe('* THREAD (1 (2)(3))(4)(5)');
    c.close();
  });
});
