import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readStepDeadline, StepDeadlines } from '../../src/runtime/worker/step-deadlines.js';

test('StepDeadlines publishes the earliest deadline of the steps in flight, in shared memory: steps without a timeout add none; ending the earliest moves it to the next', () => {
  const d = new StepDeadlines();
  assert.ok(d.buffer instanceof SharedArrayBuffer);
  assert.equal(readStepDeadline(d.buffer), 0);
  assert.equal(d.begin(0), 0, 'no timeout: nothing to watch');
  assert.equal(readStepDeadline(d.buffer), 0);
  const before = Date.now();
  const long = d.begin(30_000);
  const short = d.begin(200);
  const mid = d.begin(5_000);
  const after = Date.now();
  const at = readStepDeadline(d.buffer);
  assert.ok(at >= before + 200 && at <= after + 200, 'the 200 ms step is the earliest');
  d.end(mid);
  assert.equal(readStepDeadline(d.buffer), at, 'ending a later one changes nothing');
  d.end(short);
  const next = readStepDeadline(d.buffer);
  assert.ok(next >= before + 30_000 && next <= after + 30_000, 'then the 30 s step');
  d.end(short); // twice: ignored
  d.end(0);
  assert.equal(readStepDeadline(d.buffer), next);
  d.end(long);
  assert.equal(readStepDeadline(d.buffer), 0, 'none in flight');
});

test('StepDeadlines: steps that began in the same millisecond with the same timeout share a deadline; each end takes one of them off', () => {
  const d = new StepDeadlines();
  // Begun in a burst (often within one millisecond: equal tokens), ended in the other order.
  const tokens = Array.from({ length: 50 }, () => d.begin(1_000));
  const latest = Math.max(...tokens);
  for (let i = 0; i < tokens.length - 1; i++) {
    d.end(tokens[i]!);
    const left = tokens.slice(i + 1);
    assert.equal(readStepDeadline(d.buffer), Math.min(...left), `after ${i + 1} ends the earliest of the steps left is published`);
  }
  assert.equal(readStepDeadline(d.buffer), latest);
  d.end(tokens[tokens.length - 1]!);
  assert.equal(readStepDeadline(d.buffer), 0, 'none in flight');
});
