import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_DECOMPRESSED_BYTES, decodeEntry } from '../../src/codec/index.js';
import { maxPayloadBytes } from '../../src/protocol/index.js';
import { parseDeadLetter } from '../../src/runtime/coordinator/dead-letter.js';
import { harness } from './harness.js';

// A sparse array of length 2^32 - 1 (one assignment to `length`) was walked hole by hole by the JSON check and by
// the packing for another thread: the step held its thread until the deadline terminated it, and the record was
// retried and dead-lettered as a PROCESSOR_TIMEOUT that blamed the processor's speed (a msgpack sink: ~84 s a try,
// inside msgpackr). It is refused at once: MESSAGE_TOO_LARGE for a sink (the entry limit), SERIALIZATION_ERROR across threads.
test('an output holding a huge sparse array is refused at once (naming the length and the limit), for a JSON and a msgpack sink and across threads; no thread is terminated', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  await h.produce('in', [{ value: { i: 0 } }, { value: { i: 1, sparse: true } }, { value: { i: 2 } }], 1);
  const summary = await h.run(`
app: t
stateDir: \${STATE_DIR}
workers: 1
workerPool: { timeoutGrace: 500ms }
sources:
  in: { topic: in }
processors:
  json: { module: ./sparse-array.ts, input: in, timeout: 1s, deadLetter: dead, retry: { attempts: 2, initialDelay: 1ms } }
  crossing: { module: ./sparse-array.ts, input: in, timeout: 1s, deadLetter: dead, retry: { attempts: 2, initialDelay: 1ms } }
  packed: { module: ./sparse-array.ts, input: in, timeout: 1s, deadLetter: dead, retry: { attempts: 2, initialDelay: 1ms } }
  next: { module: ./echo.js, input: crossing, fuse: false }
sinks:
  json: { topic: json, input: json }
  next: { topic: next, input: next }
  packed: { topic: packed, input: packed, serializer: msgpack }
observability: { logLevel: silent }
`);
  for (const topic of ['json', 'next']) {
    assert.deepEqual((await h.drain(topic)).map((r) => (r.value as { i: number }).i).sort(), [0, 2], topic);
  }
  assert.equal((await h.drainEntries('packed')).flatMap((e) => decodeEntry(e)).length, 2);
  const dead = (await h.drainEntries('dead')).map(parseDeadLetter).sort((a, b) => a.processor.localeCompare(b.processor));
  assert.deepEqual(dead.map((d) => [d.processor, d.error.code, d.attempts]), [['crossing', 'SERIALIZATION_ERROR', 1], ['json', 'MESSAGE_TOO_LARGE', 1], ['packed', 'MESSAGE_TOO_LARGE', 1]]);
  const limits = { crossing: MAX_DECOMPRESSED_BYTES, json: maxPayloadBytes('json'), packed: maxPayloadBytes('packed') };
  for (const d of dead) {
    assert.match(d.error.message, new RegExp(`an array of length 4294967295, which encodes to at least 4294967295 bytes, over the max entry size of ${limits[d.processor as keyof typeof limits]} bytes`));
  }
  assert.equal(summary.inFlight, 0);
});
