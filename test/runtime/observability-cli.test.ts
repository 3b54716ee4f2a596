import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.js';
import { EXIT } from '../../src/cli/command.js';
import { harness, type Harness } from './harness.js';

let h: Harness;
before(async () => { h = await harness(); });
after(() => h.close());

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

function cli(args: string[], stderr = new Capture()): { done: Promise<number>; stdout: Capture; stderr: Capture } {
  const stdout = new Capture();
  return { done: main(args, { stdout, stderr, stdin: process.stdin, env: {}, cwd: process.cwd() }), stdout, stderr };
}

test('run --metrics-address serves the pipeline; metrics --pipeline prints its series and readiness; off a TTY run logs JSON progress', async () => {
  const n = 60;
  await h.produce('in', Array.from({ length: n }, () => ({ value: { ms: 10 } })));
  const file = join(h.stateDir, 'topology.yaml');
  await writeFile(file, `
app: clitest
stateDir: ${h.stateDir}
workers: 1
sources:
  in: { topic: in, poll: { minInterval: 1ms, maxInterval: 20ms, batchSize: 5 } }
processors:
  slow: { module: ${fileURLToPath(new URL('../fixtures/processors/slow.ts', import.meta.url))}, input: in, batchSize: 5, concurrency: 1 }
sinks:
  out: { topic: out, input: slow }
`);
  const run = cli(['run', file, '--nodes', h.broker.address, '--until-idle', '--metrics-address', '127.0.0.1:0', '--progress-interval', '50', '--json']);
  let address: string | undefined;
  for (let i = 0; i < 200 && address === undefined; i++) {
    address = /metrics: http:\/\/(\S+)\/metrics/.exec(run.stderr.text)?.[1];
    if (address === undefined) await new Promise((r) => setTimeout(r, 25));
  }
  assert.ok(address, run.stderr.text);
  // The endpoint is up from the start of `run`, before the pipeline is ready (exit 3, with
  // the start-up reason) and before the first fetch is counted: scrape until both (bounded).
  let shown = cli(['metrics', '--pipeline', `http://${address}/metrics`]);
  let code = await shown.done;
  for (let i = 0; i < 200 && (code !== EXIT.OK || !/records_fetched_total\s+source=in\s+\d+/.test(shown.stdout.text)); i++) {
    if (code !== EXIT.OK) assert.match(shown.stdout.text, /ready:\s+not ready\n\s+- /, shown.stderr.text);
    await new Promise((r) => setTimeout(r, 20));
    shown = cli(['metrics', '--pipeline', `http://${address}/metrics`]);
    code = await shown.done;
  }
  assert.equal(code, EXIT.OK, shown.stdout.text + shown.stderr.text);
  assert.match(shown.stdout.text, /records_fetched_total\s+source=in\s+\d+/);
  assert.match(shown.stdout.text, /ready:\s+ready/);
  assert.equal(await run.done, EXIT.OK, run.stderr.text);
  const summary = JSON.parse(run.stdout.text) as { sinks: { out: { records: number } } };
  assert.equal(summary.sinks.out.records, n);
  const progress = run.stderr.text.split('\n').filter((l) => l.startsWith('{"type":"progress"')).map((l) => JSON.parse(l) as { app: string });
  assert.ok(progress.length >= 1, run.stderr.text);
  assert.equal(progress[0].app, 'clitest');

  // Once the pipeline is gone: a clear error and a failure exit.
  const gone = cli(['metrics', '--pipeline', address]);
  assert.equal(await gone.done, EXIT.FAILURE);
  assert.match(gone.stderr.text, /is it running, with observability.http set to that address\?/);
  const bad = cli(['metrics', '--pipeline', 'nonsense']);
  assert.equal(await bad.done, EXIT.USAGE);
});

test('run on a TTY draws the live view in place (rates, in-flight, workers, retries, DLQ, lag)', async () => {
  const n = 60;
  // 12 batches of 5 concurrent 80 ms records: about a second, several redraws.
  await h.produce('tty.in', Array.from({ length: n }, () => ({ value: { ms: 80 } })));
  const file = join(h.stateDir, 'tty.yaml');
  await writeFile(file, `
app: ttyapp
stateDir: ${h.stateDir}
workers: 1
sources:
  in: { topic: tty.in, poll: { minInterval: 1ms, maxInterval: 20ms, batchSize: 5 } }
processors:
  slow: { module: ${fileURLToPath(new URL('../fixtures/processors/slow.ts', import.meta.url))}, input: in, batchSize: 5, concurrency: 1 }
sinks:
  out: { topic: tty.out, input: slow }
`);
  const stderr = Object.assign(new Capture(), { isTTY: true, columns: 120 });
  const run = cli(['run', file, '--nodes', h.broker.address, '--until-idle'], stderr);
  assert.equal(await run.done, EXIT.OK, stderr.text);
  assert.match(stderr.text, /\x1b\[2Kwalrus-stream ttyapp/);
  assert.match(stderr.text, /in-flight \d+/);
  assert.match(stderr.text, /workers 1 \(\d+% busy\)/);
  assert.match(stderr.text, /retries 0/);
  assert.match(stderr.text, /DLQ 0/);
  assert.match(stderr.text, /source\s+in\s+[\d,]+\s+\S+\/s\s+lag [\d,]+/);
  assert.match(stderr.text, /\x1b\[\d+F/, 'redrawn in place (cursor up)');
  assert.match(run.stdout.text, /ttyapp/);
  await h.drain('tty.out');
});

test('the final summary line gives how busy the workers were during the run: loading processors before it is not counted', { timeout: 60_000 }, async () => {
  await h.produce('busy.in', Array.from({ length: 40 }, () => ({ value: { ms: 20 } })));
  const file = join(h.stateDir, 'busy.yaml');
  await writeFile(file, `
app: busytest
stateDir: ${h.stateDir}
workers: 2
sources:
  in: { topic: busy.in, poll: { minInterval: 1ms, maxInterval: 20ms } }
processors:
  p: { module: ${fileURLToPath(new URL('../fixtures/processors/slow-init.ts', import.meta.url))}, input: in, batchSize: 4 }
sinks:
  out: { topic: busy.out, input: p }
`);
  const run = cli(['run', file, '--nodes', h.broker.address, '--until-idle', '--progress-interval', '50']);
  assert.equal(await run.done, EXIT.OK, run.stderr.text);
  const summary = run.stderr.text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type?: string; utilization?: number }).find((l) => l.type === 'summary');
  assert.ok(summary, run.stderr.text);
  // Each thread spun 1.5 s in init before the run; during it they only awaited: before, those 1.5 s counted (1, capped).
  assert.ok(summary.utilization! < 0.5, `utilization ${summary.utilization}`);
});
