/**
 * Reading the DATA stream: collect the bytes (bounded), detect bare CR and bare LF.
 *
 * SMTP smuggling (CVE-2023-51764/5/6): only <CRLF>.<CRLF> ends DATA (smtp-server gets that
 * right), but a message carrying `<LF>.<LF>` or `<CR>.<CR>` would be split in two by a
 * lenient next hop when we relay it. RFC 5321 §2.3.8 says CR and LF appear only together as
 * CRLF in SMTP, so a message with a bare CR or LF is REJECTED (550 5.6.0), never stored or
 * relayed, and never normalised (normalising would change signed content silently).
 */
import type { Readable } from 'node:stream';

export interface DataResult {
  raw: Buffer;
  /** Bytes received (also past the limit). */
  size: number;
  sizeExceeded: boolean;
  /** A CR not followed by LF, or an LF not preceded by CR. */
  bareLineEnding: boolean;
}

/** Stateful scanner for bare CR / bare LF across chunk boundaries. */
export class LineEndingScanner {
  private lastWasCr = false;
  bare = false;

  push(chunk: Buffer): void {
    if (this.bare || chunk.length === 0) return;
    // A CR at the end of the previous chunk must be followed by LF now.
    if (this.lastWasCr && chunk[0] !== 0x0a) {
      this.bare = true;
      return;
    }
    let i = chunk.indexOf(0x0a, this.lastWasCr ? 1 : 0);
    while (i >= 0) {
      if (i === 0 ? !this.lastWasCr : chunk[i - 1] !== 0x0d) {
        this.bare = true;
        return;
      }
      i = chunk.indexOf(0x0a, i + 1);
    }
    let j = chunk.indexOf(0x0d);
    while (j >= 0 && j < chunk.length - 1) {
      if (chunk[j + 1] !== 0x0a) {
        this.bare = true;
        return;
      }
      j = chunk.indexOf(0x0d, j + 1);
    }
    this.lastWasCr = chunk[chunk.length - 1] === 0x0d;
  }

  /** At the end of the data a pending CR is bare. */
  finish(): boolean {
    if (this.lastWasCr) this.bare = true;
    return this.bare;
  }
}

export function hasBareLineEnding(buf: Buffer): boolean {
  const s = new LineEndingScanner();
  s.push(buf);
  return s.finish();
}

export function readData(stream: Readable & { sizeExceeded?: boolean }, maxBytes: number): Promise<DataResult> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let kept = 0;
    const scanner = new LineEndingScanner();
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (kept + chunk.length <= maxBytes) {
        chunks.push(chunk);
        kept += chunk.length;
        scanner.push(chunk);
      }
    });
    stream.once('error', reject);
    stream.once('end', () => {
      const sizeExceeded = size > maxBytes || stream.sizeExceeded === true;
      resolve({ raw: sizeExceeded ? Buffer.alloc(0) : Buffer.concat(chunks, kept), size, sizeExceeded, bareLineEnding: scanner.finish() });
    });
  });
}

/** Header section problems: its size, and the longest header line (RFC 5322 §2.1.1: 998). */
export function headerLimits(raw: Buffer, maxHeaderBytes: number, maxLineBytes: number): 'header-too-large' | 'line-too-long' | null {
  const end = raw.indexOf('\r\n\r\n');
  const headerEnd = end < 0 ? raw.length : end + 2;
  if (headerEnd > maxHeaderBytes) return 'header-too-large';
  let pos = 0;
  while (pos < headerEnd) {
    let eol = raw.indexOf(0x0a, pos);
    if (eol < 0 || eol > headerEnd) eol = headerEnd;
    if (eol - pos - 1 > maxLineBytes) return 'line-too-long';
    pos = eol + 1;
  }
  return null;
}
