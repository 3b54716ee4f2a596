import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkerPool } from '../../src/runtime/pool/worker-pool.js';
import type { ProcessorSpecWire, WireRecord } from '../../src/runtime/wire/messages.js';
import { oneProcessorGroup, tasks } from './one-processor.js';

const spec = (ms: number): ProcessorSpecWire => ({
  name: 'cpu', module: fileURLToPath(new URL('../fixtures/processors/cpu.ts', import.meta.url)),
  config: { ms }, outputs: ['default'], timeoutMs: 0, logLevel: 'silent',
});
const records = (n: number): WireRecord[] => Array.from({ length: n }, (_, i) => ({ id: String(i), value: i, headers: {}, timestamp: 1, source: 'in', attempt: 1 }));

// The live view said "workers 2 (0% busy)" while both workers were saturated:
// piscina's own `utilization` is 1000x too small. Two workers kept busy with
// CPU-bound batches must read near 100%, and an idle pool near 0%.
test('two saturated workers read near 100% busy; an idle pool reads near 0%', { timeout: 60_000 }, async () => {
  const pool = new WorkerPool({ workers: 2 });
  try {
    await pool.loadEverywhere(spec(2));
    const s = oneProcessorGroup(spec(2));
    void pool.utilization; // first sample: the window starts here
    let running = true;
    // Four loops of 20 ms batches for two threads: a thread never waits for work.
    const loops = Array.from({ length: 4 }, async () => { while (running) await pool.process(s, tasks(records(10))); });
    await sleep(1_500);
    void pool.utilization; // window starts with the pool saturated
    await sleep(1_500);
    const busy = pool.utilization;
    running = false;
    await Promise.all(loops);
    assert.ok(busy > 0.8 && busy <= 1, `two saturated workers should read near 100% busy, got ${(busy * 100).toFixed(1)}%`);

    await sleep(1_100);
    void pool.utilization;
    await sleep(1_100);
    const idle = pool.utilization;
    assert.ok(idle < 0.1, `an idle pool should read near 0% busy, got ${(idle * 100).toFixed(1)}%`);
  } finally {
    await pool.close();
  }
});

// A worker runs several batches at once (tasksPerWorker): batches that await I/O overlap and keep their thread
// free. Their run times add up to more than the thread's time (four awaiting batches read 100% by that measure);
// what the threads' event loops did reads near 0%.
test('workers whose batches only await read near 0% busy, though batches are always running', { timeout: 60_000 }, async () => {
  const pool = new WorkerPool({ workers: 2, tasksPerWorker: 4 });
  try {
    const slow: ProcessorSpecWire = { name: 'slow', module: fileURLToPath(new URL('../fixtures/processors/slow.ts', import.meta.url)),
      config: {}, outputs: ['default'], timeoutMs: 0, logLevel: 'silent' };
    await pool.loadEverywhere(slow);
    const s = oneProcessorGroup(slow);
    const waiting = (n: number): WireRecord[] => Array.from({ length: n }, (_, i) => ({ id: String(i), value: { ms: 40 }, headers: {}, timestamp: 1, source: 'in', attempt: 1 }));
    let running = true;
    const loops = Array.from({ length: 8 }, async () => { while (running) await pool.process(s, tasks(waiting(10))); });
    await sleep(1_200);
    void pool.utilization;
    await sleep(1_200);
    const busy = pool.utilization;
    running = false;
    await Promise.all(loops);
    assert.ok(busy < 0.25, `threads that only wait should read near 0% busy, got ${(busy * 100).toFixed(1)}%`);
  } finally {
    await pool.close();
  }
});

// The first progress line of a run read ~50% busy before any record: the window began with the pool, so it held
// the threads' time loading the processors. A run starts the window when it begins.
test('the utilisation window restarts when the run begins: loading the processors before it is not counted', { timeout: 60_000 }, async () => {
  const pool = new WorkerPool({ workers: 2 });
  try {
    void pool.utilization;
    await pool.loadEverywhere({ name: 'slow-init', module: fileURLToPath(new URL('../fixtures/processors/slow-init.ts', import.meta.url)),
      config: {}, outputs: ['default'], timeoutMs: 0, logLevel: 'silent' });
    pool.startUtilizationWindow();
    await sleep(300);
    const idle = pool.utilization;
    assert.ok(idle < 0.2, `idle threads after the run began should read near 0% busy, got ${(idle * 100).toFixed(1)}%`);
  } finally {
    await pool.close();
  }
});
