// run-tests: own process: long (20 s or more on 2 cores): started with the first, not last
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { MetricsHub, parsePrometheusText } from '../../src/observability/index.js';
import { decodeEntry } from '../../src/codec/index.js';
import { parseDeadLetter } from '../../src/runtime/coordinator/dead-letter.js';
import { WorkerPool } from '../../src/runtime/pool/worker-pool.js';
import { WalrusError } from '../../src/errors/index.js';
import { fixture, harness, type Harness } from './harness.js';
import { oneProcessorGroup, outcomes, tasks } from './one-processor.js';

// A worker thread runs several batches at once (workerPool.tasksPerWorker): a batch waiting for its slowest record
// no longer holds the others, and a thread terminated for one batch's timeout, or killed by one record, charges
// only that one; the batches lost with it run again.

let h: Harness;
before(async () => { h = await harness(); });
after(() => h.close());

interface Out { n: number; doneAt: number; attempt: number; overlap: number }

const topology = (pool: string, extra = '', workers = 1) => `
app: t
stateDir: \${STATE_DIR}
workers: ${workers}
sources:
  in: { topic: in, poll: { minInterval: 1ms, maxInterval: 20ms } }
processors:
  p: { module: ./overlap.ts, input: in, batchSize: 8, retry: { attempts: 2, initialDelay: 1ms, maxDelay: 5ms }, deadLetter: in.dead${extra} }
sinks:
  out: { topic: out, input: p }
observability: { logLevel: silent }
workerPool: { ${pool} }`;

async function run(values: Array<Record<string, unknown>>, pool: string, extra = '', workers = 1) {
  await h.produce('in', values.map((value) => ({ value })));
  const summary = await h.run(topology(pool, extra, workers));
  const out = (await h.drain('out')).map((r) => r.value as Out);
  const dead = (await h.drainEntries('in.dead')).map(parseDeadLetter);
  return { summary, out, dead };
}

/** `n` of the one record in a dead letter's source entry. */
const deadN = (entry: string): number => (JSON.parse(Buffer.from(decodeEntry(entry)[0]!.value).toString()) as { n: number }).n;

const N = 64;
const SLOW = 20; // in the third batch: the first batch (a probe) is back before it starts

test('a batch waiting for one slow record does not hold the worker: the batches after it finish first (tasksPerWorker 4); with 1 they wait for it', { timeout: 60_000 }, async () => {
  const values = Array.from({ length: N }, (_, n) => ({ n, ms: n === SLOW ? 1_500 : 5 }));
  const finishedFirst: Record<string, number> = {};
  for (const tasks of [4, 1]) {
    const { out, dead } = await run(values, `tasksPerWorker: ${tasks}`);
    assert.deepEqual(out.map((o) => o.n).sort((a, b) => a - b), values.map((v) => v.n), 'every record once');
    assert.equal(dead.length, 0);
    const slow = out.find((o) => o.n === SLOW)!;
    finishedFirst[tasks] = out.filter((o) => o.n !== SLOW && o.doneAt < slow.doneAt - 500).length;
  }
  // One at a time, only the batches before the slow one's (and none after it) can finish while it waits.
  assert.ok(finishedFirst[1]! <= 24, `tasksPerWorker 1: ${finishedFirst[1]} records finished well before the slow one`);
  assert.ok(finishedFirst[4]! >= 48, `tasksPerWorker 4: only ${finishedFirst[4]} of ${N - 1} records finished well before the slow one`);
});

test('a slow first record does not hold its group: while its probe batch is not back, one more probe goes out per 250 ms, and the rest follow', { timeout: 60_000 }, async () => {
  // Record 0 is in the group's first batch (a probe of 8): how much the group derives is unknown until it is back.
  const values = Array.from({ length: N }, (_, n) => ({ n, ms: n === 0 ? 3_000 : 5 }));
  const { out, dead } = await run(values, 'tasksPerWorker: 4');
  assert.deepEqual(out.map((o) => o.n).sort((a, b) => a - b), values.map((v) => v.n), 'every record once');
  assert.equal(dead.length, 0);
  const slow = out.find((o) => o.n === 0)!;
  const before = out.filter((o) => o.n >= 8 && o.doneAt < slow.doneAt - 1_000).length;
  assert.ok(before >= N - 8 - 8, `only ${before} records after the probe finished well before its slow record`);
});

test('probes are bounded: while no probe is back, at most 4 of 8 records go out, one more per 250 ms waited', { timeout: 60_000 }, async () => {
  const values = Array.from({ length: N }, (_, n) => ({ n, ms: 1_500 }));
  // Two workers of 4 batches each: room for 8 probes, so the bound is the backpressure's own.
  const { out } = await run(values, 'tasksPerWorker: 4', '', 2);
  assert.equal(out.length, N);
  const firstBack = Math.min(...out.map((o) => o.doneAt));
  // Started (done 1.5 s later) before the first probe came back: the probes.
  const probed = out.filter((o) => o.doneAt - 1_500 < firstBack - 50).length;
  assert.ok(probed > 8 && probed <= 32, `${probed} records went out before the first probe was back`);
});

// Where the bad record is: in the third probe (the first batches out, 8 records each) or past the probes. A thread
// blocked for good ends every batch on it unfinished, so the record must come once batches run side by side.
for (const [how, bad, HANG] of [
  ['hangs past its timeout (ignoring ctx.signal)', { hang: true }, 21],
  // Its thread blocked, the batches beside it cannot finish: the earliest step deadline there may be theirs.
  ['blocks its thread for good (a synchronous loop)', { spin: true }, 45],
] as const) {
  test(`a record that ${how} while other batches run on its thread: it alone is charged (PROCESSOR_TIMEOUT); the batches lost with the thread run again, uncharged, each record once`, { timeout: 60_000 }, async () => {
    // The others take 100–450 ms, under their 500 ms timeout: batches keep starting while the hanging one's is waited for.
    const values = Array.from({ length: N }, (_, n) => (n === HANG ? { n, ...bad } : { n, ms: 100 + ((n * 37) % 350) }));
    const { summary, out, dead } = await run(values, 'timeoutGrace: 100ms, tasksPerWorker: 4', ', timeout: 500ms');
    assert.ok(out.some((o) => o.overlap > 8), 'batches overlapped on the one thread (else this proves nothing)');
    assert.deepEqual(out.map((o) => o.n).sort((a, b) => a - b), values.map((v) => v.n).filter((n) => n !== HANG), 'every other record once');
    for (const o of out) assert.equal(o.attempt, 1, `record ${o.n} was charged an attempt for the hanging one`);
    assert.equal(dead.length, 1);
    assert.equal(dead[0]!.error.code, 'PROCESSOR_TIMEOUT');
    assert.equal(deadN(dead[0]!.original), HANG, 'the hanging record, with its source entry');
    assert.equal(summary.processors.p!.deadLettered, 1);
    assert.equal(summary.inFlight, 0);
  });
}

// A deadline passed inside a batch: the worker published which record's step it was (or which one held its thread),
// so only that record runs alone afterwards; its batch-mates run again together. Each ran alone, one per thread at a
// time, before: here 1.2 s longer (4.3 s against 3.1 s); a batch of 256 records of a 100 ms processor would take 25 s.
for (const [how, bad] of [['hangs past its timeout', { hang: true }], ['blocks its thread', { spin: true }]] as const) {
  test(`a record that ${how} in a batch is named by its thread: it alone runs alone afterwards, its batch-mates run again together, uncharged`, { timeout: 60_000 }, async () => {
    const values = Array.from({ length: 8 }, (_, n) => (n === 3 ? { n, ...bad } : { n, ms: 200 }));
    const { summary, out, dead } = await run(values, 'timeoutGrace: 100ms, tasksPerWorker: 1', ', timeout: 500ms');
    assert.deepEqual(out.map((o) => o.n).sort((a, b) => a - b), [0, 1, 2, 4, 5, 6, 7], 'every other record once');
    for (const o of out) assert.equal(o.attempt, 1, `record ${o.n} was charged an attempt for the bad one`);
    // `overlap`: how many records were inside process() on the thread as it started; one run alone sees 1.
    const alone = out.filter((o) => o.overlap === 1).map((o) => o.n);
    assert.ok(alone.length <= 1, `records ${alone.join(', ')} ran again each alone (only the first of a batch sees none beside it)`);
    assert.deepEqual(dead.map((d) => [d.processor, d.error.code, deadN(d.original), d.attempts]), [['p', 'PROCESSOR_TIMEOUT', 3, 2]]);
    assert.equal(summary.inFlight, 0);
  });
}

test('a record that ends its thread inside process()\'s synchronous call is named by the thread: the other batches there run again as they were, its batch-mates together; it alone runs alone and is charged', { timeout: 60_000 }, async () => {
  const EXIT = 10;
  const values = Array.from({ length: 32 }, (_, n) => (n === EXIT ? { n, exitNow: true } : { n, ms: 200 }));
  const { summary, out, dead } = await run(values, 'tasksPerWorker: 4');
  assert.deepEqual(out.map((o) => o.n).sort((a, b) => a - b), values.map((v) => v.n).filter((n) => n !== EXIT), 'every other record once');
  for (const o of out) assert.equal(o.attempt, 1, `record ${o.n} was charged an attempt for the one that exits`);
  // Before, the death split every batch on the thread, and their records ran again each alone, one per thread at a
  // time (9 here, 3.7 s against 2.3 s).
  const alone = out.filter((o) => o.overlap === 1).map((o) => o.n);
  assert.ok(alone.length <= 2, `records ${alone.join(', ')} ran again each alone`);
  assert.deepEqual(dead.map((d) => [d.processor, d.error.code, deadN(d.original), d.attempts]), [['p', 'WORKER_CRASHED', EXIT, 2]]);
  assert.equal(summary.inFlight, 0);
});

// The same through a pair p → q with the record acting in q: on 1 and 2 workers, unordered and in key order, fused into
// one stage group and not. The others take 50–250 ms in each (well under the timeout on a busy host); one attempt each:
// a record charged for the bad one would be dead-lettered beside it.
const pair = (ordering: string, fused: boolean, workers: number) => `
app: t
stateDir: \${STATE_DIR}
workers: ${workers}
sources:
  in: { topic: in, poll: { minInterval: 1ms, maxInterval: 20ms } }
processors:
  p: { module: ./overlap.ts, input: in, batchSize: 8, ordering: ${ordering}, timeout: 500ms, retry: { attempts: 1 }, deadLetter: in.dead }
  q: { module: ./overlap.ts, input: p, ordering: ${ordering}, timeout: 500ms, retry: { attempts: 1 }, deadLetter: in.dead${fused ? '' : ', fuse: false'} }
sinks:
  out: { topic: out, input: q }
observability: { logLevel: silent }
workerPool: { timeoutGrace: 100ms, tasksPerWorker: 4 }`;

// Each of the 8 shapes runs once, with one of the two ways to hang: each way meets each pair of the three settings.
const HANG = { hang: true } as const;
const SPIN = { spin: true } as const;
const shapes = [
  [1, 'unordered', true, HANG], [1, 'key', false, HANG], [2, 'unordered', false, HANG], [2, 'key', true, HANG],
  [1, 'unordered', false, SPIN], [1, 'key', true, SPIN], [2, 'unordered', true, SPIN], [2, 'key', false, SPIN],
] as const;
for (const [workers, ordering, fused, bad] of shapes) {
  const [how, BAD] = 'hang' in bad ? ['hangs past its timeout', 21] : ['blocks its thread for good', 45];
  test(`a record that ${how} in the second of two processors (${fused ? 'fused' : 'not fused'}, ${ordering}, ${workers} worker${workers > 1 ? 's' : ''}): it alone is charged, each other record comes out once`, { timeout: 60_000 }, async () => {
    const values = Array.from({ length: N }, (_, n) => (n === BAD ? { n, ...bad, at: 'q' } : { n, ms: 20 + ((n * 37) % 80) }));
    await h.produce('in', values.map((value) => ({ value, key: `k${value.n % 32}` })));
    const summary = await h.run(pair(ordering, fused, workers));
    const out = (await h.drain('out')).map((r) => r.value as Out);
    const dead = (await h.drainEntries('in.dead')).map(parseDeadLetter);
    assert.ok(out.some((o) => o.overlap > 8), 'batches overlapped on a thread (else this proves nothing)');
    assert.deepEqual(out.map((o) => o.n).sort((a, b) => a - b), values.map((v) => v.n).filter((n) => n !== BAD), 'every other record once');
    for (const o of out) assert.equal(o.attempt, 1, `record ${o.n} was charged an attempt for the bad one`);
    assert.deepEqual(dead.map((d) => [d.processor, d.error.code, deadN(d.original)]), [['q', 'PROCESSOR_TIMEOUT', BAD]]);
    assert.equal(summary.processors.q!.deadLettered, 1);
    assert.equal(summary.inFlight, 0);
  });
}

test('a record that kills its thread while other batches run there: one death counts once towards maxConsecutiveCrashes (not once per batch lost), the record is dead-lettered, the rest come out once', { timeout: 60_000 }, async () => {
  const EXIT = 21;
  const values = Array.from({ length: N }, (_, n) => ({ n, ms: 60, ...(n === EXIT ? { exit: true } : {}) }));
  // 2 crashes in a row end the run: the record's own attempts alone (2, counted once) never reach it; four batches lost
  // with one thread, each counted, would.
  const { summary, out, dead } = await run(values, 'tasksPerWorker: 4, maxConsecutiveCrashes: 2');
  assert.deepEqual(out.map((o) => o.n).sort((a, b) => a - b), values.map((v) => v.n).filter((n) => n !== EXIT), 'every other record once');
  for (const o of out) assert.equal(o.attempt, 1, `record ${o.n} was charged an attempt for the one that exits`);
  assert.equal(dead.length, 1);
  assert.equal(dead[0]!.error.code, 'WORKER_CRASHED');
  assert.equal(deadN(dead[0]!.original), EXIT, 'the record that exits, with its source entry');
  assert.equal(summary.inFlight, 0);
});

test('batches sharing a thread: when one passes its deadline, the batch whose synchronous call has held the thread since is blamed, not it; a batch awaiting (its call returned) is not taken for the holder', { timeout: 60_000 }, async () => {
  const pool = new WorkerPool({ workers: 1, tasksPerWorker: 4, supervisor: { timeoutGraceMs: 100 } });
  const group = (name: string, timeoutMs: number) => oneProcessorGroup({ name, module: fixture('overlap.ts'), config: {}, outputs: ['default'], timeoutMs, logLevel: 'silent' });
  const records = (...values: Array<Record<string, unknown>>) => tasks(values.map((value, i) => ({ id: `r${i}`, value, headers: {}, timestamp: 1, source: 'in', attempt: 1 })));
  const ns = (result: Awaited<ReturnType<WorkerPool['process']>>) => outcomes(result, 2).map((o) => o.ok && (o.outputs[0]!.value as { n: number }).n);
  const timedOut = (message: RegExp) => (error: unknown) => error instanceof WalrusError && error.code === 'PROCESSOR_TIMEOUT' && message.test(error.message);
  try {
    await pool.ready();
    // The first batch's steps begin first: the earliest deadline on the thread is theirs (300 ms; they need 250).
    const first = pool.process(group('p', 300), records({ n: 1, ms: 250 }, { n: 2, ms: 250 }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const blocking = pool.process(group('p', 300), records({ n: 3, spin: true }, { n: 4 }));
    await assert.rejects(blocking, timedOut(/held its worker thread in one synchronous call/));
    assert.deepEqual(ns(await first), [1, 2], 'lost with the thread, run again');
    // A batch hanging past its deadline, ignoring its signal, beside one whose steps began later and await a long call.
    const hanging = pool.process(group('p', 300), records({ n: 5, hang: true }, { n: 6 }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const awaiting = pool.process(group('q', 5_000), records({ n: 7, ms: 1_000 }, { n: 8, ms: 1_000 }));
    await assert.rejects(hanging, timedOut(/did not return within its (own )?timeout/));
    assert.deepEqual(ns(await awaiting), [7, 8], 'lost with the thread, run again');
  } finally {
    await pool.close();
  }
});

test('a record that kills its thread every time: once charged alone, its retry runs alone too (it takes no shared batch down with it): one death for the shared batch, one per attempt', { timeout: 90_000 }, async () => {
  const EXIT = 21;
  const values = Array.from({ length: 400 }, (_, n) => ({ n, ms: 60, ...(n === EXIT ? { exit: true } : {}) }));
  await h.produce('in', values.map((value) => ({ value })));
  const hub = new MetricsHub({ processMetrics: false });
  await h.run(topology('tasksPerWorker: 4'), { metrics: hub });
  const out = (await h.drain('out')).map((r) => r.value as Out);
  const dead = (await h.drainEntries('in.dead')).map(parseDeadLetter);
  assert.deepEqual(out.map((o) => o.n).sort((a, b) => a - b), values.map((v) => v.n).filter((n) => n !== EXIT), 'every other record once');
  for (const o of out) assert.equal(o.attempt, 1, `record ${o.n} was charged an attempt for the one that exits`);
  assert.equal(dead.length, 1);
  assert.equal(deadN(dead[0]!.original), EXIT);
  // 2 attempts: the shared batch it first ran in, then each attempt alone. A retry back in a shared batch cost
  // one more death per attempt (the batch, then the record alone again), and took that batch's records down.
  const replaced = parsePrometheusText(await hub.metrics()).find((s) => s.name === 'walrus_stream_worker_replacements_total')?.value;
  assert.equal(replaced, 3);
});
