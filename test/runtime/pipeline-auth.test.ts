import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { WalrusClient } from '../../src/client/index.js';
import { MetricsHub } from '../../src/observability/index.js';
import { startPipelineServer } from '../../src/runtime/pipeline/instrumentation-wiring.js';
import { startPipeline } from '../../src/runtime/pipeline/pipeline.js';
import { loadTopologyText } from '../../src/topology/index.js';
import type { WalrusError } from '../../src/errors/index.js';
import { makeTestPki, tempDir, writeTestUsers } from '../helpers/auth.js';
import { startTestBroker } from '../helpers/broker.js';

/** A pipeline against a node with users and TLS: cluster.auth / cluster.tls from the topology. */
const processors = fileURLToPath(new URL('../fixtures/processors/', import.meta.url));
const PASSWORD = 'pipe line pw';

function yaml(): string {
  return `
app: guarded
stateDir: \${STATE_DIR}
workers: 1
cluster:
  auth:
    username: pipeline
    password: \${WALRUS_PASSWORD}
  tls:
    ca: \${CA_FILE}
sources:
  in: { topic: in, format: text, serializer: string, poll: { minInterval: 5ms, maxInterval: 20ms } }
processors:
  echo: { module: ./echo.js, input: in }
sinks:
  out: { topic: out, input: echo, format: text, serializer: string }
`;
}

test('a pipeline logs in over TLS with cluster.auth; readiness asks the node through the client; a wrong password stops it at start', async () => {
  const dir = await tempDir();
  const pki = await makeTestPki(dir.dir);
  const node = await startTestBroker({ users: await writeTestUsers(dir.dir, { pipeline: PASSWORD }), tls: { cert: pki.cert, key: pki.key }, authFailureDelayMs: 0 });
  const env = { STATE_DIR: join(dir.dir, 'state'), WALRUS_PASSWORD: PASSWORD, CA_FILE: join(dir.dir, 'ca.crt') };
  const client = new WalrusClient({ nodes: [node.address], auth: { username: 'pipeline', password: PASSWORD }, tls: { ca: pki.ca } });
  try {
    await client.register('in');
    await client.putMany('in', ['a', 'b', 'c']);
    const { topology } = await loadTopologyText(yaml(), join(processors, 'topology.yaml'), { env });
    const hub = new MetricsHub({ processMetrics: false });
    const pipeline = await startPipeline(topology, { nodes: [node.address], metrics: hub });
    const server = await startPipelineServer(hub, { client: pipeline.client, pool: pipeline.pool, nodes: () => pipeline.nodes }, { host: '127.0.0.1', port: 0 });
    try {
      const ready = await fetch(`http://${server.address}/readyz`);
      assert.equal(ready.status, 200, await ready.text());
      const deadline = Date.now() + 10_000;
      const out: string[] = [];
      while (out.length < 3 && Date.now() < deadline) {
        out.push(...(await client.getMany('out', 10)).map(String));
        if (out.length < 3) await new Promise((r) => setTimeout(r, 20));
      }
      assert.deepEqual(out.sort(), ['a', 'b', 'c']);
    } finally {
      pipeline.stop({ abortAfterMs: 0 });
      await pipeline.done;
      await server.close();
    }

    const wrong = await loadTopologyText(yaml(), join(processors, 'topology.yaml'), { env: { ...env, WALRUS_PASSWORD: 'nope-nope' } });
    await assert.rejects(startPipeline(wrong.topology, { nodes: [node.address] }), (error: WalrusError) => error.code === 'AUTH_FAILED' && !error.message.includes('nope-nope'));
  } finally {
    await client.close();
    await node.close();
    await dir.remove();
  }
});
