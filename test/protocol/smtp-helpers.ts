/**
 * Helpers for the SMTP protocol tests: a line client that reads SMTP replies, a local sink
 * (a small smtp-server the queue delivers to through delivery.routes), and message builders.
 * Accounts, mailbox reads and waiting come from test/helpers/ (accounts.ts, messages.ts).
 */
import { has } from '../helpers/tools.js';
import { spawn } from 'node:child_process';
import { SMTPServer } from 'smtp-server';
import type { Account, Store } from '../../src/store/port.js';
import { createTestAccount, PASSWORD } from '../helpers/accounts.js';
import { SocketReader } from '../helpers/socket-client.js';

export { PASSWORD };
export { messagesIn, nextMessage, until } from '../helpers/messages.js';

export async function createUser(store: Store, address: string, opts: { kind?: 'personal' | 'unit'; quotaBytes?: number | null } = {}): Promise<Account> {
  return createTestAccount(store, address, opts);
}

export interface Reply {
  code: number;
  lines: string[];
  /** Last line without the code, e.g. "5.1.1 Hộp thư không tồn tại / No such mailbox". */
  text: string;
}

/** Speaks SMTP line by line over a real socket. */
export class SmtpLineClient extends SocketReader {
  static async connect(port: number, opts: { tls?: boolean } = {}): Promise<SmtpLineClient> {
    return new SmtpLineClient(await SocketReader.open(port, opts.tls ?? false));
  }

  /** Next complete reply (multi-line aware); code 0 when the server closed the connection. */
  async read(): Promise<Reply> {
    for (;;) {
      const lines = this.buf.split('\r\n');
      for (let i = 0; i < lines.length - 1; i++) {
        const l = lines[i] ?? '';
        if (/^\d{3} /.test(l) || /^\d{3}$/.test(l)) {
          const all = lines.slice(0, i + 1);
          this.buf = lines.slice(i + 1).join('\r\n');
          return { code: Number(l.slice(0, 3)), lines: all, text: l.slice(4) };
        }
      }
      if (this.closed) return { code: 0, lines: [], text: '' };
      await this.nextEvent();
    }
  }

  async cmd(line: string): Promise<Reply> {
    this.socket.write(`${line}\r\n`);
    return this.read();
  }
}

export interface SinkMessage {
  from: string;
  to: string[];
  raw: Buffer;
  /** MAIL FROM parameters as smtp-server parsed them (xtext-decoded), e.g. { RET: 'HDRS' }. */
  mailArgs: Record<string, string | boolean>;
  /** RCPT TO parameters by recipient, e.g. { 'a@x': { NOTIFY: 'SUCCESS' } }. */
  rcptArgs: Record<string, Record<string, string | boolean>>;
}

export interface Sink {
  port: number;
  messages: SinkMessage[];
  /** Resolves with the next message (or one already received after `index`). */
  next(index?: number): Promise<SinkMessage>;
  /** RCPT replies by recipient: return an error to refuse (e.g. 451 once). */
  rcpt: (address: string, attempt: number) => { code: number; text: string } | null;
  close(): Promise<void>;
}

const argsOf = (a: unknown): Record<string, string | boolean> => (a && typeof a === 'object' ? { ...(a as Record<string, string | boolean>) } : {});

/** A local SMTP server standing in for the rest of the Internet (`hideDSN`: one that does not offer DSN). */
export async function startSink(opts: { hideDSN?: boolean } = {}): Promise<Sink> {
  const messages: SinkMessage[] = [];
  const waiters: Array<() => void> = [];
  const attempts = new Map<string, number>();
  const sink: Sink = {
    port: 0,
    messages,
    rcpt: () => null,
    async next(index = messages.length) {
      while (messages.length <= index) await new Promise<void>((r) => waiters.push(r));
      return messages[index] as SinkMessage;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH'],
    logger: false,
    hideSTARTTLS: false,
    hideDSN: opts.hideDSN ?? false,
    onRcptTo(address, _session, cb) {
      const n = (attempts.get(address.address) ?? 0) + 1;
      attempts.set(address.address, n);
      const r = sink.rcpt(address.address, n);
      if (r) {
        const e = new Error(r.text) as Error & { responseCode: number };
        e.responseCode = r.code;
        return cb(e);
      }
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks),
          mailArgs: session.envelope.mailFrom ? argsOf(session.envelope.mailFrom.args) : {},
          rcptArgs: Object.fromEntries(session.envelope.rcptTo.map((r) => [r.address, argsOf(r.args)])),
        });
        const w = waiters.splice(0);
        for (const f of w) f();
        cb();
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const a = server.server.address();
  sink.port = typeof a === 'object' && a ? a.port : 0;
  return sink;
}

/** Run a command; resolves with exit code, stdout and stderr. */
export function run(cmd: string, args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', (e) => resolve({ code: 127, stdout, stderr: stderr + String(e) }));
    p.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    if (input !== undefined) p.stdin.end(input);
    else p.stdin.end();
  });
}

export async function which(cmd: string): Promise<boolean> {
  return has(cmd);
}

export function message(opts: { from: string; to: string; subject?: string; body?: string; headers?: string[] }): string {
  return [
    `From: <${opts.from}>`,
    `To: <${opts.to}>`,
    `Subject: ${opts.subject ?? 'Thử nghiệm'}`,
    `Message-ID: <${Math.random().toString(36).slice(2)}@test>`,
    'Date: Sun, 22 Nov 2026 10:00:00 +0000',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    ...(opts.headers ?? []),
    '',
    opts.body ?? 'Xin chào',
    '',
  ].join('\r\n');
}

/** MAIL/RCPT/DATA over a line client; returns the final reply. */
export async function sendRaw(c: SmtpLineClient, from: string, to: string[], data: string | Buffer): Promise<Reply> {
  let r = await c.cmd(`MAIL FROM:<${from}>`);
  if (r.code !== 250) return r;
  let accepted = 0;
  for (const t of to) {
    r = await c.cmd(`RCPT TO:<${t}>`);
    if (r.code === 250) accepted++;
  }
  if (accepted === 0) return r;
  r = await c.cmd('DATA');
  if (r.code !== 354) return r;
  c.write(data);
  const s = typeof data === 'string' ? data : data.toString('latin1');
  c.write(s.endsWith('\r\n') ? '.\r\n' : '\r\n.\r\n');
  return c.read();
}
