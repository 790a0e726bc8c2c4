/**
 * One content scan per message, shared by the rules that need it (executables,
 * encrypted-archives): every leaf part (attached messages opened) is decoded once and
 * inspected (names, media type, magic numbers, archives).
 */
import type { Config } from '../config/schema.js';
import { inspectFile, emptyReport, type InspectReport } from './archive/inspect.js';
import { inspectArchive } from './archive/pool.js';
import { decodeBody } from '../mail/decode.js';
import type { ParsedMessage } from '../mail/types.js';
import { leafParts, MAX_PARAMS, MAX_UU_FILES, uuencodedFiles, type PartView, type UuFile } from './mime.js';
import { extensionOf, isExecutableType } from './names.js';
import { SNIFF_BYTES, sniffArchive } from './sniff.js';
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
   * limit (ParsedMessage.incomplete), or a part header with more parameters than are read.
   */
  incomplete: { limit: NonNullable<ParsedMessage['incomplete']>['limit'] | 'params' | 'uuencoded'; detail: string } | null;
}

const ARCHIVE_EXTENSIONS = new Set(['zip', 'rar', '7z']);

const cache = new WeakMap<PolicyMessage, Promise<MessageScan>>();

export function scanMessage(msg: PolicyMessage, config: Readonly<Config>): Promise<MessageScan> {
  let p = cache.get(msg);
  if (!p) {
    p = doScan(msg, config);
    cache.set(msg, p);
  }
  return p;
}

async function doScan(msg: PolicyMessage, config: Readonly<Config>): Promise<MessageScan> {
  const pol = config.policy;
  const extensions = new Set(pol.executableExtensions);
  const limits = {
    maxDepth: pol.archiveMaxDepth,
    maxEntries: pol.archiveMaxEntries,
    maxExpandedBytes: pol.archiveMaxExpandedBytes,
    maxRatio: pol.archiveMaxRatio,
    // Half the rule time-out: an archive over it is "cannot be checked", not a deferral.
    timeMs: Math.max(1000, Math.floor(pol.ruleTimeoutMs / 2)),
  };
  const parts: PartScan[] = [];
  let incomplete: MessageScan['incomplete'] = msg.parsed.incomplete;
  const views = leafParts(msg.parsed, msg.raw, config.limits.maxMimeParts);
  /** Content (magic numbers, archives) under one name; archives open in the inspection child process (archive/pool.ts). */
  const content = async (bytes: Buffer, name: string, report: InspectReport): Promise<void> => {
    if (sniffArchive(bytes) !== null || ARCHIVE_EXTENSIONS.has(extensionOf(name))) {
      const r = await inspectArchive(bytes, name, extensions, limits);
      report.executables.push(...r.executables);
      report.encrypted.push(...r.encrypted);
      report.members.push(...r.members);
      report.unscannable ??= r.unscannable;
    } else await inspectFile(bytes, name, extensions, limits, report);
  };
  for (const view of views) {
    const label = view.names[0] ?? `part ${view.path}`;
    const report = emptyReport();
    if (view.paramsCapped) incomplete ??= { limit: 'params', detail: `part ${view.path}: more than ${MAX_PARAMS} header parameters` };
    if (view.uuCapped) incomplete ??= { limit: 'uuencoded', detail: `part ${view.path}: more than ${MAX_UU_FILES} uuencoded files` };
    if (view.part.message) {
      // The attached message's own contents are separate leaves; only its names count here.
      for (const n of view.names) await inspectFile(Buffer.alloc(0), n, extensions, limits, report);
    } else {
      // Sniff a prefix first; decode the whole part only when it is (or is named as) an archive.
      const name = view.fileNames[0] ?? '';
      let bytes = decodeBody(msg.raw, view.part, SNIFF_BYTES);
      if (bytes.length >= SNIFF_BYTES && (sniffArchive(bytes) !== null || ARCHIVE_EXTENSIONS.has(extensionOf(name)))) {
        bytes = decodeBody(msg.raw, view.part, config.limits.maxMessageBytes);
      }
      await content(bytes, name, report);
      // Each file uuencoded in a text body: its own name and content (the whole file when it is an
      // archive: the body decoded once more, keeping whole files, only if some file needs it).
      let whole: UuFile[] | null = null;
      for (const [i, f] of view.uuencoded.entries()) {
        const archive = sniffArchive(f.head) !== null || ARCHIVE_EXTENSIONS.has(extensionOf(f.name));
        if (archive) whole ??= uuencodedFiles(decodeBody(msg.raw, view.part), config.limits.maxMessageBytes).files;
        await content(archive ? (whole?.[i]?.head ?? f.head) : f.head, f.name, report);
      }
      // Every other name the part may be saved under.
      const done = new Set([name, ...view.uuencoded.map((f) => f.name)]);
      for (const n of view.names) if (!done.has(n)) await inspectFile(Buffer.alloc(0), n, extensions, limits, report);
    }
    parts.push({ view, label, report, executableType: isExecutableType(view.part.type, view.part.subtype) });
  }
  return { parts, incomplete };
}
