import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WalrusClient } from '../../src/client/index.js';
import { watchSilentNodes } from '../../src/runtime/pipeline/silent-nodes.js';
import { startTestBroker } from '../helpers/broker.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { startTcpPeer } from '../helpers/tcp-peer.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a node that holds its replies: silentMs grows while it says nothing, the watcher reports it once, then that it answers again', { timeout: 30_000 }, async (t) => {
  const node = await startTestBroker();
  t.after(() => node.close());
  const proxy = await FaultProxy.start(node);
  t.after(() => proxy.close());
  const client = new WalrusClient({ nodes: [proxy.address] });
  t.after(() => client.close());
  await client.metrics();
  assert.equal(client.stats().nodes[proxy.address]!.silentMs, 0, 'nothing waits');

  const said: Array<{ level: string; message: string; data: Record<string, unknown> }> = [];
  const stop = watchSilentNodes(client, {
    afterMs: 600, requestTimeoutMs: 10_000,
    warn: (message, data) => said.push({ level: 'warn', message, data }),
    info: (message, data) => said.push({ level: 'info', message, data }),
  });
  t.after(stop);
  // Every byte now reaches the node and comes back 4 s late: three calls wait without a word.
  proxy.setMode({ kind: 'delay', ms: 4_000 });
  let settled = false;
  const calls = Promise.all([client.metrics(), client.metrics(), client.metrics()]).finally(() => { settled = true; });
  while (said.length === 0 && !settled) await sleep(20);
  assert.equal(settled, false, 'reported while the calls still waited');
  assert.ok(client.stats().nodes[proxy.address]!.silentMs >= 600, `silentMs ${client.stats().nodes[proxy.address]!.silentMs}`);
  assert.equal(said.length, 1, JSON.stringify(said));
  assert.equal(said[0]!.level, 'warn');
  assert.match(said[0]!.message, new RegExp(`^node ${proxy.address.replace(/\./g, '\\.')} accepted the connection but has not answered for \\d\\.\\d s \\(3 call\\(s\\) waiting\\); each request waits up to cluster\\.requestTimeout \\(10\\.0 s\\)`));
  assert.deepEqual(Object.keys(said[0]!.data).sort(), ['node', 'silentMs', 'waiting']);
  assert.ok((said[0]!.data.silentMs as number) >= 600);
  await sleep(1_000);
  assert.equal(said.length, 1, 'once per silence');

  await calls;
  assert.equal(client.stats().nodes[proxy.address]!.silentMs, 0, 'answered: nothing waits');
  for (let i = 0; i < 150 && said.length < 2; i++) await sleep(20);
  assert.equal(said.length, 2, JSON.stringify(said));
  assert.equal(said[1]!.level, 'info');
  assert.match(said[1]!.message, new RegExp(`^node ${proxy.address.replace(/\./g, '\\.')} answers again \\(after \\d\\.\\d s without a reply\\)$`));
});

test('a node that takes the connection but never answers the login shows in silentMs too', { timeout: 30_000 }, async (t) => {
  const peer = await startTcpPeer(); // reads nothing, answers nothing
  t.after(() => peer.close());
  const client = new WalrusClient({ nodes: [peer.address], auth: { username: 'app', password: 'secret' }, requestTimeoutMs: 5_000, retry: { retries: 0 } });
  t.after(() => client.close());
  const call = client.metrics().catch((error: unknown) => error);
  await sleep(800);
  const { silentMs, pool } = client.stats().nodes[peer.address]!;
  assert.equal(pool.size, 0, 'the connection is still logging in');
  assert.ok(silentMs >= 500, `silentMs ${silentMs}`);
  assert.equal((await call as { code?: string }).code, 'REQUEST_TIMEOUT');
  assert.equal(client.stats().nodes[peer.address]!.silentMs, 0);
});
