/**
 * The text the store indexes for SEARCH: header values decoded (RFC 2047, legacy charsets) and
 * everything folded with foldVietnamese, so "nguyen" finds "Nguyễn" and "Nguye\u0302\u0303n".
 */
import { addressOf } from './addresses.js';
import { foldVietnamese } from './fold.js';
import { decodeWords } from './headers.js';
import type { EnvelopeAddress, ParsedMessage } from './types.js';

export interface SearchText {
  subject: string;
  from: string;
  to: string;
  cc: string;
  bcc: string;
  body: string;
}

/** Decoded names and addresses of a list, space-separated (group names included). */
function addressText(list: readonly EnvelopeAddress[] | null): string {
  if (!list) return '';
  const words: string[] = [];
  for (const a of list) {
    if (a.name) words.push(decodeWords(a.name));
    if (a.host === null && a.mailbox) words.push(decodeWords(a.mailbox)); // group name
    const addr = addressOf(a);
    if (addr) words.push(addr);
  }
  return words.join(' ');
}

/** Folded search text of a parsed message. */
export function searchTextOf(p: ParsedMessage): SearchText {
  const e = p.envelope;
  return {
    subject: foldVietnamese(p.subject || (e.subject === null ? '' : decodeWords(e.subject))),
    from: foldVietnamese(addressText(e.from)),
    to: foldVietnamese(addressText(e.to)),
    cc: foldVietnamese(addressText(e.cc)),
    bcc: foldVietnamese(addressText(e.bcc)),
    body: foldVietnamese(p.bodyText),
  };
}

/** Text for the store's full-text index: subject, addresses and body text, one per line (empty ones left out). */
export function indexText(p: ParsedMessage): string {
  const t = searchTextOf(p);
  return [t.subject, t.from, t.to, t.cc, t.body].filter((s) => s.length > 0).join('\n');
}
