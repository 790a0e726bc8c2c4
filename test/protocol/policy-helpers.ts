/** Sending through the real SMTP listeners with nodemailer, and reading what was delivered. */
import nodemailer from 'nodemailer';
import type { Account, Store } from '../../src/store/port.js';
import { createTestAccount, PASSWORD } from '../helpers/accounts.js';
import type { TestApp } from '../helpers/app.js';
import { messagesIn } from '../helpers/messages.js';

export { PASSWORD };

export async function addUser(store: Store, address: string, opts: { quotaBytes?: number | null; role?: 'none' | 'unit' | 'super'; unitId?: number | null } = {}): Promise<Account> {
  return createTestAccount(store, address, { ...opts, role: opts.role ?? 'none' });
}

export interface SendOutcome {
  ok: boolean;
  code: number | null;
  response: string;
}

/** Send raw bytes over SMTP (MX port by default, or submission with the test password). */
export async function send(app: TestApp, raw: Buffer, opts: { from?: string; to?: string[]; submission?: string } = {}): Promise<SendOutcome> {
  const port = app.port(opts.submission ? 'submission' : 'smtp');
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    tls: { rejectUnauthorized: false },
    ...(opts.submission ? { auth: { user: opts.submission, pass: PASSWORD } } : {}),
  });
  try {
    const info = await transport.sendMail({
      envelope: { from: opts.from ?? 'sender@example.org', to: opts.to ?? ['longnv@example.gov.vn'] },
      raw,
    });
    return { ok: true, code: 250, response: String(info.response) };
  } catch (e) {
    const err = e as { responseCode?: number; response?: string; message: string };
    return { ok: false, code: err.responseCode ?? null, response: err.response ?? err.message };
  } finally {
    transport.close();
  }
}

/** Raw bytes of every message in a mailbox, oldest first. */
export async function mailboxMessages(store: Store, accountId: number, name = 'INBOX'): Promise<string[]> {
  return (await messagesIn(store, accountId, name)).map((b) => b.toString('utf8'));
}

/** Header block of a raw message, unfolded. */
export function headersOf(raw: string): string[] {
  const end = raw.indexOf('\r\n\r\n');
  return raw
    .slice(0, end < 0 ? raw.length : end)
    .replace(/\r\n[ \t]+/g, ' ')
    .split('\r\n');
}

/** base64 in 76-character lines, CRLF after each. */
export function b64(data: Buffer | string): string {
  return (Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8')).toString('base64').replace(/.{1,76}/g, '$&\r\n');
}

/** A message to longnv@example.gov.vn with these Content-* header lines and this body (bytes as given). */
export function topMessage(subject: string, contentType: string[], body: string | Buffer): Buffer {
  const head = [
    'From: A <a@example.org>',
    'To: longnv@example.gov.vn',
    `Subject: ${subject}`,
    'Date: Mon, 23 Nov 2026 10:00:00 +0700',
    `Message-ID: <${Math.random().toString(36).slice(2)}@example.org>`,
    'MIME-Version: 1.0',
    ...contentType,
  ];
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), Buffer.isBuffer(body) ? body : Buffer.from(body, 'latin1')]);
}
