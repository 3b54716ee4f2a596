import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { readStepDeadline, StepDeadlines, type ThreadSteps } from '../../src/runtime/worker/step-deadlines.js';
import { TaskWatchdog } from '../../src/runtime/pool/timeout-watchdog.js';

test('StepDeadlines publishes the earliest deadline of the steps in flight, in shared memory: steps without a timeout add none; ending the earliest moves it to the next', () => {
  const d = new StepDeadlines();
  assert.ok(d.buffer instanceof SharedArrayBuffer);
  assert.equal(readStepDeadline(d.buffer).at, 0);
  assert.equal(d.begin(0), 0, 'no timeout: nothing to watch');
  assert.equal(readStepDeadline(d.buffer).at, 0);
  const before = Date.now();
  const long = d.begin(30_000);
  const short = d.begin(200);
  const mid = d.begin(5_000);
  const after = Date.now();
  const at = readStepDeadline(d.buffer).at;
  assert.ok(at >= before + 200 && at <= after + 200, 'the 200 ms step is the earliest');
  d.end(mid);
  assert.equal(readStepDeadline(d.buffer).at, at, 'ending a later one changes nothing');
  d.end(short);
  const next = readStepDeadline(d.buffer).at;
  assert.ok(next >= before + 30_000 && next <= after + 30_000, 'then the 30 s step');
  d.end(short); // twice: ignored
  d.end(0);
  assert.equal(readStepDeadline(d.buffer).at, next);
  d.end(long);
  assert.equal(readStepDeadline(d.buffer).at, 0, 'none in flight');
});

test('StepDeadlines: steps that began in the same millisecond with the same timeout share a deadline; each end takes one of them off', () => {
  const d = new StepDeadlines();
  // Begun in a burst (often within one millisecond: equal tokens), ended in the other order.
  const tokens = Array.from({ length: 50 }, () => d.begin(1_000));
  const latest = Math.max(...tokens);
  for (let i = 0; i < tokens.length - 1; i++) {
    d.end(tokens[i]!);
    const left = tokens.slice(i + 1);
    assert.equal(readStepDeadline(d.buffer).at, Math.min(...left), `after ${i + 1} ends the earliest of the steps left is published`);
  }
  assert.equal(readStepDeadline(d.buffer).at, latest);
  d.end(tokens[tokens.length - 1]!);
  assert.equal(readStepDeadline(d.buffer).at, 0, 'none in flight');
});

test('StepDeadlines publishes the task of the earliest step with it: steps of several tasks in one thread, each ended by its own task', () => {
  const d = new StepDeadlines();
  const a = d.forTask(7);
  const b = d.forTask(9);
  const slow = a.begin(30_000);
  assert.equal(readStepDeadline(d.buffer).task, 7);
  const fast = b.begin(200);
  assert.equal(readStepDeadline(d.buffer).task, 9, 'the 200 ms step of task 9 is the earliest');
  // Task 7 cannot end task 9's step, even with an equal token.
  a.end(fast);
  assert.deepEqual(readStepDeadline(d.buffer), { at: fast, task: 9, holder: 0, since: 0 });
  b.end(fast);
  assert.deepEqual(readStepDeadline(d.buffer), { at: slow, task: 7, holder: 0, since: 0 }, 'then task 7\'s step');
  const same = b.begin(30_000);
  if (same === slow) {
    // Begun in the same millisecond: equal deadlines of two tasks; ending one leaves the other's published.
    b.end(same);
    assert.deepEqual(readStepDeadline(d.buffer), { at: slow, task: 7, holder: 0, since: 0 });
  } else b.end(same);
  a.end(slow);
  assert.deepEqual(readStepDeadline(d.buffer), { at: 0, task: 0, holder: 0, since: 0 }, 'none in flight');
});

test('StepDeadlines publishes the task whose step is inside its synchronous call, and since when: until the call returns a promise (yielded) or the step ends; a step without a timeout too', () => {
  const d = new StepDeadlines();
  const a = d.forTask(7);
  const b = d.forTask(9);
  const before = Date.now();
  const slow = a.begin(30_000);
  const held = readStepDeadline(d.buffer);
  assert.deepEqual([held.at, held.task, held.holder], [slow, 7, 7]);
  assert.ok(held.since >= before && held.since <= Date.now(), 'since the call began');
  a.yielded(); // its call returned a promise: it goes on in callbacks
  assert.deepEqual(readStepDeadline(d.buffer), { at: slow, task: 7, holder: 0, since: 0 });
  const none = b.begin(0);
  assert.equal(none, 0, 'no timeout: no deadline');
  assert.deepEqual([readStepDeadline(d.buffer).at, readStepDeadline(d.buffer).holder], [slow, 9], 'yet it holds the thread');
  b.end(none);
  assert.deepEqual(readStepDeadline(d.buffer), { at: slow, task: 7, holder: 0, since: 0 }, 'it returned its result');
  const later = b.begin(60_000);
  assert.deepEqual([readStepDeadline(d.buffer).task, readStepDeadline(d.buffer).holder], [7, 9], 'the earliest deadline stays task 7\'s');
  b.end(later);
  a.end(slow);
  assert.deepEqual(readStepDeadline(d.buffer), { at: 0, task: 0, holder: 0, since: 0 }, 'none in flight');
});

test('TaskWatchdog: a step past its deadline expires only the task it belongs to, not the other tasks on its thread; an owner it cannot find expires every task there', async () => {
  const published = new Map<number, { at: number; task: number }>();
  const dog = new TaskWatchdog();
  dog.watchSteps((threadId) => ({ at: 0, task: 0, holder: 0, since: 0, ...published.get(threadId) }), 20);
  const a = dog.watch(0);
  const b = dog.watch(0);
  const c = dog.watch(0);
  dog.started(a.taskId, 1);
  dog.started(b.taskId, 1);
  dog.started(c.taskId, 2);
  published.set(1, { at: Date.now() - 1_000, task: b.taskId });
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.equal(b.signal.aborted, true, 'the owner of the late step');
  assert.equal(a.signal.aborted, false, 'a task sharing its thread');
  assert.equal(c.signal.aborted, false, 'a task on another thread');
  assert.equal(dog.finish(b.taskId), 'step');
  // The thread is being ended for b: its late deadline stays published, b is gone, yet a is lost with it, not late.
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.equal(a.signal.aborted, false, 'a task on a thread ended for another');
  assert.equal(dog.finish(a.taskId), false);
  const d = dog.watch(0);
  dog.started(d.taskId, 2);
  published.set(2, { at: Date.now() - 1_000, task: 999 });
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.equal(c.signal.aborted && d.signal.aborted, true, 'owner unknown: every task on thread 2');
  dog.close();
});

test('TaskWatchdog: a task holding its thread in one synchronous call since before another task\'s deadline passed expires instead of it (a step deadline or a task\'s own); one whose call began after that does not', async () => {
  const published = new Map<number, Partial<ThreadSteps>>();
  const dog = new TaskWatchdog();
  dog.watchSteps((threadId) => ({ at: 0, task: 0, holder: 0, since: 0, ...published.get(threadId) }), 20);
  const now = Date.now();
  // Thread 1: a's step is past its deadline, but b has held the thread since before it passed: a could not run.
  const a = dog.watch(0);
  const b = dog.watch(0);
  dog.started(a.taskId, 1);
  dog.started(b.taskId, 1);
  published.set(1, { at: now - 1_000, task: a.taskId, holder: b.taskId, since: now - 1_500 });
  // Thread 2: d's call began after c's deadline had passed: c had the thread then and did not finish.
  const c = dog.watch(0);
  const d = dog.watch(0);
  dog.started(c.taskId, 2);
  dog.started(d.taskId, 2);
  published.set(2, { at: now - 1_000, task: c.taskId, holder: d.taskId, since: now - 500 });
  // Thread 3: no step deadline; e's own (50 ms) passes while f has held the thread since before.
  const e = dog.watch(50);
  const f = dog.watch(0);
  dog.started(e.taskId, 3);
  dog.started(f.taskId, 3);
  published.set(3, { holder: f.taskId, since: now - 1_000 });
  await new Promise((resolve) => setTimeout(resolve, 150));
  assert.deepEqual([a.signal.aborted, b.signal.aborted], [false, true], 'thread 1: the holder, not the owner of the late step');
  assert.deepEqual([c.signal.aborted, d.signal.aborted], [true, false], 'thread 2: the owner of the late step');
  assert.deepEqual([e.signal.aborted, f.signal.aborted], [false, true], 'thread 3: the holder, not the task past its own deadline');
  assert.match(String(b.signal.reason), /held its thread while another task's deadline passed/);
  assert.deepEqual([a, b, c, d, e, f].map((t) => dog.finish(t.taskId)), [false, 'held', 'step', false, false, 'held']);
  dog.close();
});

test('a seqlock left odd (a worker thread ended in the middle of a write) reads as nothing known, not as a main thread spinning forever', { timeout: 20_000 }, async () => {
  const d = new StepDeadlines();
  new Int32Array(d.buffer, 0, 1)[0] = 1;
  // In a thread of its own: the loop it must not become would stop this one's timers too.
  const reader = new Worker(`
    const { parentPort, workerData } = require('node:worker_threads');
    require('tsx/cjs');
    const { readStepDeadline } = require(workerData.module);
    parentPort.postMessage(readStepDeadline(workerData.buffer));
  `, { eval: true, workerData: { buffer: d.buffer, module: fileURLToPath(new URL('../../src/runtime/worker/step-deadlines.ts', import.meta.url)) } });
  try {
    const read = await Promise.race([
      once(reader, 'message').then(([steps]) => steps as ThreadSteps),
      sleep(10_000, undefined, { ref: false }).then(() => assert.fail('readStepDeadline still spinning after 10 s')),
    ]);
    assert.deepEqual(read, { at: 0, task: 0, holder: 0, since: 0 });
  } finally {
    await reader.terminate();
  }
});

test('TaskSupervisor: a task running one processor alone that is ended by its step deadline names that processor and its timeout, as when its own deadline ends it (whichever check sees it first)', async () => {
  const { TaskSupervisor } = await import('../../src/runtime/pool/crash-supervisor.js');
  const published = new Map<number, ThreadSteps>();
  const supervisor = new TaskSupervisor({ timeoutGraceMs: 20 });
  supervisor.watchSteps((threadId) => published.get(threadId) ?? { at: 0, task: 0, holder: 0, since: 0 });
  const messages: string[] = [];
  for (const [threadId, label] of [
    [41, { what: 'processor "b"', timeoutMs: 200, member: true }],
    [42, { what: 'stage group "g" (a, b)', timeoutMs: 30_200 }],
  ] as const) {
    const task = supervisor.begin(label, false);
    supervisor.onMessage({ __walrusTaskStarted: true, taskId: task.taskId, threadId, heapUsed: 0 });
    published.set(threadId, { at: Date.now() - 1_000, task: task.taskId, holder: 0, since: 0 });
    await new Promise((resolve) => setTimeout(resolve, 80));
    assert.equal(task.signal.aborted, true, `${label.what}: its step is past its deadline`);
    const failure = await supervisor.failed(task.taskId, label, new Error('terminated'));
    assert.equal(failure.rerun, false);
    messages.push(failure.rerun ? '' : failure.error.message);
  }
  supervisor.close();
  assert.match(messages[0]!, /^processor "b" did not return within its timeout of 200 ms plus a grace of 20 ms/);
  assert.match(messages[1]!, /^a processor of stage group "g" \(a, b\) did not return within its own timeout plus a grace of 20 ms/);
});

test('StepDeadlines publishes the record of the earliest step and of the step holding the thread; ending one of several steps begun in the same millisecond takes off that record\'s, not another\'s', () => {
  const d = new StepDeadlines();
  const clock = d.forTask(5);
  // Begun in one burst with one timeout: equal tokens (most often), records 0..3.
  const tokens = [0, 1, 2, 3].map((record) => clock.begin(1_000, record));
  assert.equal(readStepDeadline(d.buffer).holderRecord, 3, 'the last to begin holds the thread');
  clock.yielded();
  for (const record of [0, 1, 3]) clock.end(tokens[record]!, record);
  const left = readStepDeadline(d.buffer);
  assert.equal(left.task, 5);
  assert.equal(left.record, 2, 'the step still in flight is record 2\'s');
  assert.equal(left.holder, 0);
  clock.end(tokens[2]!, 2);
  assert.deepEqual(readStepDeadline(d.buffer), { at: 0, task: 0, holder: 0, since: 0 }, 'none in flight, no record named');
});

test('TaskWatchdog names the record a task is ended for: the late step\'s, or the one holding the thread when that is another', async () => {
  const published = new Map<number, ThreadSteps>();
  const dog = new TaskWatchdog();
  dog.watchSteps((threadId) => published.get(threadId) ?? { at: 0, task: 0, holder: 0, since: 0 }, 20);
  const late = dog.watch(0);
  const held = dog.watch(0);
  dog.started(late.taskId, 1);
  dog.started(held.taskId, 2);
  published.set(1, { at: Date.now() - 1_000, task: late.taskId, record: 4, holder: 0, since: 0 });
  // Thread 2: record 1's step is late, but record 6 of the same task has held the thread since before.
  published.set(2, { at: Date.now() - 1_000, task: held.taskId, record: 1, holder: held.taskId, holderRecord: 6, since: Date.now() - 5_000 });
  await new Promise((resolve) => setTimeout(resolve, 80));
  assert.equal(late.signal.aborted && held.signal.aborted, true);
  assert.equal(dog.culprit(late.taskId), 4);
  assert.equal(dog.culprit(held.taskId), 6);
  assert.equal(dog.finish(late.taskId), 'step');
  assert.equal(dog.culprit(late.taskId), undefined, 'forgotten with the task');
  dog.close();
});
