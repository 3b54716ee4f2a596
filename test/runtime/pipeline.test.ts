import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { harness, type Harness } from './harness.js';

let h: Harness;
before(async () => { h = await harness(); });
after(() => h.close());

const topology = (body: string) => `
app: t
stateDir: \${STATE_DIR}
workers: 2
sources:
  in: { topic: in, poll: { minInterval: 1ms, maxInterval: 20ms } }
${body}`;

test('N records through a TypeScript processor in worker threads give exactly the expected outputs', async () => {
  const n = 500;
  await h.produce('in', Array.from({ length: n }, (_, i) => ({ value: { n: i, drop: i % 10 === 0 }, key: `k${i % 7}` })), 25);
  const summary = await h.run(topology(`
processors:
  double: { module: ./double.ts, input: in, batchSize: 16 }
sinks:
  out: { topic: out, input: double }
`));
  const out = await h.drain('out');
  const expected = Array.from({ length: n }, (_, i) => i).filter((i) => i % 10 !== 0).map((i) => i * 2);
  assert.deepEqual(out.map((r) => (r.value as { n: number }).n).sort((a, b) => a - b), expected);
  assert.equal(new Set(out.map((r) => r.id)).size, out.length, 'output ids are unique');
  assert.equal(summary.sources.in.records, n);
  assert.equal(summary.processors.double.processed, n);
  assert.equal(summary.processors.double.dropped, n / 10);
  assert.equal(summary.sinks.out.records, expected.length);
  assert.equal(summary.inFlight, 0);
});

test('retry-then-succeed, NonRetriableError and exhausted retries: dead letters carry metadata and the original bytes', async () => {
  await h.client.register('in');
  const { encodeRecords } = await import('../../src/codec/index.js');
  const entries = [
    encodeRecords([{ value: Buffer.from(JSON.stringify({ n: 1 })), key: 'a' }]),
    encodeRecords([{ value: Buffer.from(JSON.stringify({ n: 2, failTimes: 2 })), key: 'b' }]),
    encodeRecords([{ value: Buffer.from(JSON.stringify({ n: 3, fatal: true })), key: 'c' }]),
    encodeRecords([{ value: Buffer.from(JSON.stringify({ n: 4, failTimes: 9 })), key: 'd' }]),
  ];
  await h.client.putMany('in', entries);
  const summary = await h.run(topology(`
processors:
  flaky:
    module: ./flaky.ts
    input: in
    retry: { attempts: 3, initialDelay: 5ms, maxDelay: 20ms }
    deadLetter: in.failed
sinks:
  ok: { topic: ok, input: flaky }
`));
  const ok = await h.drain('ok');
  assert.deepEqual(ok.map((r) => r.value).sort((a, b) => (a as { n: number }).n - (b as { n: number }).n),
    [{ n: 1, attempt: 1 }, { n: 2, attempt: 3 }]);
  const { parseDeadLetter } = await import('../../src/runtime/coordinator/dead-letter.js');
  const dead = (await h.drainEntries('in.failed')).map(parseDeadLetter).sort((a, b) => a.key!.localeCompare(b.key!));
  assert.equal(dead.length, 2);
  const [fatal, exhausted] = dead;
  assert.equal(fatal.error.code, 'NON_RETRIABLE');
  assert.equal(fatal.error.message, 'record 3 is invalid');
  assert.equal(fatal.attempts, 1);
  assert.equal(fatal.original, entries[2], 'the original entry bytes, exactly');
  assert.equal(exhausted.error.message, 'transient failure 3');
  assert.equal(exhausted.attempts, 3);
  assert.equal(exhausted.original, entries[3]);
  assert.ok(Date.parse(exhausted.lastFailureAt) >= Date.parse(exhausted.firstFailureAt));
  for (const d of dead) {
    assert.equal(d.processor, 'flaky');
    assert.equal(d.sourceTopic, 'in');
    assert.match(d.recordId, /^[A-Za-z0-9_-]{22}$/);
    assert.match(d.error.stack ?? '', /flaky\.ts/);
  }
  assert.equal(summary.processors.flaky.retries, 2 + 2);
  assert.equal(summary.processors.flaky.deadLettered, 2);
  assert.equal(summary.deadLetters['in.failed'], 2);
});

test('a worker thread that dies is replaced; its batch is retried and every record still comes out once', async () => {
  await h.produce('in', Array.from({ length: 20 }, (_, i) => ({ value: { n: i, crash: i === 7 } })), 20);
  const summary = await h.run(topology(`
processors:
  crash: { module: ./crash.ts, input: in, batchSize: 20, retry: { attempts: 3, initialDelay: 5ms, maxDelay: 20ms } }
sinks:
  out: { topic: out, input: crash }
`));
  const out = (await h.drain('out')).map((r) => r.value as { n: number; attempt: number }).sort((a, b) => a.n - b.n);
  assert.deepEqual(out.map((v) => v.n), Array.from({ length: 20 }, (_, i) => i));
  assert.equal(out[7].attempt, 2);
  assert.equal(summary.processors.crash.deadLettered, 0);
  assert.equal(summary.processors.crash.processed, 20);
});

test('a record that kills its worker every time is isolated and dead-lettered; its batch neighbours succeed', async () => {
  await h.produce('in', Array.from({ length: 12 }, (_, i) => ({ value: { n: i, crash: i === 5 ? 'always' : false } })), 12);
  const summary = await h.run(topology(`
processors:
  crash: { module: ./crash.ts, input: in, batchSize: 12, retry: { attempts: 2, initialDelay: 5ms, maxDelay: 20ms }, deadLetter: in.crashed }
sinks:
  out: { topic: out, input: crash }
`));
  const out = (await h.drain('out')).map((r) => (r.value as { n: number }).n).sort((a, b) => a - b);
  assert.deepEqual(out, [0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11]);
  const { parseDeadLetter } = await import('../../src/runtime/coordinator/dead-letter.js');
  const dead = (await h.drainEntries('in.crashed')).map(parseDeadLetter);
  assert.equal(dead.length, 1);
  assert.equal(dead[0].error.code, 'WORKER_CRASHED');
  assert.equal(dead[0].attempts, 2);
  assert.equal(summary.processors.crash.deadLettered, 1);
});

test('an entry that is not a valid envelope is dead-lettered as (decode) with its bytes; a value that is not JSON fails alone', async () => {
  await h.client.register('in');
  const corrupt = 'ws1:this is not base64url msgpack';
  await h.client.putMany('in', [corrupt, '{"n": 3}', 'not json at all']);
  const summary = await h.run(topology(`
processors:
  double: { module: ./double.ts, input: in, deadLetter: in.bad }
sinks:
  out: { topic: out, input: double }
`));
  assert.deepEqual((await h.drain('out')).map((r) => r.value), [{ n: 6 }]);
  const { parseDeadLetter } = await import('../../src/runtime/coordinator/dead-letter.js');
  const dead = (await h.drainEntries('in.bad')).map(parseDeadLetter).sort((a, b) => a.processor.localeCompare(b.processor));
  assert.deepEqual(dead.map((d) => [d.processor, d.error.code, d.original]), [
    ['(decode)', 'DESERIALIZATION_ERROR', corrupt],
    ['double', 'DESERIALIZATION_ERROR', 'not json at all'],
  ]);
  assert.equal(summary.processors['(decode)'].deadLettered, 1);
});

test('against a stock node (no batch commands) the pipeline falls back to pipelined GET/PUT with the same result', async () => {
  const { startTestBroker } = await import('../helpers/broker.js');
  const { WalrusClient } = await import('../../src/client/index.js');
  const { encodeRecords, decodeEntry } = await import('../../src/codec/index.js');
  const stock = await startTestBroker({ compat: 'stock' });
  const client = new WalrusClient({ nodes: [stock.address] });
  try {
    await client.register('in');
    await client.putMany('in', Array.from({ length: 30 }, (_, i) => encodeRecords([{ value: Buffer.from(JSON.stringify({ n: i })) }])));
    const summary = await h.run(topology(`
processors:
  double: { module: ./double.ts, input: in }
sinks:
  out: { topic: out, input: double }
`), { nodes: [stock.address] });
    assert.equal(client.capabilities().batchGet, false);
    const values: number[] = [];
    for (let got = await client.getMany('out', 100); got.length > 0; got = await client.getMany('out', 100)) {
      for (const e of got) for (const r of decodeEntry(e)) values.push((JSON.parse(Buffer.from(r.value).toString()) as { n: number }).n);
    }
    assert.deepEqual(values.sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => i * 2));
    assert.equal(summary.processors.double.processed, 30);
  } finally {
    await client.close();
    await stock.close();
  }
});
