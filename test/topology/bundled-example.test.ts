import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { loadTopology } from '../../src/topology/index.js';

// The example shipped at the top of the repository is what users copy first:
// it must point editors at the schema and validate cleanly, modules included.
const file = fileURLToPath(new URL('../../topology.yaml', import.meta.url));

test('the bundled topology.yaml carries the yaml-language-server schema comment', async () => {
  const firstLine = (await readFile(file, 'utf8')).split('\n')[0];
  assert.equal(firstLine, '# yaml-language-server: $schema=./schema/topology.schema.json');
});

test('the bundled topology.yaml validates with its modules, without warnings', async () => {
  const { topology, warnings } = await loadTopology(file, { env: {}, loadModules: true });
  assert.deepEqual(warnings, []);
  assert.ok(Object.keys(topology.processors).length > 0);
});
