import type { WalrusError } from '../../errors/index.js';
import type { BrokerOptions } from '../../broker/options.js';
import { startBrokerInWorker, type WorkerBrokerHandle } from '../../broker/worker.js';
import type { Topology } from '../../topology/types.js';
import { workerPoolOptions } from '../pipeline/pool-and-journal-options.js';
import { WorkerPool } from './worker-pool.js';

// Start-up of `walrus-stream run` (docs/package.md, "Start-up"): the threads a
// pipeline needs start as soon as the topology is known.

/**
 * A worker pool started before the rest of a run is ready: `walrus-stream
 * run` starts it as soon as the topology is loaded, so the threads boot
 * (Node, the task handler) while the main thread still loads the runtime's
 * modules, instead of after them (docs/package.md, "Start-up").
 * {@link startPipeline} takes it over; whoever started it closes it if that
 * never happens.
 */
export interface PrestartedPool {
  readonly pool: WorkerPool;
  /** The worker count asked for (`--workers`, else the topology's). */
  readonly workers: number | 'auto' | undefined;
  /** Where a crash loop is reported once the pipeline runs (until then: nowhere, the start fails on its own). */
  onFatal(handler: (error: WalrusError) => void): void;
  /** Marks the pool as taken by a pipeline, which closes it from then on. False if it was taken already. */
  take(): boolean;
  /** Closes the pool unless a pipeline took it. */
  release(): Promise<void>;
}

export function prestartPool(topology: Topology, workers?: number | 'auto'): PrestartedPool {
  let fatal: (error: WalrusError) => void = () => undefined;
  let taken = false;
  const pool = new WorkerPool({ workers: workers ?? topology.workers, ...workerPoolOptions(topology, (error) => fatal(error)) });
  return {
    pool,
    workers,
    onFatal: (handler) => { fatal = handler; },
    take: () => { if (taken) return false; taken = true; return true; },
    release: async () => { if (!taken) { taken = true; await pool.close(); } },
  };
}

/** The embedded node's options from the topology's `cluster.embedded`. */
export function embeddedNodeOptions(topology: Topology): BrokerOptions {
  const e = topology.cluster.embedded;
  return {
    host: e.host, port: e.port, dataDir: e.dataDir, compat: e.compat, segmentEntries: e.segmentEntries, segmentBytes: e.segmentBytes,
    persistCursors: e.persistCursors, fsync: e.fsync === 'interval' ? { intervalMs: e.fsyncInterval } : e.fsync,
    ...(e.users ? { users: e.users } : {}), insecure: e.insecure,
  };
}

/**
 * The embedded node started on its thread before the rest of a run is ready
 * (as {@link PrestartedPool}, for a topology without `nodes`): `node` settles
 * once it listens. {@link startPipeline} takes it over; whoever started it
 * closes it if that never happens.
 */
export interface PrestartedNode {
  readonly node: Promise<WorkerBrokerHandle>;
  take(): boolean;
  release(): Promise<void>;
}

export function prestartNode(topology: Topology): PrestartedNode {
  let taken = false;
  const node = startBrokerInWorker(embeddedNodeOptions(topology));
  node.catch(() => undefined); // the taker awaits it; a failure to start surfaces there
  return {
    node,
    take: () => { if (taken) return false; taken = true; return true; },
    release: async () => {
      if (taken) return;
      taken = true;
      const started = await node.catch(() => undefined);
      await started?.close();
    },
  };
}
