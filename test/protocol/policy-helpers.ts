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
