import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { MetricsHub } from '../../src/observability/metrics/metrics-hub.js';
import { startObservabilityServer } from '../../src/observability/http/http-server.js';
import { nodesReachableCheck } from '../../src/observability/http/node-probe.js';
import { readinessFromChecks } from '../../src/observability/http/readiness.js';
import { startTestBroker } from '../helpers/broker.js';

/**
 * Attack: one connection pipelining thousands of `GET /readyz`. Node runs
 * every pipelined request's handler at once, and each readiness evaluation
 * opens a fresh connection to every node: before the fix, 5,000 of them
 * took the process to 5,032 open descriptors, and the probes, starved,
 * answered "not ready" 4,637 times for a healthy node. Now requests that
 * arrive while the checks run share their answer.
 */

const openDescriptors = (): number => readdirSync('/proc/self/fd').length;

test('pipelined /readyz requests share one evaluation: descriptors stay bounded, a healthy node stays ready', { timeout: 60_000 }, async (t) => {
  const node = await startTestBroker();
  const server = await startObservabilityServer({
    port: 0, metrics: new MetricsHub({ processMetrics: false }),
    readiness: readinessFromChecks({ nodes: nodesReachableCheck(() => [node.address], { timeoutMs: 1_000 }) }),
  });
  t.after(async () => { await server.close(); await node.close(); });
  const before = openDescriptors();
  let peak = before;
  const sampler = setInterval(() => { peak = Math.max(peak, openDescriptors()); }, 5);
  const count = 2_000;
  const answers = await new Promise<string>((resolve, reject) => {
    const socket = connect({ port: server.port, host: '127.0.0.1' }, () => {
      socket.write(`GET /readyz HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`.repeat(count));
    });
    let text = '';
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      if ((text.match(/HTTP\/1\.1 \d{3}/g) ?? []).length >= count) { socket.destroy(); resolve(text); }
    });
    socket.on('error', reject);
    setTimeout(() => reject(new Error(`only ${(text.match(/HTTP\/1\.1 \d{3}/g) ?? []).length} of ${count} answers within 30 s`)), 30_000).unref();
  });
  clearInterval(sampler);
  const statuses: Record<string, number> = {};
  for (const m of answers.matchAll(/HTTP\/1\.1 (\d{3})/g)) statuses[m[1]!] = (statuses[m[1]!] ?? 0) + 1;
  assert.deepEqual(statuses, { 200: count }, 'a healthy node is ready for every request');
  assert.ok(peak - before < 100, `${count} pipelined /readyz took ${peak - before} more descriptors`);
});
