import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readStepDeadline, StepDeadlines } from '../../src/runtime/worker/step-deadlines.js';
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
  assert.deepEqual(readStepDeadline(d.buffer), { at: fast, task: 9 });
  b.end(fast);
  assert.deepEqual(readStepDeadline(d.buffer), { at: slow, task: 7 }, 'then task 7\'s step');
  const same = b.begin(30_000);
  if (same === slow) {
    // Begun in the same millisecond: equal deadlines of two tasks; ending one leaves the other's published.
    b.end(same);
    assert.deepEqual(readStepDeadline(d.buffer), { at: slow, task: 7 });
  } else b.end(same);
  a.end(slow);
  assert.deepEqual(readStepDeadline(d.buffer), { at: 0, task: 0 }, 'none in flight');
});

test('TaskWatchdog: a step past its deadline expires only the task it belongs to, not the other tasks on its thread; an owner it cannot find expires every task there', async () => {
  const published = new Map<number, { at: number; task: number }>();
  const dog = new TaskWatchdog();
  dog.watchSteps((threadId) => published.get(threadId) ?? { at: 0, task: 0 }, 20);
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
