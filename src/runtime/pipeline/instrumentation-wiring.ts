import { attachClientMetrics, type ClientStatsSource } from '../../observability/metrics/client-metrics.js';
import { nodesReachableCheck } from '../../observability/http/node-probe.js';
import { readinessFromChecks } from '../../observability/http/readiness.js';
import { startObservabilityServer, type ObservabilityServer, type ObservabilityServerOptions } from '../../observability/http/http-server.js';
import type { MetricsHub } from '../../observability/metrics/metrics-hub.js';
import type { WalrusClient } from '../../client/index.js';
import type { Topology } from '../../topology/types.js';
import { partitionTopics } from '../../codec/partitioning.js';

/** What {@link instrumentPipeline} reads: the parts of a started pipeline it needs. */
export interface InstrumentedParts {
  topology: Topology;
  client: ClientStatsSource & { state(topic: string): Promise<{ lag?: number }> };
  pool: { readonly size: number; readonly connected: number; readonly utilization: number; readonly replacements: number };
  journal?: { stats(): { unreleased: number; bytes: number; segments: number } };
  inFlight(): number;
  /** Sink records not yet acknowledged, and per stage group whether it holds back its batches (Coordinator.backpressure). */
  backpressure?(): { sinkBacklog: number; waiting: Record<string, boolean> };
  /** Every node's `host:port` (the embedded node's address when there is one). */
  nodes(): readonly string[];
}

/** Options of {@link instrumentPipeline}. */
export interface InstrumentOptions {
  /** How often each source's STATE is asked for its `lag`. @default 5000 */
  lagIntervalMs?: number;
}

/**
 * Wires a pipeline's gauges into `hub`: the client (requests, bytes, pool,
 * breakers, through `attachClientMetrics`), worker threads, utilisation and
 * replacements, journal size, in-flight records, and per-source lag from
 * the node's STATE `lag` (polled every `lagIntervalMs`, never per scrape, and
 * only where the node reports it). Returns the function that detaches all;
 * its `pollLag()` asks for the lag now (the pipeline calls it once its topics
 * exist, so the lag shows from the start rather than one interval later).
 */
export function instrumentPipeline(hub: MetricsHub, parts: InstrumentedParts, options: InstrumentOptions = {}): (() => void) & { pollLag(): Promise<void> } {
  const detachClient = attachClientMetrics(hub, parts.client);
  let replacements = 0;
  const collect = (): void => {
    hub.setWorkers(parts.pool.connected);
    hub.setWorkerUtilization(parts.pool.utilization);
    for (; replacements < parts.pool.replacements; replacements++) hub.recordWorkerReplaced();
    if (parts.journal) hub.setJournalStats(parts.journal.stats());
    hub.setInFlight(parts.inFlight());
    const pressure = parts.backpressure?.();
    if (pressure) hub.setBackpressure(pressure.sinkBacklog, pressure.waiting);
  };
  const removeCollector = hub.addCollector(collect);
  let polling = false;
  const pollLag = async () => {
    if (polling) return;
    polling = true;
    try {
      for (const source of Object.values(parts.topology.sources)) {
        // A partitioned source's lag is the sum over all its partitions (every instance reports the
        // topic's); each partition's own lag is kept too (the dashboard shows the ones this instance owns).
        let lag: number | undefined;
        const topics = partitionTopics(source.topic, source.partitions);
        for (const [partition, topic] of topics.entries()) {
          const state = await parts.client.state(topic).catch(() => undefined);
          if (state?.lag === undefined) continue;
          lag = (lag ?? 0) + state.lag;
          if (topics.length > 1) hub.setSourcePartitionLag(source.name, partition, state.lag);
        }
        if (lag !== undefined) hub.setSourceLag(source.name, lag);
      }
    } finally {
      polling = false;
    }
  };
  void pollLag();
  const timer = setInterval(() => void pollLag(), options.lagIntervalMs ?? 5_000);
  timer.unref();
  // Detached once the run is over: the gauges keep their final values for a last scrape.
  return Object.assign(() => { clearInterval(timer); collect(); removeCollector(); detachClient(); }, { pollLag });
}

/**
 * What the readiness checks read. `client` and `pool` may be missing while
 * the pipeline starts (the server is started first, so probes get answers
 * during a state restore or a seed): their checks then fail with "starting".
 */
export interface ReadinessParts {
  /** With `options` and `health` (a WalrusClient), nodes that need a login or TLS are checked through it. Absent while starting. */
  client?: (ClientStatsSource & Partial<Pick<WalrusClient, 'options' | 'health'>>) | undefined;
  pool?: { readonly size: number; readonly connected: number } | undefined;
  nodes(): readonly string[];
  /** What start-up is doing (`restoring state 40%`, `seeding`); undefined once running. @default () => undefined */
  startup?(): string | undefined;
  /** Entries a previous run left in the journal and how many are unfinished. @default () => ({ total: 0, left: 0 }) */
  journalReplay?(): { total: number; left: number };
}

const STARTING = { ok: false, detail: 'starting' } as const;

/**
 * Starts `/metrics`, `/healthz` and `/readyz` for a pipeline. Ready means:
 * start-up is over, every node answers METRICS, no circuit breaker is open,
 * every worker thread is up, and the entries a previous run left in the
 * journal have been processed again.
 */
export function startPipelineServer(hub: MetricsHub, parts: ReadinessParts,
  address: { host: string; port: number }, security: Pick<ObservabilityServerOptions, 'auth' | 'insecure' | 'routes'> = {}): Promise<ObservabilityServer> {
  const reachable = nodesReachableCheck(parts.nodes, { timeoutMs: 1_000 });
  // Nodes that need a login or TLS are asked through the client, which has both.
  const nodes = () => {
    const client = parts.client;
    if (client === undefined) return STARTING;
    const { auth, tls } = client.options ?? {};
    return (auth || tls) && client.health ? clientNodesCheck(client as Pick<WalrusClient, 'health'>)() : reachable();
  };
  return startObservabilityServer({
    ...address,
    ...security,
    metrics: hub,
    readiness: readinessFromChecks({
      startup: () => {
        const phase = parts.startup?.();
        return phase === undefined ? { ok: true, detail: 'running' } : { ok: false, detail: phase };
      },
      nodes,
      breakers: () => {
        if (parts.client === undefined) return STARTING;
        const open = Object.entries(parts.client.stats().nodes)
          .filter(([, n]) => n.breaker.state === 'open').map(([id]) => id);
        return open.length === 0 ? true : { ok: false, detail: `open: ${open.join(', ')}` };
      },
      workers: () => (parts.pool === undefined ? STARTING : { ok: parts.pool.connected >= parts.pool.size, detail: `${parts.pool.connected}/${parts.pool.size} threads` }),
      journal: () => {
        const replay = parts.journalReplay?.() ?? { total: 0, left: 0 };
        return replay.left === 0 ? { ok: true, detail: replay.total > 0 ? `replayed ${replay.total} entries` : 'nothing to replay' }
          : { ok: false, detail: `replaying journal: ${replay.left} of ${replay.total} entries left` };
      },
    }),
  });
}

function clientNodesCheck(client: Pick<WalrusClient, 'health'>): () => Promise<{ ok: boolean; detail: string }> {
  return async () => {
    const health = await client.health();
    const failing = health.nodes.filter((n) => !n.healthy).map((n) => `${n.node} ${n.reason ?? ''}`.trim());
    return failing.length === 0 ? { ok: true, detail: `${health.nodes.length} node(s) answering` } : { ok: false, detail: `unreachable: ${failing.join('; ')}` };
  };
}
