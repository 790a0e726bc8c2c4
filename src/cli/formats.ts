/** The `--format` option of the export commands: one of a fixed set of renderers, or a clear refusal. */
import { MailError, bi } from '../lib/errors.js';

/** The renderer `--format` names (case and surrounding spaces ignored); INVALID_INPUT naming the choices otherwise. */
export function pickFormat<T>(formats: Readonly<Record<string, T>>, given: string): T {
  const key = given.trim().toLowerCase();
  const names = Object.keys(formats).join(' | ');
  if (!Object.hasOwn(formats, key)) throw new MailError('INVALID_INPUT', bi(`Định dạng "${given}" không hợp lệ (${names})`, `"${given}" is not one of ${names}`));
  return formats[key] as T;
}
