/**
 * SASL helpers shared by IMAP and POP3 (and anything else that speaks SASL).
 *
 *   decodeSaslPlain(b64) → { authzid, authcid, password } | null      (RFC 4616)
 *
 * null means "malformed": not strict base64, not valid UTF-8, not exactly three NUL-separated
 * fields, an empty authcid or password, or a field over 1024 bytes. "=" (an empty initial
 * response, RFC 4959/5034) is malformed here: callers handle it before decoding.
 */

export interface SaslPlain {
  /** Authorization identity ("" when absent). */
  authzid: string;
  /** Authentication identity: the user name. */
  authcid: string;
  password: string;
}

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** RFC 4616 §2: each field at most 255 octets is a SHOULD; be generous but bounded. */
const MAX_FIELD_BYTES = 1024;

export function decodeSaslPlain(b64: string): SaslPlain | null {
  const text = b64.trim();
  if (text.length === 0 || text.length > 4 * MAX_FIELD_BYTES || !B64.test(text)) return null;
  const raw = Buffer.from(text, 'base64');
  let decoded: string;
  try {
    decoded = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    return null;
  }
  const parts = decoded.split('\0');
  if (parts.length !== 3) return null;
  const [authzid, authcid, password] = parts as [string, string, string];
  if (authcid.length === 0 || password.length === 0) return null;
  if ([authzid, authcid, password].some((p) => Buffer.byteLength(p) > MAX_FIELD_BYTES)) return null;
  return { authzid, authcid, password };
}

/** The client side, for tests and tools: base64 of "authzid\0authcid\0password". */
export function encodeSaslPlain(authcid: string, password: string, authzid = ''): string {
  return Buffer.from(`${authzid}\0${authcid}\0${password}`, 'utf8').toString('base64');
}
