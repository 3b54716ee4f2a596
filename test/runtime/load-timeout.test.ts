import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../state/run-cli.js';
import { fixture, harness } from './harness.js';

const BIN = fileURLToPath(new URL('../../bin/walrus-stream.js', import.meta.url));

const topology = (stateDir: string, loadTimeout: string) => `
app: inithang
stateDir: ${JSON.stringify(stateDir)}
workers: 1
workerPool: { loadTimeout: ${loadTimeout} }
sources:
  in: { topic: inithang.in }
processors:
  stuck: { module: ${JSON.stringify(fixture('init-hangs.ts'))}, input: in }
sinks:
  out: { topic: inithang.out, input: stuck }
`;

test('a processor whose init never resolves fails run at start after workerPool.loadTimeout, naming it; nothing is fetched', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  await h.produce('inithang.in', [{ value: { n: 1 } }]);
  const file = join(h.stateDir, 'topology.yaml');
  await writeFile(file, topology(join(h.stateDir, 'state'), '1s'));
  const started = Date.now();
  const run = await runCli(['run', file, '--nodes', h.broker.address, '--until-idle', '--progress-interval', '0'], { timeoutMs: 30_000 });
  assert.equal(run.code, 3, run.stderr);
  assert.ok(Date.now() - started < 20_000, `failed in ${Date.now() - started} ms`);
  assert.match(run.stderr, /PROCESSOR_LOAD_FAILED: processor "stuck" \(.*init-hangs\.ts\) did not finish loading \(import and init\) within 1000 ms/);
  assert.match(run.stderr, /workerPool\.loadTimeout/);
  assert.equal((await h.client.getMany('inithang.in', 10)).length, 1, 'the record is still in the source');
});

test('SIGTERM while an init hangs (no load timeout) stops run at once with 143 instead of waiting forever', { timeout: 60_000 }, async (t) => {
  const h = await harness();
  t.after(() => h.close());
  await h.produce('inithang.in', [{ value: { n: 1 } }]);
  const file = join(h.stateDir, 'topology.yaml');
  await writeFile(file, topology(join(h.stateDir, 'state'), '0'));
  const child = spawn(process.execPath, [BIN, 'run', file, '--nodes', h.broker.address, '--until-idle', '--progress-interval', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  child.stdout.resume();
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // Loading has begun once the worker pool is up; give it a moment to be inside init.
  await new Promise((r) => setTimeout(r, 2_000));
  const signalled = Date.now();
  child.kill('SIGTERM');
  const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 15_000))]);
  assert.equal(code, 143, `exit after SIGTERM (${Date.now() - signalled} ms); stderr:\n${stderr}`);
  assert.match(stderr, /stopping \(SIGTERM\) during start-up/);
  assert.equal((await h.client.getMany('inithang.in', 10)).length, 1, 'nothing was fetched');
});
