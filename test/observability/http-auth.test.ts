import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WalrusError } from '../../src/errors/index.js';
import { startObservabilityServer } from '../../src/observability/http/http-server.js';
import { fetchPipelineStatus } from '../../src/observability/http/pipeline-status.js';
import { MetricsHub } from '../../src/observability/metrics/metrics-hub.js';

const TOKEN = 'a1b2c3d4e5f6a7b8c9d0e1f2';

async function get(address: string, path: string, authorization?: string): Promise<{ status: number; challenge: string | null; body: string }> {
  const res = await fetch(`http://${address}${path}`, { headers: authorization ? { authorization } : {} });
  return { status: res.status, challenge: res.headers.get('www-authenticate'), body: await res.text() };
}

test('/metrics beyond loopback without credentials refuses to start; --insecure starts with a warning', async () => {
  const hub = new MetricsHub({ processMetrics: false });
  for (const host of ['0.0.0.0', '::']) {
    await assert.rejects(startObservabilityServer({ host, port: 0, metrics: hub }), (error: WalrusError) => {
      assert.equal(error.code, 'CONFIG_INVALID');
      assert.match(error.message, /Refusing to start the \/metrics endpoint on .* without authentication.*--insecure/);
      return true;
    });
  }
  const open = await startObservabilityServer({ host: '0.0.0.0', port: 0, metrics: hub, insecure: true });
  try {
    assert.match(open.warnings[0]!, /\/metrics endpoint listens on 0\.0\.0\.0 with no authentication/);
  } finally {
    await open.close();
  }
  const guarded = await startObservabilityServer({ host: '0.0.0.0', port: 0, metrics: hub, auth: { bearerToken: TOKEN } });
  try {
    assert.deepEqual(guarded.warnings, []);
    assert.equal((await get(`127.0.0.1:${guarded.port}`, '/metrics')).status, 401);
  } finally {
    await guarded.close();
  }
});

test('a bearer token guards /metrics and /readyz, not /healthz', async () => {
  const hub = new MetricsHub({ processMetrics: false });
  hub.recordFetched('orders', 2);
  const server = await startObservabilityServer({ port: 0, metrics: hub, auth: { bearerToken: TOKEN } });
  try {
    const none = await get(server.address, '/metrics');
    assert.equal(none.status, 401);
    assert.equal(none.challenge, 'Bearer realm="walrus-stream"');
    assert.ok(!none.body.includes('walrus_stream'));
    assert.equal((await get(server.address, '/metrics', `Bearer ${TOKEN.slice(0, -1)}x`)).status, 401);
    assert.equal((await get(server.address, '/metrics', `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`)).status, 401);
    assert.equal((await get(server.address, '/readyz')).status, 401);
    const ok = await get(server.address, '/metrics', `Bearer ${TOKEN}`);
    assert.equal(ok.status, 200);
    assert.match(ok.body, /walrus_stream_records_fetched_total/);
    assert.equal((await get(server.address, '/healthz')).status, 200);
    const status = await fetchPipelineStatus(server.address, { bearerToken: TOKEN });
    assert.match(status.metrics, /walrus_stream_records_fetched_total/);
    await assert.rejects(fetchPipelineStatus(server.address), (error: WalrusError) => error.code === 'AUTH_FAILED' && /WALRUS_METRICS_TOKEN/.test(error.message));
  } finally {
    await server.close();
  }
});

test('basic credentials work; weak settings are refused', async () => {
  const hub = new MetricsHub({ processMetrics: false });
  const server = await startObservabilityServer({ port: 0, metrics: hub, auth: { basic: { username: 'prom', password: 'scrape me' } } });
  try {
    const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
    const none = await get(server.address, '/metrics');
    assert.equal(none.status, 401);
    assert.match(none.challenge!, /^Basic realm="walrus-stream"/);
    assert.equal((await get(server.address, '/metrics', basic('prom', 'scrape'))).status, 401);
    assert.equal((await get(server.address, '/metrics', basic('prom', 'scrape me'))).status, 200);
  } finally {
    await server.close();
  }
  await assert.rejects(startObservabilityServer({ port: 0, metrics: hub, auth: { bearerToken: 'short' } }), /shorter than 16 characters/);
});
