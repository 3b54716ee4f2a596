import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withTempDir } from '../helpers/temp-dir.js';

// The embedded node failing to listen (its port taken) is NETWORK_ERROR, as
// a node that does not answer is: the CLI followed it with "Check that the
// node is running and reachable at that address (`walrus-stream broker`
// starts one)" — advice to start a node, when a node could not start because
// something else holds the address.

const BIN = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));

async function takenPort(): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer((socket) => socket.destroy()).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return { port: (server.address() as net.AddressInfo).port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

test('broker --port <taken> and run with cluster.embedded.port <taken>: exit 3, the address and where to change it, not "check that the node is running"', { timeout: 60_000 }, async () => {
  const taken = await takenPort();
  try {
    await withTempDir('walrus-cli-listen-', async (dir) => {
      const broker = spawnSync(process.execPath, [BIN, 'broker', '--port', String(taken.port), '--data-dir', join(dir, 'data')], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(broker.status, 3, broker.stderr);
      assert.equal(broker.stderr, `walrus-stream broker: NETWORK_ERROR: The broker could not listen on 127.0.0.1:${taken.port}: EADDRINUSE. ` +
        'Another process is listening there: choose another port, or port 0 for any free one.\nGive the node another address: --port (0 picks a free one) or --host.\n');

      await writeFile(join(dir, 'p.mjs'), "export default { [Symbol.for('walrus-stream.processor')]: true, process: (r) => r.value };\n");
      await writeFile(join(dir, 'topology.yaml'), `app: a\nstateDir: ./state\nworkers: 1\ncluster:\n  embedded: { port: ${taken.port}, dataDir: ./node }\n` +
        'sources:\n  s: { topic: in }\nprocessors:\n  p: { module: ./p.mjs, input: s }\nsinks:\n  o: { topic: out, input: p }\nobservability: { logLevel: silent }\n');
      const run = spawnSync(process.execPath, [BIN, 'run', '--until-idle', '--metrics-address', 'false'], { encoding: 'utf8', cwd: dir, timeout: 30_000 });
      assert.equal(run.status, 3, run.stderr);
      assert.match(run.stderr, new RegExp(`walrus-stream run: NETWORK_ERROR: The broker could not listen on 127\\.0\\.0\\.1:${taken.port}: EADDRINUSE\\..*\\n` +
        'Give the embedded node another address in the topology: cluster\\.embedded\\.port \\(0, the default, picks a free one\\) or cluster\\.embedded\\.host; or run on existing nodes with --nodes\\.\\n'));
      assert.doesNotMatch(run.stderr, /Check that the node is running/);
    });
  } finally {
    await taken.close();
  }
});
