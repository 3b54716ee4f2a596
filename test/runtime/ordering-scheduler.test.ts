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

test('key runs: an owner taken brings the records waiting behind it, in order, while `chain` accepts; the key passes on only when the whole run is done', () => {
  const s = new OrderingScheduler<Job>('key');
  const jobs = [{ key: 'a', seq: 0 }, { key: 'b', seq: 1 }, { key: 'a', seq: 2 }, { key: 'a', seq: 3 }, { key: 'a', seq: 4 }, { key: 'b', seq: 5 }];
  for (const j of jobs) s.enqueue(j);
  // seq 4 is not chainable: the run of a stops before it (order kept), and b's run takes seq 5.
  const links: Array<[number, number]> = [];
  const taken = s.take(10, (last, next) => { if (next.seq === 4) return false; links.push([last.seq, next.seq]); return true; });
  assert.deepEqual(taken.map((j) => j.seq), [0, 2, 3, 1, 5]);
  assert.deepEqual(links, [[0, 2], [2, 3], [1, 5]]);
  assert.equal(s.queued, 1);
  s.complete(jobs[0]!);
  s.complete(jobs[2]!);
  assert.deepEqual(s.take(10), [], 'a is still held by seq 3');
  s.complete(jobs[3]!);
  assert.deepEqual(s.take(10).map((j) => j.seq), [4]);
  // `max` bounds a run too.
  const t = new OrderingScheduler<Job>('key');
  for (let i = 0; i < 5; i++) t.enqueue({ key: 'k', seq: i });
  assert.deepEqual(t.take(3, () => true).map((j) => j.seq), [0, 1, 2]);
});

test('key runs: deferred records go back to the front of their key\'s line, in order, behind the run\'s unfinished records', () => {
  const s = new OrderingScheduler<Job>('key');
  const jobs = Array.from({ length: 5 }, (_, seq) => ({ key: 'a', seq }));
  for (const j of jobs) s.enqueue(j);
  const run = s.take(3, () => true);
  assert.deepEqual(run.map((j) => j.seq), [0, 1, 2]);
  // seq 0 failed (a retry keeps the key), 1 and 2 did not run.
  s.defer([jobs[1]!, jobs[2]!]);
  assert.equal(s.queued, 4);
  s.requeue(jobs[0]!);
  assert.deepEqual(s.take(10, () => true).map((j) => j.seq), [0], 'a retry brings no run');
  s.complete(jobs[0]!);
  assert.deepEqual(s.take(10, () => true).map((j) => j.seq), [1, 2, 3, 4]);
});

test('property: runs with random failures, deferrals and completion order keep per-key completion order equal to arrival order, one batch per key at a time', () => {
  fc.assert(fc.property(
    fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 150 }),
    fc.array(fc.nat(), { minLength: 1, maxLength: 300 }),
    (keys, picks) => {
      const s = new OrderingScheduler<Job>('key');
      keys.forEach((k, seq) => s.enqueue({ key: String(k), seq }));
      let p = 0;
      const pick = () => picks[p++ % picks.length]!;
      const batches: Job[][] = [];
      const completed = new Map<string, number[]>();
      const retrying = new Set<Job>();
      let guard = 0;
      while (s.queued > 0 || batches.length > 0) {
        assert.ok(guard++ < 10_000, 'no progress');
        const taken = s.take(1 + (pick() % 6), () => pick() % 4 !== 0);
        if (taken.length > 0) {
          for (const j of taken) assert.ok(!batches.some((b) => b.some((r) => r.key === j.key)), `key ${j.key} in two batches at once`);
          batches.push(taken);
        }
        if (batches.length === 0) continue;
        // One batch comes back: per key, the first record of its run fails now and then (a retry, later
        // complete); the records after it in the batch are then deferred.
        const [batch] = batches.splice(pick() % batches.length, 1);
        const failedKeys = new Set<string>();
        const deferred: Job[] = [];
        const done: Job[] = [];
        for (const j of batch!) {
          if (failedKeys.has(j.key!)) { deferred.push(j); continue; }
          if (!retrying.has(j) && pick() % 5 === 0) { failedKeys.add(j.key!); retrying.add(j); s.requeue(j); continue; }
          done.push(j);
        }
        s.defer(deferred);
        for (const j of done) {
          completed.set(j.key!, [...(completed.get(j.key!) ?? []), j.seq]);
          s.complete(j);
        }
      }
      for (const [key, seqs] of completed) assert.deepEqual(seqs, keys.flatMap((k, seq) => (String(k) === key ? [seq] : [])));
      assert.equal([...completed.values()].reduce((a, l) => a + l.length, 0), keys.length);
    },
  ));
});
