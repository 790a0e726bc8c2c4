/**
 * auth/sms.ts: phone numbers, the codes kept per account (one use, expiry, wrong tries, resend
 * pause, daily cap, withdrawal after a failed send) and the command gateway run for real
 * (arguments and environment, exit status, a hung program killed at the timeout).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SmsCodes, codeText, commandSmsSender, normalizePhone, phoneTail } from '../../../src/auth/sms.js';
import { ManualClock } from '../../../src/lib/clock.js';
import { silentLogger } from '../../../src/lib/log.js';

const cfg = { codeTtlMs: 5 * 60_000, resendAfterMs: 60_000, maxPerAccountPerDay: 3 };

describe('normalizePhone', () => {
  it('reads Vietnamese and international numbers, refuses the rest', () => {
    expect(normalizePhone('0912 345 678')).toBe('+84912345678');
    expect(normalizePhone('0912.345.678')).toBe('+84912345678');
    expect(normalizePhone('+84 (912) 345-678')).toBe('+84912345678');
    expect(normalizePhone('84912345678')).toBe('+84912345678');
    expect(normalizePhone('0084912345678')).toBe('+84912345678');
    for (const bad of ['', 'abc', '12345', '+84 912 345 678 901 234', '0912345678; rm -rf /', '{phone}']) expect(normalizePhone(bad)).toBeNull();
    expect(phoneTail('+84912345678')).toBe('…678');
  });
});

const PHONE = '+84912345678';
const NET = '198.51.100.0/24';

describe('SmsCodes', () => {
  it('a code serves once, within its time, for the phone it went to, and can be given back after a refused action', () => {
    const clock = new ManualClock(new Date('2026-11-23T08:00:00Z'));
    const codes = new SmsCodes({ clock, cfg });
    const r = codes.issue(1, PHONE, NET);
    expect(r.kind).toBe('new');
    const code = r.kind === 'new' ? r.code : '';
    expect(code).toMatch(/^\d{6}$/);
    expect(codes.take(2, code, PHONE)).toBeNull();
    // The account's phone changed since: the code that went to the old one is void.
    expect(codes.take(1, code, '+84987000111')).toBeNull();
    const giveBack = codes.take(1, code, PHONE);
    expect(giveBack).not.toBeNull();
    expect(codes.take(1, code, PHONE)).toBeNull();
    giveBack!();
    expect(codes.take(1, ` ${code.slice(0, 3)} ${code.slice(3)} `, PHONE)).not.toBeNull();
    clock.advance(61_000);
    const late = codes.issue(1, PHONE, NET);
    clock.advance(cfg.codeTtlMs + 1);
    expect(codes.take(1, late.kind === 'new' ? late.code : '', PHONE)).toBeNull();
  });

  it('a code given back after a newer one was issued stays void', () => {
    const clock = new ManualClock(new Date('2026-11-23T08:00:00Z'));
    const codes = new SmsCodes({ clock, cfg });
    const first = codes.issue(4, PHONE, NET);
    const giveBack = codes.take(4, first.kind === 'new' ? first.code : '', PHONE);
    const second = codes.issue(4, PHONE, NET);
    expect(second.kind).toBe('new');
    expect(codes.take(4, second.kind === 'new' ? second.code : '', PHONE)).not.toBeNull();
    giveBack!();
    expect(codes.take(4, first.kind === 'new' ? first.code : '', PHONE)).toBeNull();
  });

  it('five wrong codes void the code; a new one waits a minute; the day cap counts per network', () => {
    const clock = new ManualClock(new Date('2026-11-23T08:00:00Z'));
    const codes = new SmsCodes({ clock, cfg });
    const r = codes.issue(7, PHONE, NET);
    const code = r.kind === 'new' ? r.code : '';
    const wrong = code === '999999' ? '999998' : '999999';
    for (let i = 0; i < 5; i++) expect(codes.take(7, wrong, PHONE)).toBeNull();
    expect(codes.take(7, code, PHONE)).toBeNull();
    expect(codes.pending(7)).toBe(false);
    // Void: a new one may go at once. Then the resend pause holds.
    expect(codes.issue(7, PHONE, NET).kind).toBe('new');
    expect(codes.issue(7, PHONE, NET).kind).toBe('recent');
    clock.advance(60_000);
    expect(codes.issue(7, PHONE, NET).kind).toBe('new');
    clock.advance(60_000);
    expect(codes.issue(7, PHONE, NET).kind).toBe('capped');
    // Networks the account does not use share one count: another of them is capped too.
    expect(codes.issue(7, PHONE, '203.0.113.0/24').kind).toBe('capped');
    // A network the account uses has its own count: the owner still gets a code.
    expect(codes.issue(7, PHONE, '10.1.1.0/24', true).kind).toBe('new');
    clock.advance(24 * 3600_000);
    expect(codes.issue(7, PHONE, NET).kind).toBe('new');
  });

  it('a code whose program could not be started is withdrawn and does not count', () => {
    const clock = new ManualClock(new Date('2026-11-23T08:00:00Z'));
    const codes = new SmsCodes({ clock, cfg });
    for (let i = 0; i < 5; i++) {
      const r = codes.issue(3, PHONE, NET);
      expect(r.kind).toBe('new');
      codes.withdraw(3, NET);
      expect(codes.take(3, r.kind === 'new' ? r.code : '', PHONE)).toBeNull();
    }
  });
});

describe('commandSmsSender', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'buudien-sms-unit-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is null without a command', () => {
    expect(commandSmsSender({ command: null, timeoutMs: 1000 }, silentLogger())).toBeNull();
  });

  it('runs the program with {phone} and {text} replaced (no shell) and in its environment', async () => {
    const out = path.join(dir, 'out.json');
    const script = path.join(dir, 'ok.mjs');
    writeFileSync(script, `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(out)}, JSON.stringify({ argv: process.argv.slice(2), phone: process.env.BUUDIEN_SMS_PHONE, text: process.env.BUUDIEN_SMS_TEXT }));\n`);
    const send = commandSmsSender({ command: [process.execPath, script, '--to={phone}', '{text}', '$(id)'], timeoutMs: 10_000 }, silentLogger());
    const text = codeText('012345', 5);
    await send!('+84912345678', text);
    const got = JSON.parse(readFileSync(out, 'utf8')) as { argv: string[]; phone: string; text: string };
    expect(got.argv).toEqual(['--to=+84912345678', text, '$(id)']);
    expect(got.phone).toBe('+84912345678');
    expect(got.text).toBe(text);
    expect(text).toContain('012345');
  });

  it('a program that leaves a helper holding its output open is settled at its exit; a hung group is killed at the timeout', async () => {
    const started = Date.now();
    await commandSmsSender({ command: ['/bin/sh', '-c', 'sleep 30 & exit 0'], timeoutMs: 10_000 }, silentLogger())!('+84912345678', 'x');
    expect(Date.now() - started).toBeLessThan(5000);
    const marker = path.join(dir, 'survivor');
    const hung = commandSmsSender({ command: ['/bin/sh', '-c', `(sleep 1; touch ${marker}) & sleep 30`], timeoutMs: 300 }, silentLogger())!('+84912345678', 'x');
    await expect(hung).rejects.toMatchObject({ kind: 'failed' });
    // The whole process group went: the helper never wrote its file.
    await new Promise((r) => setTimeout(r, 1500));
    expect(existsSync(marker)).toBe(false);
  });

  it('a non-zero exit, a missing program and a hung program are not sent', async () => {
    const fail = path.join(dir, 'fail.mjs');
    writeFileSync(fail, 'process.exit(2);\n');
    await expect(commandSmsSender({ command: [process.execPath, fail], timeoutMs: 10_000 }, silentLogger())!('+84912345678', 'x')).rejects.toMatchObject({ kind: 'failed', message: expect.stringMatching(/exited with 2/) });
    await expect(commandSmsSender({ command: [path.join(dir, 'no-such-program')], timeoutMs: 10_000 }, silentLogger())!('+84912345678', 'x')).rejects.toMatchObject({ kind: 'not-run' });
    const hang = path.join(dir, 'hang.mjs');
    writeFileSync(hang, 'setInterval(() => {}, 1000);\n');
    await expect(commandSmsSender({ command: [process.execPath, hang], timeoutMs: 300 }, silentLogger())!('+84912345678', 'x')).rejects.toThrow(/stopped after 300 ms/);
  });
});
