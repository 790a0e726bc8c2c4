/**
 * R-POL-6: state secrets do not travel by e-mail (NA Đ11.9, NB Đ14.3). The Law on the Protection
 * of State Secrets marks a secret document with its degree — "Mật", "Tối mật" or "Tuyệt mật" —
 * and that stamp is what a sender copies into the subject or the file name. A message that
 * carries one is refused by default (the sender is told why and what to do if it is no secret),
 * or quarantined or flagged by config.
 *
 * Read as on screen (NFKC, invisible marks out), any case. A stamp is a degree standing as one:
 * - leading the subject or a file name, after reply, forward and urgency words ("Re:", "TL:",
 *   "Chuyển tiếp:", "KHẨN,", "Hỏa tốc -"), followed by a colon, dash, comma, full stop or nothing
 *   ("MẬT: Báo cáo…", "Re: Tối mật - Kế hoạch", "TUYỆT_MẬT_KH.docx");
 * - alone in brackets: "[MẬT]", "(Tối mật)", "【Mật】";
 * - the value of the document's "Độ mật:" field;
 * - "Tối mật" or "Tuyệt mật" elsewhere in running text ("Gửi anh tài liệu tối mật"), unless the
 *   text talks about the degrees: it names two or more of them ("đóng dấu Mật, Tối mật, Tuyệt
 *   mật"), or the degree follows "độ", "dấu", "mức", "loại" or "cấp" ("danh mục … độ Tối mật").
 * "Mật" alone in running text is an ordinary word ("bảo mật", "mật khẩu", "bí mật"; 'phim "Mật"').
 * In a file name "_", "." and dashes read as spaces, so a leading "Mật" is a word there
 * ("Mật-ong.jpg"); only "Tối mật" and "Tuyệt mật" lead as stamps. A file name without any
 * Vietnamese letter is also read without diacritics ("Tuyet_mat.pdf", "[MAT] bao cao.pdf"), where
 * "toi mat" counts only leading the name ("tôi mất" is "I lost"). Text typed with a TCVN3 or VNI font
 * (R-POL-8, vietnamese-text.ts) is also read as that font shows it: "MËt: …" in .VnTime is "Mật: …".
 * Where: the subject; each attached message's subject; each file's name, in attached messages and
 * inside archives too. Bodies and documents are not read: a word in running text is
 * no stamp.
 */
import { isSpace, matchesOf } from '../../lib/regex.js';
import { decodeWords } from '../../mail/headers.js';
import type { MimePart } from '../../mail/types.js';
import { refusal, type RuleFactory } from '../deps.js';
import { quoteName, visibleText } from '../names.js';
import { scanMessage } from '../scan.js';
import { legacyReadings } from '../vietnamese-text.js';
import type { RuleVerdict } from '../types.js';

/** Between the two words of a degree: spaces, or the "_", "." and dashes of a file name. */
const SEP = String.raw`[\s_.\p{Pd}]*`;
const DEGREE = `(?:tuyệt${SEP}mật|tối${SEP}mật|mật)`;
const TWO_WORD = `(?:tuyệt${SEP}mật|tối${SEP}mật)`;
/** Not a letter, digit or combining mark on that side: a word of its own. */
const B = String.raw`(?<![\p{L}\p{N}\p{M}])`;
const E = String.raw`(?![\p{L}\p{N}\p{M}])`;
/** Reply, forward and urgency words a subject may start with before its stamp, each with the spaces and mark after it. */
const PREFIX_WORDS = ['re', 'fw', 'fwd', 'tl', 'tr', 'aw', 'sv', 'trả\\s+lời', 'chuyển\\s+tiếp', 'chuyển', 'v\\/v', 'khẩn', 'thượng\\s+khẩn', 'hỏa\\s+tốc', 'hoả\\s+tốc'].map(
  (w) => new RegExp(String.raw`\s*(?:${w})\s*[:,.\p{Pd}]?\s*`, 'iuy'),
);
const FOLLOW = String.raw`(?=\s*(?:[:,.;\p{Pd}]|$))`;

/** A degree standing as a stamp where it begins (sticky: tried at each of stampStarts). */
const LEADING = new RegExp(`(${DEGREE})${E}${FOLLOW}`, 'iuy');
/** In a file name "_", "." and dashes stand for spaces: a leading "Mật" there is a word ("Mật-ong.jpg"), only two-word degrees lead as stamps. */
const LEADING_IN_NAME = new RegExp(`(${TWO_WORD})${E}`, 'iuy');

/**
 * Where a leading stamp may begin: 0, and every position reached after one or more reply,
 * forward and urgency words, whichever way they read ("tr" or "trả lời"). Each position is
 * tried once. One regular expression for it, `^(?:\s*(?:re|…|tr|trả\s+lời|…)\s*[:,.]?\s*)*`,
 * tried every split of the spaces again after a failure: exponential ("khẩn " × 17 and an "x"
 * held the event loop 5 s; review).
 */
function stampStarts(t: string): number[] {
  const seen = new Set([0]);
  const todo = [0];
  for (let p = todo.pop(); p !== undefined; p = todo.pop()) {
    for (const re of PREFIX_WORDS) {
      re.lastIndex = p;
      if (re.test(t) && !seen.has(re.lastIndex)) {
        seen.add(re.lastIndex);
        todo.push(re.lastIndex);
      }
    }
  }
  return [...seen].sort((a, b) => a - b);
}

/** The degree (LEADING or LEADING_IN_NAME) at one of the places a leading stamp may begin. */
function leadingMark(t: string, re: RegExp): string | null {
  for (const p of stampStarts(t)) {
    re.lastIndex = p;
    const m = re.exec(t);
    if (m?.[1]) return m[1];
  }
  return null;
}
const BRACKETED = new RegExp(String.raw`[\[({〔【«‹<]\s*(${DEGREE})\s*[\])}〕】»›>]`, 'iu');
const FIELD = new RegExp(`${B}độ\\s+mật\\s*:\\s*(${DEGREE})${E}`, 'iu');
const RUNNING = new RegExp(`${B}(${TWO_WORD})${E}`, 'giu');
const ANY_DEGREE = new RegExp(`${B}${DEGREE}${E}`, 'giu');
/** A degree named after these is talked about, not stamped: "độ Tối mật", "dấu Tuyệt mật". */
const MENTION_WORDS = ['độ', 'dấu', 'mức', 'loại', 'cấp'];

/**
 * Is the text before `end` one of MENTION_WORDS as a word of its own, then spaces? Read back
 * from `end`: an unanchored `(?:^|[^\p{L}])(?:độ|…)\s*$` on the text before each degree was
 * quadratic ("độ tuyệt mật " × 4,000 took 4 s; review).
 */
function mentionedBefore(t: string, end: number): boolean {
  let i = end;
  while (i > 0 && isSpace(t[i - 1] as string)) i--;
  return MENTION_WORDS.some((w) => {
    const s = i - w.length;
    return s >= 0 && t.slice(s, i).toLowerCase() === w && (s === 0 || !/\p{L}/u.test(t[s - 1] as string));
  });
}

const ASCII_LEADING = /^\s*(tuyet[\s_.-]*mat|toi[\s_.-]*mat)(?![a-z0-9])/i;
const ASCII_MARKS: readonly RegExp[] = [ASCII_LEADING, /[[({]\s*(tuyet[\s_.-]*mat|toi[\s_.-]*mat|mat)\s*[\])}]/i, /(?<![a-z0-9])(tuyet[\s_.-]*mat)(?![a-z0-9])/i];

/** The secrecy stamp in `text` as written there, or null (the rules above). */
export function secrecyMark(text: string, opts: { fileName?: boolean } = {}): string | null {
  const t = visibleText(text);
  const leading = leadingMark(t, opts.fileName ? LEADING_IN_NAME : LEADING);
  if (leading) return leading.trim();
  for (const re of [BRACKETED, FIELD]) {
    const m = re.exec(t);
    if (m?.[1]) return m[1].trim();
  }
  // Running text: a degree talked about (two or more named, or after "độ", "dấu"…) is no stamp.
  const degrees = new Set([...matchesOf(ANY_DEGREE, t)].map((m) => m[0].toLowerCase().replace(/[\s_.\p{Pd}]+/gu, ' ')));
  if (degrees.size < 2) {
    for (const m of matchesOf(RUNNING, t)) {
      if (!mentionedBefore(t, m.index)) return (m[1] ?? m[0]).trim();
    }
  }
  if (opts.fileName && /^[\x20-\x7e]*$/.test(t)) {
    for (const re of ASCII_MARKS) {
      const m = re.exec(t);
      if (m?.[1]) return m[1].trim();
    }
  }
  return null;
}

/** Each attached message's subject, with where it sits. */
function* subjectsIn(part: MimePart, depth = 0): Generator<{ text: string; where: string }> {
  if (depth > 100) return;
  if (part.message) {
    const subject = part.message.envelope.subject;
    if (subject) yield { text: decodeWords(subject), where: `${part.filename ?? `part ${part.path || '1'}`}: Subject` };
    yield* subjectsIn(part.message.part, depth + 1);
  }
  for (const c of part.children) yield* subjectsIn(c, depth + 1);
}

/** Findings kept per message; past it one more says how many were left out. */
const MAX_FINDINGS = 20;
/** How much of a name the reply quotes (the finding keeps more). */
const REPLY_NAME_CHARS = 40;

const short = (s: string): string => (s.length > REPLY_NAME_CHARS ? `${s.slice(0, REPLY_NAME_CHARS - 1)}…` : s);

export const classified: RuleFactory = ({ config }) => ({
  name: 'classified',
  stages: ['data'],
  async check(_ctx, msg): Promise<RuleVerdict> {
    if (!msg) return { kind: 'pass' };
    const hits = new Map<string, { mark: string; where: string; file: boolean }>();
    const note = (text: string, where: string, file: boolean): void => {
      if (hits.has(where)) return;
      // As written, and as a TCVN3 or VNI font shows it (R-POL-8: "MËt" typed in .VnTime is "Mật").
      for (const t of [text, ...legacyReadings(text)]) {
        const mark = secrecyMark(t, { fileName: file });
        if (mark) {
          hits.set(where, { mark, where, file });
          return;
        }
      }
    };
    note(msg.parsed.subject, 'Subject', false);
    for (const s of subjectsIn(msg.parsed.structure)) note(s.text, s.where, false);
    // File names as the policy scan reads them: each part's names (attached messages' too) and archive members.
    const scan = await scanMessage(msg, config);
    for (const p of scan.parts) {
      for (const name of p.view.fileNames) note(name, name, true);
      for (const member of p.report.members) note(member.split('/').pop() ?? member, member, true);
    }
    if (hits.size === 0) return { kind: 'pass' };
    const all = [...hits.values()];
    const findings = all.slice(0, MAX_FINDINGS).map((h) => `classified; mark=${quoteName(h.mark)}; in=${quoteName(h.where)}`);
    if (all.length > MAX_FINDINGS) findings.push(`classified; ${all.length - MAX_FINDINGS} more`);
    const first = all[0] as { mark: string; where: string; file: boolean };
    const where = quoteName(short(first.where));
    const [whereVi, whereEn] = first.file ? [`tệp ${where}`, `file ${where}`] : first.where === 'Subject' ? ['tiêu đề', 'the subject'] : [`thư đính kèm ${where}`, `attached message ${where}`];
    const mark = quoteName(short(first.mark));
    return {
      kind: 'hit',
      finding: findings[0] as string,
      extraFindings: findings.slice(1),
      reply: refusal(
        'classified',
        `${whereVi} mang dấu độ mật ${mark}; tài liệu mật không được gửi qua thư điện tử. Nếu không mật, bỏ dấu rồi gửi lại`,
        `${whereEn} bears the secrecy mark ${mark}; classified documents may not go by e-mail. If not secret, remove the mark and resend`,
      ),
    };
  },
});
