/**
 * What the rules need from a parsed message: every part (attached messages included), its
 * decoded bytes, and every name it may be saved under. The MIME tree comes from src/mail
 * (parsed once) and bodies are decoded by mail/decode.ts; here we only re-read the part's own header
 * bytes for file names, so a name the parser missed (RFC 2231 continuations, RFC 2047 words
 * inside quotes, Content-Type `name`) is still seen.
 */
import iconv from 'iconv-lite';
import { matchesOf } from '../lib/regex.js';
import { decodeBody } from '../mail/decode.js';
import { decodeQWord, stripComments } from '../mail/headers.js';
import type { MimePart, ParsedMessage } from '../mail/types.js';
import { decodePart, hasDataAfterPadding, type Base64Reading } from './decode.js';
import { SNIFF_BYTES } from './sniff.js';

export interface PartView {
  part: MimePart;
  /** "1.2", or "2/1.1" inside an attached message (outer path / inner path). */
  path: string;
  /** Depth of attached messages around this part (0 = the message itself). */
  messageDepth: number;
  /** Every distinct name this part, or a file uuencoded in it, may be saved under (decoded, original spelling). */
  names: string[];
  /** The names from the part's own header (Content-Type name, Content-Disposition filename). */
  fileNames: string[];
  /** Files uuencoded in a text body ("begin 644 name"): each is an attachment of its own. */
  uuencoded: UuFile[];
  /** Set when the part's header holds more parameters than are read: a name may be among the rest. */
  paramsCapped: boolean;
  /** Set when the body holds more uuencoded files than are read (MAX_UU_FILES). */
  uuCapped: boolean;
  /**
   * A text part that is not base64 or binary holds NUL bytes (raw, or =00 in quoted-printable):
   * not text (RFC 2045 §2.7/2.8, RFC 5322 §3.5); programs reading it as a C string stop there.
   */
  nul: boolean;
  /**
   * A base64 text part restarts after "=" padding with a uuencoded file at more points than are
   * tried (MAX_UU_RESTARTS), or the scan ran out of time trying them: it cannot be checked.
   */
  restartsCapped: boolean;
}

/** A file uuencoded inside a text body, as uudecode would save it. */
export interface UuFile {
  name: string;
  /** Decoded size in bytes. */
  size: number;
  /** The first decoded bytes (UU_HEAD_BYTES unless asked for more), for magic numbers. */
  head: Buffer;
}

/** Decoded bytes of a uuencoded file kept for magic-number checks (a PE header may sit 64 KiB in). */
export const UU_HEAD_BYTES = SNIFF_BYTES;

/** Parameters read per header field; past them the part's names cannot all be known. */
export const MAX_PARAMS = 256;

/** uuencoded files read per text part; past them the part cannot be checked (bounded work). */
export const MAX_UU_FILES = 1000;

/**
 * leafParts' answers, per parsed message: the executables rule (through the scan) and the
 * attachment-size rule both ask for the same message's parts, and reading them (names from the
 * headers, text bodies decoded for uuencoded files and NUL bytes) is most of a clean message's
 * policy cost. Kept only when it finished before its deadline (so it is what an unhurried reading
 * gives), for the same bytes and part limit. The views are read-only to their users.
 */
const leafCache = new WeakMap<ParsedMessage, { raw: Buffer; maxParts: number; views: readonly PartView[] }>();

/** Leaves of the MIME tree, attached messages (message/rfc822) opened, in document order. */
export function leafParts(msg: ParsedMessage, raw: Buffer, maxParts = 10_000, deadline = Number.POSITIVE_INFINITY): PartView[] {
  const cached = leafCache.get(msg);
  if (cached && cached.raw === raw && cached.maxParts === maxParts) return [...cached.views];
  const views = readLeafParts(msg, raw, maxParts, deadline);
  if (Date.now() <= deadline) leafCache.set(msg, { raw, maxParts, views });
  return [...views];
}

function readLeafParts(msg: ParsedMessage, raw: Buffer, maxParts: number, deadline: number): PartView[] {
  const out: PartView[] = [];
  const walk = (p: MimePart, prefix: string, depth: number): void => {
    if (out.length >= maxParts) return;
    const path = prefix ? `${prefix}/${p.path || '0'}` : p.path || '0';
    if (p.children.length > 0) {
      for (const c of p.children) walk(c, prefix, depth);
      return;
    }
    // An attached message counts as a part with a name (it may be "x.exe.eml"), then its contents.
    out.push({ part: p, path, messageDepth: depth, ...partFiles(p, raw, deadline) });
    const inner = inlineMessage(raw, p);
    if (inner) walk(inner, path, depth + 1);
  };
  walk(msg.structure, '', 0);
  return out;
}

/** The longest "From " separator line (RFC 4155) read as one, line break included; a longer first line is not one. */
export const MBOX_LINE_MAX = 1000;

/**
 * Where the line after an mbox "From " separator line (RFC 4155: "From ", the sender, a date)
 * at `start` begins, or -1 when the bytes in [start, end) do not begin with one (its line
 * break within MBOX_LINE_MAX bytes). Mail programs opening a message saved from an mbox file
 * skip the line and read the header from the next.
 */
export function mboxLineEnd(raw: Buffer, start: number, end = raw.length): number {
  const stop = Math.min(end, raw.length);
  if (start < 0 || stop - start < 5 || raw.toString('latin1', start, start + 5) !== 'From ') return -1;
  const lf = raw.indexOf(0x0a, start);
  return lf < 0 || lf >= stop || lf - start > MBOX_LINE_MAX ? -1 : lf + 1;
}

/**
 * The enclosed message's top part of an attached message the parser opened inline, to be
 * checked as parsed; null when there is none, or when the attached message begins with an mbox
 * "From " line: the parser ends its header at that line (its fields then read as body text),
 * while mail programs skip the line and read the header after it. Such a message is opened
 * from the line after (scan.ts openMessage), like a base64 one, never judged by the parser's
 * inline reading.
 */
export function inlineMessage(raw: Buffer, part: MimePart): MimePart | null {
  if (!part.message) return null;
  return mboxLineEnd(raw, part.bodyStart, part.end) < 0 ? part.message.part : null;
}

/** Does this part look like an attachment (a name in its header, or not text/message)? */
export function isAttachment(v: PartView): boolean {
  if (v.fileNames.length > 0) return true;
  if (v.part.disposition?.type === 'attachment') return true;
  return v.part.type !== 'text' && v.part.type !== 'message' && v.part.type !== 'multipart';
}

// ───────────────────────────── names ─────────────────────────────

function decodeCharset(bytes: Buffer, charset: string): string {
  const cs = charset.trim().toLowerCase() || 'utf-8';
  try {
    if (iconv.encodingExists(cs)) return iconv.decode(bytes, cs);
  } catch {
    /* fall through */
  }
  return bytes.toString('utf8');
}

/** RFC 2047 encoded words anywhere in a string (also inside quotes, as clients decode them). */
export function decodeEncodedWords(s: string): string {
  if (!s.includes('=?')) return s;
  return s
    .replace(/(\?=)\s+(=\?)/g, '$1$2')
    .replace(/=\?([^?*]+)(?:\*[^?]*)?\?([bBqQ])\?([^?]*)\?=/g, (_m, cs: string, enc: string, text: string) => {
      let bytes: Buffer;
      if (enc.toLowerCase() === 'b') bytes = Buffer.from(text, 'base64');
      else bytes = decodeQWord(text);
      return decodeCharset(bytes, cs);
    });
}

function percentDecode(s: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    if (ch === 0x25 && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      out.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (ch < 0x80) out.push(ch);
    else out.push(...Buffer.from(s[i] as string, 'utf8'));
  }
  return Buffer.from(out);
}

/**
 * Parse `type/sub; a=b; c*0*=utf-8''x; c*1=y` into params, RFC 2231 joined and decoded. Bounded:
 * at most `maxParams` are read, and `capped` (when given) is set if there were more.
 */
export function parseParams(value: string, maxParams = MAX_PARAMS, capped?: { hit: boolean }): Map<string, string> {
  type Piece = { sections: Map<number, { v: string; ext: boolean }>; plain?: string; extended?: string };
  const pieces = new Map<string, Piece>();
  const re = /;\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)/g;
  let m: RegExpExecArray | null;
  let n = 0;
  while ((m = re.exec(value)) !== null) {
    if (n++ >= maxParams) {
      if (capped) capped.hit = true;
      break;
    }
    let key = (m[1] as string).toLowerCase();
    let v = (m[2] as string).trim();
    if (v.startsWith('"')) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    let ext = false;
    if (key.endsWith('*')) {
      ext = true;
      key = key.slice(0, -1);
    }
    const sec = /^(.*)\*(\d{1,3})$/.exec(key);
    const base = sec ? (sec[1] as string) : key;
    const entry: Piece = pieces.get(base) ?? { sections: new Map() };
    if (sec) entry.sections.set(Number(sec[2]), { v, ext });
    else if (ext) entry.extended = v;
    else entry.plain = v;
    pieces.set(base, entry);
  }
  const out = new Map<string, string>();
  for (const [name, e] of pieces) {
    let charset = 'utf-8';
    const decodeExt = (v: string, first: boolean): Buffer => {
      if (first) {
        const q = /^([^']*)'[^']*'(.*)$/.exec(v);
        if (q) {
          charset = q[1] || 'utf-8';
          return percentDecode(q[2] as string);
        }
      }
      return percentDecode(v);
    };
    if (e.sections.size > 0) {
      const keys = [...e.sections.keys()].sort((a, b) => a - b);
      const bufs: Buffer[] = [];
      for (const k of keys) {
        const s = e.sections.get(k) as { v: string; ext: boolean };
        bufs.push(s.ext ? decodeExt(s.v, k === keys[0]) : Buffer.from(s.v, 'utf8'));
      }
      out.set(name, decodeEncodedWords(decodeCharset(Buffer.concat(bufs), charset)));
    }
    if (e.extended !== undefined) {
      const prev = out.get(name);
      const v = decodeCharset(decodeExt(e.extended, true), charset);
      if (prev !== undefined && prev !== v) out.set(`${name}#cont`, prev);
      out.set(name, v);
    }
    if (e.plain !== undefined) {
      // A plain value next to an extended one: keep both (clients differ in which they show).
      const v = decodeEncodedWords(e.plain);
      if (!out.has(name)) out.set(name, v);
      else if (out.get(name) !== v) out.set(`${name}#plain`, v);
    }
  }
  return out;
}

/** Unfolded header fields of a part's own header block, bounded. */
export function headerFields(raw: Buffer, part: MimePart, maxBytes = 64 * 1024): Array<[string, string]> {
  const text = raw.subarray(part.headerStart, Math.min(part.bodyStart, part.headerStart + maxBytes)).toString('latin1');
  const utf8 = Buffer.from(text, 'latin1').toString('utf8');
  const src = utf8.includes('\uFFFD') ? text : utf8;
  const out: Array<[string, string]> = [];
  for (const line of src.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    out.push([line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim()]);
  }
  return out;
}

/** The names of a part (parser's filename, Content-Type name, Content-Disposition filename, re-read from its header) and the files uuencoded in it. */
export function partFiles(part: MimePart, raw: Buffer, deadline = Number.POSITIVE_INFINITY): Pick<PartView, 'names' | 'fileNames' | 'uuencoded' | 'paramsCapped' | 'uuCapped' | 'nul' | 'restartsCapped'> {
  const names = new Set<string>();
  const add = (v: string | null | undefined): void => {
    if (v && v.trim()) names.add(decodeEncodedWords(v));
  };
  add(part.filename);
  for (const p of part.params) if (p.name === 'name' || p.name.startsWith('name*')) add(p.value);
  for (const p of part.disposition?.params ?? []) if (p.name === 'filename' || p.name.startsWith('filename*')) add(p.value);
  const capped = { hit: false };
  for (const [field, value] of headerFields(raw, part)) {
    if (field !== 'content-type' && field !== 'content-disposition') continue;
    // Read with and without comments: a client may do either, and either name may be the executable one.
    const readings = [value, stripComments(value)];
    for (const v of readings[1] === value ? [value] : readings) {
      for (const [k, name] of parseParams(v, MAX_PARAMS, capped)) if (/^(name|filename)(#plain|#cont)?$/.test(k)) add(name);
    }
  }
  const fileNames = [...names];
  let uuencoded: UuFile[] = [];
  let uuCapped = false;
  let nul = false;
  let restartsCapped = false;
  if (part.type === 'text') {
    const enc = part.encoding.trim().toLowerCase();
    const bytes = decodeBody(raw, part, part.size);
    // Most bodies have no "begin" at all: skip the line-by-line scan (and the string copy) for them.
    if (bytes.indexOf('begin') >= 0) ({ files: uuencoded, capped: uuCapped } = uuencodedFiles(bytes));
    // base64 with data after "=" padding: a client restarting there reads other text (the bytes
    // above run on bit by bit, shifted); look for uuencoded files in that reading too, and in
    // each restarted piece that begins with one (the piece may be saved as a text of its own).
    if (enc === 'base64' && hasDataAfterPadding(raw.subarray(part.bodyStart, Math.max(part.bodyStart, part.end)))) {
      const reading: Base64Reading = { midPadding: false, restarts: [] };
      const restarted = decodePart(raw, part, Number.MAX_SAFE_INTEGER, reading);
      if (restarted.indexOf('begin') >= 0) {
        const more = uuencodedFiles(restarted);
        uuencoded = [...uuencoded, ...more.files];
        uuCapped ||= more.capped || reading.restartsCapped === true;
        const found = restartedUuFiles(restarted, reading.restarts ?? [], MAX_UU_FILES - uuencoded.length, deadline);
        uuencoded.push(...found.files);
        restartsCapped = found.capped;
      }
    }
    nul = enc !== 'base64' && textHasNul(bytes, part);
    for (const f of uuencoded) add(f.name);
  }
  return { names: [...names], fileNames, uuencoded, paramsCapped: capped.hit, uuCapped, nul, restartsCapped };
}

/**
 * Restart points (after base64 "=" padding) tried per part for a uuencoded file beginning there,
 * at most; past them the part cannot be checked. Each try costs at most UU_RESTART_WINDOW bytes,
 * so a part of any size costs at most this many windows (never the rest of the part per point).
 */
export const MAX_UU_RESTARTS = 32;

/** Decoded bytes read from a restart point for its uuencoded file's head: UU_HEAD_BYTES of data, in lines, with room. */
export const UU_RESTART_WINDOW = Math.ceil(UU_HEAD_BYTES / 45) * 64 + 4096;

/** "begin MODE " (or "begin-base64 MODE ") exactly at lastIndex: the only test made at each restart point. */
const UU_BEGIN_AT = /begin(?:-base64)? [0-7]{1,6} [^\r\n]/y;

/**
 * Files uuencoded from a restart point on (a client may save a restarted piece as a text of its
 * own, "begin …" its first line). `restarted` is the decoded part, `restarts` where pieces
 * begin in it. Each point is tested with a sticky match on a string made once; a match decodes
 * only a window (UU_RESTART_WINDOW) for the file's name and head; when the window stops short of
 * the part's end, the file gets the largest size it may have (the rest of the part), so size
 * rules still hold.
 * At most MAX_UU_RESTARTS points are tried (and `room` files kept); past them, or past
 * `deadline`, `capped` is set: the part cannot be checked. Linear in the part's size.
 */
export function restartedUuFiles(restarted: Buffer, restarts: readonly number[], room: number, deadline = Number.POSITIVE_INFINITY): { files: UuFile[]; capped: boolean } {
  const files: UuFile[] = [];
  let text: string | null = null;
  let tries = 0;
  for (const at of restarts) {
    // Most points are not "b": no string is made for them.
    if (at >= restarted.length || restarted[at] !== 0x62) continue;
    text ??= restarted.toString('latin1');
    UU_BEGIN_AT.lastIndex = at;
    if (!UU_BEGIN_AT.test(text)) continue;
    if (++tries > MAX_UU_RESTARTS || files.length >= room || Date.now() > deadline) return { files, capped: true };
    const end = Math.min(restarted.length, at + UU_RESTART_WINDOW);
    const file = uuencodedFiles(restarted.subarray(at, end), UU_HEAD_BYTES, 1).files[0];
    if (!file) continue;
    if (end < restarted.length) file.size = Math.max(file.size, Math.floor(((restarted.length - at) * 3) / 4));
    files.push(file);
  }
  return { files, capped: false };
}

/** Charsets whose text holds NUL bytes as a matter of course (UTF-16 / UTF-32 / UCS-2 / UCS-4 code units). */
const WIDE_CHARSET = /^(?:utf-?(?:16|32)|ucs-?[24]|unicode)/i;

/** Bytes that may follow a NUL at the very end of a text (devices end their text with one). */
function isTrailer(c: number): boolean {
  return c === 0 || c === 0x0d || c === 0x0a || c === 0x20 || c === 0x09;
}

/**
 * Does the decoded text body hold a NUL before its last character? Not for a UTF-16/32 charset
 * (NUL bytes are half its ASCII), nor for NULs that only end the text (with line breaks or
 * spaces around them). Most bodies have no NUL at all: one native search decides for them.
 */
export function textHasNul(bytes: Buffer, part: MimePart): boolean {
  const first = bytes.indexOf(0);
  if (first < 0) return false;
  const charset = part.params.find((p) => p.name === 'charset')?.value.trim() ?? '';
  if (WIDE_CHARSET.test(charset)) return false;
  let last = bytes.length;
  while (last > first && isTrailer(bytes[last - 1] as number)) last--;
  return last > first;
}

/** How ambiguousHeader's answer begins when a line without a colon ended the header block early. */
export const HEADER_ENDED_EARLY = 'a line without a field name ends the header';

/** Transfer encodings that mean "no decoding" (RFC 2045 §6.2): one meaning when repeated. */
const IDENTITY_ENCODINGS = new Set(['7bit', '8bit', 'binary']);

/**
 * A Content-Transfer-Encoding value as it is read, for comparing repeats: whitespace folded,
 * lower case; 7bit, 8bit and binary are one value (none is decoded, and the scan reads the
 * bytes the same way under each), base64 or quoted-printable another.
 */
export function encodingKey(value: string): string {
  const v = value.replace(/\s+/g, ' ').trim().toLowerCase();
  return IDENTITY_ENCODINGS.has(v) ? 'identity' : v;
}

/** Header fields RFC 2045 allows once per part, whose values decide how the part is read. */
const SINGLE_FIELDS = ['content-type', 'content-transfer-encoding'];

/** Header lines looked at after a header block that a non-field line ended (up to the blank line). */
const HIDDEN_FIELD_BYTES = 64 * 1024;

/** A field line whose name a client may take for a MIME field ("Content-…:", "MIME-Version:"). */
const MIME_FIELD_LINE = /^(?:content-[!-9;-~]*|mime-version)[ \t]*:/i;

/**
 * Why the part's own header can be read in more than one way, or null: a Content-Type or
 * Content-Transfer-Encoding field more than once with different values, a Content-Type with
 * more than one boundary (or RFC 2231 boundary sections with a gap), or a header block that a
 * line without a colon ended early, MIME fields following it before the blank line. The parser
 * takes the first field and ends the header at such a line; a mail client may take another
 * (RFC 2045 allows one) or read on, so what is checked need not be what is saved. Repeats with
 * the same meaning (parsed values compared: type and parameter names in any case, quoting aside,
 * charset in any case, the boundary byte for byte) leave no doubt and are not counted. Reads the
 * header bytes line by line, converting only the lines of these two fields.
 */
export function ambiguousHeader(raw: Buffer, part: MimePart): string | null {
  const end = Math.min(part.bodyStart, raw.length);
  /** Per field, each occurrence's lines (its first line's value, then continuation lines). */
  const fields = new Map<string, string[][]>();
  let pos = Math.max(0, part.headerStart);
  let cur: string[] | null = null;
  /** Did an empty line end the header block (the ordinary case)? */
  let blank = false;
  while (pos < end) {
    let nl = raw.indexOf(0x0a, pos);
    if (nl < 0 || nl >= end) nl = end;
    const c = raw[pos] as number;
    blank = nl === pos || (nl === pos + 1 && c === 0x0d);
    if (c === 0x20 || c === 0x09) {
      if (cur) cur.push(raw.toString('latin1', pos, nl));
    } else {
      cur = null;
      // Both field names begin with "C": other lines are not converted to strings.
      if (c === 0x43 || c === 0x63) {
        const colon = pos + raw.subarray(pos, nl).indexOf(0x3a);
        if (colon > pos) {
          const name = raw.toString('latin1', pos, colon).trim().toLowerCase();
          if (SINGLE_FIELDS.includes(name)) {
            cur = [raw.toString('latin1', colon + 1, nl)];
            const list = fields.get(name) ?? [];
            list.push(cur);
            fields.set(name, list);
          }
        }
      }
    }
    pos = nl + 1;
  }
  for (const [name, list] of fields) {
    const cte = name === 'content-transfer-encoding';
    // Unfolded as RFC 5322 §2.2.3 says: line breaks out, the whitespace after them kept.
    const values = list.map((lines) => lines.map((l) => l.replace(/\r$/, '')).join(''));
    if (values.length > 1) {
      const seen = values.map((v) => (cte ? encodingKey(v) : contentTypeKey(v)));
      if (new Set(seen).size > 1) return `${cte ? 'Content-Transfer-Encoding' : 'Content-Type'} given ${seen.length} times with different values`;
    }
    if (!cte) {
      for (const v of values) {
        const n = boundaryParams(v);
        if (n > 1) return `Content-Type with ${n} boundary parameters`;
        if (boundarySectionsGap(v)) return 'Content-Type with boundary sections (RFC 2231) not numbered 0, 1, 2 …';
      }
    }
  }
  // A line that is neither a field nor a continuation ended the header (the parser reads the
  // body from there); a client that skips the line reads the fields after it as this part's.
  if (!blank && end < Math.min(part.end, raw.length)) {
    const hidden = hiddenField(raw, end, Math.min(part.end, raw.length, end + HIDDEN_FIELD_BYTES));
    if (hidden) return `${HEADER_ENDED_EARLY}, "${hidden}" follows before the blank line`;
  }
  return null;
}

/**
 * The first MIME field line (MIME_FIELD_LINE) in [from, to) before the first empty line, or
 * null. `from` is the line that ended the header block early; the body proper begins after the
 * blank line, and its lines are never looked at.
 */
function hiddenField(raw: Buffer, from: number, to: number): string | null {
  let pos = from;
  while (pos < to) {
    let nl = raw.indexOf(0x0a, pos);
    if (nl < 0 || nl >= to) nl = to;
    let e = nl;
    if (e > pos && raw[e - 1] === 0x0d) e--;
    if (e === pos) return null;
    const c = raw[pos] as number;
    if (c === 0x43 || c === 0x63 || c === 0x4d || c === 0x6d) {
      const line = raw.toString('latin1', pos, Math.min(e, pos + 200));
      const m = MIME_FIELD_LINE.exec(line);
      if (m) return line.slice(0, m[0].length - 1).trim();
    }
    pos = nl + 1;
  }
  return null;
}

/** Parameters of a header value: `; name = value` pairs (value a quoted string or up to the next ";"). */
const PARAM_RE = /;\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)/g;

/**
 * A Content-Type value as it is read, for comparing repeats: what decides how the part is
 * split and read. The media type lower-cased (comments and whitespace out), the boundary
 * parameters (plain, extended, RFC 2231 sections) by lower-cased name with the value unquoted
 * and otherwise byte for byte, and whether the charset is a wide one (UTF-16/32, UCS-2/4: NUL
 * and text checks read its bytes otherwise). Other parameters (charset, format=flowed, delsp …)
 * change how text is shown, not which parts or bytes there are; names are read from every
 * Content-Type field anyway (partFiles). Two values with the same key mean the same to the scan.
 */
export function contentTypeKey(value: string): string {
  const semi = value.search(/;|"/);
  const type = stripComments(semi < 0 ? value : value.slice(0, semi))
    .replace(/\s+/g, '')
    .toLowerCase();
  const params: string[] = [];
  let wide = false;
  for (const m of matchesOf(PARAM_RE, semi < 0 ? '' : value.slice(semi))) {
    const name = (m[1] as string).toLowerCase();
    let v = (m[2] as string).trim();
    if (v.startsWith('"')) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    if (name === 'charset' || name.startsWith('charset*')) {
      // An extended value (RFC 2231) carries charset'language' first; the rest is the value.
      if (WIDE_CHARSET.test(v.trim()) || WIDE_CHARSET.test(v.slice(v.lastIndexOf("'") + 1).trim())) wide = true;
    } else if (name === 'boundary' || name.startsWith('boundary*')) params.push(JSON.stringify([name, v]));
  }
  return JSON.stringify([type, params.sort(), wide]);
}

/**
 * How many boundary values a Content-Type value gives: each plain `boundary=`, each extended
 * `boundary*=`, and one for a set of RFC 2231 sections (`boundary*0=`, `boundary*1*=` …) unless
 * a section number repeats. One is the only unambiguous answer; comments are read as text
 * (a parameter inside one counts: some client may not skip it).
 */
export function boundaryParams(value: string): number {
  if (!/boundary/i.test(value)) return 0;
  let plain = 0;
  let sections = 0;
  const numbers = new Set<number>();
  let repeated = false;
  for (const m of matchesOf(PARAM_RE, value)) {
    const key = (m[1] as string).toLowerCase();
    if (key === 'boundary' || key === 'boundary*') {
      plain++;
      continue;
    }
    const sec = /^boundary\*(\d+)\*?$/.exec(key);
    if (!sec) continue;
    sections = 1;
    const k = Number(sec[1]);
    if (numbers.has(k)) repeated = true;
    numbers.add(k);
  }
  return plain + sections + (repeated ? 1 : 0);
}

/**
 * Are there RFC 2231 boundary sections not numbered 0, 1, 2 … without a gap (`boundary*0` and
 * `boundary*2`, or no `boundary*0`)? Readers differ there: one joins what is there, another
 * stops at the gap or ignores the parameter, each with another boundary.
 */
export function boundarySectionsGap(value: string): boolean {
  if (!/boundary\*/i.test(value)) return false;
  const numbers = new Set<number>();
  for (const m of matchesOf(PARAM_RE, value)) {
    const sec = /^boundary\*(\d+)\*?$/i.exec(m[1] as string);
    // "boundary*01" is not section 1 to every reader either.
    if (sec) numbers.add(/^0\d/.test(sec[1] as string) ? -1 : Number(sec[1]));
  }
  if (numbers.size === 0) return false;
  for (let k = 0; k < numbers.size; k++) if (!numbers.has(k)) return true;
  return false;
}

/** uuencode's character to its 6 bits (both space and backquote are 0). */
function uuBits(code: number): number {
  return (code - 32) & 63;
}

/** Bytes collected up to a cap, in 64 KiB chunks (a whole uuencoded file may be megabytes). */
class ByteSink {
  private readonly chunks: Buffer[] = [];
  private cur = Buffer.alloc(0);
  private at = 0;
  length = 0;
  constructor(private readonly max: number) {}
  push(b: number): void {
    if (this.length >= this.max) return;
    if (this.at === this.cur.length) {
      // Chunks double from 256 bytes to 64 KiB: a small file costs little, a big one few chunks.
      this.cur = Buffer.alloc(Math.min(64 * 1024, Math.max(256, this.length), this.max - this.length));
      this.chunks.push(this.cur);
      this.at = 0;
    }
    this.cur[this.at++] = b;
    this.length++;
  }
  get full(): boolean {
    return this.length >= this.max;
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks, this.length);
  }
}

/**
 * Files uuencoded in a text body: "begin MODE NAME" up to "end" (classic, each line's first
 * character giving its byte count), or "begin-base64 MODE NAME" up to "====" (uuencode -m). Sizes
 * are what uudecode writes; a block without its end line counts up to where it stops. `keep`
 * bytes of each file are decoded (the head, for magic numbers; or all of it, for an archive).
 */
export function uuencodedFiles(body: Buffer, keep = UU_HEAD_BYTES, max = MAX_UU_FILES): { files: UuFile[]; capped: boolean } {
  const text = body.toString('latin1');
  const out: UuFile[] = [];
  const begin = /^begin(-base64)? [0-7]{1,6} ([^\r\n]+?)\r?$/gm;
  let m: RegExpExecArray | null;
  while ((m = begin.exec(text)) !== null) {
    if (out.length >= max) return { files: out, capped: true };
    const base64 = m[1] !== undefined;
    let pos = text.indexOf('\n', m.index);
    let size = 0;
    const sink = new ByteSink(keep);
    /** Where the next "begin" may be: after "end"/"====", or at the line that broke the block (it may be a "begin"). */
    let resume = -1;
    while (pos >= 0 && pos < text.length) {
      const nl = text.indexOf('\n', pos + 1);
      const line = text.slice(pos + 1, nl < 0 ? text.length : nl).replace(/\r$/, '');
      resume = pos + 1;
      pos = nl;
      if (base64) {
        if (line === '====') {
          resume = pos;
          break;
        }
        if (!/^[A-Za-z0-9+/]*=*$/.test(line)) break;
        const data = sink.full ? null : Buffer.from(line, 'base64');
        size += data ? data.length : Math.floor((line.replace(/=+$/, '').length * 3) / 4);
        if (data) for (const b of data) sink.push(b);
        continue;
      }
      if (line === 'end') {
        resume = pos;
        break;
      }
      if (line.length === 0) continue;
      // A data line: only uuencode's alphabet (space to backquote); anything else ends the block.
      if (!/^[\x20-\x60]+$/.test(line)) break;
      const n = uuBits(line.charCodeAt(0));
      size += n;
      // Each 4 characters after the count carry 3 bytes; a short line reads as zero bits.
      const bit = (i: number): number => uuBits(line.charCodeAt(i) || 32);
      for (let i = 1, left = n; left > 0 && !sink.full; i += 4, left -= 3) {
        const [a, b, c, d] = [bit(i), bit(i + 1), bit(i + 2), bit(i + 3)];
        sink.push((a << 2) | (b >> 4));
        if (left > 1) sink.push(((b << 4) | (c >> 2)) & 0xff);
        if (left > 2) sink.push(((c << 6) | d) & 0xff);
      }
    }
    out.push({ name: (m[2] as string).trim(), size, head: sink.bytes() });
    if (pos < 0 && resume < 0) break;
    begin.lastIndex = resume < 0 ? text.length : Math.max(resume, m.index + 1);
  }
  return { files: out, capped: false };
}

/** The outer header value of a top-level field (decoded), or null. */
export function topHeader(msg: ParsedMessage, raw: Buffer, field: string): string[] {
  const f = field.toLowerCase();
  return headerFields(raw, msg.structure).filter(([k]) => k === f).map(([, v]) => v);
}
