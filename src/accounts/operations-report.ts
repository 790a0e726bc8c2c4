/**
 * R-OPS-2, the quarterly part (NA Đ10.2.e: "định kỳ hàng quý báo cáo đánh giá kết quả hoạt động
 * của hệ thống Thư điện tử công vụ"): what the system did in a calendar quarter (Vietnam time),
 * from its own records, for the operator's quarterly report:
 *
 * - mail: the send log per direction and outcome (recipients, messages, bytes), the most frequent
 *   refusals and the policy findings by kind;
 * - sign-ins: per protocol, successful and failed, and the accounts that signed in;
 * - administration: the audit log per action (accounts added, suspended, deleted, passwords
 *   reset, two-factor, backups…);
 * - as the report is made: accounts by state and kind, two-factor among active people, storage
 *   against quotas, the outbound queue and the last backup.
 *
 * buildOperationsReport is pure; the account service gathers its input (system administrators
 * only: the report is the whole system's).
 */
import { formatBytes } from '../lib/bytes.js';
import { vietnamTime } from '../lib/clock.js';
import { csvDocument, type CsvCell } from '../lib/csv.js';
import { effectiveQuotaBytes, type Account, type OperationsSummary, type QueueItem, type QuotaDefaults, type SendDirection, type SendOutcome } from '../store/port.js';
import { enPct, pct, vnDate, vnPct } from './report.js';

const VN_MS = 7 * 3600_000;

export interface Quarter {
  year: number;
  /** 1–4. */
  quarter: number;
}

export interface QuarterPeriod extends Quarter {
  from: Date;
  /** Exclusive; never later than the time the report was made. */
  to: Date;
  /** The quarter had not ended when the report was made (figures so far). */
  partial: boolean;
}

/** The first day of the quarter's first month, 00:00 Vietnam time (a quarter past 4 rolls into the next year). */
function quarterStart(year: number, quarter: number): Date {
  return new Date(Date.UTC(year, (quarter - 1) * 3, 1) - VN_MS);
}

/** "2026-Q3", "2026Q3", "Q3-2026", "Q3/2026" (any case), or null. */
export function parseQuarter(text: string): Quarter | null {
  const t = text.trim();
  const m = /^(\d{4})\s*-?\s*q([1-4])$/i.exec(t) ?? /^q([1-4])\s*[-/]\s*(\d{4})$/i.exec(t);
  if (!m) return null;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return /^q/i.test(t) ? { year: b, quarter: a } : { year: a, quarter: b };
}

/** The quarter `now` falls in, Vietnam time. */
export function quarterOf(now: Date): Quarter {
  const v = new Date(now.getTime() + VN_MS);
  return { year: v.getUTCFullYear(), quarter: Math.floor(v.getUTCMonth() / 3) + 1 };
}

/** The last quarter that has ended: the one a quarterly report is made on. */
export function lastEndedQuarter(now: Date): Quarter {
  const q = quarterOf(now);
  return q.quarter === 1 ? { year: q.year - 1, quarter: 4 } : { year: q.year, quarter: q.quarter - 1 };
}

/** The quarter's period, Vietnam time, cut at `now`; null when it has not begun. */
export function quarterPeriod(q: Quarter, now: Date): QuarterPeriod | null {
  const from = quarterStart(q.year, q.quarter);
  const end = quarterStart(q.year, q.quarter + 1);
  if (from.getTime() > now.getTime()) return null;
  return { ...q, from, to: end.getTime() < now.getTime() ? end : now, partial: end.getTime() > now.getTime() };
}

export const DIRECTIONS: readonly SendDirection[] = ['inbound', 'submission', 'outbound', 'local'];
export const OUTCOMES: readonly SendOutcome[] = ['delivered', 'queued', 'deferred', 'bounced', 'rejected', 'quarantined'];

const DIRECTION_LABEL: Readonly<Record<SendDirection, readonly [string, string]>> = {
  inbound: ['Nhận từ bên ngoài (MX)', 'Received from outside (MX)'],
  submission: ['Người dùng gửi (submission)', 'Sent by users (submission)'],
  outbound: ['Chuyển ra bên ngoài', 'Relayed to outside'],
  local: ['Giao nội bộ', 'Delivered locally'],
};

const OUTCOME_LABEL: Readonly<Record<SendOutcome, readonly [string, string]>> = {
  delivered: ['đã giao', 'delivered'],
  queued: ['xếp hàng gửi đi', 'queued'],
  deferred: ['hoãn (thử lại)', 'deferred'],
  bounced: ['trả lại', 'bounced'],
  rejected: ['từ chối', 'rejected'],
  quarantined: ['cách ly', 'quarantined'],
};

/** Audit actions as the report names them; any other is shown as recorded. */
const ACTION_LABEL: Readonly<Record<string, readonly [string, string]>> = {
  'account.add': ['Tạo tài khoản', 'Accounts created'],
  'account.suspend': ['Tạm khóa tài khoản', 'Accounts suspended'],
  'account.restore': ['Mở lại tài khoản', 'Accounts restored'],
  'account.delete': ['Khóa (xóa) tài khoản', 'Accounts deleted'],
  'account.purge': ['Xóa hẳn dữ liệu tài khoản', 'Accounts purged'],
  'account.passwd': ['Quản trị cấp lại mật khẩu', 'Passwords reset by an administrator'],
  'account.passwd.self': ['Người dùng đổi mật khẩu', 'Passwords changed by their users'],
  'account.passwd.forgot': ['Đặt lại mật khẩu qua SMS (quên mật khẩu)', 'Passwords reset by SMS (forgot password)'],
  'account.quota': ['Đổi hạn mức dung lượng', 'Quotas changed'],
  'account.2fa.enable': ['Quản trị bật xác thực hai yếu tố', 'Two-factor turned on by an administrator'],
  'account.2fa.enable.self': ['Người dùng bật xác thực hai yếu tố', 'Two-factor turned on by its user'],
  'account.2fa.disable': ['Quản trị tắt xác thực hai yếu tố', 'Two-factor turned off by an administrator'],
  'account.2fa.disable.self': ['Người dùng tắt xác thực hai yếu tố', 'Two-factor turned off by its user'],
  'account.app-password.add': ['Cấp mật khẩu ứng dụng (quản trị)', 'App passwords given by an administrator'],
  'account.app-password.add.self': ['Người dùng tạo mật khẩu ứng dụng', 'App passwords made by their users'],
  'account.app-password.remove': ['Thu hồi mật khẩu ứng dụng (quản trị)', 'App passwords revoked by an administrator'],
  'account.app-password.remove.self': ['Người dùng thu hồi mật khẩu ứng dụng', 'App passwords revoked by their users'],
  'unit.add': ['Tạo đơn vị', 'Units created'],
  'unit.update': ['Sửa thông tin đơn vị', 'Units changed'],
  'unit.delegate': ['Giao hộp thư đơn vị cho văn thư', 'Unit mailboxes delegated'],
  'unit.undelegate': ['Thôi giao hộp thư đơn vị', 'Unit mailbox delegations ended'],
  'domain.add': ['Thêm tên miền', 'Domains added'],
  'domain.remove': ['Bỏ tên miền', 'Domains removed'],
  'dkim.generate': ['Tạo khóa DKIM', 'DKIM keys made'],
  'directory.export': ['Xuất danh bạ (mỗi quản trị, mỗi ngày một lần)', 'Directory exports (once a day per administrator)'],
  'import.requests': ['Nhập danh sách yêu cầu (CSV)', 'Request lists imported (CSV)'],
  'quarantine.release': ['Thả thư bị cách ly', 'Quarantined messages released'],
  'quarantine.delete': ['Xóa thư bị cách ly', 'Quarantined messages deleted'],
  'backup.create': ['Sao lưu', 'Backups made'],
  'backup.restore': ['Khôi phục từ bản sao lưu', 'Restores from a backup'],
  'job.run': ['Chạy tác vụ định kỳ bằng tay', 'Scheduled jobs run by hand'],
};

/** The report's wording of an audit action: [Vietnamese, English]. */
export function actionLabel(action: string): readonly [string, string] {
  return ACTION_LABEL[action] ?? [action, action];
}

export interface MailRow {
  direction: SendDirection;
  /** Recipients per outcome. */
  outcomes: Record<SendOutcome, number>;
  recipients: number;
  messages: number;
  bytes: number;
}

export interface OperationsReport {
  organization: string;
  hostname: string;
  period: QuarterPeriod;
  generatedAt: Date;
  mail: {
    rows: MailRow[];
    /** Signed-in accounts that sent mail, distinct client addresses that delivered to us. */
    senders: number;
    inboundClients: number;
    refusals: OperationsSummary['refusals'];
    findings: OperationsSummary['findings'];
  };
  signIns: {
    rows: Array<{ protocol: string; ok: number; failed: number; accounts: number }>;
    signedInAccounts: number;
  };
  /** Per audit action; `automatic` of them by the server's own jobs (inactive accounts suspended and removed, scheduled backups). */
  administration: OperationsSummary['audit'];
  /** As the report was made. */
  accounts: {
    byState: Record<Account['state'], number>;
    /** Active accounts per kind. */
    activeByKind: Record<Account['kind'], number>;
    /** Active personal accounts and those with a second factor (TOTP or SMS). */
    activePeople: number;
    twoFactor: number;
  };
  storage: {
    usedBytes: number;
    /** The quotas of the accounts not deleted, added up. */
    quotaBytes: number;
    /** Accounts at 90 % of their quota or more, and those full. */
    nearFull: number;
    full: number;
  };
  queue: { items: number; recipients: number; oldest: Date | null };
  backups: { inPeriod: number; last: Date | null };
}

export interface OperationsReportInput {
  organization: string;
  hostname: string;
  period: QuarterPeriod;
  generatedAt: Date;
  summary: OperationsSummary;
  accounts: readonly Account[];
  quota: QuotaDefaults;
  queue: readonly QueueItem[];
}

const zeroOutcomes = (): Record<SendOutcome, number> => ({ delivered: 0, queued: 0, deferred: 0, bounced: 0, rejected: 0, quarantined: 0 });

export function buildOperationsReport(input: OperationsReportInput): OperationsReport {
  const s = input.summary;
  const rows = DIRECTIONS.map((direction): MailRow => {
    const mine = s.mail.filter((m) => m.direction === direction);
    const outcomes = zeroOutcomes();
    for (const m of mine) outcomes[m.outcome] += m.recipients;
    return {
      direction,
      outcomes,
      recipients: mine.reduce((n, m) => n + m.recipients, 0),
      messages: mine.reduce((n, m) => n + m.messages, 0),
      bytes: mine.reduce((n, m) => n + m.bytes, 0),
    };
  });
  const protocols = [...new Set(s.signIns.map((r) => r.protocol))].sort();
  const signIns = protocols.map((protocol) => {
    const okRow = s.signIns.find((r) => r.protocol === protocol && r.ok);
    const failed = s.signIns.find((r) => r.protocol === protocol && !r.ok);
    return { protocol, ok: okRow?.count ?? 0, failed: failed?.count ?? 0, accounts: okRow?.accounts ?? 0 };
  });
  const byState: Record<Account['state'], number> = { active: 0, suspended: 0, deleted: 0 };
  const activeByKind: Record<Account['kind'], number> = { personal: 0, unit: 0, admin: 0 };
  let activePeople = 0;
  let twoFactor = 0;
  let usedBytes = 0;
  let quotaBytes = 0;
  let nearFull = 0;
  let full = 0;
  for (const a of input.accounts) {
    byState[a.state]++;
    if (a.state === 'active') {
      activeByKind[a.kind]++;
      if (a.kind === 'personal') {
        activePeople++;
        if (a.totpSecret !== null || a.smsTwoFactor) twoFactor++;
      }
    }
    if (a.state === 'deleted') continue;
    const used = s.usage.get(a.id) ?? 0;
    const quota = effectiveQuotaBytes(a, input.quota);
    usedBytes += used;
    quotaBytes += quota;
    if (quota > 0 && used >= quota) full++;
    else if (quota > 0 && used * 10 >= quota * 9) nearFull++;
  }
  const oldest = input.queue.reduce<Date | null>((m, q) => (m === null || q.createdAt < m ? q.createdAt : m), null);
  return {
    organization: input.organization.normalize('NFC'),
    hostname: input.hostname,
    period: input.period,
    generatedAt: input.generatedAt,
    mail: { rows, senders: s.senders, inboundClients: s.inboundClients, refusals: s.refusals, findings: s.findings },
    signIns: { rows: signIns, signedInAccounts: s.signedInAccounts },
    administration: s.audit,
    accounts: { byState, activeByKind, activePeople, twoFactor },
    storage: { usedBytes, quotaBytes, nearFull, full },
    queue: { items: input.queue.length, recipients: input.queue.reduce((n, q) => n + q.recipients.length, 0), oldest },
    backups: { inPeriod: s.audit.find((a) => a.action === 'backup.create')?.count ?? 0, last: s.lastBackupAt },
  };
}

/** Thousands grouped the Vietnamese way (1.234.567) and the English way (1,234,567). */
const vn = (n: number): string => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, '.');
const en = (n: number): string => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
/** The report as text: Vietnamese first, the English under each line. */
export function operationsReportText(r: OperationsReport): string {
  const p = r.period;
  const to = p.partial ? `${vietnamTime(p.to)} (chưa hết quý / quarter not over)` : vnDate(new Date(p.to.getTime() - 1));
  const out: string[] = [
    `BÁO CÁO đánh giá kết quả hoạt động của hệ thống Thư điện tử công vụ quý ${p.quarter} năm ${p.year}`,
    `Report on the operation of the official e-mail system, Q${p.quarter} ${p.year}`,
    `${r.organization} — ${r.hostname}`,
    `Kỳ số liệu / Period: ${vnDate(p.from)} – ${to}`,
    '',
    '1. Thư điện tử (nhật ký gửi nhận, theo lượt người nhận) / Mail (send log, per recipient)',
  ];
  const line = (vi: string, enText: string): void => {
    out.push(`- ${vi}`, `  ${enText}`);
  };
  for (const m of r.mail.rows) {
    const [vi, e] = DIRECTION_LABEL[m.direction];
    const parts = OUTCOMES.filter((o) => m.outcomes[o] > 0);
    line(
      `${vi}: ${vn(m.messages)} thư, ${vn(m.recipients)} lượt người nhận, ${formatBytes(m.bytes)}${parts.length ? ` (${parts.map((o) => `${OUTCOME_LABEL[o][0]} ${vn(m.outcomes[o])}`).join(', ')})` : ''}`,
      `${e}: ${en(m.messages)} messages, ${en(m.recipients)} recipients, ${formatBytes(m.bytes)}${parts.length ? ` (${parts.map((o) => `${OUTCOME_LABEL[o][1]} ${en(m.outcomes[o])}`).join(', ')})` : ''}`,
    );
  }
  line(`Tài khoản đã gửi thư: ${vn(r.mail.senders)}; máy chủ bên ngoài đã gửi đến (địa chỉ IP): ${vn(r.mail.inboundClients)}`, `Accounts that sent mail: ${en(r.mail.senders)}; outside servers that delivered to us (IP addresses): ${en(r.mail.inboundClients)}`);
  out.push('', '2. Thư bị từ chối, trả lại, hoãn — lý do thường gặp nhất / Refused, bounced and deferred mail — the most frequent reasons');
  if (r.mail.refusals.length === 0) line('Không có.', 'None.');
  for (const x of r.mail.refusals) {
    const code = [x.code, x.status].filter((c) => c !== null).join(' ');
    out.push(`- ${vn(x.count)} × ${OUTCOME_LABEL[x.outcome][0]} ${code} / ${en(x.count)} × ${OUTCOME_LABEL[x.outcome][1]} ${code}`.replace(/ +/g, ' '));
    if (x.example !== '') out.push(`  ví dụ / e.g.: ${x.example}`);
  }
  out.push('', '3. Kiểm soát nội dung và xác thực người gửi (số lượt người nhận) / Content policy and sender authentication (recipients)');
  if (r.mail.findings.length === 0) line('Không có phát hiện nào.', 'No findings.');
  for (const f of r.mail.findings) line(`${f.finding}: ${vn(f.count)}`, `${f.finding}: ${en(f.count)}`);
  out.push('', '4. Đăng nhập / Sign-ins');
  if (r.signIns.rows.length === 0) line('Không có lượt đăng nhập nào.', 'No sign-ins.');
  for (const x of r.signIns.rows) {
    line(`${x.protocol.toUpperCase()}: ${vn(x.ok)} thành công (${vn(x.accounts)} tài khoản), ${vn(x.failed)} thất bại`, `${x.protocol.toUpperCase()}: ${en(x.ok)} successful (${en(x.accounts)} accounts), ${en(x.failed)} failed`);
  }
  line(`Tài khoản có đăng nhập trong kỳ: ${vn(r.signIns.signedInAccounts)}`, `Accounts that signed in during the period: ${en(r.signIns.signedInAccounts)}`);
  out.push('', '5. Quản trị trong kỳ (nhật ký quản trị) / Administration during the period (audit log)');
  if (r.administration.length === 0) line('Không có thao tác quản trị nào.', 'No administrative actions.');
  for (const a of r.administration) {
    const [vi, e] = actionLabel(a.action);
    const auto = a.automatic > 0 ? [` (tự động ${vn(a.automatic)})`, ` (automatic ${en(a.automatic)})`] : ['', ''];
    line(`${vi}: ${vn(a.count)}${auto[0]}`, `${e}: ${en(a.count)}${auto[1]}`);
  }
  const ac = r.accounts;
  const st = r.storage;
  out.push('', `6. Hiện trạng lúc lập báo cáo / As of the report: ${vietnamTime(r.generatedAt)}`);
  line(
    `Tài khoản: ${vn(ac.byState.active)} đang hoạt động (cá nhân ${vn(ac.activeByKind.personal)}, đơn vị ${vn(ac.activeByKind.unit)}, quản trị ${vn(ac.activeByKind.admin)}), ${vn(ac.byState.suspended)} tạm khóa, ${vn(ac.byState.deleted)} đã khóa chờ xóa`,
    `Accounts: ${en(ac.byState.active)} active (personal ${en(ac.activeByKind.personal)}, unit ${en(ac.activeByKind.unit)}, admin ${en(ac.activeByKind.admin)}), ${en(ac.byState.suspended)} suspended, ${en(ac.byState.deleted)} deleted awaiting removal`,
  );
  const tf = pct(ac.twoFactor, ac.activePeople);
  line(`Xác thực hai yếu tố: ${vn(ac.twoFactor)}/${vn(ac.activePeople)} tài khoản cá nhân đang hoạt động (${vnPct(tf)})`, `Two-factor sign-in: ${en(ac.twoFactor)}/${en(ac.activePeople)} active personal accounts (${enPct(tf)})`);
  const used = pct(st.usedBytes, st.quotaBytes);
  line(
    `Dung lượng: ${formatBytes(st.usedBytes)} / ${formatBytes(st.quotaBytes)} hạn mức (${vnPct(used)}); ${vn(st.nearFull)} hộp thư từ 90% hạn mức, ${vn(st.full)} hộp thư đầy`,
    `Storage: ${formatBytes(st.usedBytes)} of ${formatBytes(st.quotaBytes)} in quotas (${enPct(used)}); ${en(st.nearFull)} mailboxes at 90% of their quota or more, ${en(st.full)} full`,
  );
  line(
    `Hàng đợi gửi đi: ${vn(r.queue.items)} thư, ${vn(r.queue.recipients)} người nhận${r.queue.oldest ? `, cũ nhất từ ${vietnamTime(r.queue.oldest)}` : ''}`,
    `Outbound queue: ${en(r.queue.items)} messages, ${en(r.queue.recipients)} recipients${r.queue.oldest ? `, the oldest since ${vietnamTime(r.queue.oldest)}` : ''}`,
  );
  line(
    `Sao lưu: ${vn(r.backups.inPeriod)} lần trong kỳ; lần gần nhất ${r.backups.last ? vietnamTime(r.backups.last) : 'chưa có'}`,
    `Backups: ${en(r.backups.inPeriod)} in the period; the last ${r.backups.last ? vietnamTime(r.backups.last) : 'none yet'}`,
  );
  out.push('', `Lập lúc / Made at: ${vietnamTime(r.generatedAt)}`);
  return out.join('\n') + '\n';
}

export const OPERATIONS_REPORT_CSV_HEADER = ['Mục / Section', 'Chỉ tiêu / Item', 'Số liệu / Figure', 'Đơn vị tính / Unit'] as const;

/** One figure a row (section, item, figure, unit), Excel-ready (lib/csv.ts). */
export function operationsReportCsv(r: OperationsReport): string {
  const rows: CsvCell[][] = [[...OPERATIONS_REPORT_CSV_HEADER]];
  const add = (section: string, item: string, figure: number | string, unit: string): void => {
    rows.push([section, item, typeof figure === 'number' ? String(figure) : figure, unit]);
  };
  const p = r.period;
  add('Kỳ / Period', 'Quý / Quarter', `${p.year}-Q${p.quarter}`, '');
  add('Kỳ / Period', 'Từ / From (UTC+7)', vietnamTime(p.from).replace(' (UTC+7)', ''), '');
  add('Kỳ / Period', p.partial ? 'Đến nay / So far (UTC+7)' : 'Đến / Until (UTC+7)', vietnamTime(p.to).replace(' (UTC+7)', ''), '');
  const mail = 'Thư / Mail';
  for (const m of r.mail.rows) {
    const [vi, e] = DIRECTION_LABEL[m.direction];
    add(mail, `${vi} / ${e}`, m.messages, 'thư / messages');
    add(mail, `${vi} / ${e}`, m.recipients, 'người nhận / recipients');
    add(mail, `${vi} / ${e}`, m.bytes, 'byte / bytes');
    for (const o of OUTCOMES) add(mail, `${vi}: ${OUTCOME_LABEL[o][0]} / ${e}: ${OUTCOME_LABEL[o][1]}`, m.outcomes[o], 'người nhận / recipients');
  }
  add(mail, 'Tài khoản đã gửi thư / Accounts that sent mail', r.mail.senders, 'tài khoản / accounts');
  add(mail, 'Máy chủ bên ngoài đã gửi đến / Outside servers that delivered to us', r.mail.inboundClients, 'địa chỉ IP / IP addresses');
  for (const x of r.mail.refusals) {
    const code = [x.code, x.status].filter((c) => c !== null).join(' ');
    add('Lý do từ chối / Refusal reasons', `${OUTCOME_LABEL[x.outcome][0]} / ${OUTCOME_LABEL[x.outcome][1]} ${code}: ${x.example}`.trim(), x.count, 'người nhận / recipients');
  }
  for (const f of r.mail.findings) add('Kiểm soát nội dung / Content policy', f.finding, f.count, 'người nhận / recipients');
  for (const x of r.signIns.rows) {
    add('Đăng nhập / Sign-ins', `${x.protocol.toUpperCase()}: thành công / successful`, x.ok, 'lượt / sign-ins');
    add('Đăng nhập / Sign-ins', `${x.protocol.toUpperCase()}: thất bại / failed`, x.failed, 'lượt / sign-ins');
    add('Đăng nhập / Sign-ins', `${x.protocol.toUpperCase()}: tài khoản / accounts`, x.accounts, 'tài khoản / accounts');
  }
  add('Đăng nhập / Sign-ins', 'Tài khoản có đăng nhập / Accounts that signed in', r.signIns.signedInAccounts, 'tài khoản / accounts');
  for (const a of r.administration) {
    const [vi, e] = actionLabel(a.action);
    const item = vi === e ? a.action : `${vi} / ${e} (${a.action})`;
    add('Quản trị / Administration', item, a.count, 'lần / times');
    if (a.automatic > 0) add('Quản trị / Administration', `${item}: tự động / automatic`, a.automatic, 'lần / times');
  }
  const now = 'Hiện trạng / As of the report';
  for (const s of ['active', 'suspended', 'deleted'] as const) add(now, `Tài khoản / Accounts: ${s}`, r.accounts.byState[s], 'tài khoản / accounts');
  for (const k of ['personal', 'unit', 'admin'] as const) add(now, `Đang hoạt động / Active: ${k}`, r.accounts.activeByKind[k], 'tài khoản / accounts');
  add(now, 'Xác thực hai yếu tố / Two-factor sign-in', r.accounts.twoFactor, 'tài khoản / accounts');
  add(now, 'Dung lượng đã dùng / Storage used', r.storage.usedBytes, 'byte / bytes');
  add(now, 'Tổng hạn mức / Quotas in all', r.storage.quotaBytes, 'byte / bytes');
  add(now, 'Hộp thư từ 90% hạn mức / Mailboxes at 90% or more', r.storage.nearFull, 'hộp thư / mailboxes');
  add(now, 'Hộp thư đầy / Full mailboxes', r.storage.full, 'hộp thư / mailboxes');
  add(now, 'Hàng đợi gửi đi / Outbound queue', r.queue.items, 'thư / messages');
  add(now, 'Sao lưu trong kỳ / Backups in the period', r.backups.inPeriod, 'lần / times');
  add(now, 'Sao lưu gần nhất / Last backup (UTC+7)', r.backups.last ? vietnamTime(r.backups.last).replace(' (UTC+7)', '') : '', '');
  return csvDocument(rows);
}

/** `{ version: 1, organization, hostname, year, quarter, from, to, partial, generatedAt, mail, signIns, administration, accounts, storage, queue, backups }` (ISO 8601 times). */
export function operationsReportJson(r: OperationsReport): string {
  const p = r.period;
  return (
    JSON.stringify(
      {
        version: 1,
        organization: r.organization,
        hostname: r.hostname,
        year: p.year,
        quarter: p.quarter,
        from: p.from.toISOString(),
        to: p.to.toISOString(),
        partial: p.partial,
        generatedAt: r.generatedAt.toISOString(),
        mail: r.mail,
        signIns: r.signIns,
        administration: r.administration,
        accounts: r.accounts,
        storage: r.storage,
        queue: { ...r.queue, oldest: r.queue.oldest?.toISOString() ?? null },
        backups: { ...r.backups, last: r.backups.last?.toISOString() ?? null },
      },
      null,
      2,
    ) + '\n'
  );
}
