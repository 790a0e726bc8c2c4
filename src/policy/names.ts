/**
 * File names as Windows would save them: bidi and zero-width marks removed, trailing dots and
 * spaces stripped (Windows drops them: "a.exe. ." is "a.exe"), NTFS stream suffixes cut.
 */
import { isSpace, trimEndWhere } from '../lib/regex.js';

const INVISIBLE = /[\u200B-\u200F\u202A-\u202E\u2060-\u2069\uFEFF\u00AD\u0000-\u001F\u007F]/g;

/** Text as it reads on screen: NFKC (fullwidth brackets are brackets), zero-width, bidi and control marks out. */
export function visibleText(text: string): string {
  return text.normalize('NFKC').replace(INVISIBLE, '');
}

/** The name Windows would save: the last path segment, invisible marks out, trailing dots/spaces gone. */
export function windowsName(name: string): string {
  let n = visibleText(name);
  n = n.split(/[\\/]/).pop() ?? n;
  const colon = n.indexOf(':');
  if (colon > 0) n = n.slice(0, colon); // "a.exe:Zone.Identifier" → "a.exe"
  return trimEndWhere(n, (c) => c === '.' || isSpace(c));
}

/** Lower-case extension after the last dot of the Windows name ("" when none). */
export function extensionOf(name: string): string {
  const n = windowsName(name);
  const dot = n.lastIndexOf('.');
  return dot < 0 ? '' : n.slice(dot + 1).toLowerCase();
}

/**
 * Every name a program might save the file under, since they differ: with control characters
 * removed or the name cut at the first NUL (C strings: unzip and Python's zipfile save
 * "run.bat\0.txt" as "run.bat"); with a colon kept as an NTFS stream separator (the part before
 * it), or replaced by "_" or dropped as mail programs and archivers do with characters Windows
 * forbids (`: * ? " < > |`: "invoice.pdf:.js" is saved as "invoice.pdf_.js"); always the last
 * path segment, trailing dots and spaces gone.
 */
export function savedNames(name: string): string[] {
  const base = name.normalize('NFKC');
  const out = new Set<string>();
  for (const reading of [base, base.split('\u0000')[0] ?? '']) {
    const clean = reading.replace(INVISIBLE, '');
    const seg = clean.split(/[\\/]/).pop() ?? clean;
    const colon = seg.indexOf(':');
    for (const form of [seg, colon > 0 ? seg.slice(0, colon) : seg, seg.replace(/[:*?"<>|]/g, '_'), seg.replace(/[:*?"<>|]/g, '')]) {
      out.add(trimEndWhere(form, (c) => c === '.' || isSpace(c)));
    }
  }
  return [...out];
}

/** The executable extension this name ends in (last extension) under any name it may be saved as, or null. */
export function executableExtension(name: string, extensions: ReadonlySet<string>): string | null {
  for (const n of savedNames(name)) {
    const dot = n.lastIndexOf('.');
    const ext = dot < 0 ? '' : n.slice(dot + 1).toLowerCase();
    if (ext && extensions.has(ext)) return ext;
  }
  return null;
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
