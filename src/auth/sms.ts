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
/** Networks whose requests are counted per account (the oldest are forgotten first). */
const MAX_NETWORKS = 100;
/** The most of the program's output kept for the log. */
const MAX_OUTPUT_CHARS = 2000;

export type SmsConfig = Config['sms'];

/**
 * Why a message was not sent: `not-run` — the program could not be started (nothing left the
 * server); `failed` — it ran and exited non-zero or was stopped at the timeout (the provider may
 * have taken the message all the same).
 */
export class SmsSendError extends Error {
  constructor(
    readonly kind: 'not-run' | 'failed',
    message: string,
  ) {
    super(message);
  }
}

/** Sends one text message; rejects with an SmsSendError when it was not (surely) sent. */
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

/** The text of a "forgot password" code (R-AUTH-4): what it is for, and what to do if nobody asked. */
export function resetCodeText(code: string, minutes: number): string {
  return `buudien: ma dat lai mat khau ${code}, dung trong ${minutes} phut. Neu ban khong yeu cau, hay bo qua. / Password reset code ${code}, valid ${minutes} min.`;
}

/**
 * The sender that runs `sms.command`; null when no command is configured. The program runs in a
 * process group of its own: at the timeout the whole group is killed (a script's `curl` too) and
 * the send is settled at once, whatever still holds its output open.
 */
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
        detached: true,
      });
      let output = '';
      let settled = false;
      const keep = (d: Buffer): void => {
        if (output.length < MAX_OUTPUT_CHARS) output += d.toString('utf8').slice(0, MAX_OUTPUT_CHARS - output.length);
      };
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      const killGroup = (): void => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // The group is gone already.
        }
      };
      const settle = (error: SmsSendError | null): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        child.stdout.destroy();
        child.stderr.destroy();
        if (error) {
          log.error({ program, phone: phoneTail(phone), output: output.trim() }, error.message);
          reject(error);
        } else resolve();
      };
      const timer = setTimeout(() => {
        killGroup();
        settle(new SmsSendError('failed', `sms.command was stopped after ${cfg.timeoutMs} ms`));
      }, cfg.timeoutMs);
      child.once('error', (e) => settle(new SmsSendError(child.pid === undefined ? 'not-run' : 'failed', `sms.command could not be run: ${e.message}`)));
      // 'exit', not 'close': a helper the program left behind may hold the pipes open for ever.
      child.once('exit', (code, signal) => {
        if (code === 0) return settle(null);
        settle(new SmsSendError('failed', signal ? `sms.command was stopped (${signal})` : `sms.command exited with ${code}`));
      });
    });
}

export type IssueResult =
  /** A new code to send. */
  | { kind: 'new'; code: string }
  /** A code was sent less than resendAfterMs ago: it is still good; nothing is sent. */
  | { kind: 'recent' }
  /** The day's messages for the account from this network are used up. */
  | { kind: 'capped' };

interface Entry {
  /** SHA-256 of the code in flight; null when none is. */
  hash: Buffer | null;
  /** The phone the code in flight went to: a code is good only while the account keeps that phone. */
  phone: string;
  /** Counts the codes issued, so that a code given back after a later one was issued stays void. */
  seq: number;
  expiresAt: number;
  wrong: number;
  sentAt: number;
  /** Times of the messages sent in the last day, per network they were asked from. */
  sent: Map<string, number[]>;
  /** Times of those asked from networks the account does not use, all together. */
  elsewhere: number[];
}

export class SmsCodes {
  private readonly entries = new Map<number, Entry>();

  constructor(private readonly opts: { clock: Clock; cfg: Pick<SmsConfig, 'codeTtlMs' | 'resendAfterMs' | 'maxPerAccountPerDay'> }) {}

  /** Whole minutes a code is good for (for the text). */
  get minutes(): number {
    return Math.max(1, Math.round(this.opts.cfg.codeTtlMs / 60_000));
  }

  /**
   * A new code for the account, sent to `phone`, asked from `network` — unless one was sent a
   * moment ago, or the day's messages are used up: maxPerAccountPerDay for the account from all
   * the networks it does not use together, and as many from each network it uses (`usual`), on
   * their own. Someone who knows the password and asks from elsewhere can neither send more nor
   * use up the owner's (who then could not even sign in to change the password).
   */
  issue(accountId: number, phone: string, network: string, usual = false): IssueResult {
    const now = this.opts.clock.now().getTime();
    const e = this.entries.get(accountId) ?? { hash: null, phone, seq: 0, expiresAt: 0, wrong: 0, sentAt: 0, sent: new Map<string, number[]>(), elsewhere: [] };
    for (const [n, times] of e.sent) {
      const recent = times.filter((t) => now - t < DAY_MS);
      if (recent.length === 0) e.sent.delete(n);
      else e.sent.set(n, recent);
    }
    e.elsewhere = e.elsewhere.filter((t) => now - t < DAY_MS);
    if (e.hash !== null && e.phone === phone && e.expiresAt > now && now - e.sentAt < this.opts.cfg.resendAfterMs) return { kind: 'recent' };
    const fromHere = e.sent.get(network) ?? [];
    const max = this.opts.cfg.maxPerAccountPerDay;
    if (fromHere.length >= max || (!usual && e.elsewhere.length >= max)) {
      this.remember(accountId, e);
      return { kind: 'capped' };
    }
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    e.hash = digest(code);
    e.phone = phone;
    e.seq++;
    e.expiresAt = now + this.opts.cfg.codeTtlMs;
    e.wrong = 0;
    e.sentAt = now;
    fromHere.push(now);
    if (!usual) e.elsewhere.push(now);
    e.sent.delete(network);
    e.sent.set(network, fromHere);
    if (e.sent.size > MAX_NETWORKS) e.sent.delete(e.sent.keys().next().value as string);
    this.remember(accountId, e);
    return { kind: 'new', code };
  }

  /** The program could not even be started: nothing was sent, the code is void and does not count. */
  withdraw(accountId: number, network: string, usual = false): void {
    const e = this.entries.get(accountId);
    if (!e) return;
    e.hash = null;
    e.sentAt = 0;
    e.sent.get(network)?.pop();
    if (!usual) e.elsewhere.pop();
  }

  /**
   * Check a code and use it up when right (no await between the check and the taking, so two
   * requests carrying one code cannot both pass). A code is good only for the phone it went to.
   * Returns a function giving the code back (an action refused after the check leaves it usable
   * for the corrected form, unless a newer code was issued meanwhile), or null when wrong.
   */
  take(accountId: number, code: string, phone: string): (() => void) | null {
    const e = this.entries.get(accountId);
    const now = this.opts.clock.now().getTime();
    if (!e || e.hash === null || e.expiresAt <= now || e.phone !== phone) return null;
    const given = code.replace(/\s/g, '');
    if (!/^\d{6}$/.test(given) || !timingSafeEqual(digest(given), e.hash)) {
      e.wrong++;
      if (e.wrong >= MAX_WRONG) e.hash = null;
      return null;
    }
    const { hash, seq } = e;
    e.hash = null;
    return () => {
      if (e.hash === null && e.seq === seq && e.expiresAt > this.opts.clock.now().getTime()) e.hash = hash;
    };
  }

  /** Is a code in flight for the account (sent and neither used, expired nor void)? */
  pending(accountId: number): boolean {
    const e = this.entries.get(accountId);
    return !!e && e.hash !== null && e.expiresAt > this.opts.clock.now().getTime();
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
export const SMS_CODE_RECENT = (tail: string, seconds: number): string =>
  bi(
    `Mã xác thực vừa được gửi tới số ${tail}; hãy nhập mã đó (mã mới chỉ được gửi sau ${seconds} giây)`,
    `A sign-in code was just sent to the phone ending ${tail}; enter that code (a new one is sent only after ${seconds} seconds)`,
  );
export const SMS_CAPPED = bi(
  'Đã gửi đủ số mã SMS cho phép trong ngày cho tài khoản này từ mạng này; hãy thử lại sau hoặc liên hệ quản trị viên',
  'The SMS codes allowed today for this account from this network have been sent; try again later or contact your administrator',
);
export const SMS_FAILED = bi(
  'Chưa gửi được mã xác thực qua SMS (cổng SMS báo lỗi hoặc không trả lời); nếu vẫn nhận được mã thì hãy dùng mã đó, nếu không hãy thử lại sau hoặc liên hệ quản trị viên',
  'The sign-in code could not be sent by SMS (the SMS gateway failed or did not answer); if a code arrives all the same, use it, otherwise try again later or contact your administrator',
);
export const SMS_UNAVAILABLE = bi(
  'Máy chủ chưa cấu hình gửi SMS (sms.command); hãy liên hệ quản trị viên',
  'This server has no SMS gateway configured (sms.command); contact your administrator',
);
