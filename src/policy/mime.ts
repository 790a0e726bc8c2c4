/**
 * What the rules need from a parsed message: every part (attached messages included), its
 * decoded bytes, and every name it may be saved under. The MIME tree comes from src/mail
 * (parsed once) and bodies are decoded by mail/decode.ts; here we only re-read the part's own header
 * bytes for file names, so a name the parser missed (RFC 2231 continuations, RFC 2047 words
 * inside quotes, Content-Type `name`) is still seen.
 */
import iconv from 'iconv-lite';
import { decodeBody } from '../mail/decode.js';
import { decodeQWord } from '../mail/headers.js';
import type { MimePart, ParsedMessage } from '../mail/types.js';

export interface PartView {
  part: MimePart;
  /** "1.2", or "2/1.1" inside an attached message (outer path / inner path). */
  path: string;
  /** Depth of attached messages around this part (0 = the message itself). */
  messageDepth: number;
  /** Every distinct name this part may be saved under (decoded, original spelling). */
  names: string[];
}

/** Leaves of the MIME tree, attached messages (message/rfc822) opened, in document order. */
export function leafParts(msg: ParsedMessage, raw: Buffer, maxParts = 10_000): PartView[] {
  const out: PartView[] = [];
  const walk = (p: MimePart, prefix: string, depth: number): void => {
    if (out.length >= maxParts) return;
    const path = prefix ? `${prefix}/${p.path || '0'}` : p.path || '0';
    if (p.children.length > 0) {
      for (const c of p.children) walk(c, prefix, depth);
      return;
    }
    if (p.message) {
      // The attached message itself counts as a part with a name (it may be "x.exe.eml"), then its contents.
      out.push({ part: p, path, messageDepth: depth, names: partNames(p, raw) });
      walk(p.message.part, path, depth + 1);
      return;
    }
    out.push({ part: p, path, messageDepth: depth, names: partNames(p, raw) });
  };
  walk(msg.structure, '', 0);
  return out;
}

/** Does this part look like an attachment (has a name, or is not text/message)? */
export function isAttachment(v: PartView): boolean {
  if (v.names.length > 0) return true;
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

/** Parse `type/sub; a=b; c*0*=utf-8''x; c*1=y` into params, RFC 2231 joined and decoded. Bounded. */
export function parseParams(value: string, maxParams = 256): Map<string, string> {
  type Piece = { sections: Map<number, { v: string; ext: boolean }>; plain?: string; extended?: string };
  const pieces = new Map<string, Piece>();
  const re = /;\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)/g;
  let m: RegExpExecArray | null;
  let n = 0;
  while ((m = re.exec(value)) !== null && n++ < maxParams) {
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

/** Every name a part may be saved under: parser's filename, CT name, CD filename, re-read from its header. */
export function partNames(part: MimePart, raw: Buffer): string[] {
  const names = new Set<string>();
  const add = (v: string | null | undefined): void => {
    if (v && v.trim()) names.add(decodeEncodedWords(v));
  };
  add(part.filename);
  for (const p of part.params) if (p.name === 'name' || p.name.startsWith('name*')) add(p.value);
  for (const p of part.disposition?.params ?? []) if (p.name === 'filename' || p.name.startsWith('filename*')) add(p.value);
  for (const [field, value] of headerFields(raw, part)) {
    if (field !== 'content-type' && field !== 'content-disposition') continue;
    const params = parseParams(value);
    for (const [k, v] of params) if (/^(name|filename)(#plain|#cont)?$/.test(k)) add(v);
  }
  // uuencoded files inside text bodies ("begin 644 name").
  if (part.type === 'text' && part.size < 32 * 1024 * 1024) {
    const bytes = decodeBody(raw, part, 8 * 1024 * 1024);
    // Most bodies have no "begin" at all: skip the line-by-line regex (and the string copy) for them.
    if (bytes.indexOf('begin') >= 0) {
      for (const m of bytes.toString('latin1').matchAll(/^begin(?:-base64)? [0-7]{3,4} ([^\r\n]+)$/gm)) add(m[1]);
    }
  }
  return [...names];
}

/** The outer header value of a top-level field (decoded), or null. */
export function topHeader(msg: ParsedMessage, raw: Buffer, field: string): string[] {
  const f = field.toLowerCase();
  return headerFields(raw, msg.structure).filter(([k]) => k === f).map(([, v]) => v);
}
