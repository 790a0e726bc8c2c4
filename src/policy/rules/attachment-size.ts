/** R-STORE-2: each attachment, decoded, at most limits.maxAttachmentBytes → else 552 5.3.4 naming the file and the limit. */
import { formatBytes } from '../../lib/bytes.js';
import { bi } from '../../lib/errors.js';
import { reply, type RuleFactory } from '../deps.js';
import { decodedSize } from '../../mail/decode.js';
import { isAttachment, leafParts } from '../mime.js';
import { quoteName } from '../names.js';
import type { RuleVerdict } from '../types.js';

export const attachmentSize: RuleFactory = ({ config }) => ({
  name: 'attachment-size',
  stages: ['data'],
  async check(_ctx, msg): Promise<RuleVerdict> {
    if (!msg) return { kind: 'pass' };
    const max = config.limits.maxAttachmentBytes;
    for (const v of leafParts(msg.parsed, msg.raw, config.limits.maxMimeParts)) {
      if (!isAttachment(v) || v.part.message) continue;
      // Cheap upper bound first: the encoded size is never smaller than the decoded one.
      if (v.part.size <= max) continue;
      const size = decodedSize(msg.raw, v.part);
      if (size <= max) continue;
      const file = v.names[0] ?? `part ${v.path}`;
      return {
        kind: 'hit',
        finding: `attachment-too-large; file=${quoteName(file)}; size=${size}; limit=${max}`,
        reply: reply(
          552,
          '5.3.4',
          bi(
            `Thư bị từ chối: tệp đính kèm ${quoteName(file)} (${formatBytes(size)}) vượt quá giới hạn ${formatBytes(max)} (quy tắc attachment-size)`,
            `Message refused: attachment ${quoteName(file)} (${formatBytes(size)}) is over the ${formatBytes(max)} limit (rule attachment-size)`,
          ),
        ),
      };
    }
    return { kind: 'pass' };
  },
});
