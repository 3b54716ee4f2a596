import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { OrderingScheduler } from '../../src/runtime/coordinator/ordering-scheduler.js';
import { retryDelay } from '../../src/runtime/coordinator/backoff.js';

interface Job { key?: string; seq: number }

test('unordered: first come first served, up to max per take', () => {
  const s = new OrderingScheduler<Job>('unordered');
  for (let i = 0; i < 5; i++) s.enqueue({ key: 'k', seq: i });
  assert.deepEqual(s.take(3).map((j) => j.seq), [0, 1, 2]);
  assert.equal(s.queued, 2);
});

test('key: a key runs one record at a time; other keys and keyless records go in parallel', () => {
  const s = new OrderingScheduler<Job>('key');
  const jobs = [{ key: 'a', seq: 0 }, { key: 'a', seq: 1 }, { key: 'b', seq: 2 }, { seq: 3 }, { key: 'a', seq: 4 }];
  for (const j of jobs) s.enqueue(j);
  const first = s.take(10);
  assert.deepEqual(first.map((j) => j.seq), [0, 2, 3]);
  s.complete(first[0]);
  assert.deepEqual(s.take(10).map((j) => j.seq), [1]);
  s.complete(jobs[1]);
  assert.deepEqual(s.take(10).map((j) => j.seq), [4]);
  assert.equal(s.queued, 0);
});

test('key: a retried record keeps its key, so later records of that key wait for it', () => {
  const s = new OrderingScheduler<Job>('key');
  const a0 = { key: 'a', seq: 0 };
  s.enqueue(a0);
  s.enqueue({ key: 'a', seq: 1 });
  assert.deepEqual(s.take(10), [a0]);
  s.requeue(a0);
  assert.deepEqual(s.take(10), [a0]);
  s.complete(a0);
  assert.deepEqual(s.take(10).map((j) => j.seq), [1]);
});

test('property: with random completion order, per-key dispatch order equals arrival order and no key runs twice at once', () => {
  fc.assert(fc.property(
    fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 200 }),
    fc.array(fc.nat(), { minLength: 1, maxLength: 400 }),
    (keys, picks) => {
      const s = new OrderingScheduler<Job>('key');
      keys.forEach((k, seq) => s.enqueue({ key: String(k), seq }));
      const running: Job[] = [];
      const dispatched = new Map<string, number[]>();
      let p = 0;
      while (s.queued > 0 || running.length > 0) {
        for (const j of s.take(3)) {
          assert.ok(!running.some((r) => r.key === j.key), 'key already running');
          running.push(j);
          dispatched.set(j.key!, [...(dispatched.get(j.key!) ?? []), j.seq]);
        }
        const [done] = running.splice(picks[p++ % picks.length] % running.length, 1);
        s.complete(done);
      }
      for (const [key, seqs] of dispatched) {
        const expected = keys.flatMap((k, seq) => (String(k) === key ? [seq] : []));
        assert.deepEqual(seqs, expected);
      }
    },
  ));
});

test('retryDelay: exponential/linear/fixed, capped, with equal jitter', () => {
  const retry = { attempts: 5, backoff: 'exponential' as const, initialDelay: 100, maxDelay: 1_000 };
  assert.deepEqual([1, 2, 3, 4, 5].map((a) => retryDelay(retry, a, 0)), [50, 100, 200, 400, 500]);
  assert.deepEqual([1, 2, 3].map((a) => retryDelay(retry, a, 0.999999)), [100, 200, 400]);
  assert.equal(retryDelay({ ...retry, backoff: 'linear' }, 3, 0), 150);
  assert.equal(retryDelay({ ...retry, backoff: 'fixed' }, 4, 0), 50);
});
