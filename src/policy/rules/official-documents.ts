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
 * - a PDF with no digital signature: `official-documents; file="…"; problem=unsigned` (a file
 *   named .pdf that is no PDF: `problem=not-pdf`);
 * - a PDF whose latest signature does not hold (changed after signing, anything but comments
 *   added after it — an incremental update, long-term validation data and document time stamps
 *   included —, a signature that does not match its certificate, unreadable):
 *   `problem=signature-invalid` with the reason;
 *   one made with an algorithm not checked here: `problem=signature-unverified`;
 * - a subject that is no summary — empty, only reply/forward words, or a file's name as it
 *   stands ("scan0012.pdf") — when a PDF is attached: `problem=no-summary`.
 * PDFs are found by name, by type, or (a part with a name, or not text) by their first bytes;
 * other attachments (spreadsheets, drafts in Word for comment) are not judged. The default action
 * is `flag`: the mail goes, the header and
 * the send log carry the finding, the quarterly report counts it; `reject` refuses it with
 * 550 5.7.1 saying what to fix. With policy.signingAuthorities set (PEM files of certification
 * authorities: the Government CA's root, a licensed provider's), a signature whose certificate does
 * not chain to one of them, is an authority's own, or is not valid at submission, is
 * `problem=untrusted-signer`; with
 * none, any certificate the signature holds with counts (pdf-signature.ts).
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import type { Clock } from '../../lib/clock.js';
import { refusal, type RuleFactory } from '../deps.js';
import { extensionOf, quoteName, visibleText } from '../names.js';
import { decodePart } from '../decode.js';
import { leafParts } from '../mime.js';
import { isPdf, pdfSignatureState } from '../pdf-signature.js';
import type { PolicyContext, PolicyMessage, Rule, RuleVerdict } from '../types.js';
import type { Store } from '../../store/port.js';

/** PDFs checked per message; past it one more finding says how many were left out. */
const MAX_FILES = 20;
/** Reply and forward words a subject may start with ("Re:", "TL:", "Fwd:", "Chuyển tiếp:"). */
const REPLY_WORDS = /^(?:\s*(?:re|fw|fwd|tl|tr|aw|sv|trả\s+lời|chuyển\s+tiếp)\s*:\s*)+/iu;

type Problem = { file: string | null; problem: 'unsigned' | 'not-pdf' | 'signature-invalid' | 'signature-unverified' | 'untrusted-signer' | 'no-summary'; detail?: string };

/**
 * The certificates of policy.signingAuthorities (PEM files, one or more certificates each), and
 * a `policy.signingAuthorities.N: expected …, got …` line for each file that cannot be read.
 */
export function signingAuthorities(config: Readonly<Config>): { certificates: X509Certificate[]; problems: string[] } {
  const certificates: X509Certificate[] = [];
  const problems: string[] = [];
  config.policy.signingAuthorities.forEach((file, i) => {
    try {
      const blocks = readFileSync(file, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
      if (blocks.length === 0) throw new Error('no PEM certificate in it');
      for (const pem of blocks) certificates.push(new X509Certificate(pem));
    } catch (e) {
      problems.push(`policy.signingAuthorities.${i}: expected a readable file of PEM certificates, got ${JSON.stringify(file)} (${e instanceof Error ? e.message : String(e)})`);
    }
  });
  return { certificates, problems };
}

/** How much of a file name the reply quotes, in octets (an SMTP reply line stays under 512). */
const REPLY_NAME_OCTETS = 60;

/** `name` cut to at most `octets` UTF-8 octets on a character boundary, with … when cut. */
function shortName(name: string, octets: number): string {
  if (Buffer.byteLength(name) <= octets) return name;
  let out = '';
  for (const ch of name) {
    if (Buffer.byteLength(out + ch) > octets - 3) break;
    out += ch;
  }
  return `${out}…`;
}

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

/**
 * The subject says nothing of its own: empty, only reply/forward words, or an attached file's
 * name as it stands, extension and all ("Fwd: scan0012.pdf"). A subject that is the file name
 * without its extension is a summary: clerks name the file after it.
 */
export function noSummary(subject: string, fileNames: readonly string[]): boolean {
  const s = visibleText(subject).replace(REPLY_WORDS, '').trim().toLowerCase();
  if (!/[\p{L}\p{N}]/u.test(s)) return true;
  return fileNames.some((n) => visibleText(n).trim().toLowerCase() === s);
}

export const officialDocuments: RuleFactory = ({ config, store, clock }) => {
  const authorities = signingAuthorities(config);
  if (authorities.problems.length > 0) throw new ConfigError(authorities.problems);
  return rule(config, store, authorities.certificates, clock);
};

function rule(config: Readonly<Config>, store: Store, authorities: readonly X509Certificate[], clock: Clock): Rule {
  return {
    name: 'official-documents',
    stages: ['data'],
    async check(ctx, msg): Promise<RuleVerdict> {
      if (!msg || ctx.direction !== 'submission') return { kind: 'pass' };
      // The message's own attachments: not those of forwarded messages inside it.
      // Parts that may be files: named, or not text. Most submissions have none and stop here.
      const files = leafParts(msg.parsed, msg.raw, config.limits.maxMimeParts).filter(
        (v) => v.messageDepth === 0 && v.part.type !== 'multipart' && v.part.type !== 'message' && (v.fileNames.length > 0 || v.part.type.toLowerCase() !== 'text'),
      );
      if (files.length === 0 || !(await fromUnitMailbox(store, ctx, msg))) return { kind: 'pass' };
      const pdfs = files.filter(
        (v) =>
          v.fileNames.some((n) => extensionOf(n) === 'pdf') ||
          `${v.part.type}/${v.part.subtype}`.toLowerCase() === 'application/pdf' ||
          // A PDF under another name or type ("văn bản", application/octet-stream, no name at all): its first bytes say so.
          isPdf(decodePart(msg.raw, v.part, 1024)),
      );
      if (pdfs.length === 0) return { kind: 'pass' };
      const problems: Problem[] = [];
      const names: string[] = [];
      for (const [i, v] of pdfs.slice(0, MAX_FILES).entries()) {
        // Checking a signature is synchronous work (a digest of the whole file): let other sessions run between files.
        if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
        const file = v.fileNames[0] ?? `part ${v.path}`;
        names.push(...v.fileNames);
        const state = await pdfSignatureState(decodePart(msg.raw, v.part, config.limits.maxAttachmentBytes), { authorities, at: clock.now() });
        if (state.kind === 'unsigned' || state.kind === 'not-pdf') problems.push({ file, problem: state.kind });
        else if (state.kind === 'invalid') problems.push({ file, problem: 'signature-invalid', detail: state.detail });
        else if (state.kind === 'unverified') problems.push({ file, problem: 'signature-unverified', detail: state.detail });
        else if (state.kind === 'untrusted') problems.push({ file, problem: 'untrusted-signer', detail: state.detail });
      }
      if (noSummary(msg.parsed.subject, names)) problems.unshift({ file: null, problem: 'no-summary' });
      if (problems.length === 0) return { kind: 'pass' };
      const findings = problems.map((p) => ['official-documents', ...(p.file !== null ? [`file=${quoteName(p.file)}`] : []), `problem=${p.problem}`, ...(p.detail ? [`detail=${quoteName(p.detail)}`] : [])].join('; '));
      if (pdfs.length > MAX_FILES) findings.push(`official-documents; ${pdfs.length - MAX_FILES} more PDF files not checked`);
      const first = problems[0] as Problem;
      const file = quoteName(shortName(first.file ?? '', REPLY_NAME_OCTETS));
      const texts: Record<Problem['problem'], [string, string]> = {
        'no-summary': ['thư gửi văn bản phải có tiêu đề là trích yếu nội dung văn bản', "mail carrying a document must have the document's summary as its subject"],
        unsigned: [`văn bản gửi từ hộp thư đơn vị phải là tệp PDF đã ký số; tệp ${file} chưa được ký số`, `documents sent from a unit mailbox must be digitally signed PDF files; file ${file} is not signed`],
        'not-pdf': [`văn bản gửi từ hộp thư đơn vị phải là tệp PDF đã ký số; tệp ${file} không phải là PDF`, `documents sent from a unit mailbox must be digitally signed PDF files; file ${file} is not a PDF`],
        'signature-invalid': [`chữ ký số của tệp ${file} không hợp lệ`, `the digital signature of file ${file} is not valid`],
        'untrusted-signer': [`chữ ký số của tệp ${file} không do tổ chức chứng thực được tin cậy cấp`, `the digital signature of file ${file} is not certified by a trusted authority`],
        'signature-unverified': [`không kiểm tra được chữ ký số của tệp ${file} (thuật toán không được hỗ trợ)`, `the digital signature of file ${file} cannot be checked (unsupported algorithm)`],
      };
      const [vi, en] = texts[first.problem];
      return {
        kind: 'hit',
        finding: findings[0] as string,
        extraFindings: findings.slice(1),
        reply: refusal('official-documents', vi, en),
      };
    },
  };
}
