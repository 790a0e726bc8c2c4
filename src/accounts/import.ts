/**
 * R-ACC-1: carry out a unit's written request form (NA Phụ lục 1) row by row, all or nothing.
 *
 * Columns: STT, Họ và tên, Chức vụ, Phòng/ban/đơn vị, Số điện thoại, Nội dung đề nghị
 * (cấp mới | tạm khóa | xóa, the whole cell: see REQUEST_KINDS), optionally an address column
 * (Email / Địa chỉ thư) that names the account for tạm khóa / xóa (a full address or a login name
 * alone). Headers are matched without diacritics, case or spacing; title lines above the header
 * are skipped. UTF-8 with or without BOM (UTF-16 with a BOM too), comma, semicolon or tab
 * separated (the header line's separator); other encodings are refused with a hint.
 * The unit column holds a unit code/address or a unit name.
 *
 * Every row is carried out inside one store transaction; if any row fails, the transaction is
 * rolled back and every failing row's reason is reported. A dry run does the same and always rolls
 * back, so it reports exactly what a real run would do (namesakes within the file included).
 */
import { parse } from 'csv-parse/sync';
import { generatePassword, hashPassword } from '../auth/passwords.js';
import type { Config } from '../config/schema.js';
import { MailError, bi, isMailError } from '../lib/errors.js';
import { foldVietnamese } from '../mail/fold.js';
import type { Account, Store, Unit } from '../store/port.js';
import { foldName } from './naming.js';
import type { AccountService, Actor } from './service.js';

export type RequestAction = 'create' | 'suspend' | 'delete';

export interface RequestRow {
  /** 1-based line number in the file (for messages). */
  line: number;
  stt: string;
  fullName: string;
  title: string | null;
  unit: string;
  phone: string | null;
  /** null when the cell could not be read (reported as the row's problem). */
  action: RequestAction | null;
  actionText: string;
  address: string | null;
}

export type RowOutcome =
  | { row: RequestRow; ok: true; action: RequestAction; address: string; oneTimePassword: string | null }
  | { row: RequestRow; ok: false; reason: string };

export interface ImportResult {
  /** true when the changes were committed. */
  applied: boolean;
  dryRun: boolean;
  outcomes: RowOutcome[];
}

type Column = 'stt' | 'name' | 'title' | 'unit' | 'phone' | 'action' | 'address';

function compact(s: string): string {
  return foldVietnamese(s).replace(/[^a-z0-9]/g, '');
}

function columnOf(header: string): Column | null {
  const h = compact(header);
  if (h === 'stt' || h === 'sott' || h === 'tt') return 'stt';
  if (h === 'hovaten' || h === 'hoten' || h === 'hotennguoidung') return 'name';
  if (h.startsWith('chucvu')) return 'title';
  if (h.startsWith('phong') || h.includes('donvi') || h === 'coquan') return 'unit';
  if (h.includes('dienthoai') || h === 'sdt') return 'phone';
  if (h.startsWith('noidung') || h === 'denghi') return 'action';
  if (h === 'email' || h.startsWith('diachi') || h.startsWith('taikhoan') || h.startsWith('hopthu')) return 'address';
  return null;
}

/**
 * The request kinds the form (NA Phụ lục 1: "cấp mới, tạm khóa hoặc xóa tài khoản thư điện tử
 * công vụ") uses, each alone or followed by "tài khoản" or "tài khoản thư điện tử công vụ". A cell
 * is compared whole (diacritics, case and runs of white space folded), never by its beginning:
 * "Xóa bỏ tạm khóa" (lift a suspension) must not read as "xóa", nor "Cấp mớii" as "cấp mới".
 * Anything else (restoring, "mở khóa", "khôi phục", a typo) is refused and the whole form with it.
 */
const REQUEST_KINDS: ReadonlyArray<readonly [RequestAction, string]> = [
  ['create', 'cấp mới'],
  ['suspend', 'tạm khóa'],
  ['delete', 'xóa'],
];
const REQUEST_SUFFIXES = ['', ' tài khoản', ' tài khoản thư điện tử công vụ'];

/** Diacritics removed, lower case, every run of white space one space, none at the ends. */
function foldRequest(text: string): string {
  return foldVietnamese(text).replace(/\s+/g, ' ').trim();
}

const REQUEST_WORDS: ReadonlyMap<string, RequestAction> = new Map(
  REQUEST_KINDS.flatMap(([action, words]) => REQUEST_SUFFIXES.map((suffix) => [foldRequest(words + suffix), action] as const)),
);

function actionOf(text: string): RequestAction | null {
  return REQUEST_WORDS.get(foldRequest(text)) ?? null;
}

/** The refusal of a request cell that is none of the accepted kinds. */
function unknownRequest(text: string): MailError {
  const words = REQUEST_KINDS.map(([, w]) => `"${w}"`).join(', ');
  return new MailError(
    'INVALID_INPUT',
    bi(
      `Nội dung đề nghị "${text}" không phải một trong: ${words} (có thể thêm "tài khoản" hoặc "tài khoản thư điện tử công vụ"); không thực hiện dòng nào`,
      `the request "${text}" is none of ${words} (create, suspend, delete; "tài khoản" or "tài khoản thư điện tử công vụ" may follow); no row was carried out`,
    ),
  );
}

/** The cells of one line split at `delimiter` outside double quotes (for finding the header only). */
function splitLine(line: string, delimiter: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (const ch of line) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && ch === delimiter) {
      cells.push(cell);
      cell = '';
    } else cell += ch;
  }
  cells.push(cell);
  return cells;
}

/**
 * The separator of the header line: the first line that, split at a comma, semicolon or tab, has
 * a "Họ và tên" cell (the split giving most cells when several do). A title line above it may hold
 * another separator ("Nghệ An, ngày 1 tháng 3 năm 2026" above a semicolon form saved by Excel in a
 * Vietnamese locale). Without such a line, the separator of the first line that has one (the
 * header is then reported missing).
 */
function detectDelimiter(text: string): string {
  const lines = text.split(/\r?\n/);
  for (const line of lines) {
    let best: { delimiter: string; cells: number } | null = null;
    for (const delimiter of [',', ';', '\t']) {
      const cells = splitLine(line, delimiter);
      if (cells.length > 1 && cells.some((cell) => columnOf(cell) === 'name') && (best === null || cells.length > best.cells)) {
        best = { delimiter, cells: cells.length };
      }
    }
    if (best) return best.delimiter;
  }
  for (const line of lines) {
    const counts: Record<string, number> = { ',': 0, ';': 0, '\t': 0 };
    let quoted = false;
    for (const ch of line) {
      if (ch === '"') quoted = !quoted;
      else if (!quoted && ch in counts) counts[ch] = (counts[ch] ?? 0) + 1;
    }
    const best = Object.entries(counts).sort((x, y) => y[1] - x[1])[0];
    if (best && best[1] > 0) return best[0];
  }
  return ',';
}

/** UTF-8 (with or without BOM); UTF-16 with a BOM (Excel's "Unicode text"); anything else is refused. */
function decode(input: string | Buffer): string {
  if (typeof input === 'string') return input;
  if (input[0] === 0xff && input[1] === 0xfe) return new TextDecoder('utf-16le').decode(input.subarray(2));
  if (input[0] === 0xfe && input[1] === 0xff) return new TextDecoder('utf-16be').decode(input.subarray(2));
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(input);
  } catch {
    throw new MailError(
      'INVALID_INPUT',
      bi('Tệp không phải UTF-8: hãy lưu lại dạng "CSV UTF-8"', 'the file is not UTF-8: save it again as "CSV UTF-8"'),
    );
  }
}

/** Parse a request form. Throws INVALID_INPUT when the file or its header cannot be read. */
/** A request form's size at most: a unit's form holds tens of rows; the whole file is read at once and carried out in one transaction. */
export const MAX_FORM_BYTES = 2 * 1024 * 1024;
export const MAX_FORM_ROWS = 2000;

export function formTooLarge(): MailError {
  const mb = MAX_FORM_BYTES / 1024 / 1024;
  return new MailError('INVALID_INPUT', bi(`Tệp đề nghị lớn quá ${mb} MB: hãy chia thành nhiều tệp`, `the request form is over ${mb} MB: split it into several files`));
}

export function parseRequestCsv(input: string | Buffer): RequestRow[] {
  if (input.length > MAX_FORM_BYTES) throw formTooLarge();
  // One line ending throughout: with CRLF on some lines and LF on others, the parser takes the
  // first it meets as the record separator and a row ending in the other one silently joins the
  // next row's last field (a row lost, not refused).
  const text = decode(input).replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  let records: string[][];
  let lineNumbers: number[];
  try {
    const parsed = parse(text, { delimiter: detectDelimiter(text), bom: true, relax_column_count: true, skip_empty_lines: true, trim: true, info: true }) as unknown as Array<{
      record: string[];
      info: { lines: number };
    }>;
    records = parsed.map((p) => p.record);
    // info.lines is the line a record ends on (records spanning lines are rare in these forms).
    lineNumbers = parsed.map((p) => p.info.lines);
  } catch (e) {
    throw new MailError('INVALID_INPUT', bi(`Tệp CSV không đọc được: ${(e as Error).message}`, `the CSV file cannot be read: ${(e as Error).message}`));
  }
  const headerIndex = records.findIndex((r) => r.some((cell) => columnOf(cell) === 'name'));
  const header = records[headerIndex];
  if (headerIndex < 0 || !header) {
    throw new MailError('INVALID_INPUT', bi('Không thấy dòng tiêu đề có cột "Họ và tên"', 'no header line with a "Họ và tên" (full name) column'));
  }
  const index = new Map<Column, number>();
  header.forEach((cell, i) => {
    const c = columnOf(cell);
    if (c !== null && !index.has(c)) index.set(c, i);
  });
  const missing = (['name', 'unit', 'action'] as const).filter((c) => !index.has(c));
  if (missing.length > 0) {
    const names: Record<Column, string> = { stt: 'STT', name: 'Họ và tên', title: 'Chức vụ', unit: 'Phòng/ban/đơn vị', phone: 'Số điện thoại', action: 'Nội dung đề nghị', address: 'Email' };
    const list = missing.map((c) => names[c]).join(', ');
    throw new MailError('INVALID_INPUT', bi(`Thiếu cột: ${list}`, `missing column(s): ${list}`));
  }
  const rows: RequestRow[] = [];
  const required = (['name', 'unit', 'action'] as const).map((c) => index.get(c) as number);
  records.slice(headerIndex + 1).forEach((r, i) => {
    if (r.every((cell) => cell.trim() === '')) return;
    // A row of another shape than the header is a mistake in the form, never guessed at: cells
    // past the header's must be empty, and a short row must still reach every required column.
    const line = lineNumbers[headerIndex + 1 + i] ?? headerIndex + 2 + i;
    if (r.slice(header.length).some((cell) => cell.trim() !== '') || required.some((at) => at >= r.length)) {
      throw new MailError(
        'INVALID_INPUT',
        bi(`Dòng ${line}: có ${r.length} ô, dòng tiêu đề có ${header.length} ô; không thực hiện dòng nào`, `line ${line}: ${r.length} cells, the header has ${header.length}; no row was carried out`),
      );
    }
    const get = (c: Column): string => {
      const at = index.get(c);
      return at === undefined ? '' : (r[at] ?? '').trim().replace(/\s+/g, ' ');
    };
    const actionText = get('action');
    rows.push({
      line,
      stt: get('stt'),
      fullName: get('name'),
      title: get('title') || null,
      unit: get('unit'),
      phone: get('phone') || null,
      action: actionOf(actionText),
      actionText,
      address: get('address') || null,
    });
  });
  return rows;
}

class Rollback extends Error {}

export interface ImportDeps {
  store: Store;
  service: AccountService;
  config: Readonly<Config>;
}

/** Carry out a parsed request form: all rows or none. */
export async function importRequests(
  deps: ImportDeps,
  rows: RequestRow[],
  opts: { actor: Actor; ref?: string | null; dryRun?: boolean },
): Promise<ImportResult> {
  const { store, service, config } = deps;
  const dryRun = opts.dryRun ?? false;
  const ref = opts.ref ?? null;
  if (rows.length === 0) {
    throw new MailError('INVALID_INPUT', bi('Tệp không có dòng đề nghị nào', 'the file has no request rows'));
  }
  if (rows.length > MAX_FORM_ROWS) {
    throw new MailError('INVALID_INPUT', bi(`Tệp có ${rows.length} dòng đề nghị, quá ${MAX_FORM_ROWS}: hãy chia thành nhiều tệp`, `the file has ${rows.length} request rows, over ${MAX_FORM_ROWS}: split it into several files`));
  }

  // Hash the one-time passwords before the transaction: argon2 is slow on purpose.
  const prehashed = new Map<RequestRow, { password: string; hash: string }>();
  for (const row of rows) {
    if (row.action !== 'create') continue;
    const password = generatePassword(config.passwords, false);
    prehashed.set(row, { password, hash: dryRun ? '!dry-run' : '' });
  }
  if (!dryRun) {
    await Promise.all([...prehashed.values()].map(async (p) => (p.hash = await hashPassword(p.password))));
  }

  const outcomes: RowOutcome[] = [];
  let applied = false;
  try {
    await store.batch(async (tx) => {
      const svc = service.withStore(tx);
      /**
       * A row typed (or pasted) twice would make two accounts: a row whose every cell reads as an
       * earlier one's (STT, name, title, unit, phone, request, e-mail; diacritics, case and
       * spacing folded) is refused, naming that line. Namesakes differ in some cell (their STT,
       * title, phone or e-mail).
       */
      const seen = new Map<string, number>();
      for (const row of rows) {
        const fold = (v: string | null): string => foldName(v ?? '');
        const key = JSON.stringify([row.stt, fold(row.fullName), fold(row.title), fold(row.unit), (row.phone ?? '').replace(/\D/g, ''), row.action ?? fold(row.actionText), (row.address ?? '').toLowerCase()]);
        const first = seen.get(key);
        if (first !== undefined) {
          outcomes.push({
            row,
            ok: false,
            reason: bi(
              `trùng hoàn toàn dòng ${first}: nếu là hai người trùng tên, hãy ghi số điện thoại hoặc email riêng của từng người`,
              `the same as line ${first} in every cell: if these are two namesakes, give each their own phone or e-mail`,
            ),
          });
          continue;
        }
        seen.set(key, row.line);
        try {
          outcomes.push(await applyRow(svc, tx, row, opts.actor, ref, prehashed.get(row) ?? null));
        } catch (e) {
          if (!isMailError(e) || e.code === 'INTERNAL' || e.code === 'TEMPORARY') throw e;
          outcomes.push({ row, ok: false, reason: e.message });
        }
      }
      if (dryRun || outcomes.some((o) => !o.ok)) throw new Rollback();
      await tx.audit({ actor: opts.actor.name, action: 'import.requests', target: `${rows.length} rows`, ref, details: { rows: rows.length } });
    });
    applied = true;
  } catch (e) {
    if (!(e instanceof Rollback)) throw e;
  }
  return { applied, dryRun, outcomes };
}

async function applyRow(
  svc: AccountService,
  tx: Store,
  row: RequestRow,
  actor: Actor,
  ref: string | null,
  prehashed: { password: string; hash: string } | null,
): Promise<RowOutcome> {
  if (row.action === null) throw unknownRequest(row.actionText);
  if (row.fullName === '') throw new MailError('INVALID_INPUT', bi('Thiếu họ và tên', 'the full name is missing'));
  if (row.unit === '') throw new MailError('INVALID_INPUT', bi('Thiếu phòng/ban/đơn vị', 'the unit is missing'));
  const unit = await svc.findUnit(row.unit);
  switch (row.action) {
    case 'create': {
      const r = await svc.addAccount(
        { fullName: row.fullName, unit: unit.address, title: row.title, phone: row.phone, address: row.address, kind: 'personal' },
        actor,
        { ref, prehashed },
      );
      return { row, ok: true, action: 'create', address: r.account.address, oneTimePassword: r.oneTimePassword };
    }
    case 'suspend': {
      const account = await target(tx, row, unit);
      await svc.suspend(account.address, bi('Theo văn bản đề nghị', 'on written request'), actor, ref);
      return { row, ok: true, action: 'suspend', address: account.address, oneTimePassword: null };
    }
    case 'delete': {
      const account = await target(tx, row, unit);
      await svc.delete(account.address, bi('Theo văn bản đề nghị', 'on written request'), actor, ref);
      return { row, ok: true, action: 'delete', address: account.address, oneTimePassword: null };
    }
  }
}

/**
 * The account an Email cell names: a full address, or a login name alone (R-ADDR-6, as sign-in
 * takes it and as a cấp mới row's Email is read) when one account has that local part (deleted
 * accounts count only when no other has it). A login name that several domains' accounts share is
 * refused with their addresses, never guessed at.
 */
async function byAddress(tx: Store, written: string): Promise<Account> {
  const key = written.trim().toLowerCase();
  const none = () => new MailError('NOT_FOUND', bi(`Không có tài khoản ${written}`, `no account ${written}`));
  if (key.includes('@')) {
    const a = await tx.getAccountByAddress(key);
    if (!a) throw none();
    return a;
  }
  const found = key === '' ? [] : await tx.findAccountsByLocalPart(key);
  const live = found.filter((a) => a.state !== 'deleted');
  const pool = live.length > 0 ? live : found;
  if (pool.length === 1 && pool[0]) return pool[0];
  if (pool.length === 0) throw none();
  const list = pool.map((a) => a.address).join(', ');
  throw new MailError(
    'INVALID_INPUT',
    bi(`Tên đăng nhập "${written}" ứng với ${pool.length} tài khoản (${list}): ghi đủ địa chỉ thư vào cột Email`, `the login name "${written}" matches ${pool.length} accounts (${list}): put the full address in the Email column`),
  );
}

/**
 * The account a tạm khóa / xóa row means: its address column, else the one namesake in the unit.
 * An address whose account bears another name than the row, or belongs to another unit than the
 * row's, is refused, never guessed at: a typo in any cell must not suspend or delete someone
 * else, and one unit's form must not reach another unit's staff (names compared as the namesake
 * search does: without diacritics, case or extra spaces).
 */
async function target(tx: Store, row: RequestRow, unit: Unit): Promise<Account> {
  const a = await named(tx, row, unit);
  // The form is for staff accounts (NA Phụ lục 1): a unit mailbox passes to a new clerk (R-ACC-6)
  // and an administrator is suspended or removed by a system administrator, never by a form row.
  if (a.kind !== 'personal' || a.role !== 'none') {
    const unitMailbox = a.kind === 'unit';
    const vi = unitMailbox ? 'hộp thư đơn vị' : 'tài khoản quản trị';
    const en = unitMailbox ? 'a unit mailbox' : 'an administrator account';
    throw new MailError(
      'PERMISSION_DENIED',
      bi(
        `${a.address} là ${vi}: văn bản đề nghị chỉ tạm khóa hoặc xóa tài khoản của cán bộ; quản trị hệ thống làm việc này bằng lệnh account`,
        `${a.address} is ${en}: a request form only suspends or deletes staff accounts; a system administrator does this with the account command`,
      ),
    );
  }
  return a;
}

async function named(tx: Store, row: RequestRow, unit: Unit): Promise<Account> {
  const unitId = unit.id;
  if (row.address) {
    const a = await byAddress(tx, row.address);
    if (foldName(a.fullName) !== foldName(row.fullName)) {
      throw new MailError(
        'INVALID_INPUT',
        bi(
          `Tài khoản ${a.address} là của "${a.fullName}", không phải "${row.fullName}": sửa họ và tên hoặc địa chỉ thư`,
          `the account ${a.address} is "${a.fullName}", not "${row.fullName}": correct the name or the address`,
        ),
      );
    }
    if (a.unitId !== unitId) {
      const other = a.unitId === null ? null : await tx.getUnit(a.unitId);
      const where = other ? `"${other.name}" (${other.address})` : null;
      throw new MailError(
        'INVALID_INPUT',
        bi(
          `Tài khoản ${a.address} thuộc ${where ? `đơn vị ${where}` : 'không đơn vị nào'}, không phải "${unit.name}" (${unit.address}): sửa cột đơn vị hoặc địa chỉ thư`,
          `the account ${a.address} belongs to ${where ? `the unit ${where}` : 'no unit'}, not "${unit.name}" (${unit.address}): correct the unit or the address`,
        ),
      );
    }
    return a;
  }
  const name = foldName(row.fullName);
  const matches = (await tx.listAccounts({ unitId })).filter((a) => a.state !== 'deleted' && foldName(a.fullName) === name);
  if (matches.length === 1 && matches[0]) return matches[0];
  if (matches.length === 0) {
    throw new MailError('NOT_FOUND', bi(`Đơn vị không có tài khoản nào tên "${row.fullName}"`, `no account named "${row.fullName}" in the unit`));
  }
  throw new MailError(
    'INVALID_INPUT',
    bi(
      `Có ${matches.length} tài khoản tên "${row.fullName}" (${matches.map((a) => a.address).join(', ')}): ghi địa chỉ thư vào cột Email`,
      `${matches.length} accounts are named "${row.fullName}" (${matches.map((a) => a.address).join(', ')}): put the address in an Email column`,
    ),
  );
}

/** One line per row for the CLI (bilingual). */
export function describeOutcome(o: RowOutcome, dryRun: boolean): string {
  const who = `${bi('Dòng', 'line')} ${o.row.line}${o.row.stt ? ` (STT ${o.row.stt})` : ''}, ${o.row.fullName}`;
  if (!o.ok) return `${who}: ${bi('LỖI', 'ERROR')}: ${o.reason}`;
  const a = o.address;
  switch (o.action) {
    case 'create':
      return dryRun
        ? `${who}: ${bi(`sẽ cấp mới ${a}`, `would create ${a}`)}`
        : `${who}: ${bi(`đã cấp ${a}`, `created ${a}`)}; ${bi('mật khẩu dùng một lần', 'one-time password')}: ${o.oneTimePassword ?? ''}`;
    case 'suspend':
      return `${who}: ${dryRun ? bi(`sẽ tạm khóa ${a}`, `would suspend ${a}`) : bi(`đã tạm khóa ${a}`, `suspended ${a}`)}`;
    case 'delete':
      return `${who}: ${dryRun ? bi(`sẽ xóa ${a}`, `would delete ${a}`) : bi(`đã xóa ${a}`, `deleted ${a}`)}`;
  }
}
