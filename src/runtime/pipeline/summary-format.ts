import type { ProgressSnapshot } from '../../observability/index.js';
import type { PipelineSummary } from '../coordinator/pipeline-stats.js';

const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** Plain-text tables of the run summary: counts per source, processor, sink and dead-letter topic, with rates. */
export function formatSummary(app: string, s: PipelineSummary): string {
  const seconds = Math.max(s.elapsedMs, 1) / 1000;
  const rate = (n: number) => `${int.format(n / seconds)}/s`;
  const lines = [`walrus-stream run "${app}": finished in ${seconds.toFixed(2)} s`];
  if (s.recovered > 0) lines.push(`  recovered from the journal: ${int.format(s.recovered)} records`);
  if ((s.unreleased ?? 0) > 0) lines.push(`  NOT COMPLETED: ${int.format(s.unreleased!)} entries (a write failed for good, see the errors logged above); they stay in the journal and are processed again at the next start`);
  const abandoned = Object.values(s.processors).reduce((n, c) => n + c.abandoned, 0);
  if (abandoned > 0) lines.push(`  cut short by shutdown, kept in the journal for the next start: ${int.format(abandoned)} records`);
  lines.push('', ...table(['source', 'topic', 'entries', 'records', 'rate'],
    Object.entries(s.sources).map(([name, c]) => [internal(name), c.topic, int.format(c.entries), int.format(c.records), rate(c.records)])));
  lines.push('', ...table(['processor', 'processed', 'dropped', 'emitted', 'retries', 'dead-lettered', 'rate'],
    Object.entries(s.processors).map(([name, c]) => [name, int.format(c.processed), int.format(c.dropped), int.format(c.emitted),
      int.format(c.retries), int.format(c.deadLettered), rate(c.processed)])));
  const sinks = Object.entries(s.sinks);
  if (sinks.length > 0) {
    lines.push('', ...table(['sink', 'topic', 'records', 'entries', 'rate'],
      sinks.map(([name, c]) => [internal(name), c.topic, int.format(c.records), int.format(c.entries), rate(c.records)])));
  }
  const dead = Object.entries(s.deadLetters);
  lines.push('', ...(dead.length === 0 ? ['dead letters: none']
    : table(['dead-letter topic', 'records'], dead.map(([topic, n]) => [topic, int.format(n)]))));
  return `${lines.join('\n')}\n`;
}

/** Repartition topics' internal sources and sinks (`repartition:<processor>`, docs/scaling.md) are marked as such. */
function internal(name: string): string {
  return name.startsWith('repartition:') ? `${name} (internal)` : name;
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (cells: string[]) => `  ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')}`;
  return [fmt(header), ...rows.map(fmt)];
}

/** The coordinator's counters in the shape the observability progress view draws. */
export function toProgressSnapshot(s: PipelineSummary, workers: number, at: number = Date.now()): ProgressSnapshot {
  const procs = Object.entries(s.processors);
  const busyMs = procs.reduce((a, [, c]) => a + c.busyMs, 0);
  return {
    at,
    fetched: Object.fromEntries(Object.entries(s.sources).map(([n, c]) => [n, c.records])),
    processed: Object.fromEntries(procs.map(([n, c]) => [n, c.processed])),
    emitted: Object.fromEntries(Object.entries(s.sinks).map(([n, c]) => [n, c.records])),
    errors: procs.reduce((a, [, c]) => a + c.retries + c.deadLettered, 0),
    retried: procs.reduce((a, [, c]) => a + c.retries, 0),
    deadLettered: Object.values(s.deadLetters).reduce((a, n) => a + n, 0),
    inFlight: s.inFlight,
    workers,
    utilization: Math.min(1, busyMs / Math.max(1, s.elapsedMs * workers)),
    lag: {},
  };
}
