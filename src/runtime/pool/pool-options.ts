import { WalrusError } from '../../errors/index.js';
import { MAX_WORKERS, POOL_COUNTS } from '../../topology/runtime-limits.js';
import type { WorkerPoolOptions } from './worker-pool.js';

/**
 * Checks the options of a `WorkerPool` built directly (the topology's
 * `workerPool:` keys are checked by its schema already), against the same
 * limits (topology/runtime-limits.ts): a tasksPerWorker of 2.5 or 65, or a
 * negative size, is refused with the option, the value and the allowed range.
 */
export function checkPoolOptions(options: WorkerPoolOptions): void {
  if (options.workers !== 'auto') whole('workers', options.workers, { min: 1, max: MAX_WORKERS }, ', or "auto"');
  whole('tasksPerWorker', options.tasksPerWorker, POOL_COUNTS.tasksPerWorker);
  atLeast('loadTimeoutMs', options.loadTimeoutMs, 0, ' (0 = no limit)');
  const supervisor = options.supervisor ?? {};
  atLeast('supervisor.timeoutGraceMs', supervisor.timeoutGraceMs, 0);
  whole('supervisor.recycleAfterTasks', supervisor.recycleAfterTasks, POOL_COUNTS.recycleAfterTasks, ' (0 = never)');
  whole('supervisor.recycleAboveHeapBytes', supervisor.recycleAboveHeapBytes, { min: 0 }, ' (0 = never)');
  whole('supervisor.maxConsecutiveCrashes', supervisor.maxConsecutiveCrashes, POOL_COUNTS.maxConsecutiveCrashes);
  // Sizes in MiB, > 0: Node takes 0 or less as well, and every thread dies at start. A positive heap too small to
  // start a thread is not refused here: ready() fails at once with the thread's own error.
  const limits = options.resourceLimits ?? {};
  for (const key of ['maxOldGenerationSizeMb', 'maxYoungGenerationSizeMb', 'stackSizeMb'] as const) positive(`resourceLimits.${key}`, limits[key]);
}

function invalid(option: string, value: unknown, expected: string): WalrusError {
  const shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return new WalrusError('CONFIG_INVALID', `WorkerPool option ${option} is ${shown}; expected ${expected}`, { context: { option } });
}

/** Unset, or a whole number within `range`. */
function whole(option: string, value: unknown, range: { min: number; max?: number }, note = ''): void {
  if (value === undefined) return;
  const { min, max } = range;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= min && (max === undefined || value <= max)) return;
  throw invalid(option, value, `${max === undefined ? `a whole number ≥ ${min}` : `a whole number from ${min} to ${max}`}${note}`);
}

/** Unset, or a finite number ≥ `min`. */
function atLeast(option: string, value: unknown, min: number, note = ''): void {
  if (value === undefined || (typeof value === 'number' && Number.isFinite(value) && value >= min)) return;
  throw invalid(option, value, `a number ≥ ${min}${note}`);
}

/** Unset, or a finite number > 0. */
function positive(option: string, value: unknown): void {
  if (value === undefined || (typeof value === 'number' && Number.isFinite(value) && value > 0)) return;
  throw invalid(option, value, 'a number > 0');
}
