/**
 * Archive inspection, bounded: entries, depth, expanded bytes, ratio and time (the limits in
 * config.policy.archive*). The pipeline runs it in a child process (archive/pool.ts: a child
 * over its time is killed); the code itself is also cooperative for the in-process
 * fallback: it yields between members (setImmediate), checks its deadline between members and
 * every 64 KiB of input of large members, and small members (≤ 256 KiB compressed) inflate in
 * one call into a buffer of their declared size + 1 byte.
 * Any limit hit is reported as `unscannable` ("cannot be checked"), never as clean.
 */
import { setImmediate as yieldNow } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import { executableExtension, extensionOf } from '../names.js';
import { hasZipEnd, SNIFF_BYTES, sniffArchive, sniffExecutable, sniffMessage, type ArchiveKind, type ExecutableKind } from '../sniff.js';
import { readRar4, readRar5 } from './rar.js';
import { read7z } from './sevenzip.js';
import { readTar } from './tar.js';
import { ArchiveLimitError, extractEntry, readZipDirectory, type InflateBudget } from './zip.js';
import { trimEndWhere } from '../../lib/regex.js';

export interface InspectLimits {
  maxDepth: number;
  maxEntries: number;
  maxExpandedBytes: number;
  maxRatio: number;
  timeMs: number;
}

export interface InspectReport {
  /** Members (or the file itself) that are executables: path inside the archive tree, name, and why. */
  executables: Array<{ path: string; name: string; why: 'name' | ExecutableKind }>;
  /** Encrypted archives found (the file itself or nested ones). */
  encrypted: Array<{ path: string; format: string }>;
  /** Set when a limit was hit or the archive is malformed: the content could not be checked. */
  unscannable: string | null;
  /** Member names seen (all levels), for the log and tests. */
  members: string[];
  /**
   * Members that are messages (an .eml by name or by content): their bytes, for the scan to open
   * as attached messages (scan.ts); extracted within the expansion budget.
   */
  messages: Array<{ path: string; bytes: Uint8Array }>;
}

const RAR5_SIG = Buffer.from([0x52, 0x61, 0x72, 0x21, 0x1a, 0x07, 0x01, 0x00]);
const ARCHIVE_EXT: Record<string, ArchiveKind> = {
  zip: 'zip',
  rar: 'rar4',
  '7z': '7z',
  tar: 'tar',
  gz: 'gzip',
  tgz: 'gzip',
  bz2: 'bzip2',
  tbz: 'bzip2',
  tbz2: 'bzip2',
  xz: 'xz',
  txz: 'xz',
};

/** Is `name` an archive's (or compressed file's) name, whatever its content? */
export function isArchiveName(name: string): boolean {
  return ARCHIVE_EXT[extensionOf(name)] !== undefined;
}

export function emptyReport(): InspectReport {
  return { executables: [], encrypted: [], unscannable: null, members: [], messages: [] };
}

/**
 * Inspect one file (an attachment's decoded bytes) and, if it is an archive, its members.
 * `extensions` is config.policy.executableExtensions.
 */
export async function inspectFile(bytes: Buffer, name: string, extensions: ReadonlySet<string>, limits: InspectLimits, report = emptyReport()): Promise<InspectReport> {
  const budget: InflateBudget = { remaining: limits.maxExpandedBytes, deadline: Date.now() + limits.timeMs };
  try {
    await visit(bytes, name, name, 0, extensions, limits, budget, report);
  } catch (e) {
    if (e instanceof ArchiveLimitError) report.unscannable ??= `${name}: ${e.message}`;
    else report.unscannable ??= `${name}: ${(e as Error).message}`;
  }
  return report;
}

async function visit(
  bytes: Buffer,
  name: string,
  path: string,
  depth: number,
  extensions: ReadonlySet<string>,
  limits: InspectLimits,
  budget: InflateBudget,
  report: InspectReport,
  nameChecked = false,
): Promise<void> {
  const ext = nameChecked ? extensionOf(name) : checkName(name, path, extensions, report);
  if (bytes.length === 0) return; // a name alone (other names of a part, attached messages)
  const kind = sniffExecutable(bytes.subarray(0, SNIFF_BYTES));
  if (kind) report.executables.push({ path, name, why: kind });
  const archive = sniffArchive(bytes) ?? (ext === 'rar' && bytes.includes(RAR5_SIG) ? 'rar5' : ARCHIVE_EXT[ext]) ?? (hasZipEnd(bytes) ? 'zip' : undefined);
  if (!archive) return;
  if (depth >= limits.maxDepth) throw new ArchiveLimitError(`${path}: archives nested deeper than ${limits.maxDepth}`);
  switch (archive) {
    case 'zip':
      return visitZip(bytes, path, depth, extensions, limits, budget, report);
    case 'rar4':
    case 'rar5': {
      const listing = archive === 'rar4' ? readRar4(bytes, limits.maxEntries) : readRar5(bytes, limits.maxEntries);
      if (listing.encrypted) report.encrypted.push({ path, format: listing.headersEncrypted ? `${archive}-headers` : archive });
      listMembers(listing.names, path, extensions, report);
      // Compressed RAR content is not decoded: an archive or a message among it cannot be checked.
      unreadableContainers(listing.packed, path);
      // Stored (uncompressed) members are read: sniffed, and opened when archives or messages.
      const w: Walk = { extensions, limits, budget, report };
      for (const m of listing.stored) {
        await member(m.data, [m.name], m.name, `${path}/${m.name}`, depth, w);
      }
      return;
    }
    case '7z': {
      // Headers 7z cannot unpack or parse throw (cannot be checked); encrypted headers are reported
      // as encrypted archives (names unreadable), as for RAR.
      const info = read7z(bytes, limits.maxEntries);
      if (info.encrypted) report.encrypted.push({ path, format: info.headersEncrypted ? '7z-headers' : '7z' });
      listMembers(info.names, path, extensions, report);
      // 7z content is not decoded: an archive or a message among its members cannot be checked
      // (encrypted ones are reported as such: their content cannot be read anyway).
      if (!info.encrypted) unreadableContainers(info.names, path);
      return;
    }
    case 'gzip':
      return visitGzip(bytes, name, path, depth, { extensions, limits, budget, report });
    case 'tar':
      return visitTar(bytes, path, depth, { extensions, limits, budget, report });
    case 'bzip2':
    case 'xz':
      // Node has no decoder for these: what they hold cannot be checked.
      throw new ArchiveLimitError(`${path}: ${archive}-compressed content cannot be decoded for checking`);
  }
}

/** What a walk through nested archives carries along. */
interface Walk {
  extensions: ReadonlySet<string>;
  limits: InspectLimits;
  budget: InflateBudget;
  report: InspectReport;
}

/** The name stored in a gzip header (FNAME), if any. */
function gzipStoredName(b: Buffer): string | null {
  if (b.length < 10 || !((b[3] as number) & 0x08)) return null;
  let at = 10;
  if ((b[3] as number) & 0x04) at += 2 + b.readUInt16LE(Math.min(at, b.length - 2));
  const end = b.indexOf(0, at);
  if (at >= b.length || end < 0) return null;
  return b.subarray(at, Math.min(end, at + 1024)).toString('latin1') || null;
}

/**
 * A gzip file: decompressed within the expansion budget and the ratio (past either, or corrupt:
 * cannot be checked), then inspected under the names it is saved as (the name without .gz,
 * .tgz as .tar, and the name stored in its header).
 */
async function visitGzip(bytes: Buffer, name: string, path: string, depth: number, w: Walk): Promise<void> {
  const { limits, budget } = w;
  const cap = Math.min(budget.remaining, Math.max(1024 * 1024, bytes.length * limits.maxRatio));
  let out: Buffer;
  try {
    out = gunzipSync(bytes, { maxOutputLength: Math.max(1, cap) });
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) throw new ArchiveLimitError(`${path}: expands past ${cap} bytes (expansion or ratio limit)`);
    throw new ArchiveLimitError(`${path}: gzip: ${(e as Error).message}`);
  }
  budget.remaining -= out.length;
  if (budget.remaining < 0) throw new ArchiveLimitError(`${path}: expands past ${limits.maxExpandedBytes} bytes`);
  if (Date.now() > budget.deadline) throw new ArchiveLimitError(`${path}: inspection time limit`);
  const base = trimEndWhere(name, (c) => c === '\\' || c === '/').split(/[\\/]/).pop() ?? '';
  const stripped = /\.tgz$/i.test(base) ? base.slice(0, -4) + '.tar' : base.replace(/\.gz$/i, '');
  const names = [...new Set([stripped, gzipStoredName(bytes)].filter((n): n is string => !!n))];
  listMembers(names, path, w.extensions, w.report);
  const asName = names.find((n) => isArchiveName(n)) ?? names[0] ?? '';
  await member(out, names, asName, `${path}/${asName}`, depth, w);
}

/** A tar archive: every member's names, content and nested archives, like a zip's. */
async function visitTar(bytes: Buffer, path: string, depth: number, w: Walk): Promise<void> {
  let n = 0;
  for (const m of readTar(bytes, w.limits.maxEntries)) {
    if (++n % 32 === 0) await yieldNow();
    if (Date.now() > w.budget.deadline) throw new ArchiveLimitError(`${path}: inspection time limit`);
    listMembers(m.names, path, w.extensions, w.report);
    const asName = m.names.find((x) => isArchiveName(x)) ?? m.names[0] ?? '';
    await member(m.data, m.names, asName, `${path}/${m.names[0] ?? ''}`, depth, w);
  }
}

/**
 * One member's whole content (its names already checked): an executable by its magic numbers,
 * a message (handed to the scan), or an archive opened one level deeper.
 */
async function member(data: Buffer, names: readonly string[], asName: string, memberPath: string, depth: number, w: Walk): Promise<void> {
  const { limits, budget, report } = w;
  if (data.length === 0) return;
  const head = data.subarray(0, SNIFF_BYTES);
  if (isMessage(names, head)) {
    budget.remaining -= data.length;
    if (budget.remaining < 0) throw new ArchiveLimitError(`${memberPath}: expands past ${limits.maxExpandedBytes} bytes`);
    report.messages.push({ path: memberPath, bytes: data });
  }
  if (sniffArchive(head) === null && !names.some((x) => isArchiveName(x))) {
    const kind = sniffExecutable(head);
    if (kind) report.executables.push({ path: memberPath, name: asName, why: kind });
    return;
  }
  if (depth + 1 >= limits.maxDepth) throw new ArchiveLimitError(`${memberPath}: archives nested deeper than ${limits.maxDepth}`);
  await visit(data, asName, memberPath, depth + 1, w.extensions, limits, budget, report, true);
}

/** Report `name` (at `path`) if its extension is an executable one; returns the extension. */
function checkName(name: string, path: string, extensions: ReadonlySet<string>, report: InspectReport): string {
  // Every name the file may be saved under (cut at a NUL, a colon replaced or dropped: names.ts).
  if (executableExtension(name, extensions) !== null) report.executables.push({ path, name, why: 'name' });
  return extensionOf(name);
}

/** Members whose content is not read (compressed RAR, 7z): one that is an archive or a message by name cannot be checked. */
function unreadableContainers(names: readonly string[], path: string): void {
  const hidden = names.find((n) => isArchiveName(n) || extensionOf(n) === 'eml');
  if (hidden !== undefined) throw new ArchiveLimitError(`${path}/${hidden}: compressed ${isArchiveName(hidden) ? 'archive' : 'message'} inside, not decoded for checking`);
}

/** A member that is a message (opened by the scan as an attached message): named .eml, or starting with header lines. */
function isMessage(names: readonly string[], head: Uint8Array): boolean {
  return names.some((n) => extensionOf(n) === 'eml') || sniffMessage(head);
}

/** Member names of an archive whose contents are not opened (RAR, 7z): listed, and checked by name. */
function listMembers(names: readonly string[], path: string, extensions: ReadonlySet<string>, report: InspectReport): void {
  for (const n of names) {
    report.members.push(`${path}/${n}`);
    checkName(n, `${path}/${n}`, extensions, report);
  }
}

async function visitZip(
  bytes: Buffer,
  path: string,
  depth: number,
  extensions: ReadonlySet<string>,
  limits: InspectLimits,
  budget: InflateBudget,
  report: InspectReport,
): Promise<void> {
  const dir = readZipDirectory(bytes, limits.maxEntries);
  const declared = dir.entries.reduce((s, e) => s + e.uncompressedSize, 0);
  if (declared > budget.remaining) throw new ArchiveLimitError(`${path}: declares ${declared} bytes expanded (limit ${limits.maxExpandedBytes})`);
  if (declared > 1024 * 1024 && declared / Math.max(1, bytes.length) > limits.maxRatio) {
    throw new ArchiveLimitError(`${path}: compression ratio over ${limits.maxRatio}`);
  }
  const enc = dir.entries.filter((e) => e.encrypted);
  if (enc.length > 0) report.encrypted.push({ path, format: enc.some((e) => e.aes) ? 'zip-aes' : 'zip' });
  let n = 0;
  for (const e of dir.entries) {
    if (++n % 32 === 0) await yieldNow();
    if (Date.now() > budget.deadline) throw new ArchiveLimitError(`${path}: inspection time limit`);
    const memberPath = `${path}/${e.name}`;
    // Every name the member can be saved under (central, local, Unicode Path extras) is checked,
    // encrypted members included: their names are readable and still count.
    for (const n of e.names) {
      const p = `${path}/${n}`;
      report.members.push(p);
      checkName(n, p, extensions, report);
    }
    if (e.names.every((n) => n.endsWith('/')) && e.uncompressedSize === 0) continue;
    if (e.encrypted) continue; // the content cannot be read
    // The declared size may lie: sniff at least 4 KiB (where PE/ELF/Mach-O headers sit) whatever it says.
    const head = extractEntry(bytes, e, budget, limits.maxRatio, Math.min(SNIFF_BYTES, Math.max(e.uncompressedSize, 4096)));
    const nested = sniffArchive(head) !== null || e.names.some((n) => ARCHIVE_EXT[extensionOf(n)] !== undefined);
    const message = isMessage(e.names, head);
    if (!nested && !message) {
      // Content check without expanding the whole member.
      const kind = sniffExecutable(head);
      if (kind) report.executables.push({ path: memberPath, name: e.name, why: kind });
      continue;
    }
    if (nested && depth + 1 >= limits.maxDepth) throw new ArchiveLimitError(`${memberPath}: archives nested deeper than ${limits.maxDepth}`);
    budget.remaining += head.length; // the prefix is re-read as part of the whole member
    const full = extractEntry(bytes, e, budget, limits.maxRatio);
    if (message) report.messages.push({ path: memberPath, bytes: full });
    if (!nested) continue;
    // Names were checked above; the one with an archive extension (if any) decides how it is read.
    const asName = e.names.find((n) => ARCHIVE_EXT[extensionOf(n)] !== undefined) ?? e.name;
    await visit(full, asName, memberPath, depth + 1, extensions, limits, budget, report, true);
  }
}
