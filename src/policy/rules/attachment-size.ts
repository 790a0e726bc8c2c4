/**
 * R-STORE-2: each attachment, decoded, at most limits.maxAttachmentBytes → else 552 5.3.4 naming
 * the file and the limit. A file uuencoded in a text body is an attachment of its own, measured
 * as uudecode writes it (not the text around it, nor its 4/3 encoding). An attached message the
 * parser opened is measured by its parts; one it could not open (transfer-encoded), or one that
 * begins with an mbox "From " line (not read inline), by its own decoded size.
 */
import { formatBytes } from '../../lib/bytes.js';
import { refusal, type RuleFactory } from '../deps.js';
import { decodedSize } from '../../mail/decode.js';
import { inlineMessage, isAttachment, leafParts } from '../mime.js';
import { quoteName } from '../names.js';
import type { RuleVerdict } from '../types.js';

export const attachmentSize: RuleFactory = ({ config }) => ({
  name: 'attachment-size',
  stages: ['data'],
  async check(_ctx, msg): Promise<RuleVerdict> {
    if (!msg) return { kind: 'pass' };
    const max = config.limits.maxAttachmentBytes;
    for (const v of leafParts(msg.parsed, msg.raw, config.limits.maxMimeParts)) {
      const over: Array<{ file: string; size: number }> = v.uuencoded.filter((f) => f.size > max).map((f) => ({ file: f.name, size: f.size }));
      // Cheap upper bound first: the encoded size is never smaller than the decoded one.
      // An attached message (message/*) the parser could not open is an attachment too, measured
      // by its own decoded size; one it opened is measured by its own parts (leafParts gives them):
      // its whole size holds its attachments' base64, 4/3 of the files a forward carries.
      // Everything inside an attached message is a file the reader can save, its text included.
      // (One beginning with an mbox "From " line is not opened inline: measured by its own size.)
      const opened = inlineMessage(msg.raw, v.part) !== null;
      if (!opened && (isAttachment(v) || v.part.type === 'message' || v.messageDepth > 0) && v.part.size > max) {
        const size = decodedSize(msg.raw, v.part);
        if (size > max) over.unshift({ file: v.fileNames[0] ?? `part ${v.path}`, size });
      }
      const first = over[0];
      if (!first) continue;
      const { file, size } = first;
      return {
        kind: 'hit',
        finding: `attachment-too-large; file=${quoteName(file)}; size=${size}; limit=${max}`,
        reply: refusal(
          'attachment-size',
          `tệp đính kèm ${quoteName(file)} (${formatBytes(size)}) vượt quá giới hạn ${formatBytes(max)}`,
          `attachment ${quoteName(file)} (${formatBytes(size)}) is over the ${formatBytes(max)} limit`,
          552,
          '5.3.4',
        ),
      };
    }
    return { kind: 'pass' };
  },
});
