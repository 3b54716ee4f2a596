import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from '../parse-args.js';
import { WalrusError } from '../../errors/index.js';
import { loadTopology } from '../../topology/load.js';
import { formatDiagnostic } from '../../topology/validate/diagnostics.js';
import type { Diagnostic } from '../../topology/types.js';
import { parseTopologySizeFlag } from '../../topology/validate/limits.js';
import { MAX_IN_FLIGHT, MAX_WORKERS } from '../../topology/runtime-limits.js';
import { MAX_TIMER_MS } from '../../topology/schema/schema-fields.js';
import { MAX_CLAIM_TTL_MS } from '../../protocol/claims.js';
import { parseSeed } from '../../runtime/sources/seed.js';
import { prestartNode, prestartPool } from '../../runtime/pool/prestart.js';
// Read at load: a bad WALRUS_STREAM_FAULT fails any `run` at once, before a thread starts.
import '../../util/fault-points.js';
import { EXIT, UsageError, type CliCommand, type CliIo } from '../command.js';
import { checkNodeAddresses } from '../node-addresses.js';
import type { RunValues, SignalHooks } from './run-session.js';

// Start-up: this module loads only what comes before the topology is known
// (arguments, the topology loader) and the worker pool and embedded node,
// which start on their threads as soon as the topology is loaded. The runtime (./run-session.ts: the pipeline, the
// client, logs, metrics, the HTTP server) loads meanwhile: the threads boot
// while the main thread imports, instead of after it. (Their modules are
// imported here, not with the runtime: a dynamic import of them would wait
// for the runtime's module graph, which shares their dependencies.)
/** Renewed every third of it: below a second a busy event loop would miss renewals. */
const MIN_LEASE_TTL_MS = 1_000;
const usage = `Usage: walrus-stream run [topology.yaml] [options]

Runs a topology: processors in a worker-thread pool, all Walrus I/O in the
coordinator. Starts an embedded node when the topology names no nodes.

Options:
  --until-idle             exit 0 once every source is empty and nothing is in flight
  --nodes <h:p,...>        Walrus nodes to use instead of the topology's (no embedded node)
  --user <name>            log in as <name> instead of the topology's cluster.auth (default:
                           $WALRUS_USER); the password comes from $WALRUS_PASSWORD, else a prompt
  --workers <n|auto>       worker threads (default: the topology's \`workers\`)
  --seed <source>=<file>   first load each line of <file> as one entry into the source's
                           topic (once per file contents and node; repeatable)
  --reseed                 load --seed files even if they were loaded before
  --max-in-flight <n>      most records fetched and not yet finished; fetching pauses above it
                           (default: 4 batches per worker, at least 2048)
  --no-journal             do not journal fetched entries (a crash may lose in-flight records)
  --instance <id>          instance id (or WALRUS_INSTANCE): its journal is <stateDir>/<app>/instances/<id>/ (run several
                           instances of one topology on one machine; default: none)
  --instances <n>          run as one of n instances (or WALRUS_INSTANCES): --instance is then the index 0..n-1
                           (default: the ordinal of a hostname ending in -<i>, as in a StatefulSet), and this
                           instance reads only partitions p with p % n = index of each partitioned source
                           (and of each repartition topic) and opens only those of each partitioned store
                           (restoring from its changelog one it did not hold at its last start); on the
                           embedded node it holds an ownership lease on each partition it reads, so a second
                           live process with the same partitions exits 3 (docs/scaling.md)
  --lease-ttl <ms>         time to live of those ownership leases (default 5000, renewed every third of it):
                           how long a killed instance's partitions wait before another takes them, and how
                           long a frozen or starved process may go unrenewed before it may be replaced
                           (1000 to 600000)
  --metrics-address <host:port|port|false>
                           serve the dashboard (/), /metrics, /healthz, /readyz there (default:
                           the topology's observability.http; loopback unless a host is given;
                           false = off). Beyond loopback it needs credentials: $WALRUS_METRICS_TOKEN
                           (a bearer token) or observability.httpAuth, else --insecure
  --insecure               allow --metrics-address beyond loopback without credentials (warned)
  --shutdown-timeout <ms>  after SIGINT/SIGTERM, how long to finish what is in flight before exiting
                           without it (default 30000; it stays in the journal for the next start)
  --progress-interval <ms> off a TTY, one JSON progress line per interval on stderr (default 10000;
                           0 = none)
  --log-format <json|pretty>  log lines as JSON (default off a TTY) or human-readable (default on a TTY)
  --redact-header <name>   also redact this record header in logs (repeatable; authorization,
                           cookie, set-cookie, x-api-key, proxy-authorization always are)
  --max-topology-size <size>  refuse larger topology files before reading them (default 256KiB)
  --json                   print the summary as JSON
  -h, --help               show this help

SIGINT / SIGTERM: stop fetching, finish what is in flight, flush, exit (a
second signal, or --shutdown-timeout passing — e.g. a node that stopped
answering — exits without the rest; unfinished records stay in the journal
and are processed on the next start). The handlers are installed first: a signal
during start-up (a state restore, --seed) stops at the next safe point.
Exit codes: 0 done, 1 invalid topology, 2 usage, 3 failure (also: entries
not completed because a write failed for good; they stay in the journal for
the next start), 130 after SIGINT, 143 after SIGTERM.

/healthz and /readyz answer from the start: while starting, /readyz is 503
with the reason (e.g. "startup: restoring state 40% (store totals)",
"journal: replaying journal: 120 of 500 entries left").
`;

const command: CliCommand = {
  name: 'run',
  summary: 'Run a topology (the pipeline)',
  usage,
  async run(args, io) {
    // Signal handlers come first, so a SIGTERM during start-up (a long state
    // restore, a seed) stops cleanly instead of killing the process.
    let signalled: NodeJS.Signals | undefined;
    let pipeline: { stop(): void } | undefined;
    const startup = new AbortController();
    const onSignal = (signal: NodeJS.Signals) => {
      if (signalled) process.exit(signalExitCode(signalled));
      signalled = signal;
      io.stderr.write(pipeline
        ? `\nstopping (${signal}): finishing what is in flight (signal again to exit at once)\n`
        : `\nstopping (${signal}) during start-up at the next safe point (signal again to exit at once)\n`);
      if (pipeline) pipeline.stop(); else startup.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      return await runCommand(args, io, {
        signal: startup.signal,
        signalled: () => signalled,
        started: (p) => { pipeline = p; if (signalled) p.stop(); },
      });
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
};

/** Exit code after a signal: 128 + its number (SIGINT 130, SIGTERM 143). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return signal === 'SIGTERM' ? EXIT.TERMINATED : EXIT.INTERRUPTED;
}


/** The options of `run`, parsed. */
export function parseRunArgs(args: string[]) {
  return parseArgs({
    args, allowPositionals: true, strict: true,
    options: {
      'until-idle': { type: 'boolean' }, nodes: { type: 'string' }, workers: { type: 'string' },
      seed: { type: 'string', multiple: true }, 'max-in-flight': { type: 'string' }, reseed: { type: 'boolean' }, 'no-journal': { type: 'boolean' },
      instance: { type: 'string' }, instances: { type: 'string' }, user: { type: 'string' }, insecure: { type: 'boolean' },
      json: { type: 'boolean' }, 'metrics-address': { type: 'string' }, 'progress-interval': { type: 'string' },
      'shutdown-timeout': { type: 'string' }, 'lease-ttl': { type: 'string' }, 'log-format': { type: 'string' }, 'redact-header': { type: 'string', multiple: true }, 'max-topology-size': { type: 'string' },
    },
  });
}

async function runCommand(args: string[], io: CliIo, hooks: SignalHooks): Promise<number> {
  const { values, positionals } = parseRunArgs(args);
  if (positionals.length > 1) throw new UsageError(`expected one topology file, got ${positionals.length}`);
  const workers = values.workers === undefined || values.workers === 'auto' ? values.workers : Number(values.workers);
  if (typeof workers === 'number' && (!Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS)) {
    throw new UsageError(`--workers expects a whole number from 1 to ${MAX_WORKERS} or "auto" (one per core, ${availableParallelism()} here), got "${values.workers}"`);
  }
  // An empty list (`--nodes "$WALRUS_NODES"` with the variable unset) would start the embedded node in place of the cluster.
  if (values.nodes !== undefined && values.nodes.split(',').every((n) => n.trim() === '')) {
    throw new UsageError(`--nodes expects host:port[,host:port...], got "${values.nodes}"; leave --nodes out to use the topology's cluster.nodes (or the embedded node)`);
  }
  if (values.nodes !== undefined) checkNodeAddresses(values.nodes.split(',').map((n) => n.trim()).filter(Boolean), '--nodes');
  const seeds = (values.seed ?? []).map((value) => {
    try {
      return parseSeed(value);
    } catch {
      throw new UsageError(`--seed expects <source>=<file> (a source of the topology, then the file to load into it), got "${value}"`);
    }
  });
  const maxInFlight = values['max-in-flight'] === undefined ? undefined : Number(values['max-in-flight']);
  if (maxInFlight !== undefined && (!Number.isInteger(maxInFlight) || maxInFlight < 1 || maxInFlight > MAX_IN_FLIGHT)) {
    throw new UsageError(`--max-in-flight expects a whole number from 1 to ${MAX_IN_FLIGHT.toLocaleString('en-US')} (records held in memory at once), got "${values['max-in-flight']}"`);
  }
  const file = resolve(io.cwd, positionals[0] ?? 'topology.yaml');
  const progressInterval = values['progress-interval'] === undefined ? 10_000 : Number(values['progress-interval']);
  if (!Number.isInteger(progressInterval) || progressInterval < 0 || progressInterval > MAX_TIMER_MS) {
    throw new UsageError(`--progress-interval expects milliseconds from 0 (off) to ${MAX_TIMER_MS} (the longest timer Node.js sets, about 24.8 days), got "${values['progress-interval']}"`);
  }

  const shutdownTimeoutMs = values['shutdown-timeout'] === undefined ? 30_000 : Number(values['shutdown-timeout']);
  if (!Number.isInteger(shutdownTimeoutMs) || shutdownTimeoutMs < 1 || shutdownTimeoutMs > MAX_TIMER_MS) {
    throw new UsageError(`--shutdown-timeout expects milliseconds from 1 to ${MAX_TIMER_MS} (the longest timer Node.js sets, about 24.8 days), got "${values['shutdown-timeout']}"`);
  }

  const leaseTtlMs = values['lease-ttl'] === undefined ? undefined : Number(values['lease-ttl']);
  if (leaseTtlMs !== undefined && (!Number.isInteger(leaseTtlMs) || leaseTtlMs < MIN_LEASE_TTL_MS || leaseTtlMs > MAX_CLAIM_TTL_MS)) {
    throw new UsageError(`--lease-ttl expects milliseconds from ${MIN_LEASE_TTL_MS} to ${MAX_CLAIM_TTL_MS} (the ownership leases' time to live), got "${values['lease-ttl']}"`);
  }

  const maxBytes = values['max-topology-size'] === undefined ? undefined : parseTopologySizeFlag(values['max-topology-size']);
  if (values['max-topology-size'] !== undefined && maxBytes === undefined) throw new UsageError(`--max-topology-size expects a size such as 2MiB, got "${values['max-topology-size']}"`);
  // The runtime loads while the topology does (below).
  const runtime = import('./run-session.js');
  runtime.catch(() => undefined); // awaited below; an import failure surfaces there
  let loaded;
  try {
    loaded = await loadTopology(file, { env: io.env, maxBytes });
  } catch (error) {
    const diagnostics = (error as WalrusError).context?.diagnostics as Diagnostic[] | undefined;
    if (error instanceof WalrusError && diagnostics) {
      io.stderr.write(`${diagnostics.map(formatDiagnostic).join('\n')}\n`);
      io.stderr.write(`walrus-stream run: ${file} is invalid (${diagnostics.length} problem${diagnostics.length === 1 ? '' : 's'})\n`);
      return EXIT.INVALID;
    }
    throw error;
  }
  const prestartedPool = prestartPool(loaded.topology, workers);
  // No nodes given (here or in the topology): the embedded node starts now too.
  const nodes = values.nodes?.split(',').map((n) => n.trim()).filter(Boolean) ?? loaded.topology.cluster.nodes;
  const prestartedNode = nodes.length === 0 ? prestartNode(loaded.topology) : undefined;
  try {
    const { runSession } = await runtime;
    return await runSession({ values, io, hooks, workers, seeds, maxInFlight, progressInterval, shutdownTimeoutMs, leaseTtlMs, loaded, prestartedPool, prestartedNode });
  } finally {
    // Not taken by a pipeline (a start that failed or returned early): their threads end here.
    await Promise.all([prestartedPool.release(), prestartedNode?.release()]);
  }
}

export default command;
