import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../state/run-cli.js';
import { fixture, harness } from './harness.js';

// ctx.state() from a callback left behind after process() returned threw, uncaught in a timer: the worker thread died
// (WORKER_CRASHED) and a record of another key running on it was charged a retry; a write through a store view kept
// from process() went into a change set already sent, dropped without a word. Now both are dropped, the processor's
// log says so (once per worker thread), and the thread and its other records go on.
test('state written after process() finished (ctx.state() in a timer, or a kept store view) is dropped with a warning: no worker crash, no retries, the counts are untouched', { timeout: 30_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const keys = ['a', 'b', 'c', 'd'];
  const N = 24;
  const late = (n: number) => (n === 4 ? 'state' : n === 9 ? 'view' : undefined);
  await h.produce('in', Array.from({ length: N }, (_, n) => ({ key: keys[n % 4]!, value: { n, late: late(n) } })));
  const file = join(h.stateDir, 'topology.yaml');
  await writeFile(file, `
app: latestate
stateDir: ${JSON.stringify(join(h.stateDir, 'state'))}
workers: 1
sources:
  in: { topic: in }
processors:
  count: { module: ${JSON.stringify(fixture('late-state.ts'))}, input: in, stores: [counts], ordering: key, retry: { attempts: 3, initialDelay: 1ms } }
stores:
  counts: {}
sinks:
  out: { topic: out, input: count }
`);
  const run = await runCli(['run', file, '--nodes', h.broker.address, '--until-idle', '--progress-interval', '0', '--json'], { timeoutMs: 25_000 });
  assert.equal(run.code, 0, run.stderr.slice(-3000));
  const summary = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { processors: Record<string, { processed: number; retries: number; deadLettered: number }> };
  assert.doesNotMatch(run.stderr, /worker crashed|WORKER_CRASHED/);
  assert.deepEqual([summary.processors.count!.processed, summary.processors.count!.retries, summary.processors.count!.deadLettered], [N, 0, 0]);
  const out = (await h.drain('out')).map((r) => r.value as { n: number; count: number });
  assert.deepEqual(out.map((o) => [o.n, o.count]).sort((x, y) => x[0]! - y[0]!), Array.from({ length: N }, (_, n) => [n, Math.floor(n / 4) + 1]),
    'each key counted once per record; no late write of 1000 landed');
  const warnings = run.stderr.split('\n').filter((l) => l.includes('state written after process() finished was dropped'));
  assert.equal(warnings.length, 1, `one warning per worker thread:\n${run.stderr.slice(-3000)}`);
  const line = JSON.parse(warnings[0]!) as { processor?: string; err?: string };
  assert.equal(line.processor, 'count');
  assert.match(line.err!, /^processor "count" used ctx\.state\(\)(\.\.\.)? ?.* after process\(\) for record \S+ had finished; it belongs to no result and is dropped/);
});
