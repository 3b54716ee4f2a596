import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WalrusClient, parseAddress, resolveClientOptions } from '../../src/client/index.js';
import { WalrusError } from '../../src/errors/index.js';

function configError(run: () => unknown, pattern: RegExp): void {
  assert.throws(run, (e: unknown) => {
    assert.ok(e instanceof WalrusError, String(e));
    assert.equal(e.code, 'CONFIG_INVALID');
    assert.match(e.message, pattern);
    return true;
  });
}

test('defaults follow the seed review', () => {
  const o = resolveClientOptions({ nodes: ['127.0.0.1:9091'] });
  assert.deepEqual(o.nodes, [{ host: '127.0.0.1', port: 9091 }]);
  assert.deepEqual(o.retry, { retries: 3, initialDelayMs: 100, maxDelayMs: 5_000, multiplier: 2, jitter: 0.5 });
  assert.deepEqual(o.breaker, { failureThreshold: 5, openDurationMs: 30_000, halfOpenAttempts: 3 });
  assert.equal(o.pool.min, 1);
  assert.equal(o.pool.max, 4);
  assert.equal(o.balancer, 'round-robin');
});

test('errors name the field', () => {
  configError(() => resolveClientOptions({ nodes: ['a:1'], pool: { min: 5, max: 2 } }), /pool\.max: must be >= pool\.min \(5\)/);
  configError(() => resolveClientOptions({ nodes: [] }), /nodes: must list at least one node/);
  configError(() => resolveClientOptions({ nodes: ['a:1'], retry: { retries: -1 } }), /retry\.retries/);
  configError(() => resolveClientOptions({ nodes: ['a:1'], balancer: 'random' as never }), /balancer/);
  configError(() => resolveClientOptions({ nodes: ['a:1'], pool: { mx: 3 } as never }), /pool.*mx/);
  configError(() => resolveClientOptions({ nodes: ['a:1', 'b'] }), /nodes\.1: expected "host:port"/);
  configError(() => resolveClientOptions({ nodes: ['a:1', 'a:1'] }), /nodes\.1: a:1 is listed twice/);
  configError(() => new WalrusClient({ nodes: ['a:99999'] }), /nodes\.0: port must be an integer/);
});

test('addresses: host:port, [ipv6]:port and objects', () => {
  assert.deepEqual(parseAddress('example.com:9091'), { host: 'example.com', port: 9091 });
  assert.deepEqual(parseAddress('[::1]:9091'), { host: '::1', port: 9091 });
  assert.deepEqual(parseAddress({ host: 'h', port: 1 }), { host: 'h', port: 1 });
  assert.throws(() => parseAddress('::1:9091'), /expected "host:port"/);
});
