/**
 * Invisible characters in text people type or paste (names, titles, phone numbers, references):
 * some are harmless and dropped (Word's soft hyphen, zero-width spaces and joiners, a stray
 * byte-order mark), bidirectional controls are refused (they reorder what a reader sees:
 * "U+202E" shows a name backwards), named by code point since nobody can see them.
 */

/** Soft hyphen, zero-width space / non-joiner / joiner, word joiner, byte-order mark. */
const HARMLESS = /[\u00AD\u200B-\u200D\u2060\uFEFF]/g;

/** Bidirectional marks, embeddings, overrides and isolates. */
const BIDI = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/;

/** The text without the harmless invisible characters. */
export function dropInvisible(text: string): string {
  return text.replace(HARMLESS, '');
}

/** The first bidirectional control in the text as "U+202E", or null. */
export function bidiControlIn(text: string): string | null {
  const m = BIDI.exec(text);
  return m ? `U+${(m[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}` : null;
}
