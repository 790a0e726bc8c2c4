/**
 * policy.maxMessagesPerHour outlives a restart: an account's first check in a new process reads
 * its last hour from the send log. A refused message does not count; another account is not
 * touched. Sent with nodemailer over implicit TLS.
 */
import { rmSync } from 'node:fs';
import nodemailer from 'nodemailer';
import { afterEach, describe, expect, it } from 'vitest';
import { startApp, testDir, type TestApp } from '../helpers/app.js';
import { createUser, message, PASSWORD } from './smtp-helpers.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function start(dir: string): Promise<TestApp> {
  const app = await startApp({ policy: { maxMessagesPerHour: 2, maxRecipientsPerMessage: 1 } }, { dir });
  let stopped = false;
  cleanup.push(() => (stopped ? undefined : app.stop()));
  const stop = app.stop.bind(app);
  app.stop = async () => {
    stopped = true;
    await stop();
  };
  return app;
}

/** One message from `user` to a colleague; the server's reply code (250, or the refusal's). */
async function send(app: TestApp, user: string, to: string | string[] = 'maitt@example.gov.vn'): Promise<number> {
  const t = nodemailer.createTransport({ host: '127.0.0.1', port: app.port('submissions'), secure: true, tls: { rejectUnauthorized: false }, auth: { user, pass: PASSWORD } });
  const list = Array.isArray(to) ? to : [to];
  try {
    await t.sendMail({ envelope: { from: user, to: list }, raw: message({ from: user, to: list[0] ?? '' }) });
    return 250;
  } catch (e) {
    return (e as { responseCode?: number }).responseCode ?? -1;
  } finally {
    t.close();
  }
}

describe('sending limit across a restart', () => {
  it('counts the messages the previous process accepted this hour; refused ones and other accounts do not count', async () => {
    const dir = testDir();
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const first = await start(dir);
    await createUser(first.store, 'longnv@example.gov.vn');
    await createUser(first.store, 'maitt@example.gov.vn');
    await createUser(first.store, 'hunglv@example.gov.vn');
    // One message: its second recipient deferred at RCPT (451, over maxRecipientsPerMessage) is no second message.
    expect(await send(first, 'longnv@example.gov.vn', ['maitt@example.gov.vn', 'hunglv@example.gov.vn'])).toBe(250);
    // Refused at RCPT (no such colleague): not a message sent.
    expect(await send(first, 'longnv@example.gov.vn', 'nobody@example.gov.vn')).toBe(550);
    await first.stop();

    const second = await start(dir);
    expect(await send(second, 'longnv@example.gov.vn')).toBe(250); // 2 of 2 this hour
    expect(await send(second, 'longnv@example.gov.vn')).toBe(451);
    expect(await send(second, 'hunglv@example.gov.vn')).toBe(250);
    await second.stop();

    const third = await start(dir);
    expect(await send(third, 'longnv@example.gov.vn')).toBe(451); // still 2 this hour after another restart
    expect(await send(third, 'hunglv@example.gov.vn')).toBe(250);
  }, 60_000);
});
