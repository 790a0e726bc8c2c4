/**
 * FETCH / UID FETCH: every item, from the data cached at delivery (envelope and MIME tree with
 * byte offsets), never re-parsing. Body sections are byte slices of the stored blob; large ones
 * are streamed with backpressure, so a big message is never held whole in memory.
 */
import { Readable } from 'node:stream';
import { bi } from '../../lib/errors.js';
import { decodeTransfer } from '../../mail/decode.js';
import { renderBodyStructure, renderEnvelope } from '../../mail/imap-render.js';
import { findPart } from '../../mail/parse.js';
import type { MimePart } from '../../mail/types.js';
import type { MessageDetail, RenderedImap } from '../../store/port.js';
import { no } from '../errors.js';
import { flagList, imapDateTime, seqSet } from '../format.js';
import { nulFree } from '../protocol/encode.js';
import type { FetchItem, Section, SequenceSet } from '../protocol/types.js';
import type { Session } from '../session.js';
import { ok } from '../state.js';
import { SELECTED, type CommandSpec } from './spec.js';
import { resolveSet, uidInSet } from './sets.js';

/** Slices up to this size are read in one piece; larger ones are streamed. */
const STREAM_OVER = 256 * 1024;
/** Response bytes gathered before a write. */
const BATCH_BYTES = 64 * 1024;
/** Messages whose details are loaded at once (with inline bytes: fewer). */
const DETAIL_BATCH = 2000;
const DETAIL_BATCH_BYTES = 250;

/** Items that read message bytes (inline ones come with the details). */
const NEEDS_BYTES: ReadonlySet<FetchItem['kind']> = new Set(['RFC822', 'RFC822.HEADER', 'RFC822.TEXT', 'BODY[]', 'BINARY[]', 'BINARY.SIZE']);

const NEEDS_DETAIL: ReadonlySet<FetchItem['kind']> = new Set([
  'ENVELOPE', 'BODYSTRUCTURE', 'BODY', 'INTERNALDATE', 'RFC822', 'RFC822.HEADER', 'RFC822.TEXT', 'BODY[]', 'BINARY[]', 'BINARY.SIZE',
]);

/** A streamed body slice with each NUL as 0x80 (see nulFree). */
async function* nulFreeChunks(src: Readable): AsyncGenerator<Buffer> {
  for await (const chunk of src) yield nulFree(chunk as Buffer);
}

/** A response under construction: text and Buffers are batched; big slices are streamed. */
class Out {
  private parts: Array<string | Buffer> = [];
  private text = '';
  private bytes = 0;
  /** Writes so far, and where the response being built began (see mark/rollback). */
  private writes = 0;
  private markParts = 0;
  private markText = 0;
  private markWrites = 0;
  constructor(private readonly s: Session) {}

  /** Remember where the next response begins. */
  mark(): void {
    this.markParts = this.parts.length;
    this.markText = this.text.length;
    this.markWrites = this.writes;
  }

  /**
   * Drop the response begun at the mark. False when some of it was already written: the client
   * then holds part of a response that can never be completed.
   */
  rollback(): boolean {
    if (this.writes !== this.markWrites) return false;
    if (this.parts.length > this.markParts) {
      // seal() moved the text held at the mark into parts[markParts] (as its beginning).
      const head = this.parts[this.markParts];
      this.text = this.markText > 0 && typeof head === 'string' ? head.slice(0, this.markText) : '';
      this.parts.length = this.markParts;
    } else {
      this.text = this.text.slice(0, this.markText);
    }
    this.bytes = 0;
    for (const p of this.parts) this.bytes += p.length;
    return true;
  }

  /** Append response text (no I/O). */
  add(t: string): void {
    this.text += t;
  }

  async push(p: string | Buffer): Promise<void> {
    if (typeof p === 'string') this.text += p;
    else {
      this.seal();
      this.parts.push(p);
      this.bytes += p.length;
    }
    await this.maybeFlush();
  }

  private seal(): void {
    if (this.text.length === 0) return;
    this.parts.push(this.text);
    this.bytes += this.text.length;
    this.text = '';
  }

  /** True when enough is gathered to write. */
  full(): boolean {
    return this.bytes + this.text.length >= BATCH_BYTES;
  }

  async maybeFlush(): Promise<void> {
    if (this.full()) await this.flush();
  }

  async flush(): Promise<void> {
    this.seal();
    if (this.parts.length === 0) return;
    const parts = this.parts;
    this.parts = [];
    this.bytes = 0;
    this.writes++;
    await this.s.writeMany(parts);
  }

  /**
   * `{n}\r\n` + the bytes [start, end) of a blob (`bytes`: the whole blob, when already loaded),
   * NULs sent as 0x80 (a `{n}` literal may not carry NUL; see nulFree).
   */
  async blob(blobId: string, start: number, end: number, bytes?: Buffer): Promise<void> {
    const n = Math.max(0, end - start);
    this.add(`{${n}}\r\n`);
    if (n === 0) return;
    if (bytes) {
      await this.push(nulFree(bytes.subarray(Math.min(start, bytes.length), Math.min(end, bytes.length))));
      return;
    }
    if (n <= STREAM_OVER) {
      await this.push(nulFree(await this.s.deps.store.readBlob(blobId, { start, end })));
      return;
    }
    await this.flush();
    this.writes++;
    await this.s.pipeFrom(Readable.from(nulFreeChunks(this.s.deps.store.streamBlob(blobId, { start, end }))));
  }
}

function sectionName(sec: Section): string {
  const p = sec.part.join('.');
  const t = sec.text;
  let text = '';
  switch (t.kind) {
    case 'all':
      break;
    case 'header':
      text = 'HEADER';
      break;
    case 'text':
      text = 'TEXT';
      break;
    case 'mime':
      text = 'MIME';
      break;
    case 'header.fields':
      text = `HEADER.FIELDS${t.not ? '.NOT' : ''} (${t.fields.join(' ')})`;
      break;
  }
  return p && text ? `${p}.${text}` : p || text;
}

/** Byte range [start, end) a section names, or null when the part does not exist. */
function sectionRange(root: MimePart, sec: Section): { start: number; end: number; headerOnly: boolean } | null {
  const part = sec.part.length === 0 ? root : findPart(root, sec.part.join('.'));
  if (!part) return null;
  const t = sec.text.kind;
  if (t === 'all') return { start: sec.part.length === 0 ? root.headerStart : part.bodyStart, end: part.end, headerOnly: false };
  if (t === 'mime') {
    if (sec.part.length === 0) return null;
    return { start: part.headerStart, end: part.bodyStart, headerOnly: true };
  }
  // HEADER / TEXT / HEADER.FIELDS of the message itself, or of an enclosed message/rfc822.
  let msg: MimePart = part;
  if (sec.part.length > 0) {
    if (!part.message) return null;
    msg = part.message.part;
  }
  if (t === 'text') return { start: msg.bodyStart, end: msg.end, headerOnly: false };
  return { start: msg.headerStart, end: msg.bodyStart, headerOnly: true };
}

/** The header lines whose names are (or with `not`, are not) in `fields`, plus the blank line. */
export function filterHeader(header: Buffer, fields: readonly string[], not: boolean): Buffer {
  const want = new Set(fields.map((f) => f.toLowerCase()));
  const text = header.toString('latin1');
  const lines = text.split(/\r\n/);
  const keep: string[] = [];
  let current: string[] | null = null;
  let take = false;
  const flush = (): void => {
    if (current && take) keep.push(...current);
  };
  for (const line of lines) {
    if (line === '') break;
    if ((line.startsWith(' ') || line.startsWith('\t')) && current) {
      current.push(line);
      continue;
    }
    flush();
    const colon = line.indexOf(':');
    const name = (colon >= 0 ? line.slice(0, colon) : line).trim().toLowerCase();
    take = want.has(name) !== not;
    current = [line];
  }
  flush();
  return Buffer.from(keep.map((l) => `${l}\r\n`).join('') + '\r\n', 'latin1');
}

function partial(start: number, end: number, p: { offset: number; length: number } | null): { start: number; end: number } {
  if (!p) return { start, end };
  const s = Math.min(end, start + p.offset);
  return { start: s, end: Math.min(end, s + p.length) };
}

function literalOf(buf: Buffer, binary = false): string | Buffer {
  return binary && buf.includes(0) ? `~{${buf.length}}\r\n` : `{${buf.length}}\r\n`;
}

async function renderBody(s: Session, out: Out, d: MessageDetail, name: string, sec: Section, p: { offset: number; length: number } | null): Promise<void> {
  const origin = p ? `<${p.offset}>` : '';
  // BODY[] is the whole message: no need for the structure.
  const r = sec.part.length === 0 && sec.text.kind === 'all' ? { start: 0, end: d.size, headerOnly: false } : sectionRange(d.structure, sec);
  if (!r) {
    out.add(`${name}${origin} ""`);
    return;
  }
  if (sec.text.kind === 'header.fields') {
    const header = d.bytes ? d.bytes.subarray(r.start, r.end) : await s.deps.store.readBlob(d.blobId, { start: r.start, end: r.end });
    const filtered = nulFree(filterHeader(header, sec.text.fields, sec.text.not));
    const w = partial(0, filtered.length, p);
    const slice = filtered.subarray(w.start, w.end);
    out.add(`${name}${origin} ${literalOf(slice) as string}`);
    await out.push(slice);
    return;
  }
  const w = partial(r.start, r.end, p);
  out.add(`${name}${origin} `);
  await out.blob(d.blobId, w.start, w.end, d.bytes);
}

/**
 * The part a BINARY item names and its encoding, or the NO it fails with (RFC 3516 §4.2: no such
 * part, an encoding the server cannot decode): known from the cached structure alone.
 */
function binaryPart(d: MessageDetail, partNums: readonly number[]): { part: MimePart; enc: string } {
  const part = partNums.length === 0 ? d.structure : findPart(d.structure, partNums.join('.'));
  if (!part) throw no('NONEXISTENT', 'Không có phần này trong thư', 'No such message part');
  const enc = part.encoding.toLowerCase();
  if (!['7bit', '8bit', 'binary', 'base64', 'quoted-printable'].includes(enc)) {
    throw no('UNKNOWN-CTE', 'Không giải mã được phần này', 'Unknown content transfer encoding');
  }
  return { part, enc };
}

async function decodedPart(s: Session, d: MessageDetail, partNums: readonly number[]): Promise<Buffer> {
  const { part, enc } = binaryPart(d, partNums);
  const range = partNums.length === 0 ? { start: d.structure.bodyStart, end: d.structure.end } : { start: part.bodyStart, end: part.end };
  const raw = d.bytes ? d.bytes.subarray(range.start, range.end) : await s.deps.store.readBlob(d.blobId, range);
  return decodeTransfer(raw, enc);
}

/**
 * The UID set VANISHED (EARLIER) is computed over, with `*` as UIDNEXT-1 rather than the highest
 * UID left: a client syncing with `UID FETCH 1:* … (CHANGEDSINCE m VANISHED)` must learn of every
 * expunge, those above the highest surviving UID too (RFC 7162 §3.2.6, whose VANISHED is meant
 * to bring the client's cache up to date; Dovecot does the same).
 */
async function vanishedScope(s: Session, mailboxId: number, set: SequenceSet): Promise<SequenceSet> {
  if (set.kind !== 'ranges' || !set.ranges.some((r) => r.from === '*' || r.to === '*')) return set;
  const mb = await s.deps.store.getMailboxById(mailboxId);
  const top = Math.max((mb?.uidNext ?? 0) - 1, s.sel().view.maxUid);
  return { kind: 'ranges', ranges: set.ranges.map((r) => ({ from: r.from === '*' ? top : r.from, to: r.to === '*' ? top : r.to })) };
}

export const fetchCommand: CommandSpec<'FETCH'> = {
  states: SELECTED,
  caps: () => ['BINARY', 'UIDPLUS', 'MOVE'],
  async run(s, cmd) {
    const { view, mailbox } = s.sel();
    const store = s.deps.store;
    const seqsAll = resolveSet(s, cmd.set, cmd.uid);
    const items = [...cmd.items];
    if (cmd.uid && !items.some((i) => i.kind === 'UID')) items.unshift({ kind: 'UID' });
    if (cmd.changedSince !== null || items.some((i) => i.kind === 'MODSEQ')) s.condstore = true;
    if (cmd.changedSince !== null && !items.some((i) => i.kind === 'MODSEQ')) items.push({ kind: 'MODSEQ' });

    /** UIDs expunged since CHANGEDSINCE (VANISHED): reported in VANISHED (EARLIER) only. */
    let expungedSince: ReadonlySet<number> | null = null;
    if (cmd.vanished) {
      if (!cmd.uid || cmd.changedSince === null || !s.enabled.has('QRESYNC')) {
        return { kind: 'no', bad: true, text: bi('VANISHED cần UID FETCH, CHANGEDSINCE và QRESYNC', 'VANISHED needs UID FETCH, CHANGEDSINCE and QRESYNC') };
      }
      const ch = await store.changesSince(mailbox.id, cmd.changedSince);
      const set = await vanishedScope(s, mailbox.id, cmd.set);
      const gone = ch.expunged.filter((u) => uidInSet(s, u, set));
      if (gone.length > 0) await s.untagged(`VANISHED (EARLIER) ${seqSet(gone)}`);
      expungedSince = new Set(ch.expunged);
    }

    const changedSince = cmd.changedSince;
    // RFC 7162 §3.2.6: the expunged messages are reported with VANISHED (EARLIER), before any
    // FETCH response. The view may still hold some of them (another session expunged them and this
    // one is told after the command, with VANISHED): they get no FETCH response, or the client
    // would see a message it was just told is gone. A message changed after CHANGEDSINCE and then
    // expunged has its expunge after CHANGEDSINCE too, so `expungedSince` has every such UID.
    const seqs =
      changedSince === null
        ? seqsAll
        : seqsAll.filter((q) => view.modseqAt(q) > changedSince && !(expungedSince?.has(view.uidAt(q) as number) ?? false));

    // \Seen is set by BODY[...] / BINARY[...] / RFC822 / RFC822.TEXT without PEEK, before answering.
    const setsSeen = !view.readOnly && items.some((i) => ((i.kind === 'BODY[]' || i.kind === 'BINARY[]') && !i.peek) || i.kind === 'RFC822' || i.kind === 'RFC822.TEXT');
    const hasBinary = items.some((i) => i.kind === 'BINARY[]' || i.kind === 'BINARY.SIZE');
    const seenNow = new Set<number>();
    const markSeen = async (uids: number[]): Promise<void> => {
      const unseen = uids.filter((u) => !view.flagsAt(view.seqOf(u)).includes('\\Seen'));
      if (unseen.length === 0) return;
      const r = await store.setFlags(mailbox.id, unseen, 'add', ['\\Seen'], { origin: s.id });
      for (const c of r.changes) {
        view.applyOwnFlags(c.uid, c.flags, c.modseq);
        seenNow.add(c.uid);
      }
    };
    // With a BINARY item the command can fail part-way (below); then only the messages before the
    // failing one, whose data is sent, are marked, a batch at a time (RFC 3516 §4.2).
    if (setsSeen && !hasBinary) await markSeen(seqs.map((q) => view.uidAt(q) as number));

    const needDetail = items.some((i) => NEEDS_DETAIL.has(i.kind));
    const needBytes = items.some((i) => NEEDS_BYTES.has(i.kind));
    // The MIME tree is parsed only for section offsets (BODY[] of the whole message needs none).
    const rendered: Array<keyof RenderedImap> = [];
    if (items.some((i) => i.kind === 'ENVELOPE')) rendered.push('envelope');
    if (items.some((i) => i.kind === 'BODY')) rendered.push('body');
    if (items.some((i) => i.kind === 'BODYSTRUCTURE')) rendered.push('bodyStructure');
    const needParsed = items.some((i) => NEEDS_BYTES.has(i.kind) && !(i.kind === 'BODY[]' && i.section.part.length === 0 && i.section.text.kind === 'all'));
    const out = new Out(s);
    // BINARY items can fail (no such part, unknown encoding): they are decoded before a message's
    // response is begun (its BODY[] may already be written by the time a later item fails), so a
    // failure ends the command after complete responses only (RFC 3516 §4.2: tagged NO
    // [NONEXISTENT] / [UNKNOWN-CTE]; RFC 9051 §9: every msg-att is whole).
    const decoded: Array<Buffer | undefined> = [];
    // Between items of one response (defined once: not a closure per message).
    let first = true;
    const sep = (): string => {
      const r = first ? '' : ' ';
      first = false;
      return r;
    };
    const step = needDetail ? (needBytes ? DETAIL_BATCH_BYTES : DETAIL_BATCH) : Math.max(1, seqs.length);
    for (let b = 0; b < seqs.length; b += step) {
      const batch = needDetail ? seqs.slice(b, b + step) : seqs;
      let details: Map<number, MessageDetail> | null = null;
      if (needDetail) {
        const list = await store.getMessageDetails(mailbox.id, batch.map((q) => view.uidAt(q) as number), { bytes: needBytes, parsed: needParsed, rendered });
        details = new Map(list.map((d) => [d.uid, d]));
      }
      if (setsSeen && hasBinary && details) {
        // The messages of this batch up to the first whose BINARY items fail (the command ends there).
        const good: number[] = [];
        for (const seq of batch) {
          const d = details.get(view.uidAt(seq) as number);
          if (!d) continue;
          try {
            for (const i of items) if (i.kind === 'BINARY[]' || i.kind === 'BINARY.SIZE') binaryPart(d, i.part);
          } catch {
            break;
          }
          good.push(d.uid);
        }
        await markSeen(good);
      }
      for (const seq of batch) {
        const uid = view.uidAt(seq) as number;
        const d = details?.get(uid);
        if (details && !d) continue; // expunged meanwhile; its EXPUNGE comes later
        out.mark();
        try {
          if (hasBinary) {
            for (let k = 0; k < items.length; k++) {
              const item = items[k] as FetchItem;
              decoded[k] = item.kind === 'BINARY[]' || item.kind === 'BINARY.SIZE' ? await decodedPart(s, d as MessageDetail, item.part) : undefined;
            }
          }
          out.add(`* ${seq} FETCH (`);
          first = true;
          let flagsSent = false;
          for (let k = 0; k < items.length; k++) {
            const item = items[k] as FetchItem;
            switch (item.kind) {
              case 'UID':
                out.add(`${sep()}UID ${uid}`);
                break;
              case 'FLAGS':
                flagsSent = true;
                out.add(`${sep()}FLAGS ${flagList(view.shownFlagsAt(seq))}`);
                break;
              case 'MODSEQ':
                out.add(`${sep()}MODSEQ (${view.modseqAt(seq)})`);
                break;
              case 'RFC822.SIZE':
                out.add(`${sep()}RFC822.SIZE ${view.sizeAt(seq)}`);
                break;
              case 'INTERNALDATE':
                out.add(`${sep()}INTERNALDATE ${imapDateTime((d as MessageDetail).internalDate)}`);
                break;
              case 'ENVELOPE': {
                const dd = d as MessageDetail;
                out.add(`${sep()}ENVELOPE ${dd.imap?.envelope ?? renderEnvelope(dd.envelope)}`);
                break;
              }
              case 'BODYSTRUCTURE': {
                const dd = d as MessageDetail;
                out.add(`${sep()}BODYSTRUCTURE ${dd.imap?.bodyStructure ?? renderBodyStructure(dd.structure, true)}`);
                break;
              }
              case 'BODY': {
                const dd = d as MessageDetail;
                out.add(`${sep()}BODY ${dd.imap?.body ?? renderBodyStructure(dd.structure, false)}`);
                break;
              }
              case 'RFC822': {
                const dd = d as MessageDetail;
                out.add(`${sep()}RFC822 `);
                await out.blob(dd.blobId, 0, dd.size, dd.bytes);
                break;
              }
              case 'RFC822.HEADER': {
                const dd = d as MessageDetail;
                out.add(`${sep()}RFC822.HEADER `);
                await out.blob(dd.blobId, dd.structure.headerStart, dd.structure.bodyStart, dd.bytes);
                break;
              }
              case 'RFC822.TEXT': {
                const dd = d as MessageDetail;
                out.add(`${sep()}RFC822.TEXT `);
                await out.blob(dd.blobId, dd.structure.bodyStart, dd.structure.end, dd.bytes);
                break;
              }
              case 'BODY[]':
                out.add(sep());
                await renderBody(s, out, d as MessageDetail, `BODY[${sectionName(item.section)}]`, item.section, item.partial);
                break;
              case 'BINARY[]': {
                const data = decoded[k] as Buffer;
                const w = partial(0, data.length, item.partial);
                const slice = data.subarray(w.start, w.end);
                await out.push(`${sep()}BINARY[${item.part.join('.')}]${item.partial ? `<${item.partial.offset}>` : ''} ${literalOf(slice, true) as string}`);
                await out.push(slice);
                break;
              }
              case 'BINARY.SIZE': {
                out.add(`${sep()}BINARY.SIZE[${item.part.join('.')}] ${(decoded[k] as Buffer).length}`);
                break;
              }
            }
          }
          if (seenNow.has(uid) && !flagsSent) out.add(`${sep()}FLAGS ${flagList(view.shownFlagsAt(seq))}`);
          out.add(')\r\n');
        } catch (e) {
          // Drop this message's unfinished response and send the complete ones before the tagged NO;
          // if part of it is already on the wire (a store read failing mid-way) the client cannot
          // resynchronise: close the connection.
          if (out.rollback()) await out.flush();
          else s.conn.close();
          throw e;
        }
        if (out.full()) await out.flush();
      }
    }
    await out.flush();
    return ok(bi('Xong', 'FETCH completed'));
  },
};
