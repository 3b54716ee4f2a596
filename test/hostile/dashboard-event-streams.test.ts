import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { DeadLetterRing, MetricsHub, StatsSampler, createDashboard, startObservabilityServer } from '../../src/observability/index.js';
import { buildDeadLetter, parseDeadLetter } from '../../src/runtime/coordinator/dead-letter.js';

/**
 * Attack: open every Server-Sent Events slot of the dashboard (16) from a
 * local client and keep the sockets without reading. Before the fix every
 * real viewer then got a 503 for as long as the sockets stayed open, and a
 * stream that did not read was kept (skipped) forever. Now a new viewer
 * always gets a stream (the stalest is closed, with a final `closed` event
 * when it can still take one), and a stream whose unsent bytes pass
 * MAX_UNSENT_EVENT_BYTES is closed.
 */

async function setup(t: { after(fn: () => Promise<void>): void }) {
  const hub = new MetricsHub({ processMetrics: false });
  const ring = new DeadLetterRing({ parse: parseDeadLetter });
  const sampler = new StatsSampler({ progress: () => hub.progress(), processors: () => ({}) });
  const dashboard = createDashboard({
    topology: { app: 'sse', stores: [], nodes: [], edges: [], instance: { id: null, index: null, count: null }, partitioned: [] },
    sampler, deadLetters: ring, replay: async () => ({ replayed: {}, results: [] }),
  });
  const server = await startObservabilityServer({ port: 0, metrics: hub, routes: dashboard.routes });
  t.after(async () => { dashboard.close(); await server.close(); });
  return { ring, sampler, dashboard, server };
}

/** A client that asks for /api/events, reads the answer's head and then stops reading. */
async function holder(port: number): Promise<{ socket: Socket; head: string }> {
  const socket = connect({ port, host: '127.0.0.1' });
  socket.write('GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  const head = await new Promise<string>((resolve, reject) => {
    socket.once('data', (chunk: Buffer) => resolve(chunk.toString('utf8')));
    socket.once('error', reject);
  });
  socket.pause();
  return { socket, head };
}

/** A viewer that reads its stream as it comes. */
function viewer(port: number): Promise<{ res: IncomingMessage; text: () => string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/events' }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString('utf8'); });
      resolve({ res, text: () => text });
    });
    req.on('error', reject);
    req.end();
  });
}

test('16 held event streams do not lock viewers out: a new viewer gets a stream, the oldest is told why and closed', { timeout: 20_000 }, async (t) => {
  const { dashboard, server } = await setup(t);
  const held: Array<{ socket: Socket; head: string }> = [];
  for (let i = 0; i < 16; i++) held.push(await holder(server.port));
  t.after(() => { for (const h of held) h.socket.destroy(); });
  for (const h of held) assert.match(h.head, /^HTTP\/1\.1 200 /);
  assert.equal(dashboard.streams, 16);

  const fresh = await viewer(server.port);
  t.after(() => fresh.res.destroy());
  assert.equal(fresh.res.statusCode, 200, 'a 17th viewer gets a stream, not a 503');
  assert.match(fresh.res.headers['content-type'] ?? '', /^text\/event-stream/);
  assert.equal(dashboard.streams, 16, 'still at most 16 open');

  // The oldest holder was closed, with a final event that says why.
  const oldest = held[0]!.socket;
  let rest = '';
  oldest.on('data', (c: Buffer) => { rest += c.toString('utf8'); });
  oldest.resume();
  await new Promise<void>((resolve) => oldest.once('close', () => resolve()));
  assert.match(rest, /event: closed\ndata: \{"reason":"replaced","detail":"closed to make room for a newer viewer/);
  assert.match(rest, /retry: 10000/);
  // The others are still open.
  for (const h of held.slice(1)) assert.equal(h.socket.destroyed, false);
});

test('a stream whose client does not read is closed once it holds 128 KiB unsent (MAX_UNSENT_EVENT_BYTES); a reading viewer stays', { timeout: 20_000 }, async (t) => {
  const { ring, sampler, dashboard, server } = await setup(t);
  const reader = await viewer(server.port);
  t.after(() => reader.res.destroy());
  const stalled = await holder(server.port);
  t.after(() => stalled.socket.destroy());
  const stalledClosed = new Promise<void>((resolve) => stalled.socket.once('close', () => resolve()));
  assert.equal(dashboard.streams, 2);

  // Each frame carries one ~64 KB dead letter: the stalled socket's kernel buffers fill after some MB.
  let frames = 0;
  for (; frames < 400 && dashboard.streams === 2; frames++) {
    ring.add({ processor: 'p', topic: 'in.dlq', entry: buildDeadLetter({
      entry: `${'x'.repeat(64_000)}${frames}`, error: { code: 'E', message: 'boom', retriable: false } as never,
      processor: 'p', attempts: 1, firstFailureAt: 1, lastFailureAt: 2, sourceTopic: 'in', recordId: `r${frames}`,
    }) });
    sampler.sample();
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(dashboard.streams, 1, `the stalled stream was closed (after ${frames} frames of ~64 KB)`);
  // The client sees the end once it reads again.
  stalled.socket.resume();
  await stalledClosed;
  // The reader got every frame and is still served.
  sampler.sample();
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(reader.res.destroyed, false);
  assert.equal(reader.text().split('event: deadletters\n').length - 1, frames, 'the reading viewer got every frame');
});
