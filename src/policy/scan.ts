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
import { ambiguousHeader, leafParts, MAX_PARAMS, MAX_UU_FILES, uuencodedFiles, type PartView, type UuFile } from './mime.js';
import { extensionOf, isExecutableType } from './names.js';
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
   * or Content-Transfer-Encoding fields or two boundary parameters ('header'), a text part with
   * NUL bytes ('nul'), base64 restarting after "=" padding more often than is checked ('base64').
   */
  incomplete: { limit: NonNullable<ParsedMessage['incomplete']>['limit'] | 'params' | 'uuencoded' | 'header' | 'nul' | 'base64'; detail: string } | null;
}

/** Restart points after base64 padding whose bytes look like an executable or archive, inspected per part at most. */
export const MAX_RESTART_FILES = 64;

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
  const parsed = parseMessage(bytes, { maxDepth: Math.max(1, maxDepth - outer.level), maxParts: Math.max(1, s.partsLeft) });
  if (parsed.incomplete) s.incomplete ??= { limit: parsed.incomplete.limit, detail: `${outer.label}: ${parsed.incomplete.detail}` };
  await scanTree(s, parsed, bytes, outer);
}

/**
 * The first part of the tree (multiparts and attached messages included) whose header can be
 * read in more than one way (mime.ts ambiguousHeader): the parser and a mail client may then
 * see different parts, types or encodings, so the message cannot be checked.
 */
function ambiguousPart(part: MimePart, raw: Buffer): string | null {
  const stack: MimePart[] = [part];
  while (stack.length > 0) {
    const p = stack.pop() as MimePart;
    const why = ambiguousHeader(raw, p);
    if (why) return `part ${p.path || '0'}: ${why}`;
    if (p.message) stack.push(p.message.part);
    for (let i = p.children.length - 1; i >= 0; i--) stack.push(p.children[i] as MimePart);
  }
  return null;
}

async function scanTree(s: ScanState, parsed: ParsedMessage, raw: Buffer, outer: Outer | null): Promise<void> {
  const { config, extensions, limits } = s;
  const ambiguous = ambiguousPart(parsed.structure, raw);
  if (ambiguous) s.incomplete ??= { limit: 'header', detail: outer ? `${outer.label}: ${ambiguous}` : ambiguous };
  const views = leafParts(parsed, raw, s.partsLeft);
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
    if (view.nul) s.incomplete ??= { limit: 'nul', detail: `part ${view.path}: NUL bytes in a ${view.part.type}/${view.part.subtype} part (${view.part.encoding})` };
    const nested: Array<{ bytes: Buffer; outer: Outer }> = [];
    if (view.part.message) {
      // The attached message's own contents are separate leaves; only its names count here.
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
        // client may restart decoding there and save what follows as the file. Every restart
        // point whose bytes start like an executable or an archive is inspected as the file.
        const reading: Base64Reading = { midPadding: false, restarts: [] };
        const whole = decodePart(raw, view.part, config.limits.maxMessageBytes, reading);
        let files = 0;
        for (const at of reading.restarts ?? []) {
          if (at >= whole.length) break;
          const rest = whole.subarray(at);
          if (sniffExecutable(rest) === null && sniffArchive(rest) === null) continue;
          if (++files > MAX_RESTART_FILES) {
            s.incomplete ??= { limit: 'base64', detail: `part ${view.path}: more than ${MAX_RESTART_FILES} files after base64 padding` };
            break;
          }
          await content(rest, name, report);
        }
        if (reading.restartsCapped) s.incomplete ??= { limit: 'base64', detail: `part ${view.path}: base64 restarts after padding more than ${MAX_BASE64_RESTARTS} times` };
        // A decoder that skips "=" and reads on bit by bit (mail/decode.ts) saves other bytes again.
        const shifted = decodeBody(raw, view.part, SNIFF_BYTES);
        const kind = sniffExecutable(shifted);
        if (kind) report.executables.push({ path: '', name, why: kind });
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
