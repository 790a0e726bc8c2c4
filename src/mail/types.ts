/**
 * The message model every layer shares. A message is parsed ONCE (at delivery or APPEND)
 * into a `ParsedMessage`; the store caches `envelope`, `structure` and the search text,
 * so IMAP FETCH, SEARCH and the policy pipeline never re-parse.
 *
 * All offsets are byte offsets into the exact bytes that were delivered (the blob),
 * so BODY[section] is a slice of the blob, never a re-serialisation.
 */

/** One address as IMAP's ENVELOPE carries it (RFC 3501 §7.4.2): raw header text, not decoded. */
export interface EnvelopeAddress {
  /** Display name as it appears in the header (may hold RFC 2047 encoded words). */
  name: string | null;
  /** Source route (obsolete; always null in practice). */
  adl: string | null;
  /** Local part; for group syntax, the group name (start) or null (end marker). */
  mailbox: string | null;
  /** Domain; null marks group syntax. */
  host: string | null;
}

/** IMAP ENVELOPE fields, raw header values (unfolded, not decoded), null when absent. */
export interface Envelope {
  date: string | null;
  subject: string | null;
  from: EnvelopeAddress[] | null;
  sender: EnvelopeAddress[] | null;
  replyTo: EnvelopeAddress[] | null;
  to: EnvelopeAddress[] | null;
  cc: EnvelopeAddress[] | null;
  bcc: EnvelopeAddress[] | null;
  inReplyTo: string | null;
  messageId: string | null;
}

/** A Content-Type / Content-Disposition parameter, name lower-cased, value with RFC 2231 decoded. */
export interface MimeParam {
  name: string;
  value: string;
}

/** One node of the MIME tree, with byte offsets into the message. */
export interface MimePart {
  /** IMAP part number ("1", "1.2"); "" for the top level. */
  path: string;
  /** [headerStart, bodyStart) are this part's header bytes (incl. the blank line); [bodyStart, end) its body. */
  headerStart: number;
  bodyStart: number;
  end: number;
  /** Lower-case media type and subtype; defaults per RFC 2045 (text/plain, or message/rfc822 in multipart/digest). */
  type: string;
  subtype: string;
  /** Content-Type parameters in order (charset, boundary, name …), RFC 2231 continuations joined and decoded. */
  params: MimeParam[];
  contentId: string | null;
  description: string | null;
  /** Content-Transfer-Encoding, lower case, "7bit" when absent. */
  encoding: string;
  /** Body size in bytes (end - bodyStart). */
  size: number;
  /** Body lines (text/* and message/rfc822 only, per BODYSTRUCTURE), else null. */
  lines: number | null;
  md5: string | null;
  disposition: { type: string; params: MimeParam[] } | null;
  language: string[] | null;
  location: string | null;
  /** Decoded file name from Content-Disposition filename or Content-Type name (RFC 2231 / 2047), or null. */
  filename: string | null;
  /** Sub-parts of a multipart. */
  children: MimePart[];
  /** For message/rfc822 (and message/global): the enclosed message's envelope and top part. */
  message: { envelope: Envelope; part: MimePart } | null;
}

export interface ParsedMessage {
  /** Total size in bytes (RFC822.SIZE). */
  size: number;
  envelope: Envelope;
  structure: MimePart;
  /** Decoded, human-readable header values, for search, logs and policy. */
  subject: string;
  from: string;
  to: string[];
  cc: string[];
  messageId: string | null;
  /** Date header parsed, or null if absent or malformed. */
  date: Date | null;
  /**
   * Text of text/* parts, decoded to UTF-8 (legacy charsets included), capped, for the full-text
   * index. Decoded on the first call (then kept): delivery never needs it, the index worker does.
   */
  bodyText: () => string;
  /** Parse problems that did not stop parsing (limits reached, bad encodings), for the log and policy. */
  warnings: string[];
  /**
   * Set when the MIME tree was not parsed to its end: nesting over the depth limit, more parts
   * than the part limit, or a parse failure. What was not parsed may hold anything, so policy
   * treats the message as one that cannot be checked.
   */
  incomplete: { limit: 'depth' | 'parts' | 'parse'; detail: string } | null;
}
