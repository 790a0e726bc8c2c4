/** Shared fixtures for the store tests: a fresh store in a temp dir, messages built in code. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManualClock } from '../../../src/lib/clock.js';
import { silentLogger } from '../../../src/lib/log.js';
import type { Envelope, MimePart } from '../../../src/mail/types.js';
import type { AuditEntry, DeliveryTarget, Store, StoreMessageInput } from '../../../src/store/port.js';
import { openSqliteStore } from '../../../src/store/sqlite/index.js';

export const AUDIT: AuditEntry = { actor: 'test', action: 'test', target: 'test', ref: 'CV-1' };

export interface TestStore {
  store: Store;
  dir: string;
  clock: ManualClock;
  reopen(): Promise<Store>;
  cleanup(): Promise<void>;
}

export async function openTestStore(opts: { inlineBlobMaxBytes?: number; groupCommitWindowMs?: number} = {}): Promise<TestStore> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'buudien-store-'));
  const clock = new ManualClock(new Date('2026-03-01T08:00:00Z'));
  const open = (): Promise<Store> =>
    openSqliteStore({
      dir,
      log: silentLogger(),
      clock,
      inlineBlobMaxBytes: opts.inlineBlobMaxBytes ?? 64 * 1024,
      groupCommitWindowMs: opts.groupCommitWindowMs ?? 0,
    });
  const t: TestStore = {
    store: await open(),
    dir,
    clock,
    async reopen() {
      await t.store.close();
      t.store = await open();
      return t.store;
    },
    async cleanup() {
      await t.store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return t;
}

/** A second store on the same files, as another process (the CLI next to the server) opens it. */
export function openSecondStore(t: TestStore): Promise<Store> {
  return openSqliteStore({ dir: t.dir, log: silentLogger(), clock: t.clock, inlineBlobMaxBytes: 64 * 1024, groupCommitWindowMs: 0 });
}

let accountSeq = 0;

export async function newAccount(store: Store, address?: string, quotaBytes: number | null = null) {
  accountSeq++;
  return store.createAccount(
    {
      address: address ?? `user${accountSeq}@example.gov.vn`,
      kind: 'personal',
      fullName: `Người dùng ${accountSeq}`,
      unitId: null,
      quotaBytes,
      passwordHash: 'x',
      mustChangePassword: false,
    },
    AUDIT,
  );
}

export function envelope(subject: string, from = 'Nguyễn Văn Long <long@example.gov.vn>', to = 'Trần Thị Mai <mai@example.gov.vn>'): Envelope {
  const addr = (s: string) => {
    const m = /^(.*?)\s*<([^@]+)@([^>]+)>$/.exec(s);
    return m ? [{ name: m[1] || null, adl: null, mailbox: m[2] ?? null, host: m[3] ?? null }] : null;
  };
  return { date: null, subject, from: addr(from), sender: null, replyTo: null, to: addr(to), cc: null, bcc: null, inReplyTo: null, messageId: null };
}

export function structure(size: number): MimePart {
  return {
    path: '',
    headerStart: 0,
    bodyStart: 0,
    end: size,
    type: 'text',
    subtype: 'plain',
    params: [],
    contentId: null,
    description: null,
    encoding: '7bit',
    size,
    lines: null,
    md5: null,
    disposition: null,
    language: null,
    location: null,
    filename: null,
    children: [],
    message: null,
  };
}

export function message(
  raw: Buffer | string,
  targets: Array<number | DeliveryTarget>,
  opts: { subject?: string; from?: string; internalDate?: Date } = {},
): StoreMessageInput {
  const bytes = typeof raw === 'string' ? Buffer.from(raw) : raw;
  const subject = opts.subject ?? 'Thử nghiệm';
  const env = envelope(subject, opts.from);
  return {
    raw: bytes,
    envelope: env,
    structure: structure(bytes.length),
    internalDate: opts.internalDate ?? new Date('2026-03-01T08:00:00Z'),
    targets: targets.map((t) => (typeof t === 'number' ? { mailboxId: t, quotaBytes: null } : t)),
  };
}

/**
 * The bytes of a small RFC 5322 message (the full-text index reads the stored bytes: search tests
 * need real headers). The subject is RFC 2047-encoded; `from` and `to` are written as given.
 */
export function rfc822(m: { subject: string; body?: string; from?: string; to?: string }): string {
  const subject = `=?UTF-8?B?${Buffer.from(m.subject).toString('base64')}?=`;
  return `From: ${m.from ?? 'Nguyễn Văn Long <long@example.gov.vn>'}\r\nTo: ${m.to ?? 'Trần Thị Mai <mai@example.gov.vn>'}\r\nSubject: ${subject}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${m.body ?? ''}\r\n`;
}

export function cleanupDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
