import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { MetricsHub } from '../../src/observability/metrics/metrics-hub.js';
import { createProgressReporter, driveProgress, type IntervalTimers } from '../../src/observability/progress/progress-reporter.js';

function capture(): Writable & { writes: string[] } {
  const writes: string[] = [];
  const stream = new Writable({ write(chunk, _e, cb) { writes.push(String(chunk)); cb(); } }) as Writable & { writes: string[] };
  stream.writes = writes;
  return stream;
}

function fakeClockHub(): { hub: MetricsHub; advance: (ms: number) => void } {
  let now = 1_000_000;
  return { hub: new MetricsHub({ processMetrics: false, now: () => now }), advance: (ms) => { now += ms; } };
}

test('on a TTY the view is redrawn in place with rates, lag, DLQ and utilisation, and left showing the final totals', () => {
  const out = capture();
  const { hub, advance } = fakeClockHub();
  const reporter = createProgressReporter({ tty: true, stream: out, app: 'orders' });
  hub.setWorkers(4);
  hub.setWorkerUtilization(0.75);
  hub.recordFetched('orders', 100);
  hub.setSourceLag('orders', 12);
  reporter.update(hub.progress());
  assert.doesNotMatch(out.writes[0]!, /\x1b\[\d+F/, 'the first frame does not move the cursor');

  advance(2000);
  hub.recordFetched('orders', 500);
  hub.recordEmitted('accepted', 300);
  hub.recordRetried('parse', 2);
  hub.recordDeadLettered('parse', 1);
  hub.setInFlight(42);
  reporter.update(hub.progress());
  const frame = out.writes[1]!;
  assert.match(frame, /^\x1b\[2F/, 'moves up over the two lines drawn before');
  assert.match(frame, /walrus-stream orders {2}2\.0s {2}in-flight 42 {2}workers 4 \(75% busy\) {2}retries 2 {2}DLQ 1/);
  assert.match(frame, /source +orders +600 +250\.0\/s +lag 12/);
  assert.match(frame, /sink +accepted +300/);

  advance(1000);
  hub.recordFetched('orders', 100);
  reporter.finish(hub.progress());
  const last = out.writes[2]!;
  assert.match(last, /^\x1b\[3F/, 'the final frame replaces the 3-line view in place');
  assert.match(last, /walrus-stream orders {2}3\.0s .* {2}retries 2 {2}DLQ 1/);
  assert.match(last, /source +orders +700 +100\.0\/s/);
  reporter.update(hub.progress());
  assert.equal(out.writes.length, 3, 'updates after finish are ignored');
});

test('off a TTY: one JSON line per interval, then a JSON summary', () => {
  const out = capture();
  const { hub, advance } = fakeClockHub();
  const reporter = createProgressReporter({ tty: false, stream: out, app: 'orders', logIntervalMs: 5000 });
  for (let i = 0; i < 12; i++) {
    hub.recordFetched('orders', 10);
    reporter.update(hub.progress());
    advance(1000);
  }
  reporter.finish(hub.progress());
  const lines = out.writes.join('').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.type), ['progress', 'progress', 'progress', 'summary']);
  assert.deepEqual(lines.map((l) => l.elapsedMs), [0, 5000, 10000, 12000]);
  assert.equal(lines[1].rates.fetched.orders, 10, '50 records in 5 s');
  assert.equal(lines[3].fetched.orders, 120);
  assert.ok(out.writes.every((w) => !w.includes('\x1b')), 'no ANSI codes off a TTY');
});

test('driveProgress ticks on its timer and prints the summary on stop', () => {
  const out = capture();
  const { hub, advance } = fakeClockHub();
  let tick: (() => void) | undefined;
  let cleared = false;
  const timers: IntervalTimers = { setInterval: (fn) => { tick = fn; return 1; }, clearInterval: () => { cleared = true; } };
  const run = driveProgress(() => hub.progress(), createProgressReporter({ tty: false, stream: out, logIntervalMs: 1000 }), { timers });
  advance(1000);
  hub.recordEmitted('s', 5);
  tick!();
  run.stop();
  assert.ok(cleared);
  const lines = out.writes.join('').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.type), ['progress', 'progress', 'summary']);
  assert.equal(lines[1].emitted.s, 5);
});

test('log lines written above the live view do not get overwritten, and long lines are cut to the terminal', () => {
  const out = capture() as ReturnType<typeof capture> & { columns: number };
  out.columns = 40;
  const { hub } = fakeClockHub();
  const reporter = createProgressReporter({ tty: true, stream: out, app: 'orders' });
  hub.recordFetched('orders', 1);
  reporter.update(hub.progress());
  const lines = out.writes[0]!.split('\n').filter(Boolean);
  assert.equal(lines.length, 2);
  for (const line of lines) assert.ok(line.replace(/\x1b\[\d*[A-Za-z]/g, '').length < 40, line);

  reporter.writeAbove('{"level":"info","msg":"hello"}\n');
  const frame = out.writes[1]!;
  // Up over the 2-line view, clear it, back up, write the log line, redraw the view below it.
  assert.ok(frame.startsWith('\x1b[2F\x1b[2K\n\x1b[2K\n\x1b[2F{"level":"info","msg":"hello"}\n\x1b[2K'), JSON.stringify(frame));
  assert.equal(frame.split('\n').filter((l) => l.includes('walrus-stream orders')).length, 1);
  reporter.update(hub.progress());
  assert.ok(out.writes[2]!.startsWith('\x1b[2F'), 'the next update moves up over the redrawn view only');

  const plain = capture();
  const json = createProgressReporter({ tty: false, stream: plain });
  json.writeAbove('line\n');
  assert.deepEqual(plain.writes, ['line\n']);
});

test('a logger writing through linesAboveProgress lands above the view', async () => {
  const { createLogger } = await import('../../src/observability/logs/logger.js');
  const { linesAboveProgress } = await import('../../src/observability/progress/progress-reporter.js');
  const out = capture();
  const { hub } = fakeClockHub();
  const reporter = createProgressReporter({ tty: true, stream: out, app: 'orders' });
  reporter.update(hub.progress());
  const logger = createLogger({ destination: linesAboveProgress(reporter, false) });
  logger.info('fetched a batch');
  await new Promise((r) => setImmediate(r));
  const frame = out.writes.at(-1)!;
  assert.match(frame, /"msg":"fetched a batch"\}\n\x1b\[2Kwalrus-stream orders/);
});
