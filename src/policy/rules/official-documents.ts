/**
 * R-POL-7: official documents go out as digitally signed PDFs, under a subject that is the
 * document's summary (NA Đ12.2: "văn bản chính thức ban hành … được định dạng theo định dạng
 * PDF. Tiêu đề thư gửi văn bản phải là trích yếu nội dung văn bản"; NB Đ11.7: agencies sign the
 * documents they send with a digital signature).
 *
 * Official documents are what a unit sends as the unit (NA Đ13.1: the unit mailbox, kept by its
 * clerical office, is used in administrative dealings in the unit's name). So the rule looks at
 * mail submitted by or as a unit mailbox — the envelope sender or a From address resolving to an
 * account of kind `unit`, a delegate's mail included — and at the PDFs attached to it directly
 * (not inside archives or forwarded messages, which carry other people's documents):
 * - a PDF with no digital signature: `official-documents; file="…"; problem=unsigned`;
 * - a PDF whose signature does not hold (changed after signing, a signature that does not match
 *   its certificate, unreadable): `problem=signature-invalid` with the reason;
 * - a subject that is no summary — empty, only reply/forward words, or a file name — when a PDF
 *   is attached: `problem=no-summary`.
 * A file named .pdf that is no PDF counts as unsigned; other attachments (spreadsheets, drafts in
 * Word for comment) are not judged. The default action is `flag`: the mail goes, the header and
 * the send log carry the finding, the quarterly report counts it; `reject` refuses it with
 * 550 5.7.1 saying what to fix. Whose certificate signed (a chain to a certification authority)
 * is not judged (pdf-signature.ts).
 */
import { refusal, type RuleFactory } from '../deps.js';
import { extensionOf, quoteName, visibleText } from '../names.js';
import { decodePart } from '../decode.js';
import { leafParts } from '../mime.js';
import { isPdf, pdfSignatureState } from '../pdf-signature.js';
import type { PolicyContext, PolicyMessage, RuleVerdict } from '../types.js';
import type { Store } from '../../store/port.js';

/** PDFs checked per message; past it one more finding says how many were left out. */
const MAX_FILES = 20;
/** Reply and forward words a subject may start with ("Re:", "TL:", "Fwd:", "Chuyển tiếp:"). */
const REPLY_WORDS = /^(?:\s*(?:re|fw|fwd|tl|tr|aw|sv|trả\s+lời|chuyển\s+tiếp)\s*:\s*)+/iu;

type Problem = { file: string | null; problem: 'unsigned' | 'signature-invalid' | 'no-summary'; detail?: string };

/** Does this message go out in a unit's name: its envelope sender or a From address is a unit mailbox? */
async function fromUnitMailbox(store: Store, ctx: PolicyContext, msg: PolicyMessage): Promise<boolean> {
  const addresses = new Set<string>();
  if (ctx.sender) addresses.add(ctx.sender.toLowerCase());
  for (const a of msg.parsed.envelope.from ?? []) if (a.mailbox && a.host) addresses.add(`${a.mailbox}@${a.host}`.toLowerCase());
  for (const address of addresses) {
    const account = await store.resolveAddress(address);
    if (account?.kind === 'unit') return true;
  }
  return false;
}

/** The subject says nothing of its own: empty, only reply/forward words, or one of the attached file names. */
export function noSummary(subject: string, fileNames: readonly string[]): boolean {
  const s = visibleText(subject).replace(REPLY_WORDS, '').trim();
  if (!/[\p{L}\p{N}]/u.test(s)) return true;
  const bare = (n: string): string => visibleText(n).trim().toLowerCase();
  return fileNames.some((n) => bare(n) === s.toLowerCase() || bare(n).replace(/\.[a-z0-9]{1,5}$/, '') === s.toLowerCase());
}

export const officialDocuments: RuleFactory = ({ config, store }) => ({
  name: 'official-documents',
  stages: ['data'],
  async check(ctx, msg): Promise<RuleVerdict> {
    if (!msg || ctx.direction !== 'submission') return { kind: 'pass' };
    // The message's own attachments: not those of forwarded messages inside it.
    const pdfs = leafParts(msg.parsed, msg.raw, config.limits.maxMimeParts).filter((v) => {
      if (v.messageDepth > 0 || v.part.type === 'multipart' || v.part.type === 'message') return false;
      if (v.names.some((n) => extensionOf(n) === 'pdf') || `${v.part.type}/${v.part.subtype}`.toLowerCase() === 'application/pdf') return true;
      // A PDF under another name or type ("văn bản", application/octet-stream): its first bytes say so.
      return v.fileNames.length > 0 && isPdf(decodePart(msg.raw, v.part, 1024));
    });
    if (pdfs.length === 0 || !(await fromUnitMailbox(store, ctx, msg))) return { kind: 'pass' };
    const problems: Problem[] = [];
    const names: string[] = [];
    for (const v of pdfs.slice(0, MAX_FILES)) {
      const file = v.fileNames[0] ?? `part ${v.path}`;
      names.push(...v.fileNames);
      const state = await pdfSignatureState(decodePart(msg.raw, v.part, config.limits.maxAttachmentBytes));
      if (state.kind === 'not-pdf' || state.kind === 'unsigned') problems.push({ file, problem: 'unsigned' });
      else if (state.kind === 'invalid') problems.push({ file, problem: 'signature-invalid', detail: state.detail });
    }
    if (noSummary(msg.parsed.subject, names)) problems.unshift({ file: null, problem: 'no-summary' });
    if (problems.length === 0) return { kind: 'pass' };
    const findings = problems.map((p) => ['official-documents', ...(p.file !== null ? [`file=${quoteName(p.file)}`] : []), `problem=${p.problem}`, ...(p.detail ? [`detail=${quoteName(p.detail)}`] : [])].join('; '));
    if (pdfs.length > MAX_FILES) findings.push(`official-documents; ${pdfs.length - MAX_FILES} more PDF files not checked`);
    const first = problems[0] as Problem;
    const file = quoteName(first.file && first.file.length > 40 ? `${first.file.slice(0, 39)}…` : (first.file ?? ''));
    const [vi, en] =
      first.problem === 'no-summary'
        ? ['thư gửi văn bản phải có tiêu đề là trích yếu nội dung văn bản', "mail carrying a document must have the document's summary as its subject"]
        : first.problem === 'unsigned'
          ? [`văn bản gửi từ hộp thư đơn vị phải là tệp PDF đã ký số; tệp ${file} chưa được ký số`, `documents sent from a unit mailbox must be digitally signed PDF files; file ${file} is not signed`]
          : [`chữ ký số của tệp ${file} không hợp lệ`, `the digital signature of file ${file} is not valid`];
    return {
      kind: 'hit',
      finding: findings[0] as string,
      extraFindings: findings.slice(1),
      reply: refusal('official-documents', vi, en),
    };
  },
});
