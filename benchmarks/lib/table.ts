/**
 * Prints benchmark results as an aligned text table on stdout. Shared by
 * every `benchmarks/*.bench.ts`, so their output looks the same.
 *
 * @example
 * printTable('broker', [{ case: 'PUT sequential', 'ops/s': 31_250 }]);
 */
export function printTable(title: string, rows: Record<string, string | number>[]): void {
  process.stdout.write(formatTable(title, rows));
}

/** The table as a string (numbers right-aligned with thousands separators). */
export function formatTable(title: string, rows: Record<string, string | number>[]): string {
  const columns: string[] = [];
  for (const row of rows) for (const key of Object.keys(row)) if (!columns.includes(key)) columns.push(key);
  const cell = (value: string | number | undefined): string =>
    value === undefined ? '' : typeof value === 'number' ? formatNumber(value) : value;
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[], numeric: boolean[]): string =>
    `| ${values.map((v, i) => (numeric[i] ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join(' | ')} |`;
  const numericColumn = columns.map((c) => rows.some((r) => typeof r[c] === 'number'));
  const out = [
    `\n${title}`,
    line(columns, columns.map(() => false)),
    `|${widths.map((w, i) => (numericColumn[i] ? `${'-'.repeat(w + 1)}:` : `${'-'.repeat(w + 2)}`)).join('|')}|`,
    ...rows.map((r) => line(columns.map((c) => cell(r[c])), numericColumn)),
    '',
  ];
  return `${out.join('\n')}\n`;
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  return value.toLocaleString('en-US', { maximumFractionDigits: 2 });
}
