/** Content sniffing: what a file is from its first bytes, whatever its name says. */

export type ExecutableKind = 'pe' | 'elf' | 'mach-o' | 'mach-o-fat';

/** Bytes needed to recognise any executable kind we know (PE's header may sit up to here). */
export const SNIFF_BYTES = 64 * 1024;

export function sniffExecutable(b: Uint8Array): ExecutableKind | null {
  if (b.length >= 4 && b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46) return 'elf';
  // "MZ" and a binary DOS header is an executable on its own: a PE, a DOS program, or a PE whose
  // header (e_lfanew) lies past the bytes sniffed; Windows runs all of them whatever the name
  // says. A real header is 64 bytes with zero fields in it; text that happens to begin "MZ-2024…"
  // has no NUL there and is not one.
  if (b.length >= 64 && b[0] === 0x4d && b[1] === 0x5a && b.subarray(2, 64).includes(0)) return 'pe';
  if (b.length >= 8) {
    const be = (((b[0] as number) << 24) | ((b[1] as number) << 16) | ((b[2] as number) << 8) | (b[3] as number)) >>> 0;
    if (be === 0xfeedface || be === 0xfeedfacf || be === 0xcefaedfe || be === 0xcffaedfe) return 'mach-o';
    if (be === 0xcafebabe || be === 0xcafebabf) {
      // Fat binary: nfat_arch is small; a Java class file has its version (≥ 45) here instead.
      const n = (((b[4] as number) << 24) | ((b[5] as number) << 16) | ((b[6] as number) << 8) | (b[7] as number)) >>> 0;
      if (n > 0 && n < 45) return 'mach-o-fat';
    }
  }
  return null;
}

export type ArchiveKind = 'zip' | 'rar4' | 'rar5' | '7z' | 'gzip' | 'bzip2' | 'xz' | 'tar';

export function sniffArchive(b: Uint8Array): ArchiveKind | null {
  if (b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && ((b[2] === 3 && b[3] === 4) || (b[2] === 5 && b[3] === 6) || (b[2] === 7 && b[3] === 8))) return 'zip';
  if (b.length >= 7 && b[0] === 0x52 && b[1] === 0x61 && b[2] === 0x72 && b[3] === 0x21 && b[4] === 0x1a && b[5] === 0x07) {
    if (b[6] === 0x00) return 'rar4';
    if (b[6] === 0x01 && b[7] === 0x00) return 'rar5';
  }
  if (b.length >= 6 && b[0] === 0x37 && b[1] === 0x7a && b[2] === 0xbc && b[3] === 0xaf && b[4] === 0x27 && b[5] === 0x1c) return '7z';
  if (b.length >= 3 && b[0] === 0x1f && b[1] === 0x8b && b[2] === 0x08) return 'gzip';
  if (b.length >= 4 && b[0] === 0x42 && b[1] === 0x5a && b[2] === 0x68 && (b[3] as number) >= 0x31 && (b[3] as number) <= 0x39) return 'bzip2';
  if (b.length >= 6 && b[0] === 0xfd && b[1] === 0x37 && b[2] === 0x7a && b[3] === 0x58 && b[4] === 0x5a && b[5] === 0x00) return 'xz';
  // POSIX and GNU tar: "ustar" at offset 257 of the first header block.
  if (b.length >= 262 && b[257] === 0x75 && b[258] === 0x73 && b[259] === 0x74 && b[260] === 0x61 && b[261] === 0x72) return 'tar';
  return null;
}

/** Header fields that mark the start of an RFC 5322 message (one of them must be there). */
const MESSAGE_FIELDS = new Set([
  'from', 'to', 'cc', 'bcc', 'subject', 'date', 'message-id', 'received', 'return-path', 'mime-version', 'content-type',
  'reply-to', 'sender', 'in-reply-to', 'references', 'delivered-to', 'dkim-signature', 'authentication-results', 'x-mailer',
]);

/**
 * Does the file start like an RFC 5322 message (an .eml, whatever it is called)? Header lines
 * (field name, colon; folded lines; an mbox "From " line first) up to a blank line or the end
 * of what is sniffed, one of them a usual message field.
 */
export function sniffMessage(b: Uint8Array): boolean {
  const text = Buffer.from(b.buffer, b.byteOffset, Math.min(b.byteLength, 16 * 1024)).toString('latin1');
  const lines = text.split('\n');
  // The last line may be cut by the window: it is not judged (unless it is the whole file's end).
  if (b.byteLength > text.length) lines.pop();
  let known = false;
  for (const [i, raw] of lines.entries()) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '') return known && i > 0;
    if (i === 0 && line.startsWith('From ')) continue;
    if (i > 0 && (line[0] === ' ' || line[0] === '\t')) continue;
    const m = /^([!-9;-~]+)[ \t]*:/.exec(line);
    if (!m) return false;
    if (MESSAGE_FIELDS.has((m[1] as string).toLowerCase())) known = true;
  }
  return known;
}

/** How far from its end a zip's end record can be: the 22-byte record and a comment of up to 65,535 bytes. */
export const ZIP_END_SEARCH_BYTES = 22 + 0xffff;
const ZIP_END_SIGNATURE = Buffer.from([0x50, 0x4b, 0x05, 0x06]);

/**
 * Does a zip end-of-central-directory record close the file (a zip appended to a PDF, an image,
 * anything)? Searched only where it can be: the last 64 KiB + 22 bytes; its comment must reach
 * exactly to the end of the file.
 */
export function hasZipEnd(b: Uint8Array): boolean {
  const buf = Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const floor = Math.max(0, buf.length - ZIP_END_SEARCH_BYTES);
  // Native searches for the signature from the end, not a byte-by-byte loop (every part of every
  // message is looked at).
  for (let i = buf.length - 22; i >= floor; i--) {
    i = buf.lastIndexOf(ZIP_END_SIGNATURE, i);
    if (i < floor) return false;
    if (i + 22 + buf.readUInt16LE(i + 20) === buf.length) return true;
  }
  return false;
}
