/**
 * R-POL-6: state secrets do not travel by e-mail (NA Đ11.9, NB Đ14.3). The Law on the Protection
 * of State Secrets marks a secret document with its degree — "Mật", "Tối mật" or "Tuyệt mật" —
 * and that mark is what a sender copies into the subject or the file name. A message that carries
 * one is refused by default (the sender is told why and what to do if it is no secret), or
 * quarantined or flagged by config.
 *
 * What counts as a mark (Unicode NFC, any case, never part of a longer word):
 * - "Tối mật" and "Tuyệt mật" anywhere in the subject or a file name ("Tối_mật", "TUYỆT-MẬT.pdf");
 * - "Mật" alone only where it stands as a stamp: in brackets, parentheses or quotes ("[MẬT]",
 *   "(Mật)"), or leading the subject followed by ":" or a dash ("MẬT: Báo cáo…"), or as the value
 *   of the document's "Độ mật:" field — never in "bảo mật", "mật khẩu", "bí mật", "mật mã";
 * - in a file name without any Vietnamese letters, the same written without diacritics ("Tuyet_mat",
 *   "[MAT]"), as names often are.
 * Where: the subject; the subject of each attached message; the name of each file, in attached
 * messages too. The text of bodies and documents is not read (a word in running text is no mark).
 */
import { bi } from '../../lib/errors.js';
import { decodeWords } from '../../mail/headers.js';
import type { MimePart } from '../../mail/types.js';
import { reply, type RuleFactory } from '../deps.js';
import { quoteName } from '../names.js';
import type { RuleVerdict } from '../types.js';

/** Not a letter, digit or combining mark on either side: a word of its own. */
const B = String.raw`(?<![\p{L}\p{N}\p{M}])`;
const E = String.raw`(?![\p{L}\p{N}\p{M}])`;
/** Between the two words of a degree: spaces, or the "_", "-", "." of a file name. */
const SEP = String.raw`[\s_.\-]*`;

const MARKS: readonly RegExp[] = [
  new RegExp(`${B}(tuyệt${SEP}mật|tối${SEP}mật)${E}`, 'iu'),
  new RegExp(String.raw`[\[(«"“'‹<]\s*(mật)\s*[\])»"”'›>]`, 'iu'),
  new RegExp(String.raw`^\s*(mật)\s*[:\-–—]`, 'iu'),
  new RegExp(`${B}độ\\s+mật\\s*[:：]\\s*(mật|tối${SEP}mật|tuyệt${SEP}mật)${E}`, 'iu'),
];

/** The same degrees written without diacritics, read only in file names with no Vietnamese letter. */
const ASCII_MARKS: readonly RegExp[] = [/(?<![a-z0-9])(tuyet[\s_.-]*mat|toi[\s_.-]*mat)(?![a-z0-9])/i, /[[(]\s*(mat)\s*[\])]/i];

/** The secrecy mark in `text` as written there, or null. */
export function secrecyMark(text: string, opts: { fileName?: boolean } = {}): string | null {
  const t = text.normalize('NFC');
  for (const re of MARKS) {
    const m = re.exec(t);
    if (m) return (m[1] ?? m[0]).trim();
  }
  if (opts.fileName && /^[\x00-\x7f]*$/.test(t)) {
    for (const re of ASCII_MARKS) {
      const m = re.exec(t);
      if (m) return (m[1] ?? m[0]).trim();
    }
  }
  return null;
}

/** Each file name and attached message's subject of the tree, with where it sits. */
function* namesIn(part: MimePart, depth = 0): Generator<{ text: string; file: boolean; where: string }> {
  if (depth > 100) return;
  if (part.filename) yield { text: part.filename, file: true, where: part.filename };
  if (part.message) {
    const subject = part.message.envelope.subject;
    if (subject) yield { text: decodeWords(subject), file: false, where: `${part.filename ?? `part ${part.path || '1'}`}: Subject` };
    yield* namesIn(part.message.part, depth + 1);
  }
  for (const c of part.children) yield* namesIn(c, depth + 1);
}

export const classified: RuleFactory = () => ({
  name: 'classified',
  stages: ['data'],
  async check(_ctx, msg): Promise<RuleVerdict> {
    if (!msg) return { kind: 'pass' };
    const hits: Array<{ mark: string; where: string; file: boolean }> = [];
    const subjectMark = secrecyMark(msg.parsed.subject);
    if (subjectMark) hits.push({ mark: subjectMark, where: 'Subject', file: false });
    for (const n of namesIn(msg.parsed.structure)) {
      const mark = secrecyMark(n.text, { fileName: n.file });
      if (mark) hits.push({ mark, where: n.where, file: n.file });
    }
    if (hits.length === 0) return { kind: 'pass' };
    const findings = hits.map((h) => `classified; mark=${quoteName(h.mark)}; in=${quoteName(h.where)}`);
    const first = hits[0] as { mark: string; where: string; file: boolean };
    const [whereVi, whereEn] = first.file ? [`tên tệp ${quoteName(first.where)}`, `the file name ${quoteName(first.where)}`] : first.where === 'Subject' ? ['tiêu đề thư', 'the subject'] : [`tiêu đề thư đính kèm (${first.where})`, `an attached message's subject (${first.where})`];
    return {
      kind: 'hit',
      finding: findings[0] as string,
      extraFindings: findings.slice(1),
      reply: reply(
        550,
        '5.7.1',
        bi(
          `Thư bị từ chối: ${whereVi} mang dấu độ mật ${quoteName(first.mark)}; tài liệu bí mật nhà nước không được gửi, nhận qua thư điện tử. Nếu không phải tài liệu mật, hãy bỏ dấu này rồi gửi lại (quy tắc classified)`,
          `Message refused: ${whereEn} carries the secrecy mark ${quoteName(first.mark)}; state secrets may not be sent or received by e-mail. If it is no secret, remove the mark and send again (rule classified)`,
        ),
      ),
    };
  },
});
