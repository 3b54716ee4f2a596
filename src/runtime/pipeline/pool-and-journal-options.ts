import { join } from 'node:path';
import type { WalrusError } from '../../errors/index.js';
import type { Topology } from '../../topology/types.js';
import type { WorkerPoolOptions } from '../pool/worker-pool.js';

const MIB = 1024 * 1024;

/** The worker pool's crash-containment options from the topology's `workerPool:`. */
export function workerPoolOptions(topology: Topology, onFatal: (error: WalrusError) => void): Pick<WorkerPoolOptions, 'resourceLimits' | 'supervisor' | 'loadTimeoutMs' | 'tasksPerWorker'> {
  const p = topology.workerPool;
  return {
    loadTimeoutMs: p.loadTimeout,
    tasksPerWorker: p.tasksPerWorker,
    // Below ~16 MiB V8 cannot even start a worker that loads tsx.
    resourceLimits: p.maxHeap > 0 ? { maxOldGenerationSizeMb: Math.max(16, Math.ceil(p.maxHeap / MIB)) } : undefined,
    supervisor: {
      timeoutGraceMs: p.timeoutGrace,
      recycleAfterTasks: p.recycleAfterTasks,
      recycleAboveHeapBytes: p.recycleAboveHeap,
      maxConsecutiveCrashes: p.maxConsecutiveCrashes,
      onFatal,
    },
  };
}

/**
 * Where this instance keeps its journal. One journal has one writer (it is
 * locked), so two `run` instances of one topology on one machine need
 * distinct instance ids: `<stateDir>/<app>/journal` without one,
 * `<stateDir>/<app>/instances/<id>/journal` with one.
 */
export function journalDir(topology: Topology, instance?: string): string {
  return instance === undefined
    ? join(topology.stateDir, topology.app, 'journal')
    : join(topology.stateDir, topology.app, 'instances', instance, 'journal');
}

/** Instance ids become directory names: keep them to one safe path segment. */
export function instanceProblem(id: string): string | undefined {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(id)
    ? undefined
    : `expected 1-64 characters A-Z a-z 0-9 . _ - starting with a letter or digit, got ${JSON.stringify(id)}`;
}
