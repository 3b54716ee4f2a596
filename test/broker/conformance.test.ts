import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RawClient } from '../helpers/raw-client.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

/**
 * Protocol conformance of the embedded node against the stock listener's
 * behaviour (docs/broker.md; docs/architecture.md), in both compatibility modes, over real TCP.
 */
// Each mode once, and each fsync policy once: the reply paths differ (immediate, group commit + fdatasync, background sync).
const MATRIX = [
  { compat: 'default', fsync: 'never' },
  { compat: 'stock', fsync: 'always' },
  { compat: 'default', fsync: { intervalMs: 5 } },
] as const;

for (const { compat, fsync } of MATRIX) {
  describe(`conformance (${compat} mode, fsync ${JSON.stringify(fsync)})`, () => {
    let node: TestBroker;
    let c: RawClient;
    before(async () => {
      node = await startTestBroker({ compat, fsync });
      c = await RawClient.connect(node.port);
    });
    after(async () => {
      c.close();
      await node.close();
    });

    test('REGISTER is idempotent and PUT/GET round-trip in order', async () => {
      assert.equal(await c.request('REGISTER t1'), 'OK');
      assert.equal(await c.request('REGISTER t1'), 'OK');
      assert.equal(await c.request('PUT t1 hello'), 'OK');
      assert.equal(await c.request('PUT t1 world'), 'OK');
      assert.equal(await c.request('GET t1'), 'OK hello');
      assert.equal(await c.request('GET t1'), 'OK world');
      assert.equal(await c.request('GET t1'), 'EMPTY');
    });

    test('payload keeps inner and leading spaces, loses trailing Unicode whitespace', async () => {
      await c.request('REGISTER ws');
      assert.equal(await c.request('PUT ws  a  b \u00a0\u3000\u0085\t\n '), 'OK');
      assert.equal(await c.request('GET ws'), 'OK  a  b');
      // U+FEFF is not White_Space in Rust: it survives.
      assert.equal(await c.request('PUT ws x\ufeff'), 'OK');
      assert.equal(await c.request('GET ws'), 'OK x\ufeff');
    });

    test('unknown topics, missing topics and payloads', async () => {
      assert.equal(await c.request('PUT nope x'), 'ERR unknown topic nope');
      assert.equal(await c.request('GET nope'), 'ERR unknown topic nope');
      assert.equal(await c.request('STATE nope'), 'ERR unknown topic nope');
      // The payload is checked before the topic lookup.
      assert.equal(await c.request('PUT nope'), 'ERR PUT requires a payload');
      assert.equal(await c.request('PUT t1 '), 'ERR PUT requires a payload');
      assert.equal(await c.request('GET'), 'ERR GET requires a topic');
      assert.equal(await c.request('REGISTER  '), 'ERR REGISTER requires a topic');
      assert.equal(await c.request('STATE'), 'ERR STATE requires a topic');
      assert.equal(await c.request('PUT'), 'ERR PUT requires a topic');
    });

    test('unknown, empty and case-variant commands', async () => {
      assert.equal(await c.request('get t1'), 'ERR unknown command');
      assert.equal(await c.request('FOO t1'), 'ERR unknown command');
      assert.equal(await c.request('   '), 'ERR unknown command');
      assert.equal(await c.request(' GET t1'), 'ERR unknown command');
      // A tab is not a separator.
      assert.equal(await c.request('GET\tt1'), 'ERR unknown command');
    });

    test('any UTF-8 topic name works, even an empty one (splitn yields "")', async () => {
      assert.equal(await c.request('PUT  x'), 'ERR unknown topic ');
      assert.equal(await c.request('REGISTER  '), 'ERR REGISTER requires a topic');
      assert.equal(await c.request('REGISTER  x'), 'OK');
      assert.equal(await c.request('PUT  x'), 'OK');
      assert.equal(await c.request('GET '), 'ERR GET requires a topic');
      assert.equal(await c.request('GET  '), 'ERR GET requires a topic');
      assert.equal(await c.request('REGISTER Ünï/../cödé'), 'OK');
      assert.equal(await c.request('PUT Ünï/../cödé v'), 'OK');
      assert.equal(await c.request('GET Ünï/../cödé'), 'OK v');
      assert.equal(await c.request('GET ünï/../cödé'), 'ERR unknown topic ünï/../cödé');
      assert.equal(await c.request('PÜT x y'), 'ERR unknown command');
    });

    test('extra fields after the topic are ignored like splitn(3) does', async () => {
      assert.equal(await c.request('REGISTER t2 extra words'), 'OK');
      assert.equal(await c.request('PUT t2 a b c'), 'OK');
      assert.equal(await c.request('GET t2 ignored'), 'OK a b c');
    });

    test('invalid UTF-8 gets ERR invalid utf-8 and the connection stays usable', async () => {
      c.send(Buffer.from([0x50, 0x55, 0x54, 0x20, 0xff, 0xfe]));
      assert.equal(await c.next(), 'ERR invalid utf-8');
      assert.equal(await c.request('REGISTER t1'), 'OK');
    });

    test('a zero-length frame gets ERR invalid frame length and the stream stays in sync', async () => {
      c.writeRaw(Buffer.alloc(4));
      assert.equal(await c.next(), 'ERR invalid frame length');
      assert.equal(await c.request('REGISTER t1'), 'OK');
    });

    test('a frame of exactly 65,536 bytes is accepted', async () => {
      await c.request('REGISTER big');
      const payload = 'x'.repeat(65_536 - 'PUT big '.length);
      assert.equal(await c.request(`PUT big ${payload}`), 'OK');
      assert.equal(await c.request('GET big'), `OK ${payload}`);
    });

    test('pipelined requests are answered strictly in order', async () => {
      await c.request('REGISTER pipe');
      const n = 500;
      for (let i = 0; i < n; i++) c.send(`PUT pipe m${i}`);
      for (let i = 0; i < n; i++) c.send('GET pipe');
      c.send('GET pipe');
      for (let i = 0; i < n; i++) assert.equal(await c.next(), 'OK');
      for (let i = 0; i < n; i++) assert.equal(await c.next(), `OK m${i}`);
      assert.equal(await c.next(), 'EMPTY');
    });

    test('the read cursor is shared across connections', async () => {
      const other = await RawClient.connect(node.port);
      try {
        await c.request('REGISTER shared');
        for (const m of ['a', 'b', 'c', 'd']) await c.request(`PUT shared ${m}`);
        assert.equal(await c.request('GET shared'), 'OK a');
        assert.equal(await other.request('GET shared'), 'OK b');
        assert.equal(await c.request('GET shared'), 'OK c');
        assert.equal(await other.request('GET shared'), 'OK d');
        assert.equal(await other.request('GET shared'), 'EMPTY');
      } finally {
        other.close();
      }
    });

    test('STATE of a fresh topic has the stock shape', async () => {
      await c.request('REGISTER fresh');
      const text = await c.request('STATE fresh');
      const stock = '{"current_segment":1,"leader_node":1,"last_sealed_entry_offset":0,"sealed_segments":{},"segment_leaders":{"1":1}}';
      if (compat === 'stock') {
        assert.equal(text, stock);
      } else {
        assert.equal(text, `${stock.slice(0, -1)},"total_entries":0,"read_cursor":0,"lag":0}`);
      }
    });

    test('METRICS is pretty JSON with openraft top-level keys in order', async () => {
      const text = await c.request('METRICS');
      const metrics = JSON.parse(text) as Record<string, unknown>;
      const keys = [
        'running_state', 'id', 'current_term', 'vote', 'last_log_index', 'last_applied', 'snapshot', 'purged', 'state',
        'current_leader', 'millis_since_quorum_ack', 'last_quorum_acked', 'membership_config', 'heartbeat', 'replication',
      ];
      assert.deepEqual(Object.keys(metrics), compat === 'stock' ? keys : [...keys, 'embedded']);
      assert.equal(text, JSON.stringify(metrics, null, 2));
      assert.deepEqual(metrics.running_state, { Ok: null });
      assert.equal(metrics.state, 'Leader');
      assert.equal(metrics.current_leader, 1);
      assert.equal(typeof metrics.last_log_index, 'number');
      assert.ok(typeof (metrics.membership_config as Record<string, unknown>).membership === 'object');
      // Like the stock node, anything after METRICS is ignored.
      assert.deepEqual(Object.keys(JSON.parse(await c.request('METRICS with args')) as object), Object.keys(metrics));
    });

    test('frames split across many writes and many frames in one write', async () => {
      await c.request('REGISTER split');
      const frames = Buffer.concat(['PUT split one', 'PUT split two', 'GET split'].map((s) => {
        const b = Buffer.from(s);
        const h = Buffer.alloc(4);
        h.writeUInt32LE(b.length);
        return Buffer.concat([h, b]);
      }));
      for (const byte of frames) {
        c.writeRaw(Buffer.from([byte]));
        await new Promise((r) => setImmediate(r));
      }
      assert.equal(await c.next(), 'OK');
      assert.equal(await c.next(), 'OK');
      assert.equal(await c.next(), 'OK one');
      c.writeRaw(frames);
      assert.equal(await c.next(), 'OK');
      assert.equal(await c.next(), 'OK');
      assert.equal(await c.next(), 'OK two');
    });
  });
}
