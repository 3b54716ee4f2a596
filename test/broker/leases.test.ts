import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { encodeBatchGet, encodeBatchPut, parseBatchGet } from '../../src/protocol/index.js';
import { spawnBrokerProcess, startTestBroker, withBroker, type TestBroker } from '../helpers/broker.js';
import { RawClient, drain } from '../helpers/raw-client.js';

/** Parses `OK <lease_id> <count> <len> <entry> ...` (kept independent of src/protocol on purpose). */
function parseLeaseReply(reply: Buffer): { id: number; entries: string[] } | undefined {
  const text = reply.toString('utf8');
  if (text === 'EMPTY') return undefined;
  const m = /^OK (\d+) /.exec(text);
  assert.ok(m, `lease reply: ${text.slice(0, 80)}`);
  const list = Buffer.concat([Buffer.from('OK '), reply.subarray(m[0].length)]);
  return { id: Number(m[1]), entries: parseBatchGet(list).map(String) };
}

async function lease(c: RawClient, topic: string, max: number, maxBytes = 65_536): Promise<{ id: number; entries: string[] } | undefined> {
  c.send(`BATCH_LEASE ${topic} ${max} ${maxBytes}`);
  return parseLeaseReply((await c.nextFrame())!);
}

async function fill(c: RawClient, topic: string, count: number, prefix = 'e'): Promise<string[]> {
  assert.equal(await c.request(`REGISTER ${topic}`), 'OK');
  const entries = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
  c.writeRaw(encodeBatchPut(topic, entries));
  assert.equal(await c.next(), `OK ${count}`);
  return entries;
}

async function state(c: RawClient, topic: string): Promise<Record<string, number>> {
  return JSON.parse(await c.request(`STATE ${topic}`)) as Record<string, number>;
}

/** Waits until the node has processed the close of a connection (its leases released). */
async function untilReleased(node: TestBroker, openLeases: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while (node.stats().openLeases !== openLeases) {
    if (Date.now() > deadline) throw new Error(`still ${node.stats().openLeases} open leases`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('BATCH_LEASE / ACK (default mode)', () => {
  test('a lease closed without ACK is delivered again, before newer entries, to the next reader', () => withBroker(async (node) => {
    const a = await RawClient.connect(node.port);
    const b = await RawClient.connect(node.port);
    const all = await fill(a, 'l', 10);
    const first = (await lease(a, 'l', 3))!;
    assert.deepEqual(first.entries, all.slice(0, 3));
    assert.ok(first.id >= 1);
    // Leased entries are invisible to other readers, GET included.
    assert.deepEqual((await lease(b, 'l', 2))!.entries, all.slice(3, 5));
    assert.equal(await b.request('GET l'), `OK ${all[5]}`);
    assert.deepEqual(await state(b, 'l'), { ...(await state(b, 'l')), open_leases: 2, leased_entries: 5, redeliver_entries: 0, lag: 4 });
    a.close();
    await untilReleased(node, 1);
    const s = await state(b, 'l');
    assert.equal(s.redeliver_entries, 3);
    assert.equal(s.lag, 7);
    // The released entries come first, then new ones, in one lease.
    const again = (await lease(b, 'l', 5))!;
    assert.deepEqual(again.entries, [...all.slice(0, 3), all[6], all[7]]);
    assert.notEqual(again.id, first.id);
    b.close();
  }));

  test('lease then ACK: nothing is redelivered, and the ACK cannot be repeated', () => withBroker(async (node) => {
    const a = await RawClient.connect(node.port);
    const all = await fill(a, 'k', 4);
    const got = (await lease(a, 'k', 4))!;
    assert.deepEqual(got.entries, all);
    assert.equal(await a.request(`ACK k ${got.id}`), 'OK');
    assert.equal(await a.request(`ACK k ${got.id}`), `ERR unknown lease ${got.id}`);
    a.close();
    await untilReleased(node, 0);
    const b = await RawClient.connect(node.port);
    assert.equal(await b.request('GET k'), 'EMPTY');
    assert.equal((await lease(b, 'k', 10)), undefined);
    const s = await state(b, 'k');
    assert.equal(s.read_cursor, 4);
    assert.equal(s.lag, 0);
    b.close();
  }));

  test('out-of-order ACKs are remembered; a lease is bound to its connection and topic', () => withBroker(async (node) => {
    const a = await RawClient.connect(node.port);
    const b = await RawClient.connect(node.port);
    const all = await fill(a, 'o', 6);
    assert.equal(await a.request('REGISTER other'), 'OK');
    const l1 = (await lease(a, 'o', 2))!;
    const l2 = (await lease(a, 'o', 2))!;
    const l3 = (await lease(a, 'o', 2))!;
    assert.equal(await b.request(`ACK o ${l2.id}`), `ERR unknown lease ${l2.id}`, 'another connection cannot ACK it');
    assert.equal(await a.request(`ACK other ${l2.id}`), `ERR unknown lease ${l2.id}`, 'nor on another topic');
    assert.equal(await a.request(`ACK o ${l3.id}`), 'OK');
    assert.equal(await a.request(`ACK o ${l2.id}`), 'OK');
    a.close();
    await untilReleased(node, 0);
    // Only the unacknowledged first lease comes back.
    assert.deepEqual(await drain(b, 'o'), all.slice(0, 2));
    assert.deepEqual(l1.entries, all.slice(0, 2));
    b.close();
  }));

  test('GET and BATCH_GET skip leased entries and take released ones first (consumed at once)', () => withBroker(async (node) => {
    const a = await RawClient.connect(node.port);
    const b = await RawClient.connect(node.port);
    const all = await fill(a, 'g', 6);
    await lease(a, 'g', 2);
    assert.equal(await b.request('GET g'), `OK ${all[2]}`);
    a.close();
    await untilReleased(node, 0);
    assert.equal(await b.request('GET g'), `OK ${all[0]}`);
    b.writeRaw(encodeBatchGet('g', 2));
    assert.deepEqual(parseBatchGet((await b.nextFrame())!).map(String), [all[1], all[3]]);
    assert.deepEqual(await drain(b, 'g'), all.slice(4));
    assert.equal((await state(b, 'g')).redeliver_entries, 0);
    b.close();
  }));

  test('the reply keeps within one frame, counting the lease id; budgets match BATCH_GET', () => withBroker(async (node) => {
    const a = await RawClient.connect(node.port);
    assert.equal(await a.request('REGISTER f'), 'OK');
    const big = 'y'.repeat(33_000);
    for (const entry of [big, big, 'small']) assert.equal(await a.request(`PUT f ${entry}`), 'OK');
    a.send('BATCH_LEASE f 10 1000000');
    const frame = (await a.nextFrame())!;
    assert.ok(frame.length <= 65_536, `${frame.length} bytes`);
    assert.equal(parseLeaseReply(frame)!.entries.length, 1);
    assert.deepEqual((await lease(a, 'f', 10, 1))!.entries, [big], 'the first entry is taken even over max_bytes');
    assert.deepEqual((await lease(a, 'f', 10))!.entries, ['small']);
    a.close();
  }));

  test('malformed requests get specific errors; nothing is leased', () => withBroker(async (node) => {
    const a = await RawClient.connect(node.port);
    await fill(a, 'm', 1);
    const cases: Array<[string, RegExp]> = [
      ['BATCH_LEASE', /^ERR BATCH_LEASE requires a topic$/],
      ['BATCH_LEASE m', /^ERR BATCH_LEASE requires a payload$/],
      ['BATCH_LEASE m 0 10', /^ERR invalid batch: max_entries must be from 1 to 2000, got 0$/],
      ['BATCH_LEASE m 10', /^ERR invalid batch: expected "<max_entries> <max_bytes>"$/],
      ['BATCH_LEASE nope 1 10', /^ERR unknown topic nope$/],
      ['ACK', /^ERR ACK requires a topic$/],
      ['ACK m', /^ERR ACK requires a lease id$/],
      ['ACK m 0', /^ERR invalid lease id "0"/],
      ['ACK m -1', /^ERR invalid lease id "-1"/],
      ['ACK m 1234567890123456', /^ERR invalid lease id/],
      ['ACK nope 1', /^ERR unknown topic nope$/],
      ['ACK m 99', /^ERR unknown lease 99$/],
    ];
    for (const [request, expected] of cases) assert.match(await a.request(request), expected, request);
    assert.equal((await state(a, 'm')).leased_entries ?? 0, 0);
    assert.equal(await a.request('GET m'), 'OK e0');
    a.close();
  }));

  test('one connection may hold at most 4,096 open leases; an ACK makes room', () => withBroker(async (node) => {
    const a = await RawClient.connect(node.port);
    assert.equal(await a.request('REGISTER n'), 'OK');
    for (let i = 0; i < 3; i++) {
      a.writeRaw(encodeBatchPut('n', Array.from({ length: 1500 }, (_, k) => `v${i * 1500 + k}`)));
      assert.equal(await a.next(), 'OK 1500');
    }
    for (let i = 0; i < 4097; i++) a.send('BATCH_LEASE n 1 1');
    let firstId = 0;
    for (let i = 0; i < 4096; i++) {
      const got = parseLeaseReply((await a.nextFrame())!)!;
      if (i === 0) firstId = got.id;
      assert.equal(got.entries.length, 1);
    }
    assert.equal(await a.next(), 'ERR too many open leases (4096) on this connection: ACK some first');
    assert.equal(await a.request(`ACK n ${firstId}`), 'OK');
    assert.deepEqual((await lease(a, 'n', 1))!.entries, ['v4096']);
    a.close();
  }));

  test('a lease past leaseTimeoutMs is released to the next reader; its late ACK is refused', () => withBroker({ leaseTimeoutMs: 50 }, async (node) => {
    const a = await RawClient.connect(node.port);
    const b = await RawClient.connect(node.port);
    const all = await fill(a, 't', 3);
    const held = (await lease(a, 't', 2))!;
    const other = (await lease(b, 't', 5))!;
    assert.deepEqual(other.entries, [all[2]], 'not yet expired');
    assert.equal(await b.request(`ACK t ${other.id}`), 'OK');
    await new Promise((r) => setTimeout(r, 80));
    const again = (await lease(b, 't', 5))!;
    assert.deepEqual(again.entries, all.slice(0, 2));
    assert.equal(await a.request(`ACK t ${held.id}`), `ERR unknown lease ${held.id}`);
    a.close();
    b.close();
  }));

  test('RELEASE hands every open lease of the topic, whoever holds it, back for redelivery in order; their late ACKs are refused', () => withBroker(async (node) => {
    const a = await RawClient.connect(node.port);
    const b = await RawClient.connect(node.port);
    const all = await fill(a, 'r', 6);
    await fill(a, 'r2', 1);
    const first = (await lease(a, 'r', 2))!;
    const second = (await lease(b, 'r', 2))!;
    const elsewhere = (await lease(a, 'r2', 1))!;
    assert.equal(await b.request('RELEASE r'), 'OK 4', 'both connections\' leases, not only the caller\'s');
    assert.equal((await state(b, 'r')).open_leases, 0);
    const again = (await lease(b, 'r', 10))!;
    assert.deepEqual(again.entries, all, 'released entries first, oldest first, then the unread ones');
    assert.equal(await a.request(`ACK r ${first.id}`), `ERR unknown lease ${first.id}`);
    assert.equal(await b.request(`ACK r ${second.id}`), `ERR unknown lease ${second.id}`);
    assert.equal(await a.request(`ACK r2 ${elsewhere.id}`), 'OK', 'another topic\'s lease is untouched');
    assert.equal(await b.request('RELEASE r2'), 'OK 0');
    assert.equal(await b.request('RELEASE'), 'ERR RELEASE requires a topic');
    assert.equal(await b.request('RELEASE r 1'), 'ERR RELEASE takes only a topic');
    assert.equal(await b.request('RELEASE nope'), 'ERR unknown topic nope');
    a.close();
    b.close();
  }));

  test('stock mode answers every lease command exactly like any unknown command', () => withBroker({ compat: 'stock' }, async (node) => {
    const a = await RawClient.connect(node.port);
    await fill(a, 's', 1).catch(() => undefined);
    assert.equal(await a.request('REGISTER s'), 'OK');
    assert.equal(await a.request('PUT s x'), 'OK');
    for (const request of ['BATCH_LEASE', 'BATCH_LEASE s 1 10', 'ACK', 'ACK s 1', 'RELEASE', 'RELEASE s']) {
      assert.equal(await a.request(request), 'ERR unknown command', request);
    }
    assert.equal(await a.request('GET s'), 'OK x');
    assert.deepEqual(Object.keys(await state(a, 's')), ['current_segment', 'leader_node', 'last_sealed_entry_offset', 'sealed_segments', 'segment_leaders']);
    a.close();
  }));
});

describe('leases and the persisted cursor', () => {
  test('a clean restart with an unacknowledged lease delivers it again', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'walrus-lease-'));
    try {
      let node = await startTestBroker({ dataDir });
      const a = await RawClient.connect(node.port);
      const all = await fill(a, 'r', 8);
      const l1 = (await lease(a, 'r', 3))!;
      const l2 = (await lease(a, 'r', 3))!;
      assert.equal(await a.request(`ACK r ${l2.id}`), 'OK'); // out of order: the cursor must stay at l1
      assert.equal(await a.request('GET r'), `OK ${all[6]}`);
      await node.close();
      a.close();
      node = await startTestBroker({ dataDir });
      const b = await RawClient.connect(node.port);
      assert.equal((await state(b, 'r')).read_cursor, 0, 'the persisted cursor never passes an unacknowledged entry');
      const got = await drain(b, 'r');
      // Everything from l1's first entry: l1 again, and (as documented) the entries consumed after it.
      assert.deepEqual(got, all);
      assert.deepEqual(l1.entries, all.slice(0, 3));
      b.close();
      await node.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('kill -9 of the node: the cursor on disk stays at the oldest unacknowledged entry; acknowledged prefixes move it', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'walrus-lease-kill-'));
    try {
      const { child, port } = await spawnBrokerProcess(['--data-dir', dataDir, '--fsync', 'always']);
      const a = await RawClient.connect(port);
      const all = await fill(a, 'x', 10);
      const l1 = (await lease(a, 'x', 2))!;
      const l2 = (await lease(a, 'x', 2))!;
      const l3 = (await lease(a, 'x', 2))!;
      assert.equal(await a.request(`ACK x ${l1.id}`), 'OK');
      assert.equal(await a.request(`ACK x ${l3.id}`), 'OK');
      assert.equal(await a.request('GET x'), `OK ${all[6]}`); // fsync always: the reply means the cursor write is durable
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      a.close();
      const node = await startTestBroker({ dataDir });
      const b = await RawClient.connect(node.port);
      assert.equal((await state(b, 'x')).read_cursor, 2, 'moved over the acknowledged prefix (l1), held at l2');
      assert.deepEqual(await drain(b, 'x'), all.slice(2));
      assert.deepEqual(l2.entries, all.slice(2, 4));
      b.close();
      await node.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('memory-only node: leased entries stay readable until acknowledged', async () => {
    const { startBroker } = await import('../../src/broker/index.js');
    const node = await startBroker({ port: 0 });
    try {
      const a = await RawClient.connect(node.port);
      const all = await fill(a, 'mem', 5);
      await lease(a, 'mem', 3);
      const b = await RawClient.connect(node.port);
      assert.equal(await b.request('GET mem'), `OK ${all[3]}`);
      a.close();
      const deadline = Date.now() + 5000;
      while (node.stats().openLeases > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual(await drain(b, 'mem'), [all[0], all[1], all[2], all[4]]);
      b.close();
    } finally {
      await node.close();
    }
  });
});
