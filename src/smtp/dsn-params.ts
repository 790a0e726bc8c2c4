/**
 * The DSN parameters of MAIL FROM (RET, ENVID) and RCPT TO (NOTIFY, ORCPT), RFC 3461 §4,
 * checked on the values exactly as sent. smtp-server has already xtext-decoded its own copy
 * (and checked NOTIFY and the shape of ORCPT); wire.ts hands the hooks the raw values too,
 * so xtext syntax and the limits of §5.4 are checked here, once, for every listener.
 */
import type { DsnNotify, MessageDsn, RecipientDsn } from '../store/port.js';
import { replies, type SmtpReply } from './reply.js';

/** ENVID and ORCPT as received, before xtext decoding (wire.ts). */
export type RawEsmtpParams = Readonly<Record<string, string | true>>;

/** RFC 3461 §4.4: "The ENVID parameter MAY be up to 100 characters in length". */
export const ENVID_MAX_CHARS = 100;
/** RFC 3461 §4.2: "The entire ORCPT parameter MAY be up to 500 characters in length". */
export const ORCPT_MAX_CHARS = 500;

/** xtext (RFC 3461 §4): "!".."~" except "+" and "=", or "+" and two upper-case hex digits. */
const XTEXT = /^(?:[\x21-\x2a\x2c-\x3c\x3e-\x7e]|\+[0-9A-F]{2})*$/;
/** RFC 5322 atom: the addr-type of ORCPT. */
const ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+$/;
/** What a DSN field may carry (RFC 3461 §4.2, §4.4: printable US-ASCII, space included). */
const PRINTABLE = /^[\x20-\x7e]*$/;

export function isXtext(s: string): boolean {
  return XTEXT.test(s);
}

export function decodeXtext(s: string): string {
  return s.replace(/\+([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reply: SmtpReply };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const no = <T>(reply: SmtpReply): Parsed<T> => ({ ok: false, reply });

/** The value of `key`, raw when wire.ts captured it, else smtp-server's (decoded) one. */
function valueOf(key: string, raw: RawEsmtpParams | undefined, args: unknown): string | true | undefined {
  const r = raw?.[key];
  if (r !== undefined) return r;
  const a = args && typeof args === 'object' ? (args as Record<string, unknown>)[key] : undefined;
  return typeof a === 'string' || a === true ? a : undefined;
}

export function parseRet(v: string | true | undefined): Parsed<MessageDsn['ret']> {
  if (v === undefined) return ok(null);
  const u = v === true ? '' : v.toUpperCase();
  return u === 'FULL' || u === 'HDRS' ? ok(u) : no(replies.badDsnRet());
}

export function parseEnvid(v: string | true | undefined): Parsed<string | null> {
  if (v === undefined) return ok(null);
  if (v === true || v.length === 0 || v.length > ENVID_MAX_CHARS || !isXtext(v)) return no(replies.badDsnEnvid());
  const decoded = decodeXtext(v);
  return PRINTABLE.test(decoded) ? ok(decoded) : no(replies.badDsnEnvid());
}

const NOTIFY_KEYWORDS: readonly DsnNotify[] = ['NEVER', 'SUCCESS', 'FAILURE', 'DELAY'];

export function parseNotify(v: string | true | undefined): Parsed<DsnNotify[] | null> {
  if (v === undefined) return ok(null);
  if (v === true || v.length === 0) return no(replies.badDsnNotify());
  const words = v.toUpperCase().split(',');
  const out: DsnNotify[] = [];
  for (const w of words) {
    const k = NOTIFY_KEYWORDS.find((n) => n === w);
    if (!k) return no(replies.badDsnNotify());
    if (!out.includes(k)) out.push(k);
  }
  if (out.includes('NEVER') && words.length > 1) return no(replies.dsnNotifyNeverCombined());
  return ok(out);
}

/** RFC 6533 §3 EmbeddedUnicodeChar: one character as `\x{HEX}` (upper case, no leading zeros). */
export function embeddedUnicodeChar(c: string): string {
  return `\\x{${(c.codePointAt(0) ?? 0).toString(16).toUpperCase()}}`;
}

/**
 * ORCPT=addr-type;xtext. The "utf-8" type (RFC 6533) may carry UTF-8 under SMTPUTF8: those
 * characters are kept in the \x{HEX} form of its utf-8-addr-xtext, so what is stored, reported
 * and relayed stays printable US-ASCII.
 */
export function parseOrcpt(v: string | true | undefined): Parsed<string | null> {
  if (v === undefined) return ok(null);
  if (v === true || v.length > ORCPT_MAX_CHARS) return no(replies.badDsnOrcpt());
  const semi = v.indexOf(';');
  if (semi <= 0 || semi === v.length - 1) return no(replies.badDsnOrcpt());
  const type = v.slice(0, semi);
  let rest = v.slice(semi + 1);
  if (!ATOM.test(type)) return no(replies.badDsnOrcpt());
  if (type.toLowerCase() === 'utf-8') {
    rest = rest.replace(/[^\x00-\x7f]/gu, embeddedUnicodeChar);
  }
  if (!isXtext(rest)) return no(replies.badDsnOrcpt());
  const decoded = decodeXtext(rest);
  return PRINTABLE.test(decoded) && decoded.length > 0 ? ok(`${type};${decoded}`) : no(replies.badDsnOrcpt());
}

/** RET and ENVID of a MAIL FROM (`args` is smtp-server's parsed, decoded copy). */
export function mailDsn(raw: RawEsmtpParams | undefined, args: unknown): Parsed<MessageDsn> {
  const ret = parseRet(valueOf('RET', raw, args));
  if (!ret.ok) return ret;
  const envid = parseEnvid(valueOf('ENVID', raw, args));
  if (!envid.ok) return envid;
  return ok({ ret: ret.value, envid: envid.value });
}

/** NOTIFY and ORCPT of a RCPT TO; null when neither was given. */
export function rcptDsn(raw: RawEsmtpParams | undefined, args: unknown): Parsed<RecipientDsn | null> {
  const notify = parseNotify(valueOf('NOTIFY', raw, args));
  if (!notify.ok) return notify;
  const orcpt = parseOrcpt(valueOf('ORCPT', raw, args));
  if (!orcpt.ok) return orcpt;
  return ok(notify.value === null && orcpt.value === null ? null : { notify: notify.value, orcpt: orcpt.value });
}

/**
 * Does this recipient want a notice of this kind? Without NOTIFY: failures and delays, never
 * successes (RFC 3461 §5.2.3–5.2.6).
 */
export function wantsNotice(d: RecipientDsn | null | undefined, kind: 'SUCCESS' | 'FAILURE' | 'DELAY'): boolean {
  const n = d?.notify ?? null;
  return n === null ? kind !== 'SUCCESS' : n.includes(kind);
}
