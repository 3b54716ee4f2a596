import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { createTestDriver } from '../../src/testing/index.js';
import { loadTopologyText } from '../../src/topology/index.js';
import { partitionOfKey } from '../../src/codec/partitioning.js';
import { decodeEntry } from '../../src/codec/index.js';

const processors = fileURLToPath(new URL('../fixtures/processors/', import.meta.url));

test('a partitioned sink: the worker packs per partition, each key lands in fnv1a32(key) % n, and output() reads all partitions', { timeout: 10_000 }, async () => {
  const { topology } = await loadTopologyText(`app: t
sources: { nums: { topic: nums } }
processors: { echo: { module: ./echo.js, input: nums } }
sinks:
  out: { topic: out, partitions: 3, input: echo }
`, join(processors, 'topology.yaml'), { env: {} });
  const d = await createTestDriver(topology, { logLevel: 'silent' });
  try {
    const records = Array.from({ length: 30 }, (_, i) => ({ value: i, key: `k${i % 7}` }));
    await d.pipe('nums', records);
    assert.deepEqual(d.output('out').map((r) => r.value).sort((a, b) => (a as number) - (b as number)), records.map((r) => r.value));
    let total = 0;
    for (let p = 0; p < 3; p += 1) {
      for (const entry of d.topicEntries(`out.p${p}`)) {
        for (const r of decodeEntry(Buffer.from(entry, 'latin1'), { topic: `out.p${p}` })) {
          assert.equal(partitionOfKey(r.key!, 3), p, `key ${r.key} in out.p${p}`);
          total += 1;
        }
      }
    }
    assert.equal(total, records.length);
    assert.deepEqual(d.topicEntries('out'), [], 'nothing goes to the logical topic');
    // Per key, order is kept.
    for (let k = 0; k < 7; k += 1) {
      const seq = d.output('out').filter((r) => r.key === `k${k}`).map((r) => r.value as number);
      assert.deepEqual(seq, [...seq].sort((a, b) => a - b));
    }
  } finally {
    await d.close();
  }
});
