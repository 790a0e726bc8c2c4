/**
 * Helpers for IMAP protocol tests: accounts and messages put in through the store (as SMTP
 * delivery would), a transcript client over a raw socket, and imapflow clients.
 */
import { ImapFlow } from 'imapflow';
import type { Account } from '../../src/store/port.js';
import { createTestAccount, PASSWORD } from '../helpers/accounts.js';
import { SocketReader } from '../helpers/socket-client.js';
import type { TestApp } from '../helpers/app.js';
import { storeParsed } from '../helpers/messages.js';

export { PASSWORD };

export async function createUser(app: TestApp, local: string, opts: { quotaBytes?: number } = {}): Promise<Account> {
  return createTestAccount(app.store, `${local}@example.gov.vn`, opts);
}

export function message(opts: { subject?: string; from?: string; to?: string; body?: string; date?: string; extra?: string; messageId?: string } = {}): Buffer {
  return Buffer.from(
    [
      `From: ${opts.from ?? 'Nguyễn Văn An <an@example.gov.vn>'}`,
      `To: ${opts.to ?? 'user@example.gov.vn'}`,
      `Subject: ${opts.subject ?? 'Hello'}`,
      `Date: ${opts.date ?? 'Mon, 16 Nov 2026 09:00:00 +0700'}`,
      `Message-ID: <${opts.messageId ?? `${Math.random().toString(36).slice(2)}@example.gov.vn`}>`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      ...(opts.extra ? [opts.extra] : []),
      '',
      opts.body ?? 'Xin chào',
      '',
    ].join('\r\n'),
  );
}

let arrivals = 0;

/** Put a message into a mailbox as delivery would (parsed once, stored once); arrivals a second apart. */
export async function deliver(app: TestApp, account: Account, raw: Buffer, mailbox = 'INBOX', flags: string[] = []): Promise<number> {
  return storeParsed(app.store, account.id, raw, { mailbox, flags, internalDate: new Date(Date.UTC(2026, 10, 16, 2, 0, arrivals++)) });
}

/** A transcript client: write lines, read until the tagged reply. */
export class LineClient extends SocketReader {
  greeting = '';

  static async connect(port: number, secure = false): Promise<LineClient> {
    const c = new LineClient(await SocketReader.open(port, secure));
    await c.waitFor((b) => b.includes('\r\n'));
    c.greeting = c.take();
    return c;
  }

  /** Send `tag command` and return every line up to and including the tagged one. */
  async cmd(tag: string, command: string): Promise<string[]> {
    this.write(`${tag} ${command}\r\n`);
    return this.until(tag);
  }

  async until(tag: string): Promise<string[]> {
    const re = new RegExp(`(^|\\r\\n)${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n`);
    await this.waitFor((b) => re.test(b));
    const b = this.buf;
    const m = re.exec(b) as RegExpExecArray;
    const end = m.index + m[0].length;
    this.buf = b.slice(end);
    return b.slice(0, end).split('\r\n').filter((l) => l.length > 0);
  }

  async login(user: string, password = PASSWORD): Promise<void> {
    const r = await this.cmd('L1', `LOGIN ${user} "${password}"`);
    if (!r.at(-1)?.startsWith('L1 OK')) throw new Error(`login failed: ${r.join('\n')}`);
  }
}

export function flow(app: TestApp, user: string, opts: { secure?: boolean; password?: string } = {}): ImapFlow {
  return new ImapFlow({
    host: '127.0.0.1',
    port: app.port(opts.secure ? 'imaps' : 'imap'),
    secure: opts.secure ?? false,
    doSTARTTLS: false,
    auth: { user, pass: opts.password ?? PASSWORD },
    logger: false,
    tls: { rejectUnauthorized: false },
  });
}

/** Whether LOGIN over IMAP (imapflow) goes through, and the server's text when it does not. */
export async function imapSignsIn(app: TestApp, user: string, pass: string): Promise<{ ok: boolean; text: string }> {
  const client = new ImapFlow({ host: '127.0.0.1', port: app.port('imap'), secure: false, auth: { user, pass }, logger: false, tls: { rejectUnauthorized: false } });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.logout();
    return { ok: true, text: '' };
  } catch (e) {
    const err = e as { responseText?: string; message?: string };
    return { ok: false, text: err.responseText ?? err.message ?? '' };
  }
}
