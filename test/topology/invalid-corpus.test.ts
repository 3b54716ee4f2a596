import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WalrusError } from '../../src/errors/index.js';
import { loadTopology, type Diagnostic } from '../../src/topology/index.js';

// Each fixture states what it must produce in its header:
//   # expect: LINE:COL: error|warning: exact message      (all of them, in order)
//   # env: NAME=value                                     (interpolation input)
//   # loadModules: true                                   (import the modules, as `validate` does)
// `<dir>` in a message stands for the fixture directory.
const dir = fileURLToPath(new URL('../fixtures/topologies/invalid/', import.meta.url)).replace(/\/$/, '');
const fixtures = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();

test('the invalid corpus has at least 30 fixtures', () => {
  assert.ok(fixtures.length >= 30, `only ${fixtures.length} fixtures`);
});

for (const name of fixtures) {
  test(`invalid/${name}`, async () => {
    const file = join(dir, name);
    const text = readFileSync(file, 'utf8');
    const expected = [...text.matchAll(/^# expect: (.*)$/gm)].map((m) => m[1]!);
    const env = Object.fromEntries([...text.matchAll(/^# env: (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
    assert.ok(expected.length > 0, 'the fixture states no expected diagnostics');
    const error = await loadTopology(file, { env, loadModules: /^# loadModules: true$/m.test(text) }).then(
      () => assert.fail('the topology loaded but must be rejected'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof WalrusError, String(error));
    assert.equal(error.code, 'TOPOLOGY_INVALID');
    const diagnostics = error.context.diagnostics as Diagnostic[];
    const actual = diagnostics.map((d) => `${d.line}:${d.col}: ${d.severity}: ${d.message.replaceAll(dir, '<dir>')}`);
    assert.deepEqual(actual, expected);
    for (const d of diagnostics) assert.equal(d.file, file);
    // The error message is the compiler-style listing, one line per diagnostic.
    assert.ok(error.message.includes(`${file}:${diagnostics[0]!.line}:${diagnostics[0]!.col}: ${diagnostics[0]!.severity}: `));
  });
}
