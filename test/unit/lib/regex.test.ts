import { describe, expect, it } from 'vitest';
import { matchesOf, withoutTrailing } from '../../../src/lib/regex.js';

/** What matchAll gives, as comparable rows. */
const rows = (ms: Iterable<RegExpExecArray>): Array<[number, string[]]> => [...ms].map((m) => [m.index, [...m].map((g) => g ?? '')]);

describe('matchesOf', () => {
  it('gives what matchAll gives, empty matches and surrogate pairs included', () => {
    const cases: Array<[RegExp, string]> = [
      [/;\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)/g, 'text/plain; charset="utf-8"; format=flowed;delsp=yes'],
      [/(?<![\p{L}\p{N}\p{M}])(?:tối\s*mật|mật)(?![\p{L}\p{N}\p{M}])/giu, 'Tài liệu Tối mật và MẬT, mật khẩu'],
      [/x*/g, 'axxbx'],
      [/(?:)/gu, 'a😀b'],
      [/(?:)/g, 'a😀b'],
      [/\p{Emoji_Presentation}?/gu, '😀a😀'],
      [/<([^<>\s]+)>/g, 'none here'],
      [/$/g, ''],
    ];
    for (const [re, text] of cases) {
      expect(rows(matchesOf(re, text)), `${String(re)} on ${text}`).toEqual(rows(text.matchAll(new RegExp(re.source, re.flags))));
    }
  });

  it('runs the expression it is given, never a copy (matchAll builds one through the species constructor)', () => {
    const re = /a(\d)/g;
    Object.defineProperty(re, 'constructor', {
      value: {
        [Symbol.species]: function () {
          throw new Error('copied');
        },
      },
    });
    expect(() => [...'a1 a2'.matchAll(re)]).toThrow('copied');
    expect([...matchesOf(re, 'a1 a2')].map((m) => m[1])).toEqual(['1', '2']);
  });

  it('may iterate the same expression again inside its own loop', () => {
    const re = /\d/g;
    const pairs: string[] = [];
    for (const a of matchesOf(re, '12')) for (const b of matchesOf(re, '34')) pairs.push(`${a[0]}${b[0]}`);
    expect(pairs).toEqual(['13', '14', '23', '24']);
  });

  it('refuses an expression without the g flag, as matchAll does', () => {
    expect(() => [...matchesOf(/a/, 'aa')]).toThrow(TypeError);
  });
});

describe('withoutTrailing', () => {
  it('drops the run at the end only, in one pass over a million characters (/\\/+$/ rescans such a run from every start)', () => {
    expect(withoutTrailing('/admin///', '/')).toBe('/admin');
    expect(withoutTrailing('///', '/')).toBe('');
    expect(withoutTrailing('a/b', '/')).toBe('a/b');
    const long = `${'/'.repeat(1_000_000)}x`;
    expect(withoutTrailing(long, '/')).toBe(long);
  });
});
