import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runCli } from '../state/run-cli.js';
import { fixture, harness } from './harness.js';

const bin = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));

// A worker ran its processors' close() one after the other: one that never settled kept every later one from being
// called (here "last" never closed), and the pool gave up on the thread after 5 s without a word. Now they run at
// once, each given 4.5 s, and the one that hangs or throws is logged by name.
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
  assert.ok(logs.some((l) => l.processor === 'hangs' && /close\(\) did not finish within 4500 ms/.test(l.msg ?? '')), run.stderr.slice(-3000));
  assert.ok(logs.some((l) => l.processor === 'throws' && l.msg === 'processor close() failed' && /close failed on purpose/.test(l.err?.message ?? '')), run.stderr.slice(-3000));
  assert.ok(elapsed < 15_000, `run took ${elapsed} ms`);
});

// A stop waited for the close hooks up to the pool's fixed 5 s whatever --shutdown-timeout said: with a close() that
// hangs and --shutdown-timeout 1000, `run` exited 5.7 s after SIGTERM (with 300 here: 4.5 s, the worker then answering after its own 4.5 s). The hooks now get what is left of the deadline.
test('after SIGTERM, a close() that hangs holds run no longer than what is left of --shutdown-timeout', { timeout: 30_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  await h.produce('in', [{ value: { n: 1 } }]);
  await h.client.register('out');
  const marker = join(h.stateDir, 'closed.txt');
  const file = join(h.stateDir, 'topology.yaml');
  await writeFile(file, `
app: closing
stateDir: ${JSON.stringify(join(h.stateDir, 'state'))}
workers: 1
sources:
  in: { topic: in }
processors:
  hangs: { module: ${JSON.stringify(fixture('close-hooks.ts'))}, input: in, config: { close: hang, marker: ${JSON.stringify(marker)} } }
sinks:
  out: { topic: out, input: hangs, batch: { linger: 1ms } }
`);
  const child = spawn(process.execPath, [bin, 'run', file, '--nodes', h.broker.address, '--progress-interval', '0', '--shutdown-timeout', '300'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => { stderr += c; });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.after(() => { child.kill('SIGKILL'); });
  let seen = 0;
  for (let i = 0; i < 200 && seen === 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    seen += (await h.drain('out')).length;
  }
  assert.equal(seen, 1, `the run is up: ${stderr}`);
  const stopped = Date.now();
  child.kill('SIGTERM');
  const code = await exited;
  const took = Date.now() - stopped;
  assert.equal(code, 143, stderr);
  assert.ok(took < 3_800, `exited ${took} ms after SIGTERM (sent ${new Date(stopped).toISOString()}):\n${stderr}`);
});
