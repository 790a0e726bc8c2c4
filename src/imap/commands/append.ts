/**
 * APPEND (with MULTIAPPEND, the UTF8 form and BINARY literals): parsed once, stored once,
 * APPENDUID returned (Thunderbird's sent/draft saving). Over quota → NO [OVERQUOTA].
 */
import { bi, MailError } from '../../lib/errors.js';
import { renderImapStrings } from '../../mail/imap-render.js';
import { toCrlf } from '../../mail/line-endings.js';
import { parseMessage } from '../../mail/parse.js';
import type { StoreMessageInput, StoredCopy } from '../../store/port.js';
import { no } from '../errors.js';
import { findMailbox } from '../mailbox-lookup.js';
import { orderedSet } from '../format.js';
import { ok } from '../state.js';
import { quotaBytes, warnAboutQuota } from './quota.js';
import { AUTH, type CommandSpec } from './spec.js';

export const appendCommand: CommandSpec<'APPEND'> = {
  states: AUTH,
  caps: (s) => ['MULTIAPPEND', `APPENDLIMIT=${s.deps.config.limits.maxMessageBytes}`],
  async run(s, cmd) {
    const store = s.deps.store;
    const account = s.acct();
    const mb = await findMailbox(store, account.id, cmd.mailbox.name);
    if (!mb) throw no('TRYCREATE', 'Hộp thư không tồn tại', 'Mailbox does not exist');
    const cfg = s.deps.config;
    const total = cmd.messages.reduce((n, m) => n + m.data.length, 0);
    for (const m of cmd.messages) {
      if (m.data.length > cfg.limits.maxMessageBytes) throw new MailError('TOO_LARGE', bi('Thư quá lớn', 'Message too large'));
      if (m.data.length === 0) return { kind: 'no', bad: true, text: bi('Thư rỗng', 'Empty message') };
    }
    const quota = await quotaBytes(s, account);
    if ((await store.usage(account.id)) + total > quota) {
      throw new MailError('OVER_QUOTA', bi('Hộp thư đã vượt hạn mức dung lượng', 'Mailbox is over its storage quota'));
    }
    // MULTIAPPEND is all or nothing (RFC 3502 §3): every message is parsed first, then the whole
    // set is stored in ONE transaction (store.storeMessages: blobs written durably, one commit).
    // A failure stores none of them (no EXISTS for other sessions, nothing left to undo), and a
    // crash before the commit leaves none; OK only once the set is durable.
    const inputs: StoreMessageInput[] = cmd.messages.map((m) => {
      // Bare LF / bare CR become CRLF (mail/line-endings.ts): one line structure for every reader.
      // Not in a literal8 (RFC 3516 BINARY APPEND): its binary parts' bytes are data, not lines.
      const raw = m.form === 'binary' ? m.data : toCrlf(m.data);
      const parsed = parseMessage(raw, {
        maxHeaderBytes: cfg.limits.maxHeaderBytes,
        maxDepth: cfg.limits.maxMimeDepth,
        maxParts: cfg.limits.maxMimeParts,
      });
      const flags = m.flags.filter((f) => f !== '\\Recent');
      return {
        raw,
        envelope: parsed.envelope,
        structure: parsed.structure,
        internalDate: m.internalDate?.date ?? s.deps.clock.now(),
        targets: [{ mailboxId: mb.id, flags, quotaBytes: quota }],
        imap: renderImapStrings(parsed.envelope, parsed.structure),
      };
    });
    const stored: StoredCopy[] =
      inputs.length === 1 && inputs[0]
        ? await store.storeMessage(inputs[0])
        : (await store.storeMessages({ messages: inputs })).copies.flat();
    s.deps.metrics.messagesIn.inc({ path: 'append' }, stored.length);
    warnAboutQuota(s, account);
    if (s.selected?.mailbox.id === mb.id) s.selected.view.dirty = true;
    const uidValidity = stored[0]?.uidValidity ?? mb.uidValidity;
    return ok(bi('Đã lưu thư', 'APPEND completed'), `APPENDUID ${uidValidity} ${orderedSet(stored.map((c) => c.uid))}`);
  },
};
