/**
 * R-POL-2: password-protected archives (zip traditional/AES, RAR4, RAR5, 7z) are restricted:
 * by default flagged (`X-Buudien-Policy: encrypted-archive; file="…"` and the subject tag
 * policy.encryptedArchiveSubjectTag), or rejected/quarantined by config.
 */
import { refusal, type RuleFactory } from '../deps.js';
import { quoteName } from '../names.js';
import { scanMessage } from '../scan.js';
import type { RuleVerdict } from '../types.js';

export const encryptedArchives: RuleFactory = ({ config }) => ({
  name: 'encrypted-archives',
  stages: ['data'],
  async check(_ctx, msg): Promise<RuleVerdict> {
    if (!msg) return { kind: 'pass' };
    const scan = await scanMessage(msg, config);
    const files: string[] = [];
    for (const p of scan.parts) for (const e of p.report.encrypted) if (!files.includes(e.path || p.label)) files.push(e.path || p.label);
    if (files.length === 0) return { kind: 'pass' };
    const findings = files.map((f) => `encrypted-archive; file=${quoteName(f)}`);
    return {
      kind: 'hit',
      finding: findings[0] as string,
      extraFindings: findings.slice(1),
      subjectTag: config.policy.encryptedArchiveSubjectTag,
      reply: refusal('encrypted-archives', `tệp nén ${quoteName(files[0] as string)} có mật khẩu, không kiểm tra được`, `archive ${quoteName(files[0] as string)} is password-protected and cannot be checked`),
    };
  },
});
