/**
 * Vietnamese naming rules for addresses (REQUIREMENTS.md R-ADDR-1..4), in one module.
 *
 * - R-ADDR-1 unit codes: initials of each word of the unit's name, without diacritics, without
 *   the word "và" and without "-" ("Sở Kế hoạch và Đầu tư" → "skhdt", "Ủy ban nhân dân" → "ubnd").
 * - R-ADDR-2 sub-units: "<code>.<parent address>" ("tc.ah", "vhxh.bk").
 * - R-ADDR-3 personal: the given name (the LAST word) in full + the first letters of the family
 *   and middle names ("Nguyễn Văn Long" → "longnv"), through a configurable template
 *   ("{given}{initials}" NA, "{given}{initials}.{unit}" NB).
 * - R-ADDR-4 namesakes: a sequence number right after the name part ("longnv2", "longnv2.stttt").
 *
 * Numbering choice (R-ADDR-4). NB Đ5.2.b: "thêm số thứ tự vào liền sau <tên họ đệm>"; NA Đ5.2.b:
 * "thêm số thứ tự vào liền sau cho cá nhân đăng ký trước" with the example longnv1@, longnv2@;
 * REQUIREMENTS.md's NB example is longnv2.stttt. An address already issued is never renamed (mail
 * to it would be lost), so the first person of a name keeps the plain address and counts as
 * number 1; the second registered gets 2, the third 3: the number is the position in
 * registration order, which gives both regulations' "…2" example for the second namesake.
 * `numbered(base, 1, …)` is therefore `base` itself, and the free-address search starts at 2.
 */
import { foldVietnamese } from '../mail/fold.js';
import { MailError, bi } from '../lib/errors.js';

/** A local part we issue: lower-case letters and digits, dot-separated runs. */
const LOCAL_PART = /^[a-z0-9]+(\.[a-z0-9]+)*$/;

/** Fold one word and keep only a–z and 0–9 (drops hyphens, apostrophes, stray marks). */
function asciiWord(word: string): string {
  return foldVietnamese(word).replace(/[^a-z0-9]/g, '');
}

/** Split on any run of whitespace (NBSP and other Unicode spaces included). */
function words(s: string): string[] {
  return s
    .normalize('NFC')
    .split(/[\s\u00a0\u2000-\u200b\u202f\u205f\u3000]+/u)
    .filter((w) => w.length > 0);
}

export interface PersonalName {
  /** Given name in full, folded: "long". */
  given: string;
  /** First letters of the family name and middle name(s), folded: "nv". */
  initials: string;
}

/** "Nguyễn Văn Long" → { given: "long", initials: "nv" }. A name with no letters is INVALID_INPUT. */
export function splitPersonalName(fullName: string): PersonalName {
  // A personal name is letters: words without any (stray numbers, dashes) are ignored.
  const parts = words(fullName).map(asciiWord).filter((w) => /[a-z]/.test(w));
  const given = parts.pop();
  if (given === undefined) {
    throw new MailError(
      'INVALID_INPUT',
      bi(`Họ tên "${fullName.trim()}" không cho ra địa chỉ thư nào`, `the name "${fullName.trim()}" yields no mail address`),
    );
  }
  return { given, initials: parts.map((p) => p[0] ?? '').join('') };
}

interface TemplateParts {
  /** Template text before the name block, the name block itself, and the text after it. */
  before: string;
  block: string;
  after: string;
}

/** Find the name block: from the first of {given}/{initials} to the end of the last one. */
function templateParts(template: string): TemplateParts {
  const re = /\{(given|initials)\}/g;
  let first = -1;
  let last = -1;
  for (let m = re.exec(template); m !== null; m = re.exec(template)) {
    if (first < 0) first = m.index;
    last = m.index + m[0].length;
  }
  if (!template.includes('{given}') || first < 0) {
    throw new MailError('CONFIG', bi(`Mẫu địa chỉ "${template}" phải có {given}`, `the address template "${template}" must contain {given}`));
  }
  const unknown = /\{(?!given\}|initials\}|unit\})[^}]*\}/.exec(template);
  if (unknown) {
    throw new MailError('CONFIG', bi(`Mẫu địa chỉ có chỗ trống lạ ${unknown[0]}`, `the address template has an unknown placeholder ${unknown[0]}`));
  }
  return { before: template.slice(0, first), block: template.slice(first, last), after: template.slice(last) };
}

function fillUnit(text: string, unitAddress: string | undefined, template: string): string {
  if (!text.includes('{unit}')) return text;
  if (unitAddress === undefined || unitAddress === '') {
    throw new MailError(
      'INVALID_INPUT',
      bi(`Mẫu địa chỉ "${template}" cần đơn vị ({unit})`, `the address template "${template}" needs a unit ({unit})`),
    );
  }
  return text.split('{unit}').join(unitAddress);
}

function checkLocalPart(local: string, source: string): string {
  if (!LOCAL_PART.test(local)) {
    throw new MailError(
      'INVALID_INPUT',
      bi(`"${source}" không cho ra địa chỉ thư hợp lệ (${local || 'rỗng'})`, `"${source}" does not yield a valid mail address (${local || 'empty'})`),
    );
  }
  return local;
}

/**
 * R-ADDR-3: the personal local part for a full name.
 * personalLocalPart("Nguyễn Văn Long", "{given}{initials}") → "longnv";
 * personalLocalPart("Nguyễn Văn Long", "{given}{initials}.{unit}", "stttt") → "longnv.stttt".
 */
export function personalLocalPart(fullName: string, template: string, unitAddress?: string): string {
  const { before, block, after } = templateParts(template);
  const name = splitPersonalName(fullName);
  const namePart = block.replace(/\{given\}/g, name.given).replace(/\{initials\}/g, name.initials);
  const local = fillUnit(before, unitAddress, template) + namePart + fillUnit(after, unitAddress, template);
  return checkLocalPart(local, fullName);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * R-ADDR-4: the n-th namesake's local part, the number right after the name part.
 * `base` is what personalLocalPart gave for the same template. n = 1 is the base itself (see the
 * numbering choice above): numbered("longnv", 2, "{given}{initials}") → "longnv2";
 * numbered("longnv.stttt", 2, "{given}{initials}.{unit}") → "longnv2.stttt".
 */
export function numbered(base: string, n: number, template: string): string {
  if (!Number.isInteger(n) || n < 1) {
    throw new MailError('INVALID_INPUT', bi(`Số thứ tự phải là số nguyên dương, nhận ${n}`, `the sequence number must be a positive integer, got ${n}`));
  }
  if (n === 1) return base;
  const { before, after } = templateParts(template);
  // Literals must match exactly; {unit} is any run of address characters; the name block is a–z0–9.
  const pattern = (t: string): string => t.split('{unit}').map(escapeRe).join('[a-z0-9.]+');
  const m = new RegExp(`^(${pattern(before)})([a-z0-9]+)(${pattern(after)})$`).exec(base);
  if (!m) {
    throw new MailError('INVALID_INPUT', bi(`"${base}" không khớp mẫu "${template}"`, `"${base}" does not match the template "${template}"`));
  }
  return `${m[1] ?? ''}${m[2] ?? ''}${n}${m[3] ?? ''}`;
}

/** Is the whole name written in capitals (then capitals say nothing about acronyms)? */
function isAllUpper(s: string): boolean {
  return s === s.toUpperCase() && s !== s.toLowerCase();
}

/**
 * R-ADDR-1: a unit's code from its Vietnamese name: the first letter of each word, without
 * diacritics, without "và" and without "-"; an acronym written in capitals inside a mixed-case
 * name is kept whole ("Trung tâm CNTT" → "ttcntt"), and so is a number ("Phòng 2" → "p2").
 */
export function unitCode(name: string): string {
  const allUpper = isAllUpper(name);
  const tokens = words(name).flatMap((w) => w.split(/[-‐‑‒–—]+/)).filter((w) => w.length > 0);
  let code = '';
  for (const token of tokens) {
    const letters = token.replace(/[^\p{L}\p{N}]/gu, '');
    const folded = asciiWord(letters);
    if (folded === '' || folded === 'va') continue;
    if (/^[0-9]+$/.test(folded)) code += folded;
    else if (!allUpper && letters.length >= 2 && isAllUpper(letters)) code += folded;
    else code += folded[0];
  }
  if (code === '') {
    throw new MailError('INVALID_INPUT', bi(`Tên đơn vị "${name.trim()}" không cho ra mã nào`, `the unit name "${name.trim()}" yields no code`));
  }
  return code;
}

/** R-ADDR-2: a unit's address: "<code>.<parent address>" for a sub-unit when the config says so. */
export function unitAddress(code: string, parentAddress: string | null, joinsParent: boolean): string {
  const local = parentAddress !== null && joinsParent ? `${code}.${parentAddress}` : code;
  return checkLocalPart(local, code);
}

/** A unit code given by hand (--code): folded, lower case, letters and digits only. */
export function normalizeUnitCode(code: string): string {
  const c = asciiWord(code);
  if (c === '' || c !== foldVietnamese(code.trim()).replace(/\s+/g, '')) {
    throw new MailError('INVALID_INPUT', bi(`Mã đơn vị "${code}" chỉ được có chữ và số`, `the unit code "${code}" may contain only letters and digits`));
  }
  return c;
}

/** Compare names the way people mean them: folded, single spaces. */
export function foldName(s: string): string {
  return words(foldVietnamese(s)).join(' ');
}
