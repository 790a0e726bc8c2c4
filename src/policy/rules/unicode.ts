/**
 * R-POL-8: Vietnamese text in the official mail system is written in Unicode, TCVN 6909:2001
 * (NA Đ12.3: "Sử dụng bộ mã các ký tự chữ Việt theo tiêu chuẩn TCVN 6909:2001 để thể hiện các
 * nội dung trao đổi trong hệ thống Thư điện tử công vụ").
 *
 * Mail our own users submit is checked, where they can fix it: the subject, the sender's display
 * name and the message's own text (its text/plain and text/html parts; not attached files, not
 * forwarded messages, which are other people's writing). Findings, from vietnamese-text.ts:
 * - `unicode; in="Subject"; problem=legacy-charset; charset="windows-1258"`: a character set that
 *   is not Unicode declared for that text (a part's charset, an encoded word's);
 * - `unicode; in="body"; problem=legacy-font; encoding=TCVN3; example="B¸o" is "Báo"`: Vietnamese
 *   typed with a TCVN3 (.VnTime) or VNI font, which every other reader sees as Latin-1 letters.
 * The default action is `flag` (delivered; the finding goes in the header, the send log and the
 * quarterly report); `reject` refuses with 550 5.7.1 saying what to change. Inbound mail is not
 * judged: its writers are not ours to tell.
 */
import { matchesOf } from '../../lib/regex.js';
import { decodeBody } from '../../mail/decode.js';
import { decodeCharset } from '../../mail/charset.js';
import { decodeWords, getParam } from '../../mail/headers.js';
import { htmlToText } from '../../mail/html.js';
import type { MimePart } from '../../mail/types.js';
import { refusal, type RuleFactory } from '../deps.js';
import { quoteName } from '../names.js';
import { legacyCharsetOf, legacyFont, type LegacyFontText } from '../vietnamese-text.js';
import type { RuleVerdict } from '../types.js';

type Where = 'Subject' | 'From' | 'body';

type Problem = { in: Where; problem: 'legacy-charset'; charset: string } | ({ in: Where; problem: 'legacy-font' } & LegacyFontText);

/** Text parts read per message, and decoded bytes read per part, at most (bounded work). */
const MAX_TEXT_PARTS = 8;
const PART_BYTES = 64 * 1024;
/** Words that must read as legacy-font Vietnamese: a subject or a name is short. */
const MIN_WORDS_SHORT = 2;
const MIN_WORDS_BODY = 3;

/** The message's own text parts: text/plain and text/html leaves that are not files, outside attached messages. */
function textParts(p: MimePart, out: MimePart[] = []): MimePart[] {
  if (out.length >= MAX_TEXT_PARTS || p.type === 'message') return out;
  if (p.children.length > 0) {
    for (const c of p.children) textParts(c, out);
    return out;
  }
  const attachment = p.filename !== null || p.disposition?.type.toLowerCase() === 'attachment';
  if (p.type === 'text' && (p.subtype === 'plain' || p.subtype === 'html') && !attachment) out.push(p);
  return out;
}

/** An RFC 2047 encoded word and its charset (RFC 2231 §5 allows a language after "*"). */
const ENCODED_WORD = /=\?([^?*\s]+)(?:\*[^?\s]*)?\?[bBqQ]\?[^?\s]*\?=/g;

/** The legacy character set of the first encoded word in a raw header value whose own text is Vietnamese. */
function legacyWords(raw: string): string | null {
  for (const m of matchesOf(ENCODED_WORD, raw)) {
    const legacy = legacyCharsetOf(m[1] as string, decodeWords(m[0]));
    if (legacy) return legacy;
  }
  return null;
}

const WHERE_TEXT: Record<Where, [string, string]> = {
  Subject: ['tiêu đề thư', 'the subject'],
  From: ['tên người gửi', "the sender's name"],
  body: ['nội dung thư', 'the message text'],
};

export const unicode: RuleFactory = () => ({
  name: 'unicode',
  stages: ['data'],
  async check(ctx, msg): Promise<RuleVerdict> {
    if (!msg || ctx.direction !== 'submission') return { kind: 'pass' };
    const problems: Problem[] = [];
    const note = (p: Problem): void => {
      if (!problems.some((q) => q.in === p.in && q.problem === p.problem)) problems.push(p);
    };
    const { envelope } = msg.parsed;
    const subjectCharset = legacyWords(envelope.subject ?? '');
    if (subjectCharset) note({ in: 'Subject', problem: 'legacy-charset', charset: subjectCharset });
    const subjectFont = legacyFont(msg.parsed.subject, MIN_WORDS_SHORT);
    if (subjectFont) note({ in: 'Subject', problem: 'legacy-font', ...subjectFont });
    for (const a of envelope.from ?? []) {
      if (!a.name) continue;
      const name = decodeWords(a.name);
      const nameCharset = legacyWords(a.name);
      if (nameCharset) note({ in: 'From', problem: 'legacy-charset', charset: nameCharset });
      const font = legacyFont(name, MIN_WORDS_SHORT);
      if (font) note({ in: 'From', problem: 'legacy-font', ...font });
    }
    for (const [i, part] of textParts(msg.parsed.structure).entries()) {
      // Reading a part is synchronous work (up to tens of milliseconds for 64 KB of words): let other sessions run between parts.
      if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      const charset = getParam(part.params, 'charset') ?? 'us-ascii';
      let text = decodeCharset(decodeBody(msg.raw, part, PART_BYTES), charset);
      if (part.subtype === 'html') text = htmlToText(text);
      const legacy = legacyCharsetOf(charset, text);
      if (legacy) note({ in: 'body', problem: 'legacy-charset', charset: legacy });
      const font = legacyFont(text, MIN_WORDS_BODY);
      if (font) note({ in: 'body', problem: 'legacy-font', ...font });
    }
    if (problems.length === 0) return { kind: 'pass' };
    const findings = problems.map((p) =>
      p.problem === 'legacy-charset'
        ? `unicode; in=${quoteName(p.in)}; problem=legacy-charset; charset=${quoteName(p.charset)}`
        : `unicode; in=${quoteName(p.in)}; problem=legacy-font; encoding=${p.encoding}; example=${quoteName(p.example.written)} is ${quoteName(p.example.meant)}`,
    );
    const first = problems[0] as Problem;
    const [whereVi, whereEn] = WHERE_TEXT[first.in];
    const [vi, en] =
      first.problem === 'legacy-charset'
        ? [
            `${whereVi} dùng bảng mã ${first.charset}, không phải chữ Việt Unicode (TCVN 6909:2001); hãy đặt mã hóa thư là Unicode (UTF-8) rồi gửi lại`,
            `${whereEn} uses the ${first.charset} character set, not Vietnamese Unicode (TCVN 6909:2001); set the message encoding to Unicode (UTF-8) and resend`,
          ]
        : [
            `${whereVi} được gõ bằng phông ${first.encoding} ("${first.example.written}" là "${first.example.meant}"), không phải chữ Việt Unicode (TCVN 6909:2001); hãy chuyển bộ gõ sang bảng mã Unicode, gõ lại rồi gửi lại`,
            `${whereEn} is typed in a ${first.encoding} font ("${first.example.written}" is "${first.example.meant}"), not Vietnamese Unicode (TCVN 6909:2001); set the keyboard to Unicode, retype and resend`,
          ];
    return { kind: 'hit', finding: findings[0] as string, extraFindings: findings.slice(1), reply: refusal('unicode', vi, en) };
  },
});
