import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { workerExecArgv } from '../../src/runtime/pool/worker-exec-argv.js';
import { harness, type Harness } from './harness.js';

// A worker thread inherits its process's flags. Inheriting `--import tsx`, piscina required the worker entry
// through tsx's CommonJS hook, which compiled it with esbuild and loaded tsx in every thread: ~250 ms of CPU per
// thread start (a test of 12 recycled threads: 8.7 s of CPU before, 4.1 s after).

test('a tsx preload is dropped from the flags of threads that run the built worker, in every spelling; other flags stay', () => {
  const flags = ['--import', 'tsx', '--import=tsx/esm', '--loader', 'tsx', '--experimental-loader=tsx', '--require', 'tsx/cjs', '-r', '/app/node_modules/tsx/dist/cjs/index.cjs',
    '--require', './otel.cjs', '--import=./setup.mjs', '--max-old-space-size=512', '--enable-source-maps'];
  assert.deepEqual(workerExecArgv(flags, true), ['--require', './otel.cjs', '--import=./setup.mjs', '--max-old-space-size=512', '--enable-source-maps']);
  // Threads running the sources (TypeScript) keep every flag: the loader is what runs them.
  assert.deepEqual(workerExecArgv(flags, false), flags);
  // A flag at the end with no value, and packages that only start like tsx, are kept.
  assert.deepEqual(workerExecArgv(['--import', 'tsx-extra', '--require'], true), ['--import', 'tsx-extra', '--require']);
});

let h: Harness;
before(async () => { h = await harness(); });
after(() => h.close());

test('a pipeline started in a process run with --import tsx: its worker threads start without it when they run the build', { timeout: 60_000 }, async () => {
  // The test runner starts this file's process with `--import tsx`: else there is nothing to drop.
  assert.ok(process.execArgv.join(' ').includes('tsx'), `this process's flags: ${process.execArgv.join(' ')}`);
  await h.produce('in', [{ value: { n: 1 } }]);
  await h.run(`
app: argv
stateDir: \${STATE_DIR}
workers: 1
sources:
  in: { topic: in, poll: { minInterval: 1ms, maxInterval: 20ms } }
processors:
  p: { module: ./exec-argv.ts, input: in }
sinks:
  out: { topic: out, input: p }
observability: { logLevel: silent }
`);
  const [out] = (await h.drain('out')).map((r) => r.value as { execArgv: string[] });
  assert.ok(out, 'the record came out');
  const built = process.env.WALRUS_STREAM_TEST_WORKER === 'built';
  assert.equal(out.execArgv.some((a) => a.includes('tsx')), !built, `worker flags (${built ? 'built' : 'sources'}): ${out.execArgv.join(' ')}`);
});
