import { fromLabelledSnapshot, type MetricsHub } from '../observability/index.js';
import type { WorkerMetricsSnapshot } from './messages.js';
import type { PipelineSummary } from './pipeline-stats.js';

/**
 * Feeds the coordinator's counters into the observability MetricsHub at
 * scrape time (as deltas since the last scrape), so the hot path keeps its
 * plain increments and Prometheus still sees every source, processor, sink
 * and dead-letter count. Returns the function that detaches it.
 */
export function bridgeMetrics(hub: MetricsHub, snapshot: () => PipelineSummary, workers: number): () => void {
  let last: PipelineSummary | undefined;
  hub.setWorkers(workers);
  return hub.addCollector(() => {
    const now = snapshot();
    for (const [name, c] of Object.entries(now.sources)) {
      const delta = c.records - (last?.sources[name]?.records ?? 0);
      if (delta > 0) hub.recordFetched(name, delta);
    }
    for (const [name, c] of Object.entries(now.processors)) {
      const before = last?.processors[name];
      const processed = c.processed - (before?.processed ?? 0);
      const retries = c.retries - (before?.retries ?? 0);
      const dead = c.deadLettered - (before?.deadLettered ?? 0);
      if (processed > 0) hub.recordProcessed(name, 'ok', processed);
      if (retries > 0) hub.recordRetried(name, retries);
      if (dead > 0) hub.recordDeadLettered(name, dead);
    }
    for (const [name, c] of Object.entries(now.sinks)) {
      const delta = c.records - (last?.sinks[name]?.records ?? 0);
      if (delta > 0) hub.recordEmitted(name, delta);
    }
    hub.setInFlight(now.inFlight);
    last = now;
  });
}

/** Pulls processor-defined metrics from every worker (control channel) into the hub. */
export async function pullWorkerMetrics(hub: MetricsHub, pool: { metrics(): Promise<WorkerMetricsSnapshot[]> }): Promise<void> {
  for (const snapshot of await pool.metrics()) {
    hub.mergeWorkerSnapshot(snapshot.threadId, fromLabelledSnapshot(snapshot, String(snapshot.threadId)));
  }
}
