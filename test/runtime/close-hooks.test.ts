import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../state/run-cli.js';
import { fixture, harness } from './harness.js';

// A worker ran its processors' close() one after the other: one that never settled kept every later one from being
// called (here "last" never closed), and the pool gave up on the thread after 5 s without a word. Now they run at
// once, each given 4 s, and the one that hangs or throws is logged by name.
test('a close() that hangs or throws keeps no other processor\'s close() from running, is logged naming it, and run exits in bounded time', { timeout: 30_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  await h.produce('in', [{ value: { n: 1 } }, { value: { n: 2 } }]);
  const marker = join(h.stateDir, 'closed.txt');
  await writeFile(marker, '');
  const file = join(h.stateDir, 'topology.yaml');
  const step = (name: string, input: string, close: string) =>
    `  ${name}: { module: ${JSON.stringify(fixture('close-hooks.ts'))}, input: ${input}, config: { close: ${close}, marker: ${JSON.stringify(marker)} } }`;
  await writeFile(file, `
app: closing
stateDir: ${JSON.stringify(join(h.stateDir, 'state'))}
workers: 1
sources:
  in: { topic: in }
processors:
${step('hangs', 'in', 'hang')}
${step('throws', 'hangs', 'throw')}
${step('last', 'throws', 'ok')}
sinks:
  out: { topic: out, input: last }
`);
  const started = Date.now();
  const run = await runCli(['run', file, '--nodes', h.broker.address, '--until-idle', '--progress-interval', '0'], { timeoutMs: 20_000 });
  const elapsed = Date.now() - started;
  assert.equal(run.code, 0, run.stderr.slice(-3000));
  assert.equal((await h.drain('out')).length, 2);
  const lines = (await readFile(marker, 'utf8')).trim().split('\n').sort();
  assert.deepEqual(lines, ['hangs closing', 'last closed', 'last closing', 'throws closing'], 'every close() was called; the one that can finish did');
  const logs = run.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { processor?: string; msg?: string; err?: { message?: string } });
  assert.ok(logs.some((l) => l.processor === 'hangs' && /close\(\) did not finish within 4000 ms/.test(l.msg ?? '')), run.stderr.slice(-3000));
  assert.ok(logs.some((l) => l.processor === 'throws' && l.msg === 'processor close() failed' && /close failed on purpose/.test(l.err?.message ?? '')), run.stderr.slice(-3000));
  assert.ok(elapsed < 15_000, `run took ${elapsed} ms`);
});
