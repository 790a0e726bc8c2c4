/** The server's version: package.json's, read once (from src/ or dist/, both two levels below it). */
import { readFileSync } from 'node:fs';

let version: string | null = null;

export function serverVersion(): string {
  if (version === null) {
    try {
      version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? 'unknown';
    } catch {
      version = 'unknown';
    }
  }
  return version;
}
