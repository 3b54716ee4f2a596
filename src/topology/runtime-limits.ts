/**
 * Upper bounds of the run's sizing settings, checked where each is given
 * (the topology's `workers`, `walrus-stream run --workers / --max-in-flight`,
 * the worker pool) so a typo gets a clear error instead of running the
 * process out of memory: `--workers 100000` did, while starting threads.
 */

/** Most worker threads (each costs tens of MB and may grow to its heap limit). */
export const MAX_WORKERS = 256;

/** Most records fetched and not yet finished (`--max-in-flight`): they are all held in memory. */
export const MAX_IN_FLIGHT = 10_000_000;

/**
 * Ranges of the worker pool's whole-number settings: the topology's
 * `workerPool:` keys (schema-runtime.ts) and the options of `WorkerPool`
 * (src/runtime/pool) are checked against the same numbers.
 */
export const POOL_COUNTS = {
  /** Batches a worker thread runs at once. */
  tasksPerWorker: { min: 1, max: 64 },
  /** Batches before a thread is replaced; 0 = never. */
  recycleAfterTasks: { min: 0 },
  /** Worker deaths in a row before the run ends. */
  maxConsecutiveCrashes: { min: 1 },
} as const;
