import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { WorkerPool } from '../../src/runtime/pool/worker-pool.js';
import type { ProcessorSpecWire, WireRecord } from '../../src/runtime/wire/messages.js';
import { oneProcessorGroup, outcomes, tasks } from './one-processor.js';

// ctx.signal read for the first time after process() finished (a callback left behind) made an AbortController and
// added it to the worker's in-flight set, which only a finishing record empties: one per such record, held for the
// thread's life (300 after 300 records; health() reported them in flight, and abortAll fired them all at shutdown).
test('ctx.signal first read after the record finished is an aborted signal of its own: nothing joins the worker\'s in-flight set', { timeout: 30_000 }, async (t) => {
  const pool = new WorkerPool({ workers: 1 });
  t.after(() => pool.close());
  const spec: ProcessorSpecWire = {
    name: 'late', module: fileURLToPath(new URL('../fixtures/processors/late-signal.ts', import.meta.url)), config: {}, outputs: ['default'], timeoutMs: 0, logLevel: 'silent',
  };
  const rec = (i: number): WireRecord => ({ id: `r${i}`, value: { i }, headers: {}, timestamp: 1, source: 'in', attempt: 1 });
  for (let b = 0; b < 3; b++) {
    const records = Array.from({ length: 100 }, (_, i) => rec(b * 100 + i));
    const results = outcomes(await pool.process(oneProcessorGroup(spec), tasks(records)), records.length);
    assert.ok(results.every((r) => r.ok));
  }
  await sleep(50);
  const [health] = await pool.health();
  assert.equal(health!.inFlight, 0, 'no record is in flight');
});
