import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { WorkerPool } from '../../src/runtime/pool/worker-pool.js';
import type { ProcessorSpecWire, WireRecord } from '../../src/runtime/wire/messages.js';
import { oneProcessorGroup, outcomes, tasks } from './one-processor.js';

// A thread that had not loaded a processor (a replacement after a crash) loaded it as its first batch came, with no
// bound of its own: an init() that never resolved hung that batch for good when the processor had no timeout (a
// `run --until-idle` never ended), and otherwise had the deadline end the thread and its records dead-lettered as
// PROCESSOR_TIMEOUT ("ignored ctx.signal"). Now the batch fails PROCESSOR_LOAD_FAILED, retriable, naming init(), after
// workerPool.loadTimeout or the processor's timeout, whichever is shorter.
const spec = (extra: Partial<ProcessorSpecWire>): ProcessorSpecWire => ({
  name: 'stuck', module: fileURLToPath(new URL('../fixtures/processors/init-hangs.ts', import.meta.url)), config: {}, outputs: ['default'], timeoutMs: 0, logLevel: 'silent', ...extra,
});
const rec = (i: number): WireRecord => ({ id: `r${i}`, value: { i }, headers: {}, timestamp: 1, source: 'in', attempt: 1 });

for (const [label, extra, bound] of [
  ['no timeout, loadTimeout 300 ms', { loadTimeoutMs: 300 }, 300],
  ['timeout 400 ms, loadTimeout 60 s', { timeoutMs: 400, loadTimeoutMs: 60_000 }, 400],
] as const) {
  test(`an init() that never resolves in a thread loading it for a batch fails that batch with PROCESSOR_LOAD_FAILED, retriable, after the bound (${label})`, { timeout: 10_000 }, async (t) => {
    const pool = new WorkerPool({ workers: 1, supervisor: { timeoutGraceMs: 3_000 } });
    t.after(() => pool.close());
    await pool.ready(); // its thread started: what is timed is the batch
    const started = Date.now();
    const results = outcomes(await pool.process(oneProcessorGroup(spec(extra)), tasks([rec(1), rec(2)])), 2);
    const elapsed = Date.now() - started;
    for (const r of results) {
      assert.equal(r.ok, false);
      assert.equal(!r.ok && r.error.code, 'PROCESSOR_LOAD_FAILED');
      assert.equal(!r.ok && r.error.retriable, true);
      assert.match(!r.ok ? r.error.message : '', new RegExp(`^processor "stuck" \\(.*init-hangs\\.ts\\) did not finish loading \\(import and init\\) within ${bound} ms in this worker thread: an init\\(\\) that never resolves\\?`));
    }
    assert.ok(elapsed >= bound - 50 && elapsed < bound + 2_500, `failed after ${elapsed} ms`);
    assert.equal(pool.replacements, 0, 'the thread was not ended for it');
  });
}
