import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTopologyText } from '../../src/topology/index.js';
import { startPipeline } from '../../src/runtime/pipeline/pipeline.js';
import { startPipelineServer } from '../../src/runtime/pipeline/instrumentation-wiring.js';
import { MetricsHub } from '../../src/observability/index.js';
import { startTestBroker } from '../helpers/broker.js';

const fixtures = fileURLToPath(new URL('../observability/fixtures/', import.meta.url));

async function ready(address: string): Promise<{ status: number; body: { status: string; failing?: string[] } }> {
  const res = await fetch(`http://${address}/readyz`);
  return { status: res.status, body: (await res.json()) as { status: string; failing?: string[] } };
}

async function until(address: string, status: number): Promise<{ status: number; body: { status: string; failing?: string[] } }> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await ready(address);
    if (r.status === status || Date.now() > deadline) return r;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('/readyz is ready with the node up, names the node when it stops, and is ready again when it returns', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'walrus-ready-node-'));
  const stateDir = await mkdtemp(join(tmpdir(), 'walrus-ready-state-'));
  let broker = await startTestBroker({ dataDir });
  const port = broker.port;
  const { topology } = await loadTopologyText(`
app: ready
stateDir: \${STATE_DIR}
workers: 1
sources:
  in: { topic: in, poll: { minInterval: 5ms, maxInterval: 50ms } }
processors:
  p: { module: ./plus-one.ts, input: in }
sinks:
  out: { topic: out, input: p }
`, join(fixtures, 'topology.yaml'), { env: { STATE_DIR: stateDir } });
  const hub = new MetricsHub({ processMetrics: false });
  const pipeline = await startPipeline(topology, { nodes: [broker.address], metrics: hub });
  const server = await startPipelineServer(hub, { client: pipeline.client, pool: pipeline.pool, nodes: () => pipeline.nodes }, { host: '127.0.0.1', port: 0 });
  try {
    const up = await until(server.address, 200);
    assert.equal(up.status, 200, JSON.stringify(up.body));
    assert.equal(up.body.status, 'ready');

    await broker.close();
    const down = await until(server.address, 503);
    assert.equal(down.status, 503);
    assert.equal(down.body.status, 'not ready');
    assert.ok(down.body.failing?.some((f) => f.startsWith('nodes:') && f.includes(`127.0.0.1:${port}`)), JSON.stringify(down.body));

    broker = await startTestBroker({ dataDir, port });
    const back = await until(server.address, 200);
    assert.equal(back.status, 200, JSON.stringify(back.body));
  } finally {
    await server.close();
    pipeline.stop({ abortAfterMs: 0 });
    await pipeline.done.catch(() => undefined);
    await broker.close();
    await rm(dataDir, { recursive: true, force: true });
    await rm(stateDir, { recursive: true, force: true });
  }
});
