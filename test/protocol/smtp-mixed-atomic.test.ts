/**
 * One SMTP message with local and remote recipients is stored whole or not at all (durability
 * review): when the queue write for the remote recipients fails, the local copies must not be
 * committed either, and the client hears 451 4.3.0 for the whole message (not 250 with the
 * remote recipients silently lost). Its retry then gives each recipient exactly one copy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/store/port.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { failInserts } from '../helpers/sqlite-faults.js';
import { createUser, messagesIn, PASSWORD, SmtpLineClient } from './smtp-helpers.js';

let app: TestApp;
let lan: Account;
let hoa: Account;
let minh: Account;

beforeAll(async () => {
  // The queue runner must not take the item during the test (it is counted, not sent).
  app = await startApp({ delivery: { queuePollMs: 3_600_000 } });
  lan = await createUser(app.store, 'lan.mixed@example.gov.vn');
  hoa = await createUser(app.store, 'hoa.mixed@example.gov.vn');
  minh = await createUser(app.store, 'minh.mixed@example.gov.vn');
}, 30_000);
afterAll(async () => {
  await app?.stop();
});

/** One submission transaction over a raw socket; returns the reply to the final dot. */
async function submit(to: string[], subject: string): Promise<{ code: number; text: string }> {
  const c = await SmtpLineClient.connect(app.port('submission'));
  try {
    expect((await c.read()).code).toBe(220);
    await c.cmd('EHLO client.example.com');
    const auth = await c.cmd(`AUTH PLAIN ${Buffer.from(`\0lan.mixed@example.gov.vn\0${PASSWORD}`).toString('base64')}`);
    expect(auth.code).toBe(235);
    expect((await c.cmd('MAIL FROM:<lan.mixed@example.gov.vn>')).code).toBe(250);
    for (const r of to) expect((await c.cmd(`RCPT TO:<${r}>`)).code).toBe(250);
    expect((await c.cmd('DATA')).code).toBe(354);
    const body = [
      'From: <lan.mixed@example.gov.vn>',
      `To: ${to.map((r) => `<${r}>`).join(', ')}`,
      `Subject: ${subject}`,
      `Message-ID: <${subject}@example.gov.vn>`,
      '',
      'Xin chào',
      '.',
    ].join('\r\n');
    const end = await c.cmd(body);
    await c.cmd('QUIT');
    return { code: end.code, text: end.text };
  } finally {
    c.close();
  }
}

describe('a message with local and remote recipients', () => {
  it('answers 451 4.3.0 and stores nothing when the queue write fails; the retry stores one copy and one queue item', async () => {
    const to = ['hoa.mixed@example.gov.vn', 'doitac@other.example.com'];
    const queuedBefore = (await app.store.listQueue()).length;
    const restore = failInserts(app.dir, 'queue');
    let first: { code: number; text: string };
    try {
      first = await submit(to, 'mixed-fault');
    } finally {
      restore();
    }
    expect(first.code).toBe(451);
    expect(first.text).toMatch(/^4\.3\.0 /);
    // All or nothing: no local copy committed without the remote recipients' queue item.
    expect(await messagesIn(app.store, hoa.id)).toHaveLength(0);
    expect(await app.store.listQueue()).toHaveLength(queuedBefore);
    // Nor a failure notice to the sender: it was told to retry, not that a recipient failed.
    expect(await messagesIn(app.store, lan.id)).toHaveLength(0);

    // The client retries the whole message: each recipient gets exactly one copy / queue entry.
    const retry = await submit(to, 'mixed-fault');
    expect(retry.code).toBe(250);
    const copies = await messagesIn(app.store, hoa.id);
    expect(copies).toHaveLength(1);
    expect(copies[0]?.toString()).toContain('Subject: mixed-fault');
    const queue = (await app.store.listQueue()).filter((q) => q.messageId?.includes('mixed-fault'));
    expect(queue).toHaveLength(1);
    expect(queue[0]?.recipients).toEqual(['doitac@other.example.com']);
    const log = await app.store.searchSendLog({ sender: 'lan.mixed@example.gov.vn' });
    expect(log.filter((l) => l.outcome === 'delivered').map((l) => l.recipient)).toEqual(['hoa.mixed@example.gov.vn']);
    expect(log.filter((l) => l.outcome === 'queued').map((l) => l.recipient)).toEqual(['doitac@other.example.com']);
  });

  it('a local recipient alone still takes the plain path and a failure of its write is 451 too', async () => {
    const restore = failInserts(app.dir, 'messages');
    let r: { code: number; text: string };
    try {
      r = await submit(['minh.mixed@example.gov.vn'], 'local-fault');
    } finally {
      restore();
    }
    expect(r.code).toBe(451);
    expect(r.text).toMatch(/^4\.3\.0 /);
    expect(await messagesIn(app.store, minh.id)).toHaveLength(0);
    expect((await submit(['minh.mixed@example.gov.vn'], 'local-ok')).code).toBe(250);
    expect(await messagesIn(app.store, minh.id)).toHaveLength(1);
  });
});
