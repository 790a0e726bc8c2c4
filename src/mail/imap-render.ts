/**
 * IMAP serialisers for FETCH ENVELOPE, BODY and BODYSTRUCTURE (RFC 3501 §7.4.2, RFC 9051 §7.5.2).
 *
 * Decisions:
 * - Strings: quoted when printable 7-bit ASCII (with `"` and `\` escaped as RFC 3501's grammar
 *   allows), otherwise a literal `{n}\r\n…` (CR, LF, 8-bit); n counts UTF-8 bytes. NUL never
 *   goes out (it becomes a space). NIL for null.
 * - Envelope fields are the raw header values (RFC 2047 words kept), as RFC 3501 requires.
 * - BODYSTRUCTURE parameters: our model holds RFC 2231-decoded values. ASCII values go out as
 *   `"name" "value"`. A non-ASCII value goes out re-encoded as RFC 2231, `"name*" "utf-8''%XX…"`,
 *   continuations already joined: this matches what Dovecot sends for RFC 2231 parameters (the
 *   parameter named with its `*`) and keeps the response 7-bit for clients without UTF8=ACCEPT.
 * - A text part with no charset parameter gets `("charset" "us-ascii")` (RFC 2045 default, as
 *   RFC 3501's example and Dovecot show it).
 * - Type, subtype and encoding go out lower case, as stored (IMAP compares them case-insensitively).
 * - A message/rfc822 (or message/global) part that was not descended (encoded, or over the depth
 *   or part caps) has no enclosed structure; it is sent as "application" "octet-stream" so the
 *   response stays grammatical.
 * - Content-Language: one value as a string, several as a list, none as NIL.
 */
import { percentEncode } from './headers.js';
import type { Envelope, EnvelopeAddress, MimeParam, MimePart } from './types.js';

/** An IMAP string: quoted if printable ASCII, else a literal; NIL for null. */
export function imapString(s: string | null): string {
  if (s === null) return 'NIL';
  const v = s.replace(/\0/g, ' ');
  if (/^[\x20-\x7e]*$/.test(v)) return `"${v.replace(/["\\]/g, '\\$&')}"`;
  return `{${Buffer.byteLength(v, 'utf8')}}\r\n${v}`;
}

function addressList(list: readonly EnvelopeAddress[] | null): string {
  if (!list || list.length === 0) return 'NIL';
  return `(${list.map((a) => `(${imapString(a.name)} ${imapString(a.adl)} ${imapString(a.mailbox)} ${imapString(a.host)})`).join('')})`;
}

/** ENVELOPE: (date subject from sender reply-to to cc bcc in-reply-to message-id). */
export function renderEnvelope(e: Envelope): string {
  return `(${[
    imapString(e.date),
    imapString(e.subject),
    addressList(e.from),
    addressList(e.sender),
    addressList(e.replyTo),
    addressList(e.to),
    addressList(e.cc),
    addressList(e.bcc),
    imapString(e.inReplyTo),
    imapString(e.messageId),
  ].join(' ')})`;
}

function paramList(params: readonly MimeParam[], textDefault = false): string {
  const items: string[] = [];
  let hasCharset = false;
  for (const p of params) {
    if (p.name === 'charset') hasCharset = true;
    if (/^[\x20-\x7e]*$/.test(p.value)) items.push(`${imapString(p.name)} ${imapString(p.value)}`);
    else items.push(`${imapString(`${p.name}*`)} ${imapString(`utf-8''${percentEncode(p.value)}`)}`);
  }
  if (textDefault && !hasCharset) items.unshift('"charset" "us-ascii"');
  return items.length === 0 ? 'NIL' : `(${items.join(' ')})`;
}

function dispositionOf(p: MimePart): string {
  if (!p.disposition) return 'NIL';
  return `(${imapString(p.disposition.type)} ${paramList(p.disposition.params)})`;
}

function languageOf(p: MimePart): string {
  if (!p.language || p.language.length === 0) return 'NIL';
  if (p.language.length === 1) return imapString(p.language[0]!);
  return `(${p.language.map(imapString).join(' ')})`;
}

/**
 * BODY (extended = false) or BODYSTRUCTURE (extended = true) of a part and its children.
 * Multipart: (child…child "subtype" [params disposition language location]).
 * Other: ("type" "subtype" params id description encoding size [envelope body lines | lines]
 * [md5 disposition language location]).
 */
export function renderBodyStructure(p: MimePart, extended: boolean): string {
  if (p.type === 'multipart' && p.children.length > 0) {
    let s = `(${p.children.map((c) => renderBodyStructure(c, extended)).join('')} ${imapString(p.subtype)}`;
    if (extended) s += ` ${paramList(p.params)} ${dispositionOf(p)} ${languageOf(p)} ${imapString(p.location)}`;
    return `${s})`;
  }
  const isMsg = p.type === 'message' && p.message !== null;
  const undescended = p.type === 'message' && (p.subtype === 'rfc822' || p.subtype === 'global') && p.message === null;
  const multipartLeaf = p.type === 'multipart'; // parseMessage never yields one (a multipart without parts becomes text/plain); kept safe
  const type = undescended || multipartLeaf ? 'application' : p.type;
  const subtype = undescended || multipartLeaf ? 'octet-stream' : p.subtype;
  const fields = [
    imapString(type),
    imapString(subtype),
    paramList(p.params, type === 'text'),
    imapString(p.contentId),
    imapString(p.description),
    imapString(p.encoding),
    String(p.size),
  ];
  if (isMsg && p.message) {
    fields.push(renderEnvelope(p.message.envelope), renderBodyStructure(p.message.part, extended), String(p.lines ?? 0));
  } else if (type === 'text') {
    fields.push(String(p.lines ?? 0));
  }
  if (extended) fields.push(imapString(p.md5), dispositionOf(p), languageOf(p), imapString(p.location));
  return `(${fields.join(' ')})`;
}

/** ENVELOPE, BODY and BODYSTRUCTURE strings of a message, computed once when it is stored. */
export function renderImapStrings(envelope: Envelope, structure: MimePart): { envelope: string; body: string; bodyStructure: string } {
  return { envelope: renderEnvelope(envelope), body: renderBodyStructure(structure, false), bodyStructure: renderBodyStructure(structure, true) };
}
