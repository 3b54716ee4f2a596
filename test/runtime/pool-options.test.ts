import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkerPool, type WorkerPoolOptions } from '../../src/runtime/pool/worker-pool.js';
import { WalrusError } from '../../src/errors/index.js';
import { workerPoolSchema } from '../../src/topology/schema/schema-runtime.js';

/** Expects `new WorkerPool(options)` to throw CONFIG_INVALID matching `message`; a pool built anyway is closed, not leaked. */
async function assertRefused(options: WorkerPoolOptions, message: RegExp): Promise<void> {
  let pool: WorkerPool | undefined;
  try {
    pool = new WorkerPool(options);
  } catch (error) {
    assert.ok(error instanceof WalrusError, String(error));
    assert.equal(error.code, 'CONFIG_INVALID');
    assert.match(error.message, message);
    return;
  }
  await pool.close();
  assert.fail(`new WorkerPool(${JSON.stringify(options)}) was accepted`);
}

test('WorkerPool refuses bad options at construction, naming the option, the value and the allowed range', async () => {
  const cases: Array<[WorkerPoolOptions, RegExp]> = [
    [{ tasksPerWorker: 2.5 }, /^WorkerPool option tasksPerWorker is 2\.5; expected a whole number from 1 to 64$/],
    [{ tasksPerWorker: 65 }, /^WorkerPool option tasksPerWorker is 65; expected a whole number from 1 to 64$/],
    [{ tasksPerWorker: 0 }, /tasksPerWorker is 0; expected a whole number from 1 to 64/],
    [{ tasksPerWorker: '4' as unknown as number }, /tasksPerWorker is "4"; expected a whole number from 1 to 64/],
    [{ workers: -1 }, /^WorkerPool option workers is -1; expected a whole number from 1 to 256, or "auto"$/],
    [{ workers: 2.5 }, /workers is 2\.5; expected a whole number from 1 to 256, or "auto"/],
    [{ workers: 257 }, /workers is 257; expected a whole number from 1 to 256/],
    [{ loadTimeoutMs: -1 }, /^WorkerPool option loadTimeoutMs is -1; expected a number ≥ 0 \(0 = no limit\)$/],
    [{ loadTimeoutMs: Number.NaN }, /loadTimeoutMs is NaN; expected a number ≥ 0/],
    [{ supervisor: { timeoutGraceMs: -5 } }, /^WorkerPool option supervisor\.timeoutGraceMs is -5; expected a number ≥ 0$/],
    [{ supervisor: { recycleAfterTasks: -1 } }, /supervisor\.recycleAfterTasks is -1; expected a whole number ≥ 0 \(0 = never\)/],
    [{ supervisor: { recycleAfterTasks: 1.5 } }, /supervisor\.recycleAfterTasks is 1\.5; expected a whole number ≥ 0/],
    [{ supervisor: { recycleAboveHeapBytes: -1024 } }, /supervisor\.recycleAboveHeapBytes is -1024; expected a whole number ≥ 0 \(0 = never\)/],
    [{ supervisor: { maxConsecutiveCrashes: 0 } }, /supervisor\.maxConsecutiveCrashes is 0; expected a whole number ≥ 1/],
    [{ resourceLimits: { maxOldGenerationSizeMb: -1 } }, /^WorkerPool option resourceLimits\.maxOldGenerationSizeMb is -1; expected a number > 0$/],
    [{ resourceLimits: { maxOldGenerationSizeMb: 0 } }, /resourceLimits\.maxOldGenerationSizeMb is 0; expected a number > 0/],
    [{ resourceLimits: { maxYoungGenerationSizeMb: -2 } }, /resourceLimits\.maxYoungGenerationSizeMb is -2; expected a number > 0/],
    [{ resourceLimits: { stackSizeMb: 0 } }, /resourceLimits\.stackSizeMb is 0; expected a number > 0/],
  ];
  for (const [options, message] of cases) await assertRefused(options, message);
});

test('the pool and the topology\'s workerPool settings draw the line at the same values', async () => {
  const topology = (settings: Record<string, unknown>) => workerPoolSchema.safeParse(settings).success;
  for (const [value, ok] of [[0, false], [1, true], [64, true], [65, false], [2.5, false]] as const) {
    assert.equal(topology({ tasksPerWorker: value }), ok, `topology tasksPerWorker ${value}`);
    if (!ok) await assertRefused({ tasksPerWorker: value }, /tasksPerWorker/);
  }
  for (const [key, option, value, ok] of [
    ['recycleAfterTasks', 'recycleAfterTasks', -1, false], ['recycleAfterTasks', 'recycleAfterTasks', 0, true],
    ['maxConsecutiveCrashes', 'maxConsecutiveCrashes', 0, false], ['maxConsecutiveCrashes', 'maxConsecutiveCrashes', 1, true],
  ] as const) {
    assert.equal(topology({ [key]: value }), ok, `topology ${key} ${value}`);
    if (!ok) await assertRefused({ supervisor: { [option]: value } }, new RegExp(option));
  }
  // The edges the topology accepts start a pool (one thread, then closed).
  const pool = new WorkerPool({ workers: 1, tasksPerWorker: 64, resourceLimits: { maxOldGenerationSizeMb: 16 }, supervisor: { recycleAfterTasks: 0, maxConsecutiveCrashes: 1 } });
  await pool.ready();
  assert.equal(pool.size, 1);
  await pool.close();
});
