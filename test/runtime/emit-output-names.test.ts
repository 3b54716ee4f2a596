import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeEntry } from '../../src/codec/index.js';
import { runCli } from '../state/run-cli.js';
import { fixture, harness } from './harness.js';

// ctx.emit(<a Symbol>, value) (or an object whose toString throws) failed with the TypeError of building the
// error message ("Cannot convert a Symbol value to a string"): a retriable PROCESSOR_ERROR saying nothing of
// the output, retried to the last attempt, instead of the unknown-output error.

test('ctx.emit to an output that is not declared, or whose name is not a string: dead-lettered at once (INVALID_ARGUMENT) naming it, the other records written', { timeout: 120_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const BAD = ['nope', 'symbol', 'throwing-tostring', 'number', 'undefined'];
  const N = 60;
  await h.produce('eon.in', Array.from({ length: N }, (_, i) => ({ value: { i, ...(i % 12 === 5 ? { to: BAD[(i / 12) | 0] } : {}) } })), 3);
  const file = join(h.stateDir, 'topology.yaml');
  await writeFile(file, `
app: eon
stateDir: ${JSON.stringify(join(h.stateDir, 'state'))}
workers: 1
sources:
  in: { topic: eon.in }
processors:
  p: { module: ${JSON.stringify(fixture('emit-output-names.ts'))}, input: in, retry: { attempts: 3, initialDelay: 5ms } }
sinks:
  out: { topic: eon.out, input: p }
`);
  const run = await runCli(['run', file, '--nodes', h.broker.address, '--until-idle', '--progress-interval', '0', '--json']);
  assert.equal(run.code, 0, run.stderr.slice(-3000));
  const summary = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { processors: Record<string, { processed: number; deadLettered: number; retries: number }> };
  assert.deepEqual([summary.processors.p!.processed, summary.processors.p!.deadLettered, summary.processors.p!.retries], [N - 5, 5, 0]);
  assert.equal((await h.drain('eon.out')).length, N - 5);
  const dead = (await h.drainEntries('eon.in.dlq')).map((e) => JSON.parse(e) as { attempts: number; error: { code: string; message: string }; entry: string });
  const targetOf = (entry: string) => (JSON.parse(Buffer.from(decodeEntry(entry)[0]!.value).toString('utf8')) as { to: string }).to;
  const byTarget = new Map(dead.map((d) => [targetOf(d.entry), d]));
  assert.deepEqual([...byTarget.keys()].sort(), [...BAD].sort());
  for (const d of dead) assert.deepEqual([d.attempts, d.error.code], [1, 'INVALID_ARGUMENT'], d.error.message);
  assert.match(byTarget.get('nope')!.error.message, /^processor "p" emitted to unknown output "nope"; declared outputs: default$/);
  assert.match(byTarget.get('symbol')!.error.message, /^processor "p" emitted to an output name of type symbol \(output names are strings\); declared outputs: default$/);
  assert.match(byTarget.get('throwing-tostring')!.error.message, /emitted to an output name of type object \(output names are strings\)/);
  assert.match(byTarget.get('number')!.error.message, /emitted to an output name of type number/);
  assert.match(byTarget.get('undefined')!.error.message, /emitted to an output name of type undefined/);
});
