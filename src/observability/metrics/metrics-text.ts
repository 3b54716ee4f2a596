/** One sample line of Prometheus text. */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses Prometheus text exposition (comments skipped; escapes in label values undone). */
export function parsePrometheusText(text: string): PromSample[] {
  const samples: PromSample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = LINE.exec(line);
    if (match === null) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(LABEL)) {
      labels[pair[1]!] = pair[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    const value = match[3] === '+Inf' ? Infinity : match[3] === '-Inf' ? -Infinity : Number(match[3]);
    samples.push({ name: match[1]!, labels, value });
  }
  return samples;
}

/**
 * The `q` quantile of a histogram from its cumulative buckets, interpolated
 * linearly inside the bucket the way PromQL's `histogram_quantile` does.
 * Undefined when there are no observations.
 */
export function histogramQuantile(q: number, buckets: ReadonlyArray<{ le: number; count: number }>): number | undefined {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)?.count ?? 0;
  if (total === 0) return undefined;
  const rank = q * total;
  let previousLe = 0;
  let previousCount = 0;
  for (const bucket of sorted) {
    if (bucket.count >= rank) {
      if (bucket.le === Infinity) return previousLe;
      const inBucket = bucket.count - previousCount;
      return inBucket === 0 ? bucket.le : previousLe + ((bucket.le - previousLe) * (rank - previousCount)) / inBucket;
    }
    previousLe = bucket.le;
    previousCount = bucket.count;
  }
  return previousLe;
}

const number = new Intl.NumberFormat('en-US', { maximumFractionDigits: 3 });

function labelText(labels: Record<string, string>): string {
  const parts = Object.entries(labels).filter(([k]) => k !== 'le').map(([k, v]) => `${k}=${v}`);
  return parts.join(' ');
}

function seconds(value: number | undefined): string {
  if (value === undefined) return '—';
  return value < 1 ? `${number.format(value * 1000)} ms` : `${number.format(value)} s`;
}

/**
 * A readable table of the `walrus_stream_*` series of a scrape, for
 * `walrus-stream metrics --pipeline`: counters and gauges as values,
 * histograms as count, mean, p50 and p99. Process metrics are left out.
 */
export function formatPipelineMetrics(text: string, prefix = 'walrus_stream_'): string {
  const samples = parsePrometheusText(text).filter((s) => s.name.startsWith(prefix) && !/^walrus_stream_(process|nodejs)_/.test(s.name));
  const rows: string[][] = [];
  const histograms = new Map<string, { name: string; labels: string; buckets: { le: number; count: number }[]; sum: number; count: number }>();
  for (const s of samples) {
    const base = s.name.replace(/_(bucket|sum|count)$/, '');
    const isHistogramPart = base !== s.name && samples.some((o) => o.name === `${base}_bucket`);
    if (!isHistogramPart) {
      rows.push([s.name.slice(prefix.length), labelText(s.labels), number.format(s.value)]);
      continue;
    }
    const key = `${base}\u0000${labelText(s.labels)}`;
    let h = histograms.get(key);
    if (h === undefined) {
      h = { name: base, labels: labelText(s.labels), buckets: [], sum: 0, count: 0 };
      histograms.set(key, h);
    }
    if (s.name.endsWith('_bucket')) h.buckets.push({ le: s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), count: s.value });
    else if (s.name.endsWith('_sum')) h.sum = s.value;
    else h.count = s.value;
  }
  for (const h of histograms.values()) {
    const unitSeconds = h.name.endsWith('_seconds');
    const show = (v: number | undefined): string => (unitSeconds ? seconds(v) : v === undefined ? '—' : number.format(v));
    const mean = h.count > 0 ? h.sum / h.count : undefined;
    rows.push([h.name.slice(prefix.length), h.labels,
      `n=${number.format(h.count)} mean=${show(mean)} p50=${show(histogramQuantile(0.5, h.buckets))} p99=${show(histogramQuantile(0.99, h.buckets))}`]);
  }
  if (rows.length === 0) return `no ${prefix}* series in the scrape\n`;
  const widths = [0, 1].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  return `${rows.map((r) => `${r[0]!.padEnd(widths[0]!)}  ${r[1]!.padEnd(widths[1]!)}  ${r[2]}`.trimEnd()).join('\n')}\n`;
}
