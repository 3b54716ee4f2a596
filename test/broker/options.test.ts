import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BROKER_DEFAULTS, resolveBrokerOptions } from '../../src/broker/index.js';

test('defaults are loopback, port 9091, fsync every 200 ms, 1,000,000 entries or 64 MiB a segment, persisted cursors', () => {
  const o = resolveBrokerOptions();
  assert.equal(o.host, '127.0.0.1');
  assert.equal(o.port, 9091);
  assert.deepEqual(o.fsync, { intervalMs: 200 });
  assert.equal(o.segmentEntries, 1_000_000);
  assert.equal(o.segmentBytes, 64 * 1024 * 1024);
  assert.equal(o.persistCursors, true);
  assert.equal(o.compat, 'default');
  assert.equal(o.dataDir, undefined);
  assert.equal(o.maxConnections, BROKER_DEFAULTS.maxConnections);
});

test('fsync "interval" (the topology spelling) means every 200 ms', () => {
  assert.deepEqual(resolveBrokerOptions({ fsync: 'interval' }).fsync, { intervalMs: 200 });
  assert.deepEqual(resolveBrokerOptions({ fsync: { intervalMs: 5 } }).fsync, { intervalMs: 5 });
});

test('invalid options throw CONFIG_INVALID naming the field', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ fsync: 'sometimes' }, /fsync: expected "always", "never", "interval" or \{ intervalMs \}/],
    [{ fsync: { intervalMs: 0 } }, /fsync\.intervalMs: expected an integer from 1/],
    [{ port: 65_536 }, /port: expected an integer from 0 to 65535, got 65536/],
    [{ segmentEntries: 0 }, /segmentEntries/],
    [{ segmentBytes: -1 }, /segmentBytes: expected an integer from 0 to 281474976710656, got -1/],
    [{ maxConnections: 1.5 }, /maxConnections/],
    [{ compat: 'strict' }, /compat: expected "default" or "stock"/],
    [{ host: '' }, /host/],
    [{ dataDir: '' }, /dataDir/],
  ];
  for (const [options, message] of cases) {
    assert.throws(() => resolveBrokerOptions(options as never), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'CONFIG_INVALID');
      assert.match(error.message, message);
      return true;
    });
  }
});

test('a port already in use fails with NETWORK_ERROR and a hint, and releases the data dir', async () => {
  const { startTestBroker } = await import('../helpers/broker.js');
  const first = await startTestBroker();
  try {
    const second = startTestBroker({ port: first.port });
    await assert.rejects(second, (error: Error & { code?: string }) => {
      assert.equal(error.code, 'NETWORK_ERROR');
      assert.match(error.message, new RegExp(`could not listen on 127\\.0\\.0\\.1:${first.port}: EADDRINUSE\\. Another process is listening there`));
      return true;
    });
  } finally {
    await first.close();
  }
});
