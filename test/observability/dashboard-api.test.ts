import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { request, type IncomingMessage } from 'node:http';
import { WalrusClient } from '../../src/client/index.js';
import { encodeRecords, decodeEntry } from '../../src/codec/index.js';
import { replayEntries } from '../../src/cli/commands/dlq-replay.js';
import { refuseReason } from '../../src/observability/dashboard/request-guard.js';
import {
  MetricsHub, DeadLetterRing, StatsSampler, createDashboard, startObservabilityServer, type DashboardTopology,
} from '../../src/observability/index.js';
import { buildDeadLetter, parseDeadLetter } from '../../src/runtime/coordinator/dead-letter.js';
import { startTestBroker } from '../helpers/broker.js';

const deadLetter = (original: string, extra: { processor?: string; code?: string; message?: string; key?: string; recordId?: string } = {}): string => buildDeadLetter({
  entry: original, error: { code: extra.code ?? 'PROCESSOR_ERROR', message: extra.message ?? 'boom', retriable: false } as never,
  processor: extra.processor ?? 'parse', attempts: 3, firstFailureAt: 1_000, lastFailureAt: 2_000, sourceTopic: 'orders',
  recordId: extra.recordId ?? 'r-1', ...(extra.key === undefined ? {} : { key: extra.key }),
});

test('the dead-letter ring keeps the latest, tallies by processor and code, shows control characters as hex', () => {
  const ring = new DeadLetterRing({ parse: parseDeadLetter, capacity: 3, now: () => 5 });
  for (let i = 1; i <= 5; i++) ring.add({ processor: 'parse', topic: 'orders.dlq', entry: deadLetter(`line ${i}`, { message: `bad ${i}`, code: i % 2 ? 'A' : 'B' }) });
  ring.add({ processor: 'enrich', topic: 'orders.dlq', entry: deadLetter('\u0000\u0001bin', { processor: 'enrich', key: 'k1' }) });
  ring.add({ processor: '(decode)', topic: 'orders.dlq', entry: 'not json' });
  assert.equal(ring.total, 7);
  const list = ring.list();
  assert.deepEqual(list.map((d) => d.id), [7, 6, 5]);
  assert.equal(list[0]!.code, 'UNKNOWN');
  assert.match(list[0]!.message, /does not parse/);
  assert.deepEqual([list[1]!.original, list[1]!.originalEncoding, list[1]!.key], ['000162696e', 'hex', 'k1']);
  assert.deepEqual([list[2]!.original, list[2]!.originalEncoding, list[2]!.message, list[2]!.attempts], ['line 5', 'text', 'bad 5', 3]);
  assert.deepEqual(ring.list({ processor: 'enrich' }).map((d) => d.id), [6]);
  assert.deepEqual(ring.entries([5, 1]).missing, [1], 'evicted ids are reported missing');
  assert.deepEqual(ring.tallies().map((t) => [t.processor, t.code, t.count, t.latest]),
    [['parse', 'A', 3, 'bad 5'], ['parse', 'B', 2, 'bad 4'], ['enrich', 'PROCESSOR_ERROR', 1, 'boom'], ['(decode)', 'UNKNOWN', 1, list[0]!.message]]);
});

test('the stats sampler turns counts into rates and histogram deltas into p50/p99 of the interval', () => {
  let now = 0;
  const hub = new MetricsHub({ processMetrics: false, now: () => now });
  // Live objects, mutated between samples, as the coordinator's counts are.
  const counts = { parse: { processed: 0, retries: 0, deadLettered: 0 } };
  const sampler = new StatsSampler({ progress: () => hub.progress(), processors: () => counts, pending: () => ({ parse: 7 }), latency: () => hub.processingLatency() }, { now: () => now, historySize: 2 });
  sampler.sample();
  now = 2_000;
  hub.recordFetched('orders', 400);
  hub.recordEmitted('out', 100);
  counts.parse.processed = 300;
  counts.parse.retries = 4;
  counts.parse.deadLettered = 2;
  hub.recordProcessed('parse', 'ok', 100, Array.from({ length: 100 }, (_, i) => (i < 98 ? 0.2 : 20)));
  const frame = sampler.sample();
  assert.deepEqual(frame.sources.orders, { records: 400, rate: 200 });
  assert.deepEqual(frame.sinks.out, { records: 100, rate: 50 });
  const p = frame.processors.parse!;
  assert.deepEqual([p.processed, p.rate, p.errors, p.retries, p.deadLettered, p.inFlight], [300, 150, 6, 4, 2, 7]);
  assert.ok(p.p50Ms! > 0.1 && p.p50Ms! <= 0.25, `p50 ${p.p50Ms}`);
  assert.ok(p.p99Ms! > 10 && p.p99Ms! <= 25, `p99 ${p.p99Ms}`);
  now = 3_000;
  const quiet = sampler.sample();
  assert.equal(quiet.processors.parse!.rate, 0);
  assert.equal(quiet.processors.parse!.p50Ms, undefined, 'no records in the interval: no latency');
  assert.equal(sampler.history().length, 2, 'history is bounded');
});

// -- the HTTP API ---------------------------------------------------------------

const node = await startTestBroker();
const client = new WalrusClient({ nodes: [node.address] });
const hub = new MetricsHub({ processMetrics: false });
const ring = new DeadLetterRing({ parse: parseDeadLetter });
const sampler = new StatsSampler({ progress: () => hub.progress(), processors: () => ({ parse: { processed: 1, retries: 0, deadLettered: 1 } }) }, { intervalMs: 50 });
sampler.start();
const topology: DashboardTopology = {
  app: 'api-test', stores: ['revenue'],
  nodes: [{ id: 'processor:parse', kind: 'processor', name: 'parse', group: 'g1' }], edges: [],
  instance: { id: null, index: null, count: null }, partitioned: [],
};
const dashboard = createDashboard({
  topology, sampler, deadLetters: ring,
  replay: (entries) => replayEntries(client, entries),
  browseStore: async (store, { prefix, limit }) => ({ store, keys: 2, entries: [{ key: `${prefix ?? ''}x`, value: limit }], truncated: false }),
});
const server = await startObservabilityServer({ port: 0, metrics: hub, routes: dashboard.routes });
after(async () => {
  sampler.stop();
  dashboard.close();
  await server.close();
  await client.close();
  await node.close();
});

function call(path: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, method: options.method ?? 'GET', headers: options.headers }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString('utf8'); });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}
const post = (body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  call('/api/dead-letters/replay', { method: 'POST', headers, body: JSON.stringify(body) });

test('the page and its assets are served with a strict content security policy; /metrics still works', async () => {
  const page = await call('/');
  assert.equal(page.status, 200);
  assert.match(page.text, /<script type="module" src="\/assets\/app.js">/);
  assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
  assert.equal(page.headers['x-frame-options'], 'DENY');
  for (const asset of ['/assets/app.js', '/assets/graph.js', '/assets/charts.js', '/assets/dead-letters.js', '/assets/dom.js', '/assets/partitions.js', '/assets/style.css']) assert.equal((await call(asset)).status, 200, asset);
  assert.equal((await call('/assets/nope.js')).status, 404);
  assert.equal((await call('/metrics')).status, 200);
  assert.deepEqual(JSON.parse((await call('/api/topology')).text), topology);
  assert.ok(Object.keys(JSON.parse((await call('/api')).text).endpoints).includes('POST /api/dead-letters/replay'));
});

test('requests naming a non-loopback Host (DNS rebinding) and cross-site or non-JSON POSTs are refused', async () => {
  assert.equal((await call('/api/topology', { headers: { host: 'evil.example:80' } })).status, 403);
  assert.equal((await call('/', { headers: { host: `localhost:${server.port}` } })).status, 200);
  // Every spelling of a loopback address is a loopback name; anything else is refused.
  for (const host of [`127.0.0.1:${server.port}`, `127.1.2.3:${server.port}`, `[::1]:${server.port}`, `[0:0:0:0:0:0:0:1]:${server.port}`, `[::ffff:127.0.0.1]:${server.port}`]) {
    assert.equal(refuseReason({ headers: { host }, method: 'GET' } as IncomingMessage, { loopback: true }), undefined, host);
  }
  for (const host of ['evil.example', '127.0.0.1.evil.example:80', '[::ffff:10.0.0.1]:80', '[::2]:80']) {
    assert.match(refuseReason({ headers: { host }, method: 'GET' } as IncomingMessage, { loopback: true }) ?? '', /not a loopback name/, host);
  }
  const plain = await post({ ids: [1], confirm: true }, { 'content-type': 'text/plain' });
  assert.equal(plain.status, 403);
  assert.match(plain.text, /application\/json/);
  const crossOrigin = await post({ ids: [1], confirm: true }, { 'content-type': 'application/json', origin: 'http://evil.example' });
  assert.equal(crossOrigin.status, 403);
  assert.equal((await post({ ids: [1], confirm: true }, { 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' })).status, 403);
  assert.equal((await call('/api/dead-letters/replay')).status, 405);
  assert.equal((await call('/api/topology', { method: 'POST', headers: { 'content-type': 'application/json' } })).status, 405);
});

test('replay needs a confirmation, sends the original entry back to its source topic, and says what happened', async () => {
  await client.register('orders');
  const envelope = encodeRecords([{ value: Buffer.from('{"n":1}'), key: 'k', id: 'rec-1', headers: { 'content-type': 'application/json' } }]);
  ring.add({ processor: 'parse', topic: 'orders.dlq', entry: deadLetter('plain  line', { recordId: 'p-1' }) });
  const second = ring.add({ processor: 'parse', topic: 'orders.dlq', entry: deadLetter(envelope, { recordId: 'rec-1' }) });
  const listed = JSON.parse((await call('/api/dead-letters?processor=parse')).text) as { total: number; items: Array<{ id: number }> };
  assert.equal(listed.total, 2);
  assert.equal((await post({ ids: [second.id] })).status, 400, 'no confirm');
  assert.equal((await post({ ids: 'all', confirm: true })).status, 400);
  assert.equal((await call('/api/dead-letters?limit=0')).status, 400);
  // An id named twice would replay (and process) that record twice: refused, nothing sent.
  const twice = await post({ ids: [second.id, 1, second.id], confirm: true });
  assert.equal(twice.status, 400);
  assert.match(twice.text, new RegExp(`dead letter ${second.id} is named more than once`));
  assert.equal((await client.getMany('orders', 10)).length, 0);
  const answer = await post({ ids: [second.id, 1, 999], confirm: true });
  assert.equal(answer.status, 200, answer.text);
  assert.deepEqual(JSON.parse(answer.text), {
    replayed: { orders: 2 },
    results: [{ id: second.id, ok: true, topic: 'orders' }, { id: 1, ok: true, topic: 'orders' }, { id: 999, ok: false, reason: 'no longer held (only the latest dead letters are kept)' }],
  });
  const back = (await client.getMany('orders', 10)).map((b) => b.toString('utf8'));
  assert.equal(back.length, 2);
  assert.ok(back.includes('plain  line'), 'plain text comes back byte-exact');
  const replayed = decodeEntry(back.find((e) => e !== 'plain  line')!)[0]!;
  assert.deepEqual([replayed.id, replayed.key, replayed.headers['walrus-replay-count']], ['rec-1', 'k', '1']);
  assert.deepEqual(ring.list().map((d) => d.replays), [1, 1]);
});

test('the event stream sends stats frames and new dead letters; the store browser passes prefix and limit', async () => {
  const events = await new Promise<string>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path: '/api/events' }, (res) => {
      assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
      let text = '';
      res.on('data', (c: Buffer) => {
        text += c.toString('utf8');
        if (text.includes('event: stats') && !text.includes('event: deadletters') && !text.includes('late line')) {
          ring.add({ processor: 'parse', topic: 'orders.dlq', entry: deadLetter('late line', { message: 'late reason' }) });
        }
        if (text.includes('event: deadletters')) { req.destroy(); resolve(text); }
      });
    });
    req.on('error', (error) => (error.message.includes('aborted') || error.message.includes('socket hang up') ? undefined : reject(error)));
    setTimeout(() => reject(new Error('no deadletters event within 5 s')), 5_000).unref();
    req.end();
  });
  const line = events.split('\n').find((l, i, all) => all[i - 1] === 'event: deadletters' && l.startsWith('data: '))!;
  const data = JSON.parse(line.slice('data: '.length)) as { total: number; items: Array<{ message: string }> };
  assert.equal(data.items[0]!.message, 'late reason');
  const stats = JSON.parse(events.split('\n').find((l, i, all) => all[i - 1] === 'event: stats')!.slice(6)) as { processors: Record<string, unknown> };
  assert.ok(stats.processors.parse);

  assert.deepEqual(JSON.parse((await call('/api/stores')).text), { stores: ['revenue'] });
  assert.deepEqual(JSON.parse((await call('/api/stores/revenue?prefix=c-0&limit=5')).text), { store: 'revenue', keys: 2, entries: [{ key: 'c-0x', value: 5 }], truncated: false });
  assert.equal((await call('/api/stores/nope')).status, 404);
  assert.equal((await call('/api/stores/revenue?limit=5000')).status, 400);
  // A broken percent-encoding is the request's fault (400, saying so), not the server's (500 "URI malformed").
  const malformed = await call('/api/stores/%E0%A4');
  assert.equal(malformed.status, 400);
  assert.match(JSON.parse(malformed.text).error, /store name in \/api\/stores\/%E0%A4 is not valid percent-encoded UTF-8/);
});

test('the topology JSON of the bundled example: one source, four processors with their stage groups, sinks, the DLQ', async () => {
  const { loadTopology } = await import('../../src/topology/index.js');
  const { dashboardTopology } = await import('../../src/runtime/pipeline/dashboard-wiring.js');
  const { topology: example } = await loadTopology(new URL('../../topology.yaml', import.meta.url).pathname, { env: {}, loadModules: false });
  const { planStageGroups } = await import('../../src/topology/stage-groups.js');
  const view = dashboardTopology(example, planStageGroups(example));
  const kinds = (kind: string) => view.nodes.filter((n) => n.kind === kind).map((n) => n.name);
  assert.deepEqual(kinds('source'), ['orders']);
  assert.deepEqual(kinds('processor'), ['parse', 'enrich', 'route', 'revenue']);
  assert.deepEqual(kinds('sink'), ['accepted', 'review', 'revenue']);
  assert.deepEqual(kinds('dlq'), ['orders.dlq']);
  // parse reads the source; enrich's input is re-keyed, so enrich, route and revenue run as one group.
  assert.deepEqual(Object.fromEntries(view.nodes.filter((n) => n.kind === 'processor').map((n) => [n.name, n.group])),
    { parse: 'parse', enrich: 'enrich', route: 'enrich', revenue: 'enrich' });
  assert.ok(view.nodes.filter((n) => n.kind !== 'processor').every((n) => n.group === null));
  assert.ok(view.edges.some((e) => e.from === 'processor:route' && e.to === 'sink:review' && e.label === 'review'));
  assert.equal(view.edges.filter((e) => e.kind === 'dead-letter').length, 4);
  assert.deepEqual(view.stores, ['revenue']);
  assert.deepEqual([view.instance, view.partitioned], [{ id: null, index: null, count: null }, []], 'one instance, nothing partitioned');
  assert.ok(dashboardTopology(example).nodes.every((n) => n.group === null), 'no groups given: none drawn');
});

test('with credentials configured, the dashboard needs them as /metrics does (basic works for a browser)', async () => {
  const guarded = await startObservabilityServer({ port: 0, metrics: hub, routes: dashboard.routes, auth: { basic: { username: 'ops', password: 'a-long-enough-password' } } });
  try {
    const get = (path: string, headers: Record<string, string> = {}) => new Promise<number>((resolve, reject) => {
      request({ host: '127.0.0.1', port: guarded.port, path, headers }, (res) => { res.resume(); resolve(res.statusCode!); }).on('error', reject).end();
    });
    const basic = `Basic ${Buffer.from('ops:a-long-enough-password').toString('base64')}`;
    for (const path of ['/', '/assets/app.js', '/api/topology', '/api/dead-letters']) {
      assert.equal(await get(path), 401, path);
      assert.equal(await get(path, { authorization: basic }), 200, path);
    }
    assert.equal(await get('/healthz'), 200, '/healthz stays open');
  } finally {
    await guarded.close();
  }
});
