import { test } from 'node:test';
import assert from 'node:assert/strict';
import { postReplay, replayDashboard } from '../helpers/replay-dashboard.js';

/**
 * Review claim: a replay request can send a dead letter to any source topic,
 * not only its own. It cannot: the body names dead letters by id, and each
 * goes back to the `sourceTopic` its entry records (the same plan as
 * `dlq replay` without `--to`). But a body naming a target
 * (`"to": "payments"`) was accepted without a word and replayed to the
 * dead letter's own topic, which its sender did not ask for; it is now
 * refused with a 400 that says where replays go.
 */

type Answer = { error?: string; replayed?: Record<string, number>; results?: Array<{ id: number; ok: boolean; topic?: string }> };
const post = (port: number, body: unknown) => postReplay<Answer>(port, body);

test('a replay goes to the dead letter\'s own source topic; a body naming another target is refused', { timeout: 30_000 }, async (t) => {
  const { client, port, deadLetter } = await replayDashboard(t, 'target', ['orders', 'payments']);
  const id = deadLetter('orders', 'order 1', 'r1');

  for (const target of [{ to: 'payments' }, { topic: 'payments' }, { sourceTopic: 'payments', topic: 'payments' }]) {
    const refused = await post(port, { ids: [id], confirm: true, ...target });
    assert.equal(refused.status, 400, JSON.stringify(target));
    assert.match(refused.body.error!, /^unknown fields? "(to|topic|sourceTopic)".*a replay always goes to each dead letter's own source topic/);
  }
  assert.deepEqual(await client.getMany('orders', 10), [], 'a refused replay sent nothing');
  assert.deepEqual(await client.getMany('payments', 10), []);

  const replayed = await post(port, { ids: [id], confirm: true });
  assert.equal(replayed.status, 200);
  assert.deepEqual(replayed.body.replayed, { orders: 1 });
  assert.equal(replayed.body.results![0]!.topic, 'orders');
  assert.deepEqual((await client.getMany('orders', 10)).map((b) => b.toString('utf8')), ['order 1']);
  assert.deepEqual(await client.getMany('payments', 10), [], 'nothing went to another topic');
});
