// run-tests: own process: measures its process's event-loop delay
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { startBroker } from '../../src/broker/index.js';
import { MetricsHub } from '../../src/observability/metrics/metrics-hub.js';
import { parseHttpAddress, startObservabilityServer } from '../../src/observability/http/http-server.js';
import { readinessFromChecks } from '../../src/observability/http/readiness.js';
import { nodesReachableCheck, probeNode } from '../../src/observability/http/node-probe.js';
import { WalrusError } from '../../src/errors/index.js';
import { sample, scrape } from './fixtures/prom-text.js';

test('/metrics serves Prometheus text; other paths 404, other methods 405', async () => {
  const hub = new MetricsHub({ processMetrics: false });
  hub.recordFetched('orders', 3);
  const server = await startObservabilityServer({ port: 0, metrics: hub });
  try {
    assert.match(server.address, /^127\.0\.0\.1:\d+$/);
    const res = await scrape(server.address);
    assert.equal(res.status, 200);
    assert.equal(res.type, 'text/plain; version=0.0.4; charset=utf-8');
    assert.equal(sample(res.body, 'walrus_stream_records_fetched_total', { source: 'orders' }), 3);
    assert.equal((await scrape(server.address, '/nope')).status, 404);
    const post = await fetch(`http://${server.address}/metrics`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    await post.text();
    const head = await fetch(`http://${server.address}/healthz`, { method: 'HEAD' });
    assert.equal(head.status, 200);
  } finally {
    await server.close();
  }
});

/** Polls until `path` answers `status` (a loaded machine may need a moment), failing after `withinMs`. */
async function until(address: string, path: string, status: number, withinMs = 5000): Promise<{ status: number; body: string }> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const res = await scrape(address, path);
    if (res.status === status || Date.now() > deadline) return res;
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('/healthz reports a stalled event loop with 503 and recovers', async () => {
  const server = await startObservabilityServer({ port: 0, metrics: new MetricsHub({ processMetrics: false }), maxEventLoopDelayMs: 700, eventLoopWindowMs: 3000 });
  try {
    const ok = await until(server.address, '/healthz', 200);
    assert.equal(ok.status, 200, ok.body);
    assert.equal(JSON.parse(ok.body).status, 'ok');
    // Well past the limit: on a loaded machine ordinary delays reach a few hundred ms.
    const blockUntil = Date.now() + 1500;
    while (Date.now() < blockUntil) { /* block the event loop on purpose */ }
    const stalled = await scrape(server.address, '/healthz');
    assert.equal(stalled.status, 503);
    const body = JSON.parse(stalled.body);
    assert.equal(body.status, 'stalled');
    assert.ok(body.eventLoopDelayMs >= 1200, `delay ${body.eventLoopDelayMs}`);
    assert.match(body.detail, /blocked for \d+(\.\d)? ms \(limit 700 ms\)/);
    // The stall stays visible for one to two windows (3 s each): long enough that a
    // loaded machine's slow scrape still sees it, short enough to recover here.
    const recovered = await until(server.address, '/healthz', 200, 15000);
    assert.equal(recovered.status, 200, recovered.body);
  } finally {
    await server.close();
  }
});

test('/readyz flips to not-ready when the node stops and back when it returns', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'walrus-obs-'));
  let node = await startBroker({ host: '127.0.0.1', port: 0, dataDir, fsync: 'never' });
  const port = node.port;
  let workersUp = true;
  const readiness = readinessFromChecks({
    nodes: nodesReachableCheck(() => [node.address], { timeoutMs: 3000 }),
    workers: () => (workersUp ? { ok: true, detail: '2/2 threads' } : { ok: false, detail: '0/2 threads' }),
    journal: () => true,
  }, { timeoutMs: 5000 });
  const server = await startObservabilityServer({ port: 0, metrics: new MetricsHub({ processMetrics: false }), readiness });
  try {
    let res = await scrape(server.address, '/readyz');
    assert.equal(res.status, 200, res.body);
    assert.equal(JSON.parse(res.body).status, 'ready');

    await node.close();
    res = await scrape(server.address, '/readyz');
    assert.equal(res.status, 503);
    const body = JSON.parse(res.body);
    assert.equal(body.status, 'not ready');
    assert.equal(body.checks.nodes.ok, false);
    assert.match(body.checks.nodes.detail, /CONNECTION_REFUSED/);
    assert.equal(body.checks.workers.ok, true);
    assert.match(body.failing[0], /^nodes: unreachable: 127\.0\.0\.1:\d+/);

    node = await startBroker({ host: '127.0.0.1', port, dataDir, fsync: 'never' });
    res = await scrape(server.address, '/readyz');
    assert.equal(res.status, 200, res.body);

    workersUp = false;
    res = await scrape(server.address, '/readyz');
    assert.equal(res.status, 503);
    assert.deepEqual(JSON.parse(res.body).failing, ['workers: 0/2 threads']);
  } finally {
    await server.close();
    await node.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('a hung check fails after its timeout instead of hanging the probe', async () => {
  const readiness = readinessFromChecks({ slow: () => new Promise<boolean>(() => {}), boom: () => { throw new Error('journal replay failed'); } }, { timeoutMs: 50 });
  const report = await readiness();
  assert.equal(report.ready, false);
  assert.match(report.checks.slow!.detail!, /within 50 ms/);
  assert.equal(report.checks.boom!.detail, 'journal replay failed');
});

test('probeNode reads a node\'s METRICS', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'walrus-obs-'));
  const node = await startBroker({ host: '127.0.0.1', port: 0, dataDir, fsync: 'never' });
  try {
    const metrics = await probeNode(node.address);
    assert.equal(typeof metrics.state, 'string');
  } finally {
    await node.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('listen addresses parse, bad ones and busy ports fail clearly', async () => {
  assert.deepEqual(parseHttpAddress('127.0.0.1:9464'), { host: '127.0.0.1', port: 9464 });
  assert.deepEqual(parseHttpAddress('[::1]:80'), { host: '::1', port: 80 });
  assert.deepEqual(parseHttpAddress(9464), { host: '127.0.0.1', port: 9464 });
  assert.equal(parseHttpAddress(false), undefined);
  assert.throws(() => parseHttpAddress('localhost'), /not an address/);
  assert.throws(() => parseHttpAddress('h:99999'), /not an address/);
  const first = await startObservabilityServer({ port: 0, metrics: new MetricsHub({ processMetrics: false }) });
  try {
    await assert.rejects(startObservabilityServer({ port: first.port, metrics: new MetricsHub({ processMetrics: false }) }),
      (e: unknown) => e instanceof WalrusError && e.code === 'CONFIG_INVALID' && /EADDRINUSE/.test(e.message));
  } finally {
    await first.close();
  }
});

test('on a loopback bind, /metrics and /readyz refuse a Host that is not a loopback name (DNS rebinding); /healthz and loopback names are served', async () => {
  const { request } = await import('node:http');
  const get = (port: number, path: string, host: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
  const hub = new MetricsHub({ processMetrics: false });
  hub.recordFetched('secret-topic', 1);
  const server = await startObservabilityServer({ port: 0, metrics: hub });
  try {
    const evil = `rebind.example:${server.port}`;
    for (const path of ['/metrics', '/readyz']) {
      const res = await get(server.port, path, evil);
      assert.equal(res.status, 403, `${path}: ${res.body}`);
      assert.match(res.body, /Host \\"rebind\.example:\d+\\" is not a loopback name/);
      assert.doesNotMatch(res.body, /secret-topic/);
    }
    assert.equal((await get(server.port, '/healthz', evil)).status, 200);
    for (const host of [`127.0.0.1:${server.port}`, `localhost:${server.port}`, 'localhost']) {
      const res = await get(server.port, '/metrics', host);
      assert.equal(res.status, 200, host);
      assert.match(res.body, /secret-topic/);
    }
  } finally {
    await server.close();
  }
});

test('requests Node refuses before routing get a JSON reason: headers over the limit (431), a malformed request (400)', async () => {
  const server = await startObservabilityServer({ port: 0, metrics: { contentType: 'text/plain', metrics: async () => 'up 1\n' } });
  const raw = (text: string) => new Promise<string>((resolve, reject) => {
    const socket = connect({ port: server.port, host: '127.0.0.1' }, () => socket.write(text));
    let out = '';
    socket.on('data', (c: Buffer) => { out += c.toString('utf8'); });
    socket.on('error', reject);
    socket.on('close', () => resolve(out));
  });
  try {
    for (const request of [`GET /metrics?${'q'.repeat(100_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`, `GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'b'.repeat(100_000)}\r\n\r\n`]) {
      const answer = await raw(request);
      assert.match(answer, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
      assert.match(answer, /\{"error":"the request line and headers are over the \d+-byte limit; send a shorter URL or fewer, smaller headers"\}/);
    }
    const bad = await raw('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
    assert.match(bad, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(bad, /\{"error":"not a valid HTTP\/1\.1 request \(HPE_/);
    assert.equal((await fetch(`http://${server.address}/healthz`)).status, 200);
  } finally {
    await server.close();
  }
});
