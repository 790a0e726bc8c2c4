/** COMPRESS=DEFLATE (RFC 4978). */
import { bi } from '../../lib/errors.js';
import { AUTH, type CommandSpec } from './spec.js';

export const compressCommand: CommandSpec<'COMPRESS'> = {
  states: AUTH,
  caps: () => ['COMPRESS=DEFLATE'],
  async run(s, cmd) {
    if (cmd.mechanism !== 'DEFLATE') return { kind: 'no', bad: true, text: bi('Chỉ hỗ trợ DEFLATE', 'Only DEFLATE is supported') };
    if (s.conn.compressed) return { kind: 'no', code: 'COMPRESSIONACTIVE', text: bi('Đã nén rồi', 'Compression is already active') };
    return { kind: 'ok', text: bi('Bắt đầu nén', 'DEFLATE active'), then: 'compress' };
  },
};
