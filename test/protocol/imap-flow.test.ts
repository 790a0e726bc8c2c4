/** The daily flow with a real client library (imapflow 2.x, used by many Node mail apps). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImapFlow } from 'imapflow';
import { startApp, type TestApp } from '../helpers/app.js';
import type { Account } from '../../src/store/port.js';
import { createUser, deliver, flow, message } from './imap-helpers.js';

describe('imapflow daily flow', () => {
  let app: TestApp;
  let user: Account;
  let client: ImapFlow;
  const raw = message({ subject: 'Kế hoạch Đà Nẵng', body: 'Nội dung họp Nguyễn Văn An' });

  beforeAll(async () => {
    app = await startApp();
    user = await createUser(app, 'anhnt');
    await deliver(app, user, raw);
    await deliver(app, user, message({ subject: 'Second message', from: 'Trần Bình <binh@example.gov.vn>' }));
    client = flow(app, 'anhnt');
    await client.connect();
  });
  afterAll(async () => {
    await client?.logout().catch(() => undefined);
    await app?.stop();
  });

  it('lists folders with special-use attributes (Outlook, Thunderbird folder mapping)', async () => {
    const list = await client.list();
    const byUse = new Map(list.filter((m) => m.specialUse).map((m) => [m.specialUse, m.path]));
    expect(list.some((m) => m.path === 'INBOX')).toBe(true);
    expect(byUse.get('\\Sent')).toBeTruthy();
    expect(byUse.get('\\Trash')).toBeTruthy();
    expect(list.every((m) => m.delimiter === '/')).toBe(true);
  });

  it('selects INBOX and fetches envelope, body structure and the exact bytes', async () => {
    const mb = await client.mailboxOpen('INBOX');
    expect(mb.exists).toBe(2);
    const msg = await client.fetchOne('1', { envelope: true, bodyStructure: true, source: true, flags: true, uid: true, size: true, internalDate: true });
    expect(msg).toBeTruthy();
    if (!msg) return;
    expect(msg.envelope?.subject).toBe('Kế hoạch Đà Nẵng');
    expect(msg.envelope?.from?.[0]?.address).toBe('an@example.gov.vn');
    expect(msg.bodyStructure?.type).toBe('text/plain');
    expect(msg.source?.equals(raw)).toBe(true);
    expect(msg.size).toBe(raw.length);
  });

  it('sets \\Seen on a non-peek body fetch and stores flags', async () => {
    await client.mailboxOpen('INBOX');
    await client.messageFlagsAdd('2', ['\\Flagged', '$Important']);
    const m = await client.fetchOne('2', { flags: true });
    expect(m && [...(m.flags ?? [])]).toEqual(expect.arrayContaining(['\\Flagged', '$Important']));
    await client.messageFlagsRemove('2', ['$Important']);
    const m2 = await client.fetchOne('2', { flags: true });
    expect(m2 && m2.flags?.has('$Important')).toBe(false);
  });

  it('searches with Vietnamese diacritics folded', async () => {
    await client.mailboxOpen('INBOX');
    expect(await client.search({ subject: 'da nang' })).toEqual([1]);
    expect(await client.search({ body: 'nguyen van' })).toEqual([1]);
    expect(await client.search({ from: 'binh' })).toEqual([2]);
    expect(await client.search({ flagged: true })).toEqual([2]);
    expect(await client.search({ all: true }, { uid: true })).toEqual([1, 2]);
  });

  it('appends with APPENDUID (Thunderbird saving sent mail)', async () => {
    const r = await client.append('Sent', message({ subject: 'Đã gửi' }), ['\\Seen']);
    expect(r && r.uid).toBe(1);
    expect(r && r.uidValidity).toBeTruthy();
    const st = await client.status('Sent', { messages: true, unseen: true, uidNext: true });
    expect(st && st.messages).toBe(1);
    expect(st && st.unseen).toBe(0);
  });

  it('copies and moves with COPYUID; the move expunges from the source', async () => {
    await client.mailboxOpen('INBOX');
    const c = await client.messageCopy('1', 'Archive');
    expect(c && c.uidMap?.get(1)).toBe(1);
    const m = await client.messageMove('2', 'Trash');
    expect(m && m.uidMap?.get(2)).toBe(1);
    const mb = await client.mailboxOpen('INBOX');
    expect(mb.exists).toBe(1);
  });

  it('keeps \\Deleted messages visible until EXPUNGE (Outlook delete)', async () => {
    await client.mailboxOpen('Archive');
    await client.messageFlagsAdd('1', ['\\Deleted']);
    const still = await client.fetchOne('1', { flags: true });
    expect(still && still.flags?.has('\\Deleted')).toBe(true);
    const before = await client.status('Archive', { messages: true });
    expect(before && before.messages).toBe(1);
    await client.messageDelete('1');
    const after = await client.status('Archive', { messages: true });
    expect(after && after.messages).toBe(0);
  });

  it('creates (auto-subscribed), renames with children, deletes folders', async () => {
    await client.mailboxCreate('Dự án/2026');
    let list = await client.list();
    const created = list.find((m) => m.path === 'Dự án/2026');
    expect(created).toBeTruthy();
    const subs = await client.list({ statusQuery: { messages: true } });
    expect(subs.find((m) => m.path === 'Dự án')?.status?.messages).toBe(0);
    const lsub = await client.list();
    expect(lsub.find((m) => m.path === 'Dự án/2026')?.subscribed).toBe(true);
    await client.mailboxRename('Dự án', 'Công việc');
    list = await client.list();
    expect(list.some((m) => m.path === 'Công việc/2026')).toBe(true);
    expect(list.some((m) => m.path.startsWith('Dự án'))).toBe(false);
    await client.mailboxDelete('Công việc/2026');
    list = await client.list();
    expect(list.some((m) => m.path === 'Công việc/2026')).toBe(false);
  });

  it('returns a large message byte-exact (streamed) and partial ranges of it', async () => {
    const body = Buffer.alloc(3 * 1024 * 1024, 'Dữ liệu lớn 0123456789\r\n');
    const big = Buffer.concat([message({ subject: 'Tệp lớn', body: '' }), body]);
    const r = await client.append('Archive', big);
    expect(r && r.uid).toBeTruthy();
    await client.mailboxOpen('Archive');
    const m = await client.fetchOne(String(r && r.uid), { source: true }, { uid: true });
    expect(m && m.source?.length).toBe(big.length);
    expect(m && m.source?.equals(big)).toBe(true);
    const part = await client.fetchOne(String(r && r.uid), { source: { start: 1000, maxLength: 5000 } }, { uid: true });
    expect(part && part.source?.equals(big.subarray(1000, 6000))).toBe(true);
  });

  it('reports quota in KiB (RFC 9208)', async () => {
    const q = await client.getQuota('INBOX');
    expect(q && q.storage?.limit).toBe(2 * 1024 * 1024 * 1024);
    expect(q && q.storage?.usage).toBeGreaterThan(0);
  });
});
