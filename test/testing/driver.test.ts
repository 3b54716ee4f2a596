import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { createTestDriver, type TestDriverOptions } from '../../src/testing/index.js';
import { loadTopologyText } from '../../src/topology/index.js';

const processors = fileURLToPath(new URL('../fixtures/processors/', import.meta.url));

/** A driver for a topology written inline, its modules resolved against test/fixtures/processors. */
async function driverFor(yaml: string, options: TestDriverOptions = {}) {
  const { topology } = await loadTopologyText(`app: t\n${yaml}`, join(processors, 'topology.yaml'), { env: {} });
  return createTestDriver(topology, { logLevel: 'silent', ...options });
}

test('routing: each output reaches its sink in order, with key, headers and timestamp through the envelope', { timeout: 10_000 }, async () => {
  const d = await driverFor(`
sources: { nums: { topic: nums } }
processors: { route: { module: ./router.ts, input: nums, outputs: [even, odd] } }
sinks:
  even: { topic: even, input: route.even }
  odd: { topic: odd, input: route.odd, serializer: msgpack }
`);
  try {
    await d.pipe('nums', [1, 2, 3, 4, 6].map((n) => ({ value: n, key: `k${n}`, headers: { trace: `t${n}` }, timestamp: 1_000 + n })));
    assert.deepEqual(d.output('even').map((r) => r.value), [2, 4, 6]);
    assert.deepEqual(d.output('odd').map((r) => r.value), [1, 3]);
    const [first] = d.output('odd');
    assert.equal(first!.key, 'k1');
    assert.equal(first!.timestamp, 1_001);
    assert.equal(first!.headers.trace, 't1');
    assert.equal(first!.headers.routed, 'odd');
    assert.equal(first!.headers['content-type'], 'application/msgpack');
    // readOutput drains: a second read sees only what came since.
    assert.equal(d.readOutput('even').length, 3);
    await d.pipe('nums', { value: 8 });
    assert.deepEqual(d.readOutput('even').map((r) => r.value), [8]);
    assert.deepEqual(d.deadLetters(), []);
    assert.throws(() => d.output('nope'), /unknown sink "nope"; the topology has: even, odd/);
  } finally {
    await d.close();
  }
});

test('a processor that throws is retried with backoff, then dead-lettered, at once under the virtual clock', { timeout: 10_000 }, async () => {
  const d = await driverFor(`
sources: { in: { topic: in } }
processors:
  flaky: { module: ./flaky.ts, input: in, deadLetter: in.dlq, retry: { attempts: 3, initialDelay: 10s, maxDelay: 1m } }
sinks: { out: { topic: out, input: flaky } }
`);
  try {
    const started = performance.now();
    const virtualStart = d.now();
    await d.pipe('in', [
      { value: { n: 1, failTimes: 2 }, key: 'a' },
      { value: { n: 2, failTimes: 99 }, key: 'b' },
      { value: { n: 3, fatal: true }, key: 'c' },
    ]);
    const realMs = performance.now() - started;
    assert.ok(realMs < 2_000, `retries with 10 s+ backoffs took ${realMs.toFixed(0)} ms of real time`);
    assert.ok(d.now() - virtualStart >= 10_000, 'the virtual clock moved over the backoffs');
    assert.deepEqual(d.output('out').map((r) => r.value), [{ n: 1, attempt: 3 }]);
    const dead = d.deadLetters();
    assert.equal(dead.length, 2);
    const fatal = dead.find((x) => x.key === 'c')!;
    assert.deepEqual([fatal.processor, fatal.code, fatal.attempts, fatal.topic], ['flaky', 'NON_RETRIABLE', 1, 'in.dlq']);
    assert.match(fatal.message, /record 3 is invalid/);
    assert.deepEqual(fatal.value, { n: 3, fatal: true });
    const exhausted = dead.find((x) => x.key === 'b')!;
    assert.deepEqual([exhausted.code, exhausted.attempts], ['PROCESSOR_ERROR', 3]);
    assert.match(exhausted.message, /transient failure 3/);
    assert.ok(Date.parse(exhausted.lastFailureAt) - Date.parse(exhausted.firstFailureAt) >= 10_000, 'failures are stamped with virtual time');
    assert.equal(d.stats().processors.flaky!.retries, 4);
  } finally {
    await d.close();
  }
});

test('autoAdvance off: a retry waits for advanceTime', { timeout: 10_000 }, async () => {
  const d = await driverFor(`
sources: { in: { topic: in } }
processors: { flaky: { module: ./flaky.ts, input: in, retry: { attempts: 2, initialDelay: 5s, maxDelay: 5s } } }
sinks: { out: { topic: out, input: flaky } }
`, { autoAdvance: false });
  try {
    await d.pipe('in', { value: { n: 1, failTimes: 1 } });
    assert.equal(d.output('out').length, 0, 'still waiting out its backoff');
    // The backoff is 5 s halved and jittered: 3.75 s with the driver's default random of 0.5.
    await d.advanceTime(3_000);
    assert.equal(d.output('out').length, 0, 'backoff not yet over');
    await d.advanceTime(1_000);
    assert.deepEqual(d.output('out').map((r) => r.value), [{ n: 1, attempt: 2 }]);
  } finally {
    await d.close();
  }
});

test('a processor that hangs past its timeout is timed out on the virtual clock, retried, then dead-lettered', { timeout: 10_000 }, async () => {
  const d = await driverFor(`
sources: { in: { topic: in } }
processors: { hang: { module: ./hang.ts, input: in, timeout: 30s, retry: { attempts: 2, initialDelay: 1s } } }
sinks: { out: { topic: out, input: hang } }
`, { hangAfterMs: 20 });
  try {
    await d.pipe('in', [{ value: { n: 1, hang: true } }, { value: { n: 2 } }]);
    assert.deepEqual(d.output('out').map((r) => r.value), [{ n: 2 }]);
    const [dead] = d.deadLetters();
    assert.deepEqual([dead!.code, dead!.attempts], ['PROCESSOR_TIMEOUT', 2]);
    assert.match(dead!.message, /did not finish record .* within 30000 ms/);
  } finally {
    await d.close();
  }
});

test('per-key order holds through retries and scrambled completion', { timeout: 20_000 }, async () => {
  const d = await driverFor(`
sources: { in: { topic: in } }
processors:
  first: { module: ./jitter.ts, input: in, ordering: key, batchSize: 8, concurrency: 6, config: { failEvery: 7 }, retry: { attempts: 2, initialDelay: 2s } }
  second: { module: ./jitter.ts, input: first, ordering: key, batchSize: 8, concurrency: 6 }
sinks: { out: { topic: out, input: second } }
`, { hangAfterMs: 5_000 }); // the processors really sleep (0-3 ms): never mistake that for a hang on a loaded machine
  try {
    const inputs = Array.from({ length: 200 }, (_, i) => ({ key: `k${(i * 31) % 9}`, value: { seq: i } }));
    await d.pipe('in', inputs);
    const out = d.output('out');
    assert.equal(out.length, inputs.length);
    for (let k = 0; k < 9; k++) {
      const key = `k${k}`;
      assert.deepEqual(out.filter((r) => r.key === key).map((r) => (r.value as { seq: number }).seq),
        inputs.filter((i) => i.key === key).map((i) => i.value.seq), `order of ${key}`);
    }
    assert.equal(d.stats().processors.first!.retries, Math.ceil(200 / 7));
  } finally {
    await d.close();
  }
});

test('windows close when stream time advances; a late record is dead-lettered; the store is readable', { timeout: 10_000 }, async () => {
  const d = await driverFor(`
sources: { in: { topic: in } }
processors:
  sums: { module: ./state-windows.ts, input: in, stores: [sums], ordering: key, config: { late: dlq } }
sinks: { closed: { topic: closed, input: sums } }
stores: { sums: {} }
`);
  try {
    await d.pipe('in', [{ key: 'a', value: { ts: 1_000, amount: 2 } }, { key: 'a', value: { ts: 30_000, amount: 3 } }]);
    assert.deepEqual(d.output('closed'), [], 'window [0, 60 s) is still open');
    assert.deepEqual(d.store('sums').filter((e) => !e.key.endsWith('~stream-time')).map((e) => e.value), [5]);
    // Stream time passes 60 s + 5 s grace: the first window closes.
    await d.pipe('in', { key: 'a', value: { ts: 66_000, amount: 1 } });
    assert.deepEqual(d.output('closed').map((r) => (r.value as { value: number }).value), [5]);
    // An event from the closed window is late.
    await d.pipe('in', { key: 'a', value: { ts: 2_000, amount: 9 } });
    const [late] = d.deadLetters();
    assert.equal(late!.code, 'LATE_RECORD');
    assert.equal(late!.processor, 'sums');
    assert.throws(() => d.store('nope'), /unknown state store "nope"/);
  } finally {
    await d.close();
  }
});

test('an output that cannot cross threads fails only its record (the wire encoding is exercised)', { timeout: 10_000 }, async () => {
  const d = await driverFor(`
sources: { in: { topic: in } }
processors:
  bad: { module: ./bad-output.ts, input: in }
  echo: { module: ./echo.js, input: bad, fuse: false }
sinks: { out: { topic: out, input: echo } }
`);
  try {
    // echo runs in a stage group of its own, so bad's outputs cross threads (fused, a function would stay in the worker).
    await d.pipe('in', [{ value: { n: 1 } }, { value: { n: 2, fn: true } }, { value: { n: 3, big: true } }]);
    assert.deepEqual(d.output('out').map((r) => r.value), [{ n: 1 }]);
    assert.deepEqual(d.deadLetters().map((x) => [x.processor, x.code]).sort(), [['bad', 'SERIALIZATION_ERROR'], ['echo', 'SERIALIZATION_ERROR']]);
  } finally {
    await d.close();
  }
});

test('bad input to the driver is refused with a clear error', { timeout: 10_000 }, async () => {
  const d = await driverFor(`
sources: { lines: { topic: lines, format: text, serializer: string } }
processors: { echo: { module: ./echo.js, input: lines } }
sinks: { out: { topic: out, input: echo, format: text, serializer: string } }
`);
  try {
    await assert.rejects(d.pipe('lines', { value: 'x', key: 'k' }), /reads plain-text entries, which carry no key/);
    await assert.rejects(d.pipe('nope', { value: 'x' }), /unknown source "nope"; the topology has: lines/);
    await d.pipe('lines', [{ value: 'hello' }, { value: 'wörld' }]);
    assert.deepEqual(d.output('out').map((r) => r.value), ['hello', 'wörld']);
    await d.pipeEntries('lines', ['ws1:not-base64!']);
    assert.equal(d.deadLetters()[0]!.processor, '(decode)');
  } finally {
    await d.close();
  }
});

test('with journalDir the driver keeps a real journal, and a second driver on it starts clean once the first finished', { timeout: 10_000 }, async () => {
  const { mkdtemp, readdir, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(join(tmpdir(), 'walrus-stream-driver-journal-'));
  const yaml = `
sources: { in: { topic: in } }
processors: { echo: { module: ./echo.js, input: in } }
sinks: { out: { topic: out, input: echo } }
`;
  try {
    const first = await driverFor(yaml, { journalDir: dir });
    await first.pipe('in', [{ value: 1 }, { value: 2 }]);
    assert.deepEqual(first.output('out').map((r) => r.value), [1, 2]);
    await first.close();
    assert.ok((await readdir(dir)).length > 0, 'journal files were written');
    const second = await driverFor(yaml, { journalDir: dir });
    await second.settle();
    assert.equal(second.stats().recovered, 0, 'everything was released');
    assert.deepEqual(second.output('out'), []);
    await second.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
