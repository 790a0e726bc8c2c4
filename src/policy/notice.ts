/**
 * Short system notices (quota warnings, sending-limit notices to a unit admin) written straight
 * into an account's INBOX: a single text/plain UTF-8 part whose envelope and structure are
 * built here (no parsing needed), stored with store.storeMessage without a quota check.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { Clock } from '../lib/clock.js';
import type { MimePart } from '../mail/types.js';
import type { Account, Store } from '../store/port.js';

export interface Notice {
  subject: string;
  body: string;
}

function encodeWord(s: string): string {
  return /^[\x20-\x7e]*$/.test(s) ? s : `=?UTF-8?B?${Buffer.from(s, 'utf8').toString('base64')}?=`;
}

/** Build the raw notice and its cached envelope/structure. */
export function buildNotice(config: Readonly<Config>, clock: Clock, to: string, n: Notice) {
  const from = `postmaster@${config.domains[0] ?? 'localhost'}`;
  const date = clock.now().toUTCString().replace('GMT', '+0000');
  const messageId = `<${randomUUID()}@${config.organization.hostname}>`;
  const subject = encodeWord(n.subject);
  const fromName = encodeWord('Hệ thống thư điện tử');
  const body = Buffer.from(n.body.replace(/\r?\n/g, '\r\n'), 'utf8').toString('base64').replace(/.{76}/g, '$&\r\n') + '\r\n';
  const head =
    `From: ${fromName} <${from}>\r\nTo: <${to}>\r\nSubject: ${subject}\r\nDate: ${date}\r\nMessage-ID: ${messageId}\r\n` +
    `Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n`;
  const raw = Buffer.from(head + body, 'utf8');
  const bodyStart = Buffer.byteLength(head);
  const [fl, fd] = from.split('@') as [string, string];
  const [tl, td] = to.split('@') as [string, string];
  const structure: MimePart = {
    path: '',
    headerStart: 0,
    bodyStart,
    end: raw.length,
    type: 'text',
    subtype: 'plain',
    params: [{ name: 'charset', value: 'utf-8' }],
    contentId: null,
    description: null,
    encoding: 'base64',
    size: raw.length - bodyStart,
    lines: body.split('\r\n').length - 1,
    md5: createHash('md5').update(raw.subarray(bodyStart)).digest('hex'),
    disposition: null,
    language: null,
    location: null,
    filename: null,
    children: [],
    message: null,
  };
  const envelope = {
    date,
    subject,
    from: [{ name: fromName, adl: null, mailbox: fl, host: fd }],
    sender: [{ name: fromName, adl: null, mailbox: fl, host: fd }],
    replyTo: [{ name: fromName, adl: null, mailbox: fl, host: fd }],
    to: [{ name: null, adl: null, mailbox: tl, host: td }],
    cc: null,
    bcc: null,
    inReplyTo: null,
    messageId,
  };
  return { raw, structure, envelope };
}

/** Deliver a notice into the account's INBOX (no quota check: a quota warning must arrive). */
export async function deliverNotice(deps: { store: Store; config: Readonly<Config>; clock: Clock }, account: Account, n: Notice): Promise<void> {
  const inbox = await deps.store.getMailbox(account.id, 'INBOX');
  if (!inbox) return;
  const m = buildNotice(deps.config, deps.clock, account.address, n);
  await deps.store.storeMessage({
    raw: m.raw,
    envelope: m.envelope,
    structure: m.structure,
    internalDate: deps.clock.now(),
    targets: [{ mailboxId: inbox.id, quotaBytes: null }],
  });
}
