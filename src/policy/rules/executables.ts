/**
 * R-POL-1: no executables, whatever they are called or wrapped in: configured extensions
 * (last extension of the Windows name: double extensions, trailing dots/spaces, RFC 2047/2231
 * names), a Content-Type that announces one, magic numbers (PE, ELF, Mach-O, fat) of every
 * part, zip members (also encrypted ones, by name) and zip-in-zip, RAR member names, attached
 * messages, files uuencoded in text bodies. An archive over the inspection limits cannot be
 * checked: that is a hit too, and so is a message whose MIME tree is past the nesting or part
 * limit, or a part header with more parameters than are read (a name may hide past them), and
 * a malformed message that clients may read otherwise than the scan: a part with differing
 * Content-Type / Content-Transfer-Encoding fields or two boundary parameters, a header cut short
 * by a line without a colon with MIME fields after it, a text part with NUL bytes, base64
 * restarting after "=" padding past what is checked.
 */
import { refusal, type RuleFactory } from '../deps.js';
import { quoteName } from '../names.js';
import { MAX_PARAMS, MAX_UU_FILES } from '../mime.js';
import { scanMessage, type MessageScan } from '../scan.js';
import type { RuleVerdict } from '../types.js';

const KIND_TEXT: Record<string, [string, string]> = {
  name: ['đuôi tệp thực thi', 'executable extension'],
  type: ['kiểu nội dung của tệp thực thi', 'executable content type'],
  pe: ['chương trình Windows (PE)', 'Windows program (PE)'],
  elf: ['chương trình Linux (ELF)', 'Linux program (ELF)'],
  'mach-o': ['chương trình macOS (Mach-O)', 'macOS program (Mach-O)'],
  'mach-o-fat': ['chương trình macOS (Mach-O)', 'macOS program (Mach-O fat)'],
};

function incompleteText(limit: NonNullable<MessageScan['incomplete']>['limit'], maxDepth: number, maxParts: number): [string, string] {
  if (limit === 'params') return [`một phần thư có hơn ${MAX_PARAMS} tham số tiêu đề`, `a part has more than ${MAX_PARAMS} header parameters`];
  if (limit === 'uuencoded') return [`một phần thư chứa hơn ${MAX_UU_FILES} tệp mã hóa uuencode`, `a part holds more than ${MAX_UU_FILES} uuencoded files`];
  if (limit === 'header') {
    return [
      'một phần thư có nhiều trường Content-Type hoặc Content-Transfer-Encoding khác nhau, hoặc nhiều tham số boundary; thư sai định dạng MIME',
      'a part has differing Content-Type or Content-Transfer-Encoding fields, or more than one boundary parameter; the message is malformed MIME',
    ];
  }
  if (limit === 'header-line') {
    return [
      'tiêu đề của một phần thư bị cắt ngang bởi một dòng không phải trường tiêu đề, sau dòng đó còn trường MIME trước dòng trống; thư sai định dạng MIME',
      "a part's header is cut short by a line that is not a header field, with MIME fields after it before the blank line; the message is malformed MIME",
    ];
  }
  if (limit === 'nul') return ['một phần văn bản chứa ký tự NUL; thư sai định dạng', 'a text part contains NUL characters; the message is malformed'];
  if (limit === 'base64') return ['dữ liệu base64 có quá nhiều chỗ đệm "=" giữa chừng', 'base64 data padded with "=" mid-stream too often'];
  if (limit === 'depth') return [`các phần MIME lồng nhau sâu hơn ${maxDepth} tầng`, `MIME parts nested deeper than ${maxDepth} levels`];
  if (limit === 'parts') return [`thư có hơn ${maxParts} phần MIME`, `more than ${maxParts} MIME parts`];
  return ['không phân tích được cấu trúc MIME', 'the MIME structure could not be parsed'];
}

export const executables: RuleFactory = ({ config }) => ({
  name: 'executables',
  stages: ['data'],
  async check(_ctx, msg): Promise<RuleVerdict> {
    if (!msg) return { kind: 'pass' };
    const scan = await scanMessage(msg, config);
    const found: Array<{ file: string; why: string }> = [];
    let unscannable: { file: string; reason: string } | null = null;
    for (const p of scan.parts) {
      if (p.executableType) found.push({ file: p.label, why: 'type' });
      for (const x of p.report.executables) found.push({ file: x.path || p.label, why: x.why });
      if (p.report.unscannable && !unscannable) unscannable = { file: p.label, reason: p.report.unscannable };
    }
    // De-duplicate by file (a PE named .exe is one finding).
    const byFile = new Map<string, string>();
    for (const f of found) if (!byFile.has(f.file)) byFile.set(f.file, f.why);
    const findings = [...byFile].map(([file, why]) => `executable; file=${quoteName(file)}; by=${why}`);
    if (findings.length > 0) {
      const [file, why] = [...byFile][0] as [string, string];
      const [vi, en] = KIND_TEXT[why] ?? (KIND_TEXT.name as [string, string]);
      return {
        kind: 'hit',
        finding: findings[0] as string,
        extraFindings: findings.slice(1),
        reply: refusal('executables', `tệp ${quoteName(file)} là tệp thực thi (${vi}), không được phép gửi hoặc nhận`, `file ${quoteName(file)} is an executable (${en}), which may not be sent or received`),
      };
    }
    if (scan.incomplete) {
      // SECURITY-NOTES: a limit hit is "cannot be checked", never clean; past the limit may be anything.
      const [vi, en] = incompleteText(scan.incomplete.limit, config.limits.maxMimeDepth, config.limits.maxMimeParts);
      return {
        kind: 'hit',
        finding: `unscannable; structure=${scan.incomplete.limit}; ${scan.incomplete.detail}`,
        reply: refusal('executables', `không kiểm tra được toàn bộ thư (${vi})`, `the message cannot be checked in full (${en})`),
      };
    }
    if (unscannable) {
      return {
        kind: 'hit',
        finding: `unscannable; file=${quoteName(unscannable.file)}`,
        reply: refusal(
          'executables',
          `không kiểm tra được tệp nén ${quoteName(unscannable.file)} (vượt giới hạn kiểm tra hoặc hỏng)`,
          `archive ${quoteName(unscannable.file)} cannot be checked (over the inspection limits or malformed)`,
        ),
      };
    }
    return { kind: 'pass' };
  },
});
