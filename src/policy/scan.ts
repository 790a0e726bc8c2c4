/**
 * One content scan per message, shared by the rules that need it (executables,
 * encrypted-archives): every leaf part (attached messages opened) is decoded once and
 * inspected (names, media type, magic numbers, archives). Messages the parser does not open
 * (a transfer-encoded message/*, an .eml sent as a file or found in an archive) are parsed here
 * and scanned the same way, within the same depth, part, byte and time limits.
 */
import type { Config } from '../config/schema.js';
import { inspectFile, emptyReport, isArchiveName, type InspectLimits, type InspectReport } from './archive/inspect.js';
import { inspectArchive } from './archive/pool.js';
import { decodeBody } from '../mail/decode.js';
import { decodePart, decodePartTail, MAX_BASE64_RESTARTS, type Base64Reading } from './decode.js';
import { parseMessage } from '../mail/parse.js';
import type { MimePart, ParsedMessage } from '../mail/types.js';
import { ambiguousHeader, HEADER_ENDED_EARLY, inlineMessage, leafParts, mboxLineEnd, MAX_PARAMS, MAX_UU_FILES, MAX_UU_RESTARTS, uuencodedFiles, type PartView, type UuFile } from './mime.js';
import { executableExtension, extensionOf, isExecutableType } from './names.js';
import { hasZipEnd, SNIFF_BYTES, sniffArchive, sniffExecutable, sniffMessage, ZIP_END_SEARCH_BYTES } from './sniff.js';
import type { PolicyMessage } from './types.js';

export interface PartScan {
  view: PartView;
  /** The name used in findings (first name, else the part path). */
  label: string;
  report: InspectReport;
  /** The Content-Type announces an executable. */
  executableType: boolean;
}

export interface MessageScan {
  parts: PartScan[];
  /**
   * Something of the message was not read (the rest cannot be checked): the MIME tree past a
   * limit (ParsedMessage.incomplete), a part header with more parameters than are read; or it
   * can be read in more than one way (malformed): a part header with two different Content-Type
   * or Content-Transfer-Encoding fields or two boundary parameters ('header'), a header block
   * that a line without a colon ended early, MIME fields after it ('header-line'), a text part with
   * NUL bytes ('nul'), base64 restarting after "=" padding more often than is checked ('base64').
   */
  incomplete: { limit: NonNullable<ParsedMessage['incomplete']>['limit'] | 'params' | 'uuencoded' | 'header' | 'header-line' | 'nul' | 'base64'; detail: string } | null;
}

/** Restart points after base64 padding whose bytes look like an executable or archive, inspected per part at most. */
export const MAX_RESTART_FILES = 16;

const cache = new WeakMap<PolicyMessage, Promise<MessageScan>>();

export function scanMessage(msg: PolicyMessage, config: Readonly<Config>): Promise<MessageScan> {
  let p = cache.get(msg);
  if (!p) {
    p = doScan(msg, config);
    cache.set(msg, p);
  }
  return p;
}

/** One scan's state: what was found, and what is left of the limits shared by nested messages. */
interface ScanState {
  config: Readonly<Config>;
  extensions: ReadonlySet<string>;
  limits: InspectLimits;
  parts: PartScan[];
  incomplete: MessageScan['incomplete'];
  /** MIME parts still allowed (limits.maxMimeParts, for the message and every message opened in it). */
  partsLeft: number;
  /** Bytes of messages opened from parts and archives still allowed (policy.archiveMaxExpandedBytes in all). */
  bytesLeft: number;
  deadline: number;
}

/** Where a nested message sits: its label (outer names), how deep in messages and in archives. */
interface Outer {
  label: string;
  level: number;
  archiveLevel: number;
}

async function doScan(msg: PolicyMessage, config: Readonly<Config>): Promise<MessageScan> {
  const pol = config.policy;
  const limits: InspectLimits = {
    maxDepth: pol.archiveMaxDepth,
    maxEntries: pol.archiveMaxEntries,
    maxExpandedBytes: pol.archiveMaxExpandedBytes,
    maxRatio: pol.archiveMaxRatio,
    // Half the rule time-out: an archive over it is "cannot be checked", not a deferral.
    timeMs: Math.max(1000, Math.floor(pol.ruleTimeoutMs / 2)),
  };
  const s: ScanState = {
    config,
    extensions: new Set(pol.executableExtensions),
    limits,
    parts: [],
    incomplete: msg.parsed.incomplete,
    partsLeft: config.limits.maxMimeParts,
    bytesLeft: pol.archiveMaxExpandedBytes,
    deadline: Date.now() + limits.timeMs,
  };
  await scanTree(s, msg.parsed, msg.raw, null);
  return { parts: s.parts, incomplete: s.incomplete };
}

/** Is this leaf a message to open: a message/* the parser did not descend into, a file named .eml, or one starting with header lines? */
function isMessageLeaf(view: PartView, head: Buffer): boolean {
  if (view.part.type === 'message') return true;
  return view.names.some((n) => extensionOf(n) === 'eml') || sniffMessage(head);
}

/**
 * Open `bytes` as a message (an encoded message/rfc822, an .eml file, an .eml in an archive)
 * and scan its parts like the message's own. Its nesting counts toward limits.maxMimeDepth,
 * its parts toward limits.maxMimeParts; one that cannot be parsed cannot be checked.
 */
async function openMessage(s: ScanState, bytes: Buffer, outer: Outer): Promise<void> {
  const maxDepth = s.config.limits.maxMimeDepth;
  if (outer.level >= maxDepth) {
    s.incomplete ??= { limit: 'depth', detail: `${outer.label}: attached messages nested deeper than ${maxDepth}` };
    return;
  }
  if (bytes.length > s.bytesLeft) {
    s.incomplete ??= { limit: 'parse', detail: `${outer.label}: attached messages over ${s.config.policy.archiveMaxExpandedBytes} bytes in all` };
    return;
  }
  s.bytesLeft -= bytes.length;
  const message = withoutMboxLine(bytes);
  const parsed = parseMessage(message, { maxDepth: Math.max(1, maxDepth - outer.level), maxParts: Math.max(1, s.partsLeft) });
  if (parsed.incomplete) s.incomplete ??= { limit: parsed.incomplete.limit, detail: `${outer.label}: ${parsed.incomplete.detail}` };
  await scanTree(s, parsed, message, outer);
}

/**
 * A message saved from an mbox file may begin with its "From " separator line (RFC 4155: "From ",
 * the sender, a date), which mail programs skip when they open the .eml. Read it from the line
 * after, like they do: the header block would otherwise end at that line, its fields would be
 * taken for body text and the parts inside would go unchecked (or the message be refused as
 * "cannot be checked").
 */
function withoutMboxLine(bytes: Buffer): Buffer {
  const next = mboxLineEnd(bytes, 0);
  return next < 0 ? bytes : bytes.subarray(next);
}

/**
 * The first part of the tree (multiparts and attached messages included) whose header can be
 * read in more than one way (mime.ts ambiguousHeader): the parser and a mail client may then
 * see different parts, types or encodings, so the message cannot be checked.
 */
function ambiguousPart(part: MimePart, raw: Buffer): { limit: 'header' | 'header-line'; detail: string } | null {
  const stack: MimePart[] = [part];
  while (stack.length > 0) {
    const p = stack.pop() as MimePart;
    const why = ambiguousHeader(raw, p);
    if (why) return { limit: why.startsWith(HEADER_ENDED_EARLY) ? 'header-line' : 'header', detail: `part ${p.path || '0'}: ${why}` };
    // An attached message beginning with an mbox "From " line is opened on its own (scanTree), not read inline.
    const inner = inlineMessage(raw, p);
    if (inner) stack.push(inner);
    for (let i = p.children.length - 1; i >= 0; i--) stack.push(p.children[i] as MimePart);
  }
  return null;
}

/**
 * Does a restarted piece begin a file a client may save and run or open: a real PE ("MZ", its
 * e_lfanew pointing at "PE\0\0" within the piece), ELF or Mach-O, or an archive other than zip?
 * Not a bare "MZ" and NUL, nor a zip member signature: chunk boundaries of harmless files land
 * on those (a zip's second member, random bytes), and a zip there is found by its end record.
 */
export function restartedFile(rest: Buffer): boolean {
  const exe = sniffExecutable(rest.subarray(0, SNIFF_BYTES));
  if (exe === 'pe') {
    if (rest.length < 0x40) return false;
    const lfanew = rest.readUInt32LE(0x3c);
    if (lfanew < 4 || lfanew > rest.length - 4) return false;
    return rest.readUInt32BE(lfanew) === 0x50450000;
  }
  if (exe) return true;
  const archive = sniffArchive(rest);
  return archive !== null && archive !== 'zip';
}

const LOCAL_HEADER = Buffer.from([0x50, 0x4b, 0x03, 0x04]);
const CENTRAL_HEADER = Buffer.from([0x50, 0x4b, 0x01, 0x02]);

/**
 * Member names in the zip headers found anywhere in `b`, local (PK\x03\x04) and central
 * (PK\x01\x02), each read as UTF-8 and as a legacy code page; at most `max` headers of each
 * kind, one native search per header (linear).
 */
export function zipHeaderNames(b: Buffer, max: number): string[] {
  const out = new Set<string>();
  const scan = (sig: Buffer, lenAt: number, nameAt: number): void => {
    let n = 0;
    for (let i = b.indexOf(sig); i >= 0 && i + nameAt <= b.length && n < max; i = b.indexOf(sig, i + 4)) {
      n++;
      const len = b.readUInt16LE(i + lenAt);
      if (len === 0 || i + nameAt + len > b.length) continue;
      const raw = b.subarray(i + nameAt, i + nameAt + len);
      out.add(raw.toString('utf8'));
      out.add(raw.toString('latin1'));
    }
  };
  scan(LOCAL_HEADER, 26, 30);
  scan(CENTRAL_HEADER, 28, 46);
  return [...out];
}

async function scanTree(s: ScanState, parsed: ParsedMessage, raw: Buffer, outer: Outer | null): Promise<void> {
  const { config, extensions, limits } = s;
  const ambiguous = ambiguousPart(parsed.structure, raw);
  if (ambiguous) s.incomplete ??= { limit: ambiguous.limit, detail: outer ? `${outer.label}: ${ambiguous.detail}` : ambiguous.detail };
  const views = leafParts(parsed, raw, s.partsLeft, s.deadline);
  /** Content (magic numbers, archives) under one name; archives open in the inspection child process (archive/pool.ts). */
  const content = async (bytes: Buffer, name: string, report: InspectReport): Promise<void> => {
    if (sniffArchive(bytes) !== null || isArchiveName(name) || hasZipEnd(bytes)) {
      const r = await inspectArchive(bytes, name, extensions, limits);
      report.executables.push(...r.executables);
      report.encrypted.push(...r.encrypted);
      report.members.push(...r.members);
      report.messages.push(...r.messages);
      report.unscannable ??= r.unscannable;
    } else await inspectFile(bytes, name, extensions, limits, report);
  };
  /**
   * Another reading of a part (a restart point, the shifted reading): an archive only when its
   * bytes are one (its name was checked with the part; a harmless .zip read otherwise is not a
   * zip). Member names in its zip headers (local and central) are checked whatever the rest.
   * `members` (the part's own reading's members, for the shifted reading): a zip there that
   * cannot be read but names only those members is that zip damaged by the shift (chunk-padded
   * encoders), not something else: its "cannot be checked" is not counted.
   */
  const sniffedContent = async (bytes: Buffer, name: string, report: InspectReport, members?: ReadonlySet<string>): Promise<void> => {
    const kind = sniffArchive(bytes);
    if (kind === null && !hasZipEnd(bytes)) {
      await inspectFile(bytes, '', extensions, limits, report);
      return;
    }
    const names = kind === null || kind === 'zip' ? zipHeaderNames(bytes, limits.maxEntries) : [];
    for (const n of names) if (executableExtension(n, extensions) !== null) report.executables.push({ path: name ? `${name}/${n}` : n, name: n, why: 'name' });
    // A zip's start with no end record (a chunk-padded zip read shifted: its first chunk intact,
    // the rest garbage): nothing more can be read than the names above.
    if (kind === 'zip' && !hasZipEnd(bytes)) return;
    const r = emptyReport();
    await content(bytes, name, r);
    report.executables.push(...r.executables);
    report.encrypted.push(...r.encrypted);
    report.members.push(...r.members);
    report.messages.push(...r.messages);
    const damaged = members !== undefined && members.size > 0 && names.every((n) => members.has(n));
    if (!damaged) report.unscannable ??= r.unscannable;
  };
  for (const view of views) {
    if (s.partsLeft <= 0) {
      s.incomplete ??= { limit: 'parts', detail: `more than ${config.limits.maxMimeParts} MIME parts (attached messages included)` };
      return;
    }
    if (Date.now() > s.deadline) {
      s.incomplete ??= { limit: 'parse', detail: `scan time limit (${limits.timeMs} ms)` };
      return;
    }
    s.partsLeft--;
    const own = view.names[0] ?? `part ${view.path}`;
    const label = outer ? `${outer.label}/${own}` : own;
    const level = (outer?.level ?? 0) + view.messageDepth + 1;
    const report = emptyReport();
    if (view.paramsCapped) s.incomplete ??= { limit: 'params', detail: `part ${view.path}: more than ${MAX_PARAMS} header parameters` };
    if (view.uuCapped) s.incomplete ??= { limit: 'uuencoded', detail: `part ${view.path}: more than ${MAX_UU_FILES} uuencoded files` };
    if (view.restartsCapped) s.incomplete ??= { limit: 'base64', detail: `part ${view.path}: uuencoded files at more than ${MAX_UU_RESTARTS} base64 restart points (or out of time)` };
    if (view.nul) s.incomplete ??= { limit: 'nul', detail: `part ${view.path}: NUL bytes in a ${view.part.type}/${view.part.subtype} part (${view.part.encoding})` };
    const nested: Array<{ bytes: Buffer; outer: Outer }> = [];
    if (inlineMessage(raw, view.part)) {
      // The attached message's own contents are separate leaves; only its names count here. One
      // beginning with an mbox "From " line is not: it is read below and opened from the line
      // after (openMessage), like a base64 one, so its header is the one mail programs read.
      for (const n of view.names) await inspectFile(Buffer.alloc(0), n, extensions, limits, report);
    } else {
      // Sniff a prefix, then decode the whole part only when it is a message, an archive, or a
      // file with a zip appended (its end record is in the last 64 KiB + 22 bytes: only that
      // tail is decoded to look; a 10 MB PDF is not decoded on the event loop for nothing).
      const name = view.fileNames[0] ?? '';
      const b64: Base64Reading = { midPadding: false };
      let bytes = decodePart(raw, view.part, SNIFF_BYTES, b64);
      const message = isMessageLeaf(view, bytes);
      if (bytes.length >= SNIFF_BYTES && (message || sniffArchive(bytes) !== null || isArchiveName(name) || hasZipEnd(decodePartTail(raw, view.part, ZIP_END_SEARCH_BYTES)))) {
        bytes = decodePart(raw, view.part, config.limits.maxMessageBytes);
      }
      await content(bytes, name, report);
      if (b64.midPadding) {
        // base64 data after "=" padding (never in ordinary mail, which pads only at the end): a
        // client may restart decoding there and save what follows as the file. Restart points
        // whose bytes begin a real executable or an archive other than zip are inspected as the
        // file (a zip after a prefix is found by its end record in the whole reading above; zip
        // signatures and a bare "MZ" are common at chunk boundaries of harmless files).
        const reading: Base64Reading = { midPadding: false, restarts: [] };
        const whole = decodePart(raw, view.part, config.limits.maxMessageBytes, reading);
        let files = 0;
        for (const at of reading.restarts ?? []) {
          if (at >= whole.length) break;
          const rest = whole.subarray(at);
          if (!restartedFile(rest)) continue;
          if (++files > MAX_RESTART_FILES) {
            s.incomplete ??= { limit: 'base64', detail: `part ${view.path}: more than ${MAX_RESTART_FILES} files after base64 padding` };
            break;
          }
          if (Date.now() > s.deadline) {
            s.incomplete ??= { limit: 'parse', detail: `scan time limit (${limits.timeMs} ms)` };
            break;
          }
          await sniffedContent(rest, name, report);
        }
        if (reading.restartsCapped) s.incomplete ??= { limit: 'base64', detail: `part ${view.path}: base64 restarts after padding more than ${MAX_BASE64_RESTARTS} times` };
        // A decoder that skips "=" and reads on bit by bit (mail/decode.ts, as IMAP FETCH BINARY
        // does) saves other bytes again: that reading is inspected in full too, within the
        // message size limit (archives opened, an attached message opened).
        const shifted = decodeBody(raw, view.part, config.limits.maxMessageBytes);
        const ownMembers = new Set(report.members.filter((m) => m.startsWith(`${name}/`)).map((m) => m.slice(name.length + 1)));
        await sniffedContent(shifted, name, report, ownMembers);
        if (!message && sniffMessage(shifted)) nested.push({ bytes: shifted, outer: { label, level, archiveLevel: outer?.archiveLevel ?? 0 } });
      }
      if (message) nested.push({ bytes, outer: { label, level, archiveLevel: outer?.archiveLevel ?? 0 } });
      // Each file uuencoded in a text body: its own name and content (the whole file when it is an
      // archive: the body decoded once more, keeping whole files, only if some file needs it).
      let whole: UuFile[] | null = null;
      for (const [i, f] of view.uuencoded.entries()) {
        const archive = sniffArchive(f.head) !== null || isArchiveName(f.name);
        if (archive) whole ??= uuencodedFiles(decodeBody(raw, view.part), config.limits.maxMessageBytes).files;
        await content(archive ? (whole?.[i]?.head ?? f.head) : f.head, f.name, report);
      }
      // Every other name the part may be saved under.
      const done = new Set([name, ...view.uuencoded.map((f) => f.name)]);
      for (const n of view.names) if (!done.has(n)) await inspectFile(Buffer.alloc(0), n, extensions, limits, report);
    }
    // Messages found in archives (an .eml in a zip): opened like attached ones, one archive level deeper.
    for (const m of report.messages.splice(0)) {
      const archiveLevel = (outer?.archiveLevel ?? 0) + 1;
      const at = outer ? `${outer.label}/${m.path}` : m.path;
      if (archiveLevel > limits.maxDepth) report.unscannable ??= `${at}: messages and archives nested deeper than ${limits.maxDepth}`;
      else nested.push({ bytes: Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength), outer: { label: at, level, archiveLevel } });
    }
    if (outer) {
      for (const x of report.executables) if (x.path) x.path = `${outer.label}/${x.path}`;
      for (const x of report.encrypted) if (x.path) x.path = `${outer.label}/${x.path}`;
    }
    s.parts.push({ view, label, report, executableType: isExecutableType(view.part.type, view.part.subtype) });
    for (const n of nested) await openMessage(s, n.bytes, n.outer);
  }
}
