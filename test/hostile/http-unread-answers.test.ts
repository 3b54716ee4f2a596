import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { MAX_UNREAD_RESPONSE_BYTES } from '../../src/observability/http/http-server.js';
import { DeadLetterRing, MetricsHub, StatsSampler, createDashboard, startObservabilityServer } from '../../src/observability/index.js';
import { buildDeadLetter, parseDeadLetter } from '../../src/runtime/coordinator/dead-letter.js';

/**
 * Attack: ask the dashboard for its largest answer (every dead letter of a
 * full ring, ~8 MB) on many connections and never read it. Node writes an
 * answer whole into its socket's buffer, so before the fix the run kept each
 * one in memory for as long as the client stayed connected (200 such sockets:
 * 146 MB -> 3.4 GB RSS). Now the server holds at most
 * MAX_UNREAD_RESPONSE_BYTES of unread answers: a new request first closes the
 * connections holding the most.
 */

test(`unread answers are bounded: the server closes the clients holding the most (${MAX_UNREAD_RESPONSE_BYTES} bytes at most), others are still served`, { timeout: 60_000 }, async () => {
  const hub = new MetricsHub({ processMetrics: false });
  const ring = new DeadLetterRing({ parse: parseDeadLetter });
  for (let i = 0; i < 1_000; i++) {
    ring.add({ processor: 'parse', topic: 'in.dlq', entry: buildDeadLetter({
      entry: `${'x'.repeat(8_000)}${i}`, error: { code: 'E', message: 'boom', retriable: false } as never,
      processor: 'parse', attempts: 1, firstFailureAt: 1, lastFailureAt: 2, sourceTopic: 'in', recordId: `r${i}`,
    }) });
  }
  const sampler = new StatsSampler({ progress: () => hub.progress(), processors: () => ({}) });
  const dashboard = createDashboard({
    topology: { app: 'unread', stores: [], nodes: [], edges: [], instance: { id: null, index: null, count: null }, partitioned: [] },
    sampler, deadLetters: ring, replay: async () => ({ replayed: {}, results: [] }),
  });
  const server = await startObservabilityServer({ port: 0, metrics: hub, routes: dashboard.routes });
  const path = '/api/dead-letters?limit=1000';
  const clients: Array<{ socket: Socket; bytes: number; closed: Promise<void> }> = [];
  try {
    const size = Number((await fetch(`http://${server.address}${path}`)).headers.get('content-length'));
    assert.ok(size > 8_000_000, `one answer is ${size} bytes`);
    const count = 40;
    for (let i = 0; i < count; i++) {
      const socket = connect({ port: server.port, host: '127.0.0.1' });
      socket.pause();
      socket.on('error', () => undefined);
      const client = { socket, bytes: 0, closed: new Promise<void>((resolve) => socket.on('close', () => resolve())) };
      socket.on('data', (chunk: Buffer) => { client.bytes += chunk.length; });
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nConnection: close\r\n\r\n`);
      clients.push(client);
      await new Promise((r) => setTimeout(r, 20));
    }
    // Others are still served, in full.
    const res = await fetch(`http://${server.address}/api/dead-letters?limit=10`, { signal: AbortSignal.timeout(5_000) });
    assert.equal(res.status, 200);
    assert.equal((await res.json() as { items: unknown[] }).items.length, 10);
    // Now read everything: a client the server closed gets less than its whole answer.
    for (const c of clients) c.socket.resume();
    await Promise.all(clients.map((c) => c.closed));
    const whole = clients.filter((c) => c.bytes > size).length;
    const held = 4 * 1024 * 1024 + MAX_UNREAD_RESPONSE_BYTES; // kernel buffers on top of the bound
    assert.ok(whole * size <= held + 4 * size, `${whole} of ${count} non-reading clients were kept with their whole ${size}-byte answer`);
  } finally {
    for (const c of clients) c.socket.destroy();
    sampler.stop();
    dashboard.close();
    await server.close();
  }
});
