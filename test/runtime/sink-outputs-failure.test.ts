import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
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
