import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTopology, loadTopologyText } from '../../src/topology/index.js';
import { planStageGroups } from '../../src/topology/stage-groups.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const FILE = join(root, 'test/fixtures/processors/groups.yaml');

async function groups(processors: string, extra = '') {
  const { topology } = await loadTopologyText(`
app: g
sources:
  in: { topic: in }
  other: { topic: other }
processors:
${processors}
${extra}
`, FILE, { env: {} });
  return planStageGroups(topology).map((g) => `${g.members.join('+')} ${g.ordering} (${g.reason})`);
}

const p = (name: string, input: string, more = '') => `  ${name}: { module: ./echo.js, input: ${input}${more} }`;

test('the bundled example: parse alone (it re-keys), then enrich → route, revenue in key ordering', async () => {
  const { topology } = await loadTopology(join(root, 'topology.yaml'), { env: {} });
  assert.deepEqual(planStageGroups(topology).map((g) => [g.members, g.ordering, g.reason]), [
    [['parse'], 'unordered', 'reads a source'],
    [['enrich', 'route', 'revenue'], 'key', 're-keyed input (repartition)'],
  ]);
});

test('a chain fuses into one group; key ordering anywhere makes the group hold the key', async () => {
  assert.deepEqual(await groups([p('a', 'in'), p('b', 'a'), p('c', 'b', ', ordering: key')].join('\n')), ['a+b+c key (reads a source)']);
  assert.deepEqual(await groups([p('a', 'in'), p('b', 'a')].join('\n')), ['a+b unordered (reads a source)']);
});

test('a group ends before a keyed step fed through a re-key, not before an unordered one', async () => {
  assert.deepEqual(await groups([p('a', 'in', ', rekey: true'), p('b', 'a'), p('c', 'b', ', ordering: key'), p('d', 'c')].join('\n')),
    ['a+b unordered (reads a source)', 'c+d key (re-keyed input (repartition))']);
  // The re-key is what counts, not the distance: a re-key after the keyed step starts nothing.
  assert.deepEqual(await groups([p('a', 'in', ', ordering: key'), p('b', 'a', ', rekey: true'), p('c', 'b')].join('\n')), ['a+b+c key (reads a source)']);
});

test('fuse: false, several inputs, a source input and a shared store start groups', async () => {
  assert.deepEqual(await groups([p('a', 'in'), p('b', 'a', ', fuse: false'), p('c', 'b')].join('\n')),
    ['a unordered (reads a source)', 'b unordered (fuse: false)', 'c unordered (its input runs alone)']);
  assert.deepEqual(await groups([p('a', 'in'), p('b', 'other'), p('c', '[a, b]')].join('\n')),
    ['a unordered (reads a source)', 'b unordered (reads a source)', 'c unordered (reads several inputs)']);
  assert.deepEqual(await groups([p('a', 'in'), p('b', 'a', ', ordering: key, stores: [s]'), p('c', 'in', ', ordering: key, stores: [s]'), p('d', 'b')].join('\n'), 'stores:\n  s: {}'),
    ['a unordered (reads a source)', 'b key (shares a state store)', 'c key (reads a source)', 'd unordered (its input runs alone)']);
});

test('fan-out stays in one group: every reader of a member joins it', async () => {
  assert.deepEqual(await groups([p('a', 'in', ', outputs: [x, y]'), p('b', 'a.x'), p('c', 'a.y', ', ordering: key'), p('d', 'c')].join('\n')), ['a+b+c+d key (reads a source)']);
});
