import { test } from 'node:test';
import assert from 'node:assert/strict';
import { partitionTopics } from '../../src/codec/partitioning.js';
import { harness } from './harness.js';

// Plain-text lines with the same bytes get the same record id. Across a repartition topic, records of two
// such lines are two records, not a re-sent copy: each is counted (before, all but one were dropped as
// "duplicates", with no crash and no word).
test('equal plain-text lines through a re-key and a repartition topic are each counted once', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const topics = partitionTopics('in', 4);
  for (const topic of topics) await h.client.register(topic);
  // Every line twice or three times, some in one partition, some spread over several.
  await h.client.putMany(topics[0]!, ['alice,10', 'alice,10', 'bob,5']);
  await h.client.putMany(topics[1]!, ['alice,10', 'bob,5']);
  await h.client.putMany(topics[2]!, ['carol,1', 'carol,1']);
  const summary = await h.run(`
app: equal-lines
stateDir: \${STATE_DIR}
workers: 1
sources:
  in: { topic: in, format: text, serializer: string, partitions: 4 }
processors:
  bykey: { module: ./line-key.ts, input: in, rekey: true }
  cnt: { input: bykey, aggregate: { store: cnt, op: count } }
sinks:
  out: { topic: out, input: cnt }
stores:
  cnt: { partitions: 4 }
`);
  assert.equal(summary.processors.bykey?.processed, 7);
  assert.equal(summary.processors.cnt?.processed, 7, JSON.stringify(summary));
  const finals = new Map<string, number>();
  for (const r of await h.drain('out')) finals.set(r.key!, Math.max(finals.get(r.key!) ?? 0, (r.value as { count: number }).count));
  assert.deepEqual(Object.fromEntries(finals), { alice: 3, bob: 2, carol: 2 });
});
