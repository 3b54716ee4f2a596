import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../helpers/cli-in-process.js';
import { startTcpPeer } from '../helpers/tcp-peer.js';

const BIN = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function topology(dir: string, app: string, cluster = ''): string {
  return `
app: ${app}
${cluster}
stateDir: ${JSON.stringify(join(dir, 'state'))}
workers: 1
sources:
  in: { topic: in }
processors:
  double: { module: ${JSON.stringify(fileURLToPath(new URL('../fixtures/processors/double.ts', import.meta.url)))}, input: in }
sinks:
  out: { topic: out, input: double }
observability: { logLevel: silent }
`;
}

test('a node nobody listens on: run (with and without --until-idle) and produce fail fast, exit 3, naming the node and what to do', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-unreachable-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const address = `127.0.0.1:${await closedPort()}`;
  const file = join(dir, 'topology.yaml');
  await writeFile(file, topology(dir, 'unreachable'));
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

test('a node that accepts connections but never answers: run warns within seconds, naming the node, what to check and the options', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-silent-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const peer = await startTcpPeer(); // takes every connection, reads nothing, answers nothing
  t.after(() => peer.close());
  const file = join(dir, 'topology.yaml');
  await writeFile(file, topology(dir, 'silent'));
  const started = performance.now();
  // A real process, so its stderr can be watched while it waits (the run itself fails only after its retries).
  const run = spawn(process.execPath, [BIN, 'run', file, '--nodes', peer.address, '--until-idle', '--progress-interval', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  t.after(() => { if (run.exitCode === null) run.kill('SIGKILL'); });
  let stderr = '';
  // Before: nothing at all for ~40 s (4 × requestTimeout, then REQUEST_TIMEOUT). Generous for a loaded machine.
  const warned = await new Promise<number | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), 15_000);
    run.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (/has not answered.*\n/.test(stderr)) { clearTimeout(timer); resolve(performance.now() - started); }
    });
  });
  t.diagnostic(`warned after ${warned === undefined ? 'more than 15 s' : `${Math.round(warned)} ms`} (logLevel silent)`);
  assert.ok(warned !== undefined, `no warning within 15 s; stderr: ${stderr}`);
  const address = peer.address.replace(/\./g, '\\.');
  assert.match(stderr, new RegExp(`walrus-stream run: warning: node ${address} accepted the connection but has not answered for \\d+\\.\\d s`), stderr);
  assert.match(stderr, /each request waits up to cluster\.requestTimeout \(10\.0 s\), then is retried/);
  assert.match(stderr, new RegExp(`Check that a Walrus node listens at ${address} and is not stopped, hung or overloaded \\(the address comes from --nodes or cluster\\.nodes\\)`));
  assert.equal(run.exitCode, null, 'still waiting for the node');
  run.kill('SIGKILL');
  await new Promise((resolve) => run.once('exit', resolve));

  // When it gives up (here after 4 × 1 s), the error says the same.
  await writeFile(file, topology(dir, 'silent', 'cluster: { requestTimeout: 1s }'));
  const { code, stderr: failed } = await runCli(['run', file, '--nodes', peer.address, '--until-idle']);
  assert.equal(code, 3, failed);
  assert.match(failed, new RegExp(`REQUEST_TIMEOUT: .* got no reply from node ${address} within \\d+ ms`), failed);
  assert.match(failed, /The node accepted the connection but did not answer \(for run, cluster\.requestTimeout sets how long each request waits\): check that a Walrus node listens at that address and is not stopped, hung or overloaded, or give the right address: --nodes/);
});
