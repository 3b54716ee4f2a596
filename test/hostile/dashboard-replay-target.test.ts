import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { WalrusClient } from '../../src/client/index.js';
import { replayEntries } from '../../src/cli/commands/dlq-replay.js';
import { DeadLetterRing, MetricsHub, StatsSampler, createDashboard, startObservabilityServer } from '../../src/observability/index.js';
import { buildDeadLetter, parseDeadLetter } from '../../src/runtime/coordinator/dead-letter.js';
import { startTestBroker } from '../helpers/broker.js';

/**
 * Review claim: a replay request can send a dead letter to any source topic,
 * not only its own. It cannot: the body names dead letters by id, and each
 * goes back to the `sourceTopic` its entry records (the same plan as
 * `dlq replay` without `--to`). But a body naming a target
 * (`"to": "payments"`) was accepted without a word and replayed to the
 * dead letter's own topic, which its sender did not ask for; it is now
 * refused with a 400 that says where replays go.
 */

function post(port: number, body: unknown): Promise<{ status: number; body: { error?: string; replayed?: Record<string, number>; results?: Array<{ id: number; ok: boolean; topic?: string }> } }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/dead-letters/replay', method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString('utf8'); });
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

test('a replay goes to the dead letter\'s own source topic; a body naming another target is refused', { timeout: 30_000 }, async (t) => {
  const node = await startTestBroker();
  const client = new WalrusClient({ nodes: [node.address] });
  t.after(async () => { await client.close(); await node.close(); });
  await client.register('orders');
  await client.register('payments');
  const hub = new MetricsHub({ processMetrics: false });
  const ring = new DeadLetterRing({ parse: parseDeadLetter });
  const sampler = new StatsSampler({ progress: () => hub.progress(), processors: () => ({}) });
  const dashboard = createDashboard({
    topology: { app: 'target', stores: [], nodes: [], edges: [], instance: { id: null, index: null, count: null }, partitioned: [] },
    sampler, deadLetters: ring, replay: (entries) => replayEntries(client, entries),
  });
  const server = await startObservabilityServer({ port: 0, metrics: hub, routes: dashboard.routes });
  t.after(async () => { dashboard.close(); await server.close(); });
  const { id } = ring.add({ processor: 'p', topic: 'orders.dlq', entry: buildDeadLetter({
    entry: 'order 1', error: { code: 'E', message: 'boom', retriable: false } as never,
    processor: 'p', attempts: 1, firstFailureAt: 1, lastFailureAt: 2, sourceTopic: 'orders', recordId: 'r1',
  }) });

  for (const target of [{ to: 'payments' }, { topic: 'payments' }, { sourceTopic: 'payments', topic: 'payments' }]) {
    const refused = await post(server.port, { ids: [id], confirm: true, ...target });
    assert.equal(refused.status, 400, JSON.stringify(target));
    assert.match(refused.body.error!, /^unknown fields? "(to|topic|sourceTopic)".*a replay always goes to each dead letter's own source topic/);
  }
  assert.deepEqual(await client.getMany('orders', 10), [], 'a refused replay sent nothing');
  assert.deepEqual(await client.getMany('payments', 10), []);

  const replayed = await post(server.port, { ids: [id], confirm: true });
  assert.equal(replayed.status, 200);
  assert.deepEqual(replayed.body.replayed, { orders: 1 });
  assert.equal(replayed.body.results![0]!.topic, 'orders');
  assert.deepEqual((await client.getMany('orders', 10)).map((b) => b.toString('utf8')), ['order 1']);
  assert.deepEqual(await client.getMany('payments', 10), [], 'nothing went to another topic');
});
