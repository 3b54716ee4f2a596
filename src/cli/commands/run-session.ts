/**
 * `walrus-stream run` once its topology is loaded: logs, metrics, the HTTP
 * server and dashboard, the pipeline, progress and the summary. Loaded by
 * ./run.ts while the topology loads (start-up).
 */
import { hostname } from 'node:os';
import { WalrusError } from '../../errors/index.js';
import { DeadLetterRing } from '../../observability/dashboard/dead-letter-ring.js';
import { MetricsHub } from '../../observability/metrics/metrics-hub.js';
import { createLogger, redactHeaderPaths } from '../../observability/logs/logger.js';
import { createProgressReporter, driveProgress, linesAboveProgress } from '../../observability/progress/progress-reporter.js';
import { renderDeadLetterFold } from '../../observability/progress/progress-format.js';
import { parseHttpAddress, type ObservabilityServer } from '../../observability/http/http-server.js';
import { startPipelineServer, type ReadinessParts } from '../../runtime/pipeline/instrumentation-wiring.js';
import type { createPipelineDashboard } from '../../runtime/pipeline/dashboard-wiring.js';
import { parseDeadLetter } from '../../runtime/coordinator/dead-letter.js';
import { planStageGroups } from '../../topology/stage-groups.js';
import { withRepartitions } from '../../topology/repartition.js';
import type { PipelineStats } from '../../runtime/coordinator/pipeline-stats.js';
import { formatDiagnostic } from '../../topology/validate/diagnostics.js';
import type { LoadedTopology } from '../../topology/types.js';
import { startPipeline, type Pipeline } from '../../runtime/pipeline/pipeline.js';
import { instanceProblem } from '../../runtime/pipeline/pool-and-journal-options.js';
import { ownedPartitions } from '../../codec/partitioning.js';
import { checkAssignment, resolveAssignment, type InstanceAssignment } from '../../runtime/pipeline/instance-assignment.js';
import { seedSources, type SeedSpec } from '../../runtime/sources/seed.js';
import { formatSummary, toProgressSnapshot } from '../../runtime/pipeline/summary-format.js';
import { EXIT, UsageError, type CliIo } from '../command.js';
import type { PrestartedNode, PrestartedPool } from '../../runtime/pool/prestart.js';
import { signalExitCode, type parseRunArgs } from './run.js';
import { resolveAuth } from '../connect-options.js';
import { checkExposure } from '../../util/exposure.js';
import type { HttpAuthOptions } from '../../observability/http/http-auth.js';
import type { ObservabilitySpec } from '../../topology/types.js';

/** /metrics credentials: WALRUS_METRICS_TOKEN wins over observability.httpAuth.token; basic from httpAuth. */
function metricsSecurity(spec: ObservabilitySpec['httpAuth'], envToken: string | undefined, insecure: boolean): { auth: HttpAuthOptions | undefined; insecure: boolean } {
  const auth: HttpAuthOptions = {};
  const token = envToken || spec?.token;
  if (token) auth.bearerToken = token;
  if (spec?.username !== undefined && spec.password !== undefined) auth.basic = { username: spec.username, password: spec.password };
  return { auth: auth.bearerToken || auth.basic ? auth : undefined, insecure };
}

/** Client errors that mean the node did not answer: after them, ask whether the embedded node stopped. */
const NO_ANSWER = new Set(['CONNECTION_REFUSED', 'CONNECTION_CLOSED', 'CONNECTION_TIMEOUT', 'NETWORK_ERROR', 'NO_NODE_AVAILABLE', 'CIRCUIT_OPEN']);

/**
 * What a failed start ends with: when the embedded node stopped on its own (its storage failed: a
 * full disk, EFBIG), its reason. A seed loading into it ended with the CONNECTION_REFUSED its client
 * got next, and the real cause was only in the fatal log line above it.
 */
async function embeddedNodeFailure(error: unknown, prestarted: PrestartedNode | undefined): Promise<unknown> {
  if (prestarted === undefined || !NO_ANSWER.has(String((error as { code?: unknown })?.code))) return error;
  const node = await prestarted.node.catch(() => undefined);
  if (node === undefined) return error;
  if (node.failure === undefined) {
    // The client can find the port closed before the node's thread has said why it stopped.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([node.closed, new Promise((resolve) => { timer = setTimeout(resolve, 1_000); })]);
    clearTimeout(timer);
  }
  const failure = node.failure;
  if (failure === undefined) return error;
  return new WalrusError('SERVER_ERROR', `the embedded node stopped: ${failure.message}`, { retriable: false, cause: failure });
}

/** Log messages of single dead letters, folded into the live view on a TTY. */
const DEAD_LETTER_LOG_MESSAGES = new Set(['record dead-lettered', 'undecodable record dead-lettered']);

/** The parsed options of `run`. */
export type RunValues = ReturnType<typeof parseRunArgs>['values'];

export interface SignalHooks {
  signal: AbortSignal;
  signalled(): NodeJS.Signals | undefined;
  /** The pipeline is running: `stop()` stops it (within the session's shutdown timeout). */
  started(pipeline: { stop(): void }): void;
}

/** What ./run.ts hands over: the parsed and checked options, the loaded topology, the pool it started. */
export interface RunSession {
  values: RunValues;
  io: CliIo;
  hooks: SignalHooks;
  workers: number | 'auto' | undefined;
  seeds: SeedSpec[];
  maxInFlight: number | undefined;
  progressInterval: number;
  /** How long a stop may take before the run ends without what is still in flight (Pipeline.stop's giveUpAfterMs). */
  shutdownTimeoutMs: number;
  /** --lease-ttl: the ownership leases' time to live (undefined: the default). */
  leaseTtlMs: number | undefined;
  loaded: LoadedTopology;
  prestartedPool: PrestartedPool;
  prestartedNode: PrestartedNode | undefined;
}

export async function runSession(session: RunSession): Promise<number> {
  const { values, io, hooks, workers, seeds, maxInFlight, progressInterval, shutdownTimeoutMs, leaseTtlMs, loaded, prestartedPool, prestartedNode } = session;
  const { topology, warnings } = loaded;
  for (const w of warnings) io.stderr.write(`${formatDiagnostic(w)}\n`);

  const logFormat = values['log-format'];
  if (logFormat !== undefined && logFormat !== 'json' && logFormat !== 'pretty') {
    throw new UsageError(`--log-format expects "json" or "pretty", got "${logFormat}"`);
  }
  // On a TTY the live view is created first: log lines then go above it
  // instead of being overwritten by the next redraw.
  const tty = io.stderr.isTTY === true && values.json !== true;
  // The latest dead letters, for the dashboard and (on a TTY) the tally under the live view.
  const deadLetters = new DeadLetterRing({ parse: parseDeadLetter });
  const dlqTopics = [...new Set(Object.values(topology.processors).map((p) => p.deadLetter))];
  // On a TTY each dead letter is not logged (a multi-line record each would bury the live
  // view): the view shows counts by processor and code with the latest reason instead.
  // Full records stay on the dead-letter topic, and are logged off a TTY or at debug level.
  const foldDeadLetters = tty && !['debug', 'trace'].includes(topology.observability.logLevel);
  const progress = tty || progressInterval > 0
    ? createProgressReporter({
      tty, stream: io.stderr, app: topology.app, logIntervalMs: progressInterval,
      extraLines: foldDeadLetters ? () => renderDeadLetterFold(deadLetters.tallies(), dlqTopics) : undefined,
    }) : undefined;
  const logger = createLogger({
    omit: foldDeadLetters ? (message) => DEAD_LETTER_LOG_MESSAGES.has(message) : undefined,
    level: topology.observability.logLevel, base: { app: topology.app },
    destination: progress && tty ? linesAboveProgress(progress, true) : io.stderr,
    pretty: logFormat === undefined ? undefined : logFormat === 'pretty',
    redact: redactHeaderPaths([...topology.observability.redactHeaders, ...(values['redact-header'] ?? [])]),
  });
  const nodes = values.nodes?.split(',').map((n) => n.trim()).filter(Boolean);
  const metricsAddress = values['metrics-address'];
  let http: ReturnType<typeof parseHttpAddress>;
  try {
    http = parseHttpAddress(metricsAddress === undefined ? topology.observability.http
      : metricsAddress === 'false' ? false : /^\d+$/.test(metricsAddress) ? Number(metricsAddress) : metricsAddress);
  } catch (error) {
    // The flag's value was named as the topology's observability.http.
    if (metricsAddress === undefined) throw error;
    throw new UsageError(`--metrics-address expects host:port (e.g. 127.0.0.1:9464), a port or false, got "${metricsAddress}"`);
  }
  // Always a hub: it feeds the progress view (rates, lag, utilisation) too;
  // process/GC metrics only when something scrapes them.
  const hub = new MetricsHub({ processMetrics: http !== undefined });
  let assignment: InstanceAssignment | undefined;
  try {
    assignment = resolveAssignment({ instance: values.instance ?? io.env.WALRUS_INSTANCE, instances: values.instances ?? io.env.WALRUS_INSTANCES, hostname: hostname() });
    checkAssignment(topology, assignment);
  } catch (error) {
    if (!(error instanceof WalrusError)) throw error;
    io.stderr.write(`walrus-stream run: ${error.message}\n`);
    return EXIT.INVALID;
  }
  // Repartition topics included (the rewrite run will use: src/topology/repartition.ts).
  for (const s of Object.values(withRepartitions(topology).sources)) {
    if (assignment && s.partitions > 1 && ownedPartitions(s.partitions, assignment.instance, assignment.instances).length === 0) {
      io.stderr.write(`walrus-stream run: warning: instance ${assignment.instance} of ${assignment.instances} owns no partition of source "${s.name}" (${s.partitions} partitions): it reads nothing from it; give the source at least as many partitions as instances\n`);
    }
  }
  // The journal is per instance: with --instances, the index names it when no id was given.
  const instance = values.instance ?? io.env.WALRUS_INSTANCE ?? (assignment === undefined ? undefined : String(assignment.instance));
  const instanceError = instance === undefined ? undefined : instanceProblem(instance);
  if (instanceError) throw new UsageError(`--instance: ${instanceError}`);
  // /metrics, /healthz, /readyz start before the pipeline, so probes get an answer (and the
  // reason it is not ready) during a state restore or a seed.
  let phase: string | undefined = 'starting';
  let pipeline: Pipeline | undefined;
  const parts: ReadinessParts = { nodes: () => pipeline?.nodes ?? [], startup: () => phase, journalReplay: () => pipeline?.journalReplay() ?? { total: 0, left: 0 } };
  const httpSecurity = metricsSecurity(topology.observability.httpAuth, io.env.WALRUS_METRICS_TOKEN, values.insecure === true);
  // Refuse a wide-open /metrics before anything starts.
  if (http) checkExposure({ what: 'the /metrics endpoint', host: http.host, authenticated: httpSecurity.auth !== undefined, insecure: httpSecurity.insecure, fix: 'Set WALRUS_METRICS_TOKEN or observability.httpAuth' });
  const auth = await resolveAuth(values.user, io);
  let server: ObservabilityServer | undefined;
  // The dashboard is up with the server: the graph from the topology at once, the counts
  // once the pipeline runs (a state restore or a seed shows as readiness reasons).
  let dashboard: ReturnType<typeof createPipelineDashboard> | undefined;
  const sourcePartitions = new Map(Object.values(topology.sources).map((s) => [s.topic, s.partitions]));
  if (http) {
    // Only with an HTTP address: the dashboard and the replay it offers load here, not at every start.
    const [{ createPipelineDashboard }, { replayEntries }] = await Promise.all([import('../../runtime/pipeline/dashboard-wiring.js'), import('./dlq-replay.js')]);
    const groups = planStageGroups(topology);
    dashboard = createPipelineDashboard({
      topology, hub, deadLetters, scaling: { instance, assignment },
      coordinator: {
        // Before the pipeline runs, no processor has counts yet (the dashboard reads only summary.processors).
        get stats() { return pipeline?.coordinator.stats ?? ({ summary: { processors: {} } } as unknown as PipelineStats); },
        pending: () => pipeline?.coordinator.pending() ?? {},
        groups,
      },
      replay: (entries) => {
        if (pipeline === undefined) return Promise.reject(new WalrusError('SHUTTING_DOWN', 'the pipeline is still starting; replay once it runs'));
        // A dead letter of a partitioned source names its logical topic: back to its key's partition.
        return replayEntries(pipeline.client, entries, { onWarning: (message) => logger.warn(message), targetPartitions: (topic) => sourcePartitions.get(topic) ?? 1 });
      },
    });
    const routes = dashboard.routes;
    server = await startPipelineServer(hub, parts, http, { ...httpSecurity, routes });
    for (const warning of server.warnings) io.stderr.write(`walrus-stream run: warning: ${warning}\n`);
    io.stderr.write(`dashboard: http://${server.address}/  metrics: http://${server.address}/metrics (health: /healthz, /readyz)${httpSecurity.auth ? ' — credentials required' : ''}\n`);
  }
  const interruptedCode = () => { const s = hooks.signalled(); return s === undefined ? undefined : signalExitCode(s); };
  try {
    try {
      pipeline = await startPipeline(topology, {
        ...(auth ? { auth } : {}), instance, ...(assignment ? { assignment } : {}), metrics: hub, nodes, workers, prestartedPool, prestartedNode, maxInFlight, ownershipTtlMs: leaseTtlMs, untilIdle: values['until-idle'] === true, journal: values['no-journal'] !== true, logger,
        signal: hooks.signal,
        onDeadLetter: (written) => deadLetters.add(written),
        onWarning: (message) => io.stderr.write(`walrus-stream run: warning: ${message}\n`),
        onStartup: (text) => { phase = text; },
        beforeRun: async (client) => {
          if (seeds.length > 0) phase = 'seeding';
          const target = (nodes ?? topology.cluster.nodes).join(',') || topology.cluster.embedded.dataDir;
          for (const r of await seedSources(topology, seeds, client, target, { force: values.reseed, cwd: io.cwd })) {
            io.stderr.write(r.skipped
              ? `seed: ${r.file} was already loaded into "${r.topic}" (use --reseed to load it again)\n`
              : r.resumed === true ? `seed: finished the interrupted load of ${r.file} into "${r.topic}" (${r.entries} more entries)\n`
                : `seed: loaded ${r.entries} entries from ${r.file} into "${r.topic}"\n`);
          }
        },
      });
    } catch (error) {
      const code = interruptedCode();
      if (code === undefined) throw await embeddedNodeFailure(error, prestartedNode);
      io.stderr.write(`walrus-stream run: stopped during start-up (${hooks.signalled()}); nothing read is lost, the next start resumes\n`);
      return code;
    }
    parts.client = pipeline.client;
    parts.pool = pipeline.pool;
    phase = undefined;
    const running = pipeline;
    // Processors get half the time to finish (then their AbortSignal fires), the rest is for flushing.
    hooks.started({ stop: () => running.stop({ abortAfterMs: Math.min(10_000, shutdownTimeoutMs / 2), giveUpAfterMs: shutdownTimeoutMs }) });

    // On a TTY a live view redrawn in place; off one, a JSON progress line per interval.
    const drive = progress
      ? driveProgress(() => hub.progress(), progress, { intervalMs: tty ? 250 : Math.min(progressInterval, 1_000) })
      : undefined;
    try {
      let summary: Awaited<typeof pipeline.done>;
      try {
        summary = await pipeline.done;
      } catch (error) {
        // A stop that could not finish what was in flight in time (Pipeline.stop's giveUpAfterMs): said, not thrown.
        const interrupted = interruptedCode();
        if (interrupted === undefined || !(error instanceof WalrusError) || error.code !== 'SHUTTING_DOWN') throw error;
        io.stderr.write(`walrus-stream run: ${error.message}\n`);
        return interrupted;
      }
      // The view settles on the final totals (workers: how busy over the whole run, from their
      // event loops, loading the processors before it not counted); the summary table goes to stdout.
      const busy = Math.min(1, pipeline.workerBusyMs() / Math.max(1, summary.elapsedMs * pipeline.pool.size));
      drive?.stop({ ...toProgressSnapshot(summary, pipeline.pool.size), utilization: busy });
      io.stdout.write(values.json ? `${JSON.stringify(summary)}\n` : formatSummary(topology.app, summary));
      const interrupted = interruptedCode();
      if (interrupted !== undefined) return interrupted;
      if ((summary.unreleased ?? 0) > 0) {
        // Nothing is lost (the entries stay in the journal), but the run did not do all its work: say so in the exit code.
        io.stderr.write(`walrus-stream run: ${summary.unreleased} entries could not be completed (a sink, dead-letter or state write failed for good; the errors are logged above). ` +
          'They stay in the journal and are processed again at the next start; fix the cause, then run again.\n');
        return EXIT.FAILURE;
      }
      return EXIT.OK;
    } finally {
      drive?.stop();
    }
  } finally {
    dashboard?.close();
    await server?.close();
  }
}
