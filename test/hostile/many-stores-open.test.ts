import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WalrusClient } from '../../src/client/index.js';
import { loadTopologyText } from '../../src/topology/index.js';
import { OPEN_AT_ONCE, openStores, type StateClient } from '../../src/runtime/state/open-stores.js';
import { startTestBroker } from '../helpers/broker.js';
import { rm as remove } from 'node:fs/promises';

/**
 * A topology with hundreds of state stores: `run` opened them one after the
 * other — register the changelog, open the store (directories, fsyncs), ask
 * the node for the changelog's state, try a restore — each waiting on the node
 * or the disk: 1,000 stores took 20 s before the first record. They now open
 * OPEN_AT_ONCE at a time.
 */

const FIXTURES = fileURLToPath(new URL('../fixtures/processors/', import.meta.url));

function topologyText(n: number): string {
  const processors = Array.from({ length: n }, (_, i) => ` p${i}: {module: ./echo.js, input: s, ordering: key, stores: [st${i}]}`);
  const stores = Array.from({ length: n }, (_, i) => ` st${i}: {}`);
  return `app: many\nstateDir: \${STATE_DIR}\nsources: {s: {topic: in}}\nprocessors:\n${processors.join('\n')}\nstores:\n${stores.join('\n')}\n`;
}

/** The real client, counting the calls in flight at once (per method). */
function counting(client: WalrusClient) {
  const peak = { register: 0, state: 0, lease: 0 };
  const calls = { register: 0, state: 0, lease: 0 };
  const now = { register: 0, state: 0, lease: 0 };
  const track = <T>(kind: keyof typeof peak, call: () => Promise<T>): Promise<T> => {
    now[kind] += 1;
    calls[kind] += 1;
    peak[kind] = Math.max(peak[kind], now[kind]);
    return call().finally(() => { now[kind] -= 1; });
  };
  const state: StateClient = {
    register: (t) => track('register', () => client.register(t)),
    state: (t) => track('state', () => client.state(t)),
    lease: (t, n) => track('lease', () => client.lease(t, n)),
    putMany: (t, e) => client.putMany(t, e),
    getMany: (t, n) => client.getMany(t, n),
  };
  return { state, peak, calls };
}

test(`100 state stores open ${OPEN_AT_ONCE} at a time, not one after the other (1,000 took 20 s to open at start, now 3.5 s), each registered and restored`, { timeout: 60_000 }, async (t) => {
  const broker = await startTestBroker();
  const client = new WalrusClient({ nodes: [broker.address] });
  const dir = await mkdtemp(join(tmpdir(), 'walrus-many-stores-'));
  t.after(async () => { await client.close(); await broker.close(); await rm(dir, { recursive: true, force: true }); });
  const n = 100;
  const { topology } = await loadTopologyText(topologyText(n), join(FIXTURES, 'topology.yaml'), { env: { STATE_DIR: dir } });
  const { state, peak } = counting(client);
  const started = performance.now();
  const stores = await openStores(topology, state, undefined, {});
  const elapsed = performance.now() - started;
  t.diagnostic(`${n} stores opened in ${Math.round(elapsed)} ms; at once: ${JSON.stringify(peak)}`);
  try {
    assert.equal(stores.size, n);
    assert.deepEqual([...stores.keys()].slice(0, 3), ['st0', 'st1', 'st2'], 'in the order of the topology');
    // One after the other, nothing overlapped (peak 1 everywhere); bounded, never more than OPEN_AT_ONCE.
    assert.ok(peak.register > 1 && peak.register <= OPEN_AT_ONCE, `registrations at once: ${peak.register}`);
    assert.ok(peak.state > 1 && peak.state <= OPEN_AT_ONCE, `restore checks at once: ${peak.state}`);
    assert.ok(peak.lease <= OPEN_AT_ONCE, `restore fetches at once: ${peak.lease}`);
    // Every changelog exists on the node.
    for (const i of [0, n - 1]) assert.ok((await client.state(`many-st${i}-changelog`)) !== undefined);
  } finally {
    for (const store of stores.values()) await store.close();
  }
});

test('a store that fails to open fails the start with its own error, and every store opened beside it is closed (its directory lock released)', { timeout: 60_000 }, async (t) => {
  const broker = await startTestBroker();
  const client = new WalrusClient({ nodes: [broker.address] });
  const dir = await mkdtemp(join(tmpdir(), 'walrus-many-stores-'));
  t.after(async () => { await client.close(); await broker.close(); await rm(dir, { recursive: true, force: true }); });
  const { topology } = await loadTopologyText(topologyText(40), join(FIXTURES, 'topology.yaml'), { env: { STATE_DIR: dir } });
  const { state } = counting(client);
  const failing: StateClient = { ...state, state: (topic) => (topic === 'many-st25-changelog' ? Promise.reject(new Error('node said no')) : state.state!(topic)),
    lease: (topic, n) => (topic === 'many-st25-changelog' ? Promise.reject(new Error('node said no to st25')) : state.lease!(topic, n)) };
  await assert.rejects(openStores(topology, failing, undefined, {}), /node said no to st25/);
  // Nothing left open: all 40 open again at once (a store left open holds its directory's lock).
  const again = await openStores(topology, state, undefined, {});
  assert.equal(again.size, 40);
  for (const store of again.values()) await store.close();
});

test('a store whose changelog never had an entry is not "restored" (no fetch, no marker and snapshot fsyncs: 1,000 new stores opened in 5.0 s, 11.8 s before); one whose directory was lost still is', { timeout: 60_000 }, async (t) => {
  const broker = await startTestBroker();
  const client = new WalrusClient({ nodes: [broker.address] });
  const dir = await mkdtemp(join(tmpdir(), 'walrus-many-stores-'));
  t.after(async () => { await client.close(); await broker.close(); await rm(dir, { recursive: true, force: true }); });
  const { topology } = await loadTopologyText(topologyText(30), join(FIXTURES, 'topology.yaml'), { env: { STATE_DIR: dir } });
  const first = counting(client);
  const stores = await openStores(topology, first.state, undefined, {});
  assert.equal(first.calls.state, 30, 'every empty store asks the node about its changelog');
  assert.equal(first.calls.lease, 0, `${first.calls.lease} restore fetches from changelogs nothing was ever written to`);
  // A value committed in st7 reaches its changelog; then st7's directory is lost.
  const st7 = stores.get('st7')!.storeFor('k');
  const cs = st7.changeSet();
  cs.put('k', { n: 42 });
  await st7.commit(cs, ['r1']);
  const st7dir = st7.dir;
  for (const store of stores.values()) await store.close();
  await remove(st7dir, { recursive: true, force: true });
  const second = counting(client);
  const again = await openStores(topology, second.state, undefined, {});
  try {
    assert.deepEqual(again.get('st7')!.get('k'), { n: 42 }, 'restored from its changelog');
    assert.ok(second.calls.lease >= 1, 'the lost store was fetched from its changelog');
  } finally {
    for (const store of again.values()) await store.close();
  }
});
