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
import { vietnamMinutes, vietnamTime } from '../lib/clock.js';
import { enCount, many, vnCount } from '../lib/count.js';
import { csvDocument, type CsvCell } from '../lib/csv.js';
import { effectiveQuotaBytes, type Account, type OperationsSummary, type QueueItem, type QuotaDefaults, type SendDirection, type SendLogRecord, type SendOutcome } from '../store/port.js';
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

/**
 * What each direction's rows are (delivery/sendlog.ts): a user's mail to a colleague is a
 * `submission` row delivered at once; `local` rows are the queue's deliveries to local
 * recipients and the notices the server writes (DSNs).
 */
const DIRECTION_LABEL: Readonly<Record<SendDirection, readonly [string, string]>> = {
  inbound: ['Nhận từ bên ngoài (MX)', 'Received from outside (MX)'],
  submission: ['Người dùng gửi', 'Sent by users'],
  outbound: ['Chuyển ra bên ngoài', 'Relayed to outside'],
  local: ['Giao nội bộ qua hàng đợi và thư báo của hệ thống', "Local deliveries from the queue and the server's notices"],
};

const OUTCOME_LABEL: Readonly<Record<SendOutcome, readonly [string, string]>> = {
  delivered: ['đã giao', 'delivered'],
  queued: ['xếp hàng gửi đi', 'queued'],
  deferred: ['lượt hoãn (sẽ thử lại)', 'attempts deferred'],
  bounced: ['trả lại', 'bounced'],
  rejected: ['từ chối', 'rejected'],
  quarantined: ['cách ly', 'quarantined'],
};

/** A user's mail is delivered at once to colleagues and queued for outside. */
const SUBMISSION_OUTCOME_LABEL: Partial<Record<SendOutcome, readonly [string, string]>> = {
  delivered: ['giao ngay trong hệ thống', 'delivered within the system'],
  queued: ['chuyển ra ngoài (vào hàng đợi)', 'queued for outside'],
};

const outcomeLabel = (d: SendDirection, o: SendOutcome): readonly [string, string] => (d === 'submission' ? SUBMISSION_OUTCOME_LABEL[o] : undefined) ?? OUTCOME_LABEL[o];

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
  /** Distinct messages (by Message-ID; a row without one is a message of its own) and their bytes, each message once. */
  messages: number;
  bytes: number;
  /**
   * Send-log rows per outcome: recipients, except `deferred`, which counts attempts put off (a
   * recipient deferred twice and then delivered is two deferrals and one delivery).
   */
  outcomes: Record<SendOutcome, number>;
  /** Recipients: the rows with an outcome other than deferred. */
  recipients: number;
}

export interface Refusal {
  outcome: SendOutcome;
  code: number | null;
  /** The enhanced status code ("5.1.1"), or null when the reply has none. */
  status: string | null;
  count: number;
  /** The first line of the latest such reply, addresses' local parts hidden. */
  example: string;
}

/** The kind of a send-log finding: "rule: action" of "rule: action detail", else its first word ("dkim=fail"). */
export function findingKind(finding: string): string {
  const f = finding.trim();
  const i = f.indexOf(': ');
  if (i > 0) {
    const rest = f.slice(i + 2).trim();
    const sp = rest.indexOf(' ');
    // A rule that names the kind of problem (official-documents: problem=unsigned) is counted per
    // problem: read outside quoted values (a file name cannot pass for one; quoteName leaves no '"' in them).
    const problem = /; problem=([a-z-]{1,40})(?:;|$)/.exec(rest.replace(/"[^"]*"/g, '""'));
    return `${f.slice(0, i)}: ${sp >= 0 ? rest.slice(0, sp) : rest}${problem ? ` ${problem[1]}` : ''}`;
  }
  const sp = f.indexOf(' ');
  return sp >= 0 ? f.slice(0, sp) : f;
}

/** A reply's first line, its enhanced status code (after the reply code a remote reply starts with), addresses' local parts hidden. */
export function replyKind(text: string | null): { status: string | null; line: string } {
  const line = (text ?? '').split('\n')[0]?.replace(/\r$/, '').trim() ?? '';
  const m = /^([245]\.\d{1,3}\.\d{1,3})(?=\s|$)/.exec(line.replace(/^\d{3}[ -]/, ''));
  // A local part is matched from where its run starts (from inside a long run the pattern rescanned it: quadratic).
  const shown = line.replace(/(?<![^\s<>"'(),;:[\]])[^\s<>"'(),;:[\]]+@(?=[A-Za-z0-9.-]+)/g, '…@').slice(0, 300);
  return { status: m?.[1] ?? null, line: shown };
}

/** 53-bit FNV-1a style hash of a string: a message key that takes 8 bytes, not the string. */
function key53(s: string): number {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  return (a >>> 0) * 2 ** 21 + ((b >>> 0) >>> 11);
}

const MAX_REFUSALS = 20;

/**
 * The mail figures of a period, from its send-log rows one at a time (store.scanSendLog): memory
 * grows with the distinct messages (8 bytes each), senders and clients, not with the rows.
 */
export class MailTally {
  private readonly dirs = new Map<SendDirection, { keys: Set<number>; bytes: number; outcomes: Record<SendOutcome, number> }>();
  private readonly senders = new Set<string>();
  private readonly clients = new Set<string>();
  private readonly refusals = new Map<string, Refusal & { lastAt: number }>();
  private readonly findings = new Map<string, number>();

  add(r: SendLogRecord): void {
    let d = this.dirs.get(r.direction);
    if (!d) {
      d = { keys: new Set(), bytes: 0, outcomes: zeroOutcomes() };
      this.dirs.set(r.direction, d);
    }
    const key = key53(r.messageId ?? `#${r.id}`);
    if (!d.keys.has(key)) {
      d.keys.add(key);
      d.bytes += r.size ?? 0;
    }
    d.outcomes[r.outcome] = (d.outcomes[r.outcome] ?? 0) + 1;
    if (r.direction === 'submission' && r.account) this.senders.add(r.account);
    if (r.direction === 'inbound' && r.clientIp) this.clients.add(r.clientIp);
    if (r.outcome === 'rejected' || r.outcome === 'bounced' || r.outcome === 'deferred') {
      const { status, line } = replyKind(r.text);
      const k = `${r.outcome} ${r.code ?? ''} ${status ?? ''}`;
      const seen = this.refusals.get(k);
      const at = r.at.getTime();
      if (!seen) this.refusals.set(k, { outcome: r.outcome, code: r.code, status, count: 1, example: line, lastAt: at });
      else {
        seen.count++;
        if (at >= seen.lastAt) Object.assign(seen, { example: line, lastAt: at });
      }
    }
    if (r.findings.length === 0) return;
    for (const kind of new Set(r.findings.map(findingKind).filter((k) => k !== ''))) this.findings.set(kind, (this.findings.get(kind) ?? 0) + 1);
  }

  result(): OperationsReport['mail'] {
    const rows = DIRECTIONS.map((direction): MailRow => {
      const d = this.dirs.get(direction);
      const outcomes = d?.outcomes ?? zeroOutcomes();
      return {
        direction,
        messages: d?.keys.size ?? 0,
        bytes: d?.bytes ?? 0,
        outcomes,
        recipients: OUTCOMES.filter((o) => o !== 'deferred').reduce((n, o) => n + outcomes[o], 0),
      };
    });
    const refusals = [...this.refusals.values()]
      .sort((a, b) => b.count - a.count || (a.code ?? 0) - (b.code ?? 0) || (a.status ?? '').localeCompare(b.status ?? ''))
      .slice(0, MAX_REFUSALS)
      .map(({ lastAt: _lastAt, ...x }) => x);
    const findings = [...this.findings].map(([finding, count]) => ({ finding, count })).sort((a, b) => b.count - a.count || a.finding.localeCompare(b.finding));
    return { rows, senders: this.senders.size, inboundClients: this.clients.size, refusals, findings };
  }
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
    /** The most frequent refusals, bounces and deferrals (at most 20) by outcome, reply code and status code. */
    refusals: Refusal[];
    /** Policy and sender-authentication findings by kind: rows (recipients) that carry one. */
    findings: Array<{ finding: string; count: number }>;
  };
  /** The send log's oldest row is later than the period's start (a new server, a restore): mail figures only from then. */
  sendLogFrom: Date | null;
  signIns: {
    rows: Array<{ protocol: string; ok: number; failed: number; accounts: number }>;
    signedInAccounts: number;
  };
  /** Per audit action; `automatic` of them by the server's own jobs (inactive accounts suspended and removed, scheduled backups). */
  administration: OperationsSummary['audit'];
  /** As the report was made. */
  accounts: {
    /** Deleted accounts stay on record (their addresses are never reissued); `deletedWithData`: those whose mail is not purged yet. */
    byState: Record<Account['state'], number>;
    deletedWithData: number;
    /** Active accounts per kind. */
    activeByKind: Record<Account['kind'], number>;
    /** Active personal accounts and those with a second factor (TOTP or SMS). */
    activePeople: number;
    twoFactor: number;
  };
  storage: {
    /** The mail of the accounts not deleted (against their quotas). */
    usedBytes: number;
    /** The mail of deleted accounts not purged yet: still on disk. */
    deletedBytes: number;
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
  mail: OperationsReport['mail'];
  accounts: readonly Account[];
  quota: QuotaDefaults;
  queue: readonly QueueItem[];
}

const zeroOutcomes = (): Record<SendOutcome, number> => ({ delivered: 0, queued: 0, deferred: 0, bounced: 0, rejected: 0, quarantined: 0 });

export function buildOperationsReport(input: OperationsReportInput): OperationsReport {
  const s = input.summary;
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
  let deletedWithData = 0;
  let deletedBytes = 0;
  for (const a of input.accounts) {
    byState[a.state]++;
    const used = s.usage.get(a.id) ?? 0;
    if (a.state === 'active') {
      activeByKind[a.kind]++;
      if (a.kind === 'personal') {
        activePeople++;
        if (a.totpSecret !== null || a.smsTwoFactor) twoFactor++;
      }
    }
    if (a.state === 'deleted') {
      if (used > 0) deletedWithData++;
      deletedBytes += used;
      continue;
    }
    usedBytes += used;
    const quota = effectiveQuotaBytes(a, input.quota);
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
    mail: input.mail,
    sendLogFrom: s.oldestSendLogAt !== null && s.oldestSendLogAt > input.period.from ? s.oldestSendLogAt : null,
    signIns: { rows: signIns, signedInAccounts: s.signedInAccounts },
    administration: s.audit,
    accounts: { byState, deletedWithData, activeByKind, activePeople, twoFactor },
    storage: { usedBytes, deletedBytes, quotaBytes, nearFull, full },
    queue: { items: input.queue.length, recipients: input.queue.reduce((n, q) => n + q.recipients.length, 0), oldest },
    backups: { inPeriod: s.audit.find((a) => a.action === 'backup.create')?.count ?? 0, last: s.lastBackupAt },
  };
}

/** A size with the Vietnamese decimal comma ("1,5 GB"), as the Vietnamese line writes its numbers. */
const vnBytes = (n: number): string => formatBytes(n).replace('.', ',');
/** The last day of a whole period (its end is exclusive), or the time it was cut at. */
const periodEnd = (p: QuarterPeriod): string => (p.partial ? vietnamTime(p.to) : vnDate(new Date(p.to.getTime() - 1)));

/** The report as text: Vietnamese first, the English under each line. */
export function operationsReportText(r: OperationsReport): string {
  const p = r.period;
  const out: string[] = [
    `BÁO CÁO đánh giá kết quả hoạt động của hệ thống Thư điện tử công vụ quý ${p.quarter} năm ${p.year}`,
    `Report on the operation of the official e-mail system, Q${p.quarter} ${p.year}`,
    `${r.organization} — ${r.hostname}`,
    `Kỳ số liệu / Period: ${vnDate(p.from)} – ${periodEnd(p)}${p.partial ? ' (chưa hết quý / quarter not over)' : ''}`,
  ];
  if (r.sendLogFrom) {
    out.push(
      `Lưu ý: nhật ký gửi nhận chỉ có từ ${vietnamTime(r.sendLogFrom)}; số liệu thư trước thời điểm đó không có.`,
      `Note: the send log begins ${vietnamTime(r.sendLogFrom)}; there are no mail figures before then.`,
    );
  }
  out.push('', '1. Thư điện tử (theo nhật ký gửi nhận) / Mail (from the send log)');
  const line = (vi: string, enText: string): void => {
    out.push(`- ${vi}`, `  ${enText}`);
  };
  for (const m of r.mail.rows) {
    const [vi, e] = DIRECTION_LABEL[m.direction];
    const parts = OUTCOMES.filter((o) => m.outcomes[o] > 0);
    line(
      `${vi}: ${vnCount(m.messages)} thư, ${vnBytes(m.bytes)}, ${vnCount(m.recipients)} lượt người nhận${parts.length ? ` (${parts.map((o) => `${outcomeLabel(m.direction, o)[0]} ${vnCount(m.outcomes[o])}`).join(', ')})` : ''}`,
      `${e}: ${many(m.messages, 'message')}, ${formatBytes(m.bytes)}, ${many(m.recipients, 'recipient')}${parts.length ? ` (${parts.map((o) => `${outcomeLabel(m.direction, o)[1]} ${enCount(m.outcomes[o])}`).join(', ')})` : ''}`,
    );
  }
  line(`Tài khoản đã gửi thư: ${vnCount(r.mail.senders)}; máy chủ bên ngoài đã gửi đến (địa chỉ IP): ${vnCount(r.mail.inboundClients)}`, `Accounts that sent mail: ${enCount(r.mail.senders)}; outside servers that delivered to us (IP addresses): ${enCount(r.mail.inboundClients)}`);
  out.push('', '2. Thư bị từ chối, trả lại, hoãn — lý do thường gặp nhất / Refused, bounced and deferred mail — the most frequent reasons');
  if (r.mail.refusals.length === 0) line('Không có.', 'None.');
  for (const x of r.mail.refusals) {
    const code = [x.code, x.status].filter((c) => c !== null).join(' ');
    out.push(`- ${vnCount(x.count)} × ${OUTCOME_LABEL[x.outcome][0]} ${code} / ${enCount(x.count)} × ${OUTCOME_LABEL[x.outcome][1]} ${code}`.replace(/ +/g, ' ').trim());
    if (x.example !== '') out.push(`  ví dụ / e.g.: ${x.example}`);
  }
  out.push('', '3. Kiểm soát nội dung và xác thực người gửi (số lượt người nhận) / Content policy and sender authentication (recipients)');
  if (r.mail.findings.length === 0) line('Không có phát hiện nào.', 'No findings.');
  for (const f of r.mail.findings) out.push(`- ${vnCount(f.count)} × ${f.finding}`);
  out.push('', '4. Đăng nhập (vào tài khoản có thật) / Sign-ins (to existing accounts)');
  if (r.signIns.rows.length === 0) line('Không có lượt đăng nhập nào.', 'No sign-ins.');
  for (const x of r.signIns.rows) {
    line(
      `${x.protocol.toUpperCase()}: ${vnCount(x.ok)} thành công (${vnCount(x.accounts)} tài khoản), ${vnCount(x.failed)} thất bại`,
      `${x.protocol.toUpperCase()}: ${enCount(x.ok)} successful (${many(x.accounts, 'account')}), ${enCount(x.failed)} failed`,
    );
  }
  line(`Tài khoản có đăng nhập trong kỳ: ${vnCount(r.signIns.signedInAccounts)}`, `Accounts that signed in during the period: ${enCount(r.signIns.signedInAccounts)}`);
  out.push('', '5. Quản trị trong kỳ (nhật ký quản trị) / Administration during the period (audit log)');
  if (r.administration.length === 0) line('Không có thao tác quản trị nào.', 'No administrative actions.');
  for (const a of r.administration) {
    const [vi, e] = actionLabel(a.action);
    const auto = a.automatic > 0 ? [` (tự động ${vnCount(a.automatic)})`, ` (automatic ${enCount(a.automatic)})`] : ['', ''];
    line(`${vi}: ${vnCount(a.count)}${auto[0]}`, `${e}: ${enCount(a.count)}${auto[1]}`);
  }
  const ac = r.accounts;
  const st = r.storage;
  out.push('', `6. Hiện trạng lúc lập báo cáo / As of the report: ${vietnamTime(r.generatedAt)}`);
  line(
    `Tài khoản: ${vnCount(ac.byState.active)} đang hoạt động (cá nhân ${vnCount(ac.activeByKind.personal)}, đơn vị ${vnCount(ac.activeByKind.unit)}, quản trị ${vnCount(ac.activeByKind.admin)}), ${vnCount(ac.byState.suspended)} tạm khóa, ${vnCount(ac.byState.deleted)} đã xóa (${vnCount(ac.deletedWithData)} còn dữ liệu chờ xóa hẳn)`,
    `Accounts: ${enCount(ac.byState.active)} active (personal ${enCount(ac.activeByKind.personal)}, unit ${enCount(ac.activeByKind.unit)}, admin ${enCount(ac.activeByKind.admin)}), ${enCount(ac.byState.suspended)} suspended, ${enCount(ac.byState.deleted)} deleted (${enCount(ac.deletedWithData)} with mail awaiting purge)`,
  );
  const tf = pct(ac.twoFactor, ac.activePeople);
  line(`Xác thực hai yếu tố: ${vnCount(ac.twoFactor)}/${vnCount(ac.activePeople)} tài khoản cá nhân đang hoạt động (${vnPct(tf)})`, `Two-factor sign-in: ${enCount(ac.twoFactor)}/${enCount(ac.activePeople)} active personal accounts (${enPct(tf)})`);
  const used = pct(st.usedBytes, st.quotaBytes);
  line(
    `Dung lượng: ${vnBytes(st.usedBytes)} / ${vnBytes(st.quotaBytes)} hạn mức (${vnPct(used)}); ${vnCount(st.nearFull)} hộp thư từ 90% hạn mức, ${vnCount(st.full)} hộp thư đầy; thư của tài khoản đã xóa chờ xóa hẳn: ${vnBytes(st.deletedBytes)}`,
    `Storage: ${formatBytes(st.usedBytes)} of ${formatBytes(st.quotaBytes)} in quotas (${enPct(used)}); ${many(st.nearFull, 'mailbox', 'mailboxes')} at 90% of the quota or more, ${enCount(st.full)} full; mail of deleted accounts awaiting purge: ${formatBytes(st.deletedBytes)}`,
  );
  line(
    `Hàng đợi gửi đi: ${vnCount(r.queue.items)} thư, ${vnCount(r.queue.recipients)} người nhận${r.queue.oldest ? `, cũ nhất từ ${vietnamTime(r.queue.oldest)}` : ''}`,
    `Outbound queue: ${many(r.queue.items, 'message')}, ${many(r.queue.recipients, 'recipient')}${r.queue.oldest ? `, the oldest since ${vietnamTime(r.queue.oldest)}` : ''}`,
  );
  line(
    `Sao lưu: ${vnCount(r.backups.inPeriod)} lần trong kỳ; lần gần nhất ${r.backups.last ? vietnamTime(r.backups.last) : 'chưa có'}`,
    `Backups: ${enCount(r.backups.inPeriod)} in the period; the last ${r.backups.last ? vietnamTime(r.backups.last) : 'none yet'}`,
  );
  out.push('', `Lập lúc / Made at: ${vietnamTime(r.generatedAt)}`);
  return out.join('\n') + '\n';
}

export const OPERATIONS_REPORT_CSV_HEADER = ['Mục / Section', 'Chỉ tiêu / Item', 'Số liệu / Figure', 'Đơn vị tính / Unit'] as const;

const STATE_LABEL: Readonly<Record<Account['state'], readonly [string, string]>> = {
  active: ['đang hoạt động', 'active'],
  suspended: ['tạm khóa', 'suspended'],
  deleted: ['đã xóa', 'deleted'],
};
const KIND_LABEL: Readonly<Record<Account['kind'], readonly [string, string]>> = {
  personal: ['cá nhân', 'personal'],
  unit: ['đơn vị', 'unit'],
  admin: ['quản trị', 'admin'],
};

/** One figure a row (section, item, figure, unit), Excel-ready (lib/csv.ts). */
export function operationsReportCsv(r: OperationsReport): string {
  const rows: CsvCell[][] = [[...OPERATIONS_REPORT_CSV_HEADER]];
  const add = (section: string, item: string, figure: number | string, unit: string): void => {
    rows.push([section, item, typeof figure === 'number' ? String(figure) : figure, unit]);
  };
  const p = r.period;
  const period = 'Kỳ / Period';
  add(period, 'Quý / Quarter', `${p.year}-Q${p.quarter}`, '');
  add(period, 'Từ ngày / From (UTC+7)', vnDate(p.from), '');
  add(period, p.partial ? 'Đến lúc / Until (UTC+7, chưa hết quý / quarter not over)' : 'Đến hết ngày / Through (UTC+7)', p.partial ? vietnamMinutes(p.to) : periodEnd(p), '');
  if (r.sendLogFrom) add(period, 'Nhật ký gửi nhận có từ / Send log begins (UTC+7)', vietnamMinutes(r.sendLogFrom), '');
  const mail = 'Thư / Mail';
  for (const m of r.mail.rows) {
    const [vi, e] = DIRECTION_LABEL[m.direction];
    add(mail, `${vi} / ${e}`, m.messages, 'thư / messages');
    add(mail, `${vi} / ${e}`, m.bytes, 'byte / bytes');
    add(mail, `${vi} / ${e}`, m.recipients, 'người nhận / recipients');
    for (const o of OUTCOMES) {
      const [ovi, oen] = outcomeLabel(m.direction, o);
      add(mail, `${vi}: ${ovi} / ${e}: ${oen}`, m.outcomes[o], o === 'deferred' ? 'lượt / attempts' : 'người nhận / recipients');
    }
  }
  add(mail, 'Tài khoản đã gửi thư / Accounts that sent mail', r.mail.senders, 'tài khoản / accounts');
  add(mail, 'Máy chủ bên ngoài đã gửi đến / Outside servers that delivered to us', r.mail.inboundClients, 'địa chỉ IP / IP addresses');
  for (const x of r.mail.refusals) {
    const code = [x.code, x.status].filter((c) => c !== null).join(' ');
    add('Lý do từ chối / Refusal reasons', `${OUTCOME_LABEL[x.outcome][0]} / ${OUTCOME_LABEL[x.outcome][1]} ${code}: ${x.example}`.trim(), x.count, x.outcome === 'deferred' ? 'lượt / attempts' : 'người nhận / recipients');
  }
  for (const f of r.mail.findings) add('Kiểm soát nội dung / Content policy', f.finding, f.count, 'người nhận / recipients');
  const signIns = 'Đăng nhập / Sign-ins';
  for (const x of r.signIns.rows) {
    const proto = x.protocol.toUpperCase();
    add(signIns, `${proto}: thành công / successful`, x.ok, 'lượt / sign-ins');
    add(signIns, `${proto}: thất bại / failed`, x.failed, 'lượt / sign-ins');
    add(signIns, `${proto}: tài khoản / accounts`, x.accounts, 'tài khoản / accounts');
  }
  add(signIns, 'Tài khoản có đăng nhập / Accounts that signed in', r.signIns.signedInAccounts, 'tài khoản / accounts');
  for (const a of r.administration) {
    const [vi, e] = actionLabel(a.action);
    const item = vi === e ? a.action : `${vi} / ${e} (${a.action})`;
    add('Quản trị / Administration', item, a.count, 'lần / times');
    if (a.automatic > 0) add('Quản trị / Administration', `${item}: tự động / automatic`, a.automatic, 'lần / times');
  }
  const now = 'Hiện trạng / As of the report';
  const accts = 'tài khoản / accounts';
  for (const st of ['active', 'suspended', 'deleted'] as const) add(now, `Tài khoản ${STATE_LABEL[st][0]} / Accounts ${STATE_LABEL[st][1]}`, r.accounts.byState[st], accts);
  add(now, 'Tài khoản đã xóa còn dữ liệu / Deleted accounts with mail awaiting purge', r.accounts.deletedWithData, accts);
  for (const k of ['personal', 'unit', 'admin'] as const) add(now, `Đang hoạt động: ${KIND_LABEL[k][0]} / Active: ${KIND_LABEL[k][1]}`, r.accounts.activeByKind[k], accts);
  add(now, 'Tài khoản cá nhân đang hoạt động / Active personal accounts', r.accounts.activePeople, accts);
  add(now, 'trong đó có xác thực hai yếu tố / of them with two-factor sign-in', r.accounts.twoFactor, accts);
  add(now, 'Dung lượng đã dùng / Storage used', r.storage.usedBytes, 'byte / bytes');
  add(now, 'Tổng hạn mức / Quotas in all', r.storage.quotaBytes, 'byte / bytes');
  add(now, 'Thư của tài khoản đã xóa chờ xóa hẳn / Mail of deleted accounts awaiting purge', r.storage.deletedBytes, 'byte / bytes');
  add(now, 'Hộp thư từ 90% hạn mức / Mailboxes at 90% or more', r.storage.nearFull, 'hộp thư / mailboxes');
  add(now, 'Hộp thư đầy / Full mailboxes', r.storage.full, 'hộp thư / mailboxes');
  add(now, 'Hàng đợi gửi đi / Outbound queue', r.queue.items, 'thư / messages');
  add(now, 'Hàng đợi gửi đi: người nhận / Outbound queue: recipients', r.queue.recipients, 'người nhận / recipients');
  add(now, 'Hàng đợi: thư cũ nhất từ / Queue: the oldest since (UTC+7)', r.queue.oldest ? vietnamMinutes(r.queue.oldest) : '', '');
  add(now, 'Sao lưu trong kỳ / Backups in the period', r.backups.inPeriod, 'lần / times');
  add(now, 'Sao lưu gần nhất / Last backup (UTC+7)', r.backups.last ? vietnamMinutes(r.backups.last) : '', '');
  return csvDocument(rows);
}

/**
 * `{ version: 1, organization, hostname, year, quarter, from, to, partial, sendLogFrom, generatedAt, mail, signIns, administration, accounts, storage, queue, backups }`
 * (ISO 8601 times; C1 controls, line separators and bidirectional overrides escaped as \uXXXX, so
 * nothing an outside server wrote in a reply can drive a terminal that shows the JSON).
 */
export function operationsReportJson(r: OperationsReport): string {
  const p = r.period;
  const json = JSON.stringify(
    {
      version: 1,
      organization: r.organization,
      hostname: r.hostname,
      year: p.year,
      quarter: p.quarter,
      from: p.from.toISOString(),
      to: p.to.toISOString(),
      partial: p.partial,
      sendLogFrom: r.sendLogFrom?.toISOString() ?? null,
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
  );
  return json.replace(/[\u0080-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) + '\n';
}
