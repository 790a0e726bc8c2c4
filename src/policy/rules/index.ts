/** The rule registry: config name → factory. A new rule is one file here plus one line below. */
import type { RuleFactory } from '../deps.js';
import { attachmentSize } from './attachment-size.js';
import { autoForward } from './auto-forward.js';
import { classified } from './classified.js';
import { encryptedArchives } from './encrypted-archives.js';
import { executables } from './executables.js';
import { malware } from './malware.js';
import { officialDocuments } from './official-documents.js';
import { quota } from './quota.js';
import { sendingLimits } from './sending-limits.js';
import { spam } from './spam.js';
import { unicode } from './unicode.js';

export const RULES: Readonly<Record<string, RuleFactory>> = Object.freeze({
  executables,
  'encrypted-archives': encryptedArchives,
  'attachment-size': attachmentSize,
  classified,
  'official-documents': officialDocuments,
  unicode,
  malware,
  spam,
  'auto-forward': autoForward,
  'sending-limits': sendingLimits,
  quota,
});
