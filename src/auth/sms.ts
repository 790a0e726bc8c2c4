/**
 * One-time sign-in codes by SMS (R-AUTH-3; NA asks for the OTP by SMS).
 *
 * The gateway is pluggable: `sms.command` names a program (argv, no shell) that sends one text
 * message; `{phone}` and `{text}` in its arguments are replaced, and the same two values are in
 * its environment (BUUDIEN_SMS_PHONE, BUUDIEN_SMS_TEXT). Exit status 0 means sent; anything else,
 * or no exit within `sms.timeoutMs`, means not sent. A province wires its SMS provider's HTTP API
 * behind it (a curl line) without buudien knowing the provider.
 *
 * SmsCodes keeps the codes issued, per account, in memory (a restart voids the codes in flight;
 * the user asks again): a code is 6 random digits, good for `sms.codeTtlMs`, for one use, and
 * void after MAX_WRONG wrong tries. A new code is sent no sooner than `sms.resendAfterMs` after
 * the last (the one in flight stays good) and at most `sms.maxPerAccountPerDay` times a day, so
 * that someone who knows a password cannot flood the phone or the agency's SMS bill.
 */
import { spawn } from 'node:child_process';
import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import { environmentWith } from '../config/environment.js';
import type { Config } from '../config/schema.js';
import type { Clock } from '../lib/clock.js';
import { bi } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';

/** Wrong codes one code takes before it is void (the user asks for a new one). */
const MAX_WRONG = 5;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Accounts whose codes are remembered at once (the oldest are forgotten first). */
const MAX_ACCOUNTS = 10_000;
/** The most of the program's output kept for the log. */
const MAX_OUTPUT_CHARS = 2000;

export type SmsConfig = Config['sms'];

/** Sends one text message; rejects when it was not sent. */
export type SmsSender = (phone: string, text: string) => Promise<void>;

/** A phone number as stored and dialled: "+" and digits only; "0…" is a Vietnamese number (+84). null when it is no phone number. */
export function normalizePhone(input: string): string | null {
  const compact = input.trim().replace(/[\s.()-]/g, '');
  if (!/^\+?\d{9,15}$/.test(compact)) return null;
  if (compact.startsWith('+')) return compact;
  if (compact.startsWith('00')) return `+${compact.slice(2)}`;
  if (compact.startsWith('0')) return `+84${compact.slice(1)}`;
  if (compact.startsWith('84')) return `+${compact}`;
  return null;
}

/** The last digits of a phone number, for telling the user where the code went without showing the number. */
export function phoneTail(phone: string): string {
  return `…${phone.replace(/\D/g, '').slice(-3)}`;
}

/** The text of the message carrying a code (bilingual, Vietnamese first; short: one SMS in UCS-2 is 70 characters, a few are joined). */
export function codeText(code: string, minutes: number): string {
  return `buudien: ma xac thuc ${code}, dung trong ${minutes} phut. Neu khong phai ban, hay doi mat khau. / Sign-in code ${code}, valid ${minutes} min.`;
}

/** The sender that runs `sms.command`; null when no command is configured. */
export function commandSmsSender(cfg: Pick<SmsConfig, 'command' | 'timeoutMs'>, log: Logger): SmsSender | null {
  const command = cfg.command;
  if (!command || command.length === 0) return null;
  const [program, ...template] = command as [string, ...string[]];
  return (phone, text) =>
    new Promise<void>((resolve, reject) => {
      const args = template.map((a) => a.replaceAll('{phone}', phone).replaceAll('{text}', text));
      const child = spawn(program, args, {
        env: environmentWith({ BUUDIEN_SMS_PHONE: phone, BUUDIEN_SMS_TEXT: text }),
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: cfg.timeoutMs,
        killSignal: 'SIGKILL',
      });
      let output = '';
      const keep = (d: Buffer): void => {
        if (output.length < MAX_OUTPUT_CHARS) output += d.toString('utf8').slice(0, MAX_OUTPUT_CHARS - output.length);
      };
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      child.once('error', (e) => reject(new Error(`sms.command could not be run: ${e.message}`)));
      child.once('close', (code, signal) => {
        if (code === 0) return resolve();
        const why = signal ? `was stopped (${signal}${signal === 'SIGKILL' ? `, over ${cfg.timeoutMs} ms` : ''})` : `exited with ${code}`;
        log.error({ program, phone: phoneTail(phone), output: output.trim() }, `sms.command ${why}`);
        reject(new Error(`sms.command ${why}`));
      });
    });
}

export type IssueResult =
  /** A new code to send. */
  | { kind: 'new'; code: string }
  /** A code was sent less than resendAfterMs ago: it is still good; nothing is sent. */
  | { kind: 'recent' }
  /** The day's messages for the account are used up. */
  | { kind: 'capped' };

interface Entry {
  /** SHA-256 of the code in flight; null when none is. */
  hash: Buffer | null;
  expiresAt: number;
  wrong: number;
  sentAt: number;
  /** Times of the messages sent in the last day. */
  sent: number[];
}

export class SmsCodes {
  private readonly entries = new Map<number, Entry>();

  constructor(private readonly opts: { clock: Clock; cfg: Pick<SmsConfig, 'codeTtlMs' | 'resendAfterMs' | 'maxPerAccountPerDay'> }) {}

  /** Whole minutes a code is good for (for the text). */
  get minutes(): number {
    return Math.max(1, Math.round(this.opts.cfg.codeTtlMs / 60_000));
  }

  /** A new code for the account, unless one was sent a moment ago or the day's messages are used up. */
  issue(accountId: number): IssueResult {
    const now = this.opts.clock.now().getTime();
    const e = this.entries.get(accountId) ?? { hash: null, expiresAt: 0, wrong: 0, sentAt: 0, sent: [] };
    e.sent = e.sent.filter((t) => now - t < DAY_MS);
    if (e.hash !== null && e.expiresAt > now && now - e.sentAt < this.opts.cfg.resendAfterMs) return { kind: 'recent' };
    if (e.sent.length >= this.opts.cfg.maxPerAccountPerDay) {
      this.remember(accountId, e);
      return { kind: 'capped' };
    }
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    e.hash = digest(code);
    e.expiresAt = now + this.opts.cfg.codeTtlMs;
    e.wrong = 0;
    e.sentAt = now;
    e.sent.push(now);
    this.remember(accountId, e);
    return { kind: 'new', code };
  }

  /** The code could not be sent: it is void, and it does not count against the day's messages. */
  withdraw(accountId: number): void {
    const e = this.entries.get(accountId);
    if (!e) return;
    e.hash = null;
    e.sent.pop();
    e.sentAt = 0;
  }

  /** Is a code in flight for the account (sent and neither used, expired nor void)? */
  pending(accountId: number): boolean {
    const e = this.entries.get(accountId);
    return !!e && e.hash !== null && e.expiresAt > this.opts.clock.now().getTime();
  }

  /**
   * Check a code and use it up when right (no await between the check and the taking, so two
   * requests carrying one code cannot both pass). Returns a function giving the code back (an
   * action refused after the check leaves it usable for the corrected form), or null when wrong.
   */
  take(accountId: number, code: string): (() => void) | null {
    const e = this.entries.get(accountId);
    const now = this.opts.clock.now().getTime();
    if (!e || e.hash === null || e.expiresAt <= now) return null;
    const given = code.replace(/\s/g, '');
    if (!/^\d{6}$/.test(given) || !timingSafeEqual(digest(given), e.hash)) {
      e.wrong++;
      if (e.wrong >= MAX_WRONG) e.hash = null;
      return null;
    }
    const hash = e.hash;
    e.hash = null;
    return () => {
      if (e.hash === null && e.expiresAt > this.opts.clock.now().getTime()) e.hash = hash;
    };
  }

  private remember(accountId: number, e: Entry): void {
    this.entries.delete(accountId);
    this.entries.set(accountId, e);
    if (this.entries.size > MAX_ACCOUNTS) this.entries.delete(this.entries.keys().next().value as number);
  }
}

function digest(code: string): Buffer {
  return createHash('sha256').update(code).digest();
}

export const SMS_CODE_SENT = (tail: string, minutes: number): string =>
  bi(
    `Đã gửi mã xác thực qua SMS tới số ${tail}; hãy nhập mã (dùng được ${minutes} phút) cùng mật khẩu`,
    `A sign-in code was sent by SMS to the phone ending ${tail}; enter it (good for ${minutes} min) with your password`,
  );
export const SMS_CODE_RECENT = (tail: string): string =>
  bi(
    `Mã xác thực vừa được gửi tới số ${tail}; hãy nhập mã đó (mã mới chỉ được gửi sau 1 phút)`,
    `A sign-in code was just sent to the phone ending ${tail}; enter that code (a new one is sent only after a minute)`,
  );
export const SMS_CAPPED = bi(
  'Đã gửi quá nhiều mã SMS cho tài khoản này trong ngày; hãy thử lại sau hoặc liên hệ quản trị viên',
  'Too many SMS codes were sent for this account today; try again later or contact your administrator',
);
export const SMS_FAILED = bi(
  'Không gửi được mã xác thực qua SMS; hãy thử lại sau hoặc liên hệ quản trị viên',
  'The sign-in code could not be sent by SMS; try again later or contact your administrator',
);
export const SMS_UNAVAILABLE = bi(
  'Máy chủ chưa cấu hình gửi SMS (sms.command); hãy liên hệ quản trị viên',
  'This server has no SMS gateway configured (sms.command); contact your administrator',
);
