import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../state/run-cli.js';
import { fixture, harness } from './harness.js';

test('ctx.emit after process() returned (a callback left behind) belongs to no result: never written, the run goes on, the processor\'s log says why once', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const N = 400;
  await h.produce('late.in', Array.from({ length: N }, (_, n) => ({ value: { n, late: n % 40 === 5 } })), 4);
  const file = join(h.stateDir, 'topology.yaml');
  await writeFile(file, `
app: late
stateDir: ${JSON.stringify(join(h.stateDir, 'state'))}
workers: 1
sources:
  in: { topic: late.in, poll: { batchSize: 20 } }
processors:
  late: { module: ${JSON.stringify(fixture('late-emit.ts'))}, input: in, batchSize: 8 }
  plus: { module: ${JSON.stringify(fixture('double.ts'))}, input: late }
sinks:
  out: { topic: late.out, input: plus }
`);
  const run = await runCli(['run', file, '--nodes', h.broker.address, '--until-idle', '--progress-interval', '0', '--json']);
  assert.equal(run.code, 0, run.stderr.slice(-3000));
  const summary = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { processors: Record<string, { processed: number; emitted: number }> };
  assert.equal(summary.processors.late!.emitted, N, 'each record emitted its returned value only');
  const out = (await h.drain('late.out')).map((r) => r.value as { n: number });
  assert.equal(out.length, N);
  assert.deepEqual(out.map((o) => o.n).sort((a, b) => a - b), Array.from({ length: N }, (_, n) => 2 * n), 'no output from a callback left behind');
  const warnings = run.stderr.split('\n').filter((l) => l.includes('output emitted after process() finished was dropped'));
  assert.equal(warnings.length, 1, `one warning per worker thread:\n${run.stderr.slice(-3000)}`);
  const line = JSON.parse(warnings[0]!) as { processor?: string; err?: string };
  assert.equal(line.processor, 'late');
  assert.match(line.err!, /used ctx\.emit\(\) after process\(\) for record \S+ had finished; .*return \(or await\) its promise/);
});
