import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MAX_HTTP_CONNECTIONS, startObservabilityServer } from '../../src/observability/http/http-server.js';
import { startTestBroker } from '../helpers/broker.js';

/**
 * Attack: open connections to the metrics/dashboard port and never send a
 * request. The HTTP server shares its process — and its descriptor limit —
 * with the pipeline; before the fix it held every such socket (until
 * Node's 60 s header timeout), so a flood left /healthz unanswered and
 * every new file or socket of the run at EMFILE. Now it holds at most
 * MAX_HTTP_CONNECTIONS, keeps a margin below the descriptor limit, and a
 * new connection gets in by closing the idlest.
 */

const BIN = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/processors/${name}`, import.meta.url));

interface Idle { socket: Socket; closed: boolean }

async function openIdle(port: number, count: number): Promise<Idle[]> {
  const idle: Idle[] = [];
  for (let i = 0; i < count; i++) {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ port, host: '127.0.0.1' }, () => resolve(s));
      s.once('error', reject);
    });
    const item = { socket, closed: false };
    socket.on('error', () => undefined);
    socket.on('close', () => { item.closed = true; });
    idle.push(item);
  }
  return idle;
}

async function healthz(address: string): Promise<number> {
  const res = await fetch(`http://${address}/healthz`, { signal: AbortSignal.timeout(3_000) });
  await res.arrayBuffer();
  return res.status;
}

test(`the HTTP server holds at most ${MAX_HTTP_CONNECTIONS} connections: idle ones beyond are closed, /healthz still answers`, { timeout: 30_000 }, async () => {
  const server = await startObservabilityServer({ port: 0, metrics: { contentType: 'text/plain', metrics: async () => 'up 1\n' } });
  const extra = 100;
  const idle = await openIdle(server.port, MAX_HTTP_CONNECTIONS + extra).catch(async (error) => { await server.close(); throw error; });
  try {
    assert.equal(await healthz(server.address), 200);
    await new Promise((r) => setTimeout(r, 200));
    const closed = idle.filter((i) => i.closed).length;
    // The probe's own connection took one more place.
    assert.ok(closed >= extra, `${idle.length} idle sockets opened, only ${closed} closed by the server`);
    assert.ok(idle.slice(0, extra).every((i) => i.closed), 'the oldest (idlest) sockets are the ones closed');
  } finally {
    for (const i of idle) i.socket.destroy();
    await server.close();
  }
});

test('idle sockets against a run\'s metrics port under ulimit -n 256 neither take its descriptors nor silence /healthz', { timeout: 90_000 }, async (t) => {
  const node = await startTestBroker();
  const dir = await mkdtemp(join(tmpdir(), 'walrus-http-flood-'));
  t.after(async () => { await node.close(); await rm(dir, { recursive: true, force: true }); });
  const file = join(dir, 'topology.yaml');
  await writeFile(file, `
app: hf
stateDir: ${JSON.stringify(join(dir, 'state'))}
sources:
  in: { topic: hf-in }
processors:
  double: { module: ${JSON.stringify(fixture('double.ts'))}, input: in }
sinks:
  out: { topic: hf-out, input: double }
observability: { logLevel: warn }
`);
  const child = spawn('sh', ['-c', `ulimit -n 256 && exec "${process.execPath}" "${BIN}" run "${file}" --nodes ${node.address} --progress-interval 0 --metrics-address 127.0.0.1:0`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.after(async () => { if (child.exitCode === null) { child.kill('SIGKILL'); await exited; } });
  const address = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString()).slice(-8_000);
      const m = /metrics: http:\/\/([^/]+)\/metrics/.exec(stderr);
      if (m) resolve(m[1]!);
    });
    void exited.then((code) => reject(new Error(`run exited with ${code} before serving: ${stderr}`)));
  });
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  const idle = await openIdle(port, 400);
  try {
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await healthz(address), 200, `/healthz while 400 idle sockets were opened; run stderr: ${stderr}`);
    assert.ok(idle.filter((i) => i.closed).length >= 400 - MAX_HTTP_CONNECTIONS, 'the run closed idle sockets to stay below its descriptor limit');
  } finally {
    for (const i of idle) i.socket.destroy();
  }
  child.kill('SIGTERM');
  assert.equal(await exited, 143, stderr);
});
