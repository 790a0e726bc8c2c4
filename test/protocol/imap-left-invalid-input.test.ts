/**
 * The store's INVALID_INPUT (well-formed input it refuses) reaches an IMAP client as a tagged
 * NO [CANNOT] (RFC 9051 §7.1), never BAD, which means a command the server could not parse.
 * Today the IMAP commands check what the store would refuse before asking it (CREATE's name
 * checks, RENAME's checkRename), so a client cannot make the store throw it; the store is made to
 * throw here (as a racing change or a stricter store would) to see what the client gets.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { bi, MailError } from '../../src/lib/errors.js';
import { toImapFailure } from '../../src/imap/errors.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { createUser, LineClient, message } from './imap-helpers.js';

describe('INVALID_INPUT from the store', () => {
  it('translates to NO [CANNOT] with the bilingual text (unit)', () => {
    const f = toImapFailure(new MailError('INVALID_INPUT', bi('Tên thư mục không hợp lệ', 'Invalid mailbox name'), { name: 'x' }));
    expect(f).toEqual({ status: 'NO', code: 'CANNOT', text: 'Tên thư mục không hợp lệ / Invalid mailbox name', internal: false });
  });

  describe('over the wire', () => {
    let app: TestApp;
    beforeAll(async () => {
      app = await startApp();
      await createUser(app, 'minhlq');
    });
    afterAll(async () => app?.stop());

    it('CREATE and APPEND answer NO [CANNOT], and the session goes on', async () => {
      const c = await LineClient.connect(app.port('imap'));
      await c.login('minhlq');
      const refuse = async (): Promise<never> => {
        throw new MailError('INVALID_INPUT', bi('Tên thư mục không hợp lệ', 'Invalid mailbox name'));
      };
      const create = vi.spyOn(app.store, 'createMailbox').mockImplementationOnce(refuse);
      try {
        const r = await c.cmd('c1', 'CREATE Reports');
        expect(r).toEqual(['c1 NO [CANNOT] Tên thư mục không hợp lệ / Invalid mailbox name']);
      } finally {
        create.mockRestore();
      }

      const raw = message({ subject: 'Báo cáo' });
      const store = vi.spyOn(app.store, 'storeMessage').mockImplementationOnce(refuse);
      try {
        c.write(`a1 APPEND INBOX {${raw.length}+}\r\n`);
        c.write(raw);
        c.write('\r\n');
        expect(await c.until('a1')).toEqual(['a1 NO [CANNOT] Tên thư mục không hợp lệ / Invalid mailbox name']);
      } finally {
        store.mockRestore();
      }

      expect((await c.cmd('c2', 'CREATE Reports')).at(-1)).toMatch(/^c2 OK/);
      c.close();
    });
  });
});
