import { zod } from '../../util/zod.js';
import { POOL_COUNTS } from '../runtime-limits.js';
import { MAX_DEDUPE_IDS } from '../../journal/dedupe-window.js';
import { count, duration, size } from './schema-fields.js';

const z = zod();

/**
 * Topology keys of the runtime's crash containment and delivery: the worker
 * pool's limits (`workerPool:`), the local journal (`journal:`) and a
 * source's duplicate filter (`dedupe:`). docs/pipeline.md explains them.
 */

export const workerPoolSchema = z
  .strictObject({
    maxHeap: size('512MiB').describe('V8 old-generation heap limit of each worker thread (`resourceLimits`): a processor that allocates without bound makes its worker die with WORKER_CRASHED ("reaching memory limit") instead of taking the machine\'s memory; the worker is replaced and its record retried alone, then dead-lettered. 0 = no limit of ours (Node\'s default, which scales with the machine\'s memory: several GB).'),
    timeoutGrace: duration('5s').describe('After a record\'s `timeout` fired its `ctx.signal`, how long its batch may still take without finishing a record before the worker thread is terminated and replaced (the record fails with PROCESSOR_TIMEOUT).'),
    recycleAfterTasks: count(0, POOL_COUNTS.recycleAfterTasks.min).describe('Replace a worker thread after it ran this many batches (for processors that leak); 0 = never.'),
    recycleAboveHeap: size('0').describe('Replace a worker thread once its heap in use exceeds this (checked as each batch starts); 0 = never.'),
    loadTimeout: duration('60s').describe('How long loading a processor in a worker thread (importing its module and running its `init`) may take before `run` fails at start with PROCESSOR_LOAD_FAILED naming it (an `init` that never resolves); the thread is terminated. 0 = no limit.'),
    tasksPerWorker: count(4, POOL_COUNTS.tasksPerWorker.min, POOL_COUNTS.tasksPerWorker.max).describe('Batches a worker thread runs at once. Records of one batch already run concurrently; more than one batch lets a worker go on while a batch waits for its slowest record (a processor that awaits I/O: one slow call no longer holds the others). A record running alone after a worker crash still gets a thread to itself. 1 = one batch at a time (a crash or a timeout then takes down only that batch; others lost with a thread are run again either way).'),
    maxConsecutiveCrashes: count(20, POOL_COUNTS.maxConsecutiveCrashes.min).describe('Worker threads that may die in a row with no batch succeeding in between before the run ends with a fatal WORKER_CRASHED (a processor that kills every worker).'),
  })
  .describe('Limits and replacement of the worker threads that run processors.');

export const journalSchema = z
  .strictObject({
    fsync: z.enum(['always', 'never', 'batch']).default('always').describe('`always`: fetched entries are fdatasync\'ed before they are acknowledged, appends made meanwhile sharing one fdatasync (group commit; survives a power loss); `never`: page cache only (survives a process crash, not a power loss). `batch` is the deprecated spelling of `always` (still accepted, with a warning).'),
  })
  .describe('The local journal that keeps fetched records until they are finished (`<stateDir>/<app>/journal`).');

export const dedupeSchema = z
  .strictObject({
    window: count(0, 0, MAX_DEDUPE_IDS).describe('How many recent record ids are remembered; a record whose id is among them is dropped before processing. 0 = off.'),
  })
  .describe('Drop records seen recently (by record id): duplicates an upstream walrus-stream pipeline wrote after a crash.');
