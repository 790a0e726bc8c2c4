/**
 * Every match of a global regular expression, like `String.prototype.matchAll`, without its
 * copy of the expression.
 *
 * `matchAll` (and `split` with a regular expression) builds a new RegExp from the given one
 * (ECMA-262 §22.2.6.9, SpeciesConstructor). V8 finds the copy's compiled code in a cache that
 * every full garbage collection ages, and a process handling big messages collects often: past
 * two collections the copy is compiled again. For the policy's Unicode, case-insensitive
 * expressions that is 2–3 ms a call (measured, Node 20), so a 2 MB message paid several
 * milliseconds of compiling for a subject of thirty characters. Executing the module's own
 * expression keeps its compiled code, which lives as long as the expression does.
 *
 * The expression's `lastIndex` is set before each step and read after it, so the same
 * expression may be iterated again inside the loop.
 */
export function* matchesOf(re: RegExp, text: string): Generator<RegExpExecArray, void, undefined> {
  if (!re.global) throw new TypeError(`matchesOf needs a global expression: ${String(re)}`);
  let at = 0;
  while (at <= text.length) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m) return;
    at = re.lastIndex;
    if (m[0] === '') {
      // An empty match: step past one character (a whole surrogate pair under the u or v flag,
      // as matchAll's AdvanceStringIndex does), or the loop would find it again.
      const code = text.codePointAt(at);
      at += (re.unicode || re.flags.includes('v')) && code !== undefined && code > 0xffff ? 2 : 1;
    }
    yield m;
  }
}

/**
 * `s` without the run of `ch` at its end. `s.replace(/\/+$/, '')` looks like this but is
 * quadratic in V8 on a long run of `ch` that does not end the string (every start in the run
 * rescans it): 16,000 slashes in a request path cost half a second of the event loop.
 */
export function withoutTrailing(s: string, ch: string): string {
  return trimEndWhere(s, (c) => c === ch);
}

/** `s` without the characters at its end that `drop` is true of (one pass; see withoutTrailing). */
export function trimEndWhere(s: string, drop: (c: string) => boolean): string {
  let end = s.length;
  while (end > 0 && drop(s[end - 1] as string)) end--;
  return end === s.length ? s : s.slice(0, end);
}

/** A character \s matches (the Unicode white space and line terminators of ECMA-262). */
export function isSpace(c: string): boolean {
  return /^\s$/u.test(c);
}
