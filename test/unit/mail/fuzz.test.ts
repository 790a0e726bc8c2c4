/**
 * parseMessage must never throw and must keep its invariants on any input: random bytes,
 * and mutations (byte flips, truncation, splices, duplicated boundary lines) of real messages.
 * Seeded PRNG so a failure reproduces.
 */
import { describe, expect, it } from 'vitest';
import { decodeBody, decodedSize } from '../../../src/mail/decode.js';
import { renderBodyStructure, renderEnvelope } from '../../../src/mail/imap-render.js';
import { allParts, parseMessage } from '../../../src/mail/parse.js';
import { searchTextOf } from '../../../src/mail/search-text.js';
import type { MimePart } from '../../../src/mail/types.js';

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEEDS = [
  [
    'From: "A, B" <a@x.vn>, G: c@y;',
    'Subject: =?utf-8?B?VGnhur9uZyBWaeG7h3Q=?= =?windows-1258?Q?Vi=EA=F2t?=',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: multipart/alternative; boundary=b2',
    '',
    '--b2',
    'Content-Type: text/plain; charset=windows-1258',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'Vi=EA=F2t',
    '--b2',
    'Content-Type: text/html',
    '',
    '<p>x</p>',
    '--b2--',
    '--b1',
    "Content-Disposition: attachment; filename*0*=utf-8''a%C3%A0; filename*1=.zip",
    'Content-Transfer-Encoding: base64',
    '',
    'UEsDBA==',
    '--b1',
    'Content-Type: message/rfc822',
    '',
    'Subject: inner',
    'Content-Type: multipart/digest; boundary=d',
    '',
    '--d',
    '',
    'Subject: digest',
    '',
    'x',
    '--d--',
    '--b1--',
  ].join('\r\n'),
  'Subject: x\n\nbody\n',
  'Content-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\nFrom: a@b\r\n\r\nhi',
];

function checkInvariants(raw: Buffer, p: ReturnType<typeof parseMessage>): void {
  expect(p.size).toBe(raw.length);
  for (const part of allParts(p.structure) as MimePart[]) {
    if (!(part.headerStart <= part.bodyStart && part.bodyStart <= part.end && part.end <= raw.length && part.headerStart >= 0)) {
      throw new Error(`bad offsets in part ${part.path}: ${part.headerStart} ${part.bodyStart} ${part.end} / ${raw.length}`);
    }
    if (part.size !== part.end - part.bodyStart) throw new Error(`bad size in part ${part.path}`);
    if (part.type === 'multipart' && part.children.length === 0) throw new Error(`empty multipart ${part.path}`);
  }
}

function mutate(src: Buffer, rnd: () => number): Buffer {
  const b = Buffer.from(src);
  const kind = Math.floor(rnd() * 6);
  const at = Math.floor(rnd() * (b.length + 1));
  switch (kind) {
    case 0: {
      const n = 1 + Math.floor(rnd() * 8);
      for (let i = 0; i < n; i++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      return b;
    }
    case 1:
      return b.subarray(0, at);
    case 2:
      return Buffer.concat([b.subarray(0, at), b.subarray(Math.floor(rnd() * b.length))]);
    case 3: {
      const specials = ['\r\n', '\n', '--b1\r\n', '--b2--', '=?', '?=', '"', ';', '*0*=', "''%", '\r', '\0', ':', '(', '<', '\r\n\r\n'];
      return Buffer.concat([b.subarray(0, at), Buffer.from(specials[Math.floor(rnd() * specials.length)]!), b.subarray(at)]);
    }
    case 4:
      return Buffer.from(b.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
    default:
      return Buffer.concat([b.subarray(0, at), b.subarray(0, Math.floor(rnd() * b.length))]);
  }
}

describe('parseMessage fuzz', () => {
  it('never throws on 10,000 random byte strings', () => {
    const rnd = prng(1);
    for (let i = 0; i < 10_000; i++) {
      const len = Math.floor(rnd() * 400);
      const b = Buffer.alloc(len);
      // biased towards the bytes MIME cares about
      const alphabet = Buffer.from('\r\n:;=?"-\\<>@,()* \tabcB0');
      for (let j = 0; j < len; j++) b[j] = rnd() < 0.6 ? alphabet[Math.floor(rnd() * alphabet.length)]! : Math.floor(rnd() * 256);
      const p = parseMessage(b);
      checkInvariants(b, p);
    }
  });

  it('never throws on 10,000 mutated messages, and everything downstream copes', () => {
    const rnd = prng(2);
    const seeds = SEEDS.map((s) => Buffer.from(s, 'utf8'));
    for (let i = 0; i < 10_000; i++) {
      let b: Buffer = seeds[i % seeds.length]!;
      const rounds = 1 + Math.floor(rnd() * 4);
      for (let r = 0; r < rounds; r++) b = mutate(b, rnd);
      const p = parseMessage(b, { maxDepth: 20, maxParts: 200 });
      checkInvariants(b, p);
      if (i % 10 === 0) {
        renderBodyStructure(p.structure, true);
        renderEnvelope(p.envelope);
        searchTextOf(p);
        for (const part of allParts(p.structure)) {
          expect(decodeBody(b, part).length).toBe(decodedSize(b, part));
        }
      }
    }
  });
});

describe('header and address helpers: random input properties', () => {
  const alphabet = [...'aAzZ09 \t\r\n"\\()<>[]:;@.,%!=?*\'-_', 'à', 'ệ', 'Đ', '\uff0e', '\uff20', '\u3002', '\u0301', '\0', '😀'];
  const randomString = (rnd: () => number, max: number): string => {
    let s = '';
    const len = Math.floor(rnd() * max);
    for (let i = 0; i < len; i++) s += alphabet[Math.floor(rnd() * alphabet.length)];
    return s;
  };

  it('encodeHeaderValue round-trips through decodeWords and never starts a new header line', async () => {
    const { encodeHeaderValue, decodeWords } = await import('../../../src/mail/headers.js');
    const rnd = prng(3);
    for (let i = 0; i < 5000; i++) {
      const s = randomString(rnd, 120);
      const enc = encodeHeaderValue(s);
      expect(/\r\n(?![ ])|\r(?!\n)|(?<!\r)\n|\0/.test(enc)).toBe(false);
      const expected = s.normalize('NFC').replace(/[\r\n\0]+/g, ' ');
      expect(decodeWords(enc)).toBe(expected);
    }
  });

  it('parseEnvelopeAddress accepts only plain local@domain forms', async () => {
    const { parseEnvelopeAddress } = await import('../../../src/mail/addresses.js');
    const rnd = prng(4);
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const s = i % 2 === 0 ? randomString(rnd, 30) : `${randomString(rnd, 8)}@${randomString(rnd, 8)}`;
      const r = parseEnvelopeAddress(s);
      if (!r) continue;
      accepted++;
      expect(r.domain).toMatch(/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/);
      expect(r.local.normalize('NFKC')).not.toMatch(/[@%!\s\0]/);
    }
    expect(accepted).toBeGreaterThan(0);
  });

  it('parsers never throw on random strings', async () => {
    const { parseAddressList } = await import('../../../src/mail/addresses.js');
    const { parseStructured, decodeWords, parseContentType } = await import('../../../src/mail/headers.js');
    const { parseDate } = await import('../../../src/mail/parse.js');
    const rnd = prng(5);
    for (let i = 0; i < 10_000; i++) {
      const s = randomString(rnd, 80);
      const list = parseAddressList(s, 50).addresses;
      // group markers always pair up
      expect(list.filter((a) => a.host === null && a.mailbox !== null).length).toBe(list.filter((a) => a.host === null && a.mailbox === null).length);
      parseStructured(s);
      parseContentType(s);
      decodeWords(s);
      parseDate(s);
    }
  });
});
