import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeEntry } from '../../src/codec/index.js';
import { runCli } from '../state/run-cli.js';
import { fixture, harness } from './harness.js';

// NonRetriableError('...', { context }) takes any context: one holding a function, a symbol, a cycle or a
// Proxy could not be encoded with the batch's result, and a context or code getter that throws escaped
// serializeError; each ended the worker thread, so the batch was split and rerun and the record was
// dead-lettered as WORKER_CRASHED after all its attempts, instead of at once with its own message.

const NON_RETRIABLE = ['function', 'symbol', 'cycle', 'proxy', 'bigint', 'huge'];
const RETRIED = ['context-getter', 'code-getter', 'retriable-function'];

test('an error whose context cannot cross threads, or whose getters throw, fails only its record: non-retriable ones dead-lettered at once with their message, no worker thread dies', { timeout: 120_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const bad = [...NON_RETRIABLE, ...RETRIED];
  const N = 90;
  await h.produce('ectx.in', Array.from({ length: N }, (_, i) => ({ value: { i, ...(i % 10 === 4 ? { throw: bad[(i / 10) | 0] } : {}) } })), 5);
  const file = join(h.stateDir, 'topology.yaml');
  await writeFile(file, `
app: ectx
stateDir: ${JSON.stringify(join(h.stateDir, 'state'))}
workers: 1
sources:
  in: { topic: ectx.in }
processors:
  p: { module: ${JSON.stringify(fixture('error-context.ts'))}, input: in, batchSize: 10, retry: { attempts: 2, initialDelay: 5ms } }
sinks:
  out: { topic: ectx.out, input: p }
`);
  const run = await runCli(['run', file, '--nodes', h.broker.address, '--until-idle', '--progress-interval', '0', '--json']);
  assert.equal(run.code, 0, run.stderr.slice(-3000));
  const summary = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { processors: Record<string, { processed: number; deadLettered: number; retries: number }> };
  assert.deepEqual([summary.processors.p!.processed, summary.processors.p!.deadLettered, summary.processors.p!.retries], [N - bad.length, bad.length, RETRIED.length]);
  assert.equal((await h.drain('ectx.out')).length, N - bad.length, 'the neighbours of each once');
  assert.doesNotMatch(run.stderr, /WORKER_CRASHED|worker crashed/);
  const dead = (await h.drainEntries('ectx.in.dlq')).map((e) => JSON.parse(e) as { attempts: number; error: { code: string; message: string }; entry: string });
  const how = (entry: string) => (JSON.parse(Buffer.from(decodeEntry(entry)[0]!.value).toString('utf8')) as { throw: string }).throw;
  const byHow = new Map(dead.map((d) => [how(d.entry), d]));
  assert.deepEqual([...byHow.keys()].sort(), [...bad].sort());
  for (const name of NON_RETRIABLE) assert.deepEqual([byHow.get(name)!.attempts, byHow.get(name)!.error.code, byHow.get(name)!.error.message], [1, 'NON_RETRIABLE', `refused ${name}`]);
  for (const name of ['context-getter', 'code-getter']) {
    assert.deepEqual([byHow.get(name)!.attempts, byHow.get(name)!.error.code], [2, 'PROCESSOR_ERROR']);
    assert.equal(byHow.get(name)!.error.message, `refused ${name} (reading the error's code, retriable or context threw; give them as plain values)`);
  }
  assert.deepEqual([byHow.get('retriable-function')!.attempts, byHow.get('retriable-function')!.error.code, byHow.get('retriable-function')!.error.message], [2, 'PROCESSOR_ERROR', 'try again']);
});
