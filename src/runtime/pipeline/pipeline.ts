import { join } from 'node:path';
import type { Logger } from 'pino';
import { startBroker, startBrokerInWorker } from '../../broker/start-entry.js';
import { WalrusClient, readTlsFiles, type ClientAuth } from '../../client/index.js';
import { Journal } from '../../journal/index.js';
import type { Topology } from '../../topology/types.js';
import { Coordinator, wireSpec, type CoordinatorOptions } from '../coordinator/coordinator.js';
import type { PipelineSummary } from '../coordinator/pipeline-stats.js';
import { TopologyCodec } from './record-codec.js';
import type { WorkerPool } from '../pool/worker-pool.js';
import { embeddedNodeOptions, prestartPool, type PrestartedNode, type PrestartedPool } from '../pool/prestart.js';
import { journalDir } from './pool-and-journal-options.js';
import { WalrusError } from '../../errors/index.js';
import { RuntimeState } from '../state/runtime-state.js';
import { forgetHeldPartitions } from '../state/partition-ownership.js';
import type { MetricsHub } from '../../observability/index.js';
import { Instrumentation } from './instrumentation.js';
import { instrumentPipeline } from './instrumentation-wiring.js';
import { partitionTopics } from '../../codec/partitioning.js';
import { ownedTopics, partitionedReader } from '../sources/partitioned-reader.js';
import { checkAssignment, type InstanceAssignment } from './instance-assignment.js';
import { checkPartitionCounts } from './partition-check.js';
import { checkRememberedRepartitions } from './repartition-memory.js';
import { isRepartition, withRepartitions } from '../../topology/repartition.js';
import { journalIdentity, RepartitionOrigins } from '../sources/repartition-origin.js';
import { claimOwnership, deploymentLayout, ownedPartitionTopics } from './ownership.js';
import { watchSilentNodes } from './silent-nodes.js';

/** Options of {@link startPipeline}. */
export interface PipelineOptions {
  /** Overrides `cluster.nodes` (e.g. `--nodes`); an empty list starts the embedded node. @default topology.cluster.nodes */
  nodes?: string[];
  /** Overrides `workers`. @default topology.workers */
  workers?: number | 'auto';
  /**
   * A pool started before the pipeline (`prestartPool(topology, workers)`,
   * with the same `workers`): the pipeline takes it over and closes it. Not
   * taken (the start failed before), the caller closes it (`release()`).
   */
  prestartedPool?: PrestartedPool;
  /** The embedded node, started early on its thread (`prestartNode(topology)`); used when no `nodes` are given. */
  prestartedNode?: PrestartedNode;
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
  /**
   * Most records fetched and not yet finished; fetching pauses above it.
   * Enough to keep every worker fed (four batches each of the largest
   * processor batch) and two polls of the largest source, and no more: every
   * record in flight is memory, and records that live long enough to be
   * promoted make the old generation grow (measured on the bundled example,
   * 60,000 orders: peak RSS 475 MiB at 20,000 in flight, 338 MiB at 2,000,
   * with the same CPU per record).
   * @default max(2048, workers × largest batchSize × 4, 2 × largest poll.batchSize)
   */
  maxInFlight?: number;
  /**
   * Run the embedded node on its own worker thread, so it does not compete
   * with the coordinator's event loop (measured: see docs/pipeline.md).
   * @default true
   */
  brokerThread?: boolean;
  /**
   * Time to live of the ownership leases taken on the partition topics this
   * instance reads (embedded node only; docs/scaling.md, "Ownership leases").
   * @default 5000
   */
  ownershipTtlMs?: number;
  /** Told warnings meant for the operator (e.g. a node without ownership leases). @default logger.warn */
  onWarning?(message: string): void;
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
  readonly broker?: { readonly address: string; readonly closed: Promise<void>; readonly failure: Error | undefined; close(): Promise<void> };
  /** `host:port` of every node the pipeline talks to. */
  readonly nodes: readonly string[];
  /** Entries a previous run left in the journal (re-processed first), and how many of them are not finished yet. */
  journalReplay(): { total: number; left: number };
  /** The hub given as `metrics`. */
  readonly metrics?: MetricsHub;
  /** Time the worker threads were busy since the run began (summed over threads, ms): loading the processors before it is not counted. */
  workerBusyMs(): number;
  /** Resolves with the summary once idle (`untilIdle`) or after `stop()` drained. Closes everything. */
  readonly done: Promise<PipelineSummary>;
  /**
   * Stops fetching; what is in flight finishes and is flushed. After
   * `abortAfterMs` (default 10 s) the AbortSignal of every record still in a
   * processor fires and no processor call starts any more (a record reaching
   * one fails SHUTTING_DOWN unrun); such records are left in the journal for
   * the next start.
   * After `giveUpAfterMs` (default `abortAfterMs` + 20 s) the run ends without
   * what is still in flight (e.g. outputs a node never acknowledges): `done`
   * rejects with SHUTTING_DOWN and those entries stay in the journal.
   */
  stop(options?: { abortAfterMs?: number; giveUpAfterMs?: number }): void;
}

/**
 * Starts a topology: the embedded node when no nodes are given, the client,
 * the worker pool (every processor module loaded and `init`ed before the
 * first fetch, so a broken module fails here, naming its file), the journal,
 * then the coordinator.
 */
export async function startPipeline(given: Topology, options: PipelineOptions = {}): Promise<Pipeline> {
  // Re-keys in front of keyed steps of a partitioned topology go through repartition topics (docs/scaling.md).
  const topology = withRepartitions(given);
  checkAssignment(topology, options.assignment);
  const cleanups: Array<() => Promise<void>> = [];
  /** When a stop must have ended the run (set by stop()): the processors' close hooks wait no longer. */
  let closeBy: number | undefined;
  const cleanup = async () => { for (const fn of cleanups.reverse()) await fn().catch(() => undefined); };
  const phase = (text: string) => {
    if (options.signal?.aborted) throw new WalrusError('SHUTTING_DOWN', `start-up stopped by a signal (before: ${text})`);
    options.onStartup?.(text);
  };
  try {
    const nodes = options.nodes ?? topology.cluster.nodes;
    // The worker threads start, and load the processors, while the embedded
    // node starts on its own thread: start-up waits for the slower, not both.
    // A pool `run` started early (src/runtime/pool/prestart.ts), else a new one.
    const given = options.prestartedPool;
    if (given && given.workers !== options.workers) {
      throw new WalrusError('CONFIG_INVALID', `the prestarted worker pool was started for ${String(given.workers)} workers, this pipeline asks for ${String(options.workers)}`);
    }
    const prestarted = given?.take() ? given : prestartPool(topology, options.workers);
    if (prestarted !== given) prestarted.take();
    const pool = prestarted.pool;
    let fatal: (error: WalrusError) => void = () => undefined;
    prestarted.onFatal((error) => fatal(error));
    // Past a stop's deadline the close hooks get only what is left of it (pool.close).
    cleanups.push(() => pool.close(closeBy === undefined ? undefined : closeBy - Date.now()));
    const loaded = pool.loadEverywhere(Object.keys(topology.processors).map((name) => wireSpec(topology, name)), options.signal);
    loaded.catch(() => undefined); // awaited below, after the node started; a failure surfaces there
    let broker: Pipeline['broker'];
    if (nodes.length === 0) {
      phase('starting the embedded node');
      const e = topology.cluster.embedded;
      const early = options.prestartedNode?.take() ? options.prestartedNode.node : undefined;
      // Closed with the pipeline from here on, even if it fails to start.
      if (early) cleanups.push(async () => { await (await early.catch(() => undefined))?.close(); });
      const started = await (early ?? (options.brokerThread === false ? startBroker : startBrokerInWorker)(embeddedNodeOptions(topology)));
      broker = started;
      for (const warning of started.warnings) options.logger?.warn({ address: started.address }, `embedded node: ${warning}`);
      if (!early) cleanups.push(() => broker!.close());
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
    // A node that accepted the connection but does not answer is reported within seconds (start-up:
    // as an operator warning, since nothing else shows), not only once a request times out.
    let running = false;
    const stopWatch = watchSilentNodes(client, {
      afterMs: client.options.healthCheckTimeoutMs, requestTimeoutMs: c.requestTimeout,
      warn: (message, data) => (running || !options.onWarning ? options.logger?.warn(data, message) : options.onWarning(message)),
      info: (message, data) => options.logger?.info(data, message),
    });
    cleanups.push(async () => stopWatch());
    // Before anything is read: a second live process with the same partitions stops here.
    phase('claiming partitions');
    let lostEarly: WalrusError | undefined;
    let lost = (error: WalrusError) => { lostEarly = error; };
    const partitionTopics = ownedPartitionTopics(topology, options.assignment);
    const ownership = await claimOwnership(client, partitionTopics, {
      ...(Object.values(topology.sources).some((s) => s.partitions > 1) ? { layout: deploymentLayout(topology, options.assignment) } : {}),
      label: `${topology.app}/${options.instance ?? options.assignment?.instance ?? '-'}`, ttlMs: options.ownershipTtlMs, logger: options.logger,
      onUnsupported: (message) => (options.onWarning ? options.onWarning(message) : options.logger?.warn(message)),
      onLost: (error) => lost(error),
    });
    cleanups.push(() => ownership.release());
    // Every read and write of the run waits while a lease is not surely still this process's (after a freeze).
    const fenced = <T>(call: () => Promise<T>): Promise<T> => { const wait = ownership.fence(); return wait ? wait.then(call) : call(); };

    phase('loading processors');
    await loaded;
    phase('opening the journal');

    const journal = options.journal === false ? undefined
      : await Journal.open({
        dir: journalDir(topology, options.instance), fsync: topology.journal.fsync,
        // A torn tail truncated, corrupt bytes skipped: said where the operator looks.
        onWarning: (message, context) => (context.corrupt === true ? options.logger?.error(context, message) : options.logger?.warn(context, message)),
      });
    if (journal) cleanups.push(() => journal.close());
    // Before anything is registered or read: partition counts that disagree with the topics in use are refused.
    phase('checking partition counts');
    for (const warning of await checkPartitionCounts(topology, client)) options.logger?.warn(warning);
    // Renamed or removed re-keying processors: the repartition topics earlier runs wrote through, from the stateDir.
    for (const warning of await checkRememberedRepartitions(topology, client)) options.logger?.warn(warning);
    // Only a topology with repartition topics keeps origin files next to its journal.
    const repartitioned = Object.values(topology.sources).some(isRepartition);
    const origins = await RepartitionOrigins.open(repartitioned && journal ? journalDir(topology, options.instance) : undefined, journal, options.logger);
    // Stores open (and restore from their changelogs) before anything is fetched: of a partitioned store, the partitions this instance owns.
    phase('opening state stores');
    const stateClient = {
      register: (t: string) => client.register(t), state: (t: string) => client.state(t),
      putMany: (t: string, e: string[]) => fenced(() => client.putMany(t, e)),
      getMany: (t: string, n: number) => fenced(() => client.getMany(t, n)),
      lease: (t: string, n: number) => fenced(() => client.lease(t, n)),
      releaseLeases: (t: string) => fenced(() => client.releaseLeases(t)),
      claim: (t: string, o: string, ttl: number) => client.claim(t, o, ttl),
      renewClaim: (t: string, o: string, ttl: number) => client.renewClaim(t, o, ttl),
    };
    const state = await RuntimeState.open(topology, stateClient, options.logger, {
      signal: options.signal, assignment: options.assignment, instance: options.instance,
      ...(journal ? { journal: await journalIdentity(journalDir(topology, options.instance)) } : {}),
      unfinished: journal?.unreleased().filter((e) => (topology.sources[e.source]?.partitions ?? 1) > 1).length ?? 0,
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
    pool.onThreadEnded = instrumentation && ((threadId) => instrumentation.threadEnded(threadId));
    // The summary's elapsed time starts with the coordinator: so does the workers' busy time it is set against.
    const busyBefore = pool.busyMs;
    pool.startUtilizationWindow();
    const coordinator = new Coordinator({
      topology, runner: pool, journal: journal && origins.wrap(state ? state.wrapJournal(journal) : journal), state, origins, untilIdle: options.untilIdle,
      codec: new TopologyCodec(instrumentation?.hub && ((sink, original, compressed) => instrumentation.compressed(sink, original, compressed))),
      instrumentation,
      maxInFlight: options.maxInFlight ?? defaultMaxInFlight(topology, pool.size), logger: options.logger, workers: pool.size, onDeadLetter: options.onDeadLetter,
      writer: { putMany: (topic, entries) => fenced(() => client.putMany(topic, entries)) },
      // Leases: the node keeps what was read until it is acknowledged, so a
      // kill -9 between the read and the journal loses nothing (docs/client.md).
      // A partitioned source: the partitions this instance owns, read in turn.
      openSource: (spec) => partitionedReader(ownedTopics(spec, options.assignment), (topic) => ({ fetch: (max, maxBytes) => fenced(() => client.lease(topic, max, maxBytes)) })),
    });
    // A crash loop (workerPool.maxConsecutiveCrashes) ends the run with that error.
    fatal = (error) => { options.logger?.fatal({ err: error.message }, 'worker crash loop: stopping'); coordinator.fail(error); };
    lost = (error) => {
      options.logger?.fatal({ err: error.message }, 'ownership lease lost: stopping');
      // Its partitions may have run elsewhere: the local copies are stale, so the next start restores them.
      if (state) cleanups.push(() => forgetHeldPartitions(topology, options.instance));
      coordinator.fail(error);
    };
    if (lostEarly) lost(lostEarly);
    // The embedded node stops on its own only when its storage failed (a full disk): the run stops with
    // its reason, instead of retrying a closed port for ever.
    if (broker) void broker.closed.then(() => {
      const failure = broker!.failure;
      if (!failure) return;
      const error = new WalrusError('SERVER_ERROR', `the embedded node stopped: ${failure.message}`, { retriable: false, cause: failure });
      options.logger?.fatal({ err: error.message }, 'embedded node stopped: stopping');
      coordinator.fail(error);
    });
    const addresses = broker ? [broker.address] : nodes;
    let instrumented: ReturnType<typeof instrumentPipeline> | undefined;
    if (options.metrics) {
      cleanups.push(async () => detach());
      const detach = instrumentPipeline(options.metrics, {
        topology, client, pool, journal, inFlight: () => coordinator.snapshot().inFlight, nodes: () => addresses,
        backpressure: () => coordinator.backpressure(),
      });
      instrumented = detach;
    }
    const topics = pipelineTopics(topology);
    phase('registering topics');
    for (const topic of topics) await client.register(topic);
    await options.beforeRun?.(client);
    // The first lag poll ran before the topics existed (or were seeded): ask again now.
    void instrumented?.pollLag();
    phase(leftoverTotal > 0 ? 'replaying journal' : 'starting');

    const done = coordinator.run().finally(cleanup);
    let abortTimer: NodeJS.Timeout | undefined;
    let giveUpTimer: NodeJS.Timeout | undefined;
    void done.finally(() => { clearTimeout(abortTimer); clearTimeout(giveUpTimer); }).catch(() => undefined);
    const stop = (stopOptions: { abortAfterMs?: number; giveUpAfterMs?: number } = {}) => {
      coordinator.stop();
      const abortAfter = stopOptions.abortAfterMs ?? 10_000;
      abortTimer ??= setTimeout(() => {
        options.logger?.warn('shutdown: aborting records still in processors (they stay in the journal)');
        void pool.abortAll('shutdown');
        coordinator.stop(true);
      }, abortAfter);
      // What is still in flight then waits on something outside (a node that does not answer a write):
      // the run ends without it, its entries unreleased in the journal for the next start.
      const giveUpAfter = stopOptions.giveUpAfterMs ?? abortAfter + 20_000;
      closeBy ??= Date.now() + giveUpAfter;
      giveUpTimer ??= setTimeout(() => {
        const inFlight = coordinator.snapshot().inFlight;
        const error = new WalrusError('SHUTTING_DOWN', `shutdown did not finish within ${giveUpAfter} ms: ${inFlight} records in flight still wait ` +
          '(for a node that does not acknowledge their outputs, or a processor that ignores its AbortSignal); they stay in the journal and are processed ' +
          'again at the next start', { retriable: true, context: { inFlight, giveUpAfterMs: giveUpAfter } });
        options.logger?.error({ err: error.message, inFlight }, 'shutdown: giving up on what is in flight');
        coordinator.fail(error);
      }, giveUpAfter);
    };
    running = true;
    const workerBusyMs = () => Math.max(0, pool.busyMs - busyBefore);
    return { coordinator, client, pool, broker, nodes: addresses, metrics: options.metrics, done, stop, journalReplay, workerBusyMs };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/** See {@link PipelineOptions.maxInFlight}. */
export function defaultMaxInFlight(topology: Topology, workers: number): number {
  const batch = Math.max(1, ...Object.values(topology.processors).map((p) => p.batchSize));
  const poll = Math.max(1, ...Object.values(topology.sources).map((s) => s.poll.batchSize));
  return Math.max(2_048, workers * batch * 4, 2 * poll);
}

/** Every topic the pipeline reads or writes (sources, sinks, dead letters; each partition): registered before the run. */
function pipelineTopics(topology: Topology): Set<string> {
  const topics = new Set<string>();
  for (const s of [...Object.values(topology.sources), ...Object.values(topology.sinks)]) for (const t of partitionTopics(s.topic, s.partitions)) topics.add(t);
  for (const p of Object.values(topology.processors)) topics.add(p.deadLetter);
  return topics;
}
