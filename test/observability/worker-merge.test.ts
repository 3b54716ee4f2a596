import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { MetricsHub } from '../../src/observability/metrics/metrics-hub.js';
import { startObservabilityServer } from '../../src/observability/http/http-server.js';
import type { WorkerSeriesSnapshot } from '../../src/observability/metrics/worker-snapshot.js';
import { sample, scrape } from './fixtures/prom-text.js';

interface Task { id: number; records: number; hang?: boolean }
interface Reply { id: number; threadId: number; snapshot: WorkerSeriesSnapshot }

const BOOT = new URL('./fixtures/ts-worker-boot.mjs', import.meta.url);
const ENTRY = new URL('./fixtures/metrics-worker.ts', import.meta.url).href;

function expected(tasks: Task[]): { even: number; odd: number; sum: number } {
  let even = 0, odd = 0, sum = 0;
  for (const t of tasks) {
    even += Math.ceil(t.records / 2);
    odd += Math.floor(t.records / 2);
    for (let i = 0; i < t.records; i++) sum += i * 7;
  }
  return { even, odd, sum };
}

/** Runs tasks on real worker threads the way the runtime's pool does: one task per idle worker. */
class Pool {
  readonly hub: MetricsHub;
  readonly workers = new Set<Worker>();
  readonly done: Task[] = [];
  #waiting = new Map<Worker, { task: Task; resolve: () => void }>();

  constructor(hub: MetricsHub) { this.hub = hub; }

  spawn(): Worker {
    const worker = new Worker(BOOT, { workerData: { entry: ENTRY } });
    worker.on('message', (reply: Reply) => {
      // Exactly what the coordinator does with every result.
      const problems = this.hub.mergeWorkerSnapshot(reply.threadId, reply.snapshot);
      assert.deepEqual(problems, []);
      const pending = this.#waiting.get(worker)!;
      this.#waiting.delete(worker);
      this.done.push(pending.task);
      pending.resolve();
    });
    this.workers.add(worker);
    return worker;
  }

  run(worker: Worker, task: Task): Promise<void> {
    return new Promise((resolve) => {
      this.#waiting.set(worker, { task, resolve });
      worker.postMessage(task);
    });
  }

  async runAll(tasks: Task[]): Promise<void> {
    const queue = [...tasks];
    await Promise.all([...this.workers].map(async (w) => {
      for (let t = queue.shift(); t !== undefined; t = queue.shift()) await this.run(w, t);
    }));
  }

  async close(): Promise<void> {
    await Promise.all([...this.workers].map((w) => w.terminate()));
  }
}

test('scrapes equal exact totals across worker threads, also after a worker is killed and replaced', async () => {
  const hub = new MetricsHub({ processMetrics: false });
  const server = await startObservabilityServer({ port: 0, metrics: hub });
  const pool = new Pool(hub);
  try {
    for (let i = 0; i < 3; i++) pool.spawn();
    const first = Array.from({ length: 30 }, (_, i) => ({ id: i, records: 1 + (i % 9) }));
    await pool.runAll(first);

    // During the run: the scrape equals what the workers reported so far.
    let body = (await scrape(server.address)).body;
    let want = expected(pool.done);
    assert.equal(sample(body, 'orders_handled_total', { kind: 'even' }), want.even);
    assert.equal(sample(body, 'orders_handled_total', { kind: 'odd' }), want.odd);

    // A worker dies mid-task: it counted the task's records but never reported them.
    const victim = [...pool.workers][0]!;
    const doomed: Task = { id: 100, records: 11 };
    victim.postMessage({ ...doomed, hang: true });
    await new Promise((r) => setTimeout(r, 50));
    await victim.terminate();
    pool.workers.delete(victim);
    hub.recordWorkerReplaced();
    pool.spawn();

    body = (await scrape(server.address)).body;
    assert.equal(sample(body, 'orders_handled_total', { kind: 'even' }), want.even, 'the dead worker\'s unreported work is not counted');

    // The runtime re-dispatches the task to the replacement, then the run goes on.
    const second = [doomed, ...Array.from({ length: 30 }, (_, i) => ({ id: 200 + i, records: 2 + (i % 5) }))];
    await pool.runAll(second);

    body = (await scrape(server.address)).body;
    want = expected([...first, ...second]);
    assert.equal(pool.done.length, first.length + second.length);
    assert.equal(sample(body, 'orders_handled_total', { kind: 'even' }), want.even);
    assert.equal(sample(body, 'orders_handled_total', { kind: 'odd' }), want.odd);
    assert.equal(sample(body, 'orders_size_bytes_count'), want.even + want.odd);
    assert.equal(sample(body, 'orders_size_bytes_sum'), want.sum);
    assert.equal(sample(body, 'orders_size_bytes_bucket', { le: '+Inf' }), want.even + want.odd);
    assert.equal(sample(body, 'walrus_stream_worker_replacements_total'), 1);
  } finally {
    await pool.close();
    await server.close();
  }
});
