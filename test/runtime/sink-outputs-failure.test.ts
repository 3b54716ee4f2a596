import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RefusingProxy } from '../state/refusing-proxy.js';
import { runCli } from '../state/run-cli.js';
import { fixture, harness } from './harness.js';

test('one record with 150,000 outputs: every output reaches a text sink and an envelope sink (a spread of that many arguments overflowed the stack, failing the write)', { timeout: 120_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const N = 150_000;
  await h.produce('fan.in', [{ value: { i: 7 } }]);
  const file = join(h.stateDir, 'topology.yaml');
  await writeFile(file, `
app: fan
stateDir: ${JSON.stringify(join(h.stateDir, 'state'))}
sources:
  in: { topic: fan.in }
processors:
  fan:
    module: ${JSON.stringify(fixture('fanout.ts'))}
    input: in
    config: { n: ${N} }
    maxOutputs: ${N}      # the default (100,000) would dead-letter it
sinks:
  text: { topic: fan.text, input: fan, format: text }
  envelope: { topic: fan.envelope, input: fan }
journal: { fsync: never }
`);
  // As a user runs it (the CLI: metrics and latency timestamps on).
  const run = await runCli(['run', file, '--nodes', h.broker.address, '--until-idle', '--json', '--progress-interval', '0'], { timeoutMs: 100_000 });
  assert.equal(run.code, 0, `the run finished; stderr:\n${run.stderr.slice(-3000)}`);
  assert.doesNotMatch(run.stderr, /sink write failed|Maximum call stack/);
  const summary = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { sinks: Record<string, { records: number }>; unreleased?: number };
  assert.equal(summary.sinks.text!.records, N);
  assert.equal(summary.sinks.envelope!.records, N);
  assert.equal(summary.unreleased, undefined);
  const text = await h.drainEntries('fan.text');
  assert.equal(text.length, N, 'one plain-text entry per output');
  assert.deepEqual(JSON.parse(text[N - 1]!), { i: 7, j: N - 1 });
  const envelope = await h.drain('fan.envelope');
  assert.equal(envelope.length, N);
  assert.equal(new Set(envelope.map((r) => (r.value as { j: number }).j)).size, N, 'every output once');
});

test('a stateless pipeline whose sink refuses writes for good: run --until-idle exits 3 and says how many entries are not completed; they stay in the journal and the next run writes them', { timeout: 120_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const proxy = await RefusingProxy.start({ host: h.broker.host, port: h.broker.port });
  t.after(() => proxy.close());
  const N = 40;
  await h.produce('refuse.in', Array.from({ length: N }, (_, n) => ({ value: { n } })));
  const file = join(h.stateDir, 'topology.yaml');
  await writeFile(file, `
app: refuse
stateDir: ${JSON.stringify(join(h.stateDir, 'state'))}
sources:
  in: { topic: refuse.in }
processors:
  double:
    module: ${JSON.stringify(fixture('double.ts'))}
    input: in
sinks:
  out: { topic: refuse.out, input: double, batch: { maxRecords: 5 } }
journal: { fsync: never }
`);
  const args = ['run', file, '--nodes', proxy.address, '--until-idle', '--workers', '1', '--progress-interval', '0'];
  // Every write to the sink topic is refused as by a node that lost it: no retry can fix that.
  proxy.refuse = (command, topic) => ((command === 'PUT' || command === 'BATCH_PUT') && topic === 'refuse.out' ? `unknown topic ${topic}` : undefined);
  const failed = await runCli(args, { timeoutMs: 100_000 });
  assert.ok(proxy.refused > 0, 'writes were refused');
  assert.equal(failed.signal, null);
  assert.equal(failed.code, 3, `exit 3 (failure), not 0: the run did not do all its work; stderr:\n${failed.stderr.slice(-3000)}`);
  assert.match(failed.stderr, /sink write failed/);
  assert.match(failed.stderr, /(\d+) entries could not be completed .*They stay in the journal and are processed again at the next start/s);
  const count = Number(/(\d+) entries could not be completed/.exec(failed.stderr)![1]);
  assert.equal(count, N, 'every entry (one record each) is counted as not completed');
  assert.match(failed.stdout, new RegExp(`NOT COMPLETED: ${N} entries`));
  assert.equal((await h.drain('refuse.out')).length, 0);

  proxy.refuse = undefined;
  const again = await runCli(args, { timeoutMs: 100_000 });
  assert.equal(again.code, 0, `the next run completes them; stderr:\n${again.stderr.slice(-3000)}`);
  assert.doesNotMatch(again.stdout, /NOT COMPLETED/);
  const out = (await h.drain('refuse.out')).map((r) => (r.value as { n: number }).n).sort((a, b) => a - b);
  assert.deepEqual(out, Array.from({ length: N }, (_, n) => n * 2), 'every record written once, from the journal');
});
