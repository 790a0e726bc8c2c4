/**
 * Flag spelling as the store keeps it. (Search text arrives folded from mail/search-text.ts:
 * the store does no text folding of its own.)
 */

const SYSTEM_FLAGS = new Map(['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft', '\\Recent'].map((f) => [f.toLowerCase(), f]));

/** Canonical flag spelling: system flags in their RFC case, keywords as given; no spaces. */
export function normalizeFlag(f: string): string {
  const sys = SYSTEM_FLAGS.get(f.toLowerCase());
  return sys ?? f.replace(/\s+/g, '');
}

export function parseFlags(s: string): string[] {
  return s === '' ? [] : s.split(' ');
}

/**
 * Flags as stored: normalized, de-duplicated (case-insensitively), in first-seen order. \Recent
 * is never stored: it belongs to a session (claimRecent, migration 5).
 */
export function formatFlags(flags: Iterable<string>): string {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const raw of flags) {
    const f = normalizeFlag(raw);
    if (f === '' || f === '\\Recent' || seen.has(f.toLowerCase())) continue;
    seen.add(f.toLowerCase());
    out.push(f);
  }
  return out.join(' ');
}
