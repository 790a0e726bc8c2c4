/**
 * Line endings in stored messages: CR and LF appear only together, as CRLF (RFC 5322 §2.3).
 * SMTP refuses a message with a bare CR or LF (smtp/data.ts, smuggling); APPEND, where no
 * relay follows, stores it with every bare LF or CR made a CRLF, so every reader of the
 * stored bytes (HEADER.FIELDS, BODY[part], POP3) sees one line structure.
 */

/** The bytes with each bare LF and bare CR turned into CRLF; the same buffer when there is none. */
export function toCrlf(raw: Buffer): Buffer {
  const first = firstBare(raw);
  if (first < 0) return raw;
  const out: Buffer[] = [raw.subarray(0, first)];
  let from = first;
  for (let i = first; i < raw.length; i++) {
    const b = raw[i];
    if (b === 0x0d) {
      if (raw[i + 1] === 0x0a) {
        i++;
        continue;
      }
    } else if (b !== 0x0a) continue;
    // A bare CR or a bare LF at i: copy what came before it, then a CRLF in its place.
    out.push(raw.subarray(from, i), CRLF);
    from = i + 1;
  }
  out.push(raw.subarray(from));
  return Buffer.concat(out);
}

const CRLF = Buffer.from('\r\n');

/** Does the buffer hold a CR or LF that is not part of a CRLF? */
export function hasBareLineEnding(raw: Buffer): boolean {
  return firstBare(raw) >= 0;
}

/** Offset of the first bare CR or LF, or -1. */
function firstBare(raw: Buffer): number {
  let lf = raw.indexOf(0x0a);
  while (lf >= 0) {
    if (lf === 0 || raw[lf - 1] !== 0x0d) break;
    lf = raw.indexOf(0x0a, lf + 1);
  }
  let cr = raw.indexOf(0x0d);
  while (cr >= 0 && raw[cr + 1] === 0x0a) cr = raw.indexOf(0x0d, cr + 1);
  if (lf < 0) return cr;
  if (cr < 0) return lf;
  return Math.min(lf, cr);
}
