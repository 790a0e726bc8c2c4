/**
 * The text the store indexes for SEARCH: header values decoded (RFC 2047, legacy charsets) and
 * everything folded with foldVietnamese, so "nguyen" finds "Nguyễn" and "Nguye\u0302\u0303n".
 */
import { addressOf } from './addresses.js';
import { foldVietnamese } from './fold.js';
import { decodeWords } from './headers.js';
import { parseMessage, type ParseLimits } from './parse.js';
import type { Envelope, EnvelopeAddress, ParsedMessage } from './types.js';

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

/**
 * Folded search fields from an envelope and the body's text. `subject` is the decoded subject
 * when the caller has it (the parser does); otherwise the envelope's is decoded here.
 */
export function searchFields(e: Envelope, bodyText: string, subject?: string): SearchText {
  return {
    subject: foldVietnamese(subject || (e.subject === null ? '' : decodeWords(e.subject))),
    from: foldVietnamese(addressText(e.from)),
    to: foldVietnamese(addressText(e.to)),
    cc: foldVietnamese(addressText(e.cc)),
    bcc: foldVietnamese(addressText(e.bcc)),
    body: foldVietnamese(bodyText),
  };
}

/** Folded search fields of a parsed message. */
export function searchTextOf(p: ParsedMessage): SearchText {
  return searchFields(p.envelope, p.bodyText(), p.subject);
}

/** Folded search fields of stored bytes: what the store's index worker (store/sqlite/fts-worker.ts) indexes for each message. */
export function searchTextOfRaw(raw: Buffer, limits?: ParseLimits): SearchText {
  return searchTextOf(parseMessage(raw, limits));
}
