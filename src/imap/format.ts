/**
 * Small response-writing helpers used by the command handlers: strings (quoted when safe,
 * literal otherwise), NIL, flag lists, sequence sets. Message bodies never go through here.
 */

/**
 * Quoted string when it is safe, literal otherwise (CR, LF, NUL, 8-bit unless `utf8`, long).
 * A NUL goes out as a space: a `{n}` literal may not carry one (RFC 9051 §4.3.1).
 */
export function str(s: string, utf8 = true): string {
  if (s.length < 1024 && !/[\r\n\0]/.test(s) && (utf8 || /^[\x01-\x7f]*$/.test(s))) {
    return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  }
  const v = s.includes('\0') ? s.replace(/\0/g, ' ') : s;
  return `{${Buffer.byteLength(v)}}\r\n${v}`;
}

export function nstr(s: string | null | undefined, utf8 = true): string {
  return s === null || s === undefined ? 'NIL' : str(s, utf8);
}

const flagText = new WeakMap<readonly string[], string>();

/** "(\\Seen \\Flagged)"; cached per list object (views share interned, frozen lists). */
export function flagList(flags: readonly string[]): string {
  let t = flagText.get(flags);
  if (t === undefined) {
    t = `(${flags.join(' ')})`;
    if (Object.isFrozen(flags)) flagText.set(flags, t);
  }
  return t;
}

/** Compact a list of numbers into a sequence set ("1:3,7,9:10"); input need not be sorted. */
export function seqSet(nums: readonly number[]): string {
  if (nums.length === 0) return '';
  const sorted = [...nums].sort((a, b) => a - b);
  const out: string[] = [];
  let start = sorted[0] as number;
  let prev = start;
  for (let i = 1; i <= sorted.length; i++) {
    const v = sorted[i];
    if (v !== undefined && (v === prev || v === prev + 1)) {
      prev = v;
      continue;
    }
    out.push(start === prev ? String(start) : `${start}:${prev}`);
    if (v !== undefined) {
      start = v;
      prev = v;
    }
  }
  return out.join(',');
}

/** A sequence set keeping the given order (COPYUID pairs must line up): "5,3,4" → "5,3:4". */
export function orderedSet(nums: readonly number[]): string {
  const out: string[] = [];
  let i = 0;
  while (i < nums.length) {
    const start = nums[i] as number;
    let j = i;
    while (j + 1 < nums.length && nums[j + 1] === (nums[j] as number) + 1) j++;
    out.push(j === i ? String(start) : `${start}:${nums[j] as number}`);
    i = j + 1;
  }
  return out.join(',');
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** INTERNALDATE: "17-Jul-1996 02:44:25 +0000" (UTC). */
export function imapDateTime(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `"${p(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000"`;
}
