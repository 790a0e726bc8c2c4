/**
 * Header edits on an already parsed message without parsing it again (DESIGN.md: parse once).
 * Every edit happens inside the top-level header section, so all later byte offsets move by
 * the same delta: the top part's body offsets and every descendant shift, nothing else changes.
 */
import type { MimePart, ParsedMessage } from '../mail/types.js';

function shiftPart(p: MimePart, delta: number, top: boolean): MimePart {
  const children = p.children.map((c) => shiftPart(c, delta, false));
  const message = p.message ? { envelope: p.message.envelope, part: shiftPart(p.message.part, delta, false) } : null;
  return {
    ...p,
    headerStart: top ? p.headerStart : p.headerStart + delta,
    bodyStart: p.bodyStart + delta,
    end: p.end + delta,
    children,
    message,
  };
}

/** Header lines must be single logical lines: a CR or LF inside would inject headers. */
export function assertHeaderLine(line: string): void {
  if (!/^[!-9;-~]+:/.test(line)) throw new Error(`not a header line: ${JSON.stringify(line.slice(0, 40))}`);
  if (/[\r\n]/.test(line.replace(/\r\n[ \t]/g, ''))) throw new Error('header line contains a bare line break');
}

/**
 * Prepend header lines ("Name: value", folded with CRLF+WSP if needed) and remove top-level
 * header fields by name, in ONE copy of the message: a 2 MB message used to be copied once per
 * edit along the delivery path (Received, then Return-Path), several in flight at a time.
 */
export function editHeaders(
  raw: Buffer,
  parsed: ParsedMessage,
  edit: { prepend?: readonly string[]; remove?: (nameLower: string) => boolean },
): { raw: Buffer; parsed: ParsedMessage; removed: number } {
  const lines = edit.prepend ?? [];
  for (const l of lines) assertHeaderLine(l);
  const ranges = edit.remove ? findHeaderFields(raw, parsed.structure.bodyStart, edit.remove) : [];
  if (lines.length === 0 && ranges.length === 0) return { raw, parsed, removed: 0 };
  const head = Buffer.from(lines.map((l) => `${l}\r\n`).join(''), 'utf8');
  const pieces: Buffer[] = [head];
  let at = 0;
  let removedBytes = 0;
  for (const [s, e] of ranges) {
    pieces.push(raw.subarray(at, s));
    removedBytes += e - s;
    at = e;
  }
  pieces.push(raw.subarray(at));
  const out = Buffer.concat(pieces, head.length + raw.length - removedBytes);
  return { raw: out, parsed: { ...parsed, size: out.length, structure: shiftPart(parsed.structure, head.length - removedBytes, true) }, removed: ranges.length };
}

/** Prepend header lines to the message (see editHeaders). */
export function prependHeaders(raw: Buffer, parsed: ParsedMessage, lines: readonly string[]): { raw: Buffer; parsed: ParsedMessage } {
  const r = editHeaders(raw, parsed, { prepend: lines });
  return { raw: r.raw, parsed: r.parsed };
}

/** Byte ranges [start, end) of top-level header fields whose name matches (each with its folded continuation lines). */
export function findHeaderFields(raw: Buffer, headerEnd: number, match: (nameLower: string) => boolean): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let pos = 0;
  let current: [number, number] | null = null;
  while (pos < headerEnd) {
    let eol = raw.indexOf(0x0a, pos);
    if (eol < 0 || eol >= headerEnd) eol = headerEnd - 1;
    const lineEnd = eol + 1;
    const first = raw[pos];
    if (first === 0x20 || first === 0x09) {
      if (current) current[1] = lineEnd;
    } else {
      if (current) out.push(current);
      current = null;
      const colon = raw.indexOf(0x3a, pos);
      if (colon > pos && colon < eol) {
        const name = raw.subarray(pos, colon).toString('latin1').trim().toLowerCase();
        if (match(name)) current = [pos, lineEnd];
      }
    }
    pos = lineEnd;
  }
  if (current) out.push(current);
  return out;
}

/** Remove top-level header fields by name (e.g. incoming X-Buudien-*), shifting offsets. */
export function removeHeaders(raw: Buffer, parsed: ParsedMessage, match: (nameLower: string) => boolean): { raw: Buffer; parsed: ParsedMessage; removed: number } {
  return editHeaders(raw, parsed, { remove: match });
}

/** Remove header fields from raw bytes alone (before parsing); returns the same buffer when none match. */
export function stripRawHeaders(raw: Buffer, match: (nameLower: string) => boolean): Buffer {
  const crlf = raw.indexOf('\r\n\r\n');
  const headerEnd = crlf < 0 ? raw.length : crlf + 2;
  const ranges = findHeaderFields(raw, headerEnd, match);
  if (ranges.length === 0) return raw;
  const pieces: Buffer[] = [];
  let at = 0;
  for (const [s, e] of ranges) {
    pieces.push(raw.subarray(at, s));
    at = e;
  }
  pieces.push(raw.subarray(at));
  return Buffer.concat(pieces);
}

/**
 * Replace the Subject with `encoded` (a complete, already RFC 2047-encoded header value) and
 * update the cached subject fields. `decoded` is the human-readable new subject.
 */
export function replaceSubject(raw: Buffer, parsed: ParsedMessage, encoded: string, decoded: string): { raw: Buffer; parsed: ParsedMessage } {
  const line = `Subject: ${encoded}`;
  assertHeaderLine(line);
  const ranges = findHeaderFields(raw, parsed.structure.bodyStart, (n) => n === 'subject');
  const replacement = Buffer.from(`${line}\r\n`, 'utf8');
  let out: Buffer;
  let delta: number;
  const first = ranges[0];
  if (first) {
    const [s, e] = first;
    out = Buffer.concat([raw.subarray(0, s), replacement, raw.subarray(e)]);
    delta = replacement.length - (e - s);
  } else {
    out = Buffer.concat([replacement, raw]);
    delta = replacement.length;
  }
  return {
    raw: out,
    parsed: {
      ...parsed,
      size: out.length,
      subject: decoded,
      envelope: { ...parsed.envelope, subject: encoded },
      structure: shiftPart(parsed.structure, delta, true),
    },
  };
}
