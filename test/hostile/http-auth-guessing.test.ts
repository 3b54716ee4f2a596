import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { WalrusError } from '../../src/errors/index.js';
import { fetchPipelineStatus } from '../../src/observability/http/pipeline-status.js';
import { DeadLetterRing, MetricsHub, StatsSampler, createDashboard, startObservabilityServer } from '../../src/observability/index.js';
import { parseDeadLetter } from '../../src/runtime/coordinator/dead-letter.js';

/**
 * Attack: guess the HTTP credentials of /metrics, /readyz and the dashboard
 * as fast as the server answers. Before the fix every wrong guess got a 401
 * at once, forever (measured: 2,000 guesses on one keep-alive connection in
 * 1.4 s, every one checked; now 9 are checked, the other 1,991 get 429). Now, after a few failures from one address
 * within a window, that address gets 429 with Retry-After and a JSON reason,
 * its credentials not even checked (a right guess is refused too), for a
 * lockout that doubles each time; other addresses are not affected.
 */

const USER = 'prom';
const PASSWORD = 'scrape me';
const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

function get(port: number, path: string, authorization: string | undefined, localAddress = '127.0.0.1'): Promise<{ status: number; retryAfter: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, localAddress, headers: authorization ? { authorization } : {} }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString('utf8'); });
      res.on('end', () => resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'], body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('wrong credentials from one address: 429 with Retry-After after 10 within a minute, even for the right ones; growing lockouts; others unaffected', { timeout: 20_000 }, async (t) => {
  let now = 1_000_000;
  const hub = new MetricsHub({ processMetrics: false });
  const sampler = new StatsSampler({ progress: () => hub.progress(), processors: () => ({}) });
  const dashboard = createDashboard({
    topology: { app: 'guess', stores: [], nodes: [], edges: [], instance: { id: null, index: null, count: null }, partitioned: [] },
    sampler, deadLetters: new DeadLetterRing({ parse: parseDeadLetter }), replay: async () => ({ replayed: {}, results: [] }),
  });
  // The defaults (10 failures in 60 s, 60 s lockout doubling up to 15 min) on a clock the test moves.
  const server = await startObservabilityServer({ port: 0, metrics: hub, routes: dashboard.routes, auth: { basic: { username: USER, password: PASSWORD } }, authLimits: { now: () => now } });
  t.after(async () => { dashboard.close(); await server.close(); });
  const right = basic(USER, PASSWORD);

  // No credentials at all guesses nothing: a browser's first request is not counted.
  for (let i = 0; i < 20; i++) assert.equal((await get(server.port, '/metrics', undefined)).status, 401);
  for (let i = 1; i < 10; i++) assert.equal((await get(server.port, '/metrics', basic(USER, `guess ${i}`))).status, 401, `guess ${i}`);
  const tenth = await get(server.port, '/api/topology', basic(USER, 'guess 10'));
  assert.equal(tenth.status, 429);
  assert.equal(tenth.retryAfter, '60');
  assert.match(JSON.parse(tenth.body).error, /^\/api\/topology: too many wrong credentials from 127\.0\.0\.1 \(10 within 1 min\): locked out for 60 s more/);
  // Locked out: the right credentials are not even checked, on every guarded path; /healthz stays open.
  for (const path of ['/metrics', '/readyz', '/api/stats']) assert.equal((await get(server.port, path, right)).status, 429, path);
  assert.equal((await get(server.port, '/healthz', undefined)).status, 200);
  // `walrus-stream metrics --pipeline` says so, rather than printing the 429's body as metrics.
  await assert.rejects(fetchPipelineStatus(server.address, { bearerToken: 'x'.repeat(16) }),
    (error: WalrusError) => error.code === 'AUTH_FAILED' && /refuses this address for now \(\/metrics: too many wrong credentials.*retry after 60 s/.test(error.message));
  now += 30_000;
  const later = await get(server.port, '/metrics', right);
  assert.equal(later.status, 429);
  assert.equal(later.retryAfter, '30');

  // Another address is not affected, its right credentials work and its wrong ones get 401.
  assert.equal((await get(server.port, '/metrics', right, '127.0.0.2')).status, 200);
  assert.equal((await get(server.port, '/metrics', basic(USER, 'x'), '127.0.0.2')).status, 401);

  // After the lockout the right credentials are accepted again.
  now += 30_001;
  assert.equal((await get(server.port, '/metrics', right)).status, 200);
  // A success forgets the address (its failures and lockouts): a new series locks for 60 s again...
  for (let i = 1; i < 10; i++) assert.equal((await get(server.port, '/metrics', basic(USER, `again ${i}`))).status, 401);
  assert.equal((await get(server.port, '/metrics', basic(USER, 'again 10'))).retryAfter, '60');
  // ...while without a success in between each lockout doubles: 120 s, 240 s, ..., at most 15 min.
  let previous = 60;
  for (const seconds of [120, 240, 480, 900, 900]) {
    now += previous * 1000;
    previous = seconds;
    let last;
    for (let i = 0; i < 10; i++) last = await get(server.port, '/metrics', basic(USER, `more ${i}`));
    assert.equal(last!.status, 429);
    assert.equal(last!.retryAfter, String(seconds));
  }
});
