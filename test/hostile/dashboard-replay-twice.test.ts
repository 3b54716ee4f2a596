import { test } from 'node:test';
import assert from 'node:assert/strict';
import { postReplay, replayDashboard } from '../helpers/replay-dashboard.js';

/**
 * Attack (or a double click, or a second tab): two replays of the same dead
 * letter at once. Each request checked only its own ids, so both sent it and
 * the record came back (and was processed) twice. Now a dead letter being
 * replayed is refused by any other request until that replay is over, with
 * a per-id reason.
 */

const post = (port: number, ids: number[]) =>
  postReplay<{ results: Array<{ id: number; ok: boolean; reason?: string }> }>(port, { ids, confirm: true });

test('two replays of one dead letter at once send it once; the other says why', { timeout: 60_000 }, async (t) => {
  const { client, port, deadLetter } = await replayDashboard(t, 'x', ['twice']);

  const rounds = 5;
  for (let i = 0; i < rounds; i++) {
    const id = deadLetter('twice', `line ${i}`, `r${i}`);
    const answers = await Promise.all([post(port, [id]), post(port, [id])]);
    assert.deepEqual(answers.map((a) => a.status), [200, 200]);
    const results = answers.map((a) => a.body.results[0]!);
    assert.ok(results.some((r) => r.ok), JSON.stringify(results));
    for (const r of results.filter((x) => !x.ok)) assert.equal(r.reason, 'already being replayed by another request; not sent again');
  }
  const back = (await client.getMany('twice', 100)).map((b) => b.toString('utf8')).sort();
  assert.deepEqual(back, Array.from({ length: rounds }, (_, i) => `line ${i}`), `each dead letter replayed once (got ${back.length} records for ${rounds})`);
  // Once a replay is over, the dead letter may be replayed again (the page counts replays).
  assert.equal((await post(port, [1])).body.results[0]!.ok, true);
});
