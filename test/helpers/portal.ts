/** Helpers for the portal's and the administrators' page's protocol tests. */
import { existsSync, readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { currentTotp } from '../../src/auth/totp.js';
import type { ManualClock } from '../../src/lib/clock.js';
import { PASSWORD } from './accounts.js';

/** The page's notice (the alert or status paragraph), as text: "vi / en". */
export function notice(html: string): string {
  return (/<p class="(?:ok|error|warn)"[^>]*>([\s\S]*?)<\/p>/.exec(html)?.[1] ?? '').replace(/<br><small>/g, ' / ').replace(/<[^>]+>/g, '');
}

/** The messages a test SMS gateway appended to `outbox`, one JSON object a line (none before the first). */
export function readOutbox<T>(outbox: string): T[] {
  return existsSync(outbox) ? readFileSync(outbox, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as T) : [];
}

/**
 * Signs in to /admin at `base` with the test password and a fresh TOTP code (the clock moves a
 * step first, so each code is new) and returns the session cookie's value.
 */
export async function adminSignIn(base: string, clock: ManualClock, user: string, secret: string): Promise<string> {
  clock.advance(30_000);
  const res = await fetch(`${base}/admin/login`, {
    method: 'POST',
    body: new URLSearchParams({ username: user, password: PASSWORD, totp: currentTotp(secret, clock.now()) }),
    redirect: 'manual',
  });
  expect(res.status).toBe(303);
  const cookie = /^buudien_admin=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1] ?? '';
  expect(cookie).not.toBe('');
  return cookie;
}
