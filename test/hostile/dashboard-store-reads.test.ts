import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeadLetterRing, MetricsHub, StatsSampler, createDashboard, startObservabilityServer } from '../../src/observability/index.js';
import { parseDeadLetter } from '../../src/runtime/coordinator/dead-letter.js';
import { KeyValueStore, inspectStore, storeDir } from '../../src/state/index.js';

/**
 * Attack: ask the dashboard's store browser for a big store on many
 * connections at once (a web page can fire such GETs at a loopback port).
 * Each read loads the store's files whole: before the fix, 30 concurrent
 * reads of a 120 MB store ran at once and took the run to 3.8 GB RSS. Now
 * reads run one at a time, at most MAX_STORE_READS queued; more get a 503
 * saying so.
 */

function get(port: number, path: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString('utf8'); });
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    }).on('error', reject).end();
  });
}

test('concurrent store reads run one at a time; past the queue they get a 503 saying why', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'walrus-store-reads-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = await KeyValueStore.open({ dir: storeDir(dir, 'app', 'big'), name: 'big' });
  for (let b = 0; b < 20; b++) {
    const cs = store.changeSet();
    for (let i = 0; i < 50; i++) cs.put(`k${b}-${i}`, 'x'.repeat(30_000));
    await store.commit(cs, [`r${b}`]);
  }
  await store.compact();
  await store.close();

  const hub = new MetricsHub({ processMetrics: false });
  const sampler = new StatsSampler({ progress: () => hub.progress(), processors: () => ({}) });
  let running = 0;
  let most = 0;
  const dashboard = createDashboard({
    topology: { app: 'app', stores: ['big'], nodes: [], edges: [], instance: { id: null, index: null, count: null }, partitioned: [] },
    sampler, deadLetters: new DeadLetterRing({ parse: parseDeadLetter }), replay: async () => ({ replayed: {}, results: [] }),
    // The run's own browser (dashboard-wiring.ts), counting the reads under way.
    browseStore: async (name, { prefix, limit }) => {
      most = Math.max(most, ++running);
      try {
        const found = await inspectStore(storeDir(dir, 'app', name), name, { prefix, limit: limit + 1 });
        return { store: name, keys: found.keys, entries: found.entries.slice(0, limit), truncated: found.entries.length > limit };
      } finally {
        running--;
      }
    },
  });
  const server = await startObservabilityServer({ port: 0, metrics: hub, routes: dashboard.routes });
  t.after(async () => { dashboard.close(); await server.close(); });

  const answers = await Promise.all(Array.from({ length: 20 }, () => get(server.port, '/api/stores/big?limit=1')));
  assert.equal(most, 1, `${most} store reads ran at once`);
  const ok = answers.filter((a) => a.status === 200);
  const busy = answers.filter((a) => a.status === 503);
  assert.ok(ok.length >= 1 && ok.length + busy.length === 20, answers.map((a) => a.status).join(' '));
  for (const a of ok) assert.equal((JSON.parse(a.text) as { keys: number }).keys, 1_000);
  if (busy.length > 0) assert.match(JSON.parse(busy[0]!.text).error, /state-store reads are already running or waiting .* retry in a moment/);
  // Once the burst is over, a read is served again.
  assert.equal((await get(server.port, '/api/stores/big?prefix=k3-&limit=5')).status, 200);
});
