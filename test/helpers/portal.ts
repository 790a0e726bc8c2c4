/** Helpers for the portal's protocol tests. */
import { existsSync, readFileSync } from 'node:fs';

/** The page's notice (the alert or status paragraph), as text: "vi / en". */
export function notice(html: string): string {
  return (/<p class="(?:ok|error|warn)"[^>]*>([\s\S]*?)<\/p>/.exec(html)?.[1] ?? '').replace(/<br><small>/g, ' / ').replace(/<[^>]+>/g, '');
}

/** The messages a test SMS gateway appended to `outbox`, one JSON object a line (none before the first). */
export function readOutbox<T>(outbox: string): T[] {
  return existsSync(outbox) ? readFileSync(outbox, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as T) : [];
}
