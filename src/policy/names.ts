/**
 * File names as Windows would save them: bidi and zero-width marks removed, trailing dots and
 * spaces stripped (Windows drops them: "a.exe. ." is "a.exe"), NTFS stream suffixes cut.
 */

const INVISIBLE = /[\u200B-\u200F\u202A-\u202E\u2060-\u2069\uFEFF\u00AD\u0000-\u001F\u007F]/g;

/** The name Windows would save: the last path segment, invisible marks out, trailing dots/spaces gone. */
export function windowsName(name: string): string {
  let n = name.normalize('NFKC').replace(INVISIBLE, '');
  n = n.split(/[\\/]/).pop() ?? n;
  const colon = n.indexOf(':');
  if (colon > 0) n = n.slice(0, colon); // "a.exe:Zone.Identifier" → "a.exe"
  return n.replace(/[.\s]+$/u, '');
}

/** Lower-case extension after the last dot of the Windows name ("" when none). */
export function extensionOf(name: string): string {
  const n = windowsName(name);
  const dot = n.lastIndexOf('.');
  return dot < 0 ? '' : n.slice(dot + 1).toLowerCase();
}

/** The executable extension this name ends in (last extension), or null. */
export function executableExtension(name: string, extensions: ReadonlySet<string>): string | null {
  const ext = extensionOf(name);
  return ext && extensions.has(ext) ? ext : null;
}

/** Media types that announce an executable whatever the name says. */
const EXECUTABLE_TYPES = new Set([
  'application/x-msdownload',
  'application/x-msdos-program',
  'application/x-dosexec',
  'application/x-executable',
  'application/x-ms-dos-executable',
  'application/x-ms-installer',
  'application/x-msi',
  'application/x-ms-shortcut',
  'application/vnd.microsoft.portable-executable',
  'application/x-sharedlib',
  'application/x-mach-binary',
  'application/x-elf',
  'application/hta',
  'application/x-bat',
  'application/x-msdos-windows',
]);

export function isExecutableType(type: string, subtype: string): boolean {
  return EXECUTABLE_TYPES.has(`${type}/${subtype}`.toLowerCase());
}

/** Quote a name for a finding or reply (no CR/LF/quotes can reach a header). */
export function quoteName(name: string): string {
  const clean = name.replace(/[\r\n\t"\\\u0000-\u001f\u007f]/g, '_').slice(0, 200);
  return `"${clean}"`;
}
