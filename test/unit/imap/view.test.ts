/** The per-session mailbox view: sequence ↔ UID mapping, set resolution, pending changes and when they are announced. */
import { describe, expect, it } from 'vitest';
import type { MailboxChanges, MessageMeta, Store } from '../../../src/store/port.js';
import { MailboxView } from '../../../src/imap/view.js';
import { orderedSet, seqSet } from '../../../src/imap/format.js';
import { filterHeader } from '../../../src/imap/commands/fetch.js';
import { baseSubject } from '../../../src/imap/commands/sort.js';
import { listPattern } from '../../../src/imap/commands/list.js';
import { sentDay } from '../../../src/imap/search-eval.js';

function meta(uid: number, flags: string[] = [], modseq = uid): MessageMeta {
  return { uid, modseq, flags, internalDate: new Date(0), size: 100 + uid, blobId: `b${uid}` };
}

/** Only changesSince is used by the view. */
function fakeStore(changes: MailboxChanges): Store {
  return { changesSince: async () => changes } as unknown as Store;
}

describe('MailboxView', () => {
  const view = (): MailboxView => new MailboxView({ mailboxId: 1, readOnly: false, modseq: 10, messages: [meta(2), meta(5), meta(7), meta(9)] });

  it.each([
    ['1:2', false, [1, 2]],
    ['*', false, [4]],
    ['3:*', false, [3, 4]],
    ['5:7 (uid)', true, [2, 3]],
    ['6:* (uid)', true, [3, 4]],
    ['100:* (uid, * is the highest uid)', true, [4]],
    ['1,1:2,2 (dedup)', false, [1, 2]],
  ] as const)('resolves %s', (label, byUid, want) => {
    const v = view();
    const ranges: Record<string, Array<{ start: number | null; end: number | null }>> = {
      '1:2': [{ start: 1, end: 2 }],
      '*': [{ start: null, end: null }],
      '3:*': [{ start: 3, end: null }],
      '5:7 (uid)': [{ start: 5, end: 7 }],
      '6:* (uid)': [{ start: 6, end: null }],
      '100:* (uid, * is the highest uid)': [{ start: 100, end: null }],
      '1,1:2,2 (dedup)': [{ start: 1, end: 1 }, { start: 1, end: 2 }, { start: 2, end: 2 }],
    };
    expect(v.resolve(ranges[label] ?? [], byUid)).toEqual(want);
  });

  it('maps UIDs and sequence numbers both ways', () => {
    const v = view();
    expect(v.uidAt(3)).toBe(7);
    expect(v.seqOf(7)).toBe(3);
    expect(v.seqOf(6)).toBe(0);
    expect(v.maxUid).toBe(9);
  });

  it('keeps other sessions\' expunges pending until allowed, then announces them highest first', async () => {
    const v = view();
    await v.sync(fakeStore({ highestModseq: 12, changed: [meta(10, [], 11)], expunged: [2, 7] }));
    const during = v.flush(false);
    expect(during.expunged).toEqual([]);
    expect(during.exists).toBe(5);
    expect(v.exists).toBe(5);
    const after = v.flush(true);
    expect(after.expunged).toEqual([3, 1]);
    expect(after.vanished).toEqual([2, 7]);
    expect(v.allUids()).toEqual([5, 9, 10]);
  });

  it('announces flag changes from elsewhere but not its own', async () => {
    const v = view();
    v.applyOwnFlags(5, ['\\Seen'], 11);
    await v.sync(fakeStore({ highestModseq: 12, changed: [meta(5, ['\\Seen'], 11), meta(9, ['\\Flagged'], 12)], expunged: [] }));
    const r = v.flush(false);
    expect(r.flags).toEqual([{ seq: 4, uid: 9, flags: ['\\Flagged'], modseq: 12 }]);
    expect(v.highestModseq).toBe(12);
  });

  it('drops a message that arrived and was expunged before it was announced', async () => {
    const v = view();
    await v.sync(fakeStore({ highestModseq: 11, changed: [meta(10, [], 11)], expunged: [] }));
    await v.sync(fakeStore({ highestModseq: 12, changed: [], expunged: [10] }));
    const r = v.flush(true);
    expect(r.exists).toBeNull();
    expect(r.expunged).toEqual([]);
  });

  it('keeps \\Recent as a few UID ranges: merged, counted and searched against the view', async () => {
    const v = view(); // UIDs 2 5 7 9
    expect(v.recentCount()).toBe(0);
    expect(v.shownFlagsAt(1)).toEqual([]);
    v.addRecent(1, 0); // an empty claim
    v.addRecent(5, 6);
    v.addRecent(9, 12);
    v.addRecent(7, 8); // adjacent to both: one range 5..12
    v.addRecent(6, 7); // overlapping (EXAMINE peeks again)
    expect([4, 5, 6, 7, 8, 9, 12, 13].map((u) => v.isRecent(u))).toEqual([false, true, true, true, true, true, true, false]);
    expect(v.recentCount()).toBe(3);
    expect(v.recentSeqs()).toEqual([2, 3, 4]);
    expect(v.shownFlagsAt(2)).toEqual(['\\Recent']);
    expect(v.shownFlagsAt(2)).toBe(v.shownFlagsAt(3)); // one shared list per flag set
    expect(v.flagsAt(2)).toEqual([]); // the stored flags stay as they are
    // A claim's new messages arrive with the next sync; expunged ones leave the count.
    await v.sync(fakeStore({ highestModseq: 12, changed: [meta(11, ['\\Seen'], 11)], expunged: [7] }));
    v.flush(true);
    expect(v.recentCount()).toBe(3);
    expect(v.shownFlagsAt(4)).toEqual(['\\Seen', '\\Recent']);
    v.addRecent(1, 2);
    expect(v.recentSeqs()).toEqual([1, 2, 3, 4]);
    v.clearRecent();
    expect(v.recentCount()).toBe(0);
    expect(v.shownFlagsAt(2)).toEqual([]);
  });
});

describe('wire helpers', () => {
  it.each([
    [[1, 2, 3, 5, 7, 8], '1:3,5,7:8'],
    [[9, 1, 2], '1:2,9'],
    [[4], '4'],
  ])('seqSet(%j) = %s', (nums, want) => expect(seqSet(nums)).toBe(want));

  it('orderedSet keeps the order COPYUID pairs need', () => expect(orderedSet([5, 3, 4, 10])).toBe('5,3:4,10'));

  it('filters header fields (HEADER.FIELDS and .NOT), continuation lines included', () => {
    const h = Buffer.from('Subject: a\r\n b\r\nFrom: x\r\nTo: y\r\n\r\n');
    expect(filterHeader(h, ['SUBJECT'], false).toString()).toBe('Subject: a\r\n b\r\n\r\n');
    expect(filterHeader(h, ['subject'], true).toString()).toBe('From: x\r\nTo: y\r\n\r\n');
  });

  it.each([
    ['Re: Báo cáo', 'báo cáo'],
    ['Fwd: RE: [ubnd] Kế hoạch (fwd)', 'kế hoạch'],
    ['=?utf-8?B?VMOgaSBsaeG7h3U=?=', 'tài liệu'],
    ['[Fwd: Lịch họp]', 'lịch họp'],
  ])('base subject of %s is %s', (s, want) => expect(baseSubject(s)).toBe(want));

  it.each([
    ['*', 'Dự án/2026', true],
    ['%', 'Dự án/2026', false],
    ['Dự án/%', 'Dự án/2026', true],
    ['INBOX', 'INBOX', true],
    ['a.b', 'axb', false],
    ['a.b', 'a.b', true],
    ['%/2026', 'Dự án/2026', true],
    ['%2026', 'Dự án/2026', false],
    ['*2026', 'Dự án/2026', true],
    ['D%n', 'Dự án', true],
    ['D*', 'D', true],
    ['%', '', true],
    ['x', '', false],
    ['a%%b', 'ab', true],
    ['a%/%b', 'a/b', true],
    ['a%b', 'a/b', false],
    ['😀%', '😀 x', true],
    ['[^$]', '[^$]', true],
  ])('LIST pattern %s on %s → %s', (p, name, want) => expect(listPattern(p)(name)).toBe(want));

  it('matches a pattern with many wildcards against a long name in one pass per pattern character (review: 195 s as a RegExp)', () => {
    const name = 'a'.repeat(300);
    expect(listPattern('*a*a*a*a*a*b')(name)).toBe(false);
    expect(listPattern('*a*a*a*a*a*')(name)).toBe(true);
  });
});

describe('SENT* dates', () => {
  it.each([
    ['Wed, 18 Nov 2026 01:00:00 +0700', Date.UTC(2026, 10, 18)],
    ['18 Nov 26 23:59 -0500', Date.UTC(2026, 10, 18)],
    ['garbage', null],
    [null, null],
  ])('the day of %s is in the header\'s own zone', (h, want) => expect(sentDay(h)).toBe(want));
});
