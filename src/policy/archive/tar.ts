/**
 * tar (POSIX ustar, GNU, pax, v7) headers: 512-byte blocks, each a header (name, size, type,
 * checksum) followed by the member's data rounded up to 512 bytes. GNU long names ('L') and pax
 * `path` records ('x') give the names members are saved under. Zero blocks are skipped (as
 * `tar --ignore-zeros` does: nothing after them is hidden); a header with a bad checksum, a size
 * that cannot be read or data past the end is malformed (ArchiveLimitError: cannot be checked).
 */
import { ArchiveLimitError } from './zip.js';

export interface TarMember {
  /** Every name the member may be saved under (header name with its ustar prefix, GNU long name, pax path). */
  names: string[];
  /** The member's bytes (a slice of the archive). */
  data: Buffer;
}

function text(b: Buffer): string {
  const end = b.indexOf(0);
  const s = b.subarray(0, end < 0 ? b.length : end);
  const utf8 = s.toString('utf8');
  return utf8.includes('\uFFFD') ? s.toString('latin1') : utf8;
}

function octal(b: Buffer, what: string): number {
  if ((b[0] as number) & 0x80) {
    // GNU base-256: big-endian binary after the marker bit.
    let n = (b[0] as number) & 0x7f;
    for (let i = 1; i < b.length; i++) n = n * 256 + (b[i] as number);
    if (!Number.isSafeInteger(n)) throw new ArchiveLimitError(`tar: ${what} too large`);
    return n;
  }
  const s = b.toString('latin1').replace(/[\0 ]+$/, '').replace(/^ +/, '');
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new ArchiveLimitError(`tar: bad ${what} field`);
  return parseInt(s, 8);
}

function checksumOk(h: Buffer): boolean {
  const stored = octal(h.subarray(148, 156), 'checksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : (h[i] as number);
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  return stored === unsigned || stored === signed;
}

/** pax extended header records ("LEN key=value\n"): the `path` value, if any. */
function paxPath(data: Buffer): string | null {
  let path: string | null = null;
  let at = 0;
  while (at < data.length) {
    const sp = data.indexOf(0x20, at);
    if (sp < 0) break;
    const len = parseInt(data.subarray(at, sp).toString('latin1'), 10);
    if (!(len > 0) || at + len > data.length) throw new ArchiveLimitError('tar: bad pax record');
    const rec = data.subarray(sp + 1, at + len - 1).toString('utf8');
    if (rec.startsWith('path=')) path = rec.slice(5);
    at += len;
  }
  return path;
}

/** The members of a tar archive, at most `maxEntries`. */
export function readTar(buf: Buffer, maxEntries: number): TarMember[] {
  const out: TarMember[] = [];
  let off = 0;
  let longName: string | null = null;
  let pax: string | null = null;
  while (off + 512 <= buf.length) {
    const h = buf.subarray(off, off + 512);
    off += 512;
    if (h.every((b) => b === 0)) continue;
    if (!checksumOk(h)) throw new ArchiveLimitError(`tar: bad header checksum at ${off - 512}`);
    const size = octal(h.subarray(124, 136), 'size');
    const type = String.fromCharCode(h[156] as number);
    const start = off;
    if (start + size > buf.length) throw new ArchiveLimitError('tar: member data past the end');
    off = start + Math.ceil(size / 512) * 512;
    const data = buf.subarray(start, start + size);
    if (type === 'L') {
      longName = text(data);
      continue;
    }
    if (type === 'x') {
      pax = paxPath(data) ?? pax;
      continue;
    }
    if (type === 'g' || type === 'K') continue;
    if (out.length >= maxEntries) throw new ArchiveLimitError(`tar: more than ${maxEntries} members`);
    const ustar = h.subarray(257, 262).toString('latin1') === 'ustar';
    const prefix = ustar ? text(h.subarray(345, 500)) : '';
    const base = text(h.subarray(0, 100));
    const names = [...new Set([prefix ? `${prefix}/${base}` : base, longName, pax].filter((n): n is string => n !== null && n !== ''))];
    out.push({ names: names.length > 0 ? names : [''], data: type === '5' ? Buffer.alloc(0) : data });
    longName = null;
    pax = null;
  }
  if (off < buf.length && buf.subarray(off).some((b) => b !== 0)) throw new ArchiveLimitError('tar: trailing bytes after the last block');
  return out;
}
