import type { ProgressSnapshot } from './progress-tally.js';

/** Per-second rates between two snapshots, by name. */
export interface Rates {
  fetched: Record<string, number>;
  emitted: Record<string, number>;
  processed: Record<string, number>;
}

export function computeRates(previous: ProgressSnapshot | undefined, current: ProgressSnapshot): Rates | undefined {
  if (previous === undefined || current.at <= previous.at) return undefined;
  const seconds = (current.at - previous.at) / 1000;
  const per = (now: Record<string, number>, before: Record<string, number>): Record<string, number> =>
    // Only `before`'s own counts: a name it lacks may be "constructor" or "toString" (Object's own gave NaN).
    Object.fromEntries(Object.entries(now).map(([name, n]) => [name, (n - (Object.hasOwn(before, name) ? before[name]! : 0)) / seconds]));
  return {
    fetched: per(current.fetched, previous.fetched),
    emitted: per(current.emitted, previous.emitted),
    processed: per(current.processed, previous.processed),
  };
}

const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const dec = new Intl.NumberFormat('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });

function formatCount(n: number): string {
  return int.format(n);
}

function formatRate(n: number | undefined): string {
  return n === undefined ? '—/s' : `${dec.format(n)}/s`;
}

function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 100) / 10);
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** The lines of the live view (no ANSI codes: the reporter adds cursor moves). */
export function renderLive(app: string, elapsedMs: number, current: ProgressSnapshot, rates: Rates | undefined): string[] {
  const head = [
    `walrus-stream ${app}`,
    formatDuration(elapsedMs),
    `in-flight ${formatCount(current.inFlight)}`,
    `workers ${current.workers} (${Math.round(current.utilization * 100)}% busy)`,
    `retries ${formatCount(current.retried)}`,
    `DLQ ${formatCount(current.deadLettered)}`,
    `errors ${formatCount(current.errors)}`,
  ].join('  ');
  const rows: string[][] = [];
  for (const [name, n] of Object.entries(current.fetched)) {
    const lag = Object.hasOwn(current.lag, name) ? current.lag[name] : undefined;
    rows.push(['source', name, formatCount(n), formatRate(rates?.fetched[name]), lag === undefined ? '' : `lag ${formatCount(lag)}`]);
  }
  for (const [name, n] of Object.entries(current.processed)) rows.push(['processor', name, formatCount(n), formatRate(rates?.processed[name]), '']);
  for (const [name, n] of Object.entries(current.emitted)) rows.push(['sink', name, formatCount(n), formatRate(rates?.emitted[name]), '']);
  return [head, ...table(rows).map((line) => `  ${line}`)];
}

/** Left-aligns text columns and right-aligns numeric ones (those starting with a digit or a dash). */
function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => { widths[i] = Math.max(widths[i] ?? 0, cell.length); });
  return rows.map((row) => row.map((cell, i) => (/^[\d—-]/.test(cell) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd());
}

/** Counts of dead letters by processor and error code, with the latest reason (see DeadLetterRing.tallies). */
export interface DeadLetterFoldRow { processor: string; code: string; count: number; latest: string }

/**
 * The dead letters folded into the live view on a TTY: a line per
 * processor and error code (largest first, at most `maxRows`) with the
 * latest reason, instead of a multi-line log record per dead letter.
 */
export function renderDeadLetterFold(rows: readonly DeadLetterFoldRow[], topics: readonly string[], maxRows = 5): string[] {
  if (rows.length === 0) return [];
  const total = rows.reduce((n, r) => n + r.count, 0);
  const shown = rows.slice(0, maxRows).map((r) => ['', r.processor, r.code, formatCount(r.count), `latest: ${r.latest.replace(/\s+/g, ' ')}`]);
  const more = rows.length > maxRows ? [`    … ${rows.length - maxRows} more (processor, code) pairs`] : [];
  return [
    `  dead letters ${formatCount(total)} (full records in ${topics.join(', ')}; logged one by one off a TTY or at log level debug)`,
    ...table(shown).map((line) => `  ${line}`),
    ...more,
  ];
}
