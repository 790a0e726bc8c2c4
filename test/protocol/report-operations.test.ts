/**
 * `buudien report operations` (R-OPS-2, NA Đ10.2.e): the quarterly report counts what really went
 * through the server. Mail arrives over SMTP (delivered, an unknown recipient refused, an
 * executable refused by policy), a user submits mail, clients sign in over IMAP (one wrong
 * password), an account is suspended; then the CLI reports the quarter from the same storage.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quarterOf } from '../../src/accounts/operations-report.js';
import { startApp, testDir, type TestApp } from '../helpers/app.js';
import { cli, ok, userError } from '../cli/run.js';
import { imapSignsIn, PASSWORD } from './imap-helpers.js';
import { addUser, send } from './policy-helpers.js';
import { until } from './smtp-helpers.js';

const root = testDir('buudien-opsreport-');
const dir = path.join(root, 'data');
let app: TestApp;
let config = '';
let quarter = '';

interface Json {
  year: number;
  quarter: number;
  partial: boolean;
  mail: {
    rows: Array<{ direction: string; outcomes: Record<string, number>; recipients: number; messages: number; bytes: number }>;
    senders: number;
    inboundClients: number;
    refusals: Array<{ outcome: string; code: number | null; status: string | null; count: number; example: string }>;
    findings: Array<{ finding: string; count: number }>;
  };
  signIns: { rows: Array<{ protocol: string; ok: number; failed: number; accounts: number }>; signedInAccounts: number };
  administration: Array<{ action: string; count: number; automatic: number }>;
  accounts: { byState: Record<string, number>; activeByKind: Record<string, number>; activePeople: number; twoFactor: number };
  storage: { usedBytes: number; quotaBytes: number; nearFull: number; full: number };
  queue: { items: number };
  backups: { inPeriod: number; last: string | null };
}

function mail(subject: string, to: string, attachment?: { filename: string; content: Buffer }, from = 'Đối tác <doitac@example.org>'): Promise<Buffer> {
  const t = nodemailer.createTransport({ streamTransport: true, buffer: true });
  return t
    .sendMail({
      from,
      to,
      subject,
      text: 'Kính gửi anh chị.',
      messageId: `<${subject.replace(/\W/g, '')}.${Date.now()}@example.org>`,
      ...(attachment ? { attachments: [attachment] } : {}),
    })
    .then((info) => info.message as Buffer);
}

beforeAll(async () => {
  quarter = `${quarterOf(new Date()).year}-Q${quarterOf(new Date()).quarter}`;
  mkdirSync(dir);
  app = await startApp({}, { dir });
  const longnv = await addUser(app.store, 'longnv@example.gov.vn');
  await addUser(app.store, 'lanht@example.gov.vn');
  // Inbound over the MX port: delivered, an unknown recipient, an executable (refused by policy).
  expect((await send(app, await mail('Công văn 1', 'longnv@example.gov.vn'))).code).toBe(250);
  expect((await send(app, await mail('Công văn 2', 'khongco@example.gov.vn'), { to: ['khongco@example.gov.vn'] })).code).toBe(550);
  const exe = await send(app, await mail('Phần mềm', 'longnv@example.gov.vn', { filename: 'cai-dat.exe', content: Buffer.concat([Buffer.from('MZ'), Buffer.alloc(600, 1)]) }));
  expect(exe.ok).toBe(false);
  expect(String(exe.code)).toMatch(/^5/);
  // A user submits mail to a colleague (signed in over SMTP).
  const sub = await send(app, await mail('Trả lời', 'lanht@example.gov.vn', undefined, 'longnv@example.gov.vn'), { submission: 'longnv', from: 'longnv@example.gov.vn', to: ['lanht@example.gov.vn'] });
  expect(sub.code).toBe(250);
  // Sign-ins over IMAP: one right, one wrong.
  expect((await imapSignsIn(app, 'longnv', PASSWORD)).ok).toBe(true);
  expect((await imapSignsIn(app, 'lanht', 'sai-mat-khau')).ok).toBe(false);
  await until(async () => (await app.store.listSignIns(longnv.id)).some((s) => s.protocol === 'imap' && s.ok));
  await app.stop();
  config = path.join(root, 'buudien.yaml');
  writeFileSync(config, `domains: [example.gov.vn]\norganization: { name: Sở Thông tin và Truyền thông, hostname: mail.example.gov.vn }\nstorage: { dir: ${JSON.stringify(dir)} }\nlog: { level: silent }\n`);
  ok(await cli(['account', 'suspend', 'lanht', '--reason', 'nghỉ phép dài hạn', '--config', config]));
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('report operations (R-OPS-2, quarterly)', () => {
  it('json: mail per direction and outcome, refusals, findings, sign-ins, administration and the state now', async () => {
    const r = JSON.parse(ok(await cli(['report', 'operations', '--quarter', quarter, '--format', 'json', '--config', config])).stdout) as Json;
    expect(`${r.year}-Q${r.quarter}`).toBe(quarter);
    expect(r.partial).toBe(true);
    const row = (d: string) => r.mail.rows.find((x) => x.direction === d);
    expect(r.mail.rows.map((x) => x.direction)).toEqual(['inbound', 'submission', 'outbound', 'local']);
    // Inbound: one delivered; the unknown recipient and the executable refused. Each its own message.
    expect(row('inbound')).toMatchObject({ recipients: 3, messages: 3, outcomes: { delivered: 1, rejected: 2, queued: 0, bounced: 0 } });
    expect(row('inbound')?.bytes).toBeGreaterThan(1000);
    expect(row('submission')).toMatchObject({ recipients: 1, messages: 1, outcomes: { delivered: 1, rejected: 0 } });
    expect(row('outbound')?.recipients).toBe(0);
    expect([r.mail.senders, r.mail.inboundClients]).toEqual([1, 1]);
    // Refusals by code: the file name in the policy's reply does not make a group of its own.
    expect(r.mail.refusals.map((x) => [x.outcome, x.code, x.status, x.count]).sort()).toEqual([
      ['rejected', 550, '5.1.1', 1],
      ['rejected', 550, '5.7.1', 1],
    ]);
    expect(r.mail.refusals.find((x) => x.status === '5.7.1')?.example).toContain('cai-dat.exe');
    expect(r.mail.findings).toEqual([{ finding: 'executables: reject', count: 1 }]);
    // Sign-ins per protocol: IMAP one right and one wrong, SMTP the submission's.
    expect(r.signIns.rows).toEqual([
      { protocol: 'imap', ok: 1, failed: 1, accounts: 1 },
      { protocol: 'smtp', ok: 1, failed: 0, accounts: 1 },
    ]);
    expect(r.signIns.signedInAccounts).toBe(1);
    // The suspension made with the CLI; the first administrator and the domain added by the server itself.
    const actions = Object.fromEntries(r.administration.map((a) => [a.action, [a.count, a.automatic]]));
    expect(actions['account.suspend']).toEqual([1, 0]);
    expect(actions['domain.add']).toEqual([1, 1]);
    // As of now: the bootstrap administrator, longnv active; lanht suspended; longnv's and lanht's mail stored.
    expect(r.accounts.byState).toEqual({ active: 2, suspended: 1, deleted: 0 });
    expect(r.accounts.activeByKind).toEqual({ personal: 1, unit: 0, admin: 1 });
    expect([r.accounts.activePeople, r.accounts.twoFactor]).toEqual([1, 0]);
    expect(r.storage.usedBytes).toBeGreaterThan(1000);
    expect(r.storage.quotaBytes).toBeGreaterThanOrEqual(3 * 2 * 1024 ** 3);
    expect([r.storage.nearFull, r.storage.full, r.queue.items, r.backups.inPeriod, r.backups.last]).toEqual([0, 0, 0, 0, null]);
  });

  it('text: the sections in Vietnamese first, English under each line; csv: one figure a row', async () => {
    const text = ok(await cli(['report', 'operations', '--quarter', quarter, '--config', config])).stdout;
    const [y, q] = quarter.split('-Q');
    expect(text).toMatch(new RegExp(`^BÁO CÁO đánh giá kết quả hoạt động của hệ thống Thư điện tử công vụ quý ${q} năm ${y}\nReport on the operation of the official e-mail system, Q${q} ${y}\nSở Thông tin và Truyền thông — mail.example.gov.vn\n`));
    expect(text).toMatch(/- Nhận từ bên ngoài \(MX\): 3 thư, [\d,]+ KB, 3 lượt người nhận/);
    expect(text).toContain('(đã giao 1, từ chối 2)');
    expect(text).toContain('(delivered 1, rejected 2)');
    expect(text).toContain('- 1 × từ chối 550 5.1.1 / 1 × rejected 550 5.1.1');
    expect(text).toContain('- 1 × executables: reject\n');
    expect(text).toContain('- IMAP: 1 thành công (1 tài khoản), 1 thất bại');
    expect(text).toContain('  IMAP: 1 successful (1 account), 1 failed');
    expect(text).toContain('- Tạm khóa tài khoản: 1\n  Accounts suspended: 1\n');
    expect(text).toContain('- Tài khoản: 2 đang hoạt động (cá nhân 1, đơn vị 0, quản trị 1), 1 tạm khóa, 0 đã xóa (0 còn dữ liệu chờ xóa hẳn)');
    expect(text).toContain('- Sao lưu: 0 lần trong kỳ; lần gần nhất chưa có');
    const csv = ok(await cli(['report', 'operations', '--quarter', quarter, '--format', 'CSV', '--config', config])).stdout;
    const lines = csv.slice(1).trim().split('\r\n');
    expect(csv.charCodeAt(0)).toBe(0xfeff);
    expect(lines[0]).toBe('Mục / Section,Chỉ tiêu / Item,Số liệu / Figure,Đơn vị tính / Unit');
    expect(lines).toContain('Thư / Mail,Nhận từ bên ngoài (MX): từ chối / Received from outside (MX): rejected,2,người nhận / recipients');
    expect(lines).toContain('Kiểm soát nội dung / Content policy,executables: reject,1,người nhận / recipients');
  });

  it('a backup made is counted; the default quarter is the last one ended; bad quarters and unit administrators are refused', async () => {
    ok(await cli(['backup', 'create', path.join(root, 'backups'), '--config', config]));
    const r = JSON.parse(ok(await cli(['report', 'operations', '--quarter', quarter, '--format', 'json', '--config', config])).stdout) as Json;
    expect(r.backups.inPeriod).toBe(1);
    expect(Date.parse(r.backups.last ?? '')).toBeGreaterThan(Date.now() - 3_600_000);
    const def = JSON.parse(ok(await cli(['report', 'operations', '--format', 'json', '--config', config])).stdout) as Json;
    expect(def.partial).toBe(false);
    expect(`${def.year}-Q${def.quarter}`).not.toBe(quarter);
    expect(def.mail.rows.every((x) => x.recipients === 0)).toBe(true);
    userError(await cli(['report', 'operations', '--quarter', '2026-Q5', '--config', config]), /"2026-Q5" is not a quarter \(for example 2026-Q3\)/);
    userError(await cli(['report', 'operations', '--quarter', '2199-Q1', '--config', config]), /Q1 2199 has not begun/);
    userError(await cli(['report', 'operations', '--quarter', '2020-Q1', '--config', config]), /kept only 365 days \(sendLog\.retentionDays\)/);
    userError(await cli(['report', 'operations', '--format', 'pdf', '--config', config]), /"pdf" is not one of text \| csv \| json/);
  });
});
