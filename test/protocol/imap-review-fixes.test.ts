/**
 * IMAP defects from a review, over a raw socket to the real server: a refused RENAME leaves no
 * parents behind and answers NO (not BAD); mailbox names in NFD compare like the store's NFC
 * names; SEARCH with many HEADER keys reads each message's header once.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { encodeMailboxUtf7 } from '../../src/imap/protocol/utf7.js';
import type { Account } from '../../src/store/port.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { createUser, deliver, LineClient, message } from './imap-helpers.js';

let app: TestApp;
let alice: Account;
beforeAll(async () => {
  app = await startApp();
  alice = await createUser(app, 'alice');
  await createUser(app, 'binh');
  await createUser(app, 'chi');
});
afterAll(async () => app.stop());

async function signedIn(user: string): Promise<LineClient> {
  const c = await LineClient.connect(app.port('imap'));
  await c.login(`${user}@example.gov.vn`);
  return c;
}

/** Special-use folders every new account has; left out of the listings compared below. */
const DEFAULT_FOLDERS = new Set(['Archive', 'Drafts', 'Junk', 'Sent', 'Trash']);

/** The account's mailbox names as stored, sorted, without the default folders. */
async function names(user: string): Promise<string[]> {
  const acct = await app.store.getAccountByAddress(`${user}@example.gov.vn`);
  const all = await app.store.listMailboxes((acct as Account).id);
  return all.map((m) => m.name).filter((n) => !DEFAULT_FOLDERS.has(n)).sort();
}

const tagged = (lines: string[]): string => lines.at(-1) ?? '';

describe('RENAME refused by its meaning', () => {
  it('into its own child: NO [CANNOT], and the missing parents are not created', async () => {
    const c = await signedIn('binh');
    expect(tagged(await c.cmd('a1', 'CREATE a/b'))).toMatch(/^a1 OK/);
    expect(tagged(await c.cmd('a2', 'RENAME a a/n/m'))).toMatch(/^a2 NO \[CANNOT\]/);
    expect(await names('binh')).toEqual(['INBOX', 'a', 'a/b']);
    c.close();
  });

  it("a moved child's new name taken: NO [ALREADYEXISTS], no parent left", async () => {
    const c = await signedIn('binh');
    expect(tagged(await c.cmd('b1', 'CREATE src/kid'))).toMatch(/^b1 OK/);
    expect(tagged(await c.cmd('b2', 'CREATE x/y/dst/kid'))).toMatch(/^b2 OK/);
    expect(tagged(await c.cmd('b3', 'DELETE x/y/dst'))).toMatch(/^b3 OK/);
    // x/y/dst is free but x/y/dst/kid is not: refused, and nothing new appears.
    const before = await names('binh');
    expect(tagged(await c.cmd('b4', 'RENAME src x/y/dst'))).toMatch(/^b4 NO \[ALREADYEXISTS\]/);
    expect(tagged(await c.cmd('b5', 'RENAME src q/r/x/y/dst'))).toMatch(/^b5 OK/);
    expect(tagged(await c.cmd('b6', 'RENAME q/r/x/y/dst/kid q/r/x/y/dst/kid/more'))).toMatch(/^b6 NO \[CANNOT\]/);
    expect(await names('binh')).toEqual(
      [...before.filter((n) => !n.startsWith('src')), 'q', 'q/r', 'q/r/x', 'q/r/x/y', 'q/r/x/y/dst', 'q/r/x/y/dst/kid'].sort(),
    );
    c.close();
  });

  it('to INBOX is NO [CANNOT]; a missing source NO [NONEXISTENT]; both without creating parents', async () => {
    const c = await signedIn('binh');
    expect(tagged(await c.cmd('c1', 'CREATE solo'))).toMatch(/^c1 OK/);
    expect(tagged(await c.cmd('c2', 'RENAME solo inbox'))).toMatch(/^c2 NO \[CANNOT\]/);
    expect(tagged(await c.cmd('c3', 'RENAME nothing p1/p2/z'))).toMatch(/^c3 NO \[NONEXISTENT\]/);
    expect(tagged(await c.cmd('c4', 'RENAME solo solo'))).toMatch(/^c4 NO \[ALREADYEXISTS\]/);
    expect((await names('binh')).filter((n) => n.startsWith('p1'))).toEqual([]);
    // INBOX may go under itself: its messages move, its children stay.
    expect(tagged(await c.cmd('c5', 'RENAME INBOX INBOX/old/2026'))).toMatch(/^c5 OK/);
    expect(await names('binh')).toEqual(expect.arrayContaining(['INBOX', 'INBOX/old', 'INBOX/old/2026']));
    c.close();
  });

  it('when the store still refuses after the parents were made, they are deleted again', async () => {
    const c = await signedIn('binh');
    expect(tagged(await c.cmd('d1', 'CREATE race'))).toMatch(/^d1 OK/);
    const spy = vi.spyOn(app.store, 'renameMailbox').mockImplementationOnce(async () => {
      const { MailError } = await import('../../src/lib/errors.js');
      throw new MailError('INVALID_INPUT', 'refused');
    });
    try {
      expect(tagged(await c.cmd('d2', 'RENAME race far/away/race'))).toMatch(/^d2 NO \[CANNOT\]/);
    } finally {
      spy.mockRestore();
    }
    expect((await names('binh')).filter((n) => n.startsWith('far'))).toEqual([]);
    c.close();
  });
});

describe('mailbox names in decomposed Unicode (NFD)', () => {
  const nfc = 'Dự án'.normalize('NFC');
  const nfd = 'Dự án'.normalize('NFD');
  const q = (name: string): string => `"${encodeMailboxUtf7(name)}"`;

  it('compare like the stored NFC names in CREATE, LIST, STATUS, SELECT, APPEND, COPY, SUBSCRIBE, RENAME, DELETE', async () => {
    expect(nfc).not.toBe(nfd);
    const c = await signedIn('chi');
    expect(tagged(await c.cmd('e1', `CREATE ${q(nfc)}`))).toMatch(/^e1 OK/);
    expect(tagged(await c.cmd('e2', `CREATE ${q(nfd + '/con')}`))).toMatch(/^e2 OK/);
    expect(tagged(await c.cmd('e3', `CREATE ${q(nfd)}`))).toMatch(/^e3 NO \[ALREADYEXISTS\]/);
    expect(await names('chi')).toEqual(['INBOX', nfc, `${nfc}/con`].sort());
    const list = await c.cmd('e4', `LIST "" ${q(nfd + '/%')}`);
    expect(list).toContain(`* LIST (\\HasNoChildren) "/" ${q(nfc + '/con')}`);
    expect(tagged(await c.cmd('e5', `STATUS ${q(nfd)} (MESSAGES)`))).toMatch(/^e5 OK/);
    c.write(`e6 APPEND ${q(nfd)} {3+}\r\nabc\r\n`);
    expect(tagged(await c.until('e6'))).toMatch(/^e6 OK/);
    expect(tagged(await c.cmd('e7', `SELECT ${q(nfd)}`))).toMatch(/^e7 OK/);
    expect(tagged(await c.cmd('e8', `COPY 1 ${q(nfd + '/con')}`))).toMatch(/^e8 OK/);
    expect(tagged(await c.cmd('e9', `UNSUBSCRIBE ${q(nfd + '/con')}`))).toMatch(/^e9 OK/);
    expect(tagged(await c.cmd('e10', `SUBSCRIBE ${q(nfd + '/con')}`))).toMatch(/^e10 OK/);
    expect(tagged(await c.cmd('e11', `RENAME ${q(nfd + '/con')} ${q(nfd + '/cháu')}`))).toMatch(/^e11 OK/);
    expect(tagged(await c.cmd('e12', `DELETE ${q(nfd + '/cháu'.normalize('NFD'))}`))).toMatch(/^e12 OK/);
    expect(await names('chi')).toEqual(['INBOX', nfc].sort());
    c.close();
  });
});

describe('SEARCH with many HEADER keys outside the index', () => {
  it("reads each message's header at most once, and still matches", async () => {
    for (let i = 1; i <= 20; i++) await deliver(app, alice, message({ subject: `m${i}`, extra: i % 2 === 0 ? 'X-Tag: even' : 'X-Tag: odd' }));
    const c = await signedIn('alice');
    await c.cmd('s1', 'SELECT INBOX');
    const reads = vi.spyOn(app.store, 'readBlob');
    try {
      const keys = [...Array<string>(200).fill('HEADER X-Tag even'), 'NOT HEADER X-Other b', 'OR HEADER X-Tag eve HEADER X-Zzz q'].join(' ');
      const r = await c.cmd('s2', `SEARCH ${keys}`);
      expect(tagged(r)).toMatch(/^s2 OK/);
      expect(r).toContain('* SEARCH 2 4 6 8 10 12 14 16 18 20');
      expect(reads.mock.calls.length).toBeLessThanOrEqual(20);
    } finally {
      reads.mockRestore();
    }
    c.close();
  });
});
