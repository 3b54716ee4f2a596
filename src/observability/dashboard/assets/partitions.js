// Instances and partitions (docs/scaling.md): which instance this run is, and
// for each partitioned source, sink and store how many partitions it has and
// which this instance owns; a source's lag per partition follows the stats
// frames. Ownership is fixed for a run, so only the lag changes.
import { $, cell, fmt } from './dom.js';

/** Lists at most this many partitions on a graph node; the table lists all. */
const SHORT = 6;

/** `instance 1 of 2`, `instance a` (a named instance sharing unpartitioned topics), or `single instance`. */
export function instanceText(instance) {
  if (instance?.count !== null && instance?.count !== undefined) return `instance ${instance.index} of ${instance.count}`;
  if (instance?.id) return `instance ${instance.id}`;
  return 'single instance';
}

const list = (partitions, max = Infinity) => {
  const shown = partitions.slice(0, max).map((p) => `p${p}`).join(', ');
  return partitions.length > max ? `${shown} +${partitions.length - max}` : shown;
};

/** `4 partitions · owns p1, p3` (a source or store), `4 partitions · writes by key` (a sink). */
export function ownedText(entry, max = SHORT) {
  const head = `${entry.partitions} partitions`;
  if (entry.owned === null) return `${head} · writes by key`;
  if (entry.owned.length === 0) return `${head} · owns none`;
  if (entry.owned.length === entry.partitions) return `${head} · owns all`;
  return `${head} · owns ${list(entry.owned, max)}`;
}

/** `lag p1 12 · p3 0` over the owned partitions the node has reported; undefined before the first report. */
export function ownedLagText(entry, partitionLag, max = SHORT) {
  if (!partitionLag || entry.owned === null) return undefined;
  const known = entry.owned.filter((p) => partitionLag[p] !== undefined);
  if (known.length === 0) return undefined;
  const parts = known.slice(0, max).map((p) => `p${p} ${fmt.format(partitionLag[p])}`);
  return `lag ${parts.join(' · ')}${known.length > max ? ` +${known.length - max}` : ''}`;
}

/** Fills the instance badge and the partitions table; returns `update(frame)` for the lag cells. */
export function renderPartitions(topology) {
  $('instance').textContent = instanceText(topology.instance);
  const partitioned = topology.partitioned ?? [];
  $('partitions').hidden = partitioned.length === 0;
  const lagCells = new Map();
  $('partition-table').tBodies[0].replaceChildren(...partitioned.map((entry) => {
    const tr = document.createElement('tr');
    tr.dataset.partitioned = `${entry.kind}:${entry.name}`;
    cell(tr, entry.kind, 'kind');
    cell(tr, entry.name, 'name');
    cell(tr, `${entry.topic}.p0 … ${entry.topic}.p${entry.partitions - 1}`, 'topics');
    cell(tr, String(entry.partitions), 'count');
    cell(tr, entry.owned === null ? 'writes every partition, by key' : entry.owned.length === 0 ? 'none' : list(entry.owned), 'owned');
    const lag = cell(tr, entry.kind === 'source' ? '–' : '', 'lag');
    if (entry.kind === 'source') lagCells.set(entry.name, { entry, lag });
    return tr;
  }));

  return function update(frame) {
    for (const [name, { entry, lag }] of lagCells) {
      const lags = frame.sources[name]?.partitionLag;
      if (!lags) continue;
      // Owned partitions first; the others (another instance's) after, muted.
      const others = Object.keys(lags).map(Number).filter((p) => !entry.owned.includes(p)).sort((a, b) => a - b);
      const mine = ownedLagText(entry, lags, Infinity) ?? 'lag –';
      lag.replaceChildren(document.createTextNode(mine));
      if (others.length > 0) {
        const span = document.createElement('span');
        span.className = 'muted';
        span.textContent = ` · not owned: ${others.map((p) => `p${p} ${fmt.format(lags[p])}`).join(' · ')}`;
        lag.appendChild(span);
      }
    }
  };
}
