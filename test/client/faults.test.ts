import assert from 'node:assert/strict';
import net from 'node:net';
import fc from 'fast-check';
import { after, before, beforeEach, describe, test } from 'node:test';
import { WalrusClient, type WalrusClientOptions } from '../../src/client/index.js';
import { WalrusError } from '../../src/errors/index.js';
import { payloadProblem } from '../../src/protocol/index.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { FaultProxy } from '../helpers/fault-proxy.js';

const isCode = (code: string) => (e: unknown) => e instanceof WalrusError && e.code === code;

describe('faults between client and node (fault-injection proxy)', () => {
  let node: TestBroker;
  let proxy: FaultProxy;
  let direct: WalrusClient;
  const clients: WalrusClient[] = [];

  function client(options: Partial<WalrusClientOptions> = {}): WalrusClient {
    const c = new WalrusClient({
      nodes: [proxy.address],
      requestTimeoutMs: 1_000,
      connectTimeoutMs: 500,
      retry: { retries: 3, initialDelayMs: 5, maxDelayMs: 20 },
      ...options,
    });
    clients.push(c);
    return c;
  }

  before(async () => {
    node = await startTestBroker();
    direct = new WalrusClient({ nodes: [node.address] });
  });
  beforeEach(async () => {
    await proxy?.close();
    proxy = await FaultProxy.start(node);
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await direct.close();
    await proxy.close();
    await node.close();
  });

  test('a dropped connection is retried and the call succeeds', async () => {
    await direct.register('drop');
    proxy.setMode({ kind: 'drop' });
    const c = client({ sleep: async () => proxy.setMode({ kind: 'pass' }) });
    await c.put('drop', 'survived');
    assert.equal(String(await direct.get('drop')), 'survived');
    assert.ok(c.stats().retries >= 1);
    assert.equal(c.stats().possibleDuplicates, 0, 'the PUT never reached the node');
  });

  test('a PUT whose reply is cut is retried and counted as a possible duplicate (and is one)', async () => {
    await direct.register('dup');
    const c = client({ sleep: async () => proxy.setMode({ kind: 'pass' }) });
    await c.register('dup');
    proxy.setMode({ kind: 'cut', afterBytes: 2 }); // mid-header of the OK reply
    await c.put('dup', 'once');
    assert.equal(c.stats().possibleDuplicates, 1);
    assert.equal(String(await direct.get('dup')), 'once');
    assert.equal(String(await direct.get('dup')), 'once', 'the node stored it twice, as counted');
  });

  test('a GET whose reply is lost is counted as a possible loss; the retry reads the next entry', async () => {
    await direct.register('loss');
    await direct.putMany('loss', ['first', 'second']);
    const c = client({ sleep: async () => proxy.setMode({ kind: 'pass' }) });
    await c.metrics();
    proxy.setMode({ kind: 'cut', afterBytes: 6 }); // mid-body of "OK first"
    const entry = await c.get('loss');
    assert.equal(String(entry), 'second');
    assert.equal(c.stats().possibleLosses, 1);
  });

  test('blackhole: every in-flight request rejects with a retriable error by its timeout; nothing hangs', async () => {
    await direct.register('hole');
    const c = client({ requestTimeoutMs: 150, retry: { retries: 0 } });
    await c.metrics();
    proxy.setMode({ kind: 'blackhole' });
    const started = performance.now();
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => c.put('hole', `x${i}`)));
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 1_000, `settled after ${elapsed} ms`);
    const codes = results.map((r) => (r.status === 'rejected' ? (r.reason as WalrusError).code : 'fulfilled'));
    assert.ok(codes.includes('REQUEST_TIMEOUT'), codes.join());
    assert.ok(codes.every((code) => code === 'REQUEST_TIMEOUT' || code === 'CONNECTION_CLOSED'), codes.join());
    assert.ok(results.every((r) => r.status === 'rejected' && (r.reason as WalrusError).retriable));
  });

  test("one call's short timeoutMs fails that call alone: the calls in flight beside it on its connection are not cut and lose no entries", async () => {
    await direct.register('short');
    await direct.putMany('short', Array.from({ length: 50 }, (_, i) => `s${i}`));
    const c = client({ pool: { min: 1, max: 1 }, requestTimeoutMs: 5_000, retry: { retries: 0 } });
    await c.register('short'); // the one connection is open
    proxy.setMode({ kind: 'delay', ms: 150 });
    const others = Array.from({ length: 20 }, () => c.get('short').then(String, (error: unknown) => (error as WalrusError).code));
    const careless = c.get('short', { timeoutMs: 20 });
    await assert.rejects(careless, (e: unknown) => isCode('REQUEST_TIMEOUT')(e) && (e as WalrusError).context.requestSent === true);
    // It retired the connection: the 20 others failed CONNECTION_CLOSED, and
    // the 20 entries their GETs had consumed were lost (possibleLosses 20).
    const results = await Promise.all(others);
    assert.deepEqual(results, Array.from({ length: 20 }, (_, i) => `s${i}`));
    const deadline = Date.now() + 5_000;
    while (c.stats().discardedEntries === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(c.stats().discardedEntries, 1, 'the careless GET consumed one entry; it is counted when its reply comes');
    assert.equal(c.stats().possibleLosses, 0);
    assert.equal(c.stats().nodes[proxy.address]!.pool.destroyed, 0, 'the connection stayed in use');
    proxy.setMode({ kind: 'pass' });
    assert.equal(String(await c.get('short')), 's21');
  });

  test('calls given up by a timeoutMs shorter than healthCheckTimeoutMs do not open the breaker of a node that answers; longer ones do', async () => {
    await direct.register('impatient');
    const c = client({ requestTimeoutMs: 5_000, healthCheckTimeoutMs: 100, retry: { retries: 0 }, breaker: { failureThreshold: 3 } });
    await c.register('impatient');
    proxy.setMode({ kind: 'delay', ms: 40 });
    // 40 ms is a healthy node; 5 ms is one caller's impatience. Those 6
    // calls counted as node failures: the breaker opened and the next
    // ordinary put failed CIRCUIT_OPEN.
    for (let i = 0; i < 6; i++) await assert.rejects(c.put('impatient', `x${i}`, { timeoutMs: 5 }), isCode('REQUEST_TIMEOUT'));
    assert.equal(c.stats().nodes[proxy.address]!.breaker.state, 'closed');
    await c.put('impatient', 'ordinary');
    // A node silent for healthCheckTimeoutMs is unhealthy, whoever asked.
    proxy.setMode({ kind: 'delay', ms: 400 });
    for (let i = 0; i < 3; i++) await assert.rejects(c.put('impatient', `y${i}`, { timeoutMs: 150 }), isCode('REQUEST_TIMEOUT'));
    assert.equal(c.stats().nodes[proxy.address]!.breaker.state, 'open');
    proxy.setMode({ kind: 'pass' });
  });

  test('a BATCH_LEASE or ACK given up by its short timeoutMs still retires its connection, so the node releases the lease', async () => {
    await direct.register('short-lease');
    await direct.putMany('short-lease', ['l0', 'l1', 'l2']);
    const c = client({ requestTimeoutMs: 5_000, retry: { retries: 0 } });
    await c.probeCapabilities();
    proxy.setMode({ kind: 'delay', ms: 150 });
    await assert.rejects(c.lease('short-lease', 2, undefined, { timeoutMs: 20 }), isCode('REQUEST_TIMEOUT'));
    proxy.setMode({ kind: 'pass' });
    const deadline = Date.now() + 5_000;
    while (node.stats().openLeases > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(node.stats().openLeases, 0);
    const lease = await c.lease('short-lease', 2, undefined, { timeoutMs: 20 });
    assert.deepEqual(lease.entries.map(String), ['l0', 'l1']);
    proxy.setMode({ kind: 'delay', ms: 150 });
    await assert.rejects(lease.ack(), (e: unknown) => isCode('CONNECTION_CLOSED')(e) && /REQUEST_TIMEOUT/.test((e as Error).message));
    proxy.setMode({ kind: 'pass' });
    const again = await c.lease('short-lease', 3);
    assert.deepEqual(again.entries.map(String), ['l0', 'l1', 'l2'], 'the unconfirmed lease came back first');
    await again.ack();
  });

  test('an AbortSignal rejects a stuck call at once with ABORTED', async () => {
    await direct.register('abort');
    const c = client({ requestTimeoutMs: 5_000 });
    await c.metrics();
    proxy.setMode({ kind: 'blackhole' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 30);
    const started = performance.now();
    await assert.rejects(c.get('abort', { signal: controller.signal }), isCode('ABORTED'));
    assert.ok(performance.now() - started < 500);
  });

  test('an aborted GET whose entry arrives later is counted as discarded; the connection stays usable', async () => {
    await direct.register('late');
    await direct.putMany('late', ['gone', 'kept']);
    const c = client();
    await c.metrics();
    proxy.setMode({ kind: 'delay', ms: 80 });
    await assert.rejects(c.get('late', { signal: AbortSignal.timeout(20) }), isCode('ABORTED'));
    proxy.setMode({ kind: 'pass' });
    assert.equal(String(await c.get('late')), 'kept');
    assert.equal(c.stats().discardedEntries, 1);
    assert.equal(c.stats().nodes[proxy.address]!.pool.destroyed, 0);
  });

  test('delay: slow replies still arrive and latency shows it', async () => {
    await direct.register('slow');
    const c = client();
    proxy.setMode({ kind: 'delay', ms: 40 });
    const started = performance.now();
    await c.put('slow', 'late');
    assert.ok(performance.now() - started >= 40);
    assert.equal(String(await c.get('slow')), 'late');
  });

  test('the breaker opens after the threshold, fails fast, and closes on schedule', async () => {
    let now = 0;
    const c = client({
      clock: { now: () => now },
      retry: { retries: 0 },
      breaker: { failureThreshold: 3, openDurationMs: 10_000, halfOpenAttempts: 2 },
    });
    await c.metrics();
    proxy.setMode({ kind: 'drop' });
    for (let i = 0; i < 3; i++) await assert.rejects(c.metrics(), (e: unknown) => (e as WalrusError).retriable);
    assert.equal(c.stats().nodes[proxy.address]!.breaker.state, 'open');
    const accepted = proxy.accepted;
    now += 100;
    await assert.rejects(c.metrics(), (e: unknown) => isCode('CIRCUIT_OPEN')(e) && (e as WalrusError).context.retryAfterMs === 150);
    assert.equal(proxy.accepted, accepted, 'fail fast: no connection attempted');
    // A failed trial reopens it for twice as long (the first opening is 250 ms).
    now += 150;
    await assert.rejects(c.metrics(), (e: unknown) => (e as WalrusError).retriable);
    await assert.rejects(c.metrics(), (e: unknown) => isCode('CIRCUIT_OPEN')(e) && (e as WalrusError).context.retryAfterMs === 500);
    proxy.setMode({ kind: 'pass' });
    now += 500;
    assert.equal(c.stats().nodes[proxy.address]!.breaker.state, 'half-open');
    await c.metrics();
    await c.metrics();
    assert.equal(c.stats().nodes[proxy.address]!.breaker.state, 'closed');
  });

  test('the pool replaces broken connections and recovers', async () => {
    await direct.register('pool');
    const c = client({ pool: { min: 2, max: 2 } });
    await Promise.all(Array.from({ length: 50 }, (_, i) => c.put('pool', `a${i}`)));
    const before = c.stats().nodes[proxy.address]!.pool;
    assert.equal(before.size, 2);
    proxy.resetAll();
    await Promise.all(Array.from({ length: 50 }, (_, i) => c.put('pool', `b${i}`)));
    const afterReset = c.stats().nodes[proxy.address]!.pool;
    assert.ok(afterReset.created >= before.created + 1, JSON.stringify(afterReset));
    assert.ok(afterReset.destroyed >= 2, JSON.stringify(afterReset));
    assert.ok(afterReset.size >= 1 && afterReset.size <= 2);
    assert.equal((await direct.getMany('pool', 200)).length, 100);
  });

  test('connect timeout and refused connections are typed and retriable', async () => {
    const hanging = new WalrusClient({ nodes: ['127.0.0.1:1'], connectTimeoutMs: 80, retry: { retries: 0 }, socketFactory: () => new net.Socket() });
    clients.push(hanging);
    await assert.rejects(hanging.metrics(), (e: unknown) => isCode('CONNECTION_TIMEOUT')(e) && (e as WalrusError).retriable);
    const closedPort = await new Promise<number>((resolve) => {
      const server = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const refused = new WalrusClient({ nodes: [`127.0.0.1:${closedPort}`], retry: { retries: 1, initialDelayMs: 1, maxDelayMs: 1 } });
    clients.push(refused);
    await assert.rejects(refused.put('x', 'y'), isCode('CONNECTION_REFUSED'));
    assert.equal(refused.stats().retries, 1);
  });
});

describe('frames split at every place (fragmenting proxy)', () => {
  test('random payloads round-trip byte for byte through pipelined PUT/GET and BATCH commands', async () => {
    const node = await startTestBroker();
    const proxy = await FaultProxy.start(node);
    proxy.setMode({ kind: 'fragment', maxBytes: 7 });
    const client = new WalrusClient({ nodes: [proxy.address], pool: { min: 1, max: 2 } });
    try {
      await client.register('frag');
      const payload = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }).filter((s) => payloadProblem(s) === undefined);
      await fc.assert(fc.asyncProperty(fc.array(payload, { minLength: 1, maxLength: 12 }), fc.boolean(), async (entries, batch) => {
        if (batch) await client.putMany('frag', entries);
        else await Promise.all(entries.map((e) => client.put('frag', e)));
        const read = batch ? await client.getMany('frag', entries.length) : await Promise.all(entries.map(() => client.get('frag')));
        const got = read.map((b) => b?.toString('utf8'));
        if (batch) assert.deepEqual(got, entries);
        else assert.deepEqual([...got].sort(), [...entries].sort());
        assert.equal(await client.get('frag'), undefined);
      }), { numRuns: 25 });
    } finally {
      await client.close();
      await proxy.close();
      await node.close();
    }
  });
});
