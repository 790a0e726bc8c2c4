/**
 * Differential test against Python's email package: it writes random MIME trees (nested
 * multiparts, RFC 2231 Vietnamese file names, message/rfc822, base64 / quoted-printable /
 * 8bit bodies, utf-8 / latin-1 / windows-1252 text) and parses them back; our parser must see
 * the same tree, the same file names, the same decoded bytes and text, and the same subject. Skips loudly when python3 is missing.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decodeCharset } from '../../../src/mail/charset.js';
import { decodeBody } from '../../../src/mail/decode.js';
import { getParam } from '../../../src/mail/headers.js';
import { allParts, parseMessage } from '../../../src/mail/parse.js';

interface PyMessage {
  raw: string;
  subject: string;
  parts: Array<{ type: string; filename: string | null; payload?: string; text?: string }>;
}

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'python-mime-gen.py');

function generate(seed: number, count: number): PyMessage[] | null {
  try {
    return JSON.parse(execFileSync('python3', [script, String(seed), String(count)], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })) as PyMessage[];
  } catch (e) {
    console.warn(`python3 differential MIME test SKIPPED: python3 not usable (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
    return null;
  }
}

describe("agreement with Python's email package", () => {
  it.each([11, 12, 13])('random messages, seed %i', (seed) => {
    const msgs = generate(seed, 40);
    if (!msgs) return;
    expect(msgs.length).toBeGreaterThan(20);
    for (const m of msgs) {
      const raw = Buffer.from(m.raw, 'base64');
      const p = parseMessage(raw);
      expect(p.warnings).toEqual([]);
      expect(p.subject).toBe(m.subject.normalize('NFC'));
      const ours = allParts(p.structure);
      expect(ours.map((q) => `${q.type}/${q.subtype}`)).toEqual(m.parts.map((q) => q.type));
      ours.forEach((q, i) => {
        const theirs = m.parts[i]!;
        expect(q.filename).toBe(theirs.filename === null ? null : theirs.filename.normalize('NFC'));
        if (theirs.payload !== undefined) expect(decodeBody(raw, q).toString('base64')).toBe(theirs.payload);
        if (theirs.text !== undefined) {
          const text = decodeCharset(decodeBody(raw, q), getParam(q.params, 'charset') ?? 'us-ascii');
          expect(text.replace(/\r\n/g, '\n')).toBe(theirs.text.replace(/\r\n/g, '\n').normalize('NFC'));
        }
      });
    }
  });
});
