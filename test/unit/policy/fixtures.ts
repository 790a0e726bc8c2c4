/**
 * Fixtures made in code (no binaries committed): executables' first bytes, zip (stored,
 * deflated, ZipCrypto, AES, zip64-free), overlapping-entry and nested zip bombs, minimal RAR4,
 * RAR5 and 7z structures, and MIME messages with every way of naming a file.
 */
import { crc32 } from 'node:zlib';
import { deflateSync } from 'fflate';
import { compress as lzmaCompress } from 'lzma';
import { parseMessage } from '../../../src/mail/parse.js';
import type { PolicyMessage } from '../../../src/policy/types.js';

// ───────────────────────────── executables ─────────────────────────────

export function peBytes(size = 1024): Buffer {
  const b = Buffer.alloc(size);
  b.write('MZ', 0, 'latin1');
  b.writeUInt32LE(0x80, 0x3c);
  b.write('PE\0\0', 0x80, 'latin1');
  b.writeUInt16LE(0x14c, 0x84); // i386
  return b;
}

export function elfBytes(): Buffer {
  const b = Buffer.alloc(64);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]).copy(b);
  return b;
}

export function machOBytes(fat = false): Buffer {
  const b = Buffer.alloc(64);
  if (fat) {
    b.writeUInt32BE(0xcafebabe, 0);
    b.writeUInt32BE(2, 4);
  } else b.writeUInt32LE(0xfeedfacf, 0);
  return b;
}

/** The EICAR anti-virus test string (68 bytes). */
export const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';

// ───────────────────────────── zip ─────────────────────────────

export interface ZipSpec {
  name: string;
  data: Buffer | string;
  deflate?: boolean;
  encrypt?: 'zipcrypto' | 'aes';
  /** Lie in the central directory about the expanded size. */
  declaredSize?: number;
}

export function zip(entries: ZipSpec[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const data = typeof e.data === 'string' ? Buffer.from(e.data) : e.data;
    const name = Buffer.from(e.name, 'utf8');
    let payload = e.deflate ? Buffer.from(deflateSync(data)) : data;
    let method = e.deflate ? 8 : 0;
    let flags = 0x800;
    let extra = Buffer.alloc(0);
    if (e.encrypt === 'zipcrypto') {
      flags |= 1;
      payload = Buffer.concat([Buffer.alloc(12, 0xaa), payload.map((x) => x ^ 0x5a)]);
    } else if (e.encrypt === 'aes') {
      flags |= 1;
      extra = Buffer.alloc(11);
      extra.writeUInt16LE(0x9901, 0);
      extra.writeUInt16LE(7, 2);
      extra.writeUInt16LE(2, 4); // AE-2
      extra.write('AE', 6, 'latin1');
      extra[8] = 3; // AES-256
      extra.writeUInt16LE(method, 9);
      method = 99;
      payload = Buffer.concat([Buffer.alloc(18, 0x11), payload, Buffer.alloc(10)]);
    }
    const crc = crc32(data);
    const usize = e.declaredSize ?? data.length;
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(flags, 6);
    lh.writeUInt16LE(method, 8);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(payload.length, 18);
    lh.writeUInt32LE(usize, 22);
    lh.writeUInt16LE(name.length, 26);
    lh.writeUInt16LE(extra.length, 28);
    const local = Buffer.concat([lh, name, extra, payload]);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(20, 4);
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(flags, 8);
    ch.writeUInt16LE(method, 10);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(payload.length, 20);
    ch.writeUInt32LE(usize, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt16LE(extra.length, 30);
    ch.writeUInt32LE(offset, 42);
    centrals.push(Buffer.concat([ch, name, extra]));
    locals.push(local);
    offset += local.length;
  }
  return Buffer.concat([...locals, ...centrals, eocd(entries.length, centrals.reduce((s, c) => s + c.length, 0), offset)]);
}

function eocd(count: number, cdSize: number, cdOffset: number): Buffer {
  const b = Buffer.alloc(22);
  b.writeUInt32LE(0x06054b50, 0);
  b.writeUInt16LE(count, 8);
  b.writeUInt16LE(count, 10);
  b.writeUInt32LE(cdSize, 12);
  b.writeUInt32LE(cdOffset, 16);
  return b;
}

/** A non-recursive bomb (Fifield style): many central entries sharing one deflated kernel. */
export function overlappingBomb(entries = 50): Buffer {
  const kernel = Buffer.from(deflateSync(Buffer.alloc(1024 * 1024, 0x41)));
  const name = Buffer.from('a.txt');
  const lh = Buffer.alloc(30);
  lh.writeUInt32LE(0x04034b50, 0);
  lh.writeUInt16LE(20, 4);
  lh.writeUInt16LE(8, 8);
  lh.writeUInt32LE(kernel.length, 18);
  lh.writeUInt32LE(1024 * 1024, 22);
  lh.writeUInt16LE(name.length, 26);
  const local = Buffer.concat([lh, name, kernel]);
  const centrals: Buffer[] = [];
  for (let i = 0; i < entries; i++) {
    const n = Buffer.from(`f${i}.txt`);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(8, 10);
    ch.writeUInt32LE(kernel.length, 20);
    ch.writeUInt32LE(1024 * 1024, 24);
    ch.writeUInt16LE(n.length, 28);
    ch.writeUInt32LE(0, 42); // every entry points at the same local header
    centrals.push(Buffer.concat([ch, n]));
  }
  const cd = Buffer.concat(centrals);
  return Buffer.concat([local, cd, eocd(entries, cd.length, local.length)]);
}

/** A recursive bomb in the 42.zip style: `levels` of zips, each holding `fan` copies of the level below. */
export function recursiveBomb(levels = 5, fan = 4): Buffer {
  let cur = zip([{ name: 'zeros.bin', data: Buffer.alloc(2 * 1024 * 1024), deflate: true }]);
  for (let l = 0; l < levels; l++) {
    cur = zip(Array.from({ length: fan }, (_, i) => ({ name: `lvl${l}-${i}.zip`, data: cur, deflate: true })));
  }
  return cur;
}

// ───────────────────────────── RAR 4 ─────────────────────────────

function rar4Block(type: number, flags: number, body: Buffer, add: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(7);
  head[2] = type;
  head.writeUInt16LE(flags, 3);
  head.writeUInt16LE(7 + body.length, 5);
  const h = Buffer.concat([head, body]);
  h.writeUInt16LE(crc32(h.subarray(2)) & 0xffff, 0);
  return Buffer.concat([h, add]);
}

export function rar4(opts: { names: string[]; encryptFiles?: boolean; encryptHeaders?: boolean; data?: Buffer }): Buffer {
  const sig = Buffer.from([0x52, 0x61, 0x72, 0x21, 0x1a, 0x07, 0x00]);
  const main = rar4Block(0x73, opts.encryptHeaders ? 0x0080 : 0, Buffer.alloc(6));
  if (opts.encryptHeaders) return Buffer.concat([sig, main, Buffer.alloc(64, 0x33)]);
  const files = opts.names.map((n) => {
    const data = opts.data ?? Buffer.from(`content of ${n}`);
    const name = Buffer.from(n, 'latin1');
    const body = Buffer.alloc(25);
    body.writeUInt32LE(data.length, 0); // PACK_SIZE
    body.writeUInt32LE(data.length, 4); // UNP_SIZE
    body[8] = 2; // HOST_OS Windows
    body.writeUInt32LE(crc32(data), 9);
    body[17] = 29; // UNP_VER
    body[18] = 0x30; // METHOD: store
    body.writeUInt16LE(name.length, 19);
    body.writeUInt32LE(0x20, 21);
    return rar4Block(0x74, 0x8000 | (opts.encryptFiles ? 0x0004 : 0), Buffer.concat([body, name]), data);
  });
  return Buffer.concat([sig, main, ...files, rar4Block(0x7b, 0x4000, Buffer.alloc(0))]);
}

// ───────────────────────────── RAR 5 ─────────────────────────────

function vint(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

function rar5Header(fields: Buffer, data: Buffer = Buffer.alloc(0)): Buffer {
  const size = vint(fields.length);
  const crcd = Buffer.concat([size, fields]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32LE(crc32(crcd));
  return Buffer.concat([crc, crcd, data]);
}

export function rar5(opts: { names: string[]; encryptFiles?: boolean; encryptHeaders?: boolean; data?: Buffer }): Buffer {
  const sig = Buffer.from([0x52, 0x61, 0x72, 0x21, 0x1a, 0x07, 0x01, 0x00]);
  const parts: Buffer[] = [sig];
  if (opts.encryptHeaders) {
    parts.push(rar5Header(Buffer.concat([vint(4), vint(0), vint(0), vint(0), Buffer.from([15]), Buffer.alloc(16, 7)])));
    parts.push(Buffer.alloc(80, 0x44));
    return Buffer.concat(parts);
  }
  parts.push(rar5Header(Buffer.concat([vint(1), vint(0), vint(0)])));
  for (const n of opts.names) {
    const data = opts.data ?? Buffer.from(`content of ${n}`);
    const name = Buffer.from(n, 'utf8');
    const extra = opts.encryptFiles
      ? (() => {
          const rec = Buffer.concat([vint(1), vint(0), vint(0), Buffer.from([15]), Buffer.alloc(16, 1), Buffer.alloc(16, 2)]);
          return Buffer.concat([vint(rec.length), rec]);
        })()
      : Buffer.alloc(0);
    const hflags = 0x02 | (extra.length ? 0x01 : 0);
    const fields = Buffer.concat([
      vint(2),
      vint(hflags),
      ...(extra.length ? [vint(extra.length)] : []),
      vint(data.length),
      vint(0x04), // file flags: CRC32 present
      vint(data.length),
      vint(0x20),
      (() => {
        const c = Buffer.alloc(4);
        c.writeUInt32LE(crc32(data));
        return c;
      })(),
      vint(0), // compression: store
      vint(0), // Windows
      vint(name.length),
      name,
      extra,
    ]);
    parts.push(rar5Header(fields, data));
  }
  parts.push(rar5Header(Buffer.concat([vint(5), vint(0), vint(0)])));
  return Buffer.concat(parts);
}

// ───────────────────────────── 7z ─────────────────────────────

/** Coders of one folder: 7zAES (06F10701, with properties) then LZMA (030101). */
function folder(aes: boolean): Buffer {
  const lzma = Buffer.from([0x23, 0x03, 0x01, 0x01, 0x05, 0x5d, 0x00, 0x00, 0x10, 0x00]);
  if (!aes) return Buffer.concat([Buffer.from([0x01]), lzma]);
  const aesCoder = Buffer.concat([Buffer.from([0x24, 0x06, 0xf1, 0x07, 0x01, 0x0a, 0x13, 0x00]), Buffer.alloc(8, 9)]);
  // two coders, one bind pair (1 → 0)
  return Buffer.concat([Buffer.from([0x02]), aesCoder, lzma, Buffer.from([0x01, 0x00])]);
}

function streamsInfo(aes: boolean, packSize: number): Buffer {
  return Buffer.concat([
    Buffer.from([0x06, 0x00, 0x01, 0x09]), // PackInfo: pos 0, 1 stream, sizes
    Buffer.from([packSize & 0x7f, 0x00]),
    Buffer.from([0x07, 0x0b, 0x01, 0x00]), // UnpackInfo: Folder, 1 folder, not external
    folder(aes),
    Buffer.from([0x0c, 0x10]), // CodersUnpackSize
    ...(aes ? [Buffer.from([0x10])] : []),
    Buffer.from([0x00, 0x00]), // End (unpack info), End (streams info)
  ]);
}

function sevenNumber(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n < 0x4000) return Buffer.from([0x80 | (n >> 8), n & 0xff]);
  const b = Buffer.alloc(5);
  b[0] = 0xf0;
  b.writeUInt32LE(n, 1);
  return b;
}

function filesInfo(names: string[]): Buffer {
  const data = Buffer.concat([Buffer.from([0x00]), ...names.map((n) => Buffer.from(`${n}\0`, 'utf16le'))]);
  return Buffer.concat([Buffer.from([0x05]), sevenNumber(names.length), Buffer.from([0x11]), sevenNumber(data.length), data, Buffer.from([0x00])]);
}

/**
 * A 7z archive. `packedHeader`: the real header is LZMA-compressed behind an EncodedHeader (what
 * 7-Zip writes by default, also for `7z a -p` without -mhe); `encodedHeader` + `encrypt`: the
 * header itself is 7zAES-encrypted (-mhe=on).
 */
export function sevenZip(opts: { encrypt?: boolean; encodedHeader?: boolean; packedHeader?: boolean; names?: string[] }): Buffer {
  const packed = Buffer.alloc(16, 0x5a);
  const plain = Buffer.concat([Buffer.from([0x01, 0x04]), streamsInfo(!!opts.encrypt, packed.length), filesInfo(opts.names ?? ['a.doc']), Buffer.from([0x00])]);
  let body = packed;
  let header: Buffer;
  if (opts.packedHeader) {
    const lz = Buffer.from(lzmaCompress(plain, 1).map((x) => x & 0xff));
    const props = lz.subarray(0, 5);
    const stream = lz.subarray(13);
    body = Buffer.concat([packed, stream]);
    header = Buffer.concat([
      Buffer.from([0x17, 0x06]),
      sevenNumber(packed.length), // packPos: the packed header follows the file data
      Buffer.from([0x01, 0x09]),
      sevenNumber(stream.length),
      Buffer.from([0x00, 0x07, 0x0b, 0x01, 0x00, 0x01, 0x23, 0x03, 0x01, 0x01, 0x05]),
      props,
      Buffer.from([0x0c]),
      sevenNumber(plain.length),
      Buffer.from([0x00, 0x00]),
    ]);
  } else if (opts.encodedHeader) {
    header = Buffer.concat([Buffer.from([0x17]), streamsInfo(!!opts.encrypt, packed.length)]);
  } else header = plain;
  const start = Buffer.alloc(32);
  Buffer.from([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c, 0x00, 0x04]).copy(start);
  start.writeBigUInt64LE(BigInt(body.length), 12);
  start.writeBigUInt64LE(BigInt(header.length), 20);
  start.writeUInt32LE(crc32(header), 28);
  start.writeUInt32LE(crc32(start.subarray(12, 32)), 8);
  return Buffer.concat([start, body, header]);
}

// ───────────────────────────── MIME ─────────────────────────────

export type NameStyle = 'plain' | 'rfc2231' | 'rfc2231-cont' | 'rfc2047' | 'ct-only' | 'none';

export interface AttachmentSpec {
  name: string;
  data: Buffer | string;
  contentType?: string;
  style?: NameStyle;
}

function quoteParam(v: string): string {
  return `"${v.replace(/["\\]/g, '\\$&')}"`;
}

export function attachmentPart(a: AttachmentSpec): string {
  const data = typeof a.data === 'string' ? Buffer.from(a.data) : a.data;
  const ct = a.contentType ?? 'application/octet-stream';
  const style = a.style ?? 'plain';
  let ctLine = `Content-Type: ${ct}`;
  let cdLine = 'Content-Disposition: attachment';
  const enc = encodeURIComponent(a.name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  switch (style) {
    case 'plain':
      ctLine += `; name=${quoteParam(a.name)}`;
      cdLine += `; filename=${quoteParam(a.name)}`;
      break;
    case 'rfc2231':
      cdLine += `; filename*=UTF-8''${enc}`;
      break;
    case 'rfc2231-cont': {
      const half = Math.floor(enc.length / 2);
      let cut = half;
      while (enc[cut - 1] === '%' || enc[cut - 2] === '%') cut++;
      cdLine += `;\r\n filename*0*=UTF-8''${enc.slice(0, cut)};\r\n filename*1*=${enc.slice(cut)}`;
      break;
    }
    case 'rfc2047': {
      const w = `=?UTF-8?B?${Buffer.from(a.name).toString('base64')}?=`;
      ctLine += `; name="${w}"`;
      cdLine += `; filename="${w}"`;
      break;
    }
    case 'ct-only':
      ctLine += `; name=${quoteParam(a.name)}`;
      cdLine = '';
      break;
    case 'none':
      cdLine = '';
      break;
  }
  const b64 = data.toString('base64').replace(/.{76}/g, '$&\r\n');
  return `${ctLine}\r\n${cdLine ? cdLine + '\r\n' : ''}Content-Transfer-Encoding: base64\r\n\r\n${b64}\r\n`;
}

export interface MessageSpec {
  from?: string;
  to?: string;
  subject?: string;
  headers?: string[];
  text?: string;
  attachments?: AttachmentSpec[];
  /** Raw extra parts (headers + blank line + body), e.g. a message/rfc822. */
  rawParts?: string[];
}

export function mimeMessage(spec: MessageSpec): Buffer {
  const boundary = '=_b0undary_' + Math.abs(hash(JSON.stringify(spec.subject ?? ''))).toString(36);
  const head = [
    `From: ${spec.from ?? 'A <a@example.org>'}`,
    `To: ${spec.to ?? 'longnv@example.gov.vn'}`,
    `Subject: ${spec.subject ?? 'Test'}`,
    'Date: Sun, 22 Nov 2026 10:00:00 +0700',
    `Message-ID: <${Math.random().toString(36).slice(2)}@example.org>`,
    'MIME-Version: 1.0',
    ...(spec.headers ?? []),
  ];
  const parts = [`Content-Type: text/plain; charset=utf-8\r\n\r\n${spec.text ?? 'Xin chào.'}\r\n`, ...(spec.attachments ?? []).map(attachmentPart), ...(spec.rawParts ?? [])];
  const body = parts.map((p) => `--${boundary}\r\n${p}`).join('') + `--${boundary}--\r\n`;
  return Buffer.from(`${head.join('\r\n')}\r\nContent-Type: multipart/mixed; boundary="${boundary}"\r\n\r\n${body}`, 'utf8');
}

/** An attached message part (message/rfc822) holding `inner`. */
export function attachedMessagePart(inner: Buffer, name = 'forwarded.eml'): string {
  return `Content-Type: message/rfc822; name="${name}"\r\nContent-Disposition: attachment; filename="${name}"\r\n\r\n${inner.toString('utf8')}\r\n`;
}

function hash(s: string): number {
  let h = 0;
  for (const c of s) h = (h * 31 + c.charCodeAt(0)) | 0;
  return h;
}

export function policyMessage(raw: Buffer): PolicyMessage {
  return { raw, parsed: parseMessage(raw) };
}
