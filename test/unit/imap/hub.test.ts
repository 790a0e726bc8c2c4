/** The hub's shared SELECT listing: reused while the mailbox is unchanged, brought up to date by MODSEQ, reloaded when it cannot be trusted. */
import { describe, expect, it } from 'vitest';
import { MailboxHub } from '../../../src/imap/hub.js';
import { MailboxView } from '../../../src/imap/view.js';
import { silentLogger } from '../../../src/lib/log.js';
import type { MailboxChanges, MailboxStatus, MessageIndex, MessageMeta, Store, StoreEvent } from '../../../src/store/port.js';

function meta(uid: number, flags: string[], modseq: number): MessageMeta {
  return { uid, modseq, flags, internalDate: new Date(0), size: 100 + uid, blobId: `b${uid}` };
}

/** A mailbox kept as rows, with the two store calls the hub uses (counted). */
class FakeBox {
  rows: Array<{ uid: number; flags: string[]; modseq: number }> = [];
  expunged: Array<{ uid: number; modseq: number }> = [];
  modseq = 1;
  uidValidity = 7;
  listings = 0;
  changeCalls = 0;

  add(uid: number, flags: string[] = []): void {
    this.rows.push({ uid, flags, modseq: ++this.modseq });
  }
  flag(uid: number, flags: string[]): void {
    const r = this.rows.find((x) => x.uid === uid);
    if (r) Object.assign(r, { flags, modseq: ++this.modseq });
  }
  expunge(uid: number, record = true): void {
    this.rows = this.rows.filter((x) => x.uid !== uid);
    ++this.modseq;
    if (record) this.expunged.push({ uid, modseq: this.modseq });
  }
  status(): MailboxStatus {
    return { messages: this.rows.length, unseen: 0, recent: 0, size: 0, uidNext: 100, uidValidity: this.uidValidity, highestModseq: this.modseq };
  }
  store(): Store {
    const listMessageIndex = async (): Promise<MessageIndex> => {
      this.listings++;
      return { uids: this.rows.map((r) => r.uid), modseqs: this.rows.map((r) => r.modseq), flags: this.rows.map((r) => r.flags.join(' ')), sizes: this.rows.map((r) => 100 + r.uid) };
    };
    const changesSince = async (_id: number, since: number): Promise<MailboxChanges> => {
      this.changeCalls++;
      return {
        highestModseq: this.modseq,
        changed: this.rows.filter((r) => r.modseq > since).map((r) => meta(r.uid, r.flags, r.modseq)),
        expunged: this.expunged.filter((e) => e.modseq > since).map((e) => e.uid),
      };
    };
    return { listMessageIndex, changesSince } as unknown as Store;
  }
}

async function listing(hub: MailboxHub, box: FakeBox): Promise<Array<[number, string, number]>> {
  const l = await hub.listing(1, box.status());
  return l.uids.map((u, i) => [u, (l.flags[i] ?? []).join(' '), l.modseqs[i] ?? 0]);
}

describe('MailboxHub.listing', () => {
  it('reads the mailbox once, then follows adds, flag changes and expunges by MODSEQ', async () => {
    const box = new FakeBox();
    box.add(1, ['\\Seen']);
    box.add(2);
    box.add(3);
    const hub = new MailboxHub(box.store(), silentLogger(), 0);
    expect(await listing(hub, box)).toEqual([[1, '\\Seen', 2], [2, '', 3], [3, '', 4]]);
    expect(await listing(hub, box)).toHaveLength(3);
    expect([box.listings, box.changeCalls]).toEqual([1, 0]);

    box.add(4);
    box.flag(2, ['\\Flagged']);
    box.expunge(1);
    expect(await listing(hub, box)).toEqual([[2, '\\Flagged', 6], [3, '', 4], [4, '', 5]]);
    expect([box.listings, box.changeCalls]).toEqual([1, 1]);
  });

  it('reads the whole mailbox again when the incremental result does not add up or UIDVALIDITY changed', async () => {
    const box = new FakeBox();
    box.add(1);
    box.add(2);
    const hub = new MailboxHub(box.store(), silentLogger(), 0);
    await listing(hub, box);
    box.expunge(1, false); // removed without an expunged record (e.g. INBOX renamed away)
    expect(await listing(hub, box)).toEqual([[2, '', 3]]);
    expect(box.listings).toBe(2);
    box.uidValidity = 8;
    box.rows = [];
    box.add(1);
    expect(await listing(hub, box)).toEqual([[1, '', 5]]);
    expect(box.listings).toBe(3);
  });

  it('a listing newer than the status read before it is current (another session brought it up to date)', async () => {
    const box = new FakeBox();
    box.add(1);
    const hub = new MailboxHub(box.store(), silentLogger(), 0);
    await listing(hub, box);
    const stale = box.status();
    box.add(2);
    await listing(hub, box);
    const l = await hub.listing(1, stale);
    expect(l.uids).toEqual([1, 2]);
    expect([box.listings, box.changeCalls]).toEqual([1, 1]);
  });

  it('never changes arrays it handed out', async () => {
    const box = new FakeBox();
    box.add(1);
    const hub = new MailboxHub(box.store(), silentLogger(), 0);
    const first = await hub.listing(1, box.status());
    box.add(2);
    await hub.listing(1, box.status());
    expect(first.uids).toEqual([1]); // updates make new arrays: what a caller holds stays as it was
  });
});

describe('MailboxView from a shared listing', () => {
  it('copies the listing before its first change', () => {
    const cols = { uids: [1, 2, 3], modseqs: [1, 2, 3], flags: [[], [], []] as Array<readonly string[]>, sizes: [10, 20, 30] };
    const view = new MailboxView({ mailboxId: 1, readOnly: false, modseq: 3, messages: cols });
    expect(view.applyOwnFlags(2, ['\\Seen'], 4)).toBe(2);
    expect(view.applyOwnExpunge([1])).toEqual([1]);
    expect([view.exists, view.flagsAt(1), view.modseqAt(1)]).toEqual([2, ['\\Seen'], 4]);
    expect(cols).toEqual({ uids: [1, 2, 3], modseqs: [1, 2, 3], flags: [[], [], []], sizes: [10, 20, 30] });
  });
});

describe('MailboxHub.changes', () => {
  it('shares one query between identical asks, but not across a change event: a commit made while it ran is not lost', async () => {
    const box = new FakeBox();
    box.add(1);
    let listener: ((e: StoreEvent) => void) | null = null;
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    let calls = 0;
    const store = {
      // Reads at the call (as a read transaction would), answers when released (the first one only).
      changesSince: async (_id: number, since: number): Promise<MailboxChanges> => {
        calls++;
        const answer: MailboxChanges = { highestModseq: box.modseq, changed: box.rows.filter((r) => r.modseq > since).map((r) => meta(r.uid, r.flags, r.modseq)), expunged: [] };
        if (calls === 1) await held;
        return answer;
      },
      onEvent: (l: (e: StoreEvent) => void) => {
        listener = l;
        return () => undefined;
      },
    } as unknown as Store;
    const hub = new MailboxHub(store, silentLogger(), 0);
    hub.start();
    try {
      const since = box.modseq;
      const before = hub.changes(1, since);
      expect(hub.changes(1, since)).toBe(before); // shared while nothing happened
      box.add(2);
      (listener as ((e: StoreEvent) => void) | null)?.({ kind: 'added', accountId: 1, mailboxId: 1, uids: [2], modseq: box.modseq });
      const after = hub.changes(1, since);
      expect(after).not.toBe(before);
      release();
      expect((await before).changed.map((c) => c.uid)).toEqual([]);
      expect((await after).changed.map((c) => c.uid)).toEqual([2]);
      expect(calls).toBe(2);
    } finally {
      hub.stop();
    }
  });
});
