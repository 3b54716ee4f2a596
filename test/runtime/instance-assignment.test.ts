import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { checkAssignment, resolveAssignment } from '../../src/runtime/pipeline/instance-assignment.js';
import { loadTopologyText } from '../../src/topology/index.js';
import { WalrusError } from '../../src/errors/index.js';

const invalid = (pattern: RegExp) => (e: unknown) => e instanceof WalrusError && e.code === 'CONFIG_INVALID' && pattern.test(e.message);

test('the instance comes from --instance, else a StatefulSet ordinal in the hostname; none without --instances', () => {
  assert.equal(resolveAssignment({ instance: '1' }), undefined);
  assert.deepEqual(resolveAssignment({ instance: '2', instances: '3' }), { instance: 2, instances: 3 });
  assert.deepEqual(resolveAssignment({ instances: '3', hostname: 'orders-app-1' }), { instance: 1, instances: 3 });
  assert.deepEqual(resolveAssignment({ instance: '0', instances: '3', hostname: 'orders-app-1' }), { instance: 0, instances: 3 }, 'the flag wins');
  assert.throws(() => resolveAssignment({ instances: '3', hostname: 'laptop' }), invalid(/needs this instance's index: pass --instance <0\.\.2>/));
  assert.throws(() => resolveAssignment({ instance: '3', instances: '3' }), invalid(/from 0 to 2 with --instances 3, got "3"/));
  assert.throws(() => resolveAssignment({ instance: 'a', instances: '2' }), invalid(/got "a"/));
  assert.throws(() => resolveAssignment({ instance: '0', instances: '0' }), invalid(/whole number ≥ 1/));
});

async function topology(extra: { rekey?: boolean; sourceParts?: number; storeParts?: number }) {
  const dir = fileURLToPath(new URL('../fixtures/processors/', import.meta.url));
  const { topology: t } = await loadTopologyText(`
app: a
sources:
  in: { topic: in, partitions: ${extra.sourceParts ?? 4} }
processors:
  parse: { module: ./pid-tag.ts, input: in, rekey: ${extra.rekey ?? false} }
  count: { module: ./state-count.ts, input: parse, ordering: key, stores: [totals] }
stores:
  totals: { partitions: ${extra.storeParts ?? 4} }
`, `${dir}topology.yaml`, { env: {} });
  return t;
}

test('a stateful topology runs as several instances only when its stores are partitioned like its sources, or a re-key goes through a repartition topic', async () => {
  checkAssignment(await topology({}), { instance: 0, instances: 2 });
  checkAssignment(await topology({ rekey: true }), { instance: 1, instances: 2 });
  // The repartition topic is partitioned like the stores, whatever the source.
  checkAssignment(await topology({ rekey: true, sourceParts: 1 }), { instance: 1, instances: 2 });
  checkAssignment(await topology({ storeParts: 1 }), undefined);
  checkAssignment(await topology({ storeParts: 1 }), { instance: 0, instances: 1 });
});

test('store partitions unlike the source, re-keys and unpartitioned sources are refused, saying what to do', async () => {
  const mismatched = await topology({ storeParts: 2 });
  assert.throws(() => checkAssignment(mismatched, { instance: 0, instances: 2 }), invalid(/store "totals" has partitions: 2 while its source "in" has 4; .*set stores\.totals\.partitions: 4/));
  const rekeyed = await topology({ rekey: true, sourceParts: 1, storeParts: 1 });
  assert.throws(() => checkAssignment(rekeyed, { instance: 1, instances: 2 }), invalid(/"parse" re-keys its records before it \(rekey: true\) and nothing on the way is partitioned.*give the stores of "count" "partitions: n"/));
  const shared = await topology({ sourceParts: 1, storeParts: 1 });
  assert.throws(() => checkAssignment(shared, { instance: 1, instances: 2 }), invalid(/its source "in" \(topic in\) is not partitioned/));
});
