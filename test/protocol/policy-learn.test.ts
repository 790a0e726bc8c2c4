/**
 * Spam learning end to end: mail arrives over SMTP, a real IMAP client (imapflow) moves it
 * into Junk / out of Junk or sets $Junk, and rspamd (a fake HTTP server here, speaking
 * /checkv2 and /learnspam|/learnham) is taught accordingly.
 */
import http from 'node:http';
import type net from 'node:net';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import { mimeMessage } from '../unit/policy/fixtures.js';
import { addUser, PASSWORD, send } from './policy-helpers.js';

let app: TestApp;
let server: http.Server;
const learned: Array<{ kind: string; body: string }> = [];
let waiters: Array<() => void> = [];

/** Resolves once `n` learn requests have arrived (no sleeping). */
function learnedCount(n: number): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (learned.length >= n) resolve();
      else waiters.push(check);
    };
    check();
  });
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      res.setHeader('content-type', 'application/json');
      if (req.url === '/checkv2') {
        res.end(JSON.stringify({ score: body.includes('SPAMMY') ? 9 : 0.5, required_score: 15, action: 'no action', symbols: {} }));
        return;
      }
      learned.push({ kind: String(req.url), body });
      const w = waiters;
      waiters = [];
      for (const f of w) f();
      res.end('{"success":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  app = await startApp({ policy: { rspamd: { url, junkScore: 6, rejectScore: 15 } } });
  await addUser(app.store, 'longnv@example.gov.vn');
});

afterAll(async () => {
  await app?.stop();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function imap(): Promise<ImapFlow> {
  const c = new ImapFlow({ host: '127.0.0.1', port: app.port('imap'), secure: false, auth: { user: 'longnv@example.gov.vn', pass: PASSWORD }, tls: { rejectUnauthorized: false }, logger: false });
  await c.connect();
  return c;
}

describe('learning from users (R-POL-4)', () => {
  it('moving a message into Junk teaches spam; moving our Junk out teaches ham; $Junk teaches spam', async () => {
    expect(await send(app, mimeMessage({ subject: 'unwanted offer', text: 'buy now' }))).toMatchObject({ ok: true });
    expect(await send(app, mimeMessage({ subject: 'real work', text: 'SPAMMY but real' }))).toMatchObject({ ok: true });
    expect(await send(app, mimeMessage({ subject: 'flag me', text: 'flag me' }))).toMatchObject({ ok: true });
    const c = await imap();
    try {
      let lock = await c.getMailboxLock('INBOX');
      try {
        const inbox = await c.search({ subject: 'unwanted offer' }, { uid: true });
        expect(inbox).toHaveLength(1);
        await c.messageMove(inbox as number[], 'Junk', { uid: true });
      } finally {
        lock.release();
      }
      await learnedCount(1);
      expect(learned[0]?.kind).toBe('/learnspam');
      expect(learned[0]?.body).toContain('Subject: unwanted offer');

      lock = await c.getMailboxLock('Junk');
      try {
        const ours = await c.search({ subject: 'real work' }, { uid: true });
        expect(ours).toHaveLength(1);
        await c.messageMove(ours as number[], 'INBOX', { uid: true });
      } finally {
        lock.release();
      }
      await learnedCount(2);
      expect(learned[1]?.kind).toBe('/learnham');
      expect(learned[1]?.body).toContain('real work');

      lock = await c.getMailboxLock('INBOX');
      try {
        const f = await c.search({ subject: 'flag me' }, { uid: true });
        await c.messageFlagsAdd(f as number[], ['$Junk'], { uid: true });
      } finally {
        lock.release();
      }
      await learnedCount(3);
      expect(learned[2]?.kind).toBe('/learnspam');
      expect(learned[2]?.body).toContain('flag me');
    } finally {
      await c.logout();
    }
  });
});
