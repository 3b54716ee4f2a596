import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { WalrusClient } from '../../src/client/index.js';
import { replayEntries } from '../../src/cli/commands/dlq-replay.js';
import { DeadLetterRing, MetricsHub, StatsSampler, createDashboard, startObservabilityServer } from '../../src/observability/index.js';
import { buildDeadLetter, parseDeadLetter } from '../../src/runtime/coordinator/dead-letter.js';
import { startTestBroker } from '../helpers/broker.js';

/**
 * Attack (or a double click, or a second tab): two replays of the same dead
 * letter at once. Each request checked only its own ids, so both sent it and
 * the record came back (and was processed) twice. Now a dead letter being
 * replayed is refused by any other request until that replay is over, with
 * a per-id reason.
 */

function post(port: number, ids: number[]): Promise<{ status: number; body: { results: Array<{ id: number; ok: boolean; reason?: string }> } }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/dead-letters/replay', method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString('utf8'); });
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ ids, confirm: true }));
  });
}

test('two replays of one dead letter at once send it once; the other says why', { timeout: 60_000 }, async (t) => {
  const node = await startTestBroker();
  const client = new WalrusClient({ nodes: [node.address] });
  t.after(async () => { await client.close(); await node.close(); });
  await client.register('twice');
  const hub = new MetricsHub({ processMetrics: false });
  const ring = new DeadLetterRing({ parse: parseDeadLetter });
  const sampler = new StatsSampler({ progress: () => hub.progress(), processors: () => ({}) });
  const dashboard = createDashboard({
    topology: { app: 'x', stores: [], nodes: [], edges: [], instance: { id: null, index: null, count: null }, partitioned: [] },
    sampler, deadLetters: ring, replay: (entries) => replayEntries(client, entries),
  });
  const server = await startObservabilityServer({ port: 0, metrics: hub, routes: dashboard.routes });
  t.after(async () => { dashboard.close(); await server.close(); });

  const rounds = 5;
  for (let i = 0; i < rounds; i++) {
    const { id } = ring.add({ processor: 'p', topic: 'twice.dlq', entry: buildDeadLetter({
      entry: `line ${i}`, error: { code: 'E', message: 'boom', retriable: false } as never,
      processor: 'p', attempts: 1, firstFailureAt: 1, lastFailureAt: 2, sourceTopic: 'twice', recordId: `r${i}`,
    }) });
    const answers = await Promise.all([post(server.port, [id]), post(server.port, [id])]);
    assert.deepEqual(answers.map((a) => a.status), [200, 200]);
    const results = answers.map((a) => a.body.results[0]!);
    assert.ok(results.some((r) => r.ok), JSON.stringify(results));
    for (const r of results.filter((x) => !x.ok)) assert.equal(r.reason, 'already being replayed by another request; not sent again');
  }
  const back = (await client.getMany('twice', 100)).map((b) => b.toString('utf8')).sort();
  assert.deepEqual(back, Array.from({ length: rounds }, (_, i) => `line ${i}`), `each dead letter replayed once (got ${back.length} records for ${rounds})`);
  // Once a replay is over, the dead letter may be replayed again (the page counts replays).
  assert.equal((await post(server.port, [1])).body.results[0]!.ok, true);
});
