/**
 * Inputs that made regular expressions backtrack for seconds to minutes (a review measured each
 * through SMTP without signing in, or in isolation): each is now read in one pass. The bounds are
 * generous — the work takes milliseconds now and took from 3 s to minutes before.
 */
import { describe, expect, it } from 'vitest';
import { replyKind } from '../../../src/accounts/operations-report.js';
import { baseSubject } from '../../../src/imap/commands/sort.js';
import { parseMessage } from '../../../src/mail/parse.js';
import { configFrom } from '../../../src/config/load.js';
import { systemClock } from '../../../src/lib/clock.js';
import { silentLogger } from '../../../src/lib/log.js';
import { savedNames, windowsName } from '../../../src/policy/names.js';
import { createPipeline } from '../../../src/policy/pipeline.js';
import type { PolicyContext } from '../../../src/policy/types.js';
import type { Store } from '../../../src/store/port.js';
import { secrecyMark } from '../../../src/policy/rules/classified.js';
import { legacyReadings } from '../../../src/policy/vietnamese-text.js';

function quickly<T>(work: () => T): T {
  const t = Date.now();
  const r = work();
  expect(Date.now() - t).toBeLessThan(3000);
  return r;
}

describe('hostile input is read in one pass', () => {
  it('classified: urgency words before no stamp (was exponential: 17 took 5 s), degrees talked about (8,000: 15 s)', () => {
    expect(quickly(() => secrecyMark(`${'khẩn '.repeat(20)}x`))).toBeNull();
    expect(quickly(() => secrecyMark(`${'trả  lời  '.repeat(12)}x`))).toBeNull();
    expect(quickly(() => secrecyMark('độ tuyệt mật '.repeat(8000)))).toBeNull();
    // The same readings as before: words before a stamp, every way they read.
    expect(secrecyMark('KHẨN, Hỏa tốc - Re: TL: Tối mật - Kế hoạch')).toBe('Tối mật');
    expect(secrecyMark('Trả lời: MẬT: báo cáo')).toBe('MẬT');
    expect(secrecyMark('Thượng khẩn v/v Tuyệt mật: x')).toBe('Tuyệt mật');
    expect(secrecyMark('Danh mục độ  Tối mật của Bộ')).toBeNull();
  });

  it('file names ending in dots and spaces, cut by a long run (80,000 characters: 11 s)', () => {
    const name = `a${'. '.repeat(40_000)}x`;
    expect(quickly(() => windowsName(name))).toBe(name);
    expect(quickly(() => savedNames(name))).toEqual([name]);
    expect(windowsName('a.exe. . ')).toBe('a.exe');
  });

  it('a long word read as a VNI font (160,000 characters: 34 s)', () => {
    expect(quickly(() => legacyReadings('é'.repeat(160_000))).map((r) => r.length)).toEqual([160_000, 160_000]);
  });

  it('a MIME boundary with a long run of folded spaces inside (80,000: 7 s)', () => {
    // Folded in the header (lines of 900), unfolded into one boundary with 80,000 spaces in it.
    const folded = `x${Array.from({ length: 89 }, () => ' '.repeat(899)).join('\r\n ')}y`;
    const raw = Buffer.from(`Content-Type: multipart/mixed; boundary="${folded}"\r\n\r\nno delimiter line\r\n`);
    const parsed = quickly(() => parseMessage(raw));
    // No delimiter line: shown as text (the parser's rule for a multipart without parts).
    expect(parsed.structure.type).toBe('text');
    expect(parsed.bodyText()).toBe('no delimiter line');
  });

  it('a remote reply that is one long word (80,000: 13 s); a subject of many reply prefixes', () => {
    expect(quickly(() => replyKind('a'.repeat(80_000))).line).toBe('a'.repeat(300));
    expect(replyKind('550 5.1.1 ann@example.vn unknown').line).toBe('550 5.1.1 …@example.vn unknown');
    expect(quickly(() => baseSubject(`${'Re: '.repeat(1000)}Báo cáo`))).toBe('báo cáo');
    // Past its first 4,096 characters a subject is not read for sorting.
    expect(quickly(() => baseSubject(`${'Re: '.repeat(20_000)}Báo cáo`))).toBe('');
  });

  it('the default rules on inbound mail crafted the same ways, as the MX takes it with no sign-in (2–9 s each before)', async () => {
    const pipeline = createPipeline({ config: configFrom({ domains: ['example.gov.vn'] }), log: silentLogger(), store: {} as Store, clock: systemClock });
    const ctx: PolicyContext = { direction: 'inbound', clientIp: '192.0.2.1', account: null, sender: 'a@example.org', recipients: ['longnv@example.gov.vn'] };
    const top = (headers: string[], body: string) => Buffer.from(`From: a@example.org\r\nTo: longnv@example.gov.vn\r\nSubject: x\r\n${headers.join('\r\n')}\r\n\r\n${body}`);
    const fold = (unit: string, n: number) => Array.from({ length: Math.ceil(n / 500) }, () => unit.repeat(500 / unit.length)).join('\r\n ');
    for (const raw of [
      // Address-like runs in Resent-Sender, for auto-forward (64 runs of 3,900: 2.2 s; these 16 of 15,000, more).
      top([`Resent-Sender: ${Array.from({ length: 16 }, () => 'a'.repeat(15_000)).join('\r\n ')}`, 'Content-Type: text/plain'], 'hi\r\n'),
      // A file name of dots and spaces, for every rule that reads names (20 KB: 9 s).
      top(['Content-Type: multipart/mixed; boundary="b"'], `--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="a${fold('. ', 20_000)}x"\r\n\r\nAAAA\r\n--b--\r\n`),
      // A subject of urgency words and no stamp (exponential).
      top(['Content-Type: text/plain', `Subject: ${'khẩn '.repeat(20)}x`], 'hi\r\n'),
    ]) {
      const t = Date.now();
      const result = await pipeline.checkMessage(ctx, { raw, parsed: parseMessage(raw) });
      expect(Date.now() - t).toBeLessThan(3000);
      expect(result.action).toBe('accept');
    }
  });
});
