/** Byte sizes with units, as config and CLI accept them: 20MB, 2 GB, 512KiB, 1048576. */
const UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1024, kb: 1024, kib: 1024,
  m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3,
  t: 1024 ** 4, tb: 1024 ** 4, tib: 1024 ** 4,
};

/** Parse "20MB" → 20971520 (binary units: the regulation's MB is read generously). Returns null if malformed. */
export function parseBytes(input: string | number): number | null {
  if (typeof input === 'number') return Number.isSafeInteger(input) && input >= 0 ? input : null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(input);
  if (!m) return null;
  const unit = UNITS[(m[2] ?? '').toLowerCase()];
  if (unit === undefined) return null;
  const n = Math.round(Number(m[1]) * unit);
  return Number.isSafeInteger(n) ? n : null;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v >= 10 ? 0 : 1)} ${units[i]}`;
}
