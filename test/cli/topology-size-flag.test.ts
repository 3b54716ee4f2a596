import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withTempDir } from '../helpers/temp-dir.js';

// A topology over the size limit is refused with "raise the limit with
// --max-topology-size"; graph and store (-f) read topologies too, but had no
// such flag: following the advice gave "unknown option --max-topology-size".

const BIN = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));
const cli = (args: string[], cwd: string) => spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', timeout: 30_000 });

test('graph and store -f over a topology past 256 KiB: the error names --max-topology-size, and that flag raises the limit', { timeout: 60_000 }, async () => {
  await withTempDir('walrus-cli-size-flag-', async (dir) => {
    const topology = 'app: big\nsources:\n  s: { topic: in }\nprocessors:\n  p: { module: ./p.mjs, input: s }\nsinks:\n  o: { topic: out, input: p }\n';
    await writeFile(join(dir, 'topology.yaml'), `${topology}${`# ${'x'.repeat(98)}\n`.repeat(3000)}`);
    await writeFile(join(dir, 'p.mjs'), "export default { [Symbol.for('walrus-stream.processor')]: true, process: (r) => r.value };\n");

    for (const args of [['graph'], ['store', '-f', 'topology.yaml']]) {
      const refused = cli(args, dir);
      assert.equal(refused.status, 1, refused.stderr);
      assert.match(refused.stderr, /topology\.yaml:1:1: error: the topology is 303121 bytes, over the limit of 262144 bytes .*raise the limit with --max-topology-size/);
    }
    const graph = cli(['graph', '--max-topology-size', '1MiB'], dir);
    assert.equal(graph.status, 0, graph.stderr);
    assert.match(graph.stdout, /^app big — /);
    const store = cli(['store', '-f', 'topology.yaml', '--max-topology-size', '1MiB'], dir);
    assert.equal(store.status, 0, store.stderr);
    assert.match(store.stdout, /^no state stores for app "big" in /);
    const bad = cli(['graph', '--max-topology-size', 'lots'], dir);
    assert.equal(bad.status, 2);
    assert.equal(bad.stderr, 'walrus-stream graph: --max-topology-size expects a size such as 2MiB, got "lots"\nRun `walrus-stream graph --help` for usage.\n');
  });
});
