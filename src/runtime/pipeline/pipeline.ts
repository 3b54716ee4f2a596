import { join } from 'node:path';
import type { Logger } from 'pino';
import { startBroker, startBrokerInWorker } from '../../broker/start-entry.js';
import { WalrusClient, readTlsFiles, type ClientAuth } from '../../client/index.js';
import { Journal } from '../../journal/index.js';
import type { Topology } from '../../topology/types.js';
import { Coordinator, wireSpec, type CoordinatorOptions } from '../coordinator/coordinator.js';
import type { PipelineSummary } from '../coordinator/pipeline-stats.js';
import { TopologyCodec } from './record-codec.js';
import { WorkerPool } from '../pool/worker-pool.js';
import { journalDir, workerPoolOptions } from './pool-and-journal-options.js';
import { WalrusError } from '../../errors/index.js';
import { RuntimeState } from '../state/runtime-state.js';
import type { MetricsHub } from '../../observability/index.js';
import { Instrumentation } from './instrumentation.js';
import { instrumentPipeline } from './instrumentation-wiring.js';
import { partitionTopics } from '../../codec/partitioning.js';
import { ownedTopics, partitionedReader } from '../sources/partitioned-reader.js';
import { checkAssignment, type InstanceAssignment } from './instance-assignment.js';

/** Options of {@link startPipeline}. */
export interface PipelineOptions {
  /** Overrides `cluster.nodes` (e.g. `--nodes`); an empty list starts the embedded node. @default topology.cluster.nodes */
  nodes?: string[];
  /** Overrides `workers`. @default topology.workers */
  workers?: number | 'auto';
  /** Finish once every source is empty and nothing is in flight. @default false */
  untilIdle?: boolean;
  /** Journal fetched entries before processing (at-least-once across crashes). @default true */
  journal?: boolean;
  /**
   * Instance id: its journal lives under `<stateDir>/<app>/instances/<id>/`,
   * so several instances of one topology can run on one machine (scale-out).
   * @default none (`<stateDir>/<app>/journal`)
   */
  instance?: string;
  /**
   * This instance's index and the instance count (`run --instance i
   * --instances n`): it reads only the partitions `p % n === i` of each
   * partitioned source (docs/scaling.md). Refused for a stateful topology
   * whose stores are not partitioned like its keyed sources.
   * @default none (every partition is read)
   */
  assignment?: InstanceAssignment;
  maxInFlight?: number;
  /**
   * Run the embedded node on its own worker thread, so it does not compete
   * with the coordinator's event loop (measured: see docs/pipeline.md).
   * @default true
   */
  brokerThread?: boolean;
  /** Overrides `cluster.auth` (e.g. `--user` with WALRUS_PASSWORD). @default topology.cluster.auth */
  auth?: ClientAuth;
  logger?: Logger;
  /** Records every built-in series into this hub (serve it with `startPipelineServer`). @default none */
  metrics?: MetricsHub;
  /** `walrus.fetch`/`walrus.process`/`walrus.produce` spans (no-op until an OpenTelemetry SDK is registered). @default true */
  tracing?: boolean;
  /** Called with every dead letter once written (the dashboard's recent dead letters). @default none */
  onDeadLetter?: CoordinatorOptions['onDeadLetter'];
  /** Called once the node is up and topics are registered, before fetching (seeding sample data). */
  beforeRun?(client: WalrusClient): Promise<void>;
  /**
   * Told what start-up is doing, for `/readyz` (`starting the embedded node`,
   * `loading processors`, `opening the journal`, `restoring state 40%`).
   * @default none
   */
  onStartup?(phase: string): void;
  /**
   * Aborting it during start-up stops at the next safe point (between
   * restore batches, before seeding) and rejects with SHUTTING_DOWN after
   * closing what was opened; nothing read is lost. After start-up use `stop()`.
   * @default none
   */
  signal?: AbortSignal;
}

/** A started pipeline. */
export interface Pipeline {
  readonly coordinator: Coordinator;
  readonly client: WalrusClient;
  readonly pool: WorkerPool;
  /** The embedded node, when one was started. */
  readonly broker?: { readonly address: string; close(): Promise<void> };
  /** `host:port` of every node the pipeline talks to. */
  readonly nodes: readonly string[];
  /** Entries a previous run left in the journal (re-processed first), and how many of them are not finished yet. */
  journalReplay(): { total: number; left: number };
  /** The hub given as `metrics`. */
  readonly metrics?: MetricsHub;
  /** Resolves with the summary once idle (`untilIdle`) or after `stop()` drained. Closes everything. */
  readonly done: Promise<PipelineSummary>;
  /**
   * Stops fetching; what is in flight finishes and is flushed. After
   * `abortAfterMs` (default 10 s) the AbortSignal of every record still in a
   * processor fires; such records are left in the journal for the next start.
   */
  stop(options?: { abortAfterMs?: number }): void;
}

/**
 * Starts a topology: the embedded node when no nodes are given, the client,
 * the worker pool (every processor module loaded and `init`ed before the
 * first fetch, so a broken module fails here, naming its file), the journal,
 * then the coordinator.
 */
export async function startPipeline(topology: Topology, options: PipelineOptions = {}): Promise<Pipeline> {
  checkAssignment(topology, options.assignment);
  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async () => { for (const fn of cleanups.reverse()) await fn().catch(() => undefined); };
  const phase = (text: string) => {
    if (options.signal?.aborted) throw new WalrusError('SHUTTING_DOWN', `start-up stopped by a signal (before: ${text})`);
    options.onStartup?.(text);
  };
  try {
    const nodes = options.nodes ?? topology.cluster.nodes;
    // The worker threads start, and load the processors, while the embedded
    // node starts on its own thread: start-up waits for the slower, not both.
    let fatal: (error: WalrusError) => void = () => undefined;
    const pool = new WorkerPool({ workers: options.workers ?? topology.workers, ...workerPoolOptions(topology, (error) => fatal(error)) });
    cleanups.push(() => pool.close());
    const loaded = (async () => {
      for (const name of Object.keys(topology.processors)) await pool.loadEverywhere(wireSpec(topology, name));
    })();
    loaded.catch(() => undefined); // awaited below, after the node started; a failure surfaces there
    let broker: Pipeline['broker'];
    if (nodes.length === 0) {
      phase('starting the embedded node');
      const e = topology.cluster.embedded;
      const started = await (options.brokerThread === false ? startBroker : startBrokerInWorker)({
        host: e.host, port: e.port, dataDir: e.dataDir, compat: e.compat, segmentEntries: e.segmentEntries,
        persistCursors: e.persistCursors, fsync: e.fsync === 'interval' ? { intervalMs: e.fsyncInterval } : e.fsync,
        ...(e.users ? { users: e.users } : {}), insecure: e.insecure,
      });
      broker = started;
      for (const warning of started.warnings) options.logger?.warn({ address: started.address }, `embedded node: ${warning}`);
      cleanups.push(() => broker!.close());
      options.logger?.info({ address: broker.address, dataDir: e.dataDir }, 'embedded node started');
    }
    const c = topology.cluster;
    const client = new WalrusClient({
      nodes: broker ? [broker.address] : nodes,
      pool: { min: c.pool.min, max: c.pool.max, acquireTimeoutMs: c.pool.acquireTimeout, idleTimeoutMs: c.pool.idleTimeout },
      retry: { retries: c.retry.retries, initialDelayMs: c.retry.initialDelay, maxDelayMs: c.retry.maxDelay, multiplier: c.retry.multiplier },
      breaker: { failureThreshold: c.breaker.failureThreshold, openDurationMs: c.breaker.openDuration, halfOpenAttempts: c.breaker.halfOpenAttempts },
      balancer: c.balancer, requestTimeoutMs: c.requestTimeout, connectTimeoutMs: c.connectTimeout,
      // The embedded node speaks plain TCP, and wants a login only when it has users.
      auth: broker && !topology.cluster.embedded.users ? undefined : options.auth ?? c.auth,
      tls: broker || !c.tls ? undefined : await readTlsFiles(c.tls, topology.dir),
    });
    cleanups.push(() => client.close());

    phase('loading processors');
    await loaded;
    phase('opening the journal');

    const journal = options.journal === false ? undefined
      : await Journal.open({ dir: journalDir(topology, options.instance), fsync: topology.journal.fsync });
    if (journal) cleanups.push(() => journal.close());
    // Stores open (and restore from their changelogs) before anything is fetched.
    phase('opening state stores');
    const state = await RuntimeState.open(topology, client, options.logger, {
      signal: options.signal,
      onProgress: (store, read, total) => options.onStartup?.(total ? `restoring state ${Math.min(99, Math.floor((read / total) * 100))}% (store ${store})` : `restoring state (store ${store}: ${read} entries)`),
    });
    if (state) { cleanups.push(() => state.close()); state.recover(journal, new TopologyCodec()); }
    // Seqs of the entries a previous run left: /readyz says "replaying journal" until they are finished.
    let leftovers = journal?.unreleased().map((e) => e.seq) ?? [];
    const leftoverTotal = leftovers.length;
    const journalReplay = () => {
      if (leftovers.length > 0 && journal) leftovers = leftovers.filter((seq) => journal.isUnreleased(seq));
      return { total: leftoverTotal, left: leftovers.length };
    };

    const instrumentation = options.metrics || options.tracing !== false
      ? new Instrumentation(options.metrics, options.tracing !== false, (msg, data) => options.logger?.warn(data, msg)) : undefined;
    const coordinator = new Coordinator({
      topology, runner: pool, journal: state && journal ? state.wrapJournal(journal) : journal, state, untilIdle: options.untilIdle,
      codec: new TopologyCodec(instrumentation?.hub && ((sink, original, compressed) => instrumentation.compressed(sink, original, compressed))),
      instrumentation,
      maxInFlight: options.maxInFlight, logger: options.logger, workers: pool.size, onDeadLetter: options.onDeadLetter,
      writer: { putMany: (topic, entries) => client.putMany(topic, entries) },
      // Leases: the node keeps what was read until it is acknowledged, so a
      // kill -9 between the read and the journal loses nothing (docs/client.md).
      // A partitioned source: the partitions this instance owns, read in turn.
      openSource: (spec) => partitionedReader(ownedTopics(spec, options.assignment), (topic) => ({ fetch: (max, maxBytes) => client.lease(topic, max, maxBytes) })),
    });
    // A crash loop (workerPool.maxConsecutiveCrashes) ends the run with that error.
    fatal = (error) => { options.logger?.fatal({ err: error.message }, 'worker crash loop: stopping'); coordinator.fail(error); };
    const addresses = broker ? [broker.address] : nodes;
    if (options.metrics) {
      cleanups.push(async () => detach());
      const detach = instrumentPipeline(options.metrics, {
        topology, client, pool, journal, inFlight: () => coordinator.snapshot().inFlight, nodes: () => addresses,
      });
    }
    const topics = new Set([...Object.values(topology.sources).flatMap((s) => partitionTopics(s.topic, s.partitions)), ...coordinator.outputTopics()]);
    phase('registering topics');
    for (const topic of topics) await client.register(topic);
    await options.beforeRun?.(client);
    phase(leftoverTotal > 0 ? 'replaying journal' : 'starting');

    const done = coordinator.run().finally(cleanup);
    let abortTimer: NodeJS.Timeout | undefined;
    void done.finally(() => clearTimeout(abortTimer)).catch(() => undefined);
    const stop = (stopOptions: { abortAfterMs?: number } = {}) => {
      coordinator.stop();
      abortTimer ??= setTimeout(() => {
        options.logger?.warn('shutdown: aborting records still in processors (they stay in the journal)');
        void pool.abortAll('shutdown');
      }, stopOptions.abortAfterMs ?? 10_000);
    };
    return { coordinator, client, pool, broker, nodes: addresses, metrics: options.metrics, done, stop, journalReplay };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
