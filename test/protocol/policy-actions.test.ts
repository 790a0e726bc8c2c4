/**
 * Configured actions end to end: quarantine (and `buudien quarantine list|release|delete`),
 * reject by config, sending limits on submission (451 4.7.1 + notice to the unit admin),
 * over-quota recipients (452 4.2.2) and quota warning mails (R-STORE-3).
 */
import path from 'node:path';
import { rmSync } from 'node:fs';
import nodemailer from 'nodemailer';
import { afterEach, describe, expect, it } from 'vitest';
import { PASSWORD } from '../helpers/accounts.js';
import { decodeWords } from '../../src/mail/headers.js';
import { cli, tempSetup } from '../cli/run.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { mimeMessage, zip } from '../unit/policy/fixtures.js';
import { addUser, headersOf, mailboxMessages, send } from './policy-helpers.js';
import { SmtpLineClient } from './smtp-helpers.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function app(overrides: Record<string, unknown>, dir?: string): Promise<TestApp> {
  const a = await startApp(overrides, dir ? { dir } : {});
  cleanup.push(() => a.stop());
  return a;
}

const encrypted = (name: string): Buffer => mimeMessage({ subject: `held ${name}`, attachments: [{ name, data: zip([{ name: 'a.doc', data: 'x', encrypt: 'aes' }]) }] });

describe('quarantine', () => {
  it('holds the message (250, not delivered); the CLI lists, releases (delivered with a header) and deletes', async () => {
    const yaml = 'policy:\n  rules:\n    - { name: encrypted-archives, action: quarantine }\n';
    const setup = tempSetup(yaml, ['example.gov.vn']);
    cleanup.push(() => rmSync(setup.dir, { recursive: true, force: true }));
    const overrides = { storage: { dir: path.join(setup.dir, 'data') }, policy: { rules: [{ name: 'encrypted-archives', action: 'quarantine' }] } };
    let a = await startApp(overrides, { dir: setup.dir });
    const user = await addUser(a.store, 'longnv@example.gov.vn');
    expect(await send(a, encrypted('one.zip'))).toMatchObject({ ok: true, code: 250 });
    expect(await send(a, encrypted('two.zip'))).toMatchObject({ ok: true, code: 250 });
    expect(await mailboxMessages(a.store, user.id)).toEqual([]);
    const log = await a.store.searchSendLog({ recipient: 'longnv@example.gov.vn' });
    expect(log.map((l) => [l.outcome, l.findings])).toEqual([
      ['quarantined', ['encrypted-archives: quarantine encrypted-archive; file="two.zip"']],
      ['quarantined', ['encrypted-archives: quarantine encrypted-archive; file="one.zip"']],
    ]);
    await a.stop();

    const listed = await cli(['quarantine', 'list', '--json', '--config', setup.config]);
    expect(listed.code).toBe(0);
    const items = (JSON.parse(listed.stdout) as Array<{ id: number; recipients: string[]; reason: string }>).sort((x, y) => x.id - y.id);
    expect(items).toHaveLength(2);
    expect(items[0]?.recipients).toEqual(['longnv@example.gov.vn']);
    expect(items[0]?.reason).toContain('encrypted-archive; file="one.zip"');

    const rel = await cli(['quarantine', 'release', String(items[0]?.id), '--config', setup.config, '--actor', 'quantri']);
    expect(rel.code).toBe(0);
    expect(rel.stdout).toContain('longnv@example.gov.vn: 250');
    const del = await cli(['quarantine', 'delete', String(items[1]?.id), '--config', setup.config]);
    expect(del.code).toBe(0);
    const missing = await cli(['quarantine', 'delete', '999', '--config', setup.config]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/Không có thư cách ly số 999 \/ No quarantined message 999/);

    a = await startApp(overrides, { dir: setup.dir });
    cleanup.push(() => a.stop());
    expect(await a.store.listQuarantine()).toEqual([]);
    const inbox = await mailboxMessages(a.store, user.id);
    expect(inbox).toHaveLength(1);
    expect(headersOf(inbox[0] ?? '')).toContain(`X-Buudien-Policy: released; quarantine=${items[0]?.id}`);
    expect(inbox[0]).toContain('Subject: held one.zip');
    const audit = await a.store.listAudit({});
    expect(audit.filter((x) => x.action.startsWith('quarantine.')).map((x) => [x.actor, x.action, x.target])).toEqual([
      ['cli:tester', 'quarantine.delete', String(items[1]?.id)],
      ['cli:quantri (tester)', 'quarantine.release', String(items[0]?.id)],
    ]);
  });
});

describe('reject by config', () => {
  it('encrypted-archives: reject → 550 5.7.1 naming the file', async () => {
    const a = await app({ policy: { rules: [{ name: 'encrypted-archives', action: 'reject' }] } });
    await addUser(a.store, 'longnv@example.gov.vn');
    const r = await send(a, encrypted('mat-khau.zip'));
    expect(r.code).toBe(550);
    expect(r.response).toContain('5.7.1');
    expect(r.response).toContain('mat-khau.zip');
    expect(r.response).toContain('encrypted-archives');
  });

  it('auto-forward: reject → 550 5.7.1', async () => {
    const a = await app({ policy: { rules: [{ name: 'auto-forward', action: 'reject' }] } });
    await addUser(a.store, 'longnv@example.gov.vn');
    const r = await send(a, mimeMessage({ headers: ['Resent-From: <x@yahoo.com>'] }), { from: 'x@yahoo.com' });
    expect(r.code).toBe(550);
    expect(r.response).toContain('auto-forward');
  });

  it('auto-forward, under the default flag: a user\'s automatic forward to an outside mailbox is refused at DATA (R-POL-5 outbound)', async () => {
    const a = await app({ policy: { forwardAllowlist: ['*.gov.vn'] } });
    await addUser(a.store, 'longnv@example.gov.vn');
    await addUser(a.store, 'hoa@example.gov.vn');
    const from = { submission: 'longnv', from: 'longnv@example.gov.vn' };
    const marked = (h: string) => mimeMessage({ from: 'longnv@example.gov.vn', subject: 'Fw: lịch họp', headers: [h] });
    for (const h of ['Auto-Submitted: auto-forwarded', 'X-MS-Exchange-Organization-AutoForwarded: true']) {
      const r = await send(a, marked(h), { ...from, to: ['leak@gmail.com', 'hoa@example.gov.vn'] });
      expect(r.code, h).toBe(550);
      expect(r.response).toContain('5.7.1');
      expect(r.response).toContain('Không được tự động chuyển tiếp thư công vụ tới hộp thư ngoài cơ quan nhà nước (gmail.com)');
      expect(r.response).toContain('/ Official mail may not be forwarded automatically to mailboxes outside state agencies (gmail.com)');
    }
    const rows = await a.store.searchSendLog({ sender: 'longnv@example.gov.vn' });
    expect(rows.filter((x) => x.recipient === 'leak@gmail.com').map((x) => [x.outcome, x.findings])).toContainEqual(['rejected', ['auto-forward: reject auto-forward-out; to="gmail.com"; by=auto-submitted']]);
    // Within state agencies (local or allow-listed), by hand, or redirected by hand (Resent-*, and the
    // X-Forwarded-To another service stamped on the message as it came in): no finding.
    expect((await send(a, marked('X-Forwarded-To: longnv@example.gov.vn'), { ...from, to: ['leak@gmail.com'] })).code).toBe(250);
    expect((await send(a, marked('Auto-Submitted: auto-forwarded'), { ...from, to: ['hoa@example.gov.vn', 'van@sotc.nghean.gov.vn'] })).code).toBe(250);
    expect((await send(a, mimeMessage({ from: 'longnv@example.gov.vn', subject: 'Fw: tay' }), { ...from, to: ['leak@gmail.com'] })).code).toBe(250);
    expect((await send(a, marked('Resent-From: longnv@example.gov.vn'), { ...from, to: ['leak@gmail.com'] })).code).toBe(250);
  });
});

describe('sending limits on submission', () => {
  it('after maxMessagesPerHour: 451 4.7.1, logged, and one notice to the unit admin', async () => {
    const a = await app({ policy: { maxMessagesPerHour: 2 } });
    const unit = await a.store.addUnit({ code: 'stttt', address: 'stttt', name: 'Sở TT&TT', parentId: null, staff: null }, { actor: 't', action: 'x', target: 'y' });
    const admin = await addUser(a.store, 'quantri@example.gov.vn', { role: 'unit', unitId: unit.id });
    await addUser(a.store, 'longnv@example.gov.vn', { unitId: unit.id });
    await addUser(a.store, 'lanvt@example.gov.vn', { unitId: unit.id });
    const from = 'longnv@example.gov.vn';
    const msg = (): Buffer => mimeMessage({ from, to: 'lanvt@example.gov.vn', subject: 'hello' });
    for (let i = 0; i < 2; i++) expect(await send(a, msg(), { from, to: ['lanvt@example.gov.vn'], submission: from })).toMatchObject({ ok: true });
    const r = await send(a, msg(), { from, to: ['lanvt@example.gov.vn'], submission: from });
    expect(r.code).toBe(451);
    expect(r.response).toContain('4.7.1');
    expect(r.response).toContain('sending-limits');
    // The notice is written in the background: wait for the store event (subscribed before looking), no sleeping.
    const box = await a.store.getMailbox(admin.id, 'INBOX');
    let off: () => void = () => undefined;
    const arrived = new Promise<void>((resolve) => {
      off = a.store.onEvent((e) => {
        if (e.kind === 'added' && e.mailboxId === box?.id) resolve();
      });
    });
    if ((await mailboxMessages(a.store, admin.id)).length === 0) await arrived;
    off();
    const notices = await mailboxMessages(a.store, admin.id);
    expect(notices).toHaveLength(1);
    expect(decodeWords(headersOf(notices[0] ?? '').find((h) => h.startsWith('Subject:')) ?? '')).toContain('longnv@example.gov.vn');
  });
});

describe('sending limits: sessions in parallel', () => {
  it('sessions that all pass MAIL FROM before any is accepted still get only maxMessagesPerHour through (the rest 451 at DATA)', async () => {
    const a = await app({ policy: { maxMessagesPerHour: 2 } });
    await addUser(a.store, 'longnv@example.gov.vn');
    await addUser(a.store, 'lanvt@example.gov.vn');
    const from = 'longnv@example.gov.vn';
    const sessions: SmtpLineClient[] = [];
    // One after the other: sign-ins in flight from one address are limited.
    for (let i = 0; i < 5; i++) {
      const c = await SmtpLineClient.connect(a.port('submission'));
      expect((await c.read()).code).toBe(220);
      expect((await c.cmd('EHLO pc.example.gov.vn')).code).toBe(250);
      expect((await c.cmd(`AUTH PLAIN ${Buffer.from(`\0${from}\0${PASSWORD}`).toString('base64')}`)).code).toBe(235);
      sessions.push(c);
    }
    // Every session is past MAIL FROM and RCPT before any message is sent.
    for (const c of sessions) {
      expect((await c.cmd(`MAIL FROM:<${from}>`)).code).toBe(250);
      expect((await c.cmd('RCPT TO:<lanvt@example.gov.vn>')).code).toBe(250);
    }
    const replies = await Promise.all(
      sessions.map(async (c) => {
        expect((await c.cmd('DATA')).code).toBe(354);
        c.write(mimeMessage({ from, to: 'lanvt@example.gov.vn', subject: 'song song' }));
        c.write('.\r\n');
        return c.read();
      }),
    );
    expect(replies.map((r) => r.code).sort()).toEqual([250, 250, 451, 451, 451]);
    for (const r of replies.filter((x) => x.code === 451)) expect(r.text).toContain('4.7.1');
    for (const c of sessions) c.close();
  });

  it('messages another rule refuses at DATA do not count against maxMessagesPerHour', async () => {
    const a = await app({ policy: { maxMessagesPerHour: 2 } });
    await addUser(a.store, 'longnv@example.gov.vn');
    await addUser(a.store, 'lanvt@example.gov.vn');
    const from = 'longnv@example.gov.vn';
    const opts = { from, to: ['lanvt@example.gov.vn'], submission: from };
    for (let i = 0; i < 3; i++) {
      const r = await send(a, mimeMessage({ from, subject: `exe ${i}`, attachments: [{ name: 'setup.exe', data: 'x' }] }), opts);
      expect(r.code).toBe(550);
    }
    for (let i = 0; i < 2; i++) expect(await send(a, mimeMessage({ from, subject: `ok ${i}` }), opts)).toMatchObject({ ok: true });
    expect((await send(a, mimeMessage({ from, subject: 'one too many' }), opts)).code).toBe(451);
  });
});

describe('recipients per message on submission', () => {
  it('over policy.maxRecipientsPerMessage: 451 4.7.1 at RCPT, named rule, and a notice to the unit admin', async () => {
    const a = await app({ policy: { maxRecipientsPerMessage: 2 } });
    const unit = await a.store.addUnit({ code: 'stttt', address: 'stttt', name: 'Sở TT&TT', parentId: null, staff: null }, { actor: 't', action: 'x', target: 'y' });
    const admin = await addUser(a.store, 'quantri@example.gov.vn', { role: 'unit', unitId: unit.id });
    await addUser(a.store, 'longnv@example.gov.vn', { unitId: unit.id });
    for (const u of ['lanvt', 'hoanglm', 'minhpq']) await addUser(a.store, `${u}@example.gov.vn`, { unitId: unit.id });
    const from = 'longnv@example.gov.vn';
    const to = ['lanvt@example.gov.vn', 'hoanglm@example.gov.vn', 'minhpq@example.gov.vn'];
    const box = await a.store.getMailbox(admin.id, 'INBOX');
    let off: () => void = () => undefined;
    const arrived = new Promise<void>((resolve) => {
      off = a.store.onEvent((e) => {
        if (e.kind === 'added' && e.mailboxId === box?.id) resolve();
      });
    });
    const two = await send(a, mimeMessage({ from, to: to.slice(0, 2).join(', '), subject: 'two' }), { from, to: to.slice(0, 2), submission: from });
    expect(two).toMatchObject({ ok: true });
    // nodemailer sends to the accepted recipients and reports the refused one.
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: a.port('submission'), secure: false, tls: { rejectUnauthorized: false }, auth: { user: from, pass: PASSWORD } });
    try {
      const info = await transport.sendMail({ envelope: { from, to }, raw: mimeMessage({ from, to: to.join(', '), subject: 'three' }) });
      expect(info.accepted).toEqual(to.slice(0, 2));
      expect(info.rejected).toEqual([to[2]]);
      const err = (info as unknown as { rejectedErrors: Array<{ responseCode: number; response: string }> }).rejectedErrors[0];
      expect(err?.responseCode).toBe(451);
      expect(err?.response).toContain('4.7.1');
      expect(err?.response).toContain('sending-limits');
    } finally {
      transport.close();
    }
    if ((await mailboxMessages(a.store, admin.id)).length === 0) await arrived;
    off();
    const notices = await mailboxMessages(a.store, admin.id);
    expect(notices).toHaveLength(1);
    const log = await a.store.searchSendLog({ sender: from });
    expect(log.find((e) => e.recipient === to[2])).toMatchObject({ outcome: 'deferred', code: 451, findings: ['sending-limits: reject sending-limit; recipients-per-message=2'] });
  });
});

describe('quota (R-STORE-1, R-STORE-3)', () => {
  it('warning mails at 80/90 %, then a full mailbox gets 452 4.2.2', async () => {
    const a = await app({});
    const user = await addUser(a.store, 'longnv@example.gov.vn', { quotaBytes: 40_000 });
    const filler = (kb: number): Buffer => mimeMessage({ subject: `filler ${kb}`, text: 'x'.repeat(kb * 1000) });
    expect(await send(a, filler(33))).toMatchObject({ ok: true }); // ≈ 83 %
    expect(await send(a, filler(1))).toMatchObject({ ok: true }); // ≈ 91 % (+ the warning itself)
    const subjects = (await mailboxMessages(a.store, user.id)).map((m) => decodeWords(headersOf(m).find((h) => h.startsWith('Subject:')) ?? ''));
    expect(subjects.filter((s) => s.includes('Cảnh báo: hộp thư đã dùng'))).toEqual([
      'Subject: Cảnh báo: hộp thư đã dùng 80% dung lượng / Warning: your mailbox is 80% full',
      'Subject: Cảnh báo: hộp thư đã dùng 90% dung lượng / Warning: your mailbox is 90% full',
    ]);
    const full = await send(a, filler(10));
    expect(full.code).toBe(452);
    expect(full.response).toContain('4.2.2');
  });
});
