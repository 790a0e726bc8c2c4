/**
 * POP3 sessions against a store that fails: internal errors become -ERR [SYS/TEMP] (or "no longer
 * exists"), never a crash, and the session goes on. Real sockets, fake store and auth.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { AuthService, SignInResult } from '../../../src/auth/service.js';
import { credentialOf } from '../../../src/auth/sign-in-holds.js';
import { configFrom } from '../../../src/config/load.js';
import { silentLogger } from '../../../src/lib/log.js';
import { createMetrics } from '../../../src/lib/metrics.js';
import type { Service } from '../../../src/lib/service.js';
import { createPop3Service, type Pop3Store } from '../../../src/pop3/index.js';
import type { Account, Mailbox, MessageMeta } from '../../../src/store/port.js';
import { Pop3Client } from '../../helpers/pop3-fixtures.js';

const account = { id: 1, address: 'a@example.gov.vn', state: 'active', passwordHash: 'h', totpSecret: null } as Account;
const inbox = { id: 10, accountId: 1, name: 'INBOX', uidValidity: 77 } as Mailbox;
const meta = (uid: number, size: number): MessageMeta => ({ uid, size, blobId: `b${uid}`, flags: [], modseq: 1, internalDate: new Date() });

const auth: AuthService = {
  async signIn(req): Promise<SignInResult> {
    return req.password === 'pw'
      ? { ok: true, account, delegate: null, credential: credentialOf(account, null), method: 'password', appPasswordId: null, totpRequired: false }
      : { ok: false, kind: 'bad-credentials', message: 'Sai / Wrong', account: null };
  },
  changePassword: () => Promise.reject(new Error('POP3 never changes passwords')),
  plaintextAllowed: () => true,
  passwordExpired: () => false,
  failureMessage: (k) => k,
  drain: () => Promise.resolve(),
};

function fakeStore(over: Partial<Pop3Store>): Pop3Store {
  const fail = async (): Promise<never> => {
    throw new Error('disk on fire');
  };
  return {
    getMailbox: async () => inbox,
    listMessages: async () => [meta(1, 10), meta(2, 300 * 1024)],
    readBlob: fail,
    streamBlob: () => {
      throw new Error('disk on fire');
    },
    expunge: fail,
    setFlags: fail,
    getAccount: async () => account,
    listAppPasswords: async () => [],
    listDelegatedTo: async () => [],
    ...over,
  };
}

let service: Service | null = null;
afterEach(async () => {
  await service?.stop();
  service = null;
});

async function start(store: Pop3Store): Promise<number> {
  const config = configFrom({ listeners: { pop3: { host: '127.0.0.1', port: 0 }, pop3s: { enabled: false } } });
  service = createPop3Service({ store, auth, config, log: silentLogger(), metrics: createMetrics(), tls: null });
  const [bound] = await service.start();
  return bound?.port ?? 0;
}

describe('POP3 session with a failing store', () => {
  it('unreadable message bytes: -ERR for that message, the session continues; failed expunge: -ERR [SYS/TEMP] at QUIT', async () => {
    const port = await start(fakeStore({}));
    const c = await Pop3Client.open(port);
    await c.line();
    expect(await c.login('a', 'pw')).toMatch(/^\+OK a@example.gov.vn/);
    expect(await c.cmd('RETR 1')).toBe('-ERR Thư này không còn nữa / This message no longer exists');
    expect(await c.cmd('RETR 2')).toBe('-ERR Thư này không còn nữa / This message no longer exists'); // the streaming path
    expect(await c.cmd('UIDL 2')).toBe('+OK 2 77.2');
    expect(await c.cmd('DELE 1')).toMatch(/^\+OK/);
    expect(await c.cmd('QUIT')).toMatch(/^-ERR \[SYS\/TEMP\] Một số thư đã đánh dấu chưa xóa được/);
    await c.waitClosed();
  });

  it('a maildrop that cannot be opened: -ERR [SYS/TEMP], the lock is released for the next try', async () => {
    let broken = true;
    const port = await start(
      fakeStore({
        getMailbox: async () => {
          if (broken) throw new Error('db locked');
          return inbox;
        },
      }),
    );
    const c = await Pop3Client.open(port);
    await c.line();
    expect(await c.login('a', 'pw')).toMatch(/^-ERR \[SYS\/TEMP\] Không mở được hộp thư \/ Cannot open the maildrop/);
    broken = false;
    expect(await c.login('a', 'pw')).toMatch(/^\+OK/);
    expect(await c.cmd('QUIT')).toMatch(/^\+OK/);
  });

  it('a message expunged elsewhere mid-stream drops the connection, deleting nothing', async () => {
    const { Readable } = await import('node:stream');
    let expunged = 0;
    const port = await start(
      fakeStore({
        listMessages: async () => [meta(1, 400 * 1024)],
        streamBlob: () =>
          Readable.from(
            (async function* () {
              yield Buffer.from('Subject: x\r\n\r\n' + 'y'.repeat(1000) + '\r\n');
              throw new Error('blob vanished');
            })(),
          ),
        expunge: async () => {
          expunged++;
          return [];
        },
      }),
    );
    const c = await Pop3Client.open(port);
    await c.line();
    await c.login('a', 'pw');
    expect(await c.cmd('DELE 1')).toMatch(/^\+OK/);
    expect(await c.cmd('RSET')).toMatch(/^\+OK/);
    expect(await c.cmd('RETR 1')).toMatch(/^\+OK/);
    await c.waitClosed();
    expect(expunged).toBe(0);
  });
});
