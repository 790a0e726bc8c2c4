/**
 * R-DIR-1: the directory of units and people, as a unit publishes it on its web portal.
 *
 * buildDirectory is pure: from the units and the accounts an actor may read (the account
 * service's `directory()` picks them, with its rights), the unit tree in order and under each
 * unit its people. Listed: active personal accounts only. Left out: suspended and deleted
 * accounts (nobody answers there), unit mailboxes (each is the unit's own address, shown on the
 * unit), administrator accounts (kind `admin`: service accounts, not people, and an address worth
 * not advertising) and system administrators (role `super`, which a unit administrator may not
 * read either, so both see the same directory of a unit). The address R-DIR-1 names is the unit's
 * postal address (`org add|set --postal-address`): people are reached at their unit's.
 *
 * Order: depth first from the top units, sub-units under their parent, siblings by name
 * (Vietnamese collation) then address; people by full name then address. Every text is NFC.
 *
 * Three renderings: directoryCsv (Excel: lib/csv.ts), directoryJson (shape below, `version` 1)
 * and directoryHtml (one self-contained page: no script, no external resource, all escaped).
 */
import { vietnamTime } from '../lib/clock.js';
import { csvDocument, type CsvCell } from '../lib/csv.js';
import type { Account, Unit } from '../store/port.js';

export interface DirectoryPerson {
  fullName: string;
  title: string | null;
  /** The unit's name. */
  unit: string;
  /** The unit's address ("vp.skhdt"): unique, where the name may not be ("Văn phòng"). */
  unitAddress: string;
  email: string;
  /** The account's phone. */
  mobile: string | null;
  /** The unit's postal address. */
  postalAddress: string | null;
}

export interface DirectoryUnit {
  code: string;
  /** Unique; what `--org` and `?unit=` take. */
  address: string;
  name: string;
  /** The parent unit's address; null for a top unit. */
  parent: string | null;
  /** 0 for the first unit listed, 1 for its sub-units, … */
  level: number;
  /** The unit mailbox (its active unit account), or null while it has none. */
  mailbox: string | null;
  /** The unit's postal address, or null when not given. */
  postalAddress: string | null;
  people: DirectoryPerson[];
}

export interface Directory {
  organization: string;
  generatedAt: Date;
  units: DirectoryUnit[];
}

export interface DirectoryInput {
  units: readonly Unit[];
  /** The accounts the actor may read (any state and kind; filtered here). */
  accounts: readonly Account[];
  /** Start from this unit; null = every top unit. */
  root: Unit | null;
  /** false: the root unit alone (a unit administrator's view). */
  subUnits: boolean;
  organization: string;
  generatedAt: Date;
}

const collator = new Intl.Collator('vi', { sensitivity: 'base' });
const nfc = (s: string): string => s.normalize('NFC');
const nfcOrNull = (s: string | null): string | null => (s === null ? null : nfc(s));

/** Listed as a person of its unit: an active personal account, not a system administrator. */
export function isListedPerson(a: Account): boolean {
  return a.kind === 'personal' && a.state === 'active' && a.role !== 'super';
}

export function buildDirectory(input: DirectoryInput): Directory {
  const ids = new Set(input.units.map((u) => u.id));
  const children = new Map<number | null, Unit[]>();
  for (const u of input.units) {
    const parent = u.parentId !== null && ids.has(u.parentId) ? u.parentId : null;
    children.set(parent, [...(children.get(parent) ?? []), u]);
  }
  const bySibling = (a: Unit, b: Unit): number => collator.compare(nfc(a.name), nfc(b.name)) || a.address.localeCompare(b.address);
  for (const list of children.values()) list.sort(bySibling);
  const byId = new Map(input.units.map((u) => [u.id, u]));

  const out: DirectoryUnit[] = [];
  const seen = new Set<number>();
  const visit = (u: Unit, level: number): void => {
    if (seen.has(u.id)) return;
    seen.add(u.id);
    const here = input.accounts.filter((a) => a.unitId === u.id);
    const mailbox = here.filter((a) => a.kind === 'unit' && a.state === 'active').sort((a, b) => a.id - b.id)[0]?.address ?? null;
    const people = here
      .filter(isListedPerson)
      .map(
        (a): DirectoryPerson => ({
          fullName: nfc(a.fullName),
          title: nfcOrNull(a.title),
          unit: nfc(u.name),
          unitAddress: u.address,
          email: a.address,
          mobile: nfcOrNull(a.phone),
          postalAddress: nfcOrNull(u.postalAddress),
        }),
      )
      .sort((a, b) => collator.compare(a.fullName, b.fullName) || a.email.localeCompare(b.email));
    const parent = u.parentId === null ? null : (byId.get(u.parentId)?.address ?? null);
    out.push({ code: u.code, address: u.address, name: nfc(u.name), parent, level, mailbox, postalAddress: nfcOrNull(u.postalAddress), people });
    if (input.subUnits) for (const c of children.get(u.id) ?? []) visit(c, level + 1);
  };
  if (input.root) visit(input.root, 0);
  else for (const top of children.get(null) ?? []) visit(top, 0);
  return { organization: nfc(input.organization), generatedAt: input.generatedAt, units: out };
}

// ───────────────────────────── CSV ─────────────────────────────

export const DIRECTORY_CSV_HEADER = [
  'Họ và tên / Full name',
  'Chức vụ / Title',
  'Đơn vị / Unit',
  'Mã đơn vị / Unit code',
  'Thư điện tử / E-mail',
  'Di động / Mobile',
  'Địa chỉ / Address',
] as const;

/**
 * One row per unit (its name, address and mailbox; no full name), then one per person. Cells are
 * trimmed before lib/csv.ts neutralises them, so " =…" or "\t=…" is caught like "=…".
 */
export function directoryCsv(d: Directory): string {
  const cell = (s: string | null): CsvCell => (s === null ? '' : s.trim());
  const rows: CsvCell[][] = [[...DIRECTORY_CSV_HEADER]];
  for (const u of d.units) {
    rows.push(['', '', cell(u.name), cell(u.address), cell(u.mailbox), '', cell(u.postalAddress)]);
    for (const p of u.people) rows.push([cell(p.fullName), cell(p.title), cell(p.unit), cell(p.unitAddress), cell(p.email), cell(p.mobile), cell(p.postalAddress)]);
  }
  return csvDocument(rows);
}

// ───────────────────────────── JSON ─────────────────────────────

/**
 * `{ "version": 1, "organization", "generatedAt" (ISO 8601, UTC), "units": [{ "code", "address",
 * "name", "parent", "level", "mailbox", "postalAddress", "people": [{ "fullName", "title", "unit",
 * "unitAddress", "email", "mobile", "postalAddress" }] }] }`; absent values are null, never left out.
 * (`postalAddress` was added within version 1: readers of the first shape ignore it.)
 */
export function directoryJson(d: Directory): string {
  return JSON.stringify({ version: 1, organization: d.organization, generatedAt: d.generatedAt.toISOString(), units: d.units }, null, 2) + '\n';
}

// ───────────────────────────── HTML ─────────────────────────────

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const two = (vi: string, en: string): string => `${esc(vi)}<br><small>${esc(en)}</small>`;

const STYLE =
  'body{font-family:system-ui,"Segoe UI",Arial,sans-serif;margin:1rem;color:#111}table{border-collapse:collapse;width:100%}' +
  'th,td{border:1px solid #bbb;padding:.3rem .5rem;text-align:left;vertical-align:top}thead th{background:#eee}' +
  'tr.unit th{background:#f5f5f5}small{color:#555;font-weight:normal}';

/** A whole page: one table, bilingual headings, a row per unit heading its people. */
export function directoryHtml(d: Directory): string {
  const mail = (a: string): string => `<a href="mailto:${esc(a)}">${esc(a)}</a>`;
  const head = [
    two('Họ và tên', 'Full name'),
    two('Chức vụ', 'Title'),
    two('Đơn vị', 'Unit'),
    two('Thư điện tử', 'E-mail'),
    two('Di động', 'Mobile'),
  ]
    .map((h) => `<th scope="col">${h}</th>`)
    .join('');
  const groups = d.units
    .map((u) => {
      const unitLine = `${esc(u.name)} <small>(${esc(u.address)})</small>${u.mailbox === null ? '' : ` — ${mail(u.mailbox)}`}${u.postalAddress === null ? '' : `<br><small>${esc(u.postalAddress)}</small>`}`;
      const people = u.people
        .map((p) => `<tr><td>${esc(p.fullName)}</td><td>${esc(p.title ?? '')}</td><td>${esc(p.unit)}</td><td>${mail(p.email)}</td><td>${esc(p.mobile ?? '')}</td></tr>`)
        .join('\n');
      return `<tbody>\n<tr class="unit"><th scope="rowgroup" colspan="5">${unitLine}</th></tr>${people === '' ? '' : `\n${people}`}\n</tbody>`;
    })
    .join('\n');
  const empty = d.units.length === 0 ? `<p>${two('Không có đơn vị nào.', 'No units.')}</p>\n` : '';
  return `<!DOCTYPE html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(`Danh bạ thư điện tử / E-mail directory — ${d.organization}`)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${two('Danh bạ thư điện tử', 'E-mail directory')}</h1>
<p>${esc(d.organization)} — ${two(`Cập nhật: ${vietnamTime(d.generatedAt)}`, `Updated: ${vietnamTime(d.generatedAt)}`)}</p>
${empty}<table>
<thead><tr>${head}</tr></thead>
${groups}
</table>
</body>
</html>
`;
}
