import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import runCommand from '../../src/cli/commands/run.js';
import { startBroker } from '../../src/broker/index.js';
import { WalrusClient } from '../../src/client/index.js';
import { decodeEntry } from '../../src/codec/index.js';
import { parseDeadLetter } from '../../src/runtime/coordinator/dead-letter.js';
import { KeyValueStore, parseWindowKey, storeDir } from '../../src/state/index.js';
import type { PipelineSummary } from '../../src/runtime/coordinator/pipeline-stats.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
let stateDir: string;
before(async () => { stateDir = await mkdtemp(join(tmpdir(), 'walrus-example-')); });
after(() => rm(stateDir, { recursive: true, force: true }));

function sink(): Writable & { text: string } {
  const out = new Writable({ write(chunk, _enc, done) { out.text += String(chunk); done(); } }) as Writable & { text: string };
  out.text = '';
  return out;
}

/** `npm start`, in-process: the README's first command, against a temp state dir. */
async function npmStart(): Promise<{ code: number; summary: PipelineSummary; stderr: string }> {
  const stdout = sink();
  const stderr = sink();
  const code = await runCommand.run(
    ['topology.yaml', '--until-idle', '--seed', 'orders=examples/orders.jsonl', '--json'],
    { stdout, stderr, stdin: process.stdin, env: { ...process.env, WALRUS_STATE_DIR: stateDir }, cwd: root },
  );
  return { code, summary: JSON.parse(stdout.text) as PipelineSummary, stderr: stderr.text };
}

test('the bundled example runs to completion with exact counts, and a second run does not load the sample twice', async () => {
  const first = await npmStart();
  assert.equal(first.code, 0, first.stderr);
  const s = first.summary;
  assert.equal(s.sources.orders.records, 2_000);
  assert.deepEqual(
    Object.fromEntries(Object.entries(s.processors).map(([n, c]) => [n, [c.processed, c.deadLettered, c.retries]])),
    { parse: [1_987, 13, 0], enrich: [1_987, 0, 0], route: [1_987, 0, 0], revenue: [1_987, 0, 0] },
  );
  assert.equal(s.sinks.accepted.records, 1_825);
  assert.equal(s.sinks.review.records, 162);
  assert.equal(s.sinks.revenue.records, 1_987);
  assert.deepEqual(s.deadLetters, { 'orders.dlq': 13 });
  assert.match(first.stderr, /seed: loaded 2000 entries/);

  const second = await npmStart();
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stderr, /already loaded/);
  assert.equal(second.summary.sources.orders?.records ?? 0, 0);

  // What landed in the node: open its data dir again and read the topics.
  const node = await startBroker({ host: '127.0.0.1', port: 0, dataDir: join(stateDir, 'node'), fsync: 'never' });
  const client = new WalrusClient({ nodes: [node.address] });
  try {
    const readAll = async (topic: string) => {
      const out: string[] = [];
      for (let got = await client.getMany(topic, 1000); got.length > 0; got = await client.getMany(topic, 1000)) {
        out.push(...got.map((b) => b.toString('utf8')));
      }
      return out;
    };
    const lines = (await readFile(join(root, 'examples/orders.jsonl'), 'utf8')).trim().split('\n');
    const dead = (await readAll('orders.dlq')).map(parseDeadLetter);
    assert.equal(dead.length, 13);
    for (const d of dead) {
      assert.ok(lines.includes(d.original), 'a dead letter keeps the original line byte for byte');
      assert.equal(d.processor, 'parse');
      assert.equal(d.error.code, 'NON_RETRIABLE');
      assert.equal(d.sourceTopic, 'orders');
      assert.equal(d.attempts, 1);
    }
    const reasons = dead.map((d) => d.error.message);
    assert.equal(reasons.filter((r) => r.startsWith('malformed JSON')).length, 6);
    assert.ok(reasons.includes('invalid order o-01024: "currency" must be one of EUR, USD, GBP (got "BTC")'), reasons.join('\n'));
    assert.ok(reasons.includes('invalid order o-00333: items[0].qty must be a positive integer (got 0)'));

    const values = async (topic: string) => (await readAll(topic)).flatMap((e) => decodeEntry(e))
      .map((r) => ({ key: r.key, headers: r.headers, order: JSON.parse(Buffer.from(r.value).toString('utf8')) as { totalEur: number; tier: string; customerId: string; orderId: string } }));
    const review = await values('orders.review');
    const accepted = await values('orders.accepted');
    assert.equal(review.length, 162);
    assert.equal(accepted.length, 1_825);
    for (const r of review) assert.ok(r.order.totalEur >= (r.order.tier === 'gold' ? 4_000 : 2_000));
    for (const r of accepted) assert.ok(r.order.totalEur < (r.order.tier === 'gold' ? 4_000 : 2_000));
    for (const r of [...review, ...accepted]) {
      assert.equal(r.key, r.order.customerId);
      assert.equal(r.headers['order-tier'], r.order.tier);
    }

    // The stateful step: revenue per customer per hour of createdAt, from every enriched order.
    const hour = (iso: string) => Math.floor(Date.parse(iso) / 3_600_000) * 3_600_000;
    const expected = new Map<string, { cents: number; orders: number }>();
    for (const r of [...review, ...accepted]) {
      const o = r.order as unknown as { customerId: string; createdAt: string; totalEur: number };
      const k = `${o.customerId}@${new Date(hour(o.createdAt)).toISOString()}`;
      const e = expected.get(k) ?? { cents: 0, orders: 0 };
      expected.set(k, { cents: e.cents + Math.round(o.totalEur * 100), orders: e.orders + 1 });
    }
    assert.equal(expected.size, 1_414);
    const revenue = (await readAll('orders.revenue')).flatMap((e) => decodeEntry(e))
      .map((r) => JSON.parse(Buffer.from(r.value).toString('utf8')) as { customerId: string; from: string; revenueEur: number; orders: number; final: boolean });
    assert.equal(revenue.length, 1_987);
    // Each window's last figure (most orders) is its exact total; every order emitted one running figure.
    const last = new Map<string, { cents: number; orders: number }>();
    for (const r of revenue) {
      const k = `${r.customerId}@${r.from}`;
      if ((last.get(k)?.orders ?? 0) < r.orders) last.set(k, { cents: Math.round(r.revenueEur * 100), orders: r.orders });
      assert.equal(r.final, false, 'a day of grace: no window of the sample closes');
    }
    assert.deepEqual(last, expected);
    // ...and the store holds the same windows (ctx.state('revenue') in the workers, committed with each release).
    const store = await KeyValueStore.open({ dir: storeDir(stateDir, 'orders', 'revenue'), name: 'revenue' });
    try {
      const windows = store.range<{ revenueEur: number; orders: number }>().flatMap(({ key, value }) => {
        const w = parseWindowKey(key);
        return w ? [[`${w.key}@${new Date(w.start).toISOString()}`, { cents: Math.round(value.revenueEur * 100), orders: value.orders }] as const] : [];
      });
      assert.deepEqual(new Map(windows), expected);
    } finally {
      await store.close();
    }
  } finally {
    await client.close();
    await node.close();
  }
});
