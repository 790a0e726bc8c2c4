/**
 * CSV that people open in a spreadsheet (the administrators' usage report `/admin/usage.csv`,
 * `buudien log search --format csv`): RFC 4180 (CRLF line ends,
 * fields with a comma, quote or line break quoted, quotes doubled), UTF-8 with a byte-order mark
 * so Excel reads Vietnamese, and safe to open in a spreadsheet: a text cell starting with
 * = + - @ (or a tab or carriage return, which some spreadsheets skip before them) gets a leading
 * apostrophe, so a full name such as "=HYPERLINK(…)" stays text (OWASP "CSV injection"). So does
 * every such character right after a ";" or "," inside a cell: a spreadsheet whose list separator
 * is ";" (many locales) splits this comma-separated file at every ";", inside our quotes too
 * (they open no field there), and would start a cell with it. Cells holding ";" are quoted too.
 */

export type CsvCell = string | number | null;

const BOM = '\uFEFF';

/** A text cell that a spreadsheet would take for a formula, made text: an apostrophe before = + - @ tab CR at its start and after any ";" or ",". */
export function neutraliseFormula(text: string): string {
  return text.replace(/(^|[;,])(?=[=+\-@\t\r])/g, "$1'");
}

/** One cell: numbers as they are, text neutralised and quoted when RFC 4180 requires it. */
export function csvCell(value: CsvCell): string {
  if (value === null) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  const text = neutraliseFormula(value);
  return /[",;\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** A whole file: the BOM, then each row on its own CRLF-ended line. */
export function csvDocument(rows: ReadonlyArray<readonly CsvCell[]>): string {
  return BOM + rows.map((r) => r.map(csvCell).join(',') + '\r\n').join('');
}
