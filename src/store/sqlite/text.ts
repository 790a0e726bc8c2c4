/**
 * Text helpers for the full-text index. The store folds both indexed text and query terms
 * itself with the project's rule (NFD, drop U+0300–U+036F, đ/Đ → d, lower case), so search
 * works even if a caller forgets to fold.
 */
import type { Envelope, EnvelopeAddress } from '../../mail/types.js';

const COMBINING = /[\u0300-\u036f]/g;

export function fold(s: string): string {
  return s.normalize('NFD').replace(COMBINING, '').replace(/[đĐ]/g, 'd').toLowerCase();
}

const ENCODED_WORD = /=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g;

function decodeWord(charset: string, enc: string, text: string): string {
  let bytes: Buffer;
  if (enc === 'b' || enc === 'B') {
    bytes = Buffer.from(text, 'base64');
  } else {
    const q = text.replace(/_/g, ' ').replace(/=([0-9a-fA-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
    bytes = Buffer.from(q, 'latin1');
  }
  const cs = charset.split('*')[0] ?? 'utf-8';
  try {
    return new TextDecoder(cs).decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}

/** RFC 2047 encoded words → text (best effort, for indexing only). */
export function decodeEncodedWords(s: string): string {
  return s.replace(/\?=\s+=\?/g, '?==?').replace(ENCODED_WORD, (_m, cs: string, enc: string, text: string) => decodeWord(cs, enc, text));
}

function addressText(list: EnvelopeAddress[] | null): string {
  if (!list) return '';
  return list
    .map((a) => {
      const name = a.name ? decodeEncodedWords(a.name) : '';
      const addr = a.mailbox && a.host ? `${a.mailbox}@${a.host}` : (a.mailbox ?? '');
      return `${name} <${addr}>`;
    })
    .join(', ');
}

export interface FtsRow {
  subject: string;
  from: string;
  to: string;
  cc: string;
  bcc: string;
  body: string;
}

/** Columns of the full-text row: header fields from the envelope, `body` from the caller's search text. */
export function ftsRow(envelope: Envelope, searchText: string): FtsRow {
  return {
    subject: fold(envelope.subject ? decodeEncodedWords(envelope.subject) : ''),
    from: fold(addressText(envelope.from)),
    to: fold(addressText(envelope.to)),
    cc: fold(addressText(envelope.cc)),
    bcc: fold(addressText(envelope.bcc)),
    body: fold(searchText),
  };
}

const SYSTEM_FLAGS = new Map(['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft', '\\Recent'].map((f) => [f.toLowerCase(), f]));

/** Canonical flag spelling: system flags in their RFC case, keywords as given; no spaces. */
export function normalizeFlag(f: string): string {
  const sys = SYSTEM_FLAGS.get(f.toLowerCase());
  return sys ?? f.replace(/\s+/g, '');
}

export function parseFlags(s: string): string[] {
  return s === '' ? [] : s.split(' ');
}

/** Flags as stored: normalized, de-duplicated (case-insensitively), in first-seen order. */
export function formatFlags(flags: Iterable<string>): string {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const raw of flags) {
    const f = normalizeFlag(raw);
    if (f === '' || seen.has(f.toLowerCase())) continue;
    seen.add(f.toLowerCase());
    out.push(f);
  }
  return out.join(' ');
}
