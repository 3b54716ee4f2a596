import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../helpers/cli-in-process.js';

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test('a node nobody listens on: run (with and without --until-idle) and produce fail fast, exit 3, naming the node and what to do', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-unreachable-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const address = `127.0.0.1:${await closedPort()}`;
  const file = join(dir, 'topology.yaml');
  await writeFile(file, `
app: unreachable
stateDir: ${JSON.stringify(join(dir, 'state'))}
workers: 1
sources:
  in: { topic: in }
processors:
  double: { module: ${JSON.stringify(fileURLToPath(new URL('../fixtures/processors/double.ts', import.meta.url)))}, input: in }
sinks:
  out: { topic: out, input: double }
observability: { logLevel: silent }
`);
  for (const args of [['run', file, '--nodes', address, '--until-idle'], ['run', file, '--nodes', address], ['produce', 'in', '--nodes', address]]) {
    const started = Date.now();
    const { code, stderr } = await runCli(args, { stdin: '{"n":1}\n' });
    const ms = Date.now() - started;
    assert.equal(code, 3, `${args[0]}: ${stderr}`);
    assert.match(stderr, new RegExp(`CONNECTION_REFUSED: .*${address.replace(/\./g, '\\.')}`), stderr);
    assert.match(stderr, /Check that the node is running and reachable at that address \(`walrus-stream broker` starts one\)/);
    assert.ok(ms < 15_000, `${args.join(' ')} took ${ms} ms to give up`);
  }
});
